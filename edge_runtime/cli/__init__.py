"""Command-line entry points of the device runtime."""
