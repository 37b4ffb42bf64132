"""Network sync: the relay server (``relay``), the HTTP transport to relays and the client sync engine."""
