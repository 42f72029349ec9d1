"""The pure rule of who serves (epmgr.domain.fallback): one table, and the spec parser."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from epmgr.domain.fallback import (
    DEFAULT_WHEN,
    PRIMARY,
    Health,
    Price,
    Primary,
    When,
    choose,
    parse_spec,
    parse_when,
    price_of,
    recently_failed,
)

SL, EP = "serverless:org/model", "endpoint:small"
HEALTHY = [Health(SL, True), Health(EP, True)]
FIRST_DOWN = [Health(SL, False, "failed"), Health(EP, True)]
NONE_UP = [Health(SL, False), Health(EP, False)]
ALL = frozenset(When)


@pytest.mark.parametrize(
    ("primary", "when", "fallbacks", "serve", "wake"),
    [
        (Primary.READY, ALL, HEALTHY, PRIMARY, False),
        (Primary.ASLEEP, DEFAULT_WHEN, HEALTHY, SL, True),
        (Primary.ASLEEP, DEFAULT_WHEN, FIRST_DOWN, EP, True),
        (Primary.ASLEEP, DEFAULT_WHEN, NONE_UP, PRIMARY, True),
        (Primary.ASLEEP, frozenset({When.ERROR}), HEALTHY, PRIMARY, True),
        (Primary.WAKING, DEFAULT_WHEN, HEALTHY, SL, False),
        (Primary.OVER_BUDGET, DEFAULT_WHEN, HEALTHY, SL, False),
        (Primary.OVER_BUDGET, frozenset({When.WAKING}), HEALTHY, PRIMARY, False),
        (Primary.ERROR, DEFAULT_WHEN, HEALTHY, PRIMARY, False),
        (Primary.ERROR, ALL, FIRST_DOWN, EP, False),
    ],
    ids=[
        "ready", "asleep", "asleep-first-down", "asleep-none-up", "asleep-not-wanted", "waking", "over-budget",
        "over-budget-not-wanted", "error-not-default", "error-wanted",
    ],
)  # fmt: skip
def test_who_serves(primary: Primary, when: frozenset[When], fallbacks: list[Health], serve: str, wake: bool) -> None:
    route = choose(primary, when, fallbacks)
    assert (route.serve, route.wake) == (serve, wake)
    assert route.reason


def test_a_failed_fallback_is_skipped_for_the_cooldown_only() -> None:
    t0 = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
    assert recently_failed(t0, t0 + timedelta(seconds=29))
    assert not recently_failed(t0, t0 + timedelta(seconds=30))
    assert not recently_failed(None, t0)


@pytest.mark.parametrize(
    ("text", "kind", "target", "model"),
    [
        ("serverless:microsoft/Phi-3-mini-4k-instruct", "serverless", "microsoft/Phi-3-mini-4k-instruct", None),
        (
            "serverless:meta-llama/Llama-3.1-8B-Instruct:groq",
            "serverless",
            "meta-llama/Llama-3.1-8B-Instruct:groq",
            None,
        ),
        ("endpoint:small-model", "endpoint", "small-model", None),
        ("local:./models/phi3", "local", "./models/phi3", None),
        ("openai:http://127.0.0.1:11434/v1#llama3.2", "openai", "http://127.0.0.1:11434/v1", "llama3.2"),
    ],
)
def test_specs(text: str, kind: str, target: str, model: str | None) -> None:
    spec = parse_spec(text)
    assert (spec.kind, spec.target, spec.model) == (kind, target, model)
    assert str(spec) == text


@pytest.mark.parametrize(
    "text", ["", "serverless", "cloud:x/y", "serverless:", "serverless:gpt2", "openai:ftp://x", "local: x"]
)
def test_bad_specs_say_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match="expected"):
        parse_spec(text)


def test_conditions() -> None:
    assert parse_when(["waking", "error"]) == {When.WAKING, When.ERROR}
    with pytest.raises(ValueError, match="'waking', 'over_budget', 'error'"):
        parse_when(["asleep"])


def test_prices_by_spec_then_kind_then_default() -> None:
    own = Price(per_request=Decimal("0.01"))
    kind = Price(input_per_mtok=Decimal(1))
    assert price_of(SL, {SL: own, "serverless": kind}) == own
    assert price_of("serverless:other/model", {SL: own, "serverless": kind}) == kind
    assert price_of("local:./x", {}).cost(1000, 10**6, 10**6) == 0
    assert price_of(SL, {}).cost(1, 10**6, 10**6) == Decimal("0.80")
