"""Serving: loopback only unless told, the in-process server, the access log, and the `serve` command."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from epmgr.emulator import DEMO_TOKEN, Behaviour, EmulatorServer, EmulatorTimings, FaultConfig
from epmgr.emulator import cli as emulator_cli
from epmgr.emulator.server import bind_host


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_addresses_need_no_permission(host: str) -> None:
    assert bind_host(host, allow_remote=False) == host


def test_the_default_is_ipv4_loopback() -> None:
    assert bind_host(None, allow_remote=False) == "127.0.0.1"
    assert bind_host(None, allow_remote=True) == "127.0.0.1"  # --allow-remote alone opens nothing


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.com"])
def test_other_addresses_are_refused_unless_allowed(host: str) -> None:
    with pytest.raises(ValueError, match="--allow-remote"):
        bind_host(host, allow_remote=False)
    assert bind_host(host, allow_remote=True) == host
    with pytest.raises(ValueError, match="not a loopback address"):
        EmulatorServer(host=host)


def test_the_server_starts_on_a_free_port_and_stops_cleanly() -> None:
    server = EmulatorServer(access_log=False)
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.url
    with server:
        assert server.url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{server.url}/api/agent-harnesses").status_code == 200
        url = server.url
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/api/agent-harnesses")
    server.stop()  # stopping twice is harmless


def test_the_ipv6_loopback_url_is_bracketed() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        server = EmulatorServer(host="::1", access_log=False).start()
    except OSError:
        pytest.skip("cannot bind ::1 here")
    with server:
        assert server.url.startswith("http://[::1]:")
        assert httpx.get(f"{server.url}/api/agent-harnesses").status_code == 200


def test_the_access_log_has_one_line_per_request_and_no_token(capfd: pytest.CaptureFixture[str]) -> None:
    with EmulatorServer() as server:
        headers = {"Authorization": f"Bearer {DEMO_TOKEN}"}
        httpx.get(f"{server.url}/v2/endpoint/demo", headers=headers, params={"token": "hf_in_query"})
        httpx.get(f"{server.url}/v2/endpoint/demo/missing", headers=headers)
    lines = [line for line in capfd.readouterr().err.splitlines() if "/v2/" in line]
    assert len(lines) == 2
    assert lines[0].endswith("127.0.0.1 GET /v2/endpoint/demo 200")
    assert lines[1].endswith("127.0.0.1 GET /v2/endpoint/demo/missing 404")
    assert all(DEMO_TOKEN not in line and "hf_in_query" not in line for line in lines)


def test_access_log_false_is_silent(capfd: pytest.CaptureFixture[str]) -> None:
    with EmulatorServer(access_log=False) as server:
        httpx.get(f"{server.url}/api/agent-harnesses")
    assert "/api/agent-harnesses" not in capfd.readouterr().err


@pytest.mark.parametrize(
    ("text", "seconds"), [("3s", 3.0), ("500ms", 0.5), ("1.5s", 1.5), ("2m", 120.0), ("4", 4.0), ("1h", 3600.0)]
)
def test_durations_on_the_command_line(text: str, seconds: float) -> None:
    assert emulator_cli.parse_seconds(text) == seconds


def run_serve(monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[Any, dict[str, Any]]:
    """Invoke `serve` with the blocking server replaced by a recorder of its arguments."""
    seen: dict[str, Any] = {}
    monkeypatch.setattr(emulator_cli, "serve", lambda **kwargs: seen.update(kwargs))
    result = CliRunner().invoke(emulator_cli.emulator, ["serve", *args])
    return result, seen


def test_serve_maps_its_options(monkeypatch: pytest.MonkeyPatch) -> None:
    result, seen = run_serve(
        monkeypatch,
        *("--cold-start", "3s", "--pending", "1s", "--update", "2s", "--minute", "2s", "--initializing", "250ms"),
        *("--fault-rate", "0.3", "--faults", "429,500,503,slow", "--seed", "1", "--slow", "100ms"),
        *("--token", "hf_custom_secret", "--user", "alice", "--org", "acme", "--port", "9000", "--quiet"),
    )
    assert result.exit_code == 0, result.output
    assert seen["timings"] == EmulatorTimings(pending=1, initializing=0.25, scale_up=3, update=2, minute=2)
    assert seen["faults"] == FaultConfig(rate=0.3, kinds=("429", "500", "503", "slow"), seed=1, slow_seconds=0.1)
    assert (seen["host"], seen["port"], seen["user"], seen["orgs"]) == ("127.0.0.1", 9000, "alice", ("acme",))
    assert seen["tokens"] == ("hf_custom_secret",) and seen["access_log"] is False
    assert "hf_custom_secret" not in result.output and "1 token(s)" in result.output


def test_serve_defaults_are_short_and_use_the_demo_token(monkeypatch: pytest.MonkeyPatch) -> None:
    result, seen = run_serve(monkeypatch)
    assert result.exit_code == 0, result.output
    assert seen["timings"] == EmulatorTimings()
    assert (seen["tokens"], seen["port"], seen["faults"].rate) == (None, 8765, 0)
    assert DEMO_TOKEN not in result.output and "demo token" in result.output


def test_serve_maps_quotas_and_switches(monkeypatch: pytest.MonkeyPatch) -> None:
    result, seen = run_serve(
        monkeypatch,
        *("--gpu-quota", "2", "--quota", "aws/us-east-1/nvidia-t4=0", "--quota", "gcp/us-east4/nvidia-l4=8"),
        *("--quota-status", "403", "--list-page-size", "0", "--while-updating", "serve", "--deleted-url", "404"),
        *("--redacted-update", "keep", "--compress", "off", "--org-no-billing", "broke"),
    )
    assert result.exit_code == 0, result.output
    assert seen["quotas"].to_json() == {
        "gpu": 2,
        "cpu": 64,
        "limits": {"aws/us-east-1/nvidia-t4": 0, "gcp/us-east4/nvidia-l4": 8},
    }
    assert seen["behaviour"] == Behaviour(
        list_page_size=None,
        quota_status=403,
        while_updating="serve",
        deleted_url="404",
        redacted_update="keep",
        compress="off",
    )
    assert seen["unbilled_orgs"] == ("broke",)


def test_serve_defaults_to_the_hostile_switches(monkeypatch: pytest.MonkeyPatch) -> None:
    result, seen = run_serve(monkeypatch)
    assert result.exit_code == 0, result.output
    assert seen["behaviour"] == Behaviour() and seen["quotas"].to_json() == {"gpu": 4, "cpu": 64, "limits": {}}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--host", "0.0.0.0"], "--allow-remote"),
        (["--cold-start", "soon"], "expected a duration"),
        (["--faults", "429,teapot"], "comma-separated subset"),
        (["--fault-rate", "2"], "0<=x<=1"),
        (["--quota", "aws/us-east-1/nvidia-t4"], "VENDOR/REGION/INSTANCE_TYPE=N"),
        (["--quota", "aws/mars-1/nvidia-t4=1"], "no instance type 'nvidia-t4' in aws/mars-1"),
        (["--quota-status", "418"], "'418' is not one of"),
    ],
    ids=["remote-host", "duration", "fault-kind", "fault-rate", "quota-shape", "quota-unknown", "quota-status"],
)
def test_serve_rejects_bad_options(monkeypatch: pytest.MonkeyPatch, args: list[str], message: str) -> None:
    result, seen = run_serve(monkeypatch, *args)
    assert result.exit_code == 2 and message in result.output and seen == {}


def test_serve_allows_a_remote_host_only_with_allow_remote(monkeypatch: pytest.MonkeyPatch) -> None:
    result, seen = run_serve(monkeypatch, "--host", "0.0.0.0", "--allow-remote")
    assert result.exit_code == 0 and seen["host"] == "0.0.0.0" and seen["allow_remote"] is True


def test_the_group_and_serve_have_help_with_an_example() -> None:
    result = CliRunner().invoke(emulator_cli.emulator, ["serve", "--help"])
    assert result.exit_code == 0 and "Example:" in result.output and "--cold-start" in result.output
    assert emulator_cli.emulator.help is not None and "Example:" in emulator_cli.emulator.help


def test_python_m_epmgr_emulator_serves_until_terminated() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "epmgr.emulator", "serve", "--port", str(port), "--token", "hf_cli_secret"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                response = httpx.get(
                    f"http://127.0.0.1:{port}/api/whoami-v2", headers={"Authorization": "Bearer hf_cli_secret"}
                )
                break
            except httpx.ConnectError:
                assert process.poll() is None and time.monotonic() < deadline, "the emulator did not start"
                time.sleep(0.05)
        assert response.status_code == 200 and response.json()["name"] == "demo"
    finally:
        process.terminate()
        _, err = process.communicate(timeout=15)
    assert f"http://127.0.0.1:{port}" in err and "GET /api/whoami-v2 200" in err
    assert "hf_cli_secret" not in err
