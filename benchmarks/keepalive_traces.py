"""Learned keep-alive against fixed idle timeouts on real traffic: the Azure Functions 2019 http functions.

The trace (shared/traces, read in place, never copied) holds 8 hours of one day, per function and minute. An
hour-of-week profile needs history of the same hours on earlier weeks, which the trace does not have, so the
assumption is stated and applied to every policy alike: **the first 4 hours stand for the same clock hours one
week earlier** (learn), and the last 4 hours are replayed (test). The profile learns from one week (an hour is
likely busy when it saw a request), the decisions come from :mod:`epmgr.domain.keepalive` itself.

Each http function is one endpoint; requests are placed at the start of their minute. The replay steps a minute at a
time with a 4 min cold start (billed). Reported per policy, summed over the functions: replica-minutes billed,
cold starts that users hit (a request that found the endpoint asleep or still starting), and requests that waited.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from benchmarks.azure_trace import available, http_function_counts
from epmgr.domain.keepalive import TrafficProfile, keepalive_decision, learn_profile
from epmgr.domain.model import ActionKind, EndpointState
from epmgr.domain.savings import DEFAULT_COLD_START

HALF = 240
TEST_START = datetime(2019, 7, 8, 12, tzinfo=timezone.utc)  # a Monday; the learn half is 2019-07-01 12:00-16:00
COLD = int(DEFAULT_COLD_START.total_seconds() // 60)
MINUTE = timedelta(minutes=1)


@dataclass
class Result:
    """One policy over the test half of every function."""

    replica_minutes: int = 0
    cold_starts_hit: int = 0
    requests_waited: int = 0


def replay(counts: Sequence[int], timeout: int | None, profile: TrafficProfile | None) -> Result:
    """One endpoint over the test minutes: scale to zero ``timeout`` minutes after it was last busy (None: always
    on), with the learned keep-alive on top when a ``profile`` is given."""
    result = Result()
    if timeout is None:
        return Result(replica_minutes=len(counts))
    state = EndpointState.SCALED_TO_ZERO
    running_at = 0  # the minute a start finishes
    idle_from = 0
    handled: datetime | None = None
    waited = False  # a user already waited for the current start
    lead = DEFAULT_COLD_START
    for minute, count in enumerate(counts):
        now = TEST_START + minute * MINUTE
        decision = None if profile is None else keepalive_decision(profile, state, now, lead, handled_at=handled)
        if state == EndpointState.SCALED_TO_ZERO and decision is not None and decision.action == ActionKind.RESUME:
            state, running_at, handled, waited = EndpointState.INITIALIZING, minute + COLD, now, False
        if count:
            if state == EndpointState.SCALED_TO_ZERO:
                state, running_at, waited = EndpointState.INITIALIZING, minute + COLD, False
            if state == EndpointState.INITIALIZING and minute < running_at:
                result.cold_starts_hit += 0 if waited else 1
                result.requests_waited += count
                waited = True
            idle_from = minute
        if state == EndpointState.INITIALIZING and minute >= running_at:
            state, idle_from = EndpointState.RUNNING, max(idle_from, running_at)
        warm = decision is not None and decision.code == "keep_warm"
        if state == EndpointState.RUNNING and minute - idle_from >= timeout and not warm and not count:
            state = EndpointState.SCALED_TO_ZERO
        if state != EndpointState.SCALED_TO_ZERO:
            result.replica_minutes += 1
    return result


def _profile(counts: Sequence[int]) -> TrafficProfile:
    starts = [TEST_START - timedelta(weeks=1) + m * MINUTE for m, count in enumerate(counts) if count]
    return learn_profile(starts, TEST_START, timezone.utc, weeks=1)


POLICIES = ("always_on", "idle_15m", "idle_1h", "learned_15m", "learned_1h", "oracle_15m")


def run() -> dict[str, dict[str, float]] | None:
    """Totals per policy over the http functions; None when the traces are not on this machine."""
    if not available():
        return None
    totals = {name: Result() for name in POLICIES}
    functions = 0
    for counts in http_function_counts():
        functions += 1
        counts = counts[: 2 * HALF]
        learn, test = counts[:HALF], counts[HALF:]
        learned = _profile(learn)
        oracle = learn_profile(
            [TEST_START + m * MINUTE for m, c in enumerate(test) if c], TEST_START + HALF * MINUTE, timezone.utc,
            weeks=1,
        )  # fmt: skip  # an upper bound: learned from the replayed hours themselves
        runs = {
            "always_on": replay(test, None, None),
            "idle_15m": replay(test, 15, None),
            "idle_1h": replay(test, 60, None),
            "learned_15m": replay(test, 15, learned),
            "learned_1h": replay(test, 60, learned),
            "oracle_15m": replay(test, 15, oracle),
        }
        for name, result in runs.items():
            total = totals[name]
            total.replica_minutes += result.replica_minutes
            total.cold_starts_hit += result.cold_starts_hit
            total.requests_waited += result.requests_waited
    out: dict[str, dict[str, float]] = {"functions": {"count": functions}}
    for name, total in totals.items():
        out[name] = {
            "replica_hours": total.replica_minutes / 60,
            "cold_starts_hit": total.cold_starts_hit,
            "requests_waited": total.requests_waited,
        }
    return out


def main() -> None:
    results = run()
    if results is None:
        print("keep-alive on traces: skipped (shared/traces not on this machine)")
        return
    functions = results.pop("functions")["count"]
    print(
        f"learned keep-alive on {functions:.0f} Azure http functions (4 h replayed after 4 h learned, 4 min cold start)"
    )
    for name, figures in results.items():
        print(
            f"  {name:12} {figures['replica_hours']:8.1f} replica-h  {figures['cold_starts_hit']:6.0f} cold starts hit"
            f"  {figures['requests_waited']:9.0f} requests waited"
        )


if __name__ == "__main__":
    main()
