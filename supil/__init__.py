"""supil: the client side (orchestrator and CLI) of the essay-writing services."""

__version__ = "0.1.0"
