"""Learned keep-alive: when does this endpoint's traffic come, and how long does it take to wake?

Two pure estimates from the ledger's history, passed in with ``now``:

- :func:`cold_start_estimate`: the endpoint's measured cold start (median of the recent ones), the lead time of every
  pre-warm (a schedule's ``prewarm = "auto"`` and the learned keep-alive).
- :func:`learn_profile`: an hour-of-week profile, in the endpoint's time zone, of the weeks in which each hour saw at
  least one request. An hour is *likely busy* when it saw traffic in at least half of the weeks looked at.

:func:`keepalive_decision` turns the profile into an action: resume one cold start before a busy stretch (so the
first request finds it running), keep it warm through busy hours (no idle scale to zero or pause), and leave the idle
policy alone the rest of the time. Every reason names the evidence: "traffic seen in 3 of the last 4 Mondays
09:00-10:00".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo

from epmgr.domain.durations import format_duration
from epmgr.domain.model import ActionKind, EndpointState, StateChange
from epmgr.domain.policies import Decision

WEEK = timedelta(days=7)
HOUR = timedelta(hours=1)
DEFAULT_WEEKS = 4
DEFAULT_COLD_START = timedelta(minutes=5)
"""The lead when no cold start was measured yet (HF: "usually takes about 3-5 minutes")."""
MAX_COLD_START = timedelta(minutes=30)
"""A measured cold start is capped here (a stuck start or a long unobserved gap is not a cold start)."""
RECENT_COLD_STARTS = 5
_DAY_NAMES = ("Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays")
_ASLEEP = frozenset({EndpointState.PAUSED, EndpointState.SCALED_TO_ZERO})
_STARTING = frozenset({EndpointState.PENDING, EndpointState.INITIALIZING, EndpointState.UPDATING})


# -- cold start ---------------------------------------------------------------------------------------------------


def cold_starts(changes: Iterable[StateChange]) -> list[timedelta]:
    """Every measured cold start, oldest first: from leaving paused or scaled to zero (to pending or initializing)
    to the next ``running``.

    A jump straight from asleep to running (not observed in between) or a gap in observation (``unknown``) gives no
    sample. Samples are as fine as the observation: a tick interval can add up to one interval.
    """
    samples: list[timedelta] = []
    started: datetime | None = None
    last: EndpointState | None = None
    for change in changes:
        state = change.to_state
        if state == EndpointState.RUNNING and started is not None:
            samples.append(change.observed_at - started)
            started = None
        elif state in _STARTING and last in _ASLEEP:
            started = change.observed_at
        elif state not in _STARTING:
            started = None
        last = state
    return samples


def cold_start_estimate(
    changes: Iterable[StateChange],
    *,
    recent: int = RECENT_COLD_STARTS,
    default: timedelta = DEFAULT_COLD_START,
    cap: timedelta = MAX_COLD_START,
) -> timedelta:
    """The median of the ``recent`` last measured cold starts, capped at ``cap``; ``default`` when none.

    Example:
        >>> cold_start_estimate([])
        datetime.timedelta(seconds=300)
    """
    samples = sorted(cold_starts(changes)[-recent:])
    if not samples:
        return default
    middle = len(samples) // 2
    median = samples[middle] if len(samples) % 2 else (samples[middle - 1] + samples[middle]) / 2
    return min(median, cap)


# -- traffic profile ----------------------------------------------------------------------------------------------


def slot_of(at: datetime, tz: tzinfo) -> int:
    """The hour of the week of ``at`` in ``tz``: 0 is Monday 00:00-01:00, 167 is Sunday 23:00-24:00."""
    local = at.astimezone(tz)
    return local.weekday() * 24 + local.hour


def _hour_start(at: datetime, tz: tzinfo) -> datetime:
    """The start of ``at``'s local hour, in UTC."""
    local = at.astimezone(tz)
    return local.replace(minute=0, second=0, microsecond=0).astimezone(timezone.utc)


def describe_slot(slot: int) -> str:
    day, hour = divmod(slot, 24)
    return f"{_DAY_NAMES[day]} {hour:02d}:00-{(hour + 1) % 24:02d}:00"


@dataclass(frozen=True)
class TrafficProfile:
    """In how many of the last ``weeks`` weeks each local hour of the week saw at least one request.

    Attributes:
        tz: The time zone of the hours (the endpoint's schedule zone, else UTC).
        weeks: How many weeks of history were looked at (fewer for a young endpoint).
        seen: Hour of the week (see :func:`slot_of`) -> number of those weeks with traffic in it.
        min_weeks: An hour is likely busy when ``seen`` reaches this.
    """

    tz: tzinfo
    weeks: int
    seen: Mapping[int, int]
    min_weeks: int

    def likely(self, at: datetime) -> bool:
        """Is traffic likely in the hour of ``at``?"""
        return self.seen.get(slot_of(at, self.tz), 0) >= self.min_weeks

    def evidence(self, at: datetime) -> str:
        """``"traffic seen in 3 of the last 4 Mondays 09:00-10:00"`` for the hour of ``at``."""
        slot = slot_of(at, self.tz)
        return f"traffic seen in {self.seen.get(slot, 0)} of the last {self.weeks} {describe_slot(slot)}"

    def busy_from(self, at: datetime) -> datetime:
        """The start (UTC) of the busy stretch of consecutive likely hours that the hour of ``at`` belongs to."""
        start = _hour_start(at, self.tz)
        for _ in range(7 * 24):
            if not self.likely(start - HOUR):
                break
            start -= HOUR
        return start

    def busy_until(self, at: datetime) -> datetime:
        """The end (UTC) of the busy stretch that the hour of ``at`` belongs to."""
        end = _hour_start(at, self.tz) + HOUR
        for _ in range(7 * 24):
            if not self.likely(end):
                break
            end += HOUR
        return end

    def next_busy(self, now: datetime) -> datetime | None:
        """The start (UTC) of the next likely hour after the hour of ``now``, within a week; None if there is none."""
        start = _hour_start(now, self.tz) + HOUR
        for _ in range(7 * 24):
            if self.likely(start):
                return start
            start += HOUR
        return None


def learn_profile(
    starts: Iterable[datetime],
    now: datetime,
    tz: tzinfo,
    *,
    weeks: int = DEFAULT_WEEKS,
    known_since: datetime | None = None,
    min_share: float = 0.5,
) -> TrafficProfile:
    """The hour-of-week profile of request start times in the ``weeks`` weeks before ``now``.

    Args:
        starts: Request start times (aware; any order). Those outside the look-back are ignored.
        now: The end of the look-back.
        tz: The zone whose local hours are counted (DST-safe: each request falls in its local hour).
        weeks: How many weeks to look back.
        known_since: Since when the endpoint's traffic is known (e.g. first seen): a young endpoint is judged on the
            weeks it has (one week: an hour seen once is likely).
        min_share: The share of weeks an hour must have seen traffic in to count as likely busy.

    Example:
        >>> now = datetime(2026, 3, 30, tzinfo=timezone.utc)
        >>> mondays = [now - WEEK * k + timedelta(hours=9, minutes=5) for k in (1, 2, 3)]
        >>> learn_profile(mondays, now, timezone.utc).evidence(mondays[0])
        'traffic seen in 3 of the last 4 Mondays 09:00-10:00'
    """
    observed = weeks
    if known_since is not None:
        observed = max(1, min(weeks, math.ceil((now - known_since) / WEEK)))
    since = now - observed * WEEK
    weeks_seen: dict[int, set[int]] = {}
    for start in starts:
        if since <= start < now:
            weeks_seen.setdefault(slot_of(start, tz), set()).add(int((now - start) // WEEK))
    seen = {slot: len(found) for slot, found in weeks_seen.items()}
    return TrafficProfile(tz, observed, seen, max(1, math.ceil(min_share * observed)))


# -- the decision -------------------------------------------------------------------------------------------------


def keepalive_decision(
    profile: TrafficProfile,
    state: EndpointState,
    now: datetime,
    lead: timedelta,
    *,
    handled_at: datetime | None = None,
) -> Decision | None:
    """What the learned profile wants now; None when it has nothing to say (the idle policy applies).

    - **Pre-warm:** asleep (paused or scaled to zero) when a busy stretch starts within ``lead`` or is under way:
      resume, once per stretch (``handled_at``: the last keep-alive action or a person's action, at or after the
      stretch's pre-warm moment, means it was handled, e.g. a person paused it on purpose).
    - **Keep warm:** up (or scaled to zero) in a busy hour, or one starting within ``lead``: no idle action.
    - Otherwise None (see :func:`next_prewarm` for the next one).
    """
    busy_at = now if profile.likely(now) else (now + lead if profile.likely(now + lead) else None)
    if busy_at is not None:
        stretch = profile.busy_from(busy_at)
        until = profile.busy_until(busy_at)
        evidence = profile.evidence(busy_at)
        handled = handled_at is not None and handled_at >= stretch - lead
        if state in _ASLEEP and not handled:
            early = f", {format_duration(lead)} ahead" if stretch > now else ""
            return Decision(ActionKind.RESUME, "keepalive", f"pre-warm{early}: {evidence}", "keepalive_prewarm")
        if state in (EndpointState.RUNNING, EndpointState.SCALED_TO_ZERO):
            return Decision(
                ActionKind.NONE, "keepalive", f"kept warm until {until.isoformat(timespec='minutes')}: {evidence}",
                "keep_warm",
            )  # fmt: skip
        return None
    return None


def next_prewarm(profile: TrafficProfile, now: datetime, lead: timedelta) -> tuple[ActionKind, datetime] | None:
    """The next planned pre-warm (one ``lead`` before the next likely hour), for ``epmgr status``."""
    upcoming = profile.next_busy(now)
    return None if upcoming is None else (ActionKind.RESUME, upcoming - lead)
