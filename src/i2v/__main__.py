"""`python -m i2v`: the `i2v` command."""

from i2v.cli.app import main

main()
