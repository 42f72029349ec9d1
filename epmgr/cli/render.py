"""How endpoints look on a terminal and in JSON."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from epmgr.domain.model import EndpointSnapshot


def money(value: Decimal | None) -> str:
    """Dollars with cents, and more digits only where the price has them: $0.80, $0.033, $23.50."""
    if value is None:
        return "?"
    cents = value.quantize(Decimal("0.01"))
    return f"${cents}" if cents == value else f"${value.normalize():f}"


def snapshot_dict(snapshot: EndpointSnapshot, *, raw: bool = False) -> dict[str, Any]:
    """A stable JSON shape for one endpoint (``raw`` adds the API's own payload)."""
    data: dict[str, Any] = {
        "namespace": snapshot.ref.namespace,
        "name": snapshot.ref.name,
        "state": snapshot.state.value,
        "url": snapshot.url,
        "message": snapshot.message,
        "repository": snapshot.repository,
        "task": snapshot.task,
        "framework": snapshot.framework,
        "type": snapshot.endpoint_type,
        "instance": {
            "vendor": snapshot.instance.vendor,
            "region": snapshot.instance.region,
            "accelerator": snapshot.instance.accelerator,
            "instance_type": snapshot.instance.instance_type,
            "instance_size": snapshot.instance.instance_size,
        },
        "replicas": {
            "ready": snapshot.ready_replicas,
            "target": snapshot.target_replicas,
            "min": snapshot.min_replica,
            "max": snapshot.max_replica,
        },
        "scale_to_zero_timeout_min": snapshot.scale_to_zero_timeout_min,
        "price_per_hour": None if snapshot.price_per_hour is None else str(snapshot.price_per_hour),
        "created_at": snapshot.created_at.isoformat() if snapshot.created_at else None,
        "updated_at": snapshot.updated_at.isoformat() if snapshot.updated_at else None,
    }
    if raw:
        data["raw"] = dict(snapshot.raw)
    return data


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by two spaces."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)]
    lines = [headers, *rows]
    return "\n".join(
        "  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=False)).rstrip() for line in lines
    )


def endpoints_table(snapshots: Sequence[EndpointSnapshot]) -> str:
    if not snapshots:
        return "No endpoints."
    rows = [
        (
            s.ref.name,
            s.state.value,
            f"{s.instance.vendor}/{s.instance.region} {s.instance.instance_type} {s.instance.instance_size}",
            money(s.price_per_hour),
            f"{s.ready_replicas}/{s.target_replicas} ({s.min_replica}-{s.max_replica})",
            s.url or "-",
        )
        for s in snapshots
    ]
    return table(("NAME", "STATE", "INSTANCE", "$/H", "REPLICAS", "URL"), rows)


def snapshot_text(s: EndpointSnapshot) -> str:
    timeout = f"{s.scale_to_zero_timeout_min}m" if s.scale_to_zero_timeout_min else "off"
    pairs = [
        ("endpoint", str(s.ref)),
        ("state", s.state.value + (f" ({s.message})" if s.message else "")),
        ("url", s.url or "-"),
        ("model", f"{s.repository} ({s.framework}, task {s.task or '-'})"),
        ("instance", f"{s.instance} [{s.instance.accelerator}]"),
        ("price", f"{money(s.price_per_hour)} per replica-hour"),
        (
            "replicas",
            f"{s.ready_replicas} ready / {s.target_replicas} target, min {s.min_replica}, max {s.max_replica}",
        ),
        ("scale to zero", f"after {timeout} idle (HF's own timer)"),
        ("type", s.endpoint_type),
        ("created", s.created_at.isoformat() if s.created_at else "-"),
        ("updated", s.updated_at.isoformat() if s.updated_at else "-"),
    ]
    width = max(len(key) for key, _ in pairs)
    return "\n".join(f"{key.ljust(width)}  {value}" for key, value in pairs)
