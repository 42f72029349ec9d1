"""Is a dedicated endpoint serving right now? One GET of its health route, never a wake and never a wait."""

from __future__ import annotations

from typing import Any

import httpx

PROBE_TIMEOUT = httpx.Timeout(3.0)


def health_route(client: Any) -> str:
    """The endpoint's health route as epmgr's client knows it (``/health`` by default)."""
    parts = getattr(client, "parts", None)
    waker = getattr(parts, "waker", None)
    route = getattr(waker, "health_route", None)
    return route if isinstance(route, str) and route else "/health"


def health_ok(client: Any, url: str) -> bool:
    """True when ``GET {url}{health route}`` answers 200 within a few seconds (no connection: False)."""
    parts = getattr(client, "parts", None)
    token = getattr(parts, "token", None)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = httpx.get(f"{url.rstrip('/')}/{health_route(client).lstrip('/')}", headers=headers,
                             timeout=PROBE_TIMEOUT)  # fmt: skip
    except httpx.HTTPError:
        return False
    return response.status_code == 200
