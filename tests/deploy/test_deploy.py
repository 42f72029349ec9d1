"""The files in deploy/: the systemd unit verifies, the image builds and runs as non-root, the alert rules name
metrics the daemon really exports, and no secret is written in any of them."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML comes with huggingface_hub; its stubs are not needed

from epmgr.daemon import Metrics

DEPLOY = Path(__file__).parents[2] / "deploy"
ROOT = DEPLOY.parent
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
DOCKER = shutil.which("docker")


def verify_unit(text: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`systemd-analyze verify` on ``text``, with ExecStart pointed at this venv's epmgr (so the path exists)."""
    unit = tmp_path / "epmgr.service"
    unit.write_text(text.replace("/opt/epmgr/bin/epmgr", str(Path(sys.executable).parent / "epmgr")))
    return subprocess.run([SYSTEMD_ANALYZE or "", "verify", str(unit)], capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed (Debian package: systemd)")
def test_the_systemd_unit_verifies_cleanly(tmp_path: Path) -> None:
    result = verify_unit((DEPLOY / "epmgr.service").read_text(), tmp_path)
    about_ours = [line for line in (result.stdout + result.stderr).splitlines() if "epmgr.service" in line]
    assert result.returncode == 0 and about_ours == [], result.stdout + result.stderr


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed (Debian package: systemd)")
def test_the_unit_check_catches_a_mistake(tmp_path: Path) -> None:
    broken = (DEPLOY / "epmgr.service").read_text().replace("ProtectSystem=strict", "ProtectSystem=strictest")
    result = verify_unit(broken, tmp_path)
    assert "protect system value" in result.stdout + result.stderr


def test_the_unit_is_hardened_and_reads_the_token_from_an_environment_file() -> None:
    unit = (DEPLOY / "epmgr.service").read_text()
    for line in ("User=epmgr", "ProtectSystem=strict", "NoNewPrivileges=yes", "Restart=on-failure",
                 "EnvironmentFile=/etc/epmgr/epmgr.env", "KillSignal=SIGTERM"):  # fmt: skip
        assert f"\n{line}\n" in unit, line
    assert not re.search(r"^Environment=.*(TOKEN|PASSWORD)", unit, re.M)


def docker_works() -> str | None:
    """None when a docker daemon answers, else why not."""
    if DOCKER is None:
        return "docker is not installed"
    info = subprocess.run([DOCKER, "info"], capture_output=True, text=True, timeout=60)
    if info.returncode != 0:
        return f"no docker daemon: {(info.stderr.strip().splitlines() or ['docker info failed'])[-1]}"
    return None


@pytest.mark.timeout(1800)
def test_the_docker_image_builds_and_runs_as_a_non_root_user() -> None:
    reason = docker_works()
    if reason:
        pytest.skip(reason)
    tag = "epmgr:test"
    build = subprocess.run(
        [DOCKER or "", "build", "-f", str(DEPLOY / "Dockerfile"), "-t", tag, str(ROOT)],
        capture_output=True, text=True, timeout=1700, env={**os.environ, "DOCKER_BUILDKIT": "1"},
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-3000:]
    version = subprocess.run([DOCKER or "", "run", "--rm", tag, "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.startswith("epmgr"), version.stderr
    uid = subprocess.run([DOCKER or "", "run", "--rm", "--entrypoint", "id", tag, "-u"], capture_output=True, text=True)
    assert uid.stdout.strip() not in ("", "0")


def test_the_dockerfile_is_non_root_with_a_healthcheck_and_no_secret() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^USER epmgr$", dockerfile, re.M)
    assert "HEALTHCHECK" in dockerfile and "/healthz" in dockerfile
    assert not re.search(r"^(ENV|ARG)\b.*(TOKEN|PASSWORD)", dockerfile, re.M)


def exported_metrics() -> set[str]:
    names = set()
    for metric in Metrics().registry.collect():
        names.add(metric.name)
        if metric.type == "counter":
            names.add(f"{metric.name}_total")
    return names


def test_every_alert_rule_names_metrics_the_daemon_exports() -> None:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "epmgr-rules.yml").read_text())["groups"][0]["rules"]
    exported = exported_metrics()
    alerts = {rule["alert"] for rule in rules}
    assert {"EpmgrDaemonStuck", "EpmgrActionFailed", "EpmgrBudgetAt80Percent"} <= alerts
    for rule in rules:
        used = set(re.findall(r"\bepmgr_[a-z_]+", rule["expr"]))
        assert used <= exported, (rule["alert"], used - exported)
        assert rule["annotations"]["summary"] and rule["labels"]["severity"] in ("warning", "critical")


def test_compose_shares_one_postgres_ledger_and_takes_secrets_from_the_environment() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "migrate", "epmgr"}
    assert services["epmgr"]["deploy"]["replicas"] >= 2
    url = services["epmgr"]["environment"]["EPMGR_DB_URL"]
    assert url.startswith("postgresql+psycopg://") and "${EPMGR_PG_PASSWORD" in url
    assert services["epmgr"]["environment"]["HF_TOKEN"].startswith("${HF_TOKEN")
    assert services["migrate"]["command"] == ["db", "upgrade"]
    assert services["epmgr"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
