from tui_sns.cli import main

raise SystemExit(main())
