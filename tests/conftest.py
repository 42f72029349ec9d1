"""Shared fixtures: a clean environment, and ledgers on SQLite (always) and PostgreSQL (when available)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import text

from epmgr.ledger import Ledger, make_engine, open_ledger

# Read before any test clears the environment.
PG_URL = os.environ.get("EPMGR_TEST_PG_URL")
PG_SKIP_REASON = "EPMGR_TEST_PG_URL is not set (CI sets it after starting PostgreSQL; see .ci/run)"
PG_REQUIRED = os.environ.get("EPMGR_REQUIRE_PG") == "1"

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test sees the developer's HF or epmgr settings, and huggingface_hub caches go to a temp dir."""
    for name in list(os.environ):
        if name.startswith(("HF_", "EPMGR_", "HUGGING_FACE_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HF_HOME", str(tmp_path_factory.mktemp("hf_home")))


def reset_postgres(url: str) -> None:
    """Drop everything in the test database's public schema."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty ledger database URL, on each engine."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    if not PG_URL:
        if PG_REQUIRED:
            pytest.fail("EPMGR_REQUIRE_PG=1 but EPMGR_TEST_PG_URL is not set")
        pytest.skip(PG_SKIP_REASON)
    reset_postgres(PG_URL)
    return PG_URL


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    """A migrated, empty ledger on each engine."""
    store = open_ledger(ledger_url)
    yield store
    store.close()
