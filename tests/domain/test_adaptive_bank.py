"""The cold-start bank: early stops are paid from cold starts saved against ``scale_to_zero_after`` alone."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from epmgr.domain.adaptive import REFERENCE, GapHistory, adaptive_decision
from epmgr.domain.bank import CREDIT
from epmgr.domain.model import ActionKind, EndpointState
from epmgr.domain.policy import AdaptiveKnobs
from epmgr.domain.rules import Decision
from epmgr.simulate.engine import Params, simulate
from epmgr.simulate.specs import parse
from epmgr.simulate.traffic import bursts

T0 = datetime(2026, 3, 2, tzinfo=timezone.utc)
M = timedelta(minutes=1)
LEAD = 4 * M
KNOBS = AdaptiveKnobs()


def decide_at(history: GapHistory, last: datetime, idle: float, knobs: AdaptiveKnobs = KNOBS) -> Decision | None:
    return adaptive_decision(
        knobs, history, EndpointState.RUNNING, last, last + idle * M, lead=LEAD, price_per_hour=Decimal(1),
        reference=REFERENCE,
    )  # fmt: skip


def judged(gaps: list[float], knobs: AdaptiveKnobs = KNOBS) -> tuple[GapHistory, datetime]:
    """A history whose gaps are judged by the keep-alive's rule from the first request on (as the daemon's are)."""
    history, last = GapHistory(), T0
    history.add(last)
    decide_at(history, last, 0, knobs)  # the first decision sets the rule the bank replays
    for gap in gaps:
        last += gap * M
        history.add(last)
    return history, last


def test_an_early_stop_followed_by_a_request_spends_the_credit_and_the_next_one_waits_for_the_timeout() -> None:
    history, last = judged([61.0, 73, 95, 180, 66] * 8)  # 40 gaps over an hour: stopped at once, rightly
    assert (history.bank.saved, history.bank.spent) == (0, 0)
    early = decide_at(history, last, 2)
    assert early is not None and early.action == ActionKind.SCALE_TO_ZERO
    last += 5 * M  # a request 5 minutes in: the timeout alone would have been warm
    history.add(last)
    assert (history.bank.spent, history.bank.balance) == (1, CREDIT - 1)
    held = decide_at(history, last, 2)
    assert held is not None and held.action == ActionKind.NONE and held.next_at == last + REFERENCE
    assert "early stop held back: 0 cold starts banked (0 saved, 1 spent, 1 on credit)" in held.reason
    assert held.reason.split("(else: stop now: ")[1]  # what it would have done is named
    later = decide_at(history, last, REFERENCE / M)  # at the timeout the stop is no longer early
    assert later is not None and later.action == ActionKind.SCALE_TO_ZERO


def test_a_priced_cold_start_is_the_users_choice_and_no_bank_holds_it() -> None:
    knobs = AdaptiveKnobs(cold_start_usd=Decimal("0.1"))
    history, last = judged([61.0, 73, 95, 180, 66] * 8 + [5], knobs)
    assert history.bank.judge is None
    stop = decide_at(history, last, 2, knobs)
    assert stop is not None and stop.action == ActionKind.SCALE_TO_ZERO


def test_pre_warmed_bursts_are_cold_starts_saved() -> None:
    history, _ = judged([120.0] * 12)  # a job every 2 hours: pre-warmed once the period is seen
    assert history.bank.saved >= 6 and history.bank.spent == 0


def test_the_simulated_keep_alive_never_has_more_cold_starts_than_the_timeout_and_the_credit() -> None:
    params = Params(price_per_hour=1.0, startup=240.0, latency=240.0, tick=60.0)
    timeout, policy = parse("fixed:15m").policy, parse("adaptive").policy
    assert timeout is not None and policy is not None
    held = 0
    for seed in (3, 11, 13):  # bursts that paid a cold start more than fixed:15m without the bank
        stream = bursts(seed, 14)
        fixed = simulate(timeout, stream, params)
        adaptive = simulate(policy, stream, params, keep=True, every_decision=True)
        assert adaptive.cold_starts <= fixed.cold_starts + CREDIT
        assert adaptive.billed_minutes < fixed.billed_minutes
        held += sum("early stop held back" in decision.reason for _, decision in adaptive.actions)
    assert held
