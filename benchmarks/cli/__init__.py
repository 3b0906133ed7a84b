"""Console scripts of the benchmarks: each parses flags into a config, calls one library function and prints."""
