"""What the soak parts share: an emulator that records the management calls it applied, daemon processes, and a
harness that keeps waking endpoints so the daemon always has something to do."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from epmgr.adapters.hf import HfEndpointsAPI
from epmgr.domain.backoff import Backoff
from epmgr.domain.model import ActionRecord, Actor, EndpointSpec, EndpointState, Instance, Outcome
from epmgr.emulator import DEMO_TOKEN, DEMO_USER, EmulatorServer, EmulatorTimings
from epmgr.errors import EpmgrError

HARNESS_TOKEN = "hf_soak_harness_token"  # the harness's own calls, told apart from the daemon's
FAST = EmulatorTimings(pending=0.1, initializing=0.3, scale_up=0.3, update=0.2, minute=0.5)
CPU = Instance("aws", "us-east-1", "cpu", "intel-spr", "x1")
_ACTION = re.compile(r"^/v2/endpoint/([^/]+)/([^/]+)/(pause|resume|scale-to-zero)$")


@dataclass(frozen=True)
class SeenCall:
    """A management action the emulator applied (2xx), with its server-side window (monotonic seconds)."""

    name: str
    action: str  # pause, resume, scale_to_zero
    start: float
    end: float


class Recorder:
    """ASGI middleware: records every action call that is not the harness's and that the emulator applied."""

    def __init__(self, app: ASGIApp, calls: list[SeenCall]) -> None:
        self.app, self.calls = app, calls

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _ACTION.match(scope.get("path", "")) if scope["type"] == "http" else None
        headers = dict(scope.get("headers") or [])
        if match is None or scope["method"] != "POST" or HARNESS_TOKEN.encode() in headers.get(b"authorization", b""):
            await self.app(scope, receive, send)
            return
        start = time.monotonic()

        async def recording(message: Message) -> None:
            if message["type"] == "http.response.start" and 200 <= message["status"] < 300:
                self.calls.append(SeenCall(match[2], match[3].replace("-", "_"), start, time.monotonic()))
            await send(message)

        await self.app(scope, receive, recording)


def recording_emulator(**options: Any) -> tuple[EmulatorServer, list[SeenCall]]:
    """An emulator (not started) that records the daemon's action calls, accepting the harness token too."""
    server = EmulatorServer(tokens=(DEMO_TOKEN, HARNESS_TOKEN), access_log=False, **options)
    calls: list[SeenCall] = []
    server.app.add_middleware(Recorder, calls=calls)
    return server, calls


def harness_api(server: EmulatorServer) -> HfEndpointsAPI:
    return HfEndpointsAPI(token=HARNESS_TOKEN, namespace=DEMO_USER, api_url=server.url,
                          backoff=Backoff(base_s=0.01, cap_s=0.05, attempts=20, max_retry_after_s=0.05))  # fmt: skip


def create_endpoints(api: HfEndpointsAPI, names: Iterable[str]) -> None:
    for name in names:
        api.create(EndpointSpec(name=name, repository="openai-community/gpt2", instance=CPU))


class Waker(threading.Thread):
    """Resumes every endpoint the daemon scaled to zero or paused, so that it keeps deciding and acting."""

    def __init__(self, api: HfEndpointsAPI, every_s: float = 0.2) -> None:
        super().__init__(name="soak-waker", daemon=True)
        self.api, self.every_s, self.stop = api, every_s, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(self.every_s):
            try:
                for snapshot in self.api.list_endpoints():
                    if snapshot.state in (EndpointState.SCALED_TO_ZERO, EndpointState.PAUSED):
                        self.api.resume(snapshot.ref.name)
            except EpmgrError:
                continue


def daemon_config(path: Path, names: Iterable[str], *, interval: str, lease: str, idle: str = "1s") -> Path:
    body = f'[daemon]\ninterval = "{interval}"\nlease_ttl = "{lease}"\n[defaults]\n'
    body += f'scale_to_zero_after = "{idle}"\npause_after = "off"\nmin_uptime = "0s"\ntraffic = "epmgr"\n'
    body += "".join(f'[[endpoints]]\nname = "{name}"\n' for name in names)
    path.write_text(body)
    return path


@dataclass
class DaemonProc:
    """`epmgr daemon` in a subprocess, its JSON log lines collected as they come."""

    popen: subprocess.Popen[str]
    lines: list[dict[str, Any]] = field(default_factory=list)
    reader: threading.Thread | None = None

    @classmethod
    def start(cls, server: EmulatorServer, db_url: str, config: Path, home: Path, listen: str = "off") -> DaemonProc:
        env = {**os.environ, "HF_TOKEN": DEMO_TOKEN, "EPMGR_HF_API_URL": server.url, "EPMGR_NAMESPACE": DEMO_USER,
               "HF_HOME": str(home)}  # fmt: skip
        args = [sys.executable, "-m", "epmgr", "--db", db_url, "--config", str(config), "daemon", "--log-format",
                "json", "--listen", listen]  # fmt: skip
        return cls.spawn(args, env)

    @classmethod
    def spawn(cls, args: list[str], env: dict[str, str]) -> DaemonProc:
        """Run ``args`` (an ``epmgr daemon --log-format json`` command line) and collect its log lines."""
        proc = cls(subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
        proc.reader = threading.Thread(target=proc._read, daemon=True)
        proc.reader.start()
        return proc

    def _read(self) -> None:
        assert self.popen.stderr is not None
        for line in self.popen.stderr:
            try:
                self.lines.append(json.loads(line))
            except ValueError:
                self.lines.append({"msg": line.rstrip()})

    def said(self, text: str) -> bool:
        return any(text in str(line.get("msg")) for line in list(self.lines))

    def wait_for(self, text: str, timeout: float) -> bool:
        ends = time.monotonic() + timeout
        while time.monotonic() < ends and self.popen.poll() is None:
            if self.said(text):
                return True
            time.sleep(0.02)
        return self.said(text)

    def end(self, timeout: float = 10) -> int:
        """Wait up to ``timeout`` for the process to exit (then kill it); close its pipe; its exit code."""
        try:
            code = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            code = self.popen.wait(timeout=10)
        if self.reader is not None:
            self.reader.join(timeout=5)
        if self.popen.stderr is not None:
            self.popen.stderr.close()
        return code


@dataclass(frozen=True)
class AuditCheck:
    """The emulator's applied actions against the audit log, endpoint by endpoint."""

    seen: int
    audited: int
    missing: int  # applied by the emulator, no audit entry
    duplicated: int  # more audit entries saying "done" than calls the emulator applied
    left_started: int
    reconciled: int


def check_audit(calls: list[SeenCall], actions: list[ActionRecord], action: str = "scale_to_zero") -> AuditCheck:
    ours = [a for a in actions if a.actor == Actor.DAEMON and a.action.value == action]
    done = [a for a in ours if a.outcome in (Outcome.OK, Outcome.UNKNOWN)]
    missing = duplicated = 0
    for name in {c.name for c in calls} | {a.ref.name for a in done}:
        applied = sum(1 for c in calls if c.name == name and c.action == action)
        audited = sum(1 for a in done if a.ref.name == name)
        missing += max(applied - audited, 0)
        duplicated += max(audited - applied, 0)
    return AuditCheck(
        seen=sum(1 for c in calls if c.action == action),
        audited=len(done),
        missing=missing,
        duplicated=duplicated,
        left_started=sum(1 for a in ours if a.outcome == Outcome.STARTED),
        reconciled=sum(1 for a in ours if (a.detail or "").startswith("reconciled")),
    )
