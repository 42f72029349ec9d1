"""epmgr's benchmarks: `make bench` (or `python -m benchmarks`); results in docs/benchmarks.md."""
