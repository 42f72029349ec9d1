"""Configuration the daemon depends on is checked completely at load: cron strings by the daemon's own evaluator."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from epmgr.config import load_settings
from epmgr.cron import check_cron_expression, cron_trigger
from epmgr.errors import ConfigError

SCHEDULE = """
[[endpoints]]
name = "ep"
schedule = {{ tz = "UTC", cron_start = "{start}", cron_stop = "0 19 * * *" }}
"""


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        ("99 99 * * *", "minute field '99'"),
        ("0 8 * * funday", "day of week field 'funday'"),
        ("0 8 * * 9", "weekday 9 is out of range"),
        ("0 0 31 2 *", "never fires"),
        ("0 8 * *", "5-field"),
    ],
)
def test_a_cron_string_the_scheduler_rejects_is_a_config_error_with_file_line_and_key(
    tmp_path: Path, expression: str, says: str
) -> None:
    path = tmp_path / "epmgr.toml"
    path.write_text(SCHEDULE.format(start=expression))
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    assert caught.value.exit_code == 2
    assert str(caught.value).startswith(f"{path}:4: endpoints[0].schedule.cron_start: ")
    assert says in str(caught.value)


@pytest.mark.parametrize("expression", ["0 8 * * 1-5", "0 8 * * mon-fri", "*/15 8-18 * * 0,6", "0 8 * * */2"])
def test_what_validation_accepts_the_daemon_can_evaluate(expression: str) -> None:
    normal = check_cron_expression(expression)
    fire = cron_trigger(normal, timezone.utc).get_next_fire_time(None, datetime(2026, 3, 2, tzinfo=timezone.utc))
    assert fire is not None


def test_unix_weekday_numbers_are_sundays_based() -> None:
    trigger = cron_trigger("0 8 * * 0", timezone.utc)
    fire = trigger.get_next_fire_time(None, datetime(2026, 3, 2, tzinfo=timezone.utc))  # a Monday
    assert fire is not None and fire.strftime("%a %d") == "Sun 08"
