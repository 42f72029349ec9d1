"""Traffic that bypasses epmgr (issue 13): requests straight at the endpoint's URL, with plain httpx, while the
daemon runs on the emulator's FakeClock. A shared endpoint is never paused for idleness, and the metrics route
keeps it awake while such requests arrive; the requests are then counted as "not seen by epmgr"."""

from __future__ import annotations

from datetime import timedelta, timezone

import httpx
import respx

from epmgr.cli.daemon import status_text
from epmgr.domain.model import ActionKind, EndpointState, Outcome
from epmgr.domain.policy import Traffic
from epmgr.emulator import DEMO_TOKEN
from epmgr.pricing import PriceBook
from epmgr.report.data import endpoint_table
from epmgr.report.model import build_report
from epmgr.unseen_traffic import UNSEEN_CLIENT
from tests.daemon.conftest import World, tick

UTC = timezone.utc
SHARED = """
[daemon]
interval = "30s"

[defaults]
scale_to_zero_after = "2m"
pause_after = "10m"
min_uptime = "0s"

[[endpoints]]
name = "notebook"
"""


def curl(world: World, name: str) -> httpx.Response:
    """One request straight at the endpoint's URL, as a teammate's notebook sends it (not through epmgr)."""
    url = world.api.get(name).url
    assert url
    body = {"inputs": "hi", "parameters": {"max_new_tokens": 4}}
    return httpx.post(url, json=body, headers={"Authorization": f"Bearer {DEMO_TOKEN}"}, timeout=10)


def test_direct_traffic_keeps_a_shared_endpoint_awake_and_it_is_never_paused(world: World) -> None:
    ref = world.create("notebook", by_epmgr=False)  # not created by epmgr: its traffic is "shared"
    daemon = world.reconciler(SHARED)
    report = tick(daemon)
    assert report.endpoints[0].traffic == Traffic.SHARED
    for _ in range(40):  # 20 minutes of direct requests, one every 30 s: the ledger sees none of them
        assert curl(world, "notebook").status_code == 200
        world.advance(seconds=30)
        report = tick(daemon)
        assert world.state("notebook") == EndpointState.RUNNING, report.endpoints[0].decision
    unseen = world.ledger.count_requests(ref, client_id=UNSEEN_CLIENT)
    assert 35 <= unseen <= 40  # all but the newest (not yet settled into a finished step of the metrics)
    assert report.endpoints[0].unseen_today == unseen
    counts = httpx.get(f"{world.server.url}/_emulator/requests").json()["counts"]
    reads = sum(n for route, n in counts.items() if "/metrics/" in route and route.startswith("POST /v2/"))
    assert 5 <= reads <= 25, reads  # only on the ticks where an idle action was due (19 of 41 here)
    assert all(a.action == ActionKind.CREATE for a in world.ledger.actions(ref))  # nothing done, nothing skipped
    status = status_text(report, "daemon: test")
    assert "demo/notebook (shared)" in status and f"demo/notebook: {unseen} requests not seen by epmgr today" in status
    now = world.clock.now()
    cost = build_report(world.ledger, PriceBook.from_ledger(world.ledger), now - timedelta(days=1), now, now, UTC)
    assert f"demo/notebook: {unseen} requests not seen by epmgr" in endpoint_table(cost)
    assert cost.endpoints[0].unseen_requests == unseen

    world.advance(minutes=3)  # the notebook stops: scaled to zero once idle, as any request wakes it
    report = tick(daemon)
    assert (report.endpoints[0].decision.action, report.endpoints[0].outcome) == (ActionKind.SCALE_TO_ZERO, Outcome.OK)
    for _ in range(8):  # an hour and more idle: past pause_after, never paused
        world.advance(minutes=10)
        report = tick(daemon)
        assert world.state("notebook") == EndpointState.SCALED_TO_ZERO
    assert report.endpoints[0].decision.code == "shared"
    assert "never paused for idleness" in report.endpoints[0].decision.reason


def test_without_the_metrics_signal_epmgr_traffic_is_taken_at_its_word(world: World) -> None:
    """The control: the same direct requests to an endpoint declared ``traffic = "epmgr"`` are not looked for, so
    the daemon scales it to zero and pauses it (the assertion above can fail)."""
    world.create("notebook", by_epmgr=False)
    daemon = world.reconciler(SHARED + 'traffic = "epmgr"\n')
    tick(daemon)
    for _ in range(30):
        curl(world, "notebook")
        world.advance(seconds=30)
        tick(daemon)
    world.advance(minutes=11)
    tick(daemon)
    assert world.state("notebook") == EndpointState.PAUSED


def test_an_endpoint_epmgr_created_is_epmgr_traffic_and_is_paused(world: World) -> None:
    world.create("mine")  # through epmgr create: audited, so "epmgr" by default
    daemon = world.reconciler(SHARED.replace('"notebook"', '"mine"'))
    assert tick(daemon).endpoints[0].traffic == Traffic.EPMGR
    world.advance(minutes=11)
    tick(daemon)
    assert world.state("mine") == EndpointState.PAUSED


def test_a_metrics_route_that_fails_leaves_the_ledger_alone_to_decide(world: World) -> None:
    ref = world.create("notebook", by_epmgr=False)
    daemon = world.reconciler(SHARED)
    tick(daemon)
    for _ in range(6):
        curl(world, "notebook")
        world.advance(seconds=30)
    with respx.mock(assert_all_called=True) as mock:  # a real account without the route (its shape is assumed)
        route = mock.post(url__regex=r".*/metrics/request-count$").respond(404, json={"error": "Not Found"})
        mock.route().pass_through()
        report = tick(daemon)
        world.advance(seconds=30)
        tick(daemon)
    assert route.call_count == 1  # asked once, then left alone for an hour
    assert (report.endpoints[0].decision.action, report.endpoints[0].outcome) == (ActionKind.SCALE_TO_ZERO, Outcome.OK)
    assert world.ledger.count_requests(ref, client_id=UNSEEN_CLIENT) == 0
