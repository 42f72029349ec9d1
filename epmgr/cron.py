"""Unix cron expressions, evaluated by APScheduler 3: the one evaluator used to validate the configuration and
to run schedules, so that a cron string accepted at load can never fail in the daemon.

The edge of :mod:`epmgr.domain.schedule`: :func:`trigger_for` gives the domain a ``next_fire(prev, now)`` trigger,
and :func:`phase` / :func:`prewarmed` evaluate a schedule with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from functools import lru_cache

from apscheduler.triggers.cron import CronTrigger

from epmgr.domain import schedule as schedules
from epmgr.domain.policy import Schedule
from epmgr.domain.schedule import ScheduleState

_UNIX_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Far enough back that any valid expression fires after it within APScheduler's search (Feb 29 included).
_PROBE_FROM = datetime(2024, 1, 1, tzinfo=timezone.utc)


def cron_trigger(expression: str, tz: tzinfo) -> CronTrigger:
    """A CronTrigger for a Unix cron expression.

    APScheduler 3 counts weekdays from Monday = 0 while Unix cron counts from Sunday = 0, so numeric weekdays are
    rewritten as names first ("1-5" -> "mon-fri").

    Raises:
        ValueError: Not 5 fields, or a field the scheduler rejects (e.g. minute 99, weekday "funday").
    """
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"expected 5 fields (minute hour day month weekday), got {len(fields)}")
    minute, hour, day, month, weekday = fields

    def day_name(match: re.Match[str]) -> str:
        number = int(match[0])
        if number > 7:
            raise ValueError(f"weekday {number} is out of range (0-7, 0 and 7 are Sunday)")
        return _UNIX_DAYS[number]

    weekday = re.sub(r"(?<![/\d])\d+", day_name, weekday)
    return CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=weekday, timezone=tz)


def check_cron_expression(expression: str) -> str:
    """The expression, normalised, once the scheduler accepts it and it fires at least once.

    Raises:
        ValueError: Saying what the scheduler rejected, e.g. ``minute: the last value (99) is higher than ...``.
    """
    normal = " ".join(expression.split())
    try:
        trigger = cron_trigger(normal, timezone.utc)
    except ValueError as exc:
        raise ValueError(f"invalid cron expression {normal!r}: {_which_field(normal) or exc}") from None
    if trigger.get_next_fire_time(None, _PROBE_FROM) is None:
        raise ValueError(f"the cron expression {normal!r} never fires")
    return normal


def _which_field(expression: str) -> str | None:
    """The first field the scheduler rejects, named ("hour field '99': ..."), when one alone is to blame."""
    labels = ("minute", "hour", "day", "month", "day_of_week")
    for label, value in zip(labels, expression.split(), strict=False):
        try:
            cron_trigger(" ".join(value if other == label else "*" for other in labels), timezone.utc)
        except ValueError as exc:
            return f"{label.replace('_', ' ')} field {value!r}: {exc}"
    return None


@dataclass(frozen=True)
class _Trigger:
    trigger: CronTrigger

    def next_fire(self, prev: datetime | None, now: datetime) -> datetime | None:
        found: datetime | None = self.trigger.get_next_fire_time(prev, now)
        return found


@lru_cache(maxsize=1024)
def trigger_for(expression: str, tz: tzinfo) -> schedules.Trigger:
    """The domain trigger of a (valid) cron expression in ``tz``."""
    return _Trigger(cron_trigger(expression, tz))


def phase(schedule: Schedule, now: datetime) -> ScheduleState | None:
    """:func:`epmgr.domain.schedule.schedule_phase` with cron triggers."""
    return schedules.schedule_phase(schedule, now, trigger_for)


def prewarmed(schedule: Schedule, now: datetime, measured: timedelta) -> ScheduleState | None:
    """:func:`epmgr.domain.schedule.prewarmed_phase` with cron triggers."""
    return schedules.prewarmed_phase(schedule, now, measured, trigger_for)
