"""`python -m epmgr` runs the command line."""

from epmgr.cli import main

if __name__ == "__main__":
    main()
