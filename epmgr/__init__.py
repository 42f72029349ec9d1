"""epmgr: lifecycle manager with cost control for Hugging Face dedicated Inference Endpoints."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from epmgr.client import AsyncEndpointClient, AsyncWakingTransport, EndpointClient, WakingTransport

_CLIENT_NAMES = ("AsyncEndpointClient", "AsyncWakingTransport", "EndpointClient", "WakingTransport")


def __getattr__(name: str) -> Any:
    """The client classes, imported on first use (``import epmgr`` stays light)."""
    if name in _CLIENT_NAMES:
        import epmgr.client

        return getattr(epmgr.client, name)
    raise AttributeError(f"module 'epmgr' has no attribute {name!r}")


__all__ = ["AsyncEndpointClient", "AsyncWakingTransport", "EndpointClient", "WakingTransport", "__version__"]
