"""The HTTP side of the HF adapter: one httpx client per instance, retries, and every call within its deadline.

Nothing here touches process-wide state: no huggingface_hub constant is swapped, its shared client is left alone,
and no lock is held around a request, so calls from many threads run side by side. What is kept from
huggingface_hub is public: ``build_hf_headers`` (token and user agent) and ``hf_raise_for_status`` (its errors).

A call is an operation run once per attempt. Each attempt gets an :class:`Attempt`, whose ``send`` bounds every
phase of its request by the time the call has left; the loop in :meth:`HfHttp.call` retries 408, 429, 5xx and
transport errors with capped exponential backoff and full jitter, honours ``Retry-After`` (seconds or HTTP date)
as long as it ends before the call's deadline, and otherwise fails at once saying when to retry.
"""

from __future__ import annotations

import threading
import time
import uuid
import weakref
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any, TypeVar

import httpx
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.utils import build_hf_headers, hf_raise_for_status  # type: ignore[attr-defined]  # lazy public

from epmgr import deadline as deadlines
from epmgr.adapters.hf_errors import RETRY_STATUSES, retry_after, too_late, translate
from epmgr.adapters.hf_payload import Seen, undecodable
from epmgr.domain.backoff import Backoff
from epmgr.errors import ApiUnavailable, EpmgrError, QuotaExceeded

T = TypeVar("T")

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
PHASES = ("connect", "read", "write", "pool")


def utcnow() -> datetime:
    """The wall clock, aware UTC."""
    return datetime.now(timezone.utc)


class Attempt:
    """One try of a call: its requests share what is left of the call's time.

    Args:
        http: The adapter's HTTP session.
        left_s: Seconds left to the call when this try starts.
    """

    def __init__(self, http: HfHttp, left_s: float) -> None:
        self._http = http
        self.left_s = left_s
        self.seen: Seen | None = None

    def send(self, method: str, url: str, **options: Any) -> Any:
        """Send one request (options as :meth:`raw`); its decoded JSON body (None when it has none).

        Raises:
            HfHubHTTPError: A status of 400 or more (from ``hf_raise_for_status``).
            httpx.TransportError: The request failed on the way.
            ValueError: The body is not JSON.
        """
        response = self.raw(method, url, **options)
        hf_raise_for_status(response)
        return response.json() if response.content else None

    def raw(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        timeout: httpx.Timeout | None = None,
    ) -> httpx.Response:
        """Send one request and return the response whatever its status."""
        response = self._http.client().request(
            method,
            url,
            json=json,
            params=params,
            headers={**self._http.headers(), "x-amzn-trace-id": str(uuid.uuid4())},
            timeout=_bounded(timeout or self._http.timeout, self.left_s),
        )
        self.seen = Seen(response.status_code, response.headers.get("content-type", ""))
        return response


def _bounded(timeout: httpx.Timeout, left_s: float) -> httpx.Timeout:
    """``timeout`` with no phase longer than ``left_s``."""
    phases = timeout.as_dict()
    return httpx.Timeout(**{p: left_s if (s := phases[p]) is None else min(float(s), left_s) for p in PHASES})


class HfHttp:
    """An HTTP session to the HF API for one adapter instance (thread-safe; nothing shared with other instances).

    The arguments are :class:`~epmgr.adapters.hf.HfEndpointsAPI`'s, and:

    Args:
        api_url: Where the API is, for error messages.
        timeout: Each request's timeouts, before the call's deadline shortens them.
    """

    def __init__(
        self,
        *,
        token: str,
        api_url: str,
        backoff: Backoff,
        sleep: Callable[[float], None] = time.sleep,
        draw: Callable[[], float],
        call_timeout_s: float,
        monotonic: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = utcnow,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        self._token = token
        self.api_url = api_url
        self.backoff = backoff
        self._sleep = sleep
        self._draw = draw
        self._call_timeout_s = call_timeout_s
        self._monotonic = monotonic
        self._now = now
        self.timeout = timeout
        self._client: httpx.Client | None = None
        self._headers: dict[str, str] | None = None
        self._lock = threading.Lock()  # guards the lazy set-up and the counter, never a request
        self.calls = 0  # HTTP attempts made (retries included), for tests and metrics

    def __repr__(self) -> str:
        return f"HfHttp(api_url={self.api_url!r})"

    def client(self) -> httpx.Client:
        """This instance's httpx client, made on first use (making one reads the CA bundle)."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = httpx.Client(follow_redirects=True, timeout=self.timeout)
                    weakref.finalize(self, self._client.close)  # an instance never closed still closes its sockets
        return self._client

    def headers(self) -> dict[str, str]:
        """huggingface_hub's headers for this token (authorization and user agent), built once."""
        if self._headers is None:
            self._headers = build_hf_headers(token=self._token)
        return self._headers

    def close(self) -> None:
        """Close the connections (the session makes a new client if used again)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def _count(self) -> None:
        with self._lock:
            self.calls += 1

    def call(self, what: str, operation: Callable[[Attempt], T], *, endpoint: str | None = None) -> T:
        """Run ``operation`` with retries, all within the call's deadline; failures come out as epmgr errors."""
        ends = self._monotonic() + self._call_timeout_s
        ambient = deadlines.remaining(monotonic=self._monotonic)
        if ambient is not None:
            ends = min(ends, self._monotonic() + ambient)
        attempts = self.backoff.attempts
        for number in range(1, attempts + 1):
            left = ends - self._monotonic()
            if left <= 0:
                raise ApiUnavailable(f"{what}: no time left for the call (deadline reached)", endpoint=endpoint)
            self._count()
            attempt = Attempt(self, left)
            wait_s: float | None = None
            try:
                return operation(attempt)
            except HfHubHTTPError as exc:
                response = exc.response
                if response is None or response.status_code not in RETRY_STATUSES or number == attempts:
                    raise translate(exc, what=what, endpoint=endpoint) from exc
                if isinstance(refused := translate(exc, what=what, endpoint=endpoint), QuotaExceeded):
                    raise refused from exc  # a quota refusal, even as a 429: waiting frees no GPU
                now = self._now()
                wait_s = retry_after(response, now)
                left = ends - self._monotonic()
                if wait_s is not None and wait_s >= left:
                    raise too_late(exc, what=what, endpoint=endpoint, wait_s=wait_s, left_s=left, now=now) from exc
                failure: Exception = exc
            except httpx.TransportError as exc:
                if number == attempts:
                    raise translate(exc, what=what, endpoint=endpoint) from exc
                failure = exc
            except (ValueError, KeyError, TypeError) as exc:  # a success answer that is not the JSON expected
                if isinstance(exc, EpmgrError):
                    raise
                raise undecodable(exc, what=what, api_url=self.api_url, seen=attempt.seen, endpoint=endpoint) from exc
            delay = self.backoff.delay(number, self._draw(), wait_s)
            if self._monotonic() + delay >= ends:  # waiting would pass the deadline: give up now
                raise translate(failure, what=what, endpoint=endpoint) from failure
            self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover
