"""The published hardware catalog: prices as published, regions from the FAQ, lookups."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from epmgr import catalog


@pytest.mark.parametrize(
    ("vendor", "region", "instance_type", "size", "price"),
    [
        ("aws", "us-east-1", "intel-spr", "x1", "0.033"),
        ("aws", "eu-west-1", "intel-spr", "x16", "0.536"),
        ("azure", "eastus", "intel-xeon", "x8", "0.480"),
        ("gcp", "us-east4", "intel-spr", "x2", "0.100"),
        ("aws", "us-east-1", "intel-icl", "x2", "0.064"),
        ("aws", "us-east-1", "nvidia-l4", "x1", "0.8"),
        ("gcp", "us-east4", "nvidia-l4", "x1", "0.7"),
        ("aws", "us-east-1", "nvidia-b200", "x1", "9.25"),
        ("gcp", "us-east4", "nvidia-h100", "x8", "80"),
        ("aws", "eu-west-1", "inf2", "x12", "12"),
    ],
)
def test_prices_are_the_published_ones(vendor: str, region: str, instance_type: str, size: str, price: str) -> None:
    instance = catalog.lookup(vendor, region, instance_type, size)
    assert instance is not None
    assert instance.price_per_hour == Decimal(price)
    assert isinstance(instance.price_per_hour, Decimal)


def test_the_table_date_and_regions() -> None:
    assert catalog.PUBLISHED.isoformat() == "2026-05-19" and isinstance(catalog.PUBLISHED, date)
    assert catalog.REGIONS == {"aws": ("us-east-1", "eu-west-1"), "azure": ("eastus",), "gcp": ("us-east4",)}


@pytest.mark.parametrize(
    "key",
    [("aws", "us-east-1", "c6i", "medium"), ("azure", "eastus", "nvidia-a100", "x1"), ("aws", "mars-1", "inf2", "x1")],
)
def test_unknown_combinations_are_none(key: tuple[str, str, str, str]) -> None:
    assert catalog.lookup(*key) is None


def test_instance_details_and_deprecations() -> None:
    l40s = catalog.lookup("aws", "us-east-1", "nvidia-l40s", "x8")
    inf2 = catalog.lookup("aws", "us-east-1", "inf2", "x1")
    icl = catalog.lookup("aws", "eu-west-1", "intel-icl", "x4")
    assert l40s and inf2 and icl
    assert (l40s.accelerator, l40s.num_accelerators, l40s.gpu_memory_gb, l40s.id) == (
        "gpu",
        8,
        384,
        "aws-us-east-1-nvidia-l40s-x8",
    )
    assert (inf2.accelerator, inf2.memory_gb, inf2.gpu_memory_gb) == ("neuron", 14.5, 32)
    assert (icl.num_cpus, icl.memory_gb, icl.status, icl.note) == (4, 8, "deprecated", "Deprecated from July 2025")


def test_computes_lists_one_region_of_one_vendor() -> None:
    azure = catalog.computes("azure", "eastus")
    assert [i.instance_size for i in azure] == ["x1", "x2", "x4", "x8"]
    assert catalog.computes("azure", "westeurope") == ()
    ids = [i.id for i in catalog.INSTANCES]
    assert len(ids) == len(set(ids))
