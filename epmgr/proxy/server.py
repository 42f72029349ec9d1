"""Serving the proxy with uvicorn: in a background thread (:class:`ProxyServer`, tests and demos) or blocking."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import uvicorn

from epmgr.emulator.server import is_loopback
from epmgr.errors import ConfigError
from epmgr.proxy.app import ProxyConfig, create_app

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8766


def check_bind(host: str, config: ProxyConfig) -> None:
    """Refuse a non-loopback address without an API key (the proxy spends the HF token for its callers)."""
    if not is_loopback(host) and not config.api_key:
        raise ConfigError(
            f"refusing to listen on {host!r} without an API key: set --api-key (or EPMGR_PROXY_API_KEY)",
            key="--host",
            source="command line",
        )


class ProxyServer:
    """The proxy on a loopback socket in a background thread.

    Example:
        >>> with ProxyServer(ProxyConfig()) as proxy:  # doctest: +SKIP
        ...     openai.OpenAI(base_url=f"{proxy.url}/phi3-mini/v1", api_key="unused")
    """

    def __init__(self, config: ProxyConfig | None = None, *, host: str = DEFAULT_HOST, port: int = 0) -> None:
        self.config = config or ProxyConfig()
        check_bind(host, self.config)
        self.host = host
        self.app = create_app(self.config)
        self._port = port
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._socket is not None, "the proxy is not started"
        return f"http://{self.host}:{self._socket.getsockname()[1]}"

    def start(self) -> ProxyServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._port))
        self._socket = sock
        config = uvicorn.Config(self.app, log_config=None, log_level="warning", access_log=False, ws="none")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="epmgr-proxy", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the proxy did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = None
        self._socket = None

    def __enter__(self) -> ProxyServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def serve(config: ProxyConfig, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    """Serve in the foreground until interrupted."""
    check_bind(host, config)
    uvicorn.run(create_app(config), host=host, port=port, log_level="info", ws="none")
