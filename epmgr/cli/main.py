"""The root `epmgr` group, its global options, and the one place errors become exit codes."""

from __future__ import annotations

import sys
from typing import Any

import click

from epmgr import __version__
from epmgr.cli.context import AppContext
from epmgr.cli.cost import cost
from epmgr.cli.daemon import daemon, status
from epmgr.cli.db import db
from epmgr.cli.emulator import emulator
from epmgr.cli.endpoints import COMMANDS as ENDPOINT_COMMANDS
from epmgr.cli.init import init
from epmgr.cli.proxy import proxy
from epmgr.cli.simulate import simulate
from epmgr.errors import EpmgrError


class EpmgrGroup(click.Group):
    """A group that turns any EpmgrError into a clean one-line message and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EpmgrError as exc:
            if ctx.params.get("debug"):
                raise
            click.echo(f"Error: {exc}", err=True)
            sys.exit(exc.exit_code)
        finally:
            if isinstance(ctx.obj, AppContext):
                ctx.obj.close()


@click.group(cls=EpmgrGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="epmgr")
@click.option("--db", "db_url", metavar="URL", help="Ledger database URL or SQLite path (env: EPMGR_DB_URL).")
@click.option("--config", "config_path", metavar="FILE", help="Configuration file (env: EPMGR_CONFIG).")
@click.option("--namespace", metavar="NS", help="HF namespace, a user or organisation (env: EPMGR_NAMESPACE).")
@click.option("--json", "as_json", is_flag=True, help="Print data as JSON (also accepted after each command).")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.pass_context
def cli(
    ctx: click.Context, db_url: str | None, config_path: str | None, namespace: str | None, as_json: bool, debug: bool
) -> None:
    """Lifecycle manager with cost control for Hugging Face dedicated Inference Endpoints.

    \b
    Example:
        epmgr db upgrade
        epmgr --db /tmp/ledger.db --json db current
    """
    ctx.obj = AppContext(config_path=config_path, db_url=db_url, namespace=namespace, json=as_json)


cli.add_command(cost)
cli.add_command(db)
cli.add_command(emulator)
cli.add_command(proxy)
cli.add_command(daemon)
cli.add_command(status)
cli.add_command(simulate)
cli.add_command(init)
for command in ENDPOINT_COMMANDS:
    cli.add_command(command)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="epmgr")
