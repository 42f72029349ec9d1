"""Serving the proxy with uvicorn: in a background thread (:class:`ProxyServer`, tests and demos) or blocking.

The HTTP stack is uvicorn's fast one where it is installed: ``httptools`` (the C HTTP parser) and ``uvloop`` (the
libuv event loop), dependencies of epmgr on Linux and macOS; else the pure-Python ``h11`` and ``asyncio``. uvicorn's
access log (a line per request) is off: every request is recorded in the ledger. Measured in
``benchmarks/proxy_speed.py`` (docs/benchmarks.md): the stack, not epmgr's code, is most of a proxied call's cost.
"""

from __future__ import annotations

import errno
import importlib.util
import socket
from collections.abc import Callable
from types import TracebackType
from typing import Any

import uvicorn

from epmgr.background_server import BackgroundServer, base_url, is_loopback
from epmgr.errors import ConfigError
from epmgr.proxy.app import ProxyConfig, create_app

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8766


def fast_stack() -> dict[str, Any]:
    """uvicorn's settings: httptools and uvloop when installed (else h11 and asyncio), no access log."""
    have = importlib.util.find_spec
    return {
        "http": "httptools" if have("httptools") else "h11",
        "loop": "uvloop" if have("uvloop") else "asyncio",
        "access_log": False,
    }


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
        self._background = BackgroundServer(self.app, host=host, port=port, name="epmgr-proxy")

    @property
    def url(self) -> str:
        return self._background.url

    def start(self) -> ProxyServer:
        self._background.start()
        return self

    def stop(self) -> None:
        self._background.stop()

    def __enter__(self) -> ProxyServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def check_port(port: int) -> int:
    """A TCP port from 1 to 65535, or ConfigError naming ``--port``."""
    if not 1 <= port <= 65535:
        raise ConfigError(f"expected a TCP port from 1 to 65535, got {port}", key="--port", source="command line")
    return port


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port``, or one line saying why not (port in use, no such address)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        reason = "the port is in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
        raise ConfigError(
            f"cannot listen on {host}:{port}: {reason}", key="--host/--port", source="command line"
        ) from None
    return sock


def serve(
    config: ProxyConfig,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    announce: Callable[[str], None] | None = None,
    stack: dict[str, Any] | None = None,
) -> None:
    """Serve in the foreground until interrupted (the socket is bound first: a busy port is one clear line).

    ``announce`` gets the base URL once the socket is bound; ``stack`` overrides :func:`fast_stack` (benchmarks).
    """
    check_bind(host, config)
    sock = listen(host, check_port(port))
    if announce is not None:
        announce(base_url(host, port))
    options = stack or fast_stack()
    server = uvicorn.Server(uvicorn.Config(create_app(config), log_level="info", ws="none", **options))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
