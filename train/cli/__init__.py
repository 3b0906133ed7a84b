"""Console scripts of the host's data and training commands: each parses flags into a config, calls one library
function and prints."""
