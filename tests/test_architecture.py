"""The domain stays pure: standard library only, no I/O, no clock of its own."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parents[1] / "epmgr" / "domain"

FORBIDDEN_MODULES = {
    "sqlalchemy", "alembic", "httpx", "huggingface_hub", "apscheduler", "click", "starlette", "uvicorn",
    "langchain_core", "langchain_huggingface", "psycopg", "sqlite3", "socket", "subprocess", "requests",
    "urllib", "http", "asyncio", "threading", "multiprocessing", "shutil", "tempfile", "logging", "os",
    "pathlib", "io",
}  # fmt: skip
FORBIDDEN_NAMES = {"open", "print", "input", "exec", "eval"}  # called bare
FORBIDDEN_METHODS = {"now", "utcnow", "today", "sleep", "getenv", "monotonic", "perf_counter", "time_ns"}


def violations(source: str, filename: str = "<source>") -> list[str]:
    """Forbidden imports and I/O or clock calls in one module's source."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [node.module]
        for module in modules:
            if module.split(".")[0] in FORBIDDEN_MODULES:
                found.append(f"{filename}:{getattr(node, 'lineno', 0)}: imports {module}")
        if isinstance(node, ast.Call):
            func = node.func
            bare = isinstance(func, ast.Name) and func.id in FORBIDDEN_NAMES
            clock = isinstance(func, ast.Attribute) and (
                func.attr in FORBIDDEN_METHODS
                or (func.attr == "time" and isinstance(func.value, ast.Name) and func.value.id == "time")
            )
            if bare or clock:
                found.append(f"{filename}:{node.lineno}: calls {ast.unparse(func)}()")
    return found


@pytest.mark.parametrize(
    "source",
    [
        "import sqlalchemy",
        "from httpx import Client",
        "import huggingface_hub.errors",
        "from apscheduler.triggers.cron import CronTrigger",
        "import click",
        "x = open('ledger.db')",
        "from datetime import datetime\nt = datetime.now()",
        "import time\ntime.sleep(1)",
        "import time\nstarted = time.time()",
    ],
)
def test_the_check_catches_what_it_forbids(source: str) -> None:
    assert violations(source)


def test_domain_modules_import_nothing_effectful() -> None:
    files = sorted(DOMAIN.rglob("*.py"))
    assert files, "the domain package is missing"
    problems = [v for f in files for v in violations(f.read_text(), str(f.relative_to(DOMAIN.parent.parent)))]
    assert problems == []


def test_importing_the_domain_loads_no_effectful_library() -> None:
    modules = sorted(f"epmgr.domain.{p.stem}" for p in DOMAIN.glob("*.py") if p.stem != "__init__")
    script = (
        "import sys, importlib\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "heavy = {'sqlalchemy', 'httpx', 'huggingface_hub', 'apscheduler', 'click', 'starlette', 'uvicorn'}\n"
        "print(sorted(heavy & {name.split('.')[0] for name in sys.modules}))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True)
    assert result.stdout.strip() == "[]"


EMULATOR = DOMAIN.parent / "emulator"
EMULATOR_MAY_IMPORT = ("epmgr.emulator", "epmgr.clock", "epmgr.catalog", "epmgr.background_server")


def test_the_emulator_models_hugging_face_not_epmgr() -> None:
    """The emulator imports nothing of epmgr but the clock, the published catalog and the server plumbing."""
    problems = []
    for path in sorted(EMULATOR.rglob("*.py")) + [DOMAIN.parent / "catalog.py"]:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules = [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            for module in modules:
                if module.startswith("epmgr") and not module.startswith(EMULATOR_MAY_IMPORT):
                    problems.append(f"{path.name}:{node.lineno}: imports {module}")
    assert problems == []


def test_importing_the_client_loads_no_database_or_cli_library() -> None:
    """``import epmgr.client`` loads neither SQLAlchemy nor Alembic, nor click beyond what ``import httpx`` loads
    itself (httpx 0.28 imports click for its own command line): the ledger and the CLI come with first use."""
    script = (
        "import sys\n"
        "import httpx\n"
        "base = {name.split('.')[0] for name in sys.modules}\n"
        "import epmgr.client\n"
        "added = {name.split('.')[0] for name in sys.modules} - base\n"
        "print(' '.join(sorted(added & {'sqlalchemy', 'alembic', 'click', 'psycopg', 'apscheduler'})) or '-')\n"
    )
    result = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True)
    assert result.stdout.strip() == "-"


TESTS = Path(__file__).resolve().parent
SOURCE = DOMAIN.parent
CROSS_CUTTING = {"benchmarks", "cost", "deploy", "realtime", "scripts"}  # named in tests/__init__.py


def mirrors(name: str) -> bool:
    """Whether ``name`` is a package or a module of epmgr."""
    return (SOURCE / name / "__init__.py").is_file() or (SOURCE / f"{name}.py").is_file()


def test_tests_mirror_the_source_tree() -> None:
    """Every test folder is an epmgr package or module, or a named cross-cutting suite; every top-level test
    module tests a top-level epmgr module (``tests/test_config.py`` for ``epmgr/config.py``)."""
    folders = sorted(p.name for p in TESTS.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))
    assert [f for f in folders if not mirrors(f) and f not in CROSS_CUTTING] == []
    assert sorted(CROSS_CUTTING - set(folders)) == []  # a suite that is gone leaves the list too
    described = (TESTS / "__init__.py").read_text(encoding="utf-8")
    assert [s for s in sorted(CROSS_CUTTING) if f"``{s}/``" not in described] == []
    modules = sorted(p.stem.removeprefix("test_") for p in TESTS.glob("test_*.py"))
    assert [m for m in modules if not mirrors(m) and m != "architecture"] == []
