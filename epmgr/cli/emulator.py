"""The `epmgr emulator` command group (defined in :mod:`epmgr.emulator.cli`, so the emulator runs standalone)."""

from epmgr.emulator.cli import emulator

__all__ = ["emulator"]
