"""The HF adapter: epmgr's EndpointsAPI over the ``/v2`` routes of the HF endpoints API.

It calls the routes huggingface_hub's ``HfApi`` calls, with huggingface_hub's headers, errors
(``hf_raise_for_status``) and parsing (``InferenceEndpoint.from_raw``), but through its own httpx client and base
URL (:mod:`epmgr.adapters.hf_http`), so instances run concurrently and nothing of the process is touched. What it
adds, each for a reason found in ``reference/hf-endpoints-api.md``:

- ``token=`` and ``namespace=`` on every call (the library calls the rate-limited whoami for every call without
  a namespace): whoami is asked once, only when no namespace is configured;
- the API's base URL can point at another host (``EPMGR_HF_API_URL``, e.g. the emulator), per instance;
- timeouts (the library sets none) and retries of 408, 429, 5xx and connection errors with capped exponential
  backoff and jitter, honouring ``Retry-After``; each call, retries included, ends within ``call_timeout_s`` and
  within the caller's :mod:`epmgr.deadline` (the daemon's lease), so an API that never answers fails in bounded
  time, and a ``Retry-After`` past that bound fails at once saying when to retry;
- a retried create that meets 409 returns the created endpoint; a retried delete that meets 404 is done;
- listing follows ``nextCursor`` pages (the library reads one page only);
- a quota refusal (any status whose message names a quota) is one :class:`~epmgr.errors.QuotaExceeded`, never
  retried, naming the instance type and the quota (from the hardware route); see :mod:`epmgr.adapters.hf_quota`;
- ``request_counts`` reads the endpoint metrics route: requests that reached the URL without epmgr too;
- every failure becomes an :mod:`epmgr.errors` exception; library objects never leave the adapter.
"""

from __future__ import annotations

import functools
import random
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
from huggingface_hub import constants
from huggingface_hub.errors import HfHubHTTPError

from epmgr.adapters import hf_metrics, hf_quota
from epmgr.adapters.hf_errors import translate
from epmgr.adapters.hf_http import Attempt, HfHttp, utcnow
from epmgr.adapters.hf_payload import (
    create_body,
    endpoint_from,
    hardware_from,
    hardware_option,
    snapshot_from_payload,
    update_body,
)
from epmgr.domain.backoff import Backoff
from epmgr.domain.model import EndpointChanges, EndpointSnapshot, EndpointSpec, EndpointState, HardwareOption, Instance
from epmgr.errors import AlreadyRunning, AuthError, ConfigError, EpmgrError, QuotaExceeded

HEALTH_TIMEOUT = httpx.Timeout(5.0)
DEFAULT_BACKOFF = Backoff()
# One call, all its retries included, never takes longer than this (an API that never answers used to take 156 s).
DEFAULT_CALL_TIMEOUT_S = 60.0


class HfEndpointsAPI:
    """Manage the dedicated endpoints of one namespace over HTTP (thread-safe: calls may run concurrently).

    Args:
        token: The HF token (never logged, never part of any message or repr).
        namespace: The user or organisation; asked from whoami once if not given.
        api_url: Base URL of another host (e.g. the emulator, ``http://127.0.0.1:8765``): the management API is
            under its ``/v2``, the Hub routes under its ``/api``. None means real Hugging Face.
        backoff: How to space retries of 408, 429, 5xx and connection errors.
        sleep: How to wait between retries (tests pass a fake).
        draw: The jitter's random source (default: a generator of this instance's own, so retries never touch the
            process's shared ``random`` state).
        call_timeout_s: The longest one call may take, retries included (an ambient :mod:`epmgr.deadline` that
            ends sooner wins).
        monotonic: The clock of that bound (tests pass a fake).
        now: The wall clock, to read a ``Retry-After`` given as an HTTP date.

    Example:
        >>> api = HfEndpointsAPI(token="hf_...", namespace="my-org")
        >>> api
        HfEndpointsAPI(namespace='my-org', api_url=None)
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
        draw: Callable[[], float] | None = None,
        call_timeout_s: float = DEFAULT_CALL_TIMEOUT_S,
        monotonic: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        if not token:
            raise AuthError("no HF token: set HF_TOKEN or run `hf auth login`")
        base = api_url.rstrip("/") if api_url else None
        self.api_url = base
        self._management_url = f"{base}/v2" if base else constants.INFERENCE_ENDPOINTS_ENDPOINT
        self._hub_url = base or constants.ENDPOINT
        self._namespace = namespace
        self._namespace_lock = threading.Lock()
        self._http = HfHttp(
            token=token,
            api_url=base or self._management_url,
            backoff=backoff or DEFAULT_BACKOFF,
            sleep=sleep,
            draw=draw or random.Random().random,
            call_timeout_s=call_timeout_s,
            monotonic=monotonic,
            now=now,
        )

    def __repr__(self) -> str:
        return f"HfEndpointsAPI(namespace={self._namespace!r}, api_url={self.api_url!r})"

    @property
    def calls(self) -> int:
        """HTTP attempts made so far (retries included), for tests and metrics."""
        return self._http.calls

    def close(self) -> None:
        """Close this instance's connections (a later call opens new ones)."""
        self._http.close()

    def __enter__(self) -> HfEndpointsAPI:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing -----------------------------------------------------------------------------------

    def _route(self, name: str | None = None, action: str = "") -> str:
        path = f"{self._management_url}/endpoint/{self.namespace}"
        return f"{path}/{name}{action}" if name else path

    def _ref(self, name: str) -> str:
        return f"{self.namespace}/{name}"

    @property
    def namespace(self) -> str:
        """The namespace every call uses (whoami is asked once, only when none was configured)."""
        if self._namespace is None:
            with self._namespace_lock:  # one whoami even when threads ask at once (it is heavily rate-limited)
                if self._namespace is None:
                    self._namespace = self._http.call("find the default namespace", self._whoami)
        return self._namespace

    def _whoami(self, attempt: Attempt) -> str:
        me = attempt.send("GET", f"{self._hub_url}/api/whoami-v2")
        name = me["name"]  # inside the call: a missing or odd name is an ApiError, not a raw KeyError
        if not isinstance(name, str) or not name:
            raise TypeError("whoami answered without a user name")
        return name

    def _endpoint(self, what: str, method: str, name: str, action: str = "", **body: Any) -> EndpointSnapshot:
        """One call to an endpoint's route that answers the endpoint."""
        ns, url = self.namespace, self._route(name, action)
        return self._http.call(
            what, lambda attempt: endpoint_from(attempt.send(method, url, **body), ns), endpoint=self._ref(name)
        )

    # -- the EndpointsAPI port ----------------------------------------------------------------------

    def list_endpoints(self) -> list[EndpointSnapshot]:
        """Every endpoint of the namespace: one request per page of the list route."""
        namespace, url = self.namespace, self._route()
        found: list[EndpointSnapshot] = []
        cursor: str | None = None
        while True:
            page = self._http.call("list endpoints", functools.partial(_list_page, url=url, cursor=cursor))
            found += [snapshot_from_payload(item, namespace, raw_keys=LISTED_RAW) for item in page.get("items") or []]
            cursor = page.get("nextCursor")
            if not cursor:
                return found

    def get(self, name: str) -> EndpointSnapshot:
        return self._endpoint(f"get {self._ref(name)}", "GET", name)

    def create(self, spec: EndpointSpec) -> EndpointSnapshot:
        """Create an endpoint; a retry that meets 409 returns the endpoint the first attempt created."""
        ns, url, body = self.namespace, self._route(), create_body(spec)
        tries = 0

        def operation(attempt: Attempt) -> EndpointSnapshot:
            nonlocal tries
            tries += 1
            try:
                return endpoint_from(attempt.send("POST", url, json=body), ns)
            except HfHubHTTPError as exc:
                if tries > 1 and exc.response is not None and exc.response.status_code == 409:
                    return endpoint_from(attempt.send("GET", self._route(spec.name)), ns)
                raise

        try:
            return self._http.call(f"create {ns}/{spec.name}", operation, endpoint=self._ref(spec.name))
        except QuotaExceeded as refusal:
            raise self._explain_quota(refusal, lambda: (spec.instance, spec.max_replica)) from refusal

    def update(self, name: str, changes: EndpointChanges) -> EndpointSnapshot:
        try:
            return self._endpoint(f"update {self._ref(name)}", "PUT", name, json=update_body(changes))
        except QuotaExceeded as refusal:
            raise self._explain_quota(refusal, lambda: hf_quota.requested(self.get(name), changes)) from refusal

    def delete(self, name: str) -> None:
        """Delete an endpoint; a retry that meets 404 counts as done (the first attempt deleted it)."""
        url = self._route(name)
        tries = 0

        def operation(attempt: Attempt) -> None:
            nonlocal tries
            tries += 1
            try:
                attempt.send("DELETE", url)
            except HfHubHTTPError as exc:
                if not (tries > 1 and exc.response is not None and exc.response.status_code == 404):
                    raise

        self._http.call(f"delete {self._ref(name)}", operation, endpoint=self._ref(name))

    def pause(self, name: str) -> EndpointSnapshot:
        return self._endpoint(f"pause {self._ref(name)}", "POST", name, "/pause")

    def resume(self, name: str, *, running_ok: bool = True) -> EndpointSnapshot:
        """Resume a paused endpoint; with ``running_ok`` an endpoint already running is not an error."""
        ns, url = self.namespace, self._route(name, "/resume")

        def operation(attempt: Attempt) -> EndpointSnapshot:
            try:
                return endpoint_from(attempt.send("POST", url), ns)
            except HfHubHTTPError as exc:  # the library's rule: a 400 saying "already running" is not an error
                response = exc.response
                if response is None or response.status_code != 400 or "already running" not in response.text:
                    raise
                if running_ok:
                    return endpoint_from(attempt.send("GET", self._route(name)), ns)
                refused = translate(exc, what=f"resume {ns}/{name}", endpoint=self._ref(name))
                raise AlreadyRunning(str(refused), endpoint=self._ref(name), status_code=400) from exc

        try:
            return self._http.call(f"resume {ns}/{name}", operation, endpoint=self._ref(name))
        except QuotaExceeded as refusal:
            raise self._explain_quota(refusal, lambda: hf_quota.requested(self.get(name))) from refusal

    def scale_to_zero(self, name: str) -> EndpointSnapshot:
        return self._endpoint(f"scale {self._ref(name)} to zero", "POST", name, "/scale-to-zero")

    def hardware(self) -> list[HardwareOption]:
        """The instances this namespace can deploy on, with their price per replica-hour."""
        return [hardware_option(hw) for hw in self._hardware()]

    def _hardware(self) -> list[Any]:
        url = f"{self._management_url}/provider/{self.namespace}"
        return self._http.call("list hardware", lambda attempt: hardware_from(attempt.send("GET", url)))

    def request_counts(self, name: str, *, start: int, end: int, step_s: int = 60) -> list[tuple[datetime, int]]:
        """Requests the endpoint's URL received per step, whoever sent them (the management API's metrics route).

        ``start`` and ``end`` are epoch seconds. The route's answer is assumed (docs/emulator.md); a real account
        without it answers an error, which callers should read as "no second signal".
        """
        url = self._route(name, "/metrics/request-count")
        body = {"from": start, "to": end, "step": f"{step_s}s"}
        return self._http.call(
            f"read the requests of {self._ref(name)}",
            lambda attempt: hf_metrics.request_counts(attempt.send("POST", url, json=body)),
            endpoint=self._ref(name),
        )

    def _explain_quota(self, refusal: QuotaExceeded, requested: Callable[[], tuple[Instance, int]]) -> QuotaExceeded:
        """The refusal with the quota's numbers from the hardware route; as it was if they cannot be had."""
        try:
            instance, replicas = requested()
            hardware = self._hardware()
        except EpmgrError:
            return refusal
        return hf_quota.explain(refusal, instance, replicas, hardware)

    def is_healthy(self, snapshot: EndpointSnapshot) -> bool:
        """True when the endpoint is running and its health route answers 200 (one request, no retry)."""
        if snapshot.state != EndpointState.RUNNING or not snapshot.url:
            return False
        url = f"{snapshot.url.rstrip('/')}/{snapshot.health_route.lstrip('/')}"
        try:
            response = Attempt(self._http, HEALTH_TIMEOUT.read or 5.0).raw("GET", url, timeout=HEALTH_TIMEOUT)
        except httpx.TransportError:
            return False
        return response.status_code == 200


LISTED_RAW = frozenset({"tags"})
"""What a listed endpoint keeps of its payload (``get`` keeps all of it): a namespace of 20,000 endpoints would
otherwise hold every payload in memory for the whole tick."""
LIST_PAGE_LIMIT = 100
"""Endpoints asked for per page of the list route (the route's own default is 20); ``nextCursor`` is followed
whatever page size the server chooses."""


def _list_page(attempt: Attempt, *, url: str, cursor: str | None) -> dict[str, Any]:
    """One page of the list route (a bare list is one page), its items checked to be JSON objects."""
    params: dict[str, str | int] = {"limit": LIST_PAGE_LIMIT}
    if cursor:
        params["cursor"] = cursor
    answer = attempt.send("GET", url, params=params)
    page = answer if isinstance(answer, dict) else {"items": answer}
    items = page.get("items") or []
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise TypeError("the endpoints are not a list of JSON objects")
    return page


def api_from_settings(token: str | None, namespace: str | None, api_url: str | None) -> HfEndpointsAPI:
    """The adapter for the configured token, namespace and API URL, with a clear error when the token is missing."""
    if not token:
        raise ConfigError("no HF token: set HF_TOKEN or run `hf auth login`", key="HF_TOKEN", source="environment")
    return HfEndpointsAPI(token=token, namespace=namespace, api_url=api_url)
