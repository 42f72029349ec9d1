"""Serving an ASGI app with uvicorn on a loopback socket in a background thread (emulator, proxy, tests)."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn

STARTUP_TIMEOUT_SECONDS = 10.0


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def base_url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


class BackgroundServer:
    """``app`` served by uvicorn on ``host:port`` (0 picks a free port) in a daemon thread.

    ``graceful_shutdown_s`` cuts requests still open that long after ``stop()`` (None: wait for them);
    ``lifespan`` runs the app's startup and shutdown hooks (the proxy closes its upstream clients there).

    Example:
        >>> with BackgroundServer(app, name="my-app") as server:  # doctest: +SKIP
        ...     httpx.get(server.url)
    """

    def __init__(
        self,
        app: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        name: str = "epmgr-server",
        graceful_shutdown_s: int | None = None,
        lifespan: bool = True,
    ) -> None:
        self.app = app
        self.graceful_shutdown_s = graceful_shutdown_s
        self.lifespan = lifespan
        self.host = host
        self.name = name
        self._port = port
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` of the running server."""
        if self._socket is None:
            raise RuntimeError(f"{self.name} is not started")
        return base_url(self.host, self._socket.getsockname()[1])

    @property
    def started(self) -> bool:
        return self._thread is not None

    def start(self) -> BackgroundServer:
        """Bind the socket and start serving; returns once the server accepts connections."""
        if self._thread is not None:
            raise RuntimeError(f"{self.name} is already started")
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted sockets only when proto says TCP, and
        # without it every response waits ~40 ms for a delayed ACK (headers and body are separate writes).
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self._port))
        except OSError:
            sock.close()
            raise
        self._socket = sock
        config = uvicorn.Config(
            self.app,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="on" if self.lifespan else "off",
            ws="none",
            timeout_graceful_shutdown=self.graceful_shutdown_s,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name=self.name, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread to end (open requests are cut after about a second)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=STARTUP_TIMEOUT_SECONDS)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = None
        self._socket = None

    def __enter__(self) -> BackgroundServer:
        return self if self.started else self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
