"""The HF adapter: epmgr's EndpointsAPI over huggingface_hub's real ``HfApi``.

What it adds to the library, each for a reason found in ``reference/hf-endpoints-api.md``:

- ``token=`` and ``namespace=`` are passed on every call (the library drops the token on ``InferenceEndpoint``
  methods and calls the rate-limited whoami for every call without a namespace);
- the management API's base URL can point at another host (``EPMGR_HF_API_URL``, e.g. the emulator): the library
  has no setting for it, only a module constant read at call time, which is swapped under a lock per call;
- timeouts (the library sets none) and retries of 429, 5xx and connection errors with capped exponential backoff
  and jitter, honouring ``Retry-After``; each call, retries included, ends within ``call_timeout_s`` and within
  the caller's :mod:`epmgr.deadline` (the daemon's lease), so an API that never answers fails in bounded time;
- listing follows ``nextCursor`` pages (the library reads one page only);
- a quota refusal (any status whose message names a quota) is one :class:`~epmgr.errors.QuotaExceeded`, never
  retried, naming the instance type and the quota (from the hardware route); see :mod:`epmgr.adapters.hf_quota`;
- ``request_counts`` reads the endpoint metrics route: requests that reached the URL without epmgr too;
- every failure becomes an :mod:`epmgr.errors` exception; library objects never leave this module.
"""

from __future__ import annotations

import functools
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any, TypeVar

import httpx
from huggingface_hub import HfApi, constants
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.utils import _http as hf_http
from huggingface_hub.utils._headers import build_hf_headers
from huggingface_hub.utils._http import get_session, hf_raise_for_status, set_client_factory

from epmgr import deadline as deadlines
from epmgr.adapters import hf_metrics, hf_quota
from epmgr.adapters.hf_payload import Seen, hardware_option, snapshot_from_payload, undecodable
from epmgr.domain.backoff import Backoff, parse_retry_after
from epmgr.domain.model import (
    EndpointChanges,
    EndpointSnapshot,
    EndpointSpec,
    EndpointState,
    HardwareOption,
    Instance,
)
from epmgr.errors import (
    ApiError,
    ApiUnavailable,
    AuthError,
    BadRequest,
    ConfigError,
    ConflictError,
    EndpointNotFound,
    EpmgrError,
    QuotaExceeded,
)

T = TypeVar("T")

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
HEALTH_TIMEOUT = httpx.Timeout(5.0)
DEFAULT_BACKOFF = Backoff()
# One call, all its retries included, never takes longer than this (an API that never answers used to take 156 s).
DEFAULT_CALL_TIMEOUT_S = 60.0

_DEFAULT_MANAGEMENT_URL = constants.INFERENCE_ENDPOINTS_ENDPOINT
_BASE_LOCK = threading.RLock()
_RATELIMIT_RESET = re.compile(r"\bt=(\d+)")
# Seconds left for the HTTP request being sent from this context (set by ``_call``, read by the request hook).
_REQUEST_TIMEOUT: ContextVar[float | None] = ContextVar("epmgr_request_timeout", default=None)
# The last response seen in this context (set by the response hook, read when a body cannot be decoded).
_SEEN: ContextVar[Seen | None] = ContextVar("epmgr_last_response", default=None)


@contextmanager
def _management_base(url: str) -> Iterator[None]:
    """Point huggingface_hub's inference-endpoint calls at ``url`` for the duration of one call."""
    with _BASE_LOCK:
        previous = constants.INFERENCE_ENDPOINTS_ENDPOINT
        constants.INFERENCE_ENDPOINTS_ENDPOINT = url
        try:
            yield
        finally:
            constants.INFERENCE_ENDPOINTS_ENDPOINT = previous


def _bound_request(request: httpx.Request) -> None:
    """Request hook: no phase of this request (connect, read, ...) may outlast the time left to its call."""
    left = _REQUEST_TIMEOUT.get()
    if left is None:
        return
    current = request.extensions.get("timeout") or {}
    request.extensions["timeout"] = {
        phase: left if current.get(phase) is None else min(float(current[phase]), left)
        for phase in ("connect", "read", "write", "pool")
    }


def _note_response(response: httpx.Response) -> None:
    """Response hook: remember status and content type, for the message when the body is not JSON."""
    _SEEN.set(Seen(response.status_code, response.headers.get("content-type", "")))


def install_timeouts(timeout: httpx.Timeout = DEFAULT_TIMEOUT) -> None:
    """Give huggingface_hub's shared HTTP client a timeout, unless someone installed their own client factory."""
    if hf_http._GLOBAL_CLIENT_FACTORY is not hf_http.default_client_factory:
        return

    def factory() -> httpx.Client:
        return httpx.Client(
            event_hooks={"request": [hf_http.hf_request_event_hook, _bound_request], "response": [_note_response]},
            follow_redirects=True,
            timeout=timeout,
        )

    set_client_factory(factory)


def _retry_after(response: httpx.Response) -> float | None:
    seconds = parse_retry_after(response.headers.get("Retry-After"))
    if seconds is None:  # the IETF RateLimit header HF sends with a 429: `"api";r=0;t=55`
        match = _RATELIMIT_RESET.search(response.headers.get("RateLimit", ""))
        seconds = float(match.group(1)) if match else None
    return seconds


def translate(exc: Exception, *, what: str, endpoint: str | None = None) -> ApiError | EndpointNotFound:
    """Map a huggingface_hub or httpx failure onto epmgr's error tree."""
    if isinstance(exc, HfHubHTTPError) and exc.response is not None:
        status = exc.response.status_code
        message = (exc.server_message or "").strip() or exc.response.reason_phrase or str(status)
        if hf_quota.is_quota_refusal(status, message):
            return QuotaExceeded(f"{what}: {message}", endpoint=endpoint, status_code=status, server_message=message)
        if status == 404:
            return EndpointNotFound(f"{what}: {endpoint or 'it'} was not found ({message})", endpoint=endpoint)
        if status in (401, 403):
            return AuthError(
                f"{what}: the HF API refused the token ({status}: {message}); check HF_TOKEN and the namespace",
                endpoint=endpoint,
                status_code=status,
            )
        if status == 409:
            return ConflictError(f"{what}: {message}", endpoint=endpoint, status_code=status)
        if status == 400:
            return BadRequest(f"{what}: {message}", endpoint=endpoint, status_code=status)
        if status in RETRY_STATUSES:
            return ApiUnavailable(
                f"{what}: the HF API is unavailable ({status}: {message})", endpoint=endpoint, status_code=status
            )
        return ApiError(f"{what}: the HF API answered {status}: {message}", endpoint=endpoint, status_code=status)
    if isinstance(exc, httpx.TimeoutException):
        return ApiUnavailable(f"{what}: the HF API did not answer in time ({type(exc).__name__})", endpoint=endpoint)
    return ApiUnavailable(f"{what}: cannot reach the HF API ({type(exc).__name__}: {exc})", endpoint=endpoint)


class HfEndpointsAPI:
    """Manage the dedicated endpoints of one namespace through huggingface_hub.

    Args:
        token: The HF token (never logged, never part of any message or repr).
        namespace: The user or organisation; asked from whoami once if not given.
        api_url: Base URL of another host (e.g. the emulator, ``http://127.0.0.1:8765``): the management API is
            under its ``/v2``, the Hub routes under its ``/api``. None means real Hugging Face.
        backoff: How to space retries of 429, 5xx and connection errors.
        sleep: How to wait between retries (tests pass a fake).
        draw: The jitter's random source.
        call_timeout_s: The longest one call may take, retries included (an ambient :mod:`epmgr.deadline` that
            ends sooner wins).
        monotonic: The clock of that bound (tests pass a fake).

    Example:
        >>> api = HfEndpointsAPI(token="hf_...", namespace="my-org")  # doctest: +SKIP
        >>> [e.state for e in api.list_endpoints()]  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        token: str | None,
        namespace: str | None = None,
        api_url: str | None = None,
        backoff: Backoff | None = None,
        sleep: Callable[[float], None] = time.sleep,
        draw: Callable[[], float] = random.random,
        call_timeout_s: float = DEFAULT_CALL_TIMEOUT_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not token:
            raise AuthError("no HF token: set HF_TOKEN or run `hf auth login`")
        self._token = token
        base = api_url.rstrip("/") if api_url else None
        self.api_url = base
        self._management_url = f"{base}/v2" if base else _DEFAULT_MANAGEMENT_URL
        self._api = HfApi(endpoint=base or constants.ENDPOINT, token=token)
        self._namespace = namespace
        self._backoff = backoff or DEFAULT_BACKOFF
        self._sleep = sleep
        self._draw = draw
        self._call_timeout_s = call_timeout_s
        self._monotonic = monotonic
        self.calls = 0  # HTTP attempts made (retries included), for tests and metrics
        install_timeouts()

    def __repr__(self) -> str:
        return f"HfEndpointsAPI(namespace={self._namespace!r}, api_url={self.api_url!r})"

    # -- plumbing -----------------------------------------------------------------------------------

    def _call(self, what: str, operation: Callable[[], T], *, endpoint: str | None = None) -> T:
        """Run one library call with retries, all within the call's deadline; failures come out as epmgr errors."""
        ends = self._monotonic() + self._call_timeout_s
        ambient = deadlines.remaining(monotonic=self._monotonic)
        if ambient is not None:
            ends = min(ends, self._monotonic() + ambient)
        for attempt in range(1, self._backoff.attempts + 1):
            left = ends - self._monotonic()
            if left <= 0:
                raise ApiUnavailable(f"{what}: no time left for the call (deadline reached)", endpoint=endpoint)
            self.calls += 1
            token = _REQUEST_TIMEOUT.set(left)
            try:
                with _management_base(self._management_url):
                    return operation()
            except HfHubHTTPError as exc:
                response = exc.response
                if response is None or response.status_code not in RETRY_STATUSES or attempt == self._backoff.attempts:
                    raise translate(exc, what=what, endpoint=endpoint) from exc
                if isinstance(refused := translate(exc, what=what, endpoint=endpoint), QuotaExceeded):
                    raise refused from exc  # a quota refusal, even as a 429: waiting frees no GPU
                delay = self._backoff.delay(attempt, self._draw(), _retry_after(response))
                failure: Exception = exc
            except httpx.TransportError as exc:
                if attempt == self._backoff.attempts:
                    raise translate(exc, what=what, endpoint=endpoint) from exc
                delay = self._backoff.delay(attempt, self._draw())
                failure = exc
            except (ValueError, KeyError, TypeError) as exc:  # a success answer that is not the JSON expected
                if isinstance(exc, EpmgrError):
                    raise
                api_url = self.api_url or _DEFAULT_MANAGEMENT_URL
                raise undecodable(exc, what=what, api_url=api_url, seen=_SEEN.get(), endpoint=endpoint) from exc
            finally:
                _REQUEST_TIMEOUT.reset(token)
            if self._monotonic() + delay >= ends:  # waiting would pass the deadline: give up now
                raise translate(failure, what=what, endpoint=endpoint) from failure
            self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _ref(self, name: str) -> str:
        return f"{self.namespace}/{name}"

    @property
    def namespace(self) -> str:
        """The namespace every call uses (whoami is asked once, only when none was configured)."""
        if self._namespace is None:
            me = self._call("find the default namespace", lambda: self._api.whoami(token=self._token))
            self._namespace = str(me["name"])
        return self._namespace

    def _snapshot(self, endpoint: Any) -> EndpointSnapshot:
        return snapshot_from_payload(endpoint.raw, self.namespace)

    # -- the EndpointsAPI port ----------------------------------------------------------------------

    def list_endpoints(self) -> list[EndpointSnapshot]:
        """Every endpoint of the namespace: one request per page of the list route."""
        namespace = self.namespace
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            page = self._call("list endpoints", functools.partial(self._list_page, namespace, cursor))
            items.extend(page.get("items") or [])
            cursor = page.get("nextCursor")
            if not cursor:
                return [snapshot_from_payload(item, namespace) for item in items]

    def _list_page(self, namespace: str, cursor: str | None) -> dict[str, Any]:
        response = get_session().get(
            f"{constants.INFERENCE_ENDPOINTS_ENDPOINT}/endpoint/{namespace}",
            params={"cursor": cursor} if cursor else None,
            headers=build_hf_headers(token=self._token),
        )
        hf_raise_for_status(response)
        page = response.json()
        page = page if isinstance(page, dict) else {"items": page}
        items = page.get("items") or []
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise TypeError("the endpoints are not a list of JSON objects")
        return page

    def get(self, name: str) -> EndpointSnapshot:
        ns = self.namespace
        found = self._call(
            f"get {ns}/{name}",
            lambda: self._api.get_inference_endpoint(name, namespace=ns, token=self._token),
            endpoint=self._ref(name),
        )
        return self._snapshot(found)

    def create(self, spec: EndpointSpec) -> EndpointSnapshot:
        """Create an endpoint; a retry that meets 409 returns the endpoint the first attempt created."""
        ns = self.namespace
        attempts = 0

        def operation() -> Any:
            nonlocal attempts
            attempts += 1
            try:
                return self._api.create_inference_endpoint(
                    spec.name,
                    repository=spec.repository,
                    framework=spec.framework,
                    accelerator=spec.instance.accelerator,
                    instance_size=spec.instance.instance_size,
                    instance_type=spec.instance.instance_type,
                    region=spec.instance.region,
                    vendor=spec.instance.vendor,
                    min_replica=spec.min_replica,
                    max_replica=spec.max_replica,
                    scale_to_zero_timeout=spec.scale_to_zero_timeout_min,
                    revision=spec.revision,
                    task=spec.task,
                    custom_image=dict(spec.image) if spec.image else None,
                    env=dict(spec.env) if spec.env else None,
                    type=spec.endpoint_type,
                    tags=list(spec.tags) or None,
                    namespace=ns,
                    token=self._token,
                )
            except HfHubHTTPError as exc:
                if attempts > 1 and exc.response is not None and exc.response.status_code == 409:
                    return self._api.get_inference_endpoint(spec.name, namespace=ns, token=self._token)
                raise

        try:
            created = self._call(f"create {ns}/{spec.name}", operation, endpoint=self._ref(spec.name))
        except QuotaExceeded as refusal:
            raise self._explain_quota(refusal, lambda: (spec.instance, spec.max_replica)) from refusal
        return self._snapshot(created)

    def update(self, name: str, changes: EndpointChanges) -> EndpointSnapshot:
        ns = self.namespace
        fields = {
            "instance_type": changes.instance_type,
            "instance_size": changes.instance_size,
            "accelerator": changes.accelerator,
            "min_replica": changes.min_replica,
            "max_replica": changes.max_replica,
            "scale_to_zero_timeout": changes.scale_to_zero_timeout_min,
            "repository": changes.repository,
            "revision": changes.revision,
            "task": changes.task,
            "framework": changes.framework,
        }
        given: dict[str, Any] = {key: value for key, value in fields.items() if value is not None}
        try:
            updated = self._call(
                f"update {ns}/{name}",
                lambda: self._api.update_inference_endpoint(name, namespace=ns, token=self._token, **given),
                endpoint=self._ref(name),
            )
        except QuotaExceeded as refusal:
            raise self._explain_quota(refusal, lambda: hf_quota.requested(self.get(name), changes)) from refusal
        return self._snapshot(updated)

    def delete(self, name: str) -> None:
        """Delete an endpoint; a retry that meets 404 counts as done (the first attempt deleted it)."""
        ns = self.namespace
        attempts = 0

        def operation() -> None:
            nonlocal attempts
            attempts += 1
            try:
                self._api.delete_inference_endpoint(name, namespace=ns, token=self._token)
            except HfHubHTTPError as exc:
                if not (attempts > 1 and exc.response is not None and exc.response.status_code == 404):
                    raise

        self._call(f"delete {ns}/{name}", operation, endpoint=self._ref(name))

    def pause(self, name: str) -> EndpointSnapshot:
        ns = self.namespace
        paused = self._call(
            f"pause {ns}/{name}",
            lambda: self._api.pause_inference_endpoint(name, namespace=ns, token=self._token),
            endpoint=self._ref(name),
        )
        return self._snapshot(paused)

    def resume(self, name: str, *, running_ok: bool = True) -> EndpointSnapshot:
        """Resume a paused endpoint; with ``running_ok`` an endpoint already running is not an error."""
        ns = self.namespace
        try:
            resumed = self._call(
                f"resume {ns}/{name}",
                lambda: self._api.resume_inference_endpoint(
                    name, namespace=ns, token=self._token, running_ok=running_ok
                ),
                endpoint=self._ref(name),
            )
        except QuotaExceeded as refusal:
            raise self._explain_quota(refusal, lambda: hf_quota.requested(self.get(name))) from refusal
        return self._snapshot(resumed)

    def scale_to_zero(self, name: str) -> EndpointSnapshot:
        ns = self.namespace
        scaled = self._call(
            f"scale {ns}/{name} to zero",
            lambda: self._api.scale_to_zero_inference_endpoint(name, namespace=ns, token=self._token),
            endpoint=self._ref(name),
        )
        return self._snapshot(scaled)

    def hardware(self) -> list[HardwareOption]:
        """The instances this namespace can deploy on, with their price per replica-hour."""
        ns = self.namespace
        found = self._call(
            "list hardware", lambda: self._api.list_inference_endpoints_hardware(namespace=ns, token=self._token)
        )
        return [hardware_option(hw) for hw in found]

    def request_counts(self, name: str, *, start: int, end: int, step_s: int = 60) -> list[tuple[datetime, int]]:
        """Requests the endpoint's URL received per step, whoever sent them (the management API's metrics route).

        ``start`` and ``end`` are epoch seconds. The route's answer is assumed (docs/emulator.md); a real account
        without it answers an error, which callers should read as "no second signal".
        """
        ns = self.namespace
        url = f"{self._management_url}/endpoint/{ns}/{name}/metrics/request-count"
        body = {"from": start, "to": end, "step": f"{step_s}s"}

        def operation() -> Any:
            response = get_session().post(url, json=body, headers=build_hf_headers(token=self._token))
            hf_raise_for_status(response)
            return response.json()

        answer = self._call(f"read the requests of {ns}/{name}", operation, endpoint=self._ref(name))
        return hf_metrics.request_counts(answer)

    def _explain_quota(self, refusal: QuotaExceeded, requested: Callable[[], tuple[Instance, int]]) -> QuotaExceeded:
        """The refusal with the quota's numbers from the hardware route; as it was if they cannot be had."""
        ns = self.namespace
        try:
            instance, replicas = requested()
            hardware = self._call(
                "list hardware", lambda: self._api.list_inference_endpoints_hardware(namespace=ns, token=self._token)
            )
        except EpmgrError:
            return refusal
        return hf_quota.explain(refusal, instance, replicas, hardware)

    def is_healthy(self, snapshot: EndpointSnapshot) -> bool:
        """True when the endpoint is running and its health route answers 200 (one request, no retry)."""
        if snapshot.state != EndpointState.RUNNING or not snapshot.url:
            return False
        url = f"{snapshot.url.rstrip('/')}/{snapshot.health_route.lstrip('/')}"
        try:
            response = get_session().get(url, headers=build_hf_headers(token=self._token), timeout=HEALTH_TIMEOUT)
        except httpx.TransportError:
            return False
        return response.status_code == 200


def api_from_settings(token: str | None, namespace: str | None, api_url: str | None) -> HfEndpointsAPI:
    """The adapter for the configured token, namespace and API URL, with a clear error when the token is missing."""
    if not token:
        raise ConfigError("no HF token: set HF_TOKEN or run `hf auth login`", key="HF_TOKEN", source="environment")
    return HfEndpointsAPI(token=token, namespace=namespace, api_url=api_url)
