"""epmgr's tests mirror the source tree: the tests of ``epmgr/X/`` or ``epmgr/X.py`` are in ``tests/X/`` (or, for a
top-level module, ``tests/test_X.py``); ``tests/test_architecture.py`` checks it.

A few named suites cut across packages and have no source counterpart (``CROSS_CUTTING`` in that test):

- ``benchmarks/``: `make bench`'s harness in benchmarks/ (the figures are in docs/benchmarks.md);
- ``cost/``: the bill end to end, from observed states through the ledger to the spend, cross-checked against the
  emulator's own billing;
- ``deploy/``: the files in deploy/ (systemd unit, image, alert rules) with the daemon;
- ``realtime/``: the client, the wake lease, the proxy and the CLI together at HF's real time scales;
- ``scripts/``: the scripts in scripts/ (the demo's simulated week).
"""
