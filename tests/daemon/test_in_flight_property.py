"""Property: however client requests and daemon ticks interleave, no tick pauses or scales down an endpoint while a
request to it is in flight (recorded in the ledger as started and not finished)."""

from __future__ import annotations

import itertools
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from epmgr.domain.model import ActionKind, EndpointState, Outcome, RequestRecord
from epmgr.ledger.store import RequestFinish
from tests.daemon.conftest import World

DOWN = {ActionKind.PAUSE, ActionKind.SCALE_TO_ZERO, ActionKind.SET_REPLICAS}
_names = itertools.count()

Step = tuple[str, int]
steps = st.lists(
    st.one_of(
        st.tuples(st.just("start"), st.just(0)),
        st.tuples(st.just("finish"), st.integers(0, 5)),
        st.tuples(st.just("advance"), st.integers(1, 240)),  # seconds
        st.tuples(st.just("tick"), st.just(0)),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=steps)
def test_no_tick_takes_capacity_from_an_endpoint_with_a_request_in_flight(world: World, steps: list[Step]) -> None:
    name = f"prop-{next(_names)}"
    ref = world.create(name)
    daemon = world.reconciler(
        f"""
[daemon]
interval = "10m"

[defaults]
scale_to_zero_after = "1m"
pause_after = "3m"
min_uptime = "0s"

[[endpoints]]
name = "{name}"
price_per_hour = 60
budget = {{ daily_usd = 5, on_exceed = "pause" }}
schedule = {{ tz = "UTC", active = ["Mon-Fri 09:03-09:06"], on_end = "scale_to_zero" }}
"""
    )
    open_ids: list[int] = []
    try:
        for kind, value in steps:
            now = world.clock.now()
            if kind == "start":
                open_ids += world.ledger.record_requests([RequestRecord(ref, now)])
            elif kind == "finish" and open_ids:
                request_id = open_ids.pop(value % len(open_ids))
                world.ledger.finish_requests([RequestFinish(request_id, now, 200)])
            elif kind == "advance":
                world.advance(seconds=value)
            elif kind == "tick":
                in_flight = world.ledger.activity(ref, now).in_flight
                before = world.state(name)
                report = daemon.tick()
                mine = [e for e in report.endpoints if e.ref == ref]
                if in_flight:
                    for e in mine:
                        assert not (e.decision.action in DOWN and e.outcome in (Outcome.OK, Outcome.DRY_RUN)), e
                    after = world.state(name)
                    assert not (before == EndpointState.RUNNING and after != EndpointState.RUNNING)
    finally:
        world.api.delete(name)
        world.advance(seconds=1)
        world.clock.advance(timedelta(0))
