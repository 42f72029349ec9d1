"""The endpoint commands, end to end: emulator over HTTP, SQLite ledger, real click."""

from __future__ import annotations

import json
from pathlib import Path

import click
import httpx
import pytest

from epmgr.cli import cli
from epmgr.domain.model import ActionKind, Actor, ChangeSource, EndpointRef, EndpointState, Outcome
from epmgr.emulator import DEMO_USER
from tests.cli.conftest import Cli

CREATE = (
    "create", "phi3", "--repo", "microsoft/Phi-3-mini-4k-instruct", "--vendor", "aws", "--region", "us-east-1",
    "--accelerator", "gpu", "--instance-type", "nvidia-l4", "--instance-size", "x1", "--task", "text-generation",
)  # fmt: skip
REF = EndpointRef(DEMO_USER, "phi3")


def test_the_whole_lifecycle_is_audited_in_the_ledger(epmgr: Cli) -> None:
    created = epmgr(*CREATE, "--wait", "--timeout", "30s", "--json")
    assert created.exit_code == 0, created.output
    assert json.loads(created.stdout)["state"] == "running"

    listed = epmgr("list")
    assert listed.exit_code == 0
    header, row = listed.stdout.splitlines()
    assert header.split()[:4] == ["NAME", "STATE", "INSTANCE", "$/H"]
    assert row.split()[:2] == ["phi3", "running"] and "$0.80" in row and "http://127.0.0.1:" in row

    assert epmgr("pause", "phi3", "--reason", "night").exit_code == 0
    resumed = epmgr("resume", "phi3", "--wait", "--timeout", "30s")
    assert resumed.exit_code == 0 and "now running" in resumed.stdout
    assert "demo/phi3: initializing after" in resumed.stderr or "demo/phi3: pending after" in resumed.stderr
    assert epmgr("update", "phi3", "--min-replica", "0", "--scale-to-zero-timeout", "30m").exit_code == 0
    assert epmgr("wait", "phi3", "--timeout", "30s").exit_code == 0
    assert epmgr("scale-to-zero", "phi3").exit_code == 0
    asleep = epmgr("wait", "phi3", "--timeout", "1s")
    assert asleep.exit_code == 1 and "wakes on a request or `epmgr resume`" in asleep.stderr
    assert epmgr("delete", "phi3", "--yes").exit_code == 0

    ledger = epmgr.ledger()
    actions = ledger.actions(REF)
    assert [a.action for a in actions] == [
        ActionKind.CREATE, ActionKind.PAUSE, ActionKind.RESUME, ActionKind.UPDATE, ActionKind.SCALE_TO_ZERO,
        ActionKind.DELETE,
    ]  # fmt: skip
    assert {a.actor for a in actions} == {Actor.CLI} and {a.outcome for a in actions} == {Outcome.OK}
    assert actions[1].reason == "night"
    caused = [(c.to_state, c.source) for c in ledger.state_changes(REF) if c.source == ChangeSource.ACTION]
    assert (EndpointState.PAUSED, ChangeSource.ACTION) in caused
    assert (EndpointState.SCALED_TO_ZERO, ChangeSource.ACTION) in caused
    observed = {c.to_state for c in ledger.state_changes(REF) if c.source == ChangeSource.OBSERVED}
    assert EndpointState.RUNNING in observed
    record = ledger.endpoint(REF)
    assert record is not None and str(record.price_per_hour) == "0.800000"
    ledger.close()


def test_show_and_list_as_json(epmgr: Cli) -> None:
    epmgr(*CREATE)
    shown = json.loads(epmgr("show", "phi3", "--json", "--raw").stdout)
    assert shown["instance"]["instance_type"] == "nvidia-l4" and shown["price_per_hour"] == "0.8"
    assert shown["raw"]["name"] == "phi3"
    listed = json.loads(epmgr("--json", "list").stdout)
    assert [e["name"] for e in listed] == ["phi3"]
    text = epmgr("show", "phi3").stdout
    assert "nvidia-l4" in text and "$0.80 per replica-hour" in text


def test_resume_of_a_running_endpoint_says_so_and_is_audited_once_skipped(epmgr: Cli) -> None:
    epmgr(*CREATE, "--wait", "--timeout", "30s")
    result = epmgr("resume", "phi3", "--reason", "checking")
    assert result.exit_code == 0 and "already running, nothing to do" in result.stdout
    ledger = epmgr.ledger()
    resumes = [a for a in ledger.actions(REF) if a.action == ActionKind.RESUME]
    assert [(a.outcome, a.reason, a.actor, a.error) for a in resumes] == [
        (Outcome.SKIPPED, "checking", Actor.CLI, None)
    ]
    assert resumes[0].detail is not None and "already running" in resumes[0].detail
    assert resumes[0].completed_at is not None
    ledger.close()


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (("show", "nope"), {}, "demo/nope was not found"),
        (("pause", "nope"), {}, "pause demo/nope: demo/nope was not found"),
        (("list",), {"HF_TOKEN": "hf_wrong"}, "the HF API refused the token (401"),
        (("list",), {"EPMGR_HF_API_URL": "http://127.0.0.1:9"}, "cannot reach the HF API"),
    ],
    ids=["unknown-endpoint", "unknown-endpoint-action", "wrong-token", "api-unreachable"],
)
def test_clear_one_line_errors(epmgr: Cli, args: tuple[str, ...], env: dict[str, str], message: str) -> None:
    result = epmgr(*args, **env)
    assert result.exit_code == 1
    assert message in result.stderr and result.stderr.startswith("Error: ")
    assert "Traceback" not in result.output and "hf_wrong" not in result.output


def test_an_invalid_instance_lists_the_valid_ones(epmgr: Cli) -> None:
    args = list(CREATE)
    args[args.index("nvidia-l4")] = "c6i"
    result = epmgr(*args)
    assert result.exit_code == 1
    assert "Instance compute 'Gpu' - 'c6i' - 'x1' in 'aws' - 'us-east-1' not found" in result.stderr
    assert "valid in aws/us-east-1:" in result.stderr and "gpu nvidia-l4 x1 ($0.80/h)" in result.stderr
    ledger = epmgr.ledger()  # every action is audited, the failed create too ...
    assert [(a.action, a.outcome) for a in ledger.actions(REF)] == [(ActionKind.CREATE, Outcome.FAILED)]
    ledger.close()
    cost = epmgr("cost", "--json")  # ... but HF never confirmed the endpoint: no phantom row in the cost report
    assert cost.exit_code == 0 and json.loads(cost.stdout)["endpoints"] == []


def test_delete_asks_first(epmgr: Cli) -> None:
    epmgr(*CREATE)
    refused = epmgr("delete", "phi3", input="n\n")
    assert refused.exit_code == 1 and "Delete demo/phi3?" in refused.output
    assert epmgr("show", "phi3").exit_code == 0
    assert epmgr("delete", "phi3", input="y\n").exit_code == 0
    assert epmgr("show", "phi3").exit_code == 1


def test_wait_gives_up_on_a_paused_endpoint_naming_its_state(epmgr: Cli) -> None:
    epmgr(*CREATE)
    epmgr("pause", "phi3")
    result = epmgr("wait", "phi3", "--timeout", "1s")
    assert result.exit_code == 1
    assert (
        "demo/phi3 was not ready after 1.0s of waiting; last state paused (a paused endpoint needs `epmgr resume`)"
        in result.stderr
    )


def test_wait_fails_at_once_on_a_failed_endpoint(epmgr: Cli) -> None:
    epmgr(*CREATE)
    httpx.post(f"{epmgr.server.url}/_emulator/endpoint/{DEMO_USER}/phi3/fail").raise_for_status()
    result = epmgr("wait", "phi3", "--timeout", "10m")
    assert result.exit_code == 1 and "demo/phi3 is failed" in result.stderr and "needs a person" in result.stderr


def test_create_from_a_spec_file_with_options_winning(epmgr: Cli, tmp_path: Path) -> None:
    spec = tmp_path / "spec.toml"
    spec.write_text(
        'name = "from-file"\nrepository = "gpt2"\nvendor = "aws"\nregion = "us-east-1"\naccelerator = "cpu"\n'
        'instance_type = "intel-spr"\ninstance_size = "x1"\nmin_replica = 0\nscale_to_zero_timeout = "15m"\n'
    )
    result = epmgr("create", "--from-file", str(spec), "--instance-size", "x2", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["name"] == "from-file" and data["instance"]["instance_size"] == "x2"
    assert data["scale_to_zero_timeout_min"] == 15 and data["replicas"]["min"] == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('name = "x"\nflavour = "gpu"\n', "spec.toml:2: flavour: unknown key"),
        ('name = "x"\nmin_replica = "one"\n', "spec.toml:2: min_replica: expected a whole number"),
        ('name = "x"\nscale_to_zero_timeout = "15 minutes"\n', 'expected a duration such as "90s"'),
        ('name = "x\n', "spec.toml: not valid TOML"),
    ],
    ids=["unknown-key", "wrong-type", "bad-duration", "bad-toml"],
)
def test_a_bad_spec_file_exits_2_naming_file_line_and_key(
    epmgr: Cli, tmp_path: Path, content: str, message: str
) -> None:
    spec = tmp_path / "spec.toml"
    spec.write_text(content)
    result = epmgr("create", "--from-file", str(spec))
    assert result.exit_code == 2 and message in result.stderr


def test_missing_create_options_are_named(epmgr: Cli) -> None:
    result = epmgr("create", "x", "--repo", "gpt2")
    assert result.exit_code == 2 and "missing --vendor, --region, --accelerator" in result.output


def test_every_command_has_help_with_an_example() -> None:
    def walk(group: click.Group, path: tuple[str, ...]) -> list[tuple[tuple[str, ...], click.Command]]:
        found = []
        for name, command in group.commands.items():
            found.append(((*path, name), command))
            if isinstance(command, click.Group):
                found.extend(walk(command, (*path, name)))
        return found

    commands = walk(cli, ())
    assert {"create", "list", "show", "pause", "resume", "scale-to-zero", "update", "delete", "wait", "db"} <= {
        path[0] for path, _ in commands
    }
    for path, command in commands:
        assert command.help and "Example:" in command.help, f"epmgr {' '.join(path)} has no example"
