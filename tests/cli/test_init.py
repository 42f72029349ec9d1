"""`epmgr init` against the emulator over HTTP: the file it writes loads, lists everything, manages nothing."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from epmgr.adapters.hf import HfEndpointsAPI
from epmgr.config import load_settings
from epmgr.emulator import DEMO_TOKEN, DEMO_USER
from tests.cli.conftest import Cli

GPU = ("--vendor", "aws", "--region", "us-east-1", "--accelerator", "gpu", "--task", "text-generation")


def create(epmgr: Cli, name: str, kind: str = "nvidia-l4", *extra: str) -> None:
    result = epmgr(
        "create", name, "--repo", "microsoft/Phi-3-mini-4k-instruct", *GPU, "--instance-type", kind,
        "--instance-size", "x1", *extra,
    )  # fmt: skip
    assert result.exit_code == 0, result.output


def test_init_writes_a_file_that_loads_with_every_endpoint_unmanaged_and_priced(epmgr: Cli, tmp_path: Path) -> None:
    create(epmgr, "chat")
    create(epmgr, "batch", "nvidia-t4", "--min-replica", "0", "--max-replica", "2", "--scale-to-zero-timeout", "15m")
    target = tmp_path / "epmgr.toml"

    result = epmgr("init", "-o", str(target))

    assert result.exit_code == 0, result.output
    assert f"wrote {target}: 2 endpoint(s) of {DEMO_USER} (batch, chat), none managed yet" in result.stdout
    settings = load_settings(target, env={})
    assert settings.namespace == DEMO_USER
    assert settings.hf_api_url == epmgr.server.url  # the API host it was written against, so the file works as is
    assert [(p.name, p.managed) for p in settings.endpoints] == [("batch", False), ("chat", False)]
    assert settings.endpoints[0].price_per_hour is None  # the price is shown, not pinned: HF's list price moves
    text = target.read_text()
    prices = gpu_prices(epmgr)
    assert f"# price: ${prices['nvidia-l4']:.2f} per replica-hour (HF hardware route" in text
    assert f"# price: ${prices['nvidia-t4']:.2f} per replica-hour (HF hardware route" in text
    assert "HF's own scale to zero is on: after 15 min without requests" in text
    assert "always on at 2 replica(s) that is" in text
    assert f"# price_per_hour = {prices['nvidia-t4'].normalize():f} " in text  # exact, ready to uncomment
    assert DEMO_TOKEN not in text and DEMO_TOKEN not in result.output


def gpu_prices(epmgr: Cli) -> dict[str, Decimal]:
    """The emulator's hardware route, read through the real adapter: instance type (x1) -> $ per replica-hour."""
    api = HfEndpointsAPI(token=DEMO_TOKEN, namespace=DEMO_USER, api_url=epmgr.server.url)
    return {
        o.instance_type: o.price_per_hour
        for o in api.hardware()
        if (o.vendor, o.region, o.instance_size) == ("aws", "us-east-1", "x1")
    }


def test_opting_in_is_one_line(epmgr: Cli, tmp_path: Path) -> None:
    create(epmgr, "chat")
    target = tmp_path / "epmgr.toml"
    assert epmgr("init", "-o", str(target)).exit_code == 0
    target.write_text(target.read_text().replace("\nmanaged = false", "\nmanaged = true", 1))
    assert [p.managed for p in load_settings(target, env={}).endpoints] == [True]


def test_init_never_overwrites_without_force(epmgr: Cli, tmp_path: Path) -> None:
    create(epmgr, "chat")
    target = tmp_path / "epmgr.toml"
    target.write_text("# mine\n")

    refused = epmgr("init", "-o", str(target))

    assert refused.exit_code == 2
    assert refused.stderr.strip() == f"Error: {target}: already exists; keep it, or pass --force to replace it"
    assert target.read_text() == "# mine\n"
    forced = epmgr("init", "-o", str(target), "--force")
    assert forced.exit_code == 0, forced.output
    assert [p.name for p in load_settings(target, env={}).endpoints] == ["chat"]
    assert not list(tmp_path.glob(".*partial"))


def test_force_replaces_a_broken_file_and_the_default_target_is_the_config_path(epmgr: Cli, tmp_path: Path) -> None:
    target = tmp_path / "conf.toml"
    target.write_text("[daemon]\ninterval = 5\n")  # invalid: init must still be able to replace it
    result = epmgr("--config", str(target), "init", "--force", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"path": str(target), "namespace": DEMO_USER, "endpoints": []}
    assert "No endpoints in 'demo' yet" in target.read_text()
    assert load_settings(target, env={}).endpoints == ()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"HF_TOKEN": ""}, "Error: environment: HF_TOKEN: no HF token: set HF_TOKEN or run `hf auth login`"),
        ({"EPMGR_NAMESPACE": "bad namespace"}, "Error: environment: EPMGR_NAMESPACE: expected a user or organisation"),
    ],
    ids=["no-token", "bad-namespace"],
)
def test_bad_input_is_one_line_and_writes_nothing(
    epmgr: Cli, tmp_path: Path, env: dict[str, str], expected: str
) -> None:
    target = tmp_path / "epmgr.toml"
    result = epmgr("init", "-o", str(target), **env)
    assert result.exit_code == 2
    assert result.stderr.startswith(expected) and len(result.stderr.strip().splitlines()) == 1
    assert not target.exists()


def test_a_refused_token_is_one_line_and_writes_nothing(epmgr: Cli, tmp_path: Path) -> None:
    target = tmp_path / "epmgr.toml"
    result = epmgr("init", "-o", str(target), HF_TOKEN="hf_wrong")
    assert result.exit_code == 1 and "refused the token" in result.stderr
    assert "hf_wrong" not in result.stderr
    assert not target.exists()
