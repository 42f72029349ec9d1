"""Which backend serves a request while the primary endpoint sleeps, is over budget or fails (pure).

A fallback chain is an ordered list of backends behind one dedicated endpoint (the primary). :func:`choose`
takes what is known at one moment (the primary's condition, the conditions the user lets the chain act on,
the health of each fallback) and returns a :class:`Route`: who serves, whether to start waking the primary,
and why. The client layer (:mod:`epmgr.fallback`) gathers the inputs and carries the route out.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

PRIMARY = "primary"
KINDS = ("serverless", "endpoint", "local", "openai")
FAILURE_COOLDOWN = timedelta(seconds=30)  # a fallback that failed is skipped this long before it is tried again


class When(str, enum.Enum):
    """A condition of the primary under which the chain serves from a fallback (``fallback_when``)."""

    WAKING = "waking"  # asleep or starting: the primary is woken in the background meanwhile
    OVER_BUDGET = "over_budget"  # a budget hold keeps it asleep
    ERROR = "error"  # the primary's call failed (5xx, connection, failed endpoint)


DEFAULT_WHEN = frozenset({When.WAKING, When.OVER_BUDGET})


class Primary(str, enum.Enum):
    """What is known of the primary endpoint at the moment a request arrives."""

    READY = "ready"  # serving (or not known otherwise: it is tried)
    ASLEEP = "asleep"  # paused or scaled to zero, nobody is waking it yet
    WAKING = "waking"  # a wake is under way (this process, or another one through the ledger's lease)
    OVER_BUDGET = "over_budget"  # asleep, and a budget hold forbids waking it
    ERROR = "error"  # the call to it just failed


@dataclass(frozen=True)
class Health:
    """One fallback's health: ``healthy`` False when it is asleep (an endpoint) or failed a moment ago."""

    backend: str
    healthy: bool
    why: str = ""


@dataclass(frozen=True)
class Route:
    """The decision for one request.

    Args:
        serve: ``"primary"``, or the spec of the fallback that serves.
        wake: Start waking the primary in the background (never blocks the request).
        reason: Why, in a few words (logged, and shown by ``X-Epmgr-Served-By``'s neighbour header).
    """

    serve: str
    wake: bool
    reason: str

    @property
    def fallback(self) -> bool:
        return self.serve != PRIMARY


def choose(primary: Primary, when: Iterable[When], fallbacks: Sequence[Health]) -> Route:
    """Who serves a request, given the primary's condition, ``fallback_when`` and the fallbacks' health.

    The rule: a ready primary serves. Otherwise, if its condition is one ``when`` names, the first healthy
    fallback serves; with none healthy (or the condition not named) the primary is used as without a chain (a
    sleeping one is waited for, a budget hold or a failure is raised). An asleep primary is always woken in the
    background, whoever serves; one over budget never is.

    Example:
        >>> choose(Primary.ASLEEP, DEFAULT_WHEN, [Health("serverless:org/model", True)])
        Route(serve='serverless:org/model', wake=True, reason='primary asleep: woken in the background')
    """
    wanted = frozenset(when)
    wake = primary == Primary.ASLEEP
    if primary == Primary.READY:
        return Route(PRIMARY, False, "primary ready")
    trigger = {
        Primary.ASLEEP: When.WAKING,
        Primary.WAKING: When.WAKING,
        Primary.OVER_BUDGET: When.OVER_BUDGET,
        Primary.ERROR: When.ERROR,
    }[primary]
    situation = {
        Primary.ASLEEP: "primary asleep: woken in the background",
        Primary.WAKING: "primary waking",
        Primary.OVER_BUDGET: "primary over budget",
        Primary.ERROR: "primary failed",
    }[primary]
    if trigger not in wanted:
        return Route(PRIMARY, wake, f"{situation}; fallback_when has no {trigger.value!r}")
    for health in fallbacks:
        if health.healthy:
            return Route(health.backend, wake, situation)
    return Route(PRIMARY, wake, f"{situation}; no healthy fallback")


def recently_failed(failed_at: datetime | None, now: datetime, cooldown: timedelta = FAILURE_COOLDOWN) -> bool:
    """A fallback that failed less than ``cooldown`` ago is skipped (so one outage costs one slow call, not all)."""
    return failed_at is not None and now - failed_at < cooldown


@dataclass(frozen=True)
class Spec:
    """A parsed fallback spec: ``kind:target``, with the OpenAI server's model after ``#``.

    ``serverless:org/model[:provider]`` (the router's own ``:provider`` suffix picks a provider),
    ``endpoint:name`` (or ``namespace/name``), ``local:path-or-repo``, ``openai:URL#model``.
    """

    kind: str
    target: str
    model: str | None = None

    def __str__(self) -> str:
        return f"{self.kind}:{self.target}" + (f"#{self.model}" if self.model else "")


def parse_spec(text: str) -> Spec:
    """Parse one fallback spec.

    Raises:
        ValueError: Saying what is expected (the caller names where the value came from).

    Example:
        >>> parse_spec("openai:http://127.0.0.1:11434/v1#llama3.2")
        Spec(kind='openai', target='http://127.0.0.1:11434/v1', model='llama3.2')
    """
    kind, colon, target = text.partition(":") if isinstance(text, str) else ("", "", "")
    if not colon or kind not in KINDS or not target.strip() or target != target.strip():
        raise ValueError(
            "expected a fallback such as 'serverless:org/model', 'endpoint:name', 'local:./models/x' or "
            f"'openai:http://127.0.0.1:11434/v1#model' (kinds: {', '.join(KINDS)}), got {text!r}"
        )
    model: str | None = None
    if kind == "openai":
        target, _, found = target.partition("#")
        model = found or None
        if not target.startswith(("http://", "https://")):
            raise ValueError(f"expected 'openai:' followed by an http(s) URL, got {text!r}")
    if kind == "serverless" and "/" not in target:
        raise ValueError(f"expected 'serverless:' followed by a model id such as 'org/model', got {text!r}")
    return Spec(kind, target, model)


def parse_when(values: Iterable[str]) -> frozenset[When]:
    """``fallback_when`` from its strings.

    Raises:
        ValueError: An unknown condition (the valid ones are named).
    """
    out: set[When] = set()
    for value in values:
        try:
            out.add(When(value))
        except ValueError:
            valid = ", ".join(repr(w.value) for w in When)
            raise ValueError(f"expected conditions among {valid}, got {value!r}") from None
    return frozenset(out)


@dataclass(frozen=True)
class Price:
    """What one fallback answer costs: per request, plus per million input and output tokens (US dollars)."""

    per_request: Decimal = Decimal(0)
    input_per_mtok: Decimal = Decimal(0)
    output_per_mtok: Decimal = Decimal(0)

    def cost(self, requests: int, tokens_in: int, tokens_out: int) -> Decimal:
        """The cost of ``requests`` answers with these token totals."""
        million = Decimal(1_000_000)
        return (
            self.per_request * requests
            + self.input_per_mtok * tokens_in / million
            + self.output_per_mtok * tokens_out / million
        )


# Estimates for when the configuration names none ([fallback_prices] overrides, by spec or by kind): the router
# bills what the provider charges, typically cents per million tokens for a small model; a local model or a local
# OpenAI-compatible server costs nothing here; another endpoint's GPU time is already in that endpoint's spend.
DEFAULT_PRICES = {
    "serverless": Price(Decimal(0), Decimal("0.20"), Decimal("0.60")),
    "endpoint": Price(),
    "local": Price(),
    "openai": Price(),
}


def price_of(spec: str, overrides: dict[str, Price]) -> Price:
    """The price of a spec's answers: its own override, else its kind's override, else the default."""
    if spec in overrides:
        return overrides[spec]
    kind = spec.partition(":")[0]
    return overrides.get(kind, DEFAULT_PRICES.get(kind, Price()))
