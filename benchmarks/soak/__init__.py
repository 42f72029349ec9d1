"""`make soak`: the long reliability runs (faults, SIGKILLs mid-tick, writers plus the daemon, two daemons on a slow
API). Each part is bounded in time, loopback only, and prints its figures; short versions run in the test suite."""
