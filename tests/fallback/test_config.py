"""fallback / fallback_when per endpoint and [fallback_prices] in epmgr.toml: parsed, and refused in one line."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from epmgr.config import load_fallbacks, load_settings
from epmgr.domain.fallback import DEFAULT_WHEN, Price, When
from epmgr.errors import ConfigError

GOOD = """
[[endpoints]]
name = "phi3-mini"
fallback = ["serverless:microsoft/Phi-3-mini-4k-instruct", "endpoint:small-model", "local:./models/phi3"]
fallback_when = ["waking", "error"]

[[endpoints]]
name = "other"
fallback = ["openai:http://127.0.0.1:11434/v1#llama3.2"]

[fallback_prices]
serverless = { input_per_mtok_usd = 0.1, output_per_mtok_usd = 0.3 }
"serverless:microsoft/Phi-3-mini-4k-instruct" = { per_request_usd = 0.001 }
"""


def test_chains_and_prices_are_read_and_the_daemon_settings_still_load(tmp_path: Path) -> None:
    path = tmp_path / "epmgr.toml"
    path.write_text(GOOD)
    found = load_fallbacks(path, env={})
    assert found.chains["phi3-mini"] == (
        ("serverless:microsoft/Phi-3-mini-4k-instruct", "endpoint:small-model", "local:./models/phi3"),
        frozenset({When.WAKING, When.ERROR}),
    )
    assert found.chains["other"] == (("openai:http://127.0.0.1:11434/v1#llama3.2",), DEFAULT_WHEN)
    assert found.prices["serverless"] == Price(Decimal(0), Decimal("0.1"), Decimal("0.3"))
    assert found.prices["serverless:microsoft/Phi-3-mini-4k-instruct"].per_request == Decimal("0.001")
    assert [e.name for e in load_settings(path, env={}).endpoints] == ["phi3-mini", "other"]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('fallback = ["cloud:x/y"]', "endpoints[0].fallback[0]"),
        ('fallback = ["serverless:nomodel"]', "endpoints[0].fallback[0]"),
        ('fallback = "serverless:a/b"', "endpoints[0].fallback"),
        ('fallback = ["serverless:a/b"]\nfallback_when = ["sleeping"]', "endpoints[0].fallback_when[0]"),
    ],
    ids=["kind", "model", "not-a-list", "when"],
)
def test_a_bad_fallback_is_one_line_naming_file_line_and_key(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "epmgr.toml"
    path.write_text(f'[[endpoints]]\nname = "ep"\n{text}\n')
    with pytest.raises(ConfigError) as caught:
        load_fallbacks(path, env={})
    message = str(caught.value)
    assert "\n" not in message
    assert f"{path}:3: {where}" in message or f"{path}:4: {where}" in message


def test_a_negative_price_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "epmgr.toml"
    path.write_text("[fallback_prices]\nserverless = { per_request_usd = -1 }\n")
    with pytest.raises(ConfigError, match="per_request_usd"):
        load_fallbacks(path, env={})
