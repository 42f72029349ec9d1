"""The proxy's fallbacks: an endpoint whose ``epmgr.toml`` entry has a ``fallback`` chain is answered by it while
it sleeps (woken in the background), is over budget or fails, for any HTTP client (``X-Epmgr-Served-By``).

Served by a fallback: ``POST /{endpoint}/v1/chat/completions`` (OpenAI chat, not streamed) and TGI's
``POST /{endpoint}`` / ``/{endpoint}/generate`` (``{"inputs": ...}``, the prompt unchanged). Anything else (streams,
other routes) goes to the endpoint itself, as without a chain.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from typing import Any

from starlette.responses import JSONResponse, Response

from epmgr.domain.fallback import PRIMARY
from epmgr.errors import EpmgrError
from epmgr.fallback.chain import FallbackClient

SERVED_BY_HEADER = "X-Epmgr-Served-By"
Chains = dict[str, tuple[tuple[str, ...], frozenset[Any]]]


class ProxyFallbacks:
    """One :class:`FallbackClient` per endpoint with a configured chain, built on first use."""

    def __init__(self, chains: Chains | None = None, build: Callable[[str], FallbackClient] | None = None) -> None:
        if chains is None:
            from epmgr.config import load_fallbacks

            chains = load_fallbacks().chains
        self.chains = chains
        self._build = build or self._default_build
        self._clients: dict[str, FallbackClient] = {}
        self._lock = threading.Lock()

    def _default_build(self, name: str) -> FallbackClient:
        specs, when = self.chains[name]
        return FallbackClient(name, fallback=list(specs), fallback_when=[w.value for w in when], client_id="proxy")

    def _chain(self, name: str) -> FallbackClient | None:
        if name not in self.chains:
            return None
        with self._lock:
            if name not in self._clients:
                self._clients[name] = self._build(name)
            return self._clients[name]

    async def answer(self, name: str, path: str, method: str, body: bytes) -> Response | None:
        """A fallback's answer, or None: the request goes to the endpoint (``X-Epmgr-Served-By: primary``)."""
        kind = _kind(path, method)
        if kind is None or name not in self.chains:
            return None
        try:
            payload = json.loads(body or b"null")
        except ValueError:
            return None
        if not isinstance(payload, dict) or payload.get("stream"):
            return None
        chain = await asyncio.to_thread(self._chain, name)
        assert chain is not None
        decided = await asyncio.to_thread(chain.route)
        if not decided.fallback:
            return None
        return await asyncio.to_thread(self._serve, chain, kind, payload, path)

    def _serve(self, chain: FallbackClient, kind: str, payload: dict[str, Any], path: str) -> Response:
        try:
            if kind == "chat":
                messages = payload.get("messages") or []
                params = {k: v for k, v in payload.items() if k not in ("messages", "model", "stream")}
                answer = chain.chat_completion(messages, **params)
                content: Any = dict(answer)
            else:
                params = payload.get("parameters") or {}
                text = chain.text_generation(str(payload.get("inputs", "")), **params)
                generated = {"generated_text": str(text)}
                content = [generated] if not path.strip("/") else generated
        except EpmgrError as exc:
            return JSONResponse({"error": str(exc)}, status_code=503, headers={SERVED_BY_HEADER: "none"})
        served_by = chain.last_served_by or PRIMARY
        return JSONResponse(content, headers={SERVED_BY_HEADER: served_by, "X-Epmgr-Cold-Start": "true"})

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()


def _kind(path: str, method: str) -> str | None:
    if method != "POST":
        return None
    clean = path.strip("/")
    if clean in ("v1/chat/completions", "chat/completions"):
        return "chat"
    if clean in ("", "generate"):
        return "text"
    return None
