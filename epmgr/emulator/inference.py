"""Each endpoint's URL on the emulator: its health route, TGI / OpenAI-chat inference, and the other tasks.

What ``POST {url}`` answers depends on the endpoint's task: TGI for text generation, TEI's route or the
inference toolkit's answer for the others (:mod:`epmgr.emulator.tei`), which also serves TEI's own routes.

A request reaches ``/e/{endpoint_id}/...``. What it gets depends on the endpoint's state at that instant:

- running: the answer (and the idle timer restarts);
- paused: 400 ``Bad Request: Invalid state``;
- scaledToZero: a scale-up starts, then as for initializing;
- pending, initializing, updating, failed: 503, unless ``X-Scale-Up-Timeout: N`` asks to hold the request
  until the endpoint runs or N seconds pass (then 503).

Endpoints whose type is not ``public`` need an accepted bearer token (401 otherwise). The health route neither
wakes an endpoint nor counts as activity; every other request does, and is recorded for the metrics routes.
What ``updating`` and a deleted endpoint answer are switches (:class:`~epmgr.emulator.behaviour.Behaviour`).
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from epmgr.emulator import generation, metrics, tei
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


def _compressed(request: Request, response: Response) -> Response:
    """A whole answer gzip-compressed when the request accepts it (streams are left as they are)."""
    accepted = {part.split(";")[0].strip() for part in request.headers.get("accept-encoding", "").split(",")}
    if isinstance(response, StreamingResponse) or "gzip" not in accepted or not response.body:
        return response
    dropped = {"content-length", "content-encoding"}
    headers = {k: v for k, v in response.headers.items() if k.lower() not in dropped}
    headers.update({"content-encoding": "gzip", "vary": "Accept-Encoding"})
    return Response(gzip.compress(bytes(response.body)), status_code=response.status_code, headers=headers)


def _validation_error(message: str) -> _Unavailable:
    return _Unavailable(JSONResponse({"error": message, "error_type": "validation"}, status_code=422))


def _token_limit(value: Any, name: str) -> Any:
    if (message := generation.check_max_tokens(value, name)) is not None:
        raise _validation_error(message)
    return value


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
            (base, ["POST"], self.root),
            *((f"{base}/{path}", ["POST"], self._tei_handler(path)) for path in tei.ROUTES),
            (f"{base}/generate", ["POST"], self.tgi_generate),
            (f"{base}/generate_stream", ["POST"], self.tgi_generate_stream),
            (f"{base}/v1/chat/completions", ["POST"], self.chat_completions),
            (f"{base}/v1/completions", ["POST"], self.completions),
            (base + "/{path:path}", ["GET"], self.get),
        ]

    # ------------------------------------------------------------- gating

    def _lookup(self, request: Request) -> Endpoint:
        endpoint_id = request.path_params["endpoint_id"]
        endpoint = self.state.by_id(endpoint_id)
        if endpoint is None:
            if self.state.deleted_id(endpoint_id) and self.state.behaviour.deleted_url == "503":
                raise _Unavailable(JSONResponse({"error": "Service Unavailable"}, status_code=503))
            raise _Unavailable(JSONResponse({"error": "Not Found"}, status_code=404))
        return endpoint

    def _authorize(self, request: Request, endpoint: Endpoint) -> None:
        if endpoint.config.get("type") != "public" and not self.identity.authenticated(request.headers):
            raise _Unavailable(JSONResponse({"error": "Unauthorized"}, status_code=401))

    def _serving(self, state: State) -> bool:
        return state is State.RUNNING or (state is State.UPDATING and self.state.behaviour.while_updating == "serve")

    async def _ready(self, request: Request, endpoint: Endpoint) -> None:
        """Return once the endpoint serves; counts as activity and wakes a scaled-to-zero endpoint."""
        state = self.state.request_arrived(endpoint)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _hold_seconds(request)
        while state not in _NOT_COMING_UP and not self._serving(state) and endpoint.deleted_at is None:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            await asyncio.sleep(min(HOLD_POLL_SECONDS, remaining))
            state = self.state.current_state(endpoint)
        if endpoint.deleted_at is not None:
            raise _Unavailable(JSONResponse({"error": "Not Found"}, status_code=404))
        if state is State.PAUSED:
            raise _Unavailable(PlainTextResponse("Bad Request: Invalid state", status_code=400))
        if not self._serving(state):
            raise _Unavailable(JSONResponse({"error": _unavailable_message(state)}, status_code=503))
        self.state.request_arrived(endpoint)

    async def _body(self, request: Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            raise _validation_error("Input validation error: the body is not valid JSON") from None
        if not isinstance(body, dict):
            raise _validation_error("Input validation error: the body must be a JSON object")
        return body

    async def _serve(
        self, request: Request, answer: Callable[[Endpoint, dict[str, Any]], Response], *, inference: bool = True
    ) -> Response:
        """Gate the request, answer it from its JSON body, and record its status against the endpoint."""

        async def call(endpoint: Endpoint) -> Response:
            return answer(endpoint, await self._body(request) if inference else {})

        return await self._gated(request, call, inference=inference)

    async def _serve_raw(self, request: Request, answer: Callable[[Endpoint, bytes, str], Response]) -> Response:
        """Gate an inference request, answer it from its raw body and content type, and record its status."""

        async def call(endpoint: Endpoint) -> Response:
            return answer(endpoint, await request.body(), request.headers.get("content-type", ""))

        return await self._gated(request, call, inference=True)

    async def _gated(
        self, request: Request, call: Callable[[Endpoint], Awaitable[Response]], *, inference: bool
    ) -> Response:
        try:
            endpoint = self._lookup(request)
        except _Unavailable as unavailable:
            return unavailable.response
        try:
            self._authorize(request, endpoint)
            await self._ready(request, endpoint)
            response = await call(endpoint)
        except _Unavailable as unavailable:
            response = unavailable.response
        self.state.record_request(endpoint, response.status_code, inference=inference)
        return _compressed(request, response) if self.state.behaviour.compress == "gzip" else response

    # ----------------------------------------------------------- handlers

    async def get(self, request: Request) -> Response:
        """``GET {url}/...``: the health route, or TGI's ``/info``, ``/metrics`` and ``/v1/models``."""
        try:
            endpoint = self._lookup(request)
        except _Unavailable as unavailable:
            return unavailable.response
        path = request.path_params["path"].strip("/")
        if path == str(endpoint.config.get("healthRoute") or "/health").strip("/"):
            return self._health(request, endpoint)
        answers: dict[str, Callable[[Endpoint, dict[str, Any]], Response]] = {
            "info": lambda e, _: JSONResponse(_info(e)),
            "metrics": lambda e, _: PlainTextResponse(metrics.tgi_prometheus(e.requests)),
            "v1/models": lambda e, _: JSONResponse(generation.models_list(_model(e), int(e.created_at.timestamp()))),
        }
        if path not in answers:
            return JSONResponse({"error": "Not Found"}, status_code=404)
        return await self._serve(request, answers[path], inference=False)

    def _health(self, request: Request, endpoint: Endpoint) -> Response:
        """200 only while serving. Neither wakes the endpoint nor counts as activity."""
        try:
            self._authorize(request, endpoint)
        except _Unavailable as unavailable:
            return unavailable.response
        state = self.state.current_state(endpoint)
        if self._serving(state):
            return PlainTextResponse("")
        if state is State.PAUSED:
            return PlainTextResponse("Bad Request: Invalid state", status_code=400)
        return JSONResponse({"error": _unavailable_message(state)}, status_code=503)

    async def root(self, request: Request) -> Response:
        """``POST {url}``: by the endpoint's task, TGI's compatibility route or :func:`epmgr.emulator.tei.root`."""

        async def call(endpoint: Endpoint) -> Response:
            if _task(endpoint) in tei.TGI_TASKS:
                body = await self._body(request)
                return self._tgi(body, stream=bool(body.get("stream")), listed=True)
            content_type = request.headers.get("content-type", "")
            return tei.root(_task(endpoint), _model(endpoint), await request.body(), content_type)

        return await self._gated(request, call, inference=True)

    def _tei_handler(self, path: str) -> Handler:
        async def handler(request: Request) -> Response:
            return await self._serve_raw(request, lambda e, raw, _: tei.route(path, _task(e), _model(e), raw))

        handler.__doc__ = f"``POST {{url}}/{path}``: TEI's route (404 on an endpoint that does not run TEI)."
        return handler

    async def tgi_generate(self, request: Request) -> Response:
        """``POST {url}/generate``: one TGI result object."""
        return await self._serve(request, lambda _, body: self._tgi(body, stream=False, listed=False))

    async def tgi_generate_stream(self, request: Request) -> Response:
        """``POST {url}/generate_stream``: TGI server-sent events."""
        return await self._serve(request, lambda _, body: self._tgi(body, stream=True, listed=False))

    async def chat_completions(self, request: Request) -> Response:
        """``POST {url}/v1/chat/completions``: OpenAI-style chat, streamed (SSE) or not."""
        return await self._serve(request, self._chat)

    async def completions(self, request: Request) -> Response:
        """``POST {url}/v1/completions``: OpenAI-style text completion, streamed (SSE) or not."""
        return await self._serve(request, self._completion)

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
        limit = _token_limit(params.get("max_new_tokens"), "max_new_tokens")
        generated = generation.generate(prompt, limit, params.get("stop") or ())
        if stream:
            return _sse(generation.tgi_stream(generated, seed=seed, prefix=prefix), done=False)
        output = generation.tgi_output(generated, details=bool(params.get("details")), seed=seed, prefix=prefix)
        return JSONResponse([output] if listed else output)

    def _chat(self, endpoint: Endpoint, body: dict[str, Any]) -> Response:
        messages = body.get("messages")
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            raise _validation_error("Input validation error: `messages` must be a list of objects")
        stop = body.get("stop") or ()
        limit = _token_limit(body.get("max_tokens"), "max_tokens")
        generated = generation.chat_generation(messages, limit, [stop] if isinstance(stop, str) else stop)
        model = _model(endpoint)
        completion_id = "chatcmpl-" + hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()[:24]
        if body.get("stream"):
            options = body.get("stream_options")
            include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
            return _sse(generation.chat_chunks(generated, model, completion_id, include_usage=include_usage), done=True)
        return JSONResponse(generation.chat_completion(generated, model, completion_id))

    def _completion(self, endpoint: Endpoint, body: dict[str, Any]) -> Response:
        prompt = body.get("prompt")
        if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
            prompt = prompt[0]
        if not isinstance(prompt, str):
            raise _validation_error("Input validation error: `prompt` must be a string or a list of one string")
        stop = body.get("stop") or ()
        limit = _token_limit(body.get("max_tokens"), "max_tokens")
        generated = generation.generate(prompt, limit, [stop] if isinstance(stop, str) else stop)
        completion_id = "cmpl-" + hashlib.sha256(prompt.encode()).hexdigest()[:24]
        if body.get("stream"):
            return _sse(generation.completion_chunks(generated, _model(endpoint), completion_id), done=True)
        return JSONResponse(generation.completion(generated, _model(endpoint), completion_id))


def _model(endpoint: Endpoint) -> str:
    return str(endpoint.config["model"]["repository"])


def _task(endpoint: Endpoint) -> str:
    return str(endpoint.config["model"].get("task") or "text-generation")


def _info(endpoint: Endpoint) -> dict[str, Any]:
    """``GET /info``: TEI's for a TEI task, TGI's otherwise."""
    if tei.serves_tei(_task(endpoint)):
        return tei.info(_task(endpoint), _model(endpoint))
    return generation.tgi_info(_model(endpoint), _task(endpoint))


def _sse(events: Iterable[dict[str, Any]], *, done: bool) -> StreamingResponse:
    async def lines() -> AsyncIterator[str]:
        for event in events:
            yield f"data:{json.dumps(event)}\n\n"
        if done:
            yield "data: [DONE]\n\n"

    return StreamingResponse(lines(), media_type="text/event-stream")
