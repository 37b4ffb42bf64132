"""Network sync: the relay server (``relay``) and the client sync engine (the HTTP client to relays is
``tui_sns.net.transport``, below core)."""
