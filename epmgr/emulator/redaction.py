"""Secrets never leave the API: ``model.secrets`` values and registry passwords come back as a placeholder.

huggingface_hub 1.33 (``update_inference_endpoint``) says the API "does not return registry credentials in full,
so echoing the fetched image back would overwrite them with the redacted values". The placeholder's spelling and
redacting every ``model.secrets`` value the same way are assumed.
"""

from __future__ import annotations

import copy
from typing import Any

REDACTED = "********"
"""What a secret value or a registry password reads as in every answer (assumed spelling)."""


def _passwords(model: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``credentials`` objects of every image variant that has one."""
    image = model.get("image")
    found = []
    if isinstance(image, dict):
        for variant in image.values():
            credentials = variant.get("credentials") if isinstance(variant, dict) else None
            if isinstance(credentials, dict) and "password" in credentials:
                found.append(credentials)
    return found


def redacted(config: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of a stored configuration with every secret value and registry password replaced."""
    shown = copy.deepcopy(config)
    model = shown.get("model")
    if isinstance(model, dict):
        if isinstance(model.get("secrets"), dict):
            model["secrets"] = {key: REDACTED for key in model["secrets"]}
        for credentials in _passwords(model):
            credentials["password"] = REDACTED
    return shown


def keep_stored(patch: dict[str, Any], stored: dict[str, Any]) -> dict[str, Any]:
    """``patch`` with every placeholder secret or password replaced by the stored value (switch ``keep``)."""
    kept = copy.deepcopy(patch)
    model, old = kept.get("model"), stored.get("model", {})
    if not isinstance(model, dict):
        return kept
    if isinstance(model.get("secrets"), dict):
        old_secrets = old.get("secrets") or {}
        for key, value in model["secrets"].items():
            if value == REDACTED and key in old_secrets:
                model["secrets"][key] = old_secrets[key]
    old_passwords = _passwords(old)
    for credentials in _passwords(model):
        if credentials["password"] == REDACTED and old_passwords:
            credentials["password"] = old_passwords[0]["password"]
    return kept


def has_placeholder_password(config: dict[str, Any]) -> bool:
    """Whether a stored registry password is the placeholder: pulling the image then fails."""
    model = config.get("model")
    return isinstance(model, dict) and any(c["password"] == REDACTED for c in _passwords(model))
