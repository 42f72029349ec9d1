"""The adaptive keep-alive: what it learns from request times, what it decides, and the evidence it gives."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from epmgr.domain.adaptive import REFERENCE, GapHistory, adaptive_decision, next_prewarm
from epmgr.domain.decide import Situation, decide
from epmgr.domain.gaps import CONTEXT_RING, RING, bucket_of, describe_context, minutes
from epmgr.domain.model import ActionKind, Activity, EndpointRef, EndpointState, Hold
from epmgr.domain.policy import AdaptiveKnobs, EndpointPolicy, IdlePolicy, KeepAlive, OnEnd, Schedule
from epmgr.domain.rules import Decision
from epmgr.domain.schedule import ScheduleState, parse_window

T0 = datetime(2026, 3, 2, tzinfo=timezone.utc)  # a Monday
M = timedelta(minutes=1)
LEAD = 4 * M
RUNNING, PAUSED, ZERO = EndpointState.RUNNING, EndpointState.PAUSED, EndpointState.SCALED_TO_ZERO
KNOBS = AdaptiveKnobs()


def requests_after(gaps: Sequence[float], start: datetime = T0) -> list[datetime]:
    """Request times separated by ``gaps`` minutes."""
    times = [start]
    for gap in gaps:
        times.append(times[-1] + timedelta(minutes=gap))
    return times


def learned(gaps: Sequence[float], start: datetime = T0) -> tuple[GapHistory, datetime]:
    """A history of requests separated by ``gaps`` minutes, and its last request."""
    times = requests_after(gaps, start)
    return GapHistory.from_requests(times), times[-1]


LONG, LONG_LAST = learned([61, 73, 95, 180, 66] * 8)  # 40 gaps, all over an hour
SHORT, SHORT_LAST = learned([3, 5, 7, 4, 6, 8, 3.5, 5.5] * 5)  # 40 gaps of 3-8 min
BATCH, BATCH_LAST = learned([120] * 12)  # a job every 2 hours


def at(last: datetime, minutes: float) -> datetime:
    return last + timedelta(minutes=minutes)


def run(
    history: GapHistory | None,
    last: datetime,
    idle: float,
    *,
    knobs: AdaptiveKnobs = KNOBS,
    state: EndpointState = RUNNING,
    price: Decimal | None = Decimal("1.2"),
    **extra: object,
) -> Decision | None:
    return adaptive_decision(
        knobs,
        history,
        state,
        last,
        at(last, idle),
        lead=LEAD,
        price_per_hour=price,
        **extra,  # type: ignore[arg-type]
    )


REASONS: list[tuple[str, Decision | None, ActionKind | None, str, str]] = [
    ("thin-keep", run(None, T0, 2), ActionKind.NONE, "keep_warm",
     "keep warm until 2026-03-02T00:15+00:00: break-even of one billed start-up and a cold start's price (4m + 11m); "
     "only 0 idle gaps seen"),
    ("thin-stop", run(None, T0, 15.5), ActionKind.SCALE_TO_ZERO, "keepalive_stop",
     "stop now: idle for 15m30s, past the break-even of one billed start-up and a cold start's price (4m + 11m); "
     "only 0 idle gaps seen"),
    ("thin-break-even", run(None, T0, 4.5, knobs=AdaptiveKnobs(cold_start_usd=Decimal(0))), ActionKind.SCALE_TO_ZERO,
     "keepalive_stop",
     "stop now: idle for 4m30s, past the break-even of one billed start-up (4m); only 0 idle gaps seen"),
    ("not-a-gap-yet", run(LONG, LONG_LAST, 0.5), ActionKind.NONE, "keep_warm",
     "keep warm until 2026-03-04T15:21+00:00: idle for 30s only (shorter pauses are not idle gaps)"),
    ("long-gaps-stop", run(LONG, LONG_LAST, 1.5), ActionKind.SCALE_TO_ZERO, "keepalive_stop",
     "stop now: 100% of the last 40 gaps after a lone request still idle after 1m30s lasted 4m more; 2% may yet "
     "end within 15m (a restart's risk, Laplace); expected saving $1.20"),
    ("short-gaps-keep", run(SHORT, SHORT_LAST, 1.5), ActionKind.NONE, "keep_warm",
     "keep warm until 2026-03-02T03:39+00:00: 100% of the last 36 gaps after 5-19 requests in an hour, on weekdays "
     "00:00-06:00 still idle after 1m30s ended within 9m; expected saving $0.22 over stopping now"),
    ("max-keep", run(SHORT, SHORT_LAST, 121), ActionKind.SCALE_TO_ZERO, "keepalive_stop",
     "stop now: idle for 2h1m, the longest it is kept warm (max_keep 2h)"),
    ("no-price", run(LONG, LONG_LAST, 1.5, price=None), ActionKind.SCALE_TO_ZERO, "keepalive_stop",
     "stop now: 100% of the last 40 gaps after a lone request still idle after 1m30s lasted 4m more; 2% may yet "
     "end within 15m (a restart's risk, Laplace); expected saving 60.0 replica-minutes"),
    ("burst-expected", run(BATCH, BATCH_LAST, 116), ActionKind.NONE, "keep_warm",
     "keep warm until 2026-03-03T02:06+00:00: burst expected at 2026-03-03T02:00+00:00, bursts every 2h "
     "(the last 11 intervals within 6m)"),
    ("prewarm", run(BATCH, BATCH_LAST, 115, state=ZERO), ActionKind.RESUME, "keepalive_prewarm",
     "pre-warm, 5m ahead: next burst expected at 2026-03-03T02:00+00:00, bursts every 2h "
     "(the last 11 intervals within 6m)"),
    ("min-uptime", run(LONG, LONG_LAST, 3, awake_since=at(LONG_LAST, 2), min_uptime=5 * M), ActionKind.SCALE_TO_ZERO,
     "min_uptime", "stop now: 100% of the last 40 gaps after a lone request still idle after 3m lasted 4m more; "
     "2% may yet end within 15m (a restart's risk, Laplace); expected saving $1.17; held back: woke 1m ago "
     "(min_uptime 5m)"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("decision", "action", "code", "reason"), [r[1:] for r in REASONS], ids=[r[0] for r in REASONS]
)
def test_every_decision_states_its_evidence(
    decision: Decision | None, action: ActionKind, code: str, reason: str
) -> None:
    assert decision is not None
    assert (decision.action, decision.code, decision.policy) == (action, code, "keepalive")
    assert decision.reason.startswith(reason)
    assert decision.skipped == (code == "min_uptime")


def test_keeping_warm_names_the_share_of_gaps_that_ended_in_time_and_plans_the_stop() -> None:
    decision = run(SHORT, SHORT_LAST, 1.5)
    assert decision is not None and decision.next_at is not None
    assert decision.next_action == ActionKind.SCALE_TO_ZERO
    assert decision.reason.endswith("still idle after 1m30s ended within 9m; expected saving $0.22 over stopping now")
    assert decision.next_at == at(SHORT_LAST, 9)


def test_thin_history_is_the_break_even_rule_with_a_zero_price_and_never_a_long_timeout() -> None:
    free = AdaptiveKnobs(cold_start_usd=Decimal(0))
    keep = run(None, T0, 1, knobs=free)
    assert keep is not None and keep.next_at == at(T0, 4)  # one billed start-up
    few, last = learned([30] * 7)  # 7 gaps: still thin
    keep = run(few, last, 1, knobs=free)
    assert keep is not None and keep.next_at == at(last, 4) and "only 7 idle gaps seen" in keep.reason
    priced = run(None, T0, 1, knobs=AdaptiveKnobs(cold_start_usd=Decimal("0.1")), price=Decimal("1.2"))
    assert priced is not None and priced.next_at == at(T0, 9)  # 4m + $0.10 at $0.02/min = 5m


@pytest.mark.parametrize(
    ("gaps", "every"),
    [
        ([120] * 5, timedelta(hours=2)),
        ([30, 31, 29, 30], timedelta(minutes=30)),
        ([60, 60.5, 59.5, 60], timedelta(hours=1)),
    ],
)
def test_periodic_bursts_are_found(gaps: list[float], every: timedelta) -> None:
    history, last = learned(gaps)
    period = history.period(LEAD)
    assert period is not None and period.every == every and period.last_burst == last
    assert period.next_after(at(last, 1)) == last + every
    assert period.next_after(last + 3 * every + 10 * M) == last + 4 * every  # a missed burst is skipped


@pytest.mark.parametrize(
    "gaps",
    [[120, 120], [120, 60, 120, 200], [120, 120, 120, 90], [200, 120, 121, 119]],
    ids=["too-few", "irregular", "broken-lately", "three-agree"],  # three agree by chance in random traffic
)
def test_no_period_without_evidence(gaps: list[float]) -> None:
    history, _ = learned(gaps)
    assert history.period(LEAD) is None
    assert next_prewarm(history, T0, LEAD) is None


def test_no_period_when_pre_warming_cannot_pay() -> None:
    history, _ = learned([15, 15, 15, 15])
    assert history.period(LEAD) is not None
    assert history.period(8 * M) is None  # a 15-minute period is not longer than twice an 8-minute start-up


def test_a_pre_warm_happens_once_per_burst_and_is_planned() -> None:
    moment = BATCH_LAST + 2 * 60 * M - LEAD - M
    assert next_prewarm(BATCH, at(BATCH_LAST, 30), LEAD) == (ActionKind.RESUME, moment)
    assert adaptive_decision(KNOBS, BATCH, ZERO, BATCH_LAST, moment - M, lead=LEAD) is None  # too early
    woke = adaptive_decision(KNOBS, BATCH, PAUSED, BATCH_LAST, moment, lead=LEAD)
    assert woke is not None and woke.action == ActionKind.RESUME
    assert adaptive_decision(KNOBS, BATCH, ZERO, BATCH_LAST, moment + M, lead=LEAD, handled_at=moment) is None


def test_the_history_is_bounded_and_incremental() -> None:
    times = requests_after([1.5, 7, 0.2, 45, 3] * 2000)
    whole = GapHistory.from_requests(times)
    assert whole.gaps == RING and whole.requests == len(times)
    assert max(whole.sizes.values()) <= CONTEXT_RING and len(whole.bursts) <= 12
    assert sum(whole.counts) == RING
    one_by_one = GapHistory()
    for moment in times:
        one_by_one.add(moment)
    one_by_one.add(times[0])  # an older request than the last is ignored
    assert (one_by_one.counts, one_by_one.sizes, list(one_by_one.bursts)) == (
        whole.counts,
        whole.sizes,
        list(whole.bursts),
    )


def test_pauses_under_a_minute_are_not_gaps() -> None:
    history, _ = learned([0.5, 0.9, 1.0, 12])
    assert (history.gaps, history.requests) == (2, 5)


def test_decisions_are_deterministic() -> None:
    first, second = (learned([3, 50, 4, 70, 2, 90] * 10)[0] for _ in range(2))
    last = requests_after([3, 50, 4, 70, 2, 90] * 10)[-1]
    for idle in (0.5, 1.5, 3, 6, 12, 30, 61):
        assert run(first, last, idle) == run(second, last, idle)


def test_contexts_are_used_once_they_hold_enough_gaps() -> None:
    # Days: busy 09:00-12:00 with gaps of 2-4 min; nights: one request at 20:00, then a long gap.
    history = GapHistory()
    for day in range(12):  # Monday to the next Friday
        base = T0 + timedelta(days=day)
        busy = requests_after([2, 3, 2, 4, 3] * 12, base + timedelta(hours=9))
        for moment in busy:
            history.add(moment)
        busy_counts, busy_label = history.histogram(busy[-1])
        history.add(base + timedelta(hours=20))
        counts, label = history.histogram(base + timedelta(hours=20))
    assert busy_label == "the last 256 gaps after 20-99 requests in an hour, on weekdays 06:00-12:00"
    assert label == "the last 23 gaps after a lone request"
    # Gaps of under 6 min: nearly all of them after busy hours; after a lone request (the night's, or the first of
    # the morning) the long night gaps weigh in.
    assert sum(busy_counts[:5]) / sum(busy_counts) > 0.95 > 0.8 > sum(counts[:5]) / sum(counts)
    assert describe_context(("time", 0, bucket_of(T0 + timedelta(hours=13)))) == "starting weekdays 12:00-18:00"


def test_the_anchor_stops_early_only_on_good_evidence_and_keeps_later_only_on_cheap_odds() -> None:
    # Exponential-looking gaps (mean ~20 min): nothing says this one will be long, so it is kept to the anchor.
    memoryless, last = learned([2, 5, 9, 14, 20, 27, 35, 48, 4, 12] * 6)
    kept = run(memoryless, last, 6)
    assert kept is not None and kept.code == "keep_warm" and kept.next_at == at(last, 15)
    assert kept.reason.endswith("ended within 15m: too many to stop before scale_to_zero_after")
    # A longer scale_to_zero_after moves the anchor.
    later = run(memoryless, last, 6, reference=30 * M)
    assert later is not None and later.next_at is not None and later.next_at > at(last, 15)
    # Past the anchor: gaps that end within a start-up are kept through (cheaper than a restart), others stopped.
    soon, soon_last = learned([16.5, 17.5, 16.5, 17.5] * 10)
    through = run(soon, soon_last, 15.5)
    assert through is not None and through.code == "keep_warm"
    stopped = run(memoryless, last, 15.5)
    assert stopped is not None and (stopped.action, stopped.code) == (ActionKind.SCALE_TO_ZERO, "keepalive_stop")


def test_a_cap_on_cold_starts_a_day_keeps_warm_longer() -> None:
    assert (run(LONG, LONG_LAST, 1.5) or Decision(ActionKind.NONE, "", "")).action == ActionKind.SCALE_TO_ZERO
    capped = run(LONG, LONG_LAST, 1.5, knobs=AdaptiveKnobs(max_cold_starts_per_day=5))
    assert capped is not None and capped.code == "keep_warm" and "(at most 5 cold starts a day)" in capped.reason


# -- through decide() ---------------------------------------------------------------------------------------------

IDLE = IdlePolicy(scale_to_zero_after=15 * M, pause_after=60 * M, min_uptime=M)
ADAPTIVE = EndpointPolicy("ep", idle=IDLE, keep_alive=KeepAlive.ADAPTIVE)
HOLD = Hold(EndpointRef("ns", "ep"), "budget", "daily budget", T0, until=T0 + timedelta(days=9))


def situation(state: EndpointState, history: GapHistory | None, last: datetime, **extra: object) -> Situation:
    base: dict[str, object] = {
        "activity": Activity(last_request_at=last),
        "awake_since": last - timedelta(hours=3),
        "gaps": history,
        "cold_start": LEAD,
        "price_per_hour": Decimal("1.2"),
    }
    return Situation(state, **{**base, **extra})  # type: ignore[arg-type]


def test_decide_replaces_the_scale_to_zero_stage_and_keeps_the_pause_stage() -> None:
    stop = decide(ADAPTIVE, situation(RUNNING, LONG, LONG_LAST), at(LONG_LAST, 2))
    assert (stop.action, stop.policy) == (ActionKind.SCALE_TO_ZERO, "keepalive")
    keep = decide(ADAPTIVE, situation(RUNNING, SHORT, SHORT_LAST), at(SHORT_LAST, 2))
    assert (keep.action, keep.code) == (ActionKind.NONE, "keep_warm")
    paused = decide(ADAPTIVE, situation(ZERO, LONG, LONG_LAST), at(LONG_LAST, 61))
    assert (paused.action, paused.policy) == (ActionKind.PAUSE, "idle")
    off = decide(replace(ADAPTIVE, keep_alive=KeepAlive.OFF), situation(RUNNING, LONG, LONG_LAST), at(LONG_LAST, 2))
    assert (off.action, off.code) == (ActionKind.NONE, "idle_wait")
    assert EndpointPolicy("ep", keep_alive=True).keep_alive == KeepAlive.ADAPTIVE  # type: ignore[arg-type]


def test_decide_holds_the_pre_warm_under_a_budget_hold_and_plans_it_otherwise() -> None:
    moment = BATCH_LAST + 2 * 60 * M - LEAD - M
    held = decide(ADAPTIVE, situation(PAUSED, BATCH, BATCH_LAST, hold=HOLD), moment)
    assert (held.action, held.code, held.skipped) == (ActionKind.RESUME, "held", True)
    assert held.reason.endswith("; not resumed: hold in force (daily budget)")
    planned = decide(ADAPTIVE, situation(PAUSED, BATCH, BATCH_LAST), at(BATCH_LAST, 30))
    assert (planned.action, planned.next_action, planned.next_at) == (ActionKind.NONE, ActionKind.RESUME, moment)


def test_a_schedule_off_window_leaves_the_endpoint_to_the_idle_policy() -> None:
    schedule = Schedule(tz="UTC", active=(parse_window("Mon-Fri 09:00-17:00"),), on_end=OnEnd.NONE)
    policy = replace(ADAPTIVE, schedule=schedule)
    phase = ScheduleState(False, since=T0, next_change=T0 + timedelta(days=9))
    decision = decide(policy, situation(RUNNING, LONG, LONG_LAST, phase=phase), at(LONG_LAST, 2))
    assert decision.policy == "idle"
    assert REFERENCE == 15 * M


def test_the_pre_warm_of_the_burst_after_is_planned_once_this_ones_moment_has_passed() -> None:
    history, last = learned([13.25] * 8)  # a job every 13m15s: pre-warmed 5 min ahead
    period = history.period(LEAD)
    assert period is not None and period.every == timedelta(minutes=13.25)
    assert next_prewarm(history, at(last, 2), LEAD) == (ActionKind.RESUME, at(last, 8.25))
    assert next_prewarm(history, at(last, 9), LEAD) == (ActionKind.RESUME, at(last, 13.25 + 8.25))


def _plan(decision: Decision | None) -> tuple[ActionKind, str, str, str] | None:
    """What a decision plans: its action, code, planned stop and the kind of its evidence."""
    if decision is None:
        return None
    plan, evidence = decision.reason.split(": ", 1)
    first = evidence.split(" ")[0]
    return decision.action, decision.code, plan, "share" if first.endswith("%") else first


@pytest.mark.parametrize(
    ("history", "last"),
    [
        (SHORT, SHORT_LAST),
        (LONG, LONG_LAST),
        learned([2, 5, 9, 14, 20, 27, 35, 48, 4, 12] * 6),
        learned([16.5, 17.5] * 20),  # periodic: kept to 18 min, until the pre-warm moment of the next burst
    ],
    ids=["short", "long", "memoryless", "just-past-the-anchor"],
)
def test_nothing_changes_before_next_at(history: GapHistory, last: datetime) -> None:
    """``next_at`` of a keep-warm decision is when its plan changes (or the planned stop): a caller that waits for it
    misses nothing, and one that waits a minute longer would."""
    for idle in (1.5, 2.5, 4, 6, 9, 14, 16, 20, 40):
        decision = run(history, last, idle)
        if decision is None or decision.code != "keep_warm":
            continue
        assert decision.next_at is not None
        minute = at(last, idle) + M
        while minute < decision.next_at:
            assert _plan(run(history, last, minutes(minute - last))) == _plan(decision), (idle, minute)
            minute += M / 2
        if decision.next_at.isoformat(timespec="minutes") not in decision.reason:  # replanned before its stop
            assert _plan(run(history, last, minutes(decision.next_at - last))) != _plan(decision)
