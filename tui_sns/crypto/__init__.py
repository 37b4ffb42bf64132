"""Pure cryptography for tui-sns: keys, sealed envelopes, contact cards, safety numbers.

Nothing in this package performs I/O or imports the store, the network or the UI.
Every construction is described in docs/protocol.md.
"""
