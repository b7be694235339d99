"""Subcommands of the `rso` CLI, one module per concern, each exposing `register(app)`."""
