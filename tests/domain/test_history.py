"""domain/history.py and domain/unseen.py: the audit log read into facts, backoff streaks, requests not seen."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from epmgr.domain.decide import Situation, decide
from epmgr.domain.history import AuditFacts, Failing, awake_since, backoff_delay, failing, read_audit
from epmgr.domain.model import (
    ActionKind,
    ActionRecord,
    Activity,
    Actor,
    EndpointRef,
    EndpointState,
    Outcome,
    StateChange,
)
from epmgr.domain.policy import EndpointPolicy, IdlePolicy
from epmgr.domain.unseen import unseen_requests

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)
M = timedelta(minutes=1)
REF = EndpointRef("ns", "ep")
A, R, D, C = ActionKind, Outcome, Actor.DAEMON, Actor.CLI


def entry(minutes_ago: float, action: ActionKind, outcome: Outcome, actor: Actor = D, policy: str = "idle",
          error: str | None = None) -> ActionRecord:  # fmt: skip
    return ActionRecord(REF, action, "why", actor, NOW - minutes_ago * M, outcome, error, policy=policy)


@pytest.mark.parametrize(
    ("entries", "period_start", "facts"),
    [
        ([], NOW, AuditFacts()),
        ([entry(30, A.RESUME, R.OK, policy="schedule"), entry(20, A.PAUSE, R.FAILED, policy="schedule")], NOW,
         AuditFacts(schedule_handled_at=NOW - 30 * M,
                    failing=Failing(A.PAUSE, 1, NOW - 20 * M, None, NOW - 19 * M))),
        ([entry(30, A.RESUME, R.SKIPPED, policy="backoff")], NOW, AuditFacts()),  # a wait never handles an edge
        ([entry(40, A.SCALE_TO_ZERO, R.OK, policy="keepalive"), entry(10, A.RESUME, R.OK, C, policy="")], NOW,
         AuditFacts(keepalive_handled_at=NOW - 40 * M, manual_at=NOW - 10 * M)),
        ([entry(10, A.RESUME, R.FAILED, C, policy="")], NOW, AuditFacts()),  # a failed manual action is no action
        ([entry(60, A.PAUSE, R.OK, policy="budget"), entry(30, A.RESUME, R.OK, C, policy="")], NOW - 120 * M,
         AuditFacts(manual_at=NOW - 30 * M, budget_overridden=True)),
        ([entry(60, A.PAUSE, R.OK, policy="budget"), entry(30, A.RESUME, R.OK, C, policy="")], NOW - 50 * M,
         AuditFacts(manual_at=NOW - 30 * M)),  # the budget acted in an earlier period: no override now
        ([entry(99, A.CREATE, R.OK, C, policy="")], NOW, AuditFacts(created_by_epmgr=True)),
        ([entry(99, A.CREATE, R.FAILED, C, policy="")], NOW, AuditFacts()),
    ],
    ids=["nothing", "schedule-then-failure", "backoff-wait", "keepalive-and-manual", "failed-manual",
         "override", "override-of-a-past-period", "created", "create-failed"],
)  # fmt: skip
def test_read_audit(entries: list[ActionRecord], period_start: datetime, facts: AuditFacts) -> None:
    assert read_audit(entries, budget_period_start=period_start) == facts


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        ([entry(5, A.RESUME, R.FAILED)], (A.RESUME, 1, NOW - 4 * M)),
        ([entry(9, A.RESUME, R.FAILED), entry(8, A.RESUME, R.SKIPPED), entry(7, A.RESUME, R.FAILED)],
         (A.RESUME, 2, NOW - 5 * M)),  # a skip is not a try
        ([entry(9, A.RESUME, R.FAILED), entry(7, A.RESUME, R.OK)], None),
        ([entry(9, A.PAUSE, R.FAILED), entry(7, A.RESUME, R.FAILED)], (A.RESUME, 1, NOW - 6 * M)),
        ([entry(7, A.RESUME, R.FAILED), entry(6, A.WARN, R.OK), entry(5, A.RESUME, R.FAILED, C)],
         (A.RESUME, 1, NOW - 6 * M)),  # warnings and a person's failures are not the daemon's tries
    ],
    ids=["one", "two-with-a-skip", "recovered", "another-kind", "warn-and-cli"],
)  # fmt: skip
def test_failing_streaks(entries: list[ActionRecord], expected: tuple[ActionKind, int, datetime] | None) -> None:
    found = failing(entries)
    assert (None if found is None else (found.action, found.failures, found.until)) == expected


def test_backoff_doubles_up_to_its_cap() -> None:
    assert [backoff_delay(n) for n in (0, 1, 2, 3, 5, 6, 50)] == [
        timedelta(0), M, 2 * M, 4 * M, 16 * M, 30 * M, 30 * M,
    ]  # fmt: skip


def test_decide_backs_off_a_failed_action_and_tries_again_when_the_wait_ends() -> None:
    policy = EndpointPolicy(name="ep", idle=IdlePolicy(scale_to_zero_after=15 * M, pause_after=None))
    quiet = Activity(last_request_at=NOW - 20 * M)
    streak = Failing(A.SCALE_TO_ZERO, 2, NOW - M, "503", NOW + M)
    held = decide(
        policy, Situation(EndpointState.RUNNING, activity=quiet, awake_since=NOW - 60 * M, failing=streak), NOW
    )
    assert (held.action, held.skipped, held.code, held.policy) == (A.SCALE_TO_ZERO, True, "backoff", "backoff")
    assert "backing off until 2026-03-02 12:01:00Z after 2 failed scale_to_zero(s): 503" in held.reason
    assert (held.next_action, held.next_at) == (A.SCALE_TO_ZERO, NOW + M)
    again = decide(policy, Situation(EndpointState.RUNNING, activity=quiet, awake_since=NOW - 60 * M, failing=streak),
                   NOW + M)  # fmt: skip
    assert again.acts and again.code == "idle"
    other = Failing(A.RESUME, 2, NOW - M, "quota", NOW + M)  # a streak of another action holds nothing back
    assert decide(policy, Situation(EndpointState.RUNNING, activity=quiet, awake_since=NOW - 60 * M, failing=other),
                  NOW).acts  # fmt: skip


@pytest.mark.parametrize(
    ("state", "idle_min", "shared", "action", "code"),
    [
        (EndpointState.RUNNING, 20, False, A.SCALE_TO_ZERO, "idle"),
        (EndpointState.RUNNING, 90, False, A.PAUSE, "idle"),
        (EndpointState.RUNNING, 90, True, A.SCALE_TO_ZERO, "idle"),  # shared: scaled to zero, never paused
        (EndpointState.SCALED_TO_ZERO, 90, False, A.PAUSE, "idle"),
        (EndpointState.SCALED_TO_ZERO, 900, True, A.NONE, "shared"),
        (EndpointState.RUNNING, 5, True, A.NONE, "idle_wait"),
    ],
)
def test_shared_traffic_is_never_paused_for_idleness(
    state: EndpointState, idle_min: float, shared: bool, action: ActionKind, code: str
) -> None:
    policy = EndpointPolicy(name="ep", idle=IdlePolicy(scale_to_zero_after=15 * M, pause_after=60 * M))
    s = Situation(
        state, activity=Activity(last_request_at=NOW - idle_min * M), awake_since=NOW - 999 * M, shared=shared
    )
    decision = decide(policy, s, NOW)
    assert (decision.action, decision.code) == (action, code)
    if shared and action == A.NONE:
        assert "never paused for idleness" in decision.reason


def _change(minutes_ago: float, state: EndpointState) -> StateChange:
    return StateChange(REF, None, state, NOW - minutes_ago * M)


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        ([], None),
        ([(90, EndpointState.RUNNING)], 90),
        ([(90, EndpointState.RUNNING), (60, EndpointState.SCALED_TO_ZERO), (30, EndpointState.INITIALIZING),
          (28, EndpointState.RUNNING)], 30),
        ([(90, EndpointState.RUNNING), (60, EndpointState.UNKNOWN), (30, EndpointState.RUNNING)], 90),
        ([(90, EndpointState.PAUSED)], None),
    ],
    ids=["none", "first-seen-up", "woke", "a-gap-is-not-a-wake", "asleep"],
)  # fmt: skip
def test_awake_since(states: list[tuple[float, EndpointState]], expected: float | None) -> None:
    found = awake_since([_change(ago, state) for ago, state in states])
    assert found == (None if expected is None else NOW - expected * M)


T = NOW - 10 * M


@pytest.mark.parametrize(
    ("counts", "recorded", "expected"),
    [
        ([0, 3, 1], [1, 1, 1, 2], []),  # all seen
        ([0, 3, 1], [1], [1, 1, 2]),  # three not seen: two in the second step, one in the third
        ([2, 0, 0], [0.99, 1.01], [0]),  # a ledger stamp later than the server's (a client stamps first): one phantom
        ([0, 1, 0], [0.5], []),  # stamped a step early (near the edge): the running totals absorb it
        ([5], [], [0, 0, 0, 0, 0]),
    ],
    ids=["seen", "unseen", "late-stamp", "early-stamp", "all-unseen"],
)
def test_unseen_requests(counts: list[int], recorded: list[float], expected: list[int]) -> None:
    steps = [(T + i * M, n) for i, n in enumerate(counts)]
    found = unseen_requests(steps, [T + r * M for r in recorded], M, NOW)
    assert found == [T + (i + 1) * M - timedelta(microseconds=1) for i in expected]
