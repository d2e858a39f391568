"""The `i2v` command line."""
