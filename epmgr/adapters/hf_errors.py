"""HF API failures onto epmgr's error tree, and how long a refusal asks epmgr to wait.

One boundary: huggingface_hub's ``HfHubHTTPError`` (raised by ``hf_raise_for_status``) and httpx's transport
errors come in, :mod:`epmgr.errors` exceptions go out, the original chained by the caller with ``from``.
"""

from __future__ import annotations

import re
from datetime import datetime

import httpx
from huggingface_hub.errors import HfHubHTTPError

from epmgr.adapters import hf_quota
from epmgr.domain.backoff import parse_retry_after
from epmgr.errors import (
    ApiError,
    ApiUnavailable,
    AuthError,
    BadRequest,
    ConflictError,
    EndpointNotFound,
    QuotaExceeded,
)

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
"""Statuses worth another try (huggingface_hub's own ``http_backoff`` list)."""

_RATELIMIT_RESET = re.compile(r"\bt=(\d+)")


def retry_after(response: httpx.Response, now: datetime) -> float | None:
    """Seconds the answer asks to wait: ``Retry-After`` (seconds or HTTP date), else the ``RateLimit`` ``t=``.

    Example:
        >>> from datetime import timezone
        >>> retry_after(httpx.Response(429, headers={"RateLimit": '"api";r=0;t=55'}), datetime.now(timezone.utc))
        55.0
    """
    seconds = parse_retry_after(response.headers.get("Retry-After"), now)
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


def too_late(
    exc: HfHubHTTPError, *, what: str, endpoint: str | None, wait_s: float, left_s: float, now: datetime
) -> ApiUnavailable:
    """The error when the API asks to wait longer than the call has left: fail now, saying when to retry."""
    status = exc.response.status_code if exc.response is not None else None
    at = now.timestamp() + wait_s
    when = datetime.fromtimestamp(at, now.tzinfo).strftime("%H:%M:%S %Z").strip()
    return ApiUnavailable(
        f"{what}: the HF API asks to retry in {wait_s:.0f} s (at {when}), more than the {max(left_s, 0):.0f} s "
        f"left to this call; retry after {when}",
        endpoint=endpoint,
        status_code=status,
    )
