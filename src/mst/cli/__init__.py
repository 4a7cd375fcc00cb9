"""Command-line interface (``mst …``); the only layer that prints or exits."""
