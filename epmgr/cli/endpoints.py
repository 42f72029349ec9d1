"""Endpoint commands: create, list, show, pause, resume, scale-to-zero, update, delete, wait."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import click

from epmgr.adapters.hf import api_from_settings
from epmgr.cli.context import AppContext, emit, json_option, pass_app
from epmgr.cli.params import DURATION, ENDPOINT_NAME, MAX_REPLICA, MIN_REPLICA, REASON, check_replicas, whole_minutes
from epmgr.cli.progress import WaitProgress
from epmgr.cli.render import endpoints_table, money, snapshot_dict, snapshot_text
from epmgr.clock import Clock, SystemClock
from epmgr.domain.model import (
    ActionKind,
    EndpointChanges,
    EndpointSnapshot,
    EndpointSpec,
    HardwareOption,
    Instance,
)
from epmgr.errors import AlreadyRunning, ApiError, BadRequest, BudgetExceeded
from epmgr.operations import Operator
from epmgr.ports import EndpointsAPI
from epmgr.specfile import load_spec_file

CLOCK: Clock = SystemClock()  # the commands' time (tests of minutes-long waits swap in an accelerated clock)
# How often `--wait` asks the API at most: a person is watching, and HF's own wait() polls every 5 s.
WAIT_POLL_CAP = timedelta(seconds=2)


def operator(app: AppContext) -> Operator:
    settings = app.settings()
    api = api_from_settings(settings.token, settings.namespace, settings.hf_api_url)
    return Operator(api=api, ledger=app.ledger(), clock=CLOCK)


def priced(snapshot: EndpointSnapshot, hardware: list[HardwareOption]) -> EndpointSnapshot:
    """The snapshot with its instance's price per hour from the hardware route."""
    for option in hardware:
        if option.matches(snapshot.instance):
            return replace(snapshot, price_per_hour=option.price_per_hour)
    return snapshot


def hardware_or_empty(api: EndpointsAPI) -> list[HardwareOption]:
    try:
        return api.hardware()
    except ApiError as exc:
        click.echo(f"warning: prices unavailable ({exc})", err=True)
        return []


def show_result(app: AppContext, snapshot: EndpointSnapshot, verb: str) -> None:
    emit(app, snapshot_dict(snapshot), f"{snapshot.ref}: {verb}; now {snapshot.state.value}")


def wait_for(op: Operator, name: str, timeout: timedelta) -> EndpointSnapshot:
    progress = WaitProgress()
    try:
        return op.wait_ready(name, timeout, on_progress=progress, poll_cap=WAIT_POLL_CAP)
    finally:
        progress.done()


def explain_bad_instance(exc: BadRequest, api: EndpointsAPI, instance: Instance) -> BadRequest:
    """Add the valid instances of that vendor and region to HF's terse 'Instance compute ... not found'."""
    if "not found" not in str(exc).lower() or "instance" not in str(exc).lower():
        return exc
    options = [o for o in hardware_or_empty(api) if o.vendor == instance.vendor and o.region == instance.region]
    if not options:
        return BadRequest(f"{exc}; no instances are offered in {instance.vendor}/{instance.region}")
    valid = ", ".join(
        f"{o.accelerator} {o.instance_type} {o.instance_size} ({money(o.price_per_hour)}/h)" for o in options
    )
    return BadRequest(f"{exc}; valid in {instance.vendor}/{instance.region}: {valid}", status_code=400)


@click.command()
@click.argument("name", type=ENDPOINT_NAME, required=False)
@click.option("--from-file", "spec_file", type=click.Path(dir_okay=False), help="Read the spec from a TOML file.")
@click.option("--repo", "repository", help="Model repository, e.g. microsoft/Phi-3-mini-4k-instruct.")
@click.option("--vendor", help="Cloud vendor: aws, azure or gcp.")
@click.option("--region", help="Region, e.g. us-east-1.")
@click.option("--accelerator", help="cpu, gpu or neuron.")
@click.option("--instance-type", help="e.g. nvidia-l4, intel-spr.")
@click.option("--instance-size", help="e.g. x1, x4.")
@click.option("--task", help="e.g. text-generation.")
@click.option("--framework", help="Default: pytorch.")
@click.option("--revision", help="Model revision (commit, branch or tag).")
@click.option("--min-replica", type=MIN_REPLICA, help="Default 1; 0 allows HF's scale to zero.")
@click.option("--max-replica", type=MAX_REPLICA, help="Default 1.")
@click.option("--scale-to-zero-timeout", type=DURATION, help="HF's own idle timer (needs --min-replica 0), e.g. 15m.")
@click.option("--type", "endpoint_type", type=click.Choice(["public", "authenticated", "private"]), help="Access.")
@click.option("--wait/--no-wait", default=False, help="Wait until it serves (health route answers 200).")
@click.option("--timeout", type=DURATION, default="15m", show_default=True, help="How long --wait waits.")
@json_option
@pass_app
def create(
    app: AppContext, /, name: str | None, spec_file: str | None, wait: bool, timeout: timedelta, **given: Any
) -> None:
    """Create an endpoint (from options, a TOML spec file, or both: options win).

    \b
    Example:
        epmgr create phi3-mini --repo microsoft/Phi-3-mini-4k-instruct --vendor aws \\
            --region us-east-1 --accelerator gpu --instance-type nvidia-l4 --instance-size x1 \\
            --task text-generation --min-replica 0 --scale-to-zero-timeout 15m --wait
        epmgr create --from-file phi3.toml
    """
    values = load_spec_file(spec_file) if spec_file else {}
    values.update({key: value for key, value in given.items() if value is not None})
    if name:
        values["name"] = name
    missing = [
        option
        for key, option in (
            ("name", "NAME"),
            ("repository", "--repo"),
            ("vendor", "--vendor"),
            ("region", "--region"),
            ("accelerator", "--accelerator"),
            ("instance_type", "--instance-type"),
            ("instance_size", "--instance-size"),
        )
        if not values.get(key)
    ]
    if missing:
        raise click.UsageError(f"missing {', '.join(missing)} (give them as options or in --from-file)")
    check_replicas(values.get("min_replica", 1), values.get("max_replica", 1))
    instance = Instance(
        values["vendor"], values["region"], values["accelerator"], values["instance_type"], values["instance_size"]
    )
    spec = EndpointSpec(
        name=values["name"],
        repository=values["repository"],
        instance=instance,
        framework=values.get("framework") or "pytorch",
        task=values.get("task"),
        revision=values.get("revision"),
        min_replica=values.get("min_replica", 1),
        max_replica=values.get("max_replica", 1),
        scale_to_zero_timeout_min=whole_minutes(values.get("scale_to_zero_timeout"), "--scale-to-zero-timeout"),
        endpoint_type=values.get("endpoint_type") or "authenticated",
        env=values.get("env"),
        tags=tuple(values.get("tags") or ()),
    )
    op = operator(app)
    try:
        snapshot = op.act(ActionKind.CREATE, spec.name, "created from the command line", lambda: op.api.create(spec))
    except BadRequest as exc:
        raise explain_bad_instance(exc, op.api, instance) from exc
    assert snapshot is not None
    if wait:
        snapshot = wait_for(op, spec.name, timeout)
    show_result(app, snapshot, "created")


@click.command("list")
@json_option
@pass_app
def list_(app: AppContext) -> None:
    """List the namespace's endpoints with their state, instance, price and URL.

    \b
    Example:
        epmgr list
        epmgr --namespace my-org list --json
    """
    op = operator(app)
    found = op.api.list_endpoints()
    hardware = hardware_or_empty(op.api) if found else []
    snapshots = [priced(s, hardware) for s in found]
    op.observe_all(snapshots)
    emit(app, [snapshot_dict(s) for s in snapshots], lambda: endpoints_table(snapshots))


@click.command()
@click.argument("name", type=ENDPOINT_NAME)
@json_option
@click.option("--raw", is_flag=True, help="With --json, include the API's own payload.")
@pass_app
def show(app: AppContext, name: str, raw: bool) -> None:
    """Show one endpoint in detail.

    \b
    Example:
        epmgr show phi3-mini
        epmgr show phi3-mini --json --raw
    """
    op = operator(app)
    found = op.api.get(name)
    snapshot = priced(found, hardware_or_empty(op.api))
    op.observe(snapshot)
    emit(app, snapshot_dict(snapshot, raw=raw), lambda: snapshot_text(snapshot))


REASON_OPTION = click.option("--reason", type=REASON, default=None, help="Why (goes into the audit log).")


@click.command()
@click.argument("name", type=ENDPOINT_NAME)
@REASON_OPTION
@json_option
@pass_app
def pause(app: AppContext, name: str, reason: str | None) -> None:
    """Pause an endpoint: it costs nothing and frees quota, but only a resume wakes it.

    \b
    Example:
        epmgr pause phi3-mini --reason "done for the day"
    """
    op = operator(app)
    snapshot = op.act(ActionKind.PAUSE, name, reason or "paused by hand", lambda: op.api.pause(name))
    assert snapshot is not None
    show_result(app, snapshot, "paused")


@click.command()
@click.argument("name", type=ENDPOINT_NAME)
@REASON_OPTION
@click.option("--wait/--no-wait", default=False, help="Wait until it serves (health route answers 200).")
@click.option("--timeout", type=DURATION, default="15m", show_default=True, help="How long --wait waits.")
@click.option("--force", is_flag=True, help="Resume even if a budget holds it asleep (releases the hold).")
@json_option
@pass_app
def resume(app: AppContext, name: str, reason: str | None, wait: bool, timeout: timedelta, force: bool) -> None:
    """Resume a paused (or scaled-to-zero) endpoint; one already running is left as it is.

    An endpoint a budget paused stays asleep until the budget resets; --force overrides that until then.

    \b
    Example:
        epmgr resume phi3-mini --wait --timeout 10m
        epmgr resume phi3-mini --force --reason "demo for the board"
    """
    op = operator(app)
    verb = "resumed"
    now = op.clock.now()
    hold = op.ledger.active_hold(op.ref(name), now)
    if hold is not None and not force:
        until = f" until {hold.until.isoformat(timespec='minutes')}" if hold.until else ""
        raise BudgetExceeded(
            f"{op.ref(name)} is held asleep{until}: {hold.reason}; use `epmgr resume {name} --force` to override",
            endpoint=str(op.ref(name)),
        )
    if hold is not None:
        op.ledger.release_holds(op.ref(name), now, by="cli")
        verb = "resumed (budget hold released)"
    try:  # one audit row: ok, or skipped (with the API's answer as its detail) if it was already running
        snapshot = op.act(
            ActionKind.RESUME,
            name,
            reason or "resumed by hand",
            lambda: op.api.resume(name, running_ok=False),
            skip_on=(AlreadyRunning,),
        )
    except AlreadyRunning:
        snapshot, verb = op.api.get(name), "already running, nothing to do"
    assert snapshot is not None
    if wait:
        snapshot = wait_for(op, name, timeout)
    show_result(app, snapshot, verb)


@click.command("scale-to-zero")
@click.argument("name", type=ENDPOINT_NAME)
@REASON_OPTION
@json_option
@pass_app
def scale_to_zero(app: AppContext, name: str, reason: str | None) -> None:
    """Scale an endpoint to zero: it costs nothing, keeps its quota and URL, and wakes on the next request.

    \b
    Example:
        epmgr scale-to-zero phi3-mini
    """
    op = operator(app)
    snapshot = op.act(
        ActionKind.SCALE_TO_ZERO, name, reason or "scaled to zero by hand", lambda: op.api.scale_to_zero(name)
    )
    assert snapshot is not None
    show_result(app, snapshot, "scaled to zero")


@click.command()
@click.argument("name", type=ENDPOINT_NAME)
@click.option("--repo", "repository", help="New model repository.")
@click.option("--revision", help="New model revision.")
@click.option("--task", help="New task.")
@click.option("--framework", help="New framework.")
@click.option("--accelerator", help="New accelerator.")
@click.option("--instance-type", help="New instance type.")
@click.option("--instance-size", help="New instance size.")
@click.option("--min-replica", type=MIN_REPLICA)
@click.option("--max-replica", type=MAX_REPLICA)
@click.option("--scale-to-zero-timeout", type=DURATION, help="HF's own idle timer, e.g. 15m (needs min replica 0).")
@REASON_OPTION
@click.option("--wait/--no-wait", default=False, help="Wait until it serves again.")
@click.option("--timeout", type=DURATION, default="15m", show_default=True, help="How long --wait waits.")
@json_option
@pass_app
def update(app: AppContext, /, name: str, reason: str | None, wait: bool, timeout: timedelta, **given: Any) -> None:
    """Change an endpoint's model, instance or scaling (only the options given are changed).

    \b
    Example:
        epmgr update phi3-mini --min-replica 0 --scale-to-zero-timeout 30m
        epmgr update phi3-mini --instance-type nvidia-a10g --instance-size x1 --wait
    """
    timeout_min = whole_minutes(given.pop("scale_to_zero_timeout"), "--scale-to-zero-timeout")
    check_replicas(given.get("min_replica"), given.get("max_replica"))
    changes = EndpointChanges(scale_to_zero_timeout_min=timeout_min, **given)
    if changes.is_empty():
        raise click.UsageError("nothing to change: give at least one option (see --help)")
    op = operator(app)
    changed = ", ".join(f"{key}={value}" for key, value in changes.__dict__.items() if value is not None)
    snapshot = op.act(
        ActionKind.UPDATE, name, reason or f"updated by hand: {changed}", lambda: op.api.update(name, changes)
    )
    assert snapshot is not None
    if wait:
        snapshot = wait_for(op, name, timeout)
    show_result(app, snapshot, "updated")


@click.command()
@click.argument("name", type=ENDPOINT_NAME)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@REASON_OPTION
@pass_app
def delete(app: AppContext, name: str, yes: bool, reason: str | None) -> None:
    """Delete an endpoint for good (asks first unless --yes).

    \b
    Example:
        epmgr delete phi3-mini --yes
    """
    op = operator(app)
    if not yes:
        click.confirm(f"Delete {op.ref(name)}? This cannot be undone", abort=True)
    op.act(ActionKind.DELETE, name, reason or "deleted by hand", lambda: op.api.delete(name))
    click.echo(f"{op.ref(name)}: deleted")


@click.command()
@click.argument("name", type=ENDPOINT_NAME)
@click.option("--timeout", type=DURATION, default="15m", show_default=True, help="Give up after this long.")
@json_option
@pass_app
def wait(app: AppContext, name: str, timeout: timedelta) -> None:
    """Wait until an endpoint serves: running, and its health route answers 200.

    It does not wake the endpoint (see `epmgr resume`); it fails at once on a failed endpoint.

    \b
    Example:
        epmgr wait phi3-mini --timeout 10m
    """
    op = operator(app)
    snapshot = wait_for(op, name, timeout)
    show_result(app, snapshot, "ready")


COMMANDS = (create, list_, show, pause, resume, scale_to_zero, update, delete, wait)
