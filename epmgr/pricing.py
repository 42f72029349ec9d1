"""Where a price per replica-hour comes from: configuration, the hardware route, or the published table.

Precedence, first found wins:

1. ``config``: ``price_per_hour`` of the endpoint in ``epmgr.toml`` (a negotiated price, a private deal);
2. ``api``: the hardware route's ``pricePerHour`` (``GET /v2/provider/{namespace}``), cached in the ledger with the
   time it was read, so a report still has it when the route is unreachable;
3. ``published``: the table shipped in :mod:`epmgr.catalog` (dated :data:`epmgr.catalog.PUBLISHED`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from epmgr import catalog
from epmgr.config import Settings
from epmgr.domain.model import EndpointRef, HardwareOption, Instance, PriceRecord
from epmgr.errors import ApiError
from epmgr.ledger import Ledger
from epmgr.ports import EndpointsAPI

CONFIG = "config"
API = "api"
PUBLISHED = "published"


@dataclass(frozen=True)
class Price:
    """A price per replica-hour and where it came from."""

    usd_per_hour: Decimal
    source: str
    read_at: datetime | None = None


def _key(instance: Instance) -> tuple[str, str, str, str]:
    return (instance.vendor, instance.region, instance.instance_type, instance.instance_size)


@dataclass
class PriceBook:
    """Resolves prices by the precedence in the module docstring.

    Args:
        cached: Prices read from the hardware route (from :meth:`Ledger.prices`, or just refreshed).
        overrides: Configured prices per endpoint.
    """

    cached: dict[tuple[str, str, str, str], PriceRecord] = field(default_factory=dict)
    overrides: dict[EndpointRef, Decimal] = field(default_factory=dict)

    @classmethod
    def from_ledger(cls, ledger: Ledger, settings: Settings | None = None) -> PriceBook:
        """The cached API prices of ``ledger`` and the overrides configured in ``settings``."""
        book = cls({_key(p.instance): p for p in ledger.prices() if p.source == API})
        if settings is not None:
            for policy in settings.endpoints:
                namespace = policy.namespace or settings.namespace
                if policy.price_per_hour is not None and namespace:
                    book.overrides[EndpointRef(namespace, policy.name)] = policy.price_per_hour
        return book

    def price(self, instance: Instance, ref: EndpointRef | None = None) -> Price | None:
        """The price of ``instance`` (for endpoint ``ref``, whose configured price wins), or None if unknown."""
        if ref is not None and ref in self.overrides:
            return Price(self.overrides[ref], CONFIG)
        cached = self.cached.get(_key(instance))
        if cached is not None:
            return Price(cached.price_per_hour, API, cached.read_at)
        published = catalog.lookup(*_key(instance))
        if published is not None:
            return Price(published.price_per_hour, PUBLISHED)
        return None

    def price_of(self, ref: EndpointRef | None = None) -> Callable[[Instance], Decimal | None]:
        """A ``price_of`` callable for :func:`epmgr.domain.cost.spend_between`."""

        def lookup(instance: Instance) -> Decimal | None:
            found = self.price(instance, ref)
            return None if found is None else found.usd_per_hour

        return lookup


def refresh_prices(api: EndpointsAPI, ledger: Ledger, now: datetime) -> list[PriceRecord]:
    """Read the hardware route and cache its prices in the ledger (source ``api``, read at ``now``).

    Returns:
        The prices read; empty when the route is unreachable (the cache and the published table still answer).
    """
    try:
        options: Sequence[HardwareOption] = api.hardware()
    except ApiError:
        return []
    records = [
        PriceRecord(
            Instance(o.vendor, o.region, o.accelerator, o.instance_type, o.instance_size),
            o.price_per_hour,
            API,
            now,
        )
        for o in options
    ]
    if records:
        ledger.record_prices(records)
    return records
