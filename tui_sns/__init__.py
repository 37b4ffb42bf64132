"""tui-sns: a social diary for the terminal, sealed to exactly its audience."""

__version__ = "0.1.0"
