"""Endpoint JSON (as the HF API returns it) into immutable domain snapshots."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any

from epmgr.domain.model import EndpointRef, EndpointSnapshot, EndpointState, HardwareOption, Instance


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    if "." in text:  # fromisoformat wants at most 6 fraction digits before Python 3.11
        head, _, rest = text.partition(".")
        digits = "".join(ch for ch in rest if ch.isdigit())
        text = f"{head}.{digits[:6].ljust(6, '0')}{rest[len(digits) :]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def snapshot_from_payload(raw: Mapping[str, Any], namespace: str) -> EndpointSnapshot:
    """Build a snapshot from one endpoint object of the API (missing optional keys get neutral values)."""
    compute = raw.get("compute") or {}
    scaling = compute.get("scaling") or {}
    provider = raw.get("provider") or {}
    model = raw.get("model") or {}
    status = raw.get("status") or {}
    timeout = scaling.get("scaleToZeroTimeout")
    return EndpointSnapshot(
        ref=EndpointRef(namespace, str(raw.get("name", ""))),
        state=EndpointState.parse(status.get("state")),
        instance=Instance(
            vendor=str(provider.get("vendor", "")),
            region=str(provider.get("region", "")),
            accelerator=str(compute.get("accelerator", "")),
            instance_type=str(compute.get("instanceType", "")),
            instance_size=str(compute.get("instanceSize", "")),
        ),
        url=status.get("url") or None,
        ready_replicas=_int(status.get("readyReplica")),
        target_replicas=_int(status.get("targetReplica")),
        min_replica=_int(scaling.get("minReplica")),
        max_replica=_int(scaling.get("maxReplica"), 1),
        scale_to_zero_timeout_min=timeout if isinstance(timeout, int) else None,
        repository=str(model.get("repository", "")),
        task=model.get("task"),
        framework=str(model.get("framework", "")),
        health_route=str(raw.get("healthRoute") or "/health"),
        endpoint_type=str(raw.get("type", "")),
        message=str(status.get("message") or ""),
        created_at=_parse_time(status.get("createdAt")),
        updated_at=_parse_time(status.get("updatedAt")),
        raw=MappingProxyType(dict(raw)),
    )


def hardware_option(hardware: Any) -> HardwareOption:
    """One ``InferenceEndpointHardware`` of huggingface_hub as a domain option (the price as an exact Decimal)."""
    return HardwareOption(
        vendor=hardware.vendor,
        region=hardware.region,
        accelerator=hardware.accelerator,
        instance_type=hardware.instance_type,
        instance_size=hardware.instance_size,
        price_per_hour=_decimal(hardware.price_per_hour) or Decimal(0),
        num_accelerators=hardware.num_accelerators,
        memory_gb=hardware.memory_gb,
        gpu_memory_gb=hardware.gpu_memory_gb,
        status=hardware.status,
    )
