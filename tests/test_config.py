"""The configuration loader: epmgr.toml + environment into frozen settings, and its error messages."""

from __future__ import annotations

import dataclasses
from datetime import date, time, timedelta
from decimal import Decimal
from pathlib import Path

import click
import platformdirs
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from epmgr.cli.main import EpmgrGroup
from epmgr.config import DaemonSettings, Settings, load_settings
from epmgr.config_toml import locate
from epmgr.domain.policy import Budget, EndpointPolicy, IdlePolicy, KeepAlive, OnEnd, OnExceed, OnStart
from epmgr.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "epmgr.toml"

ISSUE_EXAMPLE = """\
[daemon]
interval = "30s"

[defaults]                       # for every managed endpoint unless it overrides
scale_to_zero_after = "15m"
pause_after = "6h"
min_uptime = "5m"

[[endpoints]]
name = "phi3-mini"
namespace = "my-org"             # optional; defaults to the global namespace
schedule = { tz = "Europe/Berlin", active = ["Mon-Fri 08:00-19:00"], on_start = "resume", on_end = "pause", holidays = ["2026-12-25"] }
budget = { daily_usd = 20, monthly_usd = 400, on_exceed = "pause" }
"""  # noqa: E501


@pytest.fixture(autouse=True)
def no_hf_login(monkeypatch: pytest.MonkeyPatch) -> None:
    """huggingface_hub's own login is never the developer's."""
    monkeypatch.setattr("huggingface_hub.get_token", lambda: None)


def write(tmp_path: Path, text: str, name: str = "epmgr.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def fail(path: Path | None, env: dict[str, str] | None = None, **options: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env=env or {}, **options)
    return caught.value


# --- valid files -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"), [('"auto"', None), ('"0s"', timedelta(0)), ('"5m"', timedelta(minutes=5))]
)
def test_prewarm_is_auto_or_a_duration(tmp_path: Path, value: str, expected: timedelta | None) -> None:
    text = f'[[endpoints]]\nname = "a"\nschedule = {{ tz = "UTC", active = ["Mon 08:00-09:00"], prewarm = {value} }}\n'
    (endpoint,) = load_settings(write(tmp_path, text), env={}).endpoints
    assert endpoint.schedule is not None and endpoint.schedule.prewarm == expected


def test_the_issue_example_loads_into_typed_objects(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, ISSUE_EXAMPLE), env={})

    assert settings.source == (tmp_path / "epmgr.toml").resolve()
    assert settings.daemon == DaemonSettings(interval=timedelta(seconds=30), lease_ttl=timedelta(seconds=90))
    assert settings.defaults == IdlePolicy(timedelta(minutes=15), timedelta(hours=6), timedelta(minutes=5))
    (phi3,) = settings.endpoints
    assert (phi3.name, phi3.namespace, phi3.idle) == ("phi3-mini", "my-org", settings.defaults)
    assert phi3.schedule is not None and phi3.schedule.tz == "Europe/Berlin"
    (window,) = phi3.schedule.active
    assert window.days == frozenset({0, 1, 2, 3, 4})
    assert (window.start, window.end) == (time(8, 0), time(19, 0))
    assert (phi3.schedule.on_start, phi3.schedule.on_end) == (OnStart.RESUME, OnEnd.PAUSE)
    assert phi3.schedule.holidays == frozenset({date(2026, 12, 25)})
    assert phi3.schedule.prewarm is None  # "auto": the measured cold start
    assert phi3.budget == Budget(daily_usd=Decimal("20"), monthly_usd=Decimal("400"), on_exceed=OnExceed.PAUSE)
    assert (phi3.managed, phi3.protect, phi3.keep_alive, phi3.price_per_hour) == (True, False, KeepAlive.OFF, None)
    assert settings.policy_for("my-org", "phi3-mini") is phi3
    assert settings.policy_for("other-org", "phi3-mini") is None
    assert settings.policy_for("my-org", "unlisted") is None


def test_the_shipped_example_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("huggingface_hub.get_token", lambda: "hf_from_login")
    settings = load_settings(EXAMPLE, env={})

    assert settings.namespace == "my-org" and settings.managed_tag == "epmgr" and settings.token == "hf_from_login"
    assert settings.daemon.listen_address == ("127.0.0.1", 9465) and settings.daemon.log_format == "text"
    phi3, batch, prod, experiment = settings.endpoints
    assert phi3.idle == IdlePolicy(timedelta(minutes=15), timedelta(hours=2), timedelta(minutes=5))  # one override
    assert phi3.schedule is not None and phi3.schedule.holidays == {date(2026, 12, 25), date(2026, 12, 26)}
    assert batch.idle.scale_to_zero_after is None and batch.namespace == "my-org"  # inherits [hf] namespace
    assert batch.price_per_hour == Decimal("1.8")
    assert batch.schedule is not None and batch.schedule.tz == "America/New_York"
    assert (batch.schedule.cron_start, batch.schedule.active, batch.schedule.enforce) == ("0 6 * * mon-fri", (), True)
    assert batch.budget == Budget(monthly_usd=Decimal("250.50"), on_exceed=OnExceed.CAP_REPLICAS, cap_replicas=1)
    assert (prod.acts, prod.keep_alive, experiment.managed) == (False, KeepAlive.ADAPTIVE, False)  # true: adaptive
    (shared,) = settings.namespaces
    assert shared.namespace == "my-org" and shared.budget.daily_usd == Decimal("100")


def test_no_file_means_every_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(env={})

    ledger = Path(platformdirs.user_data_dir("epmgr")) / "ledger.db"
    assert settings == Settings(source=None, db_url=f"sqlite:///{ledger}")
    assert settings.daemon.lease_ttl == timedelta(seconds=90) and settings.endpoints == ()


def test_epmgr_toml_in_the_working_directory_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, '[hf]\nnamespace = "from-cwd"\n')
    monkeypatch.chdir(tmp_path)
    assert load_settings(env={}).namespace == "from-cwd"
    other = write(tmp_path, '[hf]\nnamespace = "from-env"\n', "other.toml")
    assert load_settings(env={"EPMGR_CONFIG": str(other)}).namespace == "from-env"
    assert load_settings(other, env={"EPMGR_CONFIG": "missing.toml"}).namespace == "from-env"


def test_idle_stages_turn_off_and_endpoints_override_defaults(tmp_path: Path) -> None:
    text = """
[defaults]
scale_to_zero_after = "off"
pause_after = "1d"
min_uptime = "0s"

[[endpoints]]
name = "a"

[[endpoints]]
name = "b"
scale_to_zero_after = "90s"
pause_after = false
"""
    settings = load_settings(write(tmp_path, text), env={})
    a, b = settings.endpoints
    assert a.idle == settings.defaults == IdlePolicy(None, timedelta(days=1), timedelta(0))
    assert b.idle == IdlePolicy(timedelta(seconds=90), None, timedelta(0))


def test_money_is_exact_decimal(tmp_path: Path) -> None:
    text = '[[endpoints]]\nname = "a"\nprice_per_hour = 0.1\nbudget = { daily_usd = 12.50, warn_at = 0.95 }\n'
    (endpoint,) = load_settings(write(tmp_path, text), env={}).endpoints
    assert endpoint.price_per_hour == Decimal("0.1") and str(endpoint.price_per_hour) == "0.1"
    assert endpoint.budget is not None and str(endpoint.budget.daily_usd) == "12.50"
    assert endpoint.budget.warn_at == Decimal("0.95") and endpoint.budget.monthly_usd is None


def test_namespace_of_an_unlisted_namespace_entry_matches_by_name(tmp_path: Path) -> None:
    text = '[[endpoints]]\nname = "a"\n\n[[endpoints]]\nname = "a"\nnamespace = "team-b"\n'
    settings = load_settings(write(tmp_path, text), env={})
    assert settings.namespace is None
    assert settings.policy_for("whoever", "a") == EndpointPolicy(name="a")
    assert settings.policy_for("team-b", "a") == EndpointPolicy(name="a", namespace="team-b")


# --- precedence and the environment ----------------------------------------------------------------------

FILE_SETTINGS = '[hf]\nnamespace = "file-ns"\napi_url = "http://file:1"\n\n[ledger]\nurl = "postgresql://file/db"\n'


@pytest.mark.parametrize(
    ("env", "options", "expected"),
    [
        ({}, {}, ("file-ns", "http://file:1", "postgresql://file/db")),
        (
            {"EPMGR_NAMESPACE": "env-ns", "EPMGR_HF_API_URL": "http://env:2/", "EPMGR_DB_URL": "sqlite:////env.db"},
            {},
            ("env-ns", "http://env:2", "sqlite:////env.db"),
        ),
        (
            {"EPMGR_NAMESPACE": "env-ns", "EPMGR_HF_API_URL": "http://env:2", "EPMGR_DB_URL": "sqlite:////env.db"},
            {"namespace": "arg-ns", "hf_api_url": "https://arg:3", "db_url": "sqlite:////arg.db"},
            ("arg-ns", "https://arg:3", "sqlite:////arg.db"),
        ),
        ({"EPMGR_NAMESPACE": " ", "EPMGR_DB_URL": ""}, {}, ("file-ns", "http://file:1", "postgresql://file/db")),
    ],
    ids=["file", "environment-beats-file", "argument-beats-environment", "blank-environment-is-unset"],
)
def test_precedence(tmp_path: Path, env: dict[str, str], options: dict[str, str], expected: tuple[str, ...]) -> None:
    settings = load_settings(write(tmp_path, FILE_SETTINGS), env=env, **options)
    assert (settings.namespace, settings.hf_api_url, settings.db_url) == expected


def test_a_plain_path_becomes_a_sqlite_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "conf").mkdir()
    config = write(tmp_path / "conf", '[ledger]\nurl = "l.db"\n')
    here = tmp_path.resolve()
    assert load_settings(config, env={}).db_url == f"sqlite:///{here / 'conf' / 'l.db'}"  # next to the file
    monkeypatch.chdir(tmp_path)
    assert load_settings(config, env={"EPMGR_DB_URL": "x.db"}).db_url == f"sqlite:///{here / 'x.db'}"  # cwd


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"HF_TOKEN": "hf_first", "HUGGING_FACE_HUB_TOKEN": "hf_second"}, "hf_first"),
        ({"HF_TOKEN": "", "HUGGING_FACE_HUB_TOKEN": "hf_second"}, "hf_second"),
        ({}, "hf_login"),
    ],
    ids=["HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "hf-auth-login"],
)
def test_token_sources(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: dict[str, str], expected: str) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("huggingface_hub.get_token", lambda: "hf_login")
    assert load_settings(env=env).token == expected


def test_a_broken_login_means_no_token(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def broken() -> str:
        raise OSError("unreadable token file")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("huggingface_hub.get_token", broken)
    assert load_settings(env={}).token is None


def test_the_token_and_database_password_never_show(tmp_path: Path) -> None:
    env = {"HF_TOKEN": "hf_SECRETSECRET", "EPMGR_DB_URL": "postgresql://epmgr:pw-SECRET@db-host/epmgr"}
    settings = load_settings(write(tmp_path, ISSUE_EXAMPLE), env=env)
    assert settings.token == "hf_SECRETSECRET"
    for shown in (repr(settings), str(settings), f"{settings}"):
        assert "SECRET" not in shown
        assert "postgresql://epmgr:***@db-host/epmgr" in shown and "phi3-mini" in shown
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.token = "x"  # type: ignore[misc]


# --- errors ----------------------------------------------------------------------------------------------

BAD_FILES = [
    ("malformed-toml", '[daemon]\ninterval = "30s"\nlisten = \n', 3, None, ["invalid TOML", "line 3, column"]),
    ("unknown-top-level-key", '[deamon]\ninterval = "30s"\n', 1, "deamon",
     ["unknown key 'deamon'", "did you mean 'daemon'?", "valid keys: daemon, defaults, endpoints, fallback"]),
    ("unknown-nested-key", '[[endpoints]]\nname = "a"\nschedul = { tz = "UTC" }\n', 3, "endpoints[0].schedul",
     ["unknown key 'schedul'", "did you mean 'schedule'?", "valid keys: adaptive, budget, fallback, fallback_when"]),
    ("unknown-key-in-inline-table", '[[endpoints]]\nname = "a"\nbudget = { daily = 5 }\n', 3,
     "endpoints[0].budget.daily", ["unknown key 'daily'", "did you mean 'daily_usd'?"]),
    ("bad-duration", '[defaults]\nmin_uptime = "5m"\nscale_to_zero_after = "15 minutes"\n', 3,
     "defaults.scale_to_zero_after", ['expected a duration such as "90s", "15m", "2h" or "1d"', "got '15 minutes'"]),
    ("duration-not-a-string", "[daemon]\ninterval = 30\n", 2, "daemon.interval",
     ['expected a duration such as "90s"', "got integer 30"]),
    ("min-uptime-cannot-be-off", '[defaults]\nmin_uptime = "off"\n', 2, "defaults.min_uptime",
     ['"0s" for none; it cannot be turned off', "got 'off'"]),
    ("bad-time-zone", '[[endpoints]]\nname = "a"\n\n[[endpoints]]\nname = "b"\n'
     'schedule = { tz = "Europe/Berln", active = ["Mon-Fri 08:00-19:00"] }\n', 6, "endpoints[1].schedule.tz",
     ["unknown time zone 'Europe/Berln' (expected an IANA name such as 'Europe/Berlin')", "did you mean"]),
    ("bad-window", '[[endpoints]]\nname = "a"\n\n[endpoints.schedule]\ntz = "UTC"\nactive = [\n'
     '  "Mon-Fri 08:00-19:00",\n  "Mon-Fry 08:00-19:00",\n]\n', 8, "endpoints[0].schedule.active[1]",
     ["unknown day in 'Mon-Fry'", 'expected a window such as "Mon-Fri 08:00-19:00"']),
    ("bad-window-time", '[[endpoints]]\nname = "a"\nschedule = { tz = "UTC", active = ["Mon 25:00-26:00"] }\n', 3,
     "endpoints[0].schedule.active[0]", ["'25:00' is not a time of day", "expected a window such as"]),
    ("schedule-without-windows", '[[endpoints]]\nname = "a"\nschedule = { tz = "UTC" }\n', 3,
     "endpoints[0].schedule", ["a schedule needs `active` windows or `cron_start`/`cron_stop`"]),
    ("bad-cron", '[[endpoints]]\nname = "a"\nschedule = { tz = "UTC", cron_start = "0 8 * *" }\n', 3,
     "endpoints[0].schedule.cron_start", ["expected a 5-field cron expression", "got '0 8 * *'"]),
    ("bad-holiday", '[[endpoints]]\nname = "a"\nschedule = { tz = "UTC", active = ["Sat 10:00-14:00"], '
     'holidays = ["25.12.2026"] }\n', 3, "endpoints[0].schedule.holidays[0]",
     ["expected a date such as 2026-12-25 or '2026-12-25'", "got '25.12.2026'"]),
    ("bad-prewarm", '[[endpoints]]\nname = "a"\nschedule = { tz = "UTC", active = ["Sat 10:00-14:00"], '
     'prewarm = "soon" }\n', 3, "endpoints[0].schedule.prewarm",
     ['expected "auto" or a duration such as "90s"', "got 'soon'"]),
    ("prewarm-over-a-day", '[[endpoints]]\nname = "a"\n\n[endpoints.schedule]\ntz = "UTC"\n'
     'cron_start = "0 8 * * *"\nprewarm = "2d"\n', 7, "endpoints[0].schedule.prewarm",
     ['(at most "1d"; "0s" resumes at the window start)', "got '2d'"]),
    ("negative-budget", '[[endpoints]]\nname = "a"\nbudget = { daily_usd = -5 }\n', 3,
     "endpoints[0].budget.daily_usd", ["expected a positive amount in US dollars", "got integer -5"]),
    ("budget-as-string", '[[endpoints]]\nname = "a"\nbudget = { monthly_usd = "400" }\n', 3,
     "endpoints[0].budget.monthly_usd", ["expected a positive amount in US dollars", "got '400'"]),
    ("budget-without-caps", '[[endpoints]]\nname = "a"\nbudget = { on_exceed = "warn" }\n', 3,
     "endpoints[0].budget", ["a budget needs daily_usd or monthly_usd"]),
    ("warn-at-above-one", '[[endpoints]]\nname = "a"\nbudget = { daily_usd = 1, warn_at = 1.5 }\n', 3,
     "endpoints[0].budget.warn_at", ["expected a fraction above 0 and at most 1", "got float 1.5"]),
    ("bad-on-exceed", '[[namespaces]]\nname = "my-org"\nbudget = { daily_usd = 5, on_exceed = "paus" }\n', 3,
     "namespaces[0].budget.on_exceed",
     ["expected one of 'warn', 'cap_replicas', 'scale_to_zero', 'pause'", "got 'paus'", "did you mean 'pause'?"]),
    ("bad-cap-replicas", '[[endpoints]]\nname = "a"\nbudget = { daily_usd = 1, cap_replicas = 0 }\n', 3,
     "endpoints[0].budget.cap_replicas", ["expected a whole number of at least 1, got integer 0"]),
    ("wrong-type", '[hf]\nnamespace = 5\n', 2, "hf.namespace", ["expected a string, got integer 5"]),
    ("wrong-type-bool", '[[endpoints]]\nname = "a"\nprotect = "yes"\n', 3, "endpoints[0].protect",
     ["expected true or false, got 'yes'"]),
    ("table-instead-of-array", '[endpoints]\nname = "a"\n', 1, "endpoints",
     ["expected an array of tables ([[endpoints]]), got a table"]),
    ("missing-name", '[[endpoints]]\nnamespace = "x"\n', 1, "endpoints[0].name",
     ["missing required key 'name'", "expected an endpoint name of 1 to 32 lowercase letters"]),
    ("bad-name", '[[endpoints]]\nname = "Phi3_Mini"\n', 2, "endpoints[0].name",
     ["expected an endpoint name of 1 to 32 lowercase letters, digits or hyphens", "got 'Phi3_Mini'"]),
    ("duplicate-endpoint", '[hf]\nnamespace = "my-org"\n\n[[endpoints]]\nname = "a"\n\n[[endpoints]]\n'
     'name = "a"\nnamespace = "my-org"\n', 8, "endpoints[1].name",
     ["endpoint 'my-org/a' is configured twice (lines 5 and 8)"]),
    ("duplicate-namespace", '[[namespaces]]\nname = "o"\nbudget = { daily_usd = 1 }\n[[namespaces]]\nname = "o"\n'
     "budget = { daily_usd = 2 }\n", 5, "namespaces[1].name", ["namespace 'o' is configured twice (lines 2 and 5)"]),
    ("token-in-file", '[hf]\nnamespace = "x"\ntoken = "hf_SECRET"\n', 3, "hf.token",
     ["never read from the configuration file", "HF_TOKEN", "hf auth login"]),
    ("token-anywhere", 'hf_token = "hf_SECRET"\n', 1, "hf_token", ["set HF_TOKEN or run `hf auth login`"]),
    ("bad-listen", '[daemon]\nlisten = "localhost"\n', 2, "daemon.listen",
     ["expected HOST:PORT such as '127.0.0.1:9465', got 'localhost'"]),
    ("lease-shorter-than-interval", '[daemon]\ninterval = "1m"\nlease_ttl = "30s"\n', 3, "daemon.lease_ttl",
     ["expected a duration longer than daemon.interval (1m), got '30s'"]),
    ("bad-log-format", '[daemon]\nlog_format = "yaml"\n', 2, "daemon.log_format", ["expected one of 'text', 'json'"]),
    ("bad-api-url", '[hf]\napi_url = "127.0.0.1:8765"\n', 2, "hf.api_url", ["expected an http(s) base URL"]),
    ("bad-db-url", '[ledger]\nurl = "mysql://u:SECRET@h/db"\n', 2, "ledger.url",
     ["expected a file path, 'sqlite:///PATH' or 'postgresql://", "got a 'mysql' URL"]),
    # issue 9, list 7: each of these was an OverflowError or a ValueError traceback
    ("huge-pause-after", '[defaults]\npause_after = "99999999999d"\n', 2, "defaults.pause_after",
     ['of at most 365d, got \'99999999999d\'']),
    ("huge-interval", '[daemon]\ninterval = "999999999d"\n', 2, "daemon.interval", ["of at most 1d"]),
    ("huge-lease", '[daemon]\nlease_ttl = "100000000000000000000000000000d"\n', 2, "daemon.lease_ttl",
     ["of at most 7d"]),
    ("huge-endpoint-stage", '[[endpoints]]\nname = "a"\nscale_to_zero_after = "9999999h"\n', 3,
     "endpoints[0].scale_to_zero_after", ["of at most 365d"]),
    ("db-port-not-a-number", '[ledger]\nurl = "postgresql://u:SECRET@h:notaport/db"\n', 2, "ledger.url",
     ["cannot parse the database URL postgresql://u:***@h:notaport/db", "notaport"]),
    ("db-in-memory", '[ledger]\nurl = "sqlite:///:memory:"\n', 2, "ledger.url",
     ["in-memory SQLite database, lost when epmgr exits"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "line", "key", "parts"), [case[1:] for case in BAD_FILES], ids=[c[0] for c in BAD_FILES]
)
def test_bad_files_name_file_line_key_and_what_is_expected(
    tmp_path: Path, text: str, line: int, key: str | None, parts: list[str]
) -> None:
    path = write(tmp_path, text, "bad.toml")
    error = fail(path)
    assert (error.source, error.line, error.key) == (str(path), line, key)
    message = str(error)
    assert message.startswith(f"{path}:{line}: " + (f"{key}: " if key else ""))
    for part in parts:
        assert part in message
    assert "SECRET" not in message
    assert error.exit_code == 2


@pytest.mark.parametrize(
    ("env", "options", "source", "key", "part"),
    [
        ({"EPMGR_HF_API_URL": "ftp://x"}, {}, "environment", "EPMGR_HF_API_URL", "expected an http(s) base URL"),
        ({"EPMGR_HF_API_URL": "http://h/?q=1"}, {}, "environment", "EPMGR_HF_API_URL", "got 'http://h/?q=1'"),
        ({"EPMGR_NAMESPACE": "my org"}, {}, "environment", "EPMGR_NAMESPACE", "expected a user or organisation"),
        ({"EPMGR_DB_URL": "oracle://u:SECRET@h"}, {}, "environment", "EPMGR_DB_URL", "got a 'oracle' URL"),
        ({}, {"namespace": "a/b"}, "command line", "--namespace", "got 'a/b'"),
        ({}, {"db_url": "mssql://h"}, "command line", "--db", "expected a file path"),
        ({"EPMGR_DB_URL": "postgresql://u:SECRET@h:99999/db"}, {}, "environment", "EPMGR_DB_URL", "out of range"),
        ({"EPMGR_DB_URL": "postgresql://u:SEC@RET@[::1/db"}, {}, "environment", "EPMGR_DB_URL", "u:***@[::1/db"),
        ({}, {"db_url": "sqlite://"}, "command line", "--db", "sqlite:// is an in-memory SQLite database"),
    ],
    ids=[
        "api-url-scheme",
        "api-url-query",
        "namespace",
        "db-url",
        "namespace-flag",
        "db-flag",
        "db-port",
        "db-malformed-password-masked",
        "db-in-memory",
    ],
)
def test_bad_environment_and_flags_name_the_variable(
    tmp_path: Path, env: dict[str, str], options: dict[str, str], source: str, key: str, part: str
) -> None:
    error = fail(write(tmp_path, ""), env, **options)
    assert (error.source, error.key, error.line) == (source, key, None)
    assert str(error).startswith(f"{source}: {key}: ") and part in str(error) and "SECRET" not in str(error)


def test_a_named_file_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    error = fail(missing)
    assert str(error) == f"{missing}: configuration file not found (named by --config; expected a TOML file)"
    error = fail(None, {"EPMGR_CONFIG": str(missing)})
    assert "named by EPMGR_CONFIG" in str(error) and error.exit_code == 2
    assert "is not a file" in str(fail(tmp_path))


def test_a_file_that_is_not_utf8_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[hf]\nnamespace = "m\xfcller"\n')
    assert "not UTF-8 text" in str(fail(path))


def test_bad_configuration_exits_2_through_the_cli(tmp_path: Path) -> None:
    @click.group(cls=EpmgrGroup)
    def group() -> None:
        """A fresh group, so the test does not depend on other commands."""

    @group.command()
    @click.option("--config", "config_path")
    def check(config_path: str | None) -> None:
        load_settings(config_path, env={})
        click.echo("ok")

    bad = write(tmp_path, '[defaults]\npause_after = "15 minutes"\n')
    result = CliRunner().invoke(group, ["check", "--config", str(bad)])
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {bad}:2: defaults.pause_after: expected a duration such as "
        '"90s", "15m", "2h" or "1d" (or "off" to turn it off), got \'15 minutes\'\n'
    )
    good = write(tmp_path, '[defaults]\npause_after = "15m"\n', "good.toml")
    assert CliRunner().invoke(group, ["check", "--config", str(good)]).output == "ok\n"


# --- the line locator ------------------------------------------------------------------------------------

LOCATOR_TEXT = """\
# comment with key = "x"
top = 1
[hf]
namespace = "a"  # trailing [comment]
[[endpoints]]
name = "a"
schedule = { tz = "UTC", active = ["Mon 08:00-09:00"] }
[[endpoints]]
name = "b"
notes = \"\"\"
name = "not a key"
[not.a.header]
\"\"\"
active = [
  "Mon 08:00-09:00",  # first
  "Tue 08:00-09:00", "Wed 08:00-09:00",
  "Thu 08:00-09:00",
]
[endpoints.budget]
daily_usd = 5
"quoted key" = 1
dotted.key = 2
"""


@pytest.mark.parametrize(
    ("path", "line"),
    [
        (("top",), 2),
        (("hf",), 3),
        (("hf", "namespace"), 4),
        (("hf", "missing"), 3),
        (("endpoints", 0), 5),
        (("endpoints", 0, "name"), 6),
        (("endpoints", 0, "schedule", "tz"), 7),
        (("endpoints", 0, "schedule", "active", 0), 7),
        (("endpoints", 1), 8),
        (("endpoints", 1, "name"), 9),
        (("endpoints", 1, "active"), 14),
        (("endpoints", 1, "active", 0), 15),
        (("endpoints", 1, "active", 1), 16),
        (("endpoints", 1, "active", 2), 16),
        (("endpoints", 1, "active", 3), 17),
        (("endpoints", 1, "budget", "daily_usd"), 20),
        (("endpoints", 1, "budget", "quoted key"), 21),
        (("endpoints", 1, "budget", "dotted", "key"), 22),
        (("endpoints", 2), None),
        (("nowhere",), None),
    ],
    ids=lambda value: str(value),
)
def test_locate_finds_the_line_of_a_key(path: tuple[str | int, ...], line: int | None) -> None:
    assert locate(LOCATOR_TEXT, path) == line


@given(
    sections=st.lists(
        st.lists(st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True), min_size=1, max_size=4, unique=True),
        min_size=1,
        max_size=4,
    )
)
def test_locate_agrees_with_a_generated_layout(sections: list[list[str]]) -> None:
    lines: list[str] = []
    expected: dict[tuple[str | int, ...], int] = {}
    for index, keys in enumerate(sections):
        lines.append("[[endpoints]]")
        expected[("endpoints", index)] = len(lines)
        for key in keys:
            lines.append(f'{key} = "value"  # {key} = 0')
            expected[("endpoints", index, key)] = len(lines)
    text = "\n".join(lines)
    for path, line in expected.items():
        assert locate(text, path) == line


def test_every_key_is_documented() -> None:
    from epmgr.config import _KEYS

    docs = (EXAMPLE.parents[1] / "docs" / "configuration.md").read_text(encoding="utf-8")
    for section, keys in _KEYS.items():
        for key in keys:
            written = (f"`[{key}]`", f"`[[{key}]]`") if section == "" else (f"`{key}`",)
            assert any(form in docs for form in written), f"{section or 'top level'}: {key} is not documented"
    for variable in ("EPMGR_CONFIG", "EPMGR_DB_URL", "EPMGR_NAMESPACE", "EPMGR_HF_API_URL", "HF_TOKEN"):
        assert f"`{variable}`" in docs


def test_a_wrong_file_value_is_an_error_even_when_overridden(tmp_path: Path) -> None:
    path = write(tmp_path, '[hf]\nnamespace = "bad name"\n')
    error = fail(path, {"EPMGR_NAMESPACE": "good"}, namespace="better")
    assert (error.line, error.key) == (2, "hf.namespace")
