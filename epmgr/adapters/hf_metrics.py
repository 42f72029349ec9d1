"""The answer of the management API's metrics route (``request-count``) as request counts per step.

The route and its body (``from``, ``to``, ``step``) are in HF's OpenAPI spec; the answer's shape is not, so it is
read as the emulator serves it (a Prometheus range-query matrix, one series per HTTP status class; see
docs/emulator.md), and anything else is refused with a TypeError or ValueError (the adapter turns it into one
ApiError).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from typing import Any


def request_counts(answer: Any) -> list[tuple[datetime, int]]:
    """``[(start of step, requests)]`` summed over every status class, oldest first.

    Raises:
        TypeError: The answer is not a range-query matrix.
        ValueError: A point is not a ``[timestamp, "count"]`` pair of numbers.
    """
    data = answer.get("data") if isinstance(answer, dict) else None
    result = data.get("result") if isinstance(data, dict) else None
    if not isinstance(result, list) or not all(
        isinstance(s, dict) and isinstance(s.get("values"), list) for s in result
    ):
        raise TypeError("the metrics answer is not a list of series with values")
    totals: Counter[float] = Counter()
    for series in result:
        for point in series["values"]:
            if not isinstance(point, list) or len(point) != 2:
                raise TypeError("a metrics point is not a [timestamp, value] pair")
            totals[float(point[0])] += int(float(point[1]))
    return [(datetime.fromtimestamp(moment, timezone.utc), int(totals[moment])) for moment in sorted(totals)]
