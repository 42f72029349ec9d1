"""Fault injection on the management API: rate limits, server errors and slow answers, from a seeded RNG."""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

FAULT_KINDS = ("429", "500", "503", "slow")


@dataclass(frozen=True)
class FaultConfig:
    """Which faults to inject into ``/v2/...`` calls, and how often.

    Args:
        rate: Probability in [0, 1] that a management call gets a fault.
        kinds: The faults to choose from, uniformly: ``"429"``, ``"500"``, ``"503"``, ``"slow"``.
        seed: RNG seed, for a reproducible sequence of faults; ``None`` for an unseeded RNG.
        slow_seconds: How long a ``"slow"`` fault delays the (otherwise normal) answer.
        retry_after: Seconds announced by a 429 in ``Retry-After`` and ``RateLimit``.
    """

    rate: float = 0.0
    kinds: tuple[str, ...] = FAULT_KINDS
    seed: int | None = None
    slow_seconds: float = 2.0
    retry_after: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.rate <= 1:
            raise ValueError("fault rate must be between 0 and 1")
        unknown = set(self.kinds) - set(FAULT_KINDS)
        if unknown or not self.kinds:
            raise ValueError(f"fault kinds must be a non-empty subset of {', '.join(FAULT_KINDS)}")
        if self.slow_seconds < 0 or self.retry_after < 0:
            raise ValueError("slow_seconds and retry_after must not be negative")

    @classmethod
    def from_json(cls, data: Any) -> FaultConfig:
        """Build from the JSON of ``PUT /_emulator/faults`` (any missing key keeps its default)."""
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        allowed = {"rate", "kinds", "seed", "slow_seconds", "retry_after"}
        if unknown := set(data) - allowed:
            raise ValueError(f"unknown keys: {', '.join(sorted(unknown))}")
        values = dict(data)
        if "kinds" in values:
            values["kinds"] = tuple(str(kind) for kind in values["kinds"])
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "kinds": list(self.kinds)}


@dataclass
class FaultInjector:
    """Draws the fault (or none) for each management call and counts what it injected."""

    config: FaultConfig = field(default_factory=FaultConfig)
    injected: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(self.config.seed)

    def configure(self, config: FaultConfig) -> None:
        """Replace the configuration and restart the RNG from its seed."""
        with self._lock:
            self.config = config
            self._rng = random.Random(config.seed)
            self.injected.clear()

    def draw(self) -> str | None:
        """The fault for the next call, or ``None``; one RNG draw per call keeps the sequence reproducible."""
        with self._lock:
            if self.config.rate <= 0:
                return None
            roll = self._rng.random()
            kind = self._rng.choice(self.config.kinds)
            if roll >= self.config.rate:
                return None
            self.injected[kind] += 1
            return kind

    def rate_limit_headers(self) -> dict[str, str]:
        """The headers of an injected 429, in the IETF shape huggingface_hub parses."""
        wait = str(self.config.retry_after)
        return {
            "Retry-After": wait,
            "RateLimit": f'"api";r=0;t={wait}',
            "RateLimit-Policy": '"fixed window";"api";q=500;w=300',
        }
