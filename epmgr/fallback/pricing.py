"""What the fallbacks cost: requests per backend from the ledger, priced by a table with overrides.

Prices: :data:`epmgr.domain.fallback.DEFAULT_PRICES` per kind (serverless per million tokens; local, OpenAI-compatible
local servers and other endpoints nothing extra), overridden by ``[fallback_prices]`` per kind or per spec.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from epmgr.domain.fallback import Price, price_of
from epmgr.domain.model import EndpointRef
from epmgr.ledger import Ledger
from epmgr.ledger.schema import EndpointRow, RequestRow


@dataclass(frozen=True)
class FallbackUsage:
    """One endpoint's answers from one fallback in a window, and their cost."""

    endpoint: EndpointRef
    served_by: str
    requests: int
    tokens_in: int
    tokens_out: int
    cost_usd: Decimal


def fallback_usage(
    ledger: Ledger,
    since: datetime,
    until: datetime,
    *,
    names: Sequence[str] = (),
    prices: dict[str, Price] | None = None,
) -> list[FallbackUsage]:
    """Requests answered by fallbacks in ``[since, until)``, per endpoint and backend, priced."""
    query = (
        select(
            EndpointRow.namespace,
            EndpointRow.name,
            RequestRow.served_by,
            func.count(),
            func.coalesce(func.sum(RequestRow.tokens_in), 0),
            func.coalesce(func.sum(RequestRow.tokens_out), 0),
        )
        .join(EndpointRow, RequestRow.endpoint_id == EndpointRow.id)
        .where(RequestRow.served_by.is_not(None), RequestRow.started_at >= since, RequestRow.started_at < until)
        .group_by(EndpointRow.namespace, EndpointRow.name, RequestRow.served_by)
        .order_by(EndpointRow.name, RequestRow.served_by)
    )
    if names:
        query = query.where(EndpointRow.name.in_(list(names)))
    with ledger.engine.connect() as conn:
        rows = conn.execute(query).all()
    table = prices or {}
    out = []
    for ns, name, by, count, summed_in, summed_out in rows:
        n, t_in, t_out = int(count or 0), int(summed_in or 0), int(summed_out or 0)
        cost = price_of(str(by), table).cost(n, t_in, t_out)
        out.append(FallbackUsage(EndpointRef(str(ns), str(name)), str(by), n, t_in, t_out, cost))
    return out


def usage_dict(usage: Sequence[FallbackUsage]) -> list[dict[str, Any]]:
    """The ``fallbacks`` list of ``epmgr cost --json``."""
    return [
        {
            "endpoint": u.endpoint.name,
            "namespace": u.endpoint.namespace,
            "served_by": u.served_by,
            "requests": u.requests,
            "tokens_in": u.tokens_in,
            "tokens_out": u.tokens_out,
            "usd": f"{u.cost_usd.quantize(Decimal('0.000001')):f}",
        }
        for u in usage
    ]


def usage_table(usage: Sequence[FallbackUsage], saved: Decimal | None) -> str:
    """The fallbacks' lines under ``epmgr cost``'s table (empty when no fallback answered)."""
    if not usage:
        return ""
    lines = ["", "Fallbacks (answers while the endpoint slept, was over budget or failed):"]
    for u in usage:
        lines.append(
            f"  {u.endpoint.name}  {u.served_by}  {u.requests} requests  {u.tokens_in}+{u.tokens_out} tokens  "
            f"${u.cost_usd.quantize(Decimal('0.000001')):f}"
        )
    total = sum((u.cost_usd for u in usage), Decimal(0))
    tail = f"  fallbacks cost ${total.quantize(Decimal('0.000001')):f}"
    if saved is not None and saved > 0:
        tail += f"; the sleeping GPU saved ${saved.quantize(Decimal('0.01')):f} against always-on"
    lines.append(tail)
    return "\n".join(lines)
