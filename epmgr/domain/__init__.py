"""Pure types and rules: standard library only, no I/O, time always passed in."""
