"""Command lines of the export: each parses flags into a config, calls one library function and prints."""
