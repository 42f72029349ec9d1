"""Each endpoint's URL on the emulator: its health route and TGI / OpenAI-chat inference.

A request reaches ``/e/{endpoint_id}/...``. What it gets depends on the endpoint's state at that instant:

- running: the answer (and the idle timer restarts);
- paused: 400 ``Bad Request: Invalid state``;
- scaledToZero: a scale-up starts, then as for initializing;
- pending, initializing, updating, failed: 503, unless ``X-Scale-Up-Timeout: N`` asks to hold the request
  until the endpoint runs or N seconds pass (then 503).

Endpoints whose type is not ``public`` need an accepted bearer token (401 otherwise).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from epmgr.emulator import generation
from epmgr.emulator.auth import Identity
from epmgr.emulator.lifecycle import State
from epmgr.emulator.state import EmulatorState, Endpoint

Handler = Callable[[Request], Awaitable[Response]]

SCALE_UP_HEADER = "x-scale-up-timeout"
HOLD_POLL_SECONDS = 0.02
_NOT_COMING_UP = frozenset({State.PAUSED, State.FAILED, State.UPDATE_FAILED})


class _Unavailable(Exception):
    """The request cannot be served; carries the response to send instead."""

    def __init__(self, response: Response) -> None:
        self.response = response


def _validation_error(message: str) -> _Unavailable:
    return _Unavailable(JSONResponse({"error": message, "error_type": "validation"}, status_code=422))


def _hold_seconds(request: Request) -> float:
    try:
        return max(0.0, float(request.headers.get(SCALE_UP_HEADER, "0")))
    except ValueError:
        return 0.0


def _unavailable_message(state: State) -> str:
    if state in (State.FAILED, State.UPDATE_FAILED):
        return "Service Unavailable: the endpoint is in a failed state"
    return f"Service Unavailable: the endpoint is {state.value}, no replica is ready yet"


class InferenceRoutes:
    """The request handlers of the endpoint URLs, bound to the emulator's state and identity."""

    def __init__(self, state: EmulatorState, identity: Identity) -> None:
        self.state = state
        self.identity = identity

    def handlers(self) -> list[tuple[str, list[str], Handler]]:
        """``(path, methods, handler)`` for every route under ``/e/{endpoint_id}``."""
        base = "/e/{endpoint_id}"
        return [
            (base, ["POST"], self.tgi_compat),
            (f"{base}/generate", ["POST"], self.tgi_generate),
            (f"{base}/generate_stream", ["POST"], self.tgi_generate_stream),
            (f"{base}/v1/chat/completions", ["POST"], self.chat_completions),
            (base + "/{path:path}", ["GET"], self.health),
        ]

    # ------------------------------------------------------------- gating

    def _lookup(self, request: Request) -> Endpoint:
        endpoint = self.state.by_id(request.path_params["endpoint_id"])
        if endpoint is None:
            raise _Unavailable(JSONResponse({"error": "Not Found"}, status_code=404))
        if endpoint.config.get("type") != "public" and not self.identity.authenticated(request.headers):
            raise _Unavailable(JSONResponse({"error": "Unauthorized"}, status_code=401))
        return endpoint

    async def _ready(self, request: Request) -> Endpoint:
        """The endpoint, once it runs; counts as activity and wakes a scaled-to-zero endpoint."""
        endpoint = self._lookup(request)
        state = self.state.request_arrived(endpoint)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _hold_seconds(request)
        while state not in _NOT_COMING_UP and state is not State.RUNNING and endpoint.deleted_at is None:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            await asyncio.sleep(min(HOLD_POLL_SECONDS, remaining))
            state = self.state.current_state(endpoint)
        if endpoint.deleted_at is not None:
            raise _Unavailable(JSONResponse({"error": "Not Found"}, status_code=404))
        if state is State.PAUSED:
            raise _Unavailable(PlainTextResponse("Bad Request: Invalid state", status_code=400))
        if state is not State.RUNNING:
            raise _Unavailable(JSONResponse({"error": _unavailable_message(state)}, status_code=503))
        self.state.request_arrived(endpoint)
        return endpoint

    async def _body(self, request: Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            raise _validation_error("Input validation error: the body is not valid JSON") from None
        if not isinstance(body, dict):
            raise _validation_error("Input validation error: the body must be a JSON object")
        return body

    async def _serve(self, request: Request, answer: Callable[[Endpoint, dict[str, Any]], Response]) -> Response:
        try:
            endpoint = await self._ready(request)
            body = await self._body(request)
            return answer(endpoint, body)
        except _Unavailable as unavailable:
            return unavailable.response

    # ----------------------------------------------------------- handlers

    async def health(self, request: Request) -> Response:
        """``GET {url}{healthRoute}``: 200 only while running. Neither wakes the endpoint nor counts as activity."""
        try:
            endpoint = self._lookup(request)
        except _Unavailable as unavailable:
            return unavailable.response
        health_route = str(endpoint.config.get("healthRoute") or "/health")
        if request.path_params["path"].strip("/") != health_route.strip("/"):
            return JSONResponse({"error": "Not Found"}, status_code=404)
        state = self.state.current_state(endpoint)
        if state is State.RUNNING:
            return PlainTextResponse("")
        if state is State.PAUSED:
            return PlainTextResponse("Bad Request: Invalid state", status_code=400)
        return JSONResponse({"error": _unavailable_message(state)}, status_code=503)

    async def tgi_compat(self, request: Request) -> Response:
        """``POST {url}``: TGI's compatibility route; a list with one result, or a stream if ``stream`` is true."""
        return await self._serve(request, lambda _, body: self._tgi(body, stream=bool(body.get("stream")), listed=True))

    async def tgi_generate(self, request: Request) -> Response:
        """``POST {url}/generate``: one TGI result object."""
        return await self._serve(request, lambda _, body: self._tgi(body, stream=False, listed=False))

    async def tgi_generate_stream(self, request: Request) -> Response:
        """``POST {url}/generate_stream``: TGI server-sent events."""
        return await self._serve(request, lambda _, body: self._tgi(body, stream=True, listed=False))

    async def chat_completions(self, request: Request) -> Response:
        """``POST {url}/v1/chat/completions``: OpenAI-style chat, streamed (SSE) or not."""
        return await self._serve(request, self._chat)

    # ------------------------------------------------------------ answers

    def _tgi(self, body: dict[str, Any], *, stream: bool, listed: bool) -> Response:
        prompt = body.get("inputs")
        if not isinstance(prompt, str):
            raise _validation_error("Input validation error: `inputs` must be a string")
        params = body.get("parameters") or {}
        if not isinstance(params, dict):
            raise _validation_error("Input validation error: `parameters` must be an object")
        seed = params.get("seed")
        prefix = prompt if params.get("return_full_text") else ""
        generated = generation.generate(prompt, params.get("max_new_tokens"), params.get("stop") or ())
        if stream:
            return _sse(generation.tgi_stream(generated, seed=seed, prefix=prefix), done=False)
        output = generation.tgi_output(generated, details=bool(params.get("details")), seed=seed, prefix=prefix)
        return JSONResponse([output] if listed else output)

    def _chat(self, endpoint: Endpoint, body: dict[str, Any]) -> Response:
        messages = body.get("messages")
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            raise _validation_error("Input validation error: `messages` must be a list of objects")
        stop = body.get("stop") or ()
        generated = generation.chat_generation(
            messages, body.get("max_tokens"), [stop] if isinstance(stop, str) else stop
        )
        model = str(endpoint.config["model"]["repository"])
        completion_id = "chatcmpl-" + hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()[:24]
        if body.get("stream"):
            options = body.get("stream_options")
            include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
            return _sse(generation.chat_chunks(generated, model, completion_id, include_usage=include_usage), done=True)
        return JSONResponse(generation.chat_completion(generated, model, completion_id))


def _sse(events: Iterable[dict[str, Any]], *, done: bool) -> StreamingResponse:
    async def lines() -> AsyncIterator[str]:
        for event in events:
            yield f"data:{json.dumps(event)}\n\n"
        if done:
            yield "data: [DONE]\n\n"

    return StreamingResponse(lines(), media_type="text/event-stream")
