"""The root `epmgr` group, its global options, and the one place errors become exit codes."""

from __future__ import annotations

import importlib
import sys
from typing import Any, NoReturn

import click
from click.exceptions import NoArgsIsHelpError

from epmgr import __version__
from epmgr.cli.context import AppContext
from epmgr.errors import EpmgrError

_ENDPOINTS = "epmgr.cli.endpoints"
COMMANDS: dict[str, tuple[str, str]] = {
    "cost": ("epmgr.cli.cost", "cost"),
    "create": (_ENDPOINTS, "create"),
    "daemon": ("epmgr.cli.daemon", "daemon"),
    "db": ("epmgr.cli.db", "db"),
    "delete": (_ENDPOINTS, "delete"),
    "emulator": ("epmgr.cli.emulator", "emulator"),
    "init": ("epmgr.cli.init", "init"),
    "list": (_ENDPOINTS, "list_"),
    "pause": (_ENDPOINTS, "pause"),
    "proxy": ("epmgr.cli.proxy", "proxy"),
    "resume": (_ENDPOINTS, "resume"),
    "scale-to-zero": (_ENDPOINTS, "scale_to_zero"),
    "show": (_ENDPOINTS, "show"),
    "simulate": ("epmgr.cli.simulate", "simulate"),
    "status": ("epmgr.cli.daemon", "status"),
    "update": (_ENDPOINTS, "update"),
    "wait": (_ENDPOINTS, "wait"),
}
"""Every subcommand: its module and attribute, imported only when it runs (or ``--help`` lists it), so a command
pays the start-up of what it uses only (``epmgr daemon --once`` does not load the proxy, the emulator or the
fallback chain)."""


def one_line(text: str, limit: int = 500) -> str:
    """``text`` on one line, at most ``limit`` characters (a message may quote a value someone typed)."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else f"{flat[: limit - 3]}..."


def usage_error(exc: click.UsageError) -> NoReturn:
    """Click's usage error as one line (not click's usage block), exit 2."""
    where = exc.ctx.command_path if exc.ctx else "epmgr"
    click.echo(f"Error: {one_line(exc.format_message())} (see `{where} --help`)", err=True)
    sys.exit(exc.exit_code)


class EpmgrGroup(click.Group):
    """A group that turns any error into one line on stderr and its exit code (a traceback only with --debug).

    EpmgrError keeps its exit code (2 for configuration); a click usage error exits 2; anything else is a bug
    and exits 1, still on one line unless ``--debug``.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, attribute = COMMANDS[cmd_name]
            command = getattr(importlib.import_module(module), attribute)
            assert isinstance(command, click.Command) and command.name == cmd_name, cmd_name
            self.add_command(command)
        return self.commands.get(cmd_name)

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            if isinstance(exc, NoArgsIsHelpError):
                raise
            usage_error(exc)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EpmgrError as exc:
            if ctx.params.get("debug"):
                raise
            click.echo(f"Error: {one_line(str(exc), limit=4000)}", err=True)  # lists of valid values can be long
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            if isinstance(exc, NoArgsIsHelpError):
                raise
            usage_error(exc)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise  # click prints these itself, on one line
        except Exception as exc:
            if ctx.params.get("debug"):
                raise
            message = one_line(f"{type(exc).__name__}: {exc}")
            click.echo(f"Error: unexpected {message} (a bug in epmgr: `epmgr --debug ...` shows where)", err=True)
            sys.exit(1)
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


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="epmgr")
