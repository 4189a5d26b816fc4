"""Channels where users ask: the command line, and later HTTP, the widget and the bots."""
