"""The published Hugging Face Inference Endpoints hardware catalog and its prices, as plain data.

Source: https://huggingface.co/docs/inference-endpoints/support/pricing (last changed 2026-05-19, see
:data:`PUBLISHED`) and the regions listed in the Inference Endpoints FAQ. Prices are USD per replica-hour; the
service bills per minute. Values the documentation does not give (RAM of GPU instances, vCPUs of GPU instances)
are ``None``. Every instance type is assumed to exist in every region of its vendor.

Stdlib only: the emulator serves this catalog and epmgr falls back to it when the live price is unknown.

Example:
    >>> from epmgr.catalog import lookup
    >>> lookup("aws", "us-east-1", "nvidia-l4", "x1").price_per_hour
    Decimal('0.8')
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

__all__ = [
    "PUBLISHED",
    "REGIONS",
    "SOURCE",
    "INSTANCES",
    "Instance",
    "computes",
    "lookup",
]

PUBLISHED = date(2026, 5, 19)
"""The date of the price table the catalog was copied from."""

SOURCE = "https://huggingface.co/docs/inference-endpoints/support/pricing"

REGIONS: dict[str, tuple[str, ...]] = {
    "aws": ("us-east-1", "eu-west-1"),
    "azure": ("eastus",),
    "gcp": ("us-east4",),
}
"""Regions per vendor, from the Inference Endpoints FAQ."""


@dataclass(frozen=True)
class Instance:
    """One orderable compute: a vendor, a region and an instance type and size, with its price.

    Args:
        vendor: Cloud vendor, e.g. ``"aws"``.
        region: Vendor region, e.g. ``"us-east-1"``.
        accelerator: ``"cpu"``, ``"gpu"`` or ``"neuron"``.
        instance_type: e.g. ``"nvidia-l4"`` or ``"intel-spr"``.
        instance_size: e.g. ``"x1"``.
        price_per_hour: USD per replica-hour, exactly as published.
        num_accelerators: GPUs or Inferentia chips per replica; for CPU instances, the vCPUs.
        num_cpus: vCPUs per replica, when published.
        memory_gb: RAM per replica in GB, when published.
        gpu_memory_gb: Total GPU (or Inferentia) memory per replica in GB; ``None`` for CPU instances.
        architecture: Human-readable hardware name.
        status: ``"available"`` or ``"deprecated"`` (as of :data:`PUBLISHED`).
        note: The remark printed next to the row in the price table, e.g. the deprecation date.
    """

    vendor: str
    region: str
    accelerator: str
    instance_type: str
    instance_size: str
    price_per_hour: Decimal
    num_accelerators: int
    num_cpus: int | None
    memory_gb: float | None
    gpu_memory_gb: float | None
    architecture: str
    status: str = "available"
    note: str = ""

    @property
    def id(self) -> str:
        """The hardware id the API uses, e.g. ``"aws-us-east-1-nvidia-l4-x1"``."""
        return f"{self.vendor}-{self.region}-{self.instance_type}-{self.instance_size}"


# (vendor, instanceType, architecture, status, note, ((size, price, vCPUs, RAM GB), ...))
_CPU_TABLE: tuple[tuple[str, str, str, str, str, tuple[tuple[str, str, int, float], ...]], ...] = (
    ("aws", "intel-spr", "Intel Sapphire Rapids", "available", "",
     (("x1", "0.033", 1, 2), ("x2", "0.067", 2, 4), ("x4", "0.134", 4, 8), ("x8", "0.268", 8, 16),
      ("x16", "0.536", 16, 32))),
    ("azure", "intel-xeon", "Intel Xeon", "available", "",
     (("x1", "0.060", 1, 2), ("x2", "0.120", 2, 4), ("x4", "0.240", 4, 8), ("x8", "0.480", 8, 16))),
    ("gcp", "intel-spr", "Intel Sapphire Rapids", "available", "",
     (("x1", "0.050", 1, 2), ("x2", "0.100", 2, 4), ("x4", "0.200", 4, 8), ("x8", "0.400", 8, 16))),
    ("aws", "intel-icl", "Intel Ice Lake", "deprecated", "Deprecated from July 2025",
     (("x1", "0.032", 1, 2), ("x2", "0.064", 2, 4), ("x4", "0.128", 4, 8), ("x8", "0.256", 8, 16))),
)  # fmt: skip

# (vendor, instanceType, architecture, status, note, ((size, price, GPU memory GB), ...))
_GPU_TABLE: tuple[tuple[str, str, str, str, str, tuple[tuple[str, str, float], ...]], ...] = (
    ("aws", "nvidia-t4", "NVIDIA T4", "available", "", (("x1", "0.5", 14), ("x4", "3", 56))),
    ("aws", "nvidia-l4", "NVIDIA L4", "available", "", (("x1", "0.8", 24), ("x4", "3.8", 96))),
    ("aws", "nvidia-a10g", "NVIDIA A10G", "available", "", (("x1", "1", 24), ("x4", "5", 96))),
    ("aws", "nvidia-l40s", "NVIDIA L40S", "available", "",
     (("x1", "1.8", 48), ("x4", "8.3", 192), ("x8", "23.5", 384))),
    ("aws", "nvidia-a100", "NVIDIA A100", "available", "",
     (("x1", "2.5", 80), ("x2", "5", 160), ("x4", "10", 320), ("x8", "20", 640))),
    ("aws", "nvidia-h100", "NVIDIA H100", "deprecated", "Deprecated from December 2025",
     (("x1", "4.5", 80), ("x2", "9", 160), ("x4", "18", 320), ("x8", "36", 640))),
    ("aws", "nvidia-h200", "NVIDIA H200", "available", "",
     (("x1", "5", 141), ("x2", "10", 282), ("x4", "20", 564), ("x8", "40", 1128))),
    ("aws", "nvidia-b200", "NVIDIA B200", "deprecated", "Deprecated from December 2025",
     (("x1", "9.25", 256), ("x2", "18.5", 512), ("x4", "37", 1024), ("x8", "74", 2048))),
    ("gcp", "nvidia-t4", "NVIDIA T4", "available", "", (("x1", "0.5", 16),)),
    ("gcp", "nvidia-l4", "NVIDIA L4", "available", "", (("x1", "0.7", 24), ("x4", "3.8", 96))),
    ("gcp", "nvidia-a100", "NVIDIA A100", "available", "",
     (("x1", "3.6", 80), ("x2", "7.2", 160), ("x4", "14.4", 320), ("x8", "28.8", 640))),
    ("gcp", "nvidia-h100", "NVIDIA H100", "available", "",
     (("x1", "10", 80), ("x2", "20", 160), ("x4", "40", 320), ("x8", "80", 640))),
)  # fmt: skip

# AWS Inferentia2: (size, price, accelerators, accelerator memory GB, RAM GB)
_INF2_TABLE: tuple[tuple[str, str, int, float, float], ...] = (
    ("x1", "0.75", 1, 32, 14.5),
    ("x12", "12", 12, 384, 760),
)


def _build() -> tuple[Instance, ...]:
    rows: list[Instance] = []
    for vendor, itype, arch, status, note, cpu_sizes in _CPU_TABLE:
        for region in REGIONS[vendor]:
            rows += [
                Instance(vendor, region, "cpu", itype, size, Decimal(price), vcpus, vcpus, ram, None, arch,
                         status, note)
                for size, price, vcpus, ram in cpu_sizes
            ]  # fmt: skip
    for vendor, itype, arch, status, note, gpu_sizes in _GPU_TABLE:
        for region in REGIONS[vendor]:
            rows += [
                Instance(vendor, region, "gpu", itype, size, Decimal(price), int(size[1:]), None, None, gpu_mem,
                         arch, status, note)
                for size, price, gpu_mem in gpu_sizes
            ]  # fmt: skip
    for region in REGIONS["aws"]:
        rows += [
            Instance("aws", region, "neuron", "inf2", size, Decimal(price), chips, None, ram, acc_mem,
                     "AWS Inferentia2")
            for size, price, chips, acc_mem, ram in _INF2_TABLE
        ]  # fmt: skip
    return tuple(rows)


INSTANCES: tuple[Instance, ...] = _build()
"""Every published instance, once per region of its vendor."""

_BY_KEY = {(i.vendor, i.region, i.instance_type, i.instance_size): i for i in INSTANCES}


def lookup(vendor: str, region: str, instance_type: str, instance_size: str) -> Instance | None:
    """The catalog entry for a compute, or ``None`` when that combination is not offered.

    Example:
        >>> lookup("aws", "us-east-1", "c6i", "medium") is None
        True
    """
    return _BY_KEY.get((vendor, region, instance_type, instance_size))


def computes(vendor: str, region: str) -> tuple[Instance, ...]:
    """Every compute offered in one vendor region, in catalog order (empty for an unknown region)."""
    return tuple(i for i in INSTANCES if i.vendor == vendor and i.region == region)
