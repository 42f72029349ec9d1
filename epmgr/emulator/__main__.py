"""`python -m epmgr.emulator serve ...` runs the emulator on its own (same as `epmgr emulator serve ...`)."""

from epmgr.emulator.cli import emulator

if __name__ == "__main__":
    emulator(prog_name="python -m epmgr.emulator")
