"""`epmgr simulate`: what each policy would have cost on a trace of requests (table, JSON, HTML)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click

from epmgr.cli.context import AppContext, json_option, pass_app
from epmgr.domain.durations import parse_duration
from epmgr.domain.model import EndpointRef
from epmgr.errors import ConfigError
from epmgr.names import endpoint_ref
from epmgr.simulate import report, specs, traces
from epmgr.simulate.engine import Params
from epmgr.simulate.evaluate import Row, evaluate
from epmgr.simulate.traces import Stream

DEFAULT_POLICIES = ("always-on", "fixed:15m", "fixed:60m", "adaptive", "oracle")


def _seconds(text: str, option: str) -> float:
    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise ConfigError(str(exc), source=option) from None
    return value.total_seconds()


def _price(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 1e6:
        raise ConfigError(
            f"expected a positive amount in US dollars such as 1.0, got {text!r}", source="--price-per-hour"
        )
    return value


def _streams(
    app: AppContext, trace: str | None, trace_format: str, ledger: bool, endpoint: str | None, since: str
) -> list[Stream]:
    if ledger:
        if endpoint is None:
            raise ConfigError("--ledger needs --endpoint NAME", source="command line")
        ns, name = endpoint_ref(endpoint, where="--endpoint")
        ns = ns or app.settings().namespace
        if ns is None:
            raise ConfigError("no namespace: give --endpoint NAMESPACE/NAME or --namespace", source="--endpoint")
        until = datetime.now(timezone.utc)
        start = until - timedelta(seconds=_seconds(since, "--since"))
        return [traces.from_ledger(app.ledger(), EndpointRef(ns, name), start, until)]
    if trace is None:
        raise ConfigError("give --trace FILE (or --ledger --endpoint NAME)", source="command line")
    streams = [s for s in traces.load(Path(trace), trace_format) if s.times]
    if not streams:
        raise ConfigError("no requests in it", source=trace)
    return streams


@click.command()
@click.option("--trace", metavar="FILE", help="Requests: a CSV with a timestamp column (or see --trace-format).")
@click.option(
    "--trace-format", type=click.Choice(traces.FORMATS), default="csv", show_default=True,
    help="csv, or one of the public traces (a file or its folder).",
)  # fmt: skip
@click.option("--ledger", "from_ledger", is_flag=True, help="Replay the requests the ledger recorded instead.")
@click.option("--endpoint", metavar="NAME", help="With --ledger: the endpoint (NAME or NAMESPACE/NAME).")
@click.option("--since", default="30d", show_default=True, metavar="DURATION", help="With --ledger: how far back.")
@click.option("--price-per-hour", default="1.0", show_default=True, metavar="USD", help="Price per replica-hour.")
@click.option("--startup", default="4m", show_default=True, metavar="DURATION", help="Billed length of a start.")
@click.option("--cold-start-latency", metavar="DURATION", help="What a request waits for a start [default: --startup].")
@click.option("--tick", default="1m", show_default=True, metavar="DURATION", help="Decision interval (daemon tick).")
@click.option("--policy", "policies", multiple=True, metavar="SPEC", help=f"Repeatable: {specs.EXAMPLES}.")
@click.option("--html", "html_path", metavar="FILE", help="Also write an HTML page (Pareto chart, timeline).")
@click.option("--stepping", is_flag=True, help="Look at every tick (slower; same result as event-driven).")
@json_option
@pass_app
def simulate(
    app: AppContext, trace: str | None, trace_format: str, from_ledger: bool, endpoint: str | None, since: str,
    price_per_hour: str, startup: str, cold_start_latency: str | None, tick: str, policies: tuple[str, ...],
    html_path: str | None, stepping: bool,
) -> None:  # fmt: skip
    """What each policy would have cost on this traffic, replayed through the daemon's own decisions.

    Every policy runs the production decide() on a simulated clock and endpoint (billed start-up, per-minute
    billing, requests that find it asleep wait for a start). Costs are also given as a ratio to the offline
    optimum ("oracle").

    \b
    Example:
        epmgr simulate --trace requests.csv --price-per-hour 1.0 --startup 4m \\
            --policy always-on --policy fixed:15m --policy fixed:60m --policy adaptive --policy oracle --json
        epmgr simulate --trace ../shared/traces/azure_llm_2023 --trace-format azure-llm-2023 --html sim.html
    """
    parsed = [specs.parse(text) for text in (policies or DEFAULT_POLICIES)]
    startup_s = _seconds(startup, "--startup")
    latency_s = _seconds(cold_start_latency, "--cold-start-latency") if cold_start_latency else startup_s
    params = Params(_price(price_per_hour), startup_s, latency_s, _seconds(tick, "--tick"), stepping)
    if params.tick <= 0:
        raise ConfigError("must be positive", source="--tick")
    streams = _streams(app, trace, trace_format, from_ledger, endpoint, since)
    rows = evaluate(parsed, streams, params, keep=html_path is not None)
    if html_path is not None:
        curve = evaluate([specs.parse(f"fixed:{m}m") for m in report.CURVE_MINUTES], streams, params)
        title = f"epmgr simulate: {trace or endpoint}"
        try:
            Path(html_path).write_text(report.html(rows, curve, streams, title), encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot write it ({exc.strerror or exc})", source=html_path) from None
    _emit(app, rows, streams)


def _emit(app: AppContext, rows: list[Row], streams: list[Stream]) -> None:
    if app.json:
        click.echo(json.dumps([row.as_json() for row in rows], indent=2))
        return
    requests = sum(len(s.times) for s in streams)
    click.echo(f"{len(streams)} stream(s), {requests:,} requests")
    click.echo(report.table(rows))
