"""Quota refusals of the HF API, told apart from other refusals and explained with the numbers.

HF does not document how it refuses a create, resume or update past a quota. The emulator's default (and the
most hostile plausible answer) is a 400 whose message says "quota" and gives no numbers; other statuses are
possible (docs/emulator.md, switch ``quota_status``). So a refusal is a quota refusal when its message mentions
a quota, whatever its status, and the numbers come from the hardware route (``quota.maxAccelerators`` and
``quota.usedAccelerators`` of the instance type).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from epmgr.domain.model import EndpointChanges, EndpointSnapshot, Instance
from epmgr.errors import QuotaExceeded

QUOTA_STATUSES = frozenset({400, 402, 403, 409, 429})
"""Statuses a quota refusal may plausibly have."""


def is_quota_refusal(status: int, message: str) -> bool:
    """Whether an HTTP refusal is about a quota (never retried: waiting does not free GPUs)."""
    return status in QUOTA_STATUSES and "quota" in message.lower()


def _quota_of(instance: Instance, hardware: Iterable[Any]) -> tuple[int, int, int] | None:
    """``(per replica, max, used)`` accelerators of the instance's type, from huggingface_hub hardware objects."""
    for option in hardware:
        same_type = (option.vendor, option.region, option.instance_type) == (
            instance.vendor,
            instance.region,
            instance.instance_type,
        )
        if same_type and option.instance_size == instance.instance_size:
            return int(option.num_accelerators), int(option.max_accelerators), int(option.used_accelerators)
    return None


def explain(refusal: QuotaExceeded, instance: Instance, replicas: int, hardware: Iterable[Any]) -> QuotaExceeded:
    """The refusal again, in one line naming the instance type and the quota (when the hardware route knows it).

    Args:
        refusal: The refusal as translated from the HTTP answer.
        instance: The compute the refused call asked for.
        replicas: ``maxReplica`` of the refused configuration.
        hardware: ``list_inference_endpoints_hardware`` objects of the namespace.
    """
    action = refusal.message.split(":", 1)[0]
    where = f"{instance.instance_type} {instance.instance_size} in {instance.vendor}/{instance.region}"
    found = _quota_of(instance, hardware)
    if found is None:
        detail = f"quota exceeded for {where} (HF: {refusal.server_message})"
        limit = used = needed = None
    else:
        per_replica, limit, used = found
        needed = per_replica * replicas
        detail = (
            f"quota exceeded for {where}: it needs {needed} accelerator(s), {used} of the {limit} allowed for "
            f"{instance.instance_type} are in use; pause or delete another endpoint, or ask HF for more quota"
        )
    return QuotaExceeded(
        f"{action}: {detail}",
        endpoint=refusal.endpoint,
        status_code=refusal.status_code,
        server_message=refusal.server_message,
        instance=str(instance),
        limit=limit,
        used=used,
        needed=needed,
    )


def requested(snapshot: EndpointSnapshot, changes: EndpointChanges | None = None) -> tuple[Instance, int]:
    """The compute and ``maxReplica`` an endpoint asks for once ``changes`` (if any) are applied."""
    instance, replicas = snapshot.instance, snapshot.max_replica
    if changes is not None:
        instance = Instance(
            instance.vendor,
            instance.region,
            changes.accelerator or instance.accelerator,
            changes.instance_type or instance.instance_type,
            changes.instance_size or instance.instance_size,
        )
        replicas = changes.max_replica if changes.max_replica is not None else replicas
    return instance, replicas
