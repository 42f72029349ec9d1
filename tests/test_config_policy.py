"""``keep_alive`` and the ``adaptive`` knobs in ``epmgr.toml``: old files still load, bad values are one clear line."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from epmgr.config import load_settings
from epmgr.domain.policy import AdaptiveKnobs, KeepAlive
from epmgr.errors import ConfigError

ENDPOINT = '[[endpoints]]\nname = "ep"\n'


def load(tmp_path: Path, extra: str) -> tuple[KeepAlive, AdaptiveKnobs]:
    path = tmp_path / "epmgr.toml"
    path.write_text(ENDPOINT + extra, encoding="utf-8")
    (policy,) = load_settings(path, env={}).endpoints
    return policy.keep_alive, policy.adaptive


@pytest.mark.parametrize(
    ("line", "mode"),
    [
        ("", KeepAlive.OFF),
        ("keep_alive = true\n", KeepAlive.ADAPTIVE),  # written for the retired hour profile: now adaptive
        ("keep_alive = false\n", KeepAlive.OFF),
        ('keep_alive = "adaptive"\n', KeepAlive.ADAPTIVE),
        ('keep_alive = "off"\n', KeepAlive.OFF),
    ],
)
def test_keep_alive_values(tmp_path: Path, line: str, mode: KeepAlive) -> None:
    assert load(tmp_path, line) == (mode, AdaptiveKnobs())


def test_the_knobs(tmp_path: Path) -> None:
    knobs = (
        'keep_alive = "adaptive"\nadaptive = { cold_start_usd = 0.5, max_cold_starts_per_day = 20, max_keep = "1h" }\n'
    )
    assert load(tmp_path, knobs)[1] == AdaptiveKnobs(Decimal("0.5"), 20.0, timedelta(hours=1))


def test_a_free_cold_start_is_allowed(tmp_path: Path) -> None:
    assert load(tmp_path, "adaptive = { cold_start_usd = 0 }\n")[1].cold_start_usd == Decimal(0)


def test_the_shipped_example_still_loads(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[1] / "examples" / "epmgr.toml"
    modes = {p.name: p.keep_alive for p in load_settings(example, env={}).endpoints}
    assert KeepAlive.ADAPTIVE in modes.values()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('keep_alive = "sometimes"\n', "endpoints[0].keep_alive: expected one of 'off', 'adaptive', got 'sometimes'"),
        ("adaptive = { cold_start_usd = -1 }\n", "cold_start_usd: expected an amount in US dollars of at least 0"),
        ("adaptive = { max_cold_starts_per_day = 0 }\n", "endpoints[0].adaptive.max_cold_starts_per_day: expected"),
        ('adaptive = { max_keep = "forever" }\n', "endpoints[0].adaptive.max_keep: expected a duration"),
        ("adaptive = { cold_start = 1 }\n", "unknown key 'cold_start'; did you mean 'cold_start_usd'?"),
    ],
)
def test_bad_values_are_one_line_naming_the_key(tmp_path: Path, extra: str, message: str) -> None:
    path = tmp_path / "epmgr.toml"
    path.write_text(ENDPOINT + extra, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    text = str(caught.value)
    assert message in text and "\n" not in text and caught.value.line == 3
