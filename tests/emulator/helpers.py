"""Constants and small builders shared by the emulator tests."""

from __future__ import annotations

import copy
from datetime import datetime, timezone
from typing import Any

from epmgr.emulator import DEMO_TOKEN, EmulatorTimings

FAST = EmulatorTimings(pending=0.1, initializing=0.2, scale_up=0.2, update=0.1, minute=0.05)
"""Short real-time timings: create → running in 0.3 s, one emulated minute = 50 ms."""

SLOW = EmulatorTimings(pending=60, initializing=240, scale_up=180, update=120, minute=60)
"""HF-like timings, for FakeClock tests (time only moves when a test advances it)."""

T0 = datetime(2026, 5, 19, 12, 0, tzinfo=timezone.utc)
ORG = "acme"
AUTH = {"Authorization": f"Bearer {DEMO_TOKEN}"}

CPU_BODY: dict[str, Any] = {
    "compute": {
        "accelerator": "cpu",
        "instanceSize": "x2",
        "instanceType": "intel-icl",
        "scaling": {"maxReplica": 1, "minReplica": 1, "scaleToZeroTimeout": None},
    },
    "model": {"framework": "pytorch", "repository": "gpt2", "revision": None, "image": {"huggingface": {}}},
    "name": "ep",
    "provider": {"region": "us-east-1", "vendor": "aws"},
    "type": "authenticated",
}
"""The literal body huggingface_hub sends for a create with only the required arguments (reference §5.1)."""


def body(**changes: Any) -> dict[str, Any]:
    """A copy of CPU_BODY with top-level keys replaced; ``scaling=`` and ``compute=`` (a dict) patch nested values."""
    result = copy.deepcopy(CPU_BODY)
    result["compute"]["scaling"].update(changes.pop("scaling", {}))
    compute = changes.pop("compute", {})
    if isinstance(compute, dict):
        result["compute"].update(compute)
    else:
        result["compute"] = compute
    result.update(changes)
    return result
