"""`epmgr proxy` refuses bad ports and busy ones with one line and exit 2, before serving anything."""

from __future__ import annotations

import socket

import pytest
from click.testing import CliRunner

from epmgr.cli import cli
from tests.client.world import World


@pytest.mark.parametrize("port", ["99999", "0", "-1"])
def test_a_port_out_of_range_is_one_line_and_exit_2(port: str) -> None:
    result = CliRunner().invoke(cli, ["proxy", "--port", port])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"Error: command line: --port: expected a TCP port from 1 to 65535, got {port}"
    ]


def test_a_port_in_use_is_one_line_and_exit_2(world: World) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(cli, ["proxy", "--port", str(port)], env=world.env)
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"Error: command line: --host/--port: cannot listen on 127.0.0.1:{port}: the port is in use"
    ]


@pytest.mark.parametrize(
    ("args", "key"),
    [(["--wake-timeout", "1e300"], "--wake-timeout"), (["--wake-timeout", "-5"], "--wake-timeout"),
     (["--max-body", "0"], "--max-body")],
)  # fmt: skip
def test_bad_limits_are_one_line_and_exit_2(args: list[str], key: str) -> None:
    result = CliRunner().invoke(cli, ["proxy", *args])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and key in lines[0] and "Traceback" not in result.output
