"""`epmgr emulator serve` / `python -m epmgr.emulator serve`: run the emulator in the foreground.

The click group lives in the emulator package so that `python -m epmgr.emulator` needs nothing else of epmgr;
`epmgr.cli.emulator` re-exports it for the main `epmgr` command.
"""

from __future__ import annotations

import re

import click

from epmgr.emulator import DEMO_USER, EmulatorTimings, FaultConfig, serve
from epmgr.emulator.behaviour import COMPRESS, DELETED_URL, QUOTA_STATUSES, REDACTED_UPDATE, WHILE_UPDATING, Behaviour
from epmgr.emulator.faults import FAULT_KINDS
from epmgr.emulator.quota import DEFAULT_CPU_QUOTA, DEFAULT_GPU_QUOTA, QuotaKey, Quotas, parse_key
from epmgr.emulator.server import DEFAULT_HOST, DEFAULT_PORT, bind_host

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_seconds(text: str) -> float:
    """A duration such as ``500ms``, ``1.5s``, ``2m`` or ``3`` (seconds), in seconds.

    Raises:
        ValueError: The text is not of that form.
    """
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"expected a duration such as 500ms, 1.5s or 2m, got {text!r}")
    number, unit = match.groups()
    return float(number) * _UNIT_SECONDS[unit]


def _seconds(ctx: click.Context, param: click.Parameter, value: str) -> float:
    try:
        return parse_seconds(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _fault_kinds(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, ...]:
    kinds = tuple(kind.strip() for kind in value.split(",") if kind.strip())
    if not kinds or set(kinds) - set(FAULT_KINDS):
        raise click.BadParameter(f"a comma-separated subset of {','.join(FAULT_KINDS)}")
    return kinds


def _quota_limits(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> dict[QuotaKey, int]:
    limits = {}
    for item in value:
        key, sep, number = item.rpartition("=")
        try:
            if not sep or not number.isdigit():
                raise ValueError(
                    f"expected VENDOR/REGION/INSTANCE_TYPE=N such as aws/us-east-1/nvidia-t4=0, got {item!r}"
                )
            limits[parse_key(key)] = int(number)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
    return limits


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def emulator() -> None:
    """The offline emulator of Hugging Face Inference Endpoints (management API and endpoint URLs).

    \b
    Example:
        epmgr emulator serve --cold-start 10s
    """


@emulator.command("serve")
@click.option("--host", default=None, help=f"Address to listen on [default: {DEFAULT_HOST}]; a non-loopback "
              "address also needs --allow-remote.")  # fmt: skip
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535), help="TCP port.")
@click.option("--allow-remote", is_flag=True, help="Allow --host to be a non-loopback address.")
@click.option("--token", "tokens", multiple=True, envvar="EPMGR_EMULATOR_TOKEN", metavar="TOKEN",
              help="Accepted bearer token (repeatable; env: EPMGR_EMULATOR_TOKEN). Default: the documented demo "
              "token.")  # fmt: skip
@click.option("--user", default=DEMO_USER, show_default=True, help="The tokens' user, also the default namespace.")
@click.option("--org", "orgs", multiple=True, metavar="ORG", help="An organisation of the user (repeatable).")
@click.option(
    "--pending", default="1s", show_default=True, metavar="DURATION", callback=_seconds, help="pending → initializing."
)
@click.option("--initializing", default="3s", show_default=True, metavar="DURATION", callback=_seconds,
              help="initializing → running after create and resume.")  # fmt: skip
@click.option("--cold-start", default="3s", show_default=True, metavar="DURATION", callback=_seconds,
              help="initializing → running when woken from scaledToZero.")  # fmt: skip
@click.option(
    "--update", default="2s", show_default=True, metavar="DURATION", callback=_seconds, help="updating → running."
)
@click.option("--minute", default="2s", show_default=True, metavar="DURATION", callback=_seconds,
              help="Real time one minute of scaleToZeroTimeout lasts.")  # fmt: skip
@click.option("--fault-rate", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="Share of /v2 calls that get a fault.")  # fmt: skip
@click.option("--faults", "fault_kinds", default=",".join(FAULT_KINDS), show_default=True, callback=_fault_kinds,
              help="Faults to draw from.")  # fmt: skip
@click.option("--seed", default=None, type=int, help="Seed of the fault RNG, for reproducible faults.")
@click.option(
    "--slow", default="2s", show_default=True, metavar="DURATION", callback=_seconds, help="Delay of a 'slow' fault."
)
@click.option("--org-no-billing", "unbilled_orgs", multiple=True, metavar="ORG",
              help="An organisation of the user without billing: its namespace answers 401 (repeatable).")  # fmt: skip
@click.option("--gpu-quota", default=DEFAULT_GPU_QUOTA, show_default=True, type=click.IntRange(0),
              help="Accelerators per GPU/Inferentia instance type and region.")  # fmt: skip
@click.option("--cpu-quota", default=DEFAULT_CPU_QUOTA, show_default=True, type=click.IntRange(0),
              help="vCPUs per CPU instance type and region.")  # fmt: skip
@click.option("--quota", "quota_limits", multiple=True, metavar="VENDOR/REGION/TYPE=N", callback=_quota_limits,
              help="The quota of one instance type, e.g. aws/us-east-1/nvidia-t4=0 (repeatable).")  # fmt: skip
@click.option("--quota-status", default=400, show_default=True, type=click.Choice([str(s) for s in QUOTA_STATUSES]),
              help="HTTP status of a quota refusal (assumed).")  # fmt: skip
@click.option("--list-page-size", default=20, show_default=True, type=click.IntRange(0),
              help="Endpoints per page of a list without 'limit'; 0 for no paging (assumed).")  # fmt: skip
@click.option("--while-updating", default="503", show_default=True, type=click.Choice(WHILE_UPDATING),
              help="Inference while updating: 503, or served by the old replica (assumed).")  # fmt: skip
@click.option("--deleted-url", default="503", show_default=True, type=click.Choice(DELETED_URL),
              help="What a deleted endpoint's URL answers (assumed).")  # fmt: skip
@click.option("--redacted-update", default="overwrite", show_default=True, type=click.Choice(REDACTED_UPDATE),
              help="A PUT sending back a redacted secret stores the placeholder, or keeps the secret "
              "(assumed).")  # fmt: skip
@click.option("--compress", default="gzip", show_default=True, type=click.Choice(COMPRESS),
              help="Whole endpoint answers gzip-compressed for clients accepting it, or never (assumed).")  # fmt: skip
@click.option("--quiet", is_flag=True, help="No access log on stderr.")
def serve_command(
    host: str | None,
    port: int,
    allow_remote: bool,
    tokens: tuple[str, ...],
    user: str,
    orgs: tuple[str, ...],
    pending: float,
    initializing: float,
    cold_start: float,
    update: float,
    minute: float,
    fault_rate: float,
    fault_kinds: tuple[str, ...],
    seed: int | None,
    slow: float,
    unbilled_orgs: tuple[str, ...],
    gpu_quota: int,
    cpu_quota: int,
    quota_limits: dict[QuotaKey, int],
    quota_status: str,
    list_page_size: int,
    while_updating: str,
    deleted_url: str,
    redacted_update: str,
    compress: str,
    quiet: bool,
) -> None:
    """Serve the emulator until Ctrl+C: the management API under /v2, the Hub routes under /api, each endpoint
    at /e/<id>, and control routes under /_emulator. Never listens beyond loopback unless told to.

    \b
    Example:
        epmgr emulator serve
        epmgr emulator serve --port 9000 --cold-start 10s --minute 1s --org acme
        epmgr emulator serve --fault-rate 0.3 --faults 429,500,503,slow --seed 1
        epmgr emulator serve --gpu-quota 2 --quota aws/us-east-1/nvidia-t4=0 --quota-status 403
        python -m epmgr.emulator serve --token "$MY_TEST_TOKEN" --quiet
    """
    try:
        bind = bind_host(host, allow_remote)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    timings = EmulatorTimings(pending=pending, initializing=initializing, scale_up=cold_start, update=update,
                              minute=minute)  # fmt: skip
    faults = FaultConfig(rate=fault_rate, kinds=fault_kinds, seed=seed, slow_seconds=slow)
    quotas = Quotas(quota_limits, gpu=gpu_quota, cpu=cpu_quota)
    behaviour = Behaviour(list_page_size=list_page_size or None, quota_status=int(quota_status),
                          while_updating=while_updating, deleted_url=deleted_url,
                          redacted_update=redacted_update, compress=compress)  # fmt: skip
    shown = f"[{bind}]" if ":" in bind else bind
    auth = f"{len(tokens)} token(s) from --token" if tokens else "the demo token (see docs/emulator.md)"
    click.echo(f"epmgr emulator: http://{shown}:{port} (management API: http://{shown}:{port}/v2)", err=True)
    click.echo(f"user {user!r}, orgs {list(orgs)}, accepting {auth}", err=True)
    click.echo(f"quotas: {quotas.to_json()}; behaviour: {behaviour.to_json()}", err=True)
    click.echo(
        f"timings: pending {pending:g}s, initializing {initializing:g}s, cold start {cold_start:g}s, "
        f"update {update:g}s, 1 min of scaleToZeroTimeout = {minute:g}s; faults: rate {fault_rate:g}",
        err=True,
    )
    serve(host=bind, port=port, allow_remote=allow_remote, timings=timings, tokens=tokens or None, user=user,
          orgs=orgs, unbilled_orgs=unbilled_orgs, quotas=quotas, behaviour=behaviour, faults=faults,
          access_log=not quiet)  # fmt: skip
