"""The emulator's ASGI app: the management API (``/v2``), the Hub routes, endpoint URLs and control routes.

Every route is wrapped so that each request is counted per ``METHOD /route/{pattern}``, and management calls
(``/v2/...``) may receive an injected fault first. Refusals are ``{"error": "..."}`` JSON bodies.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from epmgr.emulator import metrics
from epmgr.emulator.auth import Identity
from epmgr.emulator.control import SwitchRoutes
from epmgr.emulator.faults import FaultConfig, FaultInjector
from epmgr.emulator.inference import Handler, InferenceRoutes
from epmgr.emulator.lifecycle import State
from epmgr.emulator.render import billing_json, endpoint_json, hardware_json
from epmgr.emulator.router import RouterRoutes
from epmgr.emulator.state import EmulatorState, Endpoint
from epmgr.emulator.validation import ApiError

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
AGENT_HARNESSES: dict[str, Any] = {"standardEnvVars": [], "harnesses": {}}


class RequestCounter:
    """How many requests reached each route, keyed ``"METHOD /path/{pattern}"``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, key: str) -> None:
        with self._lock:
            self._counts[key] += 1

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self._counts.items()))

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()


@dataclass
class Emulator:
    """Everything the app serves from: endpoints, identity, faults and the request counter."""

    state: EmulatorState
    identity: Identity
    faults: FaultInjector = field(default_factory=FaultInjector)
    requests: RequestCounter = field(default_factory=RequestCounter)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return _error(exc.status, exc.message)


async def _json_body(request: Request) -> Any:
    try:
        return await request.json()
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "The request body is not valid JSON") from None


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


class ManagementRoutes:
    """``/v2/...`` and the Hub routes ``/api/whoami-v2`` and ``/api/agent-harnesses``."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.state = emulator.state

    def handlers(self) -> list[tuple[str, list[str], Handler]]:
        one = "/v2/endpoint/{namespace}/{name}"
        return [
            ("/api/whoami-v2", ["GET"], self.whoami),
            ("/api/agent-harnesses", ["GET"], self.agent_harnesses),
            ("/v2/endpoint/{namespace}", ["GET"], self.list_endpoints),
            ("/v2/endpoint/{namespace}", ["POST"], self.create),
            (one, ["GET"], self.get),
            (one, ["PUT"], self.update),
            (one, ["DELETE"], self.delete),
            (f"{one}/pause", ["POST"], self.pause),
            (f"{one}/resume", ["POST"], self.resume),
            (f"{one}/scale-to-zero", ["POST"], self.scale_to_zero),
            (f"{one}/metrics/{{metric}}", ["POST"], self.metrics),
            ("/v2/provider/{namespace}", ["GET"], self.hardware),
        ]

    def _authorize(self, request: Request) -> str:
        """The namespace of the request, once the token is checked and the namespace allowed (401 for either).

        A namespace the user is not in and an organisation without billing get the same 401 (assumed body), which
        huggingface_hub reads as "no billing or no access".
        """
        identity = self.emulator.identity
        if not identity.authenticated(request.headers):
            raise ApiError(401, "Invalid or missing bearer token in the Authorization header")
        namespace = str(request.path_params["namespace"])
        if not identity.may_use(namespace):
            raise ApiError(401, "Unauthorized")
        return namespace

    def _endpoint_response(self, request: Request, operation: Callable[[str, str], Endpoint]) -> Response:
        namespace = self._authorize(request)
        with self.state.lock:
            endpoint = operation(namespace, str(request.path_params["name"]))
            return JSONResponse(endpoint_json(endpoint, _base_url(request)))

    async def whoami(self, request: Request) -> Response:
        if not self.emulator.identity.authenticated(request.headers):
            return _error(401, "Invalid credentials in Authorization header")
        return JSONResponse(self.emulator.identity.whoami())

    async def agent_harnesses(self, request: Request) -> Response:
        return JSONResponse(AGENT_HARNESSES)

    async def list_endpoints(self, request: Request) -> Response:
        """The namespace's endpoints; ``search``, ``tags``, ``limit`` and ``cursor`` are optional.

        Without ``limit``, pages hold ``behaviour.list_page_size`` endpoints (20, the OpenAPI default).
        """
        namespace = self._authorize(request)
        query = request.query_params
        with self.state.lock:
            found = self.state.in_namespace(namespace, advance=False)  # only the page shown is brought up to date
            if search := query.get("search"):
                found = [e for e in found if search in e.name]
            if tags := query.get("tags"):
                wanted = set(tags.split(","))
                found = [e for e in found if wanted <= set(e.config.get("tags") or [])]
            try:
                offset = int(query.get("cursor", "0"))
                limit = int(query["limit"]) if "limit" in query else self.state.behaviour.list_page_size
            except ValueError:
                raise ApiError(400, "cursor and limit must be integers") from None
            if offset < 0 or (limit is not None and limit < 1):
                raise ApiError(400, "cursor must be >= 0 and limit >= 1")
            shown = found[offset:] if limit is None else found[offset : offset + limit]
            self.state.advance(shown)
            page = [endpoint_json(e, _base_url(request)) for e in shown]  # only the page is rendered
        body: dict[str, Any] = {"items": page}
        if limit is not None and offset + limit < len(found):
            body["nextCursor"] = str(offset + limit)
        return JSONResponse(body)

    async def create(self, request: Request) -> Response:
        namespace = self._authorize(request)
        body = await _json_body(request)
        with self.state.lock:
            endpoint = self.state.create(namespace, body, user=self.emulator.identity.user)
            return JSONResponse(endpoint_json(endpoint, _base_url(request)))

    async def get(self, request: Request) -> Response:
        return self._endpoint_response(request, self.state.get)

    async def update(self, request: Request) -> Response:
        namespace = self._authorize(request)
        patch = await _json_body(request)
        with self.state.lock:
            endpoint = self.state.update(namespace, str(request.path_params["name"]), patch)
            return JSONResponse(endpoint_json(endpoint, _base_url(request)))

    async def delete(self, request: Request) -> Response:
        namespace = self._authorize(request)
        self.state.delete(namespace, str(request.path_params["name"]))
        return Response(status_code=200)

    async def pause(self, request: Request) -> Response:
        return self._endpoint_response(request, self.state.pause)

    async def resume(self, request: Request) -> Response:
        return self._endpoint_response(request, self.state.resume)

    async def scale_to_zero(self, request: Request) -> Response:
        return self._endpoint_response(request, self.state.scale_to_zero)

    async def hardware(self, request: Request) -> Response:
        namespace = self._authorize(request)
        with self.state.lock:
            return JSONResponse(hardware_json(self.state.in_namespace(namespace), self.state.quotas))

    async def metrics(self, request: Request) -> Response:
        """``POST .../metrics/{metric}``: requests its URL received, per step (see :mod:`epmgr.emulator.metrics`)."""
        namespace = self._authorize(request)
        metric = str(request.path_params["metric"])
        if metric not in metrics.METRICS:
            raise ApiError(400, f"Unknown metric '{metric}': expected one of {', '.join(metrics.METRICS)}")
        body = await _json_body(request)
        with self.state.lock:
            endpoint = self.state.get(namespace, str(request.path_params["name"]))
            try:
                start, end, step = metrics.query(body, endpoint.endpoint_id)
            except metrics.MetricsError as exc:
                raise ApiError(400, str(exc)) from None
            return JSONResponse(metrics.request_count(list(endpoint.requests), start, end, step))


class ControlRoutes:
    """``/_emulator/...``: billing, failure injection, faults, request counts and reset. Loopback clients only."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def handlers(self) -> list[tuple[str, list[str], Handler]]:
        return [
            ("/_emulator/billing", ["GET"], self.billing),
            ("/_emulator/endpoint/{namespace}/{name}/fail", ["POST"], self.fail),
            ("/_emulator/faults", ["GET"], self.get_faults),
            ("/_emulator/faults", ["PUT"], self.set_faults),
            ("/_emulator/requests", ["GET"], self.get_requests),
            ("/_emulator/requests", ["DELETE"], self.clear_requests),
            ("/_emulator/reset", ["POST"], self.reset),
        ]

    async def billing(self, request: Request) -> Response:
        """What each endpoint (deleted ones too) has cost so far; ``?namespace=`` filters."""
        state = self.emulator.state
        namespace = request.query_params.get("namespace")
        with state.lock:
            entries = [
                billing_json(e, state.segments(e))
                for e in state.endpoints(include_deleted=True)
                if namespace is None or e.namespace == namespace
            ]
        total = sum((Decimal(e["usd"]) for e in entries), Decimal("0"))
        return JSONResponse({"currency": "USD", "totalUsd": str(total), "endpoints": entries})

    async def fail(self, request: Request) -> Response:
        """Put an endpoint in ``failed`` (body ``{"state": "updateFailed"}`` for that; ``message`` optional)."""
        body = await _json_body(request) if await request.body() else {}
        if not isinstance(body, dict):
            raise ApiError(400, "The request body must be a JSON object")
        try:
            state = State(body.get("state", "failed"))
        except ValueError:
            raise ApiError(400, "state must be 'failed' or 'updateFailed'") from None
        message = body.get("message")
        with self.emulator.state.lock:
            endpoint = self.emulator.state.fail(
                str(request.path_params["namespace"]),
                str(request.path_params["name"]),
                state,
                str(message) if message is not None else None,
            )
            return JSONResponse(endpoint_json(endpoint, _base_url(request)))

    async def get_faults(self, request: Request) -> Response:
        faults = self.emulator.faults
        return JSONResponse({**faults.config.to_json(), "injected": dict(faults.injected)})

    async def set_faults(self, request: Request) -> Response:
        """Replace the fault configuration (keys of FaultConfig; missing ones take their defaults)."""
        try:
            config = FaultConfig.from_json(await _json_body(request))
        except (TypeError, ValueError) as exc:
            raise ApiError(400, f"Invalid fault configuration: {exc}") from None
        self.emulator.faults.configure(config)
        return JSONResponse(config.to_json())

    async def get_requests(self, request: Request) -> Response:
        return JSONResponse({"counts": self.emulator.requests.counts()})

    async def clear_requests(self, request: Request) -> Response:
        self.emulator.requests.clear()
        return JSONResponse({"counts": {}})

    async def reset(self, request: Request) -> Response:
        """Forget all endpoints and billing, clear the request counts, restart the fault RNG."""
        self.emulator.state.reset()
        self.emulator.requests.clear()
        self.emulator.faults.configure(self.emulator.faults.config)
        return JSONResponse({"reset": True})


def _wrap(emulator: Emulator, methods: list[str], path: str, handler: Handler) -> Handler:
    """Count the request, refuse non-loopback control calls, and inject faults into ``/v2`` calls."""
    key = f"{methods[0]} {path}"

    async def wrapped(request: Request) -> Response:
        emulator.requests.add(key)
        if path.startswith("/_emulator/"):
            client = request.client.host if request.client else ""
            if client not in LOOPBACK_HOSTS:
                return _error(403, "Control routes answer loopback clients only")
        if path.startswith("/v2/"):
            fault = emulator.faults.draw()
            if fault == "429":
                return _error(429, "Too many requests", emulator.faults.rate_limit_headers())
            if fault in ("500", "503"):
                message = "Internal server error" if fault == "500" else "Service temporarily unavailable"
                return _error(int(fault), message)
            if fault == "slow":
                await asyncio.sleep(emulator.faults.config.slow_seconds)
        return await handler(request)

    return wrapped


class AccessLog:
    """ASGI middleware writing one line per request to stderr: time, client, method, path, status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            now = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
            client = scope.get("client") or ("-", 0)
            # The path only: query strings are not logged, and tokens only ever travel in headers.
            print(f"{now} {client[0]} {scope['method']} {scope['path']} {status}", file=sys.stderr, flush=True)


def create_app(emulator: Emulator, *, access_log: bool = True) -> Starlette:
    """The emulator as an ASGI app.

    Args:
        emulator: The state, identity, fault injector and request counter to serve from.
        access_log: Write one line per request to stderr.
    """
    handlers = [
        *ManagementRoutes(emulator).handlers(),
        *InferenceRoutes(emulator.state, emulator.identity).handlers(),
        *ControlRoutes(emulator).handlers(),
        *SwitchRoutes(emulator.state).handlers(),
        *RouterRoutes(emulator.identity).handlers(),  # the serverless router (fallback chains)
    ]
    routes = [
        Route(path, _wrap(emulator, methods, path, handler), methods=methods) for path, methods, handler in handlers
    ]
    app = Starlette(routes=routes, exception_handlers={ApiError: _api_error})
    if access_log:
        app.add_middleware(AccessLog)
    return app
