"""Checks and defaults for endpoint configurations sent to the management API (create and update)."""

from __future__ import annotations

import copy
import re
from typing import Any

from epmgr import catalog

NAME_PATTERN = re.compile(r"^[a-z0-9-]{1,32}$")
ENDPOINT_TYPES = ("public", "authenticated", "private", "protected")


class ApiError(Exception):
    """A request the emulated API refuses: the HTTP status and the ``{"error": message}`` body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def deep_merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``base`` with ``patch`` merged in: nested objects merge key by key, anything else replaces."""
    merged = copy.deepcopy(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _require(config: dict[str, Any], path: str) -> Any:
    node: Any = config
    for key in path.split("."):
        if not isinstance(node, dict) or node.get(key) is None:
            raise ApiError(400, f"Missing required field '{path}'")
        node = node[key]
    return node


def _health_route(image: Any) -> str:
    """The health route implied by the image: a custom image may name its own (``healthRoute``, as huggingface_hub's
    guide writes it, or ``health_route``); everything else uses /health."""
    if isinstance(image, dict):
        for variant in image.values():
            for key in ("healthRoute", "health_route"):
                if isinstance(variant, dict) and isinstance(variant.get(key), str):
                    return str(variant[key])
    return "/health"


def with_defaults(body: dict[str, Any]) -> dict[str, Any]:
    """A create body completed with the fields the service fills in when they are left out (partly assumed)."""
    _check_objects(body)
    config = copy.deepcopy(body)
    config.pop("status", None)
    model = config.setdefault("model", {})
    model.setdefault("framework", "pytorch")
    model.setdefault("revision", None)
    if model.get("task") is None:
        model["task"] = "text-generation"
    model.setdefault("image", {"huggingface": {}})
    config.setdefault("compute", {}).setdefault("scaling", {}).setdefault("scaleToZeroTimeout", None)
    config.setdefault("type", "authenticated")
    config.setdefault("accountId", None)
    config.setdefault("tags", [])
    config.setdefault("experimentalFeatures", {})
    config.setdefault("notifications", [])
    config.setdefault("cacheHttpResponses", False)
    config.setdefault("healthRoute", _health_route(model.get("image")))
    return config


def _check_objects(body: Any) -> None:
    """Raise a 400 unless the body and its nested sections are JSON objects."""
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object")
    for key in ("compute", "model", "provider", "route"):
        if key in body and not isinstance(body[key], dict):
            raise ApiError(400, f"Field '{key}' must be an object")
    compute = body.get("compute")
    if isinstance(compute, dict) and "scaling" in compute and not isinstance(compute["scaling"], dict):
        raise ApiError(400, "Field 'compute.scaling' must be an object")


def check(config: dict[str, Any]) -> catalog.Instance:
    """Validate a complete configuration and return its catalog compute.

    Raises:
        ApiError: 400 for a missing field, a bad name or type, an unknown compute, or inconsistent scaling.
    """
    name = _require(config, "name")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ApiError(
            400,
            f"Invalid endpoint name {name!r}: it must only contain lowercase alphanumeric characters or '-' "
            "and have a length of 32 characters maximum",
        )
    if config.get("type") not in ENDPOINT_TYPES:
        raise ApiError(
            400, f"Invalid endpoint type {config.get('type')!r}: expected one of public, authenticated, private"
        )
    _require(config, "model.repository")
    accelerator = _require(config, "compute.accelerator")
    instance_type = _require(config, "compute.instanceType")
    instance_size = _require(config, "compute.instanceSize")
    vendor = _require(config, "provider.vendor")
    region = _require(config, "provider.region")
    instance = catalog.lookup(str(vendor), str(region), str(instance_type), str(instance_size))
    if instance is None or instance.accelerator != accelerator:
        raise ApiError(
            400,
            f"Instance compute '{str(accelerator).capitalize()}' - '{instance_type}' - '{instance_size}' "
            f"in '{vendor}' - '{region}' not found",
        )
    _check_scaling(config["compute"]["scaling"])
    return instance


def _check_scaling(scaling: dict[str, Any]) -> None:
    min_replica = scaling.get("minReplica")
    max_replica = scaling.get("maxReplica")
    timeout = scaling.get("scaleToZeroTimeout")
    if not isinstance(min_replica, int) or isinstance(min_replica, bool) or min_replica < 0:
        raise ApiError(400, "compute.scaling.minReplica must be an integer >= 0")
    if not isinstance(max_replica, int) or isinstance(max_replica, bool) or max_replica < 1:
        raise ApiError(400, "compute.scaling.maxReplica must be an integer >= 1")
    if min_replica > max_replica:
        raise ApiError(400, "compute.scaling.minReplica must not exceed maxReplica")
    if timeout is not None:
        if not isinstance(timeout, int) or isinstance(timeout, bool) or timeout < 1:
            raise ApiError(400, "compute.scaling.scaleToZeroTimeout must be a whole number of minutes >= 1")
        if min_replica != 0:
            raise ApiError(400, "compute.scaling.scaleToZeroTimeout requires minReplica to be 0")


def merge_update(config: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """The configuration after a PUT: ``patch`` deep-merged into ``config`` (name and status cannot change).

    A patch that raises ``minReplica`` above 0 without naming ``scaleToZeroTimeout`` also clears the stored
    timeout (assumed), so that huggingface_hub's ``update(min_replica=1)``, which cannot send a null, works.
    """
    _check_objects(patch)
    if "name" in patch and patch["name"] != config["name"]:
        raise ApiError(400, "The endpoint name cannot be changed")
    patch = {key: value for key, value in patch.items() if key not in ("name", "status")}
    merged = deep_merge(config, patch)
    scaling_patch = patch.get("compute", {}).get("scaling", {})
    if (
        isinstance(scaling_patch.get("minReplica"), int)
        and scaling_patch["minReplica"] > 0
        and "scaleToZeroTimeout" not in scaling_patch
    ):
        merged["compute"]["scaling"]["scaleToZeroTimeout"] = None
    if isinstance(patch.get("model"), dict) and "image" in patch["model"] and "healthRoute" not in patch:
        merged["healthRoute"] = _health_route(merged["model"]["image"])
    return merged
