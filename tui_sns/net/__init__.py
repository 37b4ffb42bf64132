"""The client side of the wire: the HTTP client to relays (``transport``) and its errors.

It sits below core (core's relay book probes and joins relays through it; the sync engine above core
pushes and pulls through it) and imports only ``tui_sns.crypto`` and ``tui_sns.errors``.
"""
