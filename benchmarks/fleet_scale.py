"""The daemon's tick, ``epmgr status`` and ``epmgr list`` on a namespace of 1,000 / 5,000 / 20,000 endpoints.

The real commands run as their own processes (``python -m epmgr daemon --once``, ``status --json``,
``list --json``), so the figures are what a user waits for, with each process's peak memory. The namespace is the
emulator's (in this process, endpoints created straight into its state: half running, a fifth paused, the rest
scaled to zero, all managed through a tag); the SQLite ledger is seeded with what steady operation leaves (each
endpoint known, its current state recorded, ten recent requests each), so a tick has nothing to do but look:
the cost measured is the per-endpoint reading. Also measured in the same run: the interpreter's start with the
CLI imported, and the list through the adapter alone, every page parsed (the API's side, which no change to the
tick removes). One tick runs under cProfile (the middle size): its time by package.

Whatever the service becomes (issue 12's set-based tick), ``python -m benchmarks --only fleet_scale`` measures
it the same way. Sizes: ``EPMGR_BENCH_FLEET_SIZES`` (default ``1000,5000``; ``20000`` alone takes about 10 minutes,
one round); rounds per size: ``EPMGR_BENCH_FLEET_ROUNDS`` (default 3, the median reported). A size not rerun keeps
its earlier figures (with their commit) in the JSON result.
"""

from __future__ import annotations

import copy
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from benchmarks.harness import RESULTS, commit

NAME = "fleet_scale"
TITLE = "Daemon tick, `epmgr status` and `epmgr list` at 1,000 / 5,000 / 20,000 endpoints, with memory"
COMMANDS = {"tick": ["daemon", "--once", "--listen", "off"], "status": ["status", "--json"], "list": ["list", "--json"]}
GOAL_S = 2.0
GOAL_MB = 300
BODY: dict[str, Any] = {
    "compute": {"accelerator": "cpu", "instanceSize": "x2", "instanceType": "intel-icl",
                "scaling": {"maxReplica": 1, "minReplica": 1, "scaleToZeroTimeout": None}},
    "model": {"framework": "pytorch", "repository": "gpt2", "revision": None, "image": {"huggingface": {}}},
    "name": "ep", "provider": {"region": "us-east-1", "vendor": "aws"}, "type": "authenticated", "tags": ["epmgr"],
}  # fmt: skip


@contextmanager
def fleet(tmp: Path, n: int) -> Iterator[tuple[dict[str, str], str]]:
    """An emulator with ``n`` endpoints and a seeded ledger; yields the commands' environment and the list URL."""
    from epmgr.adapters.hf import HfEndpointsAPI
    from epmgr.emulator import DEMO_TOKEN, DEMO_USER, EmulatorServer, EmulatorTimings

    timings = EmulatorTimings(pending=0, initializing=0, scale_up=0, update=0, minute=60)
    with EmulatorServer(timings=timings, access_log=False) as server:
        state = server.state
        state._check_quota = lambda *args, **kwargs: None  # type: ignore[method-assign]  # O(n) per create
        for i in range(n):
            body = copy.deepcopy(BODY)
            body["name"] = f"ep-{i:05d}"
            state.create(DEMO_USER, body, user=DEMO_USER)
        for i in range(n):
            if i % 10 in (5, 6):
                state.pause(DEMO_USER, f"ep-{i:05d}")
            elif i % 10 >= 7:
                state.scale_to_zero(DEMO_USER, f"ep-{i:05d}")
        api = HfEndpointsAPI(token=DEMO_TOKEN, namespace=DEMO_USER, api_url=server.url)
        db = tmp / f"fleet-{n}.db"
        seed(f"sqlite:///{db}", api.list_endpoints())
        config = tmp / "epmgr.toml"
        config.write_text(
            f'[hf]\nnamespace = "{DEMO_USER}"\napi_url = "{server.url}"\n\n[ledger]\nurl = "{db}"\n\n'
            '[defaults]\nmanaged_tag = "epmgr"\nscale_to_zero_after = "6h"\npause_after = "12h"\n'
        )
        env = {"EPMGR_CONFIG": str(config), "HF_TOKEN": DEMO_TOKEN, "EPMGR_URL_CACHE": str(tmp / "urls.json")}
        yield env, f"{server.url}/v2/endpoint/{DEMO_USER}"


def seed(url: str, snapshots: list[Any]) -> None:
    """What steady operation leaves in the ledger: every endpoint, its current state, ten recent requests."""
    from epmgr.clock import SystemClock
    from epmgr.domain.model import RequestRecord
    from epmgr.ledger import open_ledger
    from epmgr.ledger.schema import EndpointRow, StateChangeRow

    ledger = open_ledger(url)
    now = SystemClock().now()
    day_ago = now - timedelta(days=1)
    rows, changes = [], []
    for i, s in enumerate(snapshots):
        instance = {"vendor": s.instance.vendor, "region": s.instance.region, "accelerator": s.instance.accelerator,
                    "instance_type": s.instance.instance_type, "instance_size": s.instance.instance_size}  # fmt: skip
        rows.append({"id": i + 1, "namespace": s.ref.namespace, "name": s.ref.name, "managed": True,
                     "first_seen_at": day_ago, "last_seen_at": now, "price_per_hour": s.price_per_hour,
                     **instance})  # fmt: skip
        for at, frm, to in ((day_ago, None, "running"), (day_ago + timedelta(hours=1), "running", s.state.value)):
            changes.append({"endpoint_id": i + 1, "from_state": frm, "to_state": to, "observed_at": at,
                            "source": "observed", "replicas": s.target_replicas if to == s.state.value else 1,
                            "price_per_hour": s.price_per_hour, **instance})  # fmt: skip
    with ledger.engine.begin() as conn:
        conn.execute(insert(EndpointRow), rows)
        conn.execute(insert(StateChangeRow), changes)
    requests = [
        RequestRecord(s.ref, now - timedelta(minutes=10 + k), now - timedelta(minutes=10 + k) + timedelta(seconds=1),
                      200, timedelta(seconds=1), "client")
        for s in snapshots for k in range(10)
    ]  # fmt: skip
    for i in range(0, len(requests), 5000):
        ledger.append_requests(requests[i : i + 5000])
    ledger.close()


def timed(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Seconds and peak resident MB of one process."""
    started = time.perf_counter()
    proc = subprocess.Popen(args, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    error = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode not in (0, 1):  # 1: the tick reported endpoint errors (counted, not fatal here)
        raise RuntimeError(f"{' '.join(args[2:])} failed ({proc.returncode}): {error[-2000:]}")
    return seconds, usage.ru_maxrss / 1024


def profile(env: dict[str, str], tmp: Path) -> dict[str, float]:
    """One tick under cProfile: seconds of own time per package (sqlalchemy, sqlite3, epmgr, ...)."""
    out = tmp / "tick.prof"
    args = [sys.executable, "-m", "cProfile", "-o", str(out), "-m", "epmgr", *COMMANDS["tick"]]
    timed(args, env)
    stats: Any = pstats.Stats(str(out)).stats  # type: ignore[attr-defined]
    shares: dict[str, float] = {}
    for (path, _, func), (_, _, tottime, _, _) in stats.items():
        if "sqlite3" in func or "sqlite3" in path:
            key = "sqlite3 (the database)"
        elif "/site-packages/" in path:
            key = path.split("/site-packages/")[1].split("/")[0].removesuffix(".py")
        elif "/epmgr/" in path:
            key = "epmgr"
        else:
            key = "python (stdlib, builtins)"
        shares[key] = shares.get(key, 0.0) + tottime
    return dict(sorted(shares.items(), key=lambda kv: -kv[1])[:8])


STEADY = """
import os, sys, time
from epmgr.cli.daemon import api_factory
from epmgr.clock import SystemClock
from epmgr.config import load_settings
from epmgr.daemon import Daemon
from epmgr.ledger import open_ledger

settings = load_settings(os.environ["EPMGR_CONFIG"], env=os.environ)
ledger = open_ledger(settings.db_url)
daemon = Daemon(settings, ledger, SystemClock(), api_factory(settings), listen="")
daemon.tick()  # the first tick of a process: imports, connections, the metrics' label children
started = time.perf_counter()
assert daemon.tick() is not None
print(time.perf_counter() - started)
daemon.ledger.release_lease("daemon", daemon.holder)
"""
"""A running daemon's tick after its first: the lease, the tick and the metrics, without the process's start."""


def steady(env: dict[str, str]) -> float:
    """Seconds of a running daemon's second tick (:data:`STEADY` in its own process)."""
    done = subprocess.run([sys.executable, "-c", STEADY], env={**os.environ, **env}, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"steady tick failed: {done.stderr[-2000:]}")
    return float(done.stdout.split()[-1])


def listing(env: dict[str, str], list_url: str) -> float:
    """Seconds to list the namespace through epmgr's adapter, every page, parsed (what the tick waits for the API)."""
    from epmgr.adapters.hf import HfEndpointsAPI

    api_url, _, namespace = list_url.rpartition("/v2/endpoint/")
    api = HfEndpointsAPI(token=env["HF_TOKEN"], namespace=namespace, api_url=api_url)
    started = time.perf_counter()
    api.list_endpoints()
    return time.perf_counter() - started


def measure(n: int, rounds: int, tmp: Path, with_profile: bool) -> dict[str, Any]:
    with fleet(tmp, n) as (env, list_url):
        base = [sys.executable, "-m", "epmgr"]
        first_tick, _ = timed(base + COMMANDS["tick"], env)
        figures: dict[str, list[tuple[float, float]]] = {
            name: [] for name in [*COMMANDS, "startup", "api_list", "steady_tick"]
        }
        names = list(COMMANDS)
        for r in range(rounds):
            figures["startup"].append(timed([sys.executable, "-c", "import epmgr.cli"], env))
            figures["api_list"].append((listing(env, list_url), 0.0))
            figures["steady_tick"].append((steady(env), 0.0))
            for name in names[r % len(names) :] + names[: r % len(names)]:
                figures[name].append(timed(base + COMMANDS[name], env))
        out: dict[str, Any] = {"endpoints": n, "first_tick_s": first_tick, "rounds": rounds, "commit": commit()}
        for name, values in figures.items():
            seconds = sorted(v[0] for v in values)
            out[f"{name}_s"] = seconds[len(seconds) // 2]
            out[f"{name}_mb"] = max(v[1] for v in values)
        if with_profile:
            out["profile"] = profile(env, tmp)
        return out


def run(quick: bool = False) -> dict[str, Any]:
    sizes = [50] if quick else [int(s) for s in os.environ.get("EPMGR_BENCH_FLEET_SIZES", "1000,5000").split(",")]
    rounds = 1 if quick else int(os.environ.get("EPMGR_BENCH_FLEET_ROUNDS", "3"))
    previous = RESULTS / f"{NAME}.json"
    kept: dict[str, Any] = {}
    if not quick and previous.exists():
        kept = json.loads(previous.read_text())["figures"].get("sizes", {})
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:  # one round above 10,000 endpoints (minutes each); the profile at 5,000 (or the one size)
            profiled = n == 5000 or (len(sizes) == 1 and n <= 5000)
            kept[str(n)] = measure(n, rounds if n <= 10_000 else 1, Path(tmp), with_profile=profiled)
    return {"sizes": dict(sorted(kept.items(), key=lambda kv: int(kv[0]))), "goal_s": GOAL_S, "goal_mb": GOAL_MB}


def table(f: dict[str, Any]) -> str:
    lines = [
        "| endpoints | `daemon --once` | a running daemon's tick | `epmgr status` | `epmgr list` "
        f"| of which: start-up / API list | first tick | goal < {f['goal_s']:.0f} s, < {f['goal_mb']} MB | commit |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for n, s in sorted(f["sizes"].items(), key=lambda kv: int(kv[0])):  # JSON keeps the keys as text
        met = all(s[f"{c}_s"] < f["goal_s"] and s[f"{c}_mb"] < f["goal_mb"] for c in COMMANDS)
        steady = s.get("steady_tick_s")
        verdict = "met" if met else "missed" + (" (running daemon: met)" if steady and steady < f["goal_s"] else "")
        cells = [f"{s[f'{c}_s']:.1f} s, {s[f'{c}_mb']:.0f} MB" for c in COMMANDS]
        cells.insert(1, f"{steady:.2f} s" if steady is not None else "")
        lines.append(
            f"| {int(n):,} | {' | '.join(cells)} | {s['startup_s']:.2f} s / {s['api_list_s']:.2f} s "
            f"| {s['first_tick_s']:.1f} s | {verdict} | {s['commit']} |"
        )
    for n, s in sorted(f["sizes"].items(), key=lambda kv: int(kv[0])):  # JSON keeps the keys as text
        if "profile" in s:
            total = sum(s["profile"].values())
            shares = ", ".join(f"{k} {v / total:.0%}" for k, v in s["profile"].items())
            lines.append(f"\nWhere a tick's time goes at {int(n):,} endpoints (cProfile, own time): {shares}.")
    return "\n".join(lines)
