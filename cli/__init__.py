"""The command line: `rso` and its subcommands, on top of every other layer."""
