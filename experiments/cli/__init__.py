"""Command lines of the experiments: each parses flags into a config, calls one library function and prints."""
