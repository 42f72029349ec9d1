"""Run the benchmarks: `python -m benchmarks [--quick] [--only NAME ...]` (`make bench` runs them all).

Each writes ``benchmarks/results/<NAME>.json``; then the tables of docs/benchmarks.md are regenerated from them.
``--quick`` is a smoke run (seconds, small sizes): its results go to ``--out`` (default: a temporary folder) and the
doc is left alone.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import harness
from benchmarks.registry import MODULES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, results not written to the docs")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these benchmarks (by NAME)")
    parser.add_argument("--out", type=Path, help="folder for the JSON results (default: benchmarks/results)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    known = {harness.name_of(path): path for path in MODULES}
    if args.list:
        print("\n".join(known))
        return 0
    chosen = args.only or list(known)
    unknown = [name for name in chosen if name not in known]
    if unknown:
        print(f"unknown benchmark {', '.join(unknown)} (expected one of {', '.join(known)})", file=sys.stderr)
        return 2
    modules = {name: harness.load(known[name]) for name in chosen}
    out = args.out or (Path(tempfile.mkdtemp(prefix="epmgr-bench-")) if args.quick else harness.RESULTS)
    started = time.perf_counter()
    for name in chosen:
        print(f"== {name}: {modules[name].TITLE}", flush=True)
        result = harness.run_one(modules[name], quick=args.quick, out=out)
        print(modules[name].table(result["figures"]), flush=True)
        print(f"({result['seconds']:.1f} s, {out / (name + '.json')})\n", flush=True)
    if not args.quick and out == harness.RESULTS:
        harness.regenerate(MODULES)
        print(f"docs/benchmarks.md regenerated from {harness.RESULTS}")
    print(f"all done in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
