"""The JSON the emulated API answers with: endpoint objects, the hardware listing, billing reports."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from epmgr import catalog
from epmgr.emulator import billing, quota
from epmgr.emulator.lifecycle import MESSAGES, State
from epmgr.emulator.redaction import redacted
from epmgr.emulator.state import Endpoint

# (readyReplica, targetReplica) as a function of the state; N is the serving replica count.
_NO_REPLICAS = frozenset({State.PENDING, State.PAUSED, State.SCALED_TO_ZERO})
_URL_ALWAYS = frozenset({State.INITIALIZING, State.RUNNING, State.UPDATING, State.SCALED_TO_ZERO})
_FAILED = frozenset({State.FAILED, State.UPDATE_FAILED})


def timestamp(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.fffZ`` in UTC, the only form huggingface_hub parses."""
    utc = moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def endpoint_url(endpoint: Endpoint, base_url: str) -> str:
    """The endpoint's inference URL on this server: ``{base_url}/e/{endpoint_id}``."""
    return f"{base_url.rstrip('/')}/e/{endpoint.endpoint_id}"


def has_url(endpoint: Endpoint) -> bool:
    """Whether ``status.url`` is shown: not while pending or paused; after a failure only if it once ran."""
    if endpoint.state in _URL_ALWAYS:
        return True
    return endpoint.state in (State.FAILED, State.UPDATE_FAILED) and endpoint.lifecycle.deployed


def endpoint_json(endpoint: Endpoint, base_url: str) -> dict[str, Any]:
    """The stored configuration, secrets redacted, plus its ``status`` object."""
    state = endpoint.state
    failure = endpoint.lifecycle.failure if state in _FAILED else None
    replicas = endpoint.lifecycle.serving_replicas
    ready = replicas if state is State.RUNNING else 0
    target = 0 if state in _NO_REPLICAS else replicas
    status: dict[str, Any] = {
        "createdAt": timestamp(endpoint.created_at),
        "createdBy": endpoint.created_by,
        "updatedAt": timestamp(endpoint.updated_at),
        "updatedBy": endpoint.created_by,
        "private": None,
        "state": state.value,
        "message": endpoint.message or failure or MESSAGES[state],
        "readyReplica": ready,
        "targetReplica": target,
    }
    if has_url(endpoint):
        status["url"] = endpoint_url(endpoint, base_url)
    body = redacted(endpoint.config)
    body["status"] = status
    return body


def hardware_json(endpoints: list[Endpoint], quotas: quota.Quotas) -> dict[str, Any]:
    """``GET /v2/provider/{ns}``: ``vendors → regions → computes``, with prices and quota use.

    Quotas are per instance type: every size of a type shows the same limit and use (see
    :mod:`epmgr.emulator.quota`). ``endpoints`` are the live endpoints whose use counts.
    """
    held = [(e.config, e.state) for e in endpoints]
    vendors = []
    for vendor, regions in catalog.REGIONS.items():
        region_list = []
        for region in regions:
            computes = [
                {
                    "id": i.id,
                    "accelerator": i.accelerator,
                    "instanceType": i.instance_type,
                    "instanceSize": i.instance_size,
                    "architecture": i.architecture,
                    "numAccelerators": i.num_accelerators,
                    "numCpus": i.num_cpus,
                    "memoryGb": i.memory_gb,
                    "gpuMemoryGb": i.gpu_memory_gb,
                    "pricePerHour": float(i.price_per_hour),
                    "status": i.status,
                    "quota": {
                        "maxAccelerators": quotas.limit(i),
                        "usedAccelerators": quota.used((i.vendor, i.region, i.instance_type), held),
                    },
                }
                for i in catalog.computes(vendor, region)
            ]
            region_list.append({"name": region, "computes": computes})
        vendors.append({"name": vendor, "regions": region_list})
    return {"vendors": vendors}


def billing_json(endpoint: Endpoint, segments: list[billing.Segment]) -> dict[str, Any]:
    """One endpoint's entry in ``GET /_emulator/billing``."""
    return {
        "namespace": endpoint.namespace,
        "name": endpoint.name,
        "deleted": endpoint.deleted_at is not None,
        "replicaMinutes": sum(s.replica_minutes for s in segments),
        "usd": str(billing.total(segments)),
        "segments": [
            {
                "start": timestamp(s.start),
                "end": timestamp(s.end) if s.end else None,
                "replicas": s.replicas,
                "pricePerHour": str(s.price_per_hour),
                "minutes": s.minutes,
                "usd": str(s.usd),
            }
            for s in segments
        ],
        "transitions": [{"state": p.state.value, "at": timestamp(p.start)} for p in endpoint.lifecycle.phases],
    }
