"""A resume refused for quota (issue 13): someone took the GPUs while the endpoint was paused. The CLI says which
instance type and quota in one line; the daemon audits the failure, backs off (1 min doubling to 30 min) without
spinning, resumes once the GPUs are back, and the cost report is unaffected. On the emulator's FakeClock, with
its quota control route taking the GPUs away."""

from __future__ import annotations

from datetime import timedelta

import httpx

from epmgr.domain.model import ActionKind, EndpointRef, EndpointSpec, EndpointState, Instance, Outcome
from epmgr.emulator import DEMO_USER
from epmgr.operations import Operator
from tests.cli.conftest import Cli
from tests.cli.conftest import epmgr as epmgr  # noqa: F401 (the fixture)
from tests.conftest import T0
from tests.daemon.conftest import World, tick

T4 = Instance("aws", "us-east-1", "gpu", "nvidia-t4", "x4")  # the whole default quota of 4 T4s
RESUME_ROUTE = "POST /v2/endpoint/{namespace}/{name}/resume"
OFFICE = """
[daemon]
interval = "30s"

[defaults]
scale_to_zero_after = "off"
pause_after = "off"

[[endpoints]]
name = "monday"
schedule = { tz = "UTC", active = ["Mon-Sun 09:05-23:00"], on_start = "resume", on_end = "pause", prewarm = "0s" }
"""


def quota(world_url: str, **body: object) -> None:
    httpx.put(f"{world_url}/_emulator/quota", json=body).raise_for_status()


def resumes(world: World) -> int:
    counts: dict[str, int] = httpx.get(f"{world.server.url}/_emulator/requests").json()["counts"]
    return counts.get(RESUME_ROUTE, 0)


def test_the_daemon_backs_off_a_resume_refused_for_quota_and_resumes_when_the_gpus_are_back(world: World) -> None:
    spec = EndpointSpec(name="monday", repository="openai-community/gpt2", instance=T4)
    op = Operator(world.api, world.ledger, world.clock)
    op.act(ActionKind.CREATE, "monday", "created", lambda: world.api.create(spec))
    world.advance(seconds=1)
    op.act(ActionKind.PAUSE, "monday", "friday night", lambda: world.api.pause("monday"))
    quota(world.server.url, limits={"aws/us-east-1/nvidia-t4": 0})  # the GPUs are gone while it is paused
    ref = EndpointRef(DEMO_USER, "monday")
    daemon = world.reconciler(OFFICE)
    assert tick(daemon).endpoints[0].decision.action == ActionKind.NONE  # 09:00, before the window
    world.clock.advance(T0 + timedelta(minutes=5) - world.clock.now())
    first = tick(daemon).endpoints[0]  # 09:05: the window opens
    spent, changes = first.spent_today, len(world.ledger.state_changes(ref))
    assert (first.decision.action, first.outcome) == (ActionKind.RESUME, Outcome.FAILED)
    assert first.error is not None and "quota exceeded for nvidia-t4 x4 in aws/us-east-1" in first.error
    assert "0 allowed for nvidia-t4" in first.error

    reports = [first]
    for _ in range(45):  # 15 minutes, a tick every 20 s: 46 ticks
        world.advance(seconds=20)
        reports.append(tick(daemon).endpoints[0])
    assert world.state("monday") == EndpointState.PAUSED
    # 09:05, 09:06, 09:08, 09:12 and 09:20: five tries in 46 ticks, the waits doubling
    assert resumes(world) == 5
    daemon_entries = [a for a in world.ledger.actions(ref) if a.actor.value == "daemon"]
    failed = [a for a in daemon_entries if a.outcome == Outcome.FAILED]
    waits = [a for a in daemon_entries if a.outcome == Outcome.SKIPPED]
    assert len(failed) == 5 and all("quota exceeded" in (a.error or "") for a in failed)
    assert len(waits) == 4 and all(a.policy == "backoff" for a in waits)  # one entry per wait, not per tick
    assert "backing off until 2026-03-02 09:12:00Z after 3 failed resume(s)" in waits[2].reason
    assert sum(1 for r in reports if r.decision.code == "backoff") == 41
    assert reports[-1].spent_today == spent and len(world.ledger.state_changes(ref)) == changes  # no cost

    quota(world.server.url, limits={})  # the other endpoint is gone: the next try succeeds
    for _ in range(100):
        world.advance(seconds=30)
        report = tick(daemon).endpoints[0]
        if report.outcome == Outcome.OK:
            break
    assert report.decision.action == ActionKind.RESUME and resumes(world) == 6
    world.advance(seconds=1)
    assert world.state("monday") == EndpointState.RUNNING


def test_epmgr_resume_refused_for_quota_is_one_line_naming_the_instance_and_the_quota(epmgr: Cli) -> None:
    created = epmgr(
        "create", "monday", "--repo", "gpt2", "--vendor", "aws", "--region", "us-east-1", "--accelerator", "gpu",
        "--instance-type", "nvidia-t4", "--instance-size", "x4", "--wait", "--timeout", "30s",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    assert epmgr("pause", "monday").exit_code == 0
    quota(epmgr.server.url, limits={"aws/us-east-1/nvidia-t4": 0})
    result = epmgr("resume", "monday")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "Traceback" not in result.output
    assert "quota exceeded for nvidia-t4 x4 in aws/us-east-1" in lines[0]
    assert "4 accelerator(s), 0 of the 0 allowed for nvidia-t4" in lines[0]
    ledger = epmgr.ledger()
    last = ledger.actions(EndpointRef(DEMO_USER, "monday"))[-1]
    assert (last.action, last.outcome) == (ActionKind.RESUME, Outcome.FAILED)
    ledger.close()
