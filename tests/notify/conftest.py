"""Real receivers for the notification tests: an HTTP server that can be down, and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from epmgr.clock import FakeClock
from epmgr.ledger import Ledger, open_ledger
from tests.conftest import T0

SECRET_PATH = "/services/T0001/B0002/s3cr3t-hook-Xy9"  # what a Slack incoming-webhook URL hides in its path


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1: records what it gets; answers ``status`` (503 while "down")."""

    status: int = 200
    hits: int = 0
    got: threading.Event = field(default_factory=threading.Event)
    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}{SECRET_PATH}"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the http.server API)
                length = int(self.headers.get("Content-Length", 0))
                data = json.loads(self.rfile.read(length) or b"{}")
                receiver.hits += 1
                if receiver.status < 300:
                    receiver.received.append((self.path, data))
                    receiver.got.set()
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    found.start()
    yield found
    found.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    store = open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    yield store
    store.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)
