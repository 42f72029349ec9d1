"""Serving the proxy with uvicorn: in a background thread (:class:`ProxyServer`, tests and demos) or blocking."""

from __future__ import annotations

from types import TracebackType

import uvicorn

from epmgr.errors import ConfigError
from epmgr.proxy.app import ProxyConfig, create_app
from epmgr.serving import BackgroundServer, is_loopback

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


def serve(config: ProxyConfig, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    """Serve in the foreground until interrupted."""
    check_bind(host, config)
    uvicorn.run(create_app(config), host=host, port=port, log_level="info", ws="none")
