"""What every command shares: settings read once, the ledger opened once, output as text or JSON."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import click

from epmgr.config import Settings, load_settings
from epmgr.ledger import Ledger, open_ledger

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class AppContext:
    """Global options, and the settings and ledger built from them on first use."""

    config_path: str | None = None
    db_url: str | None = None
    namespace: str | None = None
    json: bool = False
    _settings: Settings | None = field(default=None, repr=False)
    _ledger: Ledger | None = field(default=None, repr=False)

    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(
                self.config_path, env=os.environ, db_url=self.db_url, namespace=self.namespace
            )
        return self._settings

    def ledger(self, *, upgrade: bool = True) -> Ledger:
        """The ledger, migrated to the newest schema first (every command that opens it does so)."""
        if self._ledger is None:
            self._ledger = open_ledger(self.settings().db_url, upgrade=upgrade)
        return self._ledger

    def close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None


pass_app = click.make_pass_decorator(AppContext)


def json_option(func: F) -> F:
    """Add ``--json`` to a command whose output is data (the global ``epmgr --json`` works too)."""

    def callback(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
        if value:
            ctx.ensure_object(AppContext).json = True
        return value

    return click.option(
        "--json", "as_json", is_flag=True, expose_value=False, callback=callback, help="Print JSON instead of text."
    )(func)


def emit(app: AppContext, data: Any, text: str | Callable[[], str]) -> None:
    """Print ``data`` as JSON when asked for, else the human-readable ``text``."""
    if app.json:
        click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))
    else:
        click.echo(text() if callable(text) else text)
