"""The simulated endpoint: the production ``decide()`` driven on a simulated clock over a stream of requests.

Nothing here decides: every tick the engine builds the :class:`~epmgr.domain.decide.Situation` the daemon would
build (state, activity, when it came up, the schedule phase, the audit's handled-at moments, budgets from the
simulated spend, holds, the learned gaps) and calls :func:`epmgr.domain.decide.decide`; then it applies the decision.

The endpoint, as modelled:

- It is up when the first request comes (pre-warmed once; the start-up billed, not a cold start).
- A start (a pre-warm, a resume, or a request finding it scaled to zero or paused) lasts ``latency`` before it serves,
  and is billed as ``startup`` (:mod:`epmgr.simulate.billing`). A request that finds it asleep starts a start and
  waits ``latency`` (paused: epmgr's client resumes it, which the daemon sees as a person's resume); one that finds it
  starting waits for the rest of the start. A budget's hold refuses requests instead.
- Requests take no time (none is in flight at a tick).

Decisions are taken on the daemon's ticks (multiples of ``tick`` since the epoch). Stepping visits every tick;
event-driven stepping (the default) jumps to the first tick at or after the next request, the end of a start or the
decision's ``next_at`` (at most an hour ahead) and gives the same result (a test holds both to it). Budgets need the
spend at every tick, so a policy with one is always stepped. The adaptive keep-alive's ``next_at`` is the first moment
its plan may change (see :func:`epmgr.domain.adaptive.adaptive_decision`), or its next planned pre-warm.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from epmgr.cron import prewarmed as prewarmed_phase
from epmgr.domain.adaptive import GapHistory
from epmgr.domain.decide import Situation, decide
from epmgr.domain.model import ActionKind, Activity, EndpointRef, EndpointState, Hold
from epmgr.domain.policy import EndpointPolicy, KeepAlive
from epmgr.domain.rules import BudgetCheck, Decision, check_budget, day_start, month_start
from epmgr.gather import AUDIT_LOOKBACK
from epmgr.simulate.billing import Run, Stretch
from epmgr.simulate.traces import Stream

MAX_SKIP = 3600.0
"""Event-driven stepping looks at least once an hour, whatever the decision says."""
_LOOKBACK = AUDIT_LOOKBACK.total_seconds()
_ASLEEP = (EndpointState.SCALED_TO_ZERO, EndpointState.PAUSED)


@dataclass(frozen=True)
class Params:
    """How the simulated endpoint behaves and is billed.

    Attributes:
        price_per_hour: US dollars per replica-hour.
        startup: Billed length of a start, in seconds.
        latency: How long a start takes before it serves (what a request waits), in seconds.
        tick: The daemon's tick interval, in seconds.
        stepping: Visit every tick instead of jumping from event to event.
    """

    price_per_hour: float = 1.0
    startup: float = 240.0
    latency: float = 240.0
    tick: float = 60.0
    stepping: bool = False


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)


class _Endpoint:
    """One simulated endpoint under one policy: its state, its audit-derived moments and its billing."""

    def __init__(self, policy: EndpointPolicy, stream: Stream, params: Params, run: Run, keep: bool) -> None:
        self.policy, self.stream, self.params, self.run, self.keep = policy, stream, params, run, keep
        self.every_decision = False
        self.ref = EndpointRef(policy.namespace or "sim", policy.name)
        first = stream.times[0]
        self.state = EndpointState.RUNNING
        self.start = first - params.latency  # the open stretch's start and when it serves
        self.running_at = first
        self.awake_since = self.start
        self.stretches: list[Stretch] = []
        self.last_request: float | None = None
        self.next_index = 0
        self.hit = False  # a request waited for the current start
        self.schedule_handled: float | None = None
        self.keepalive_handled: float | None = None
        self.manual: float | None = None
        self.hold_until: float | None = None
        self.hold_reason = ""
        self.gaps = _gap_history(policy)
        self.price = Decimal(str(params.price_per_hour))

    # -- the endpoint --------------------------------------------------------------------------------------------

    def _begin(self, at: float) -> None:
        self.state = EndpointState.INITIALIZING
        self.start, self.running_at, self.awake_since, self.hit = at, at + self.params.latency, at, False

    def _stop(self, at: float, state: EndpointState) -> None:
        if self.state not in _ASLEEP:
            self.stretches.append(Stretch(self.start, self.running_at, at))
        self.state = state

    def _settle(self, at: float) -> None:
        if self.state == EndpointState.INITIALIZING and self.running_at <= at:
            self.state = EndpointState.RUNNING

    def _request(self, at: float) -> None:
        self._settle(at)
        run = self.run
        if self.state in _ASLEEP:
            if self.hold_until is not None and at < self.hold_until:
                run.refused += 1
                return
            if self.state == EndpointState.PAUSED:
                self.manual = at  # epmgr's client resumes it (audited as the client's resume)
            self._begin(at)
        if self.state == EndpointState.INITIALIZING:
            run.waits.append(self.running_at - at)
            if not self.hit:
                run.cold_starts += 1
                self.hit = True
        self.last_request = at
        if self.gaps is not None:
            self.gaps.add(_utc(at))

    def advance(self, until: float) -> None:
        """Serve every request up to and including ``until``."""
        times, index = self.stream.times, self.next_index
        count = len(times)
        while index < count and times[index] <= until:
            self._settle(times[index])
            if self.state == EndpointState.RUNNING:  # the fast path: every request up to ``until`` is served at once
                stop = bisect_right(times, until, index)
                if self.gaps is not None:
                    self.gaps.extend(times[index:stop])
                self.last_request = times[stop - 1]
                index = stop
                break
            self._request(times[index])
            index += 1
        self.run.requests += index - self.next_index
        self.next_index = index
        self._settle(until)

    # -- the decision ------------------------------------------------------------------------------------------------

    def situation(self, at: float) -> Situation:
        now = _utc(at)
        policy, params = self.policy, self.params
        recent = self.next_index - bisect_right(self.stream.times, at - 3600.0, 0, self.next_index)
        activity = Activity(
            last_request_at=None if self.last_request is None else _utc(self.last_request),
            requests_last_hour=recent,
        )
        cold_start = timedelta(seconds=params.latency)
        phase = None
        if policy.schedule is not None and policy.acts:
            phase = prewarmed_phase(policy.schedule, now, cold_start)
        hold = None
        if self.hold_until is not None and at < self.hold_until:
            hold = Hold(self.ref, "budget", self.hold_reason, now, until=_utc(self.hold_until))
        return Situation(
            state=self.state,
            activity=activity,
            awake_since=_utc(self.awake_since),
            phase=phase,
            schedule_handled_at=self._audited(self.schedule_handled, at),
            manual_at=self._audited(self.manual, at),
            budgets=self._budgets(at, now),
            hold=hold,
            cold_start=cold_start,
            keepalive_handled_at=self._audited(self.keepalive_handled, at),
            gaps=self.gaps,
            price_per_hour=policy.price_per_hour or self.price,
        )

    @staticmethod
    def _audited(moment: float | None, at: float) -> datetime | None:
        """The daemon reads the audit log back :data:`AUDIT_LOOKBACK`; older moments are forgotten."""
        return None if moment is None or at - moment > _LOOKBACK else _utc(moment)

    def _budgets(self, at: float, now: datetime) -> tuple[BudgetCheck, ...]:
        budget = self.policy.budget
        if budget is None:
            return ()
        today = self.spend(day_start(now).timestamp(), at)
        month = self.spend(month_start(now).timestamp(), at)
        check = check_budget(budget, today, month, now)
        return () if check is None else (check,)

    def spend(self, since: float, at: float) -> Decimal:
        """Dollars of awake time in ``[since, at)`` (wall-clock, for budgets; the bill itself is per stretch)."""
        awake = list(self.stretches)
        if self.state not in _ASLEEP:
            awake.append(Stretch(self.start, self.running_at, at))
        seconds = sum(max(0.0, min(s.end, at) - max(s.start, since)) for s in awake)
        return self.price * Decimal(str(round(seconds, 3))) / Decimal(3600)

    def apply(self, decision: Decision, at: float) -> None:
        """Act as the daemon would: the audit moments, then the state change."""
        if decision.policy == "schedule" and (decision.acts or decision.skipped):
            self.schedule_handled = at
        if decision.policy == "keepalive" and (decision.acts or decision.skipped):
            self.keepalive_handled = at
        if not decision.acts:
            return
        if self.keep and not self.every_decision:
            self.run.actions.append((at, decision))
        if decision.hold_until is not None:
            self.hold_until, self.hold_reason = decision.hold_until.timestamp(), decision.reason
        if decision.action in (ActionKind.SCALE_TO_ZERO, ActionKind.PAUSE):
            target = EndpointState.PAUSED if decision.action == ActionKind.PAUSE else EndpointState.SCALED_TO_ZERO
            self._stop(at, target)
        elif decision.action == ActionKind.RESUME and self.state in _ASLEEP:
            self._begin(at)

    def next_look(self, decision: Decision, at: float) -> float:
        """The next moment the decision may change: the next request, the end of a start, ``next_at``."""
        candidates = [at + MAX_SKIP]
        if decision.acts or decision.skipped:
            candidates.append(at)
        if self.next_index < len(self.stream.times):
            candidates.append(self.stream.times[self.next_index])
        if self.state == EndpointState.INITIALIZING:
            candidates.append(self.running_at)
        if decision.next_at is not None:
            candidates.append(decision.next_at.timestamp())
        return min(candidates)


def _gap_history(policy: EndpointPolicy) -> GapHistory | None:
    """The learned gaps the adaptive keep-alive reads (in the schedule's zone, as the daemon keeps them)."""
    if policy.keep_alive != KeepAlive.ADAPTIVE:
        return None
    return GapHistory(ZoneInfo(policy.schedule.tz) if policy.schedule is not None else timezone.utc)


def simulate(
    policy: EndpointPolicy,
    stream: Stream,
    params: Params,
    *,
    label: str = "",
    keep: bool = False,
    every_decision: bool = False,
) -> Run:
    """Replay ``stream`` through ``decide()`` under ``policy``.

    ``keep`` records the stretches and the decisions that acted in the run; with ``every_decision`` it records every
    decision taken instead (to compare with the daemon's).
    """
    run = Run(label or policy.name)
    if not stream.times:
        return run
    endpoint = _Endpoint(policy, stream, params, run, keep)
    endpoint.every_decision = every_decision
    tick = params.tick
    every = params.stepping or policy.budget is not None
    at = math.ceil(stream.times[0] / tick) * tick
    end = stream.end
    while at <= end:
        endpoint.advance(at)
        decision = decide(policy, endpoint.situation(at), _utc(at))
        run.decisions += 1
        if every_decision and keep:
            run.actions.append((at, decision))
        endpoint.apply(decision, at)
        if every:
            at += tick
        else:
            at = max(at + tick, math.ceil(endpoint.next_look(decision, at) / tick) * tick)
    endpoint.advance(end)
    if endpoint.state not in _ASLEEP:
        endpoint._stop(max(end, endpoint.running_at), EndpointState.SCALED_TO_ZERO)
    run.bill(endpoint.stretches, params.startup, keep=keep)
    return run
