"""The local reverse proxy (`epmgr proxy`): any HTTP client can use a sleeping endpoint. See docs/proxy.md."""

from epmgr.proxy.app import ProxyConfig, create_app
from epmgr.proxy.server import ProxyServer

__all__ = ["ProxyConfig", "ProxyServer", "create_app"]
