"""What an endpoint's URL really received, as the management API's metrics route and TGI's ``/metrics`` show it.

Every request to an endpoint URL but its health route is recorded (instant, status, whether it was an inference
call), whoever sent it: epmgr's client, its proxy, or curl straight at the URL.

``POST /v2/endpoint/{ns}/{name}/metrics/request-count`` with ``{"from": <epoch s>, "to": <epoch s>, "step": "1m"}``
answers the request counts per step, one series per HTTP status class, in the shape of a Prometheus range query.
The route and its body's keys (``from``, ``to``, ``step``, ``dnsPrefix``) come from the OpenAPI spec
(``getEndpointMetric``, ``MetricsParams``); the response shape, the units and the metric names are assumed.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

METRICS = ("request-count",)
MAX_POINTS = 11_000
"""Prometheus's own limit on points per series of a range query."""

_STEP = re.compile(r"^(\d+)([smh]?)$")
_STEP_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600}

Record = tuple[datetime, int, bool]
"""``(instant, HTTP status, inference call?)``."""


class MetricsError(ValueError):
    """A metrics query the API refuses (400)."""


def parse_step(text: Any) -> int:
    """``"30s"``, ``"1m"``, ``"1h"`` or a number of seconds, in whole seconds >= 1."""
    match = _STEP.match(str(text).strip())
    if match is None or int(match.group(1)) < 1:
        raise MetricsError(f"Invalid step {text!r}: expected e.g. 30s, 1m or 1h")
    return int(match.group(1)) * _STEP_SECONDS[match.group(2)]


def query(body: Any, endpoint_id: str) -> tuple[int, int, int]:
    """``(from, to, step)`` in epoch seconds from a metrics request body. Raises MetricsError."""
    if not isinstance(body, dict):
        raise MetricsError("The request body must be a JSON object")
    start, end = body.get("from"), body.get("to")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end)):
        raise MetricsError("'from' and 'to' are required: timestamps in seconds since the epoch")
    assert isinstance(start, int) and isinstance(end, int)
    if end <= start:
        raise MetricsError("'to' must be after 'from'")
    if body.get("dnsPrefix") not in (None, endpoint_id):
        raise MetricsError(f"dnsPrefix {body['dnsPrefix']!r} is not this endpoint's")
    step = parse_step(body.get("step", "1m"))
    if math.ceil((end - start) / step) > MAX_POINTS:
        raise MetricsError(f"Too many points: at most {MAX_POINTS} per series, raise the step")
    return start, end, step


def request_count(records: Iterable[Record], start: int, end: int, step: int) -> dict[str, Any]:
    """Requests per ``step`` seconds from ``start`` (included) to ``end`` (excluded), per status class.

    Every series has one ``[timestamp, "count"]`` pair per step, zeros included; only classes seen in the window
    have a series.
    """
    points = math.ceil((end - start) / step)
    counts: dict[str, list[int]] = {}
    for instant, status, _ in records:
        moment = instant.timestamp()  # the clock's instants are timezone-aware
        if start <= moment < end:
            series = counts.setdefault(f"{status // 100}xx", [0] * points)
            series[int((moment - start) // step)] += 1
    result = [
        {"metric": {"status": status_class}, "values": [[start + i * step, str(n)] for i, n in enumerate(series)]}
        for status_class, series in sorted(counts.items())
    ]
    return {"status": "success", "data": {"resultType": "matrix", "result": result}}


def tgi_prometheus(records: Iterable[Record]) -> str:
    """TGI's ``GET /metrics`` text: counters of the inference calls the model server answered."""
    served = Counter(status for _, status, inference in records if inference and status in (200, 422))
    success, failure = served[200], served[422]
    lines = [
        "# HELP tgi_request_count Number of requests",
        "# TYPE tgi_request_count counter",
        f"tgi_request_count {success + failure}",
        "# HELP tgi_request_success Number of successful requests",
        "# TYPE tgi_request_success counter",
        f"tgi_request_success {success}",
        "# HELP tgi_request_failure Number of failed requests",
        "# TYPE tgi_request_failure counter",
        f'tgi_request_failure{{err="validation"}} {failure}',
        "# HELP tgi_queue_size Current queue size",
        "# TYPE tgi_queue_size gauge",
        "tgi_queue_size 0",
        "# HELP tgi_batch_current_size Current batch size",
        "# TYPE tgi_batch_current_size gauge",
        "tgi_batch_current_size 0",
    ]
    return "\n".join(lines) + "\n"
