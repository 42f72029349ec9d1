"""Schedules: active windows such as "Mon-Fri 08:00-19:00" and start/stop triggers, evaluated at an instant.

The one place schedules are evaluated. Windows are expanded here; cron expressions arrive as :class:`Trigger`
objects (``next_fire(prev, now)``, as APScheduler's triggers; :mod:`epmgr.cron` builds them), so this stays pure.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

if TYPE_CHECKING:  # policy.py imports Window from here
    from epmgr.domain.policy import Schedule

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
EXPECTED_WINDOW = 'a window such as "Mon-Fri 08:00-19:00" or "Sat 10:00-14:00"'

_WINDOW = re.compile(r"^\s*(?P<days>[A-Za-z,\- ]+?)\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})\s*$")


@dataclass(frozen=True)
class Window:
    """Active on ``days`` (0 = Monday) from ``start`` until ``end`` local time.

    An ``end`` at or before ``start`` means the window runs past midnight into the next day; ``24:00`` is
    written as ``end = time(0, 0)``.
    """

    days: frozenset[int]
    start: time
    end: time
    text: str = ""

    @property
    def overnight(self) -> bool:
        return self.end <= self.start


def _parse_time(text: str, *, allow_24: bool) -> time:
    hours, minutes = (int(part) for part in text.split(":"))
    if allow_24 and (hours, minutes) == (24, 0):
        return time(0, 0)
    if not (0 <= hours <= 23 and 0 <= minutes <= 59):
        raise ValueError(f"{text!r} is not a time of day (00:00 to 23:59)")
    return time(hours, minutes)


def _parse_days(text: str) -> frozenset[int]:
    days: set[int] = set()
    for part in (piece.strip().lower() for piece in text.split(",")):
        if not part:
            continue
        first, _, last = (piece.strip()[:3] for piece in part.partition("-"))
        if first not in DAYS or (last and last not in DAYS):
            raise ValueError(f"unknown day in {text.strip()!r}; use Mon, Tue, Wed, Thu, Fri, Sat, Sun")
        start = DAYS.index(first)
        stop = DAYS.index(last) if last else start
        index = start
        while True:  # ranges may wrap around the week: "Fri-Mon"
            days.add(index)
            if index == stop:
                break
            index = (index + 1) % 7
    if not days:
        raise ValueError("no days given")
    return frozenset(days)


def parse_window(text: str) -> Window:
    """Parse one active window.

    Raises:
        ValueError: The text is not of the form ``DAYS HH:MM-HH:MM``.

    Example:
        >>> parse_window("Mon-Fri 08:00-19:00").days == frozenset(range(5))
        True
    """
    match = _WINDOW.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"expected {EXPECTED_WINDOW}, got {text!r}")
    start = _parse_time(match["start"], allow_24=False)
    end = _parse_time(match["end"], allow_24=True)
    if start == end:
        raise ValueError(f"window {text!r} starts and ends at the same time")
    return Window(days=_parse_days(match["days"]), start=start, end=end, text=text.strip())


@dataclass(frozen=True)
class ScheduleState:
    """Where a schedule stands at one instant (all times aware UTC).

    Attributes:
        active: True inside an active window.
        since: The edge that started the current phase (the last window start if active, else the last window
            end), or None when there was none in the look-back.
        next_change: The next edge, or None when there is none in the look-ahead.
        lead: Window starts were moved this much earlier (pre-warm, see :func:`with_prewarm`).
    """

    active: bool
    since: datetime | None = None
    next_change: datetime | None = None
    lead: timedelta = timedelta(0)


def with_prewarm(phase: ScheduleState, ahead: ScheduleState | None, lead: timedelta) -> ScheduleState:
    """``phase`` with every window opening ``lead`` earlier, so a resumed endpoint is running at the edge.

    Args:
        phase: The schedule's state now.
        ahead: Its state at now + ``lead`` (computed by the caller, who knows the windows and cron expressions).
        lead: The pre-warm lead time (the endpoint's cold start). Subtracted from aware UTC instants, so a DST
            change between the lead and the edge changes nothing.

    Example:
        >>> at = datetime(2026, 3, 2, 8, tzinfo=timezone.utc)
        >>> before = ScheduleState(False, next_change=at)
        >>> with_prewarm(before, ScheduleState(True, since=at), timedelta(minutes=5)).since == at - timedelta(minutes=5)
        True
    """
    if lead <= timedelta(0):
        return phase
    if phase.active:
        since = None if phase.since is None else phase.since - lead
        return ScheduleState(True, since=since, next_change=phase.next_change, lead=lead)
    if ahead is not None and ahead.active and ahead.since is not None:  # the window opens within the lead
        return ScheduleState(True, since=ahead.since - lead, next_change=ahead.next_change, lead=lead)
    next_change = None if phase.next_change is None else phase.next_change - lead
    return ScheduleState(False, since=phase.since, next_change=next_change, lead=lead)


# Windows are expanded over this many local days either side of "now": a week plus a day covers any weekly window
# and its overnight tail.
_SPAN_DAYS = 8


def _local(day: date, at: time, tz: tzinfo) -> datetime:
    """A local wall-clock time as aware UTC.

    A time skipped by a DST change (e.g. 02:30 on the spring-forward night) takes the offset from before the change,
    so it lands an hour later in wall-clock terms; a repeated time (fall-back night) is its first occurrence.
    """
    return datetime.combine(day, at, tzinfo=tz).astimezone(timezone.utc)


def window_intervals(
    windows: Sequence[Window], tz: tzinfo, now: datetime, holidays: frozenset[date] = frozenset()
) -> list[tuple[datetime, datetime]]:
    """The active intervals around ``now`` (a week and a day either side), merged and in UTC.

    A window opens on its local weekday unless that local date is a holiday; an overnight window that opened the
    evening before a holiday still runs to its end.
    """
    today = now.astimezone(tz).date()
    intervals: list[tuple[datetime, datetime]] = []
    for offset in range(-_SPAN_DAYS, _SPAN_DAYS + 1):
        day = today + timedelta(days=offset)
        if day in holidays:
            continue
        for window in windows:
            if day.weekday() not in window.days:
                continue
            end_day = day + timedelta(days=1) if window.overnight else day
            start, end = _local(day, window.start, tz), _local(end_day, window.end, tz)
            if end > start:
                intervals.append((start, end))
    intervals.sort()
    merged: list[tuple[datetime, datetime]] = []
    for start, end in intervals:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def windows_state(
    windows: Sequence[Window], tz: tzinfo, now: datetime, holidays: frozenset[date] = frozenset()
) -> ScheduleState:
    """Whether ``now`` is inside one of ``windows`` (local to ``tz``), since when, and until when.

    Example:
        >>> from zoneinfo import ZoneInfo
        >>> w = parse_window("Mon-Fri 08:00-19:00")
        >>> windows_state([w], ZoneInfo("UTC"), datetime(2026, 3, 2, 9, tzinfo=timezone.utc)).active
        True
    """
    last_end: datetime | None = None
    for start, end in window_intervals(windows, tz, now, holidays):
        if start <= now < end:
            return ScheduleState(True, since=start, next_change=end)
        if now < start:
            return ScheduleState(False, since=last_end, next_change=start)
        last_end = end
    return ScheduleState(False, since=last_end, next_change=None)


def edges_state(
    last_start: datetime | None, last_stop: datetime | None, next_start: datetime | None, next_stop: datetime | None
) -> ScheduleState:
    """The state given by start/stop edges (e.g. cron expressions): active when the last start is the later edge.

    With only a start expression, the schedule is "active" from each start on (the stop never comes), and with only
    a stop expression it is inactive from each stop on.
    """
    if last_start is not None and (last_stop is None or last_start > last_stop):
        return ScheduleState(True, since=last_start, next_change=next_stop)
    return ScheduleState(False, since=last_stop, next_change=next_start)


def combine(first: ScheduleState | None, second: ScheduleState | None) -> ScheduleState | None:
    """Union of two schedules: active when either is; the phase started at the later of the relevant edges."""
    if first is None or second is None:
        return first or second
    active = first.active or second.active
    phases = [s for s in (first, second) if s.active == active]
    since = max((s.since for s in phases if s.since is not None), default=None)
    changes = [s.next_change for s in (first, second) if s.next_change is not None]
    return ScheduleState(active, since=since, next_change=min(changes, default=None))


# -- triggers (cron start/stop) -----------------------------------------------------------------------------------


class Trigger(Protocol):
    """When a start or stop edge fires (APScheduler's ``get_next_fire_time`` shape)."""

    def next_fire(self, prev: datetime | None, now: datetime) -> datetime | None:
        """The first fire time at or after ``now`` (``prev``: the previous fire time, if any); None: never."""
        ...


TriggerFor = Callable[[str, tzinfo], Trigger]
"""Builds the trigger of a cron expression in a time zone."""
_LOOKBACKS = (timedelta(hours=1), timedelta(days=1), timedelta(days=8), timedelta(days=32))
_MAX_FIRES = 10_000


def fires(trigger: Trigger, start: datetime, stop: datetime, holidays: frozenset[date] = frozenset()) -> list[datetime]:
    """Every fire time in ``[start, stop]`` whose date is not a holiday."""
    found: list[datetime] = []
    moment = trigger.next_fire(None, start)
    while moment is not None and moment <= stop and len(found) < _MAX_FIRES:
        if moment.date() not in holidays:
            found.append(moment)
        moment = trigger.next_fire(moment, moment + timedelta(seconds=1))
    return found


def last_and_next(
    trigger: Trigger, now: datetime, holidays: frozenset[date] = frozenset()
) -> tuple[datetime | None, datetime | None]:
    """The last fire time at or before ``now`` (up to 32 days back) and the next one after it (32 days ahead)."""
    last = None
    for lookback in _LOOKBACKS:
        found = fires(trigger, now - lookback, now, holidays)
        if found:
            last = found[-1]
            break
    upcoming = fires(trigger, now + timedelta(microseconds=1), now + _LOOKBACKS[-1], holidays)[:1]
    return last, (upcoming[0] if upcoming else None)


def schedule_phase(schedule: Schedule, now: datetime, trigger_for: TriggerFor) -> ScheduleState | None:
    """Where ``schedule`` stands at ``now``: its windows and cron edges combined (active if either is)."""
    tz = ZoneInfo(schedule.tz)
    phase = windows_state(schedule.active, tz, now, schedule.holidays) if schedule.active else None
    if schedule.cron_start or schedule.cron_stop:
        start = (
            last_and_next(trigger_for(schedule.cron_start, tz), now, schedule.holidays)
            if schedule.cron_start
            else (None, None)
        )
        stop = last_and_next(trigger_for(schedule.cron_stop, tz), now) if schedule.cron_stop else (None, None)
        phase = combine(phase, edges_state(start[0], stop[0], start[1], stop[1]))
    return phase


def prewarmed_phase(
    schedule: Schedule, now: datetime, measured: timedelta, trigger_for: TriggerFor
) -> ScheduleState | None:
    """:func:`schedule_phase` with windows opening ``prewarm`` early (``"auto"``: ``measured``, the endpoint's cold
    start), so that ``on_start = "resume"`` has the endpoint running at the window's start."""
    phase = schedule_phase(schedule, now, trigger_for)
    if phase is None or schedule.on_start.value != "resume":
        return phase
    lead = measured if schedule.prewarm is None else schedule.prewarm
    if lead <= timedelta(0):
        return phase
    return with_prewarm(phase, schedule_phase(schedule, now + lead, trigger_for), lead)
