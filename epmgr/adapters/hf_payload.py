"""The JSON of the HF endpoints API, both ways: request bodies from domain values, answers into domain values.

Bodies are the ones huggingface_hub's ``create_inference_endpoint`` and ``update_inference_endpoint`` send;
answers are checked by huggingface_hub's own ``InferenceEndpoint.from_raw`` and
``InferenceEndpointHardware.from_raw`` before becoming immutable snapshots. A success status with a body that is
not the expected JSON (an HTML login page of a proxy, a wrong ``EPMGR_HF_API_URL``) becomes one
:class:`~epmgr.errors.ApiError` that says what came back and from where.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any

from huggingface_hub import InferenceEndpoint, InferenceEndpointHardware

from epmgr.domain.model import (
    EndpointChanges,
    EndpointRef,
    EndpointSnapshot,
    EndpointSpec,
    EndpointState,
    HardwareOption,
    Instance,
)
from epmgr.errors import ApiError


@dataclass(frozen=True)
class Seen:
    """The last HTTP response of a call, as far as an error message needs it."""

    status: int
    content_type: str


def undecodable(exc: Exception, *, what: str, api_url: str, seen: Seen | None, endpoint: str | None) -> ApiError:
    """The error for a success answer whose body is not the JSON epmgr expects (``exc`` from decoding it)."""
    status = f" {seen.status}" if seen else ""
    kind = (seen.content_type.split(";")[0].strip() if seen else "") or "no content type"
    if isinstance(exc, json.JSONDecodeError):
        body = "" if seen else f", starting {exc.doc.lstrip()[:20]!r}"
        problem = f"non-JSON content ({kind}{body})"
    else:
        problem = f"JSON that is not what epmgr expects ({type(exc).__name__}: {str(exc)[:80]})"
    return ApiError(
        f"{what}: the HF API at {api_url} answered{status} with {problem}; is EPMGR_HF_API_URL right?",
        endpoint=endpoint,
        status_code=seen.status if seen else None,
    )


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


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


def snapshot_from_payload(
    raw: Mapping[str, Any], namespace: str, *, raw_keys: frozenset[str] | None = None
) -> EndpointSnapshot:
    """Build a snapshot from one endpoint object of the API (missing or mistyped optional keys get neutral values);
    its ``raw`` keeps the payload's ``raw_keys`` only, if given.

    Raises:
        TypeError: ``raw`` is not a JSON object (the caller turns it into an ApiError).
    """
    if not isinstance(raw, Mapping):
        raise TypeError(f"an endpoint is {type(raw).__name__}, not a JSON object")
    compute = _map(raw.get("compute"))
    scaling = _map(compute.get("scaling"))
    provider = _map(raw.get("provider"))
    model = _map(raw.get("model"))
    status = _map(raw.get("status"))
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
        raw=MappingProxyType(dict(raw) if raw_keys is None else {k: raw[k] for k in raw_keys if k in raw}),
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


def create_body(spec: EndpointSpec) -> dict[str, Any]:
    """The body of ``POST /v2/endpoint/{namespace}``, as huggingface_hub builds it."""
    image = dict(spec.image) if spec.image else None
    model: dict[str, Any] = {
        "framework": spec.framework,
        "repository": spec.repository,
        "revision": spec.revision,
        # a flat container with a `url` is a custom image; any other dict is already keyed by variant
        "image": {"huggingface": {}} if image is None else ({"custom": image} if "url" in image else image),
    }
    if spec.task is not None:  # not nullable server-side, unlike the revision
        model["task"] = spec.task
    if spec.env:
        model["env"] = dict(spec.env)
    body: dict[str, Any] = {
        "compute": {
            "accelerator": spec.instance.accelerator,
            "instanceSize": spec.instance.instance_size,
            "instanceType": spec.instance.instance_type,
            "scaling": {
                "maxReplica": spec.max_replica,
                "minReplica": spec.min_replica,
                "scaleToZeroTimeout": spec.scale_to_zero_timeout_min,
            },
        },
        "model": model,
        "name": spec.name,
        "provider": {"region": spec.instance.region, "vendor": spec.instance.vendor},
        "type": spec.endpoint_type,
    }
    if spec.tags:
        body["tags"] = list(spec.tags)
    return body


def update_body(changes: EndpointChanges) -> dict[str, Any]:
    """The body of ``PUT /v2/endpoint/{namespace}/{name}``: only the fields given (the server merges them)."""
    compute = _given(
        accelerator=changes.accelerator, instanceSize=changes.instance_size, instanceType=changes.instance_type
    )
    scaling = _given(
        maxReplica=changes.max_replica,
        minReplica=changes.min_replica,
        scaleToZeroTimeout=changes.scale_to_zero_timeout_min,
    )
    if scaling:
        compute["scaling"] = scaling
    model = _given(
        repository=changes.repository, framework=changes.framework, revision=changes.revision, task=changes.task
    )
    return _given(compute=compute or None, model=model or None)


def _given(**fields: Any) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not None}


def endpoint_from(raw: Any, namespace: str) -> EndpointSnapshot:
    """One endpoint answer, checked by huggingface_hub's ``InferenceEndpoint.from_raw``, as a snapshot.

    Raises:
        KeyError, TypeError: The answer lacks what huggingface_hub requires (the caller makes it an ApiError).
    """
    if not isinstance(raw, dict):
        raise TypeError(f"an endpoint is {type(raw).__name__}, not a JSON object")
    parsed = InferenceEndpoint.from_raw(raw, namespace=namespace, token=False)  # holds no token, makes no call
    return snapshot_from_payload(parsed.raw, namespace)


def hardware_from(answer: Any) -> list[InferenceEndpointHardware]:
    """The answer of ``GET /v2/provider/{namespace}``, parsed by huggingface_hub as its method does."""
    return [
        InferenceEndpointHardware.from_raw(compute, vendor=vendor["name"], region=region["name"])
        for vendor in answer["vendors"]
        for region in vendor["regions"]
        for compute in region["computes"]
    ]
