"""Accelerator quotas per vendor, region and instance type, as Hugging Face enforces them (limits partly assumed).

An endpoint *demands* ``numAccelerators × maxReplica`` of its instance type (vCPUs for CPU instances), and holds
that demand in every state but ``paused`` and ``failed``: paused endpoints free their quota and scaled-to-zero
ones keep it (Inference Endpoints guide "foundations"). Create, resume from ``paused`` and an update that raises
the demand are refused when the demand would exceed the limit. The limits, the use of ``maxReplica`` and the
refusal (status and text) are assumed; see docs/emulator.md.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

from epmgr import catalog
from epmgr.emulator.lifecycle import State

QuotaKey = tuple[str, str, str]
"""``(vendor, region, instanceType)``."""

DEFAULT_GPU_QUOTA = 4
"""Accelerators per GPU (or Inferentia) instance type and region: a handful, as for a new account (assumed)."""

DEFAULT_CPU_QUOTA = 64
"""vCPUs per CPU instance type and region (assumed)."""

FREE_STATES = frozenset({State.PAUSED, State.FAILED})
"""States that hold no quota."""


def key_of(config: Mapping[str, Any]) -> QuotaKey:
    """The quota an endpoint configuration draws on."""
    return (
        str(config["provider"]["vendor"]),
        str(config["provider"]["region"]),
        str(config["compute"]["instanceType"]),
    )


def demand(config: Mapping[str, Any], instance: catalog.Instance) -> int:
    """Accelerators (vCPUs for CPU instances) the configuration reserves: per replica, times ``maxReplica``."""
    return instance.num_accelerators * int(config["compute"]["scaling"]["maxReplica"])


def grows(old: Mapping[str, Any], new: Mapping[str, Any], instance: catalog.Instance) -> bool:
    """Whether an update from ``old`` to ``new`` (on ``instance``) needs quota it did not hold."""
    before = catalog.lookup(*key_of(old), str(old["compute"]["instanceSize"]))
    if before is None or key_of(old) != key_of(new):
        return True
    return demand(new, instance) > demand(old, before)


def parse_key(text: str) -> QuotaKey:
    """``"aws/us-east-1/nvidia-t4"`` as a key. Raises ValueError for another shape or an unknown instance type."""
    parts = text.split("/")
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"expected VENDOR/REGION/INSTANCE_TYPE such as aws/us-east-1/nvidia-t4, got {text!r}")
    vendor, region, instance_type = parts
    if not any((i.vendor, i.region, i.instance_type) == (vendor, region, instance_type) for i in catalog.INSTANCES):
        raise ValueError(f"no instance type {instance_type!r} in {vendor}/{region} in the catalog")
    return vendor, region, instance_type


class Quotas:
    """The accelerator limit of every instance type: a default by accelerator kind, and overrides.

    Args:
        overrides: ``{(vendor, region, instanceType): max accelerators}``.
        gpu: Default for GPU and Inferentia types.
        cpu: Default (in vCPUs) for CPU types.
    """

    def __init__(
        self,
        overrides: Mapping[QuotaKey, int] | None = None,
        *,
        gpu: int = DEFAULT_GPU_QUOTA,
        cpu: int = DEFAULT_CPU_QUOTA,
    ) -> None:
        self._lock = threading.Lock()
        self._initial = (dict(overrides or {}), gpu, cpu)
        self.reset()

    def reset(self) -> None:
        """Back to the limits given at construction."""
        overrides, gpu, cpu = self._initial
        self.configure(overrides, gpu=gpu, cpu=cpu)

    def configure(self, overrides: Mapping[QuotaKey, int], *, gpu: int, cpu: int) -> None:
        """Replace every limit. Raises ValueError for a negative one."""
        if min([gpu, cpu, *overrides.values()]) < 0:
            raise ValueError("quotas must not be negative")
        with self._lock:
            self._overrides, self._gpu, self._cpu = dict(overrides), gpu, cpu

    def limit(self, instance: catalog.Instance) -> int:
        """The maximum accelerators (vCPUs for CPU) of the instance's type in its region."""
        with self._lock:
            default = self._cpu if instance.accelerator == "cpu" else self._gpu
            return self._overrides.get((instance.vendor, instance.region, instance.instance_type), default)

    def to_json(self) -> dict[str, Any]:
        """The ``GET /_emulator/quota`` answer (also the body ``PUT`` accepts)."""
        with self._lock:
            return {"gpu": self._gpu, "cpu": self._cpu, "limits": {"/".join(k): v for k, v in self._overrides.items()}}

    def configure_from_json(self, data: Any) -> None:
        """Apply a ``PUT /_emulator/quota`` body; missing ``gpu``/``cpu`` keep their value. Raises ValueError."""
        if not isinstance(data, dict) or set(data) - {"gpu", "cpu", "limits"}:
            raise ValueError('expected an object with optional keys "gpu", "cpu" and "limits"')
        current = self.to_json()
        limits = data.get("limits", {})
        if not isinstance(limits, dict):
            raise ValueError('"limits" must map "vendor/region/instanceType" to a number of accelerators')
        values = [data.get("gpu", current["gpu"]), data.get("cpu", current["cpu"]), *limits.values()]
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            raise ValueError("quotas must be whole numbers of accelerators")
        self.configure({parse_key(str(k)): v for k, v in limits.items()}, gpu=values[0], cpu=values[1])


def used(key: QuotaKey, endpoints: Iterable[tuple[Mapping[str, Any], State]]) -> int:
    """Accelerators held on ``key`` by ``(config, state)`` pairs of live endpoints."""
    total = 0
    for config, state in endpoints:
        instance = catalog.lookup(*key_of(config), str(config["compute"]["instanceSize"]))
        if instance is not None and key_of(config) == key and state not in FREE_STATES:
            total += demand(config, instance)
    return total
