"""`epmgr db`: the ledger's schema."""

from __future__ import annotations

from collections.abc import Callable

import click
from sqlalchemy import Engine

from epmgr.cli.context import AppContext, emit, json_option, pass_app
from epmgr.ledger import migrate
from epmgr.ledger.engine import make_engine
from epmgr.ledger.store import ledger_errors, redact_url


@click.group()
def db() -> None:
    """Manage the ledger database (SQLite by default, PostgreSQL by URL).

    \b
    Example:
        epmgr db upgrade
        epmgr --db postgresql://epmgr@db-host/epmgr db current --json
    """


def _on_ledger(app: AppContext, step: Callable[[Engine], str | None]) -> str | None:
    """Run one migration step on a short-lived engine for the configured ledger; failures become LedgerError."""
    url = app.settings().db_url
    with ledger_errors(url):
        engine = make_engine(url)
        try:
            return step(engine)
        finally:
            engine.dispose()


def _report(app: AppContext, revision: str | None) -> None:
    head = migrate.head()
    url = redact_url(app.settings().db_url)
    data = {"url": url, "revision": revision, "head": head, "up_to_date": revision == head}
    if revision is None:
        text = f"{url}: not migrated yet (head is {head}); run `epmgr db upgrade`"
    elif revision == head:
        text = f"{url}: revision {revision} (head)"
    else:
        text = f"{url}: revision {revision}, head is {head}; run `epmgr db upgrade`"
    emit(app, data, text)


@db.command()
@json_option
@pass_app
def upgrade(app: AppContext) -> None:
    """Create the ledger or migrate it to the newest schema (safe to run any time).

    \b
    Example:
        epmgr --db ./ledger.db db upgrade
    """
    _report(app, _on_ledger(app, migrate.upgrade))


@db.command()
@json_option
@pass_app
def current(app: AppContext) -> None:
    """Show the ledger's schema revision and whether it is the newest.

    \b
    Example:
        epmgr db current
    """
    _report(app, _on_ledger(app, migrate.current))
