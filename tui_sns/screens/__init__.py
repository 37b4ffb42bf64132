"""The Textual app: screens, widgets, styles, the action registry. No SQL and no crypto here."""
