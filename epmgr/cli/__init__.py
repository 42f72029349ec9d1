"""The `epmgr` command line (click); errors are turned into one-line messages in one place."""

from epmgr.cli.main import cli, main

__all__ = ["cli", "main"]
