"""`epmgr init`: bring a namespace's existing endpoints under epmgr, one opt-in at a time.

It lists the namespace's endpoints through the HF adapter, prices each from the hardware route (else the
published table), and writes a commented ``epmgr.toml`` in which every endpoint is present but
``managed = false``: nothing is paused or resumed until the user opts an endpoint in. The defaults are written
out and explained line by line. An existing file is never overwritten without ``--force``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import click

from epmgr import catalog
from epmgr.adapters.hf import api_from_settings
from epmgr.cli.context import AppContext, emit, json_option, pass_app
from epmgr.cli.endpoints import hardware_or_empty
from epmgr.cli.render import money
from epmgr.config import DEFAULT_FILE, Settings, load_settings
from epmgr.domain.model import EndpointSnapshot, HardwareOption
from epmgr.errors import ConfigError, EpmgrError

COLUMN = 39  # where the explaining comments start, as in examples/epmgr.toml
BUDGET_HOURS = 8  # the example daily budget: this many replica-hours a day at the endpoint's price


@dataclass(frozen=True)
class Priced:
    """An endpoint as listed, with its price per replica-hour and where that price came from."""

    snapshot: EndpointSnapshot
    usd_per_hour: Decimal | None
    source: str


def _line(code: str, comment: str) -> str:
    return f"{code.ljust(COLUMN - 1)} # {comment}" if len(code) < COLUMN - 1 else f"{code}  # {comment}"


def _amount(value: Decimal) -> str:
    """A dollar amount as a TOML number with cents: ``6.40``."""
    return f"{value.quantize(Decimal('0.01')):f}"


def price_endpoints(
    snapshots: Sequence[EndpointSnapshot], hardware: Sequence[HardwareOption], read_at: datetime
) -> list[Priced]:
    """Each endpoint with its price: the hardware route's (as HF bills it today), else the published table's."""
    priced = []
    for snapshot in snapshots:
        offer = next((o for o in hardware if o.matches(snapshot.instance)), None)
        i = snapshot.instance
        published = catalog.lookup(i.vendor, i.region, i.instance_type, i.instance_size)
        if offer is not None:
            priced.append(
                Priced(snapshot, offer.price_per_hour, f"HF hardware route, read {read_at:%Y-%m-%d %H:%M} UTC")
            )
        elif published is not None:
            priced.append(Priced(snapshot, published.price_per_hour, f"published table of {catalog.PUBLISHED}"))
        else:
            priced.append(Priced(snapshot, None, "unknown: set price_per_hour below"))
    return priced


def _endpoint_block(entry: Priced, namespace: str) -> list[str]:
    s = entry.snapshot
    replicas = f"{s.min_replica} to {s.max_replica} replica(s)"
    lines = [
        f"# ---- {s.ref.name} " + "-" * max(4, 80 - len(s.ref.name)),
        f"# {s.state.value} when listed; {s.instance}, {replicas}"
        + (f"; model {s.repository}" if s.repository else ""),
    ]
    if entry.usd_per_hour is not None:
        day = entry.usd_per_hour * 24 * max(s.max_replica, 1)
        lines.append(f"# price: {money(entry.usd_per_hour)} per replica-hour ({entry.source});")
        lines.append(
            f"#        always on at {max(s.max_replica, 1)} replica(s) that is {money(day)} a day, "
            f"about {money(day * 30)} a month"
        )
    else:
        lines.append(f"# price: {entry.source}")
    if s.min_replica == 0 and s.scale_to_zero_timeout_min:
        lines.append(f"# HF's own scale to zero is on: after {s.scale_to_zero_timeout_min} min without requests")
    else:
        lines.append("# HF's own scale to zero is off (min replica >= 1): it runs, and bills, until someone pauses it")
    lines += ["[[endpoints]]", f'name = "{s.ref.name}"']
    if s.ref.namespace != namespace:
        lines.append(f'namespace = "{s.ref.namespace}"')
    lines.append(_line("managed = false", "opt in: true (or delete this line) and the daemon applies the policies"))
    lines.append(_line("# protect = true", "production: epmgr records it but never pauses, resumes or scales it"))
    lines.append(_line('# pause_after = "2h"', "any [defaults] key can be overridden here, for this endpoint only"))
    if entry.usd_per_hour is not None:
        budget = _amount(entry.usd_per_hour * BUDGET_HOURS)
        lines.append(
            _line(f'# budget = {{ daily_usd = {budget}, on_exceed = "pause" }}', f"{BUDGET_HOURS} replica-hours a day")
        )
    lines.append(
        _line(
            '# schedule = { tz = "UTC", active = ["Mon-Fri 08:00-19:00"] }',
            "up in office hours, paused outside",
        )
    )
    price_hint = f"{entry.usd_per_hour.normalize():f}" if entry.usd_per_hour is not None else "1.00"
    lines.append(_line(f"# price_per_hour = {price_hint}", "USD per replica-hour, if you pay another price"))
    return lines


def render_config(namespace: str, api_url: str | None, endpoints: Sequence[Priced], written_at: datetime) -> str:
    """The commented ``epmgr.toml`` that ``epmgr init`` writes (pure: everything it shows is passed in)."""
    count = f"{len(endpoints)} endpoint(s)" if endpoints else "no endpoints yet"
    lines = [
        f"# epmgr.toml for namespace {namespace!r}, written by `epmgr init` on {written_at:%Y-%m-%d %H:%M} UTC",
        f"# ({count}). Every key is described in docs/configuration.md; examples/epmgr.toml shows them all.",
        "#",
        "# Nothing here acts yet: every endpoint below is listed with `managed = false`. Opt one in, check what",
        "# the daemon would do with `epmgr daemon --dry-run --once`, then run `epmgr daemon`.",
        "#",
        "# The HF token is NEVER written here: set HF_TOKEN or run `hf auth login`.",
        "",
        "[hf]",
        _line(f'namespace = "{namespace}"', "the user or organisation owning the endpoints (env: EPMGR_NAMESPACE)"),
        _line(f'api_url = "{api_url}"', "another API host, e.g. the emulator (env: EPMGR_HF_API_URL)")
        if api_url
        else _line(
            '# api_url = "http://127.0.0.1:8765"', "another API host, e.g. the emulator (env: EPMGR_HF_API_URL)"
        ),
        "",
        "[ledger]",
        _line('# url = "postgresql://epmgr@db-host/epmgr"', "default: ledger.db in the user data directory;"),
        _line("#", "several daemons or hosts share one PostgreSQL ledger"),
        "",
        "[daemon]",
        _line('interval = "30s"', "how often the daemon looks at every endpoint (each look is one API call)"),
        _line('listen = "127.0.0.1:9465"', "/healthz and /metrics (Prometheus) are served here"),
        _line('log_format = "text"', '"json" for a log collector'),
        "",
        "[defaults]",
        "# For every managed endpoint that does not set its own value. Idle: no request through epmgr's client",
        "# or proxy (requests that bypass epmgr are invisible to it; see docs/policies.md).",
        _line('scale_to_zero_after = "15m"', "idle 15 min: scale to zero (free; wakes on the next request, ~4 min)"),
        _line('pause_after = "6h"', "idle 6 h: pause (free, frees quota; only epmgr or a person resumes it)"),
        _line('min_uptime = "5m"', "a freshly woken endpoint stays up at least this long, against flapping"),
        _line('# managed_tag = "epmgr"', "endpoints with this HF tag are managed unless listed below"),
        "",
    ]
    if not endpoints:
        lines.append(f"# No endpoints in {namespace!r} yet: run `epmgr init --force` again once you have created some.")
    for entry in endpoints:
        lines += _endpoint_block(entry, namespace)
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def _target(output: str | None, app: AppContext) -> Path:
    chosen = output or app.config_path or os.environ.get("EPMGR_CONFIG", "").strip() or DEFAULT_FILE
    return Path(chosen).expanduser()


def _settings(app: AppContext, target: Path) -> Settings:
    """Flags and environment, plus the file being replaced if it still loads (its namespace is kept).

    Whatever ``--config``/``EPMGR_CONFIG`` name is the file being written, so it is not required to exist.
    """
    env = {k: v for k, v in os.environ.items() if k != "EPMGR_CONFIG"}
    if target.is_file():
        try:
            return load_settings(target, env=env, db_url=app.db_url, namespace=app.namespace)
        except ConfigError:
            pass  # being replaced (--force): its values are not trusted
    with tempfile.TemporaryDirectory() as empty_dir:  # an empty file: flags, environment and defaults only
        empty = Path(empty_dir) / DEFAULT_FILE
        empty.write_text("", encoding="utf-8")
        return load_settings(empty, env=env, db_url=app.db_url, namespace=app.namespace)


def write_new(target: Path, text: str, *, force: bool) -> None:
    """Write ``text`` to ``target``: atomically when replacing (``force``), never over an existing file otherwise."""
    try:
        if not force:
            with target.open("x", encoding="utf-8") as handle:  # "x": fails if it appeared meanwhile
                handle.write(text)
            return
        partial = target.with_name(f".{target.name}.partial")
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, target)
    except FileExistsError:
        raise ConfigError("already exists; keep it, or pass --force to replace it", source=str(target)) from None
    except OSError as exc:
        raise EpmgrError(f"{target}: cannot write the configuration file: {exc.strerror or exc}") from None


@click.command()
@click.option(
    "-o", "--output", metavar="FILE", help="Where to write (default: --config, else $EPMGR_CONFIG, else ./epmgr.toml)."
)
@click.option("--force", is_flag=True, help="Replace the file if it exists.")
@json_option
@pass_app
def init(app: AppContext, output: str | None, force: bool) -> None:
    """Write an epmgr.toml listing every endpoint of the namespace, none managed until you opt it in.

    \b
    Example:
        epmgr --namespace my-org init
        epmgr init -o /etc/epmgr/epmgr.toml --force
    """
    target = _target(output, app)
    if target.exists() and not force:
        raise ConfigError("already exists; keep it, or pass --force to replace it", source=str(target))
    settings = _settings(app, target)
    api = api_from_settings(settings.token, settings.namespace, settings.hf_api_url)
    snapshots = sorted(api.list_endpoints(), key=lambda s: s.ref.name)
    now = datetime.now(timezone.utc)
    endpoints = price_endpoints(snapshots, hardware_or_empty(api) if snapshots else [], now)
    write_new(target, render_config(api.namespace, settings.hf_api_url, endpoints, now), force=force)
    data = {
        "path": str(target),
        "namespace": api.namespace,
        "endpoints": [
            {
                "name": e.snapshot.ref.name,
                "state": e.snapshot.state.value,
                "price_per_hour": None if e.usd_per_hour is None else f"{e.usd_per_hour.normalize():f}",
                "managed": False,
            }
            for e in endpoints
        ],
    }
    names = ", ".join(e.snapshot.ref.name for e in endpoints) or "none yet"
    emit(
        app,
        data,
        f"wrote {target}: {len(endpoints)} endpoint(s) of {api.namespace} ({names}), none managed yet.\n"
        "Next: set `managed = true` on the endpoints epmgr may act on, then `epmgr daemon --dry-run --once`.",
    )
