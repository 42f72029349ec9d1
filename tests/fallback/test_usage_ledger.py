"""requests.served_by on both engines: fallback rows through the bulk insert path, summed and priced per backend."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from epmgr.domain.fallback import Price
from epmgr.domain.model import EndpointRef, RequestRecord
from epmgr.fallback.pricing import fallback_usage
from epmgr.ledger import Ledger
from tests.conftest import T0

REF = EndpointRef("demo", "phi3-mini")
SL = "serverless:microsoft/Phi-3-mini-4k-instruct"


def row(minute: int, served_by: str | None, tokens: tuple[int, int] = (10, 20)) -> RequestRecord:
    at = T0 + timedelta(minutes=minute)
    return RequestRecord(REF, at, at + timedelta(seconds=1), 200, timedelta(seconds=1), "fallback", *tokens,
                         served_by=served_by)  # fmt: skip


def test_fallback_rows_are_summed_per_backend_and_priced(ledger: Ledger) -> None:
    ledger.append_requests([row(0, SL), row(1, SL), row(2, None), row(3, "local:./m"), row(90, SL)])
    assert [r.served_by for r in ledger.requests(REF)] == [SL, SL, None, "local:./m", SL]
    prices = {"serverless": Price(Decimal("0.001"), Decimal(1), Decimal(2))}
    usage = fallback_usage(ledger, T0, T0 + timedelta(hours=1), prices=prices)
    assert [(u.served_by, u.requests, u.tokens_in, u.tokens_out) for u in usage] == [
        ("local:./m", 1, 10, 20),
        (SL, 2, 20, 40),
    ]
    assert usage[1].cost_usd == Decimal("0.002") + Decimal(20) / 10**6 + Decimal(80) / 10**6
    assert usage[0].cost_usd == 0
    assert fallback_usage(ledger, T0, T0 + timedelta(hours=1), names=["other"]) == []
