"""Shared helpers for the cost tests (here and tests/domain/test_cost.py): state changes built tersely."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from epmgr.domain.model import EndpointRef, EndpointState, Instance, StateChange
from tests.conftest import T0

REF = EndpointRef("acme", "phi3")
L4 = Instance("aws", "us-east-1", "gpu", "nvidia-l4", "x1")
PRICE = Decimal("0.8")


def at(seconds: float) -> object:
    return T0 + timedelta(seconds=seconds)


def change(
    seconds: float,
    state: EndpointState,
    *,
    previous: EndpointState | None = EndpointState.PAUSED,
    replicas: int | None = None,
    price: Decimal | None = PRICE,
) -> StateChange:
    """A change at T0 + ``seconds`` (replicas default: 1 when billed, else 0)."""
    if replicas is None:
        replicas = 1 if state in (EndpointState.RUNNING, EndpointState.INITIALIZING, EndpointState.UPDATING) else 0
    return StateChange(
        REF, previous, state, T0 + timedelta(seconds=seconds), replicas=replicas, instance=L4, price_per_hour=price
    )
