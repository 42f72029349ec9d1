"""Run the real `epmgr` command line against an emulator server and a SQLite ledger."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from epmgr.cli import cli
from epmgr.domain.backoff import Backoff
from epmgr.emulator import DEMO_TOKEN, DEMO_USER, EmulatorServer
from epmgr.ledger import Ledger, open_ledger
from tests.adapters.conftest import FAST


@dataclass
class Cli:
    """Invokes `epmgr` with the environment pointed at the emulator and a temporary ledger."""

    runner: CliRunner
    env: dict[str, str]
    server: EmulatorServer
    db_url: str

    def __call__(self, *args: str, input: str | None = None, **env: str) -> Result:
        return self.runner.invoke(cli, list(args), env={**self.env, **env}, input=input, catch_exceptions=False)

    def ledger(self) -> Ledger:
        return open_ledger(self.db_url)


@pytest.fixture
def epmgr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    monkeypatch.setattr("epmgr.adapters.hf.DEFAULT_BACKOFF", Backoff(base_s=0.01, cap_s=0.02, attempts=2))
    db_url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with EmulatorServer(timings=FAST, access_log=False) as server:
        env = {
            "EPMGR_DB_URL": db_url,
            "EPMGR_HF_API_URL": server.url,
            "EPMGR_NAMESPACE": DEMO_USER,
            "HF_TOKEN": DEMO_TOKEN,
        }
        yield Cli(CliRunner(), env, server, db_url)
