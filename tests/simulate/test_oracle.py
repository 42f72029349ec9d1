"""The oracle's cost, checked by hand on a small trace."""

from __future__ import annotations

import pytest

from epmgr.simulate.billing import Stretch
from epmgr.simulate.engine import Params
from epmgr.simulate.evaluate import evaluate
from epmgr.simulate.oracle import oracle, oracle_stretches
from epmgr.simulate.specs import parse
from epmgr.simulate.traces import Stream

STARTUP = 240.0


def test_the_oracle_on_a_small_trace_by_hand() -> None:
    # Requests at 0 s, 60 s, 30 min, 70 min and 70 min 10 s; a 4-minute billed start-up.
    # - 0 -> 60 s: a 1-minute gap, shorter than the start-up: kept. Stretch 1: 4 min start-up + 1 min = 5 min.
    # - 60 s -> 30 min: longer: stopped at 60 s, pre-warmed at 26 min. Stretch 2: 4 min + 0 = 4 min.
    # - 30 -> 70 min: stopped, pre-warmed at 66 min. Stretch 3: 4 min + 10 s = 4 min 10 s, billed 5 min.
    # Total 14 replica-minutes: $0.70 at $3/h.
    times = [0.0, 60.0, 1800.0, 4200.0, 4210.0]
    assert oracle_stretches(times, STARTUP) == [
        Stretch(-240.0, 0.0, 60.0),
        Stretch(1560.0, 1800.0, 1800.0),
        Stretch(3960.0, 4200.0, 4210.0),
    ]
    run = oracle(Stream.of("hand", times), STARTUP)
    assert run.billed_minutes == 14
    assert round(run.usd(3.0), 2) == 0.70
    assert (run.cold_starts, run.waits) == (0, [])


def test_a_gap_of_exactly_one_start_up_is_not_kept() -> None:
    assert len(oracle_stretches([0.0, STARTUP], STARTUP)) == 2
    assert len(oracle_stretches([0.0, STARTUP - 1], STARTUP)) == 1


def test_every_ratio_is_to_the_oracle_and_the_oracle_is_one() -> None:
    stream = Stream.of("hand", [0.0, 60.0, 1800.0, 4200.0, 4210.0])
    rows = evaluate([parse("always-on"), parse("oracle")], [stream], Params(price_per_hour=3.0))
    by = {row.policy: row for row in rows}
    # always-on: one start-up (4 min) then up from 0 to 4210 s (70 min 10 s): 74 min 10 s, billed 75 minutes.
    assert by["always-on"].run.billed_minutes == 75
    assert by["oracle"].ratio_to_oracle == 1.0
    assert by["always-on"].ratio_to_oracle == pytest.approx(75 / 14)
