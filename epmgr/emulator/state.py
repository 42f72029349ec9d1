"""The emulator's in-memory endpoints: the management operations, each a lazy state transition on a Clock."""

from __future__ import annotations

import hashlib
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from epmgr import catalog
from epmgr.clock import Clock, SystemClock
from epmgr.emulator import billing, quota, redaction
from epmgr.emulator.behaviour import Behaviour
from epmgr.emulator.lifecycle import EmulatorTimings, Lifecycle, State, advance, enter, start
from epmgr.emulator.validation import ApiError, check, merge_update, with_defaults

REQUEST_LOG_SIZE = 100_000
"""Inference requests remembered per endpoint (for the metrics routes)."""

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
_SERVING = frozenset({State.RUNNING, State.INITIALIZING, State.UPDATING, State.UPDATE_FAILED})
_FAILED = frozenset({State.FAILED, State.UPDATE_FAILED})


@dataclass
class Endpoint:
    """One emulated endpoint: its stored configuration and its lifecycle.

    Args:
        namespace: The user or organisation owning it.
        name: Its name.
        endpoint_id: 16 lowercase alphanumerics; the stable last part of its URL.
        config: The configuration as stored and echoed back (no ``status``).
        lifecycle: Its history of phases.
        created_at: Creation instant.
        updated_at: Last configuration change or lifecycle action.
        created_by: ``{"id", "name"}`` of the creating user.
        message: A status message overriding the state's default (set by failure injection).
        deleted_at: When it was deleted; deleted endpoints remain only for billing.
        requests: ``(instant, HTTP status, inference call?)`` of the requests its URL received, health checks
            excepted.
    """

    namespace: str
    name: str
    endpoint_id: str
    config: dict[str, Any]
    lifecycle: Lifecycle
    created_at: datetime
    updated_at: datetime
    created_by: dict[str, str]
    message: str | None = None
    deleted_at: datetime | None = None
    requests: deque[tuple[datetime, int, bool]] = field(default_factory=lambda: deque(maxlen=REQUEST_LOG_SIZE))

    @property
    def state(self) -> State:
        return self.lifecycle.state


def _endpoint_id(seed: str) -> str:
    number = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:16], "big")
    chars = []
    for _ in range(16):
        number, digit = divmod(number, 36)
        chars.append(_ALPHABET[digit])
    return "".join(chars)


def user_ref(user: str) -> dict[str, str]:
    """The ``{"id", "name"}`` object the API uses for ``createdBy``/``updatedBy``."""
    return {"id": hashlib.sha256(user.encode()).hexdigest()[:24], "name": user}


class EmulatorState:
    """Every emulated endpoint, with the management operations of the API.

    Each method first brings the endpoint up to date with :func:`~epmgr.emulator.lifecycle.advance`, so state
    changes happen lazily at their exact instants. All methods are thread-safe (one re-entrant ``lock``).

    Args:
        clock: Source of "now"; a ``FakeClock`` makes the whole emulator deterministic.
        timings: Durations of the timed states.
        quotas: Accelerator limits per instance type (default: :class:`~epmgr.emulator.quota.Quotas`).
        behaviour: The switches for undocumented behaviour (default: the most hostile).
    """

    def __init__(
        self,
        clock: Clock | None = None,
        timings: EmulatorTimings | None = None,
        quotas: quota.Quotas | None = None,
        behaviour: Behaviour | None = None,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.timings = timings or EmulatorTimings()
        self.quotas = quotas or quota.Quotas()
        self.initial_behaviour = behaviour or Behaviour()
        self.behaviour = self.initial_behaviour
        self.lock = threading.RLock()
        self._endpoints: dict[tuple[str, str], Endpoint] = {}
        self._deleted: list[Endpoint] = []
        self._created = 0

    def now(self) -> datetime:
        return self.clock.now()

    def reset(self) -> None:
        """Forget every endpoint, deleted ones (and their billing) included; back to the initial quotas and switches."""
        with self.lock:
            self._endpoints.clear()
            self._deleted.clear()
            self.quotas.reset()
            self.behaviour = self.initial_behaviour

    # ------------------------------------------------------------------ reads

    def get(self, namespace: str, name: str) -> Endpoint:
        """The endpoint, brought up to date. Raises ``ApiError(404)`` when unknown."""
        with self.lock:
            endpoint = self._endpoints.get((namespace, name))
            if endpoint is None:
                raise ApiError(404, f"Endpoint '{name}' not found in namespace '{namespace}'")
            self._advance(endpoint)
            return endpoint

    def in_namespace(self, namespace: str, *, advance: bool = True) -> list[Endpoint]:
        """The namespace's endpoints in creation order, brought up to date (unless ``advance`` is False: the caller
        brings up to date only those it shows, with :meth:`advance`)."""
        with self.lock:
            found = [e for (ns, _), e in self._endpoints.items() if ns == namespace]
            if advance:
                self.advance(found)
            return found

    def advance(self, endpoints: list[Endpoint]) -> None:
        """Bring ``endpoints`` up to date with the clock."""
        with self.lock:
            for endpoint in endpoints:
                self._advance(endpoint)

    def by_id(self, endpoint_id: str) -> Endpoint | None:
        """The live endpoint whose URL ends in ``endpoint_id``, brought up to date."""
        with self.lock:
            for endpoint in self._endpoints.values():
                if endpoint.endpoint_id == endpoint_id:
                    self._advance(endpoint)
                    return endpoint
            return None

    def deleted_id(self, endpoint_id: str) -> bool:
        """Whether ``endpoint_id`` is the URL id of a deleted endpoint."""
        with self.lock:
            return any(e.endpoint_id == endpoint_id for e in self._deleted)

    def quota_used(self, namespace: str, key: quota.QuotaKey, *, besides: Endpoint | None = None) -> int:
        """Accelerators held on ``key`` by the namespace's live endpoints (``besides`` left out)."""
        with self.lock:
            live = [e for e in self.in_namespace(namespace) if e is not besides]
            return quota.used(key, ((e.config, e.state) for e in live))

    def endpoints(self, *, include_deleted: bool = False) -> list[Endpoint]:
        """Every endpoint, brought up to date; deleted ones first when asked for."""
        with self.lock:
            live = list(self._endpoints.values())
            for endpoint in live:
                self._advance(endpoint)
            return [*self._deleted, *live] if include_deleted else live

    def segments(self, endpoint: Endpoint) -> list[billing.Segment]:
        """The billed segments of an endpoint so far."""
        with self.lock:
            now = endpoint.deleted_at or self.now()
            return billing.segments(endpoint.lifecycle.phases, now)

    # ----------------------------------------------------------------- writes

    def create(self, namespace: str, body: Any, *, user: str) -> Endpoint:
        """Create an endpoint from a POST body; it starts ``pending``. Raises ``ApiError`` 400 or 409."""
        config = with_defaults(body)
        instance = check(config)
        with self.lock:
            if (namespace, config["name"]) in self._endpoints:
                raise ApiError(409, f"Endpoint name '{config['name']}' is already taken in namespace '{namespace}'")
            self._check_quota(namespace, config, instance)
            now = self.now()
            self._created += 1
            scaling = config["compute"]["scaling"]
            lifecycle = Lifecycle(
                phases=[],
                min_replica=scaling["minReplica"],
                max_replica=scaling["maxReplica"],
                scale_to_zero_timeout=scaling["scaleToZeroTimeout"],
                price_per_hour=instance.price_per_hour,
                failure=_pull_failure(config),
            )
            endpoint = Endpoint(
                namespace=namespace,
                name=config["name"],
                endpoint_id=_endpoint_id(f"{namespace}/{config['name']}/{self._created}/{now.isoformat()}"),
                config=config,
                lifecycle=start(lifecycle, now, self.timings),
                created_at=now,
                updated_at=now,
                created_by=user_ref(user),
            )
            self._endpoints[(namespace, endpoint.name)] = endpoint
            self._advance(endpoint)
            return endpoint

    def update(self, namespace: str, name: str, patch: Any) -> Endpoint:
        """Merge ``patch`` into the configuration (PUT); a serving endpoint goes through ``updating``."""
        with self.lock:
            endpoint = self.get(namespace, name)
            if self.behaviour.redacted_update == "keep" and isinstance(patch, dict):
                patch = redaction.keep_stored(patch, endpoint.config)
            merged = merge_update(endpoint.config, patch)
            instance = check(merged)
            if endpoint.state not in quota.FREE_STATES and quota.grows(endpoint.config, merged, instance):
                self._check_quota(namespace, merged, instance, besides=endpoint)
            endpoint.config = merged
            lifecycle = endpoint.lifecycle
            scaling = merged["compute"]["scaling"]
            lifecycle.min_replica = scaling["minReplica"]
            lifecycle.max_replica = scaling["maxReplica"]
            lifecycle.scale_to_zero_timeout = scaling.get("scaleToZeroTimeout")
            lifecycle.price_per_hour = instance.price_per_hour
            lifecycle.failure = _pull_failure(merged)
            if endpoint.state in _SERVING:
                self._enter(endpoint, State.UPDATING)
            elif endpoint.state is State.SCALED_TO_ZERO and lifecycle.min_replica > 0:
                self._enter(endpoint, State.INITIALIZING, cold_start=True)
            endpoint.updated_at = self.now()
            return endpoint

    def delete(self, namespace: str, name: str) -> None:
        """Delete an endpoint; billing stops now, and what it cost stays in the billing report."""
        with self.lock:
            endpoint = self.get(namespace, name)
            now = self.now()
            endpoint.lifecycle.current.end = now
            endpoint.deleted_at = now
            del self._endpoints[(namespace, name)]
            self._deleted.append(endpoint)

    def pause(self, namespace: str, name: str) -> Endpoint:
        """Pause at once: no replica, no URL, no cost. Pausing a paused endpoint changes nothing."""
        with self.lock:
            endpoint = self.get(namespace, name)
            if endpoint.state in _FAILED:
                raise ApiError(400, f"Endpoint {name} is in a failed state and cannot be paused")
            if endpoint.state is not State.PAUSED:
                self._enter(endpoint, State.PAUSED)
            return endpoint

    def resume(self, namespace: str, name: str) -> Endpoint:
        """Resume: paused → pending; scaledToZero → initializing (a cold start); running → 400 "already running".

        Resuming an endpoint that is already on its way up (pending, initializing, updating) changes nothing.
        """
        with self.lock:
            endpoint = self.get(namespace, name)
            state = endpoint.state
            if state is State.RUNNING:
                raise ApiError(400, f"Endpoint {name} is already running")
            if state in _FAILED:
                raise ApiError(400, f"Endpoint {name} is in a failed state: create a new endpoint")
            if state is State.PAUSED:
                self._check_quota(namespace, endpoint.config, check(endpoint.config), besides=endpoint)
                self._enter(endpoint, State.PENDING)
            elif state is State.SCALED_TO_ZERO:
                self._enter(endpoint, State.INITIALIZING, cold_start=True)
            return endpoint

    def scale_to_zero(self, namespace: str, name: str) -> Endpoint:
        """Scale to zero at once: no replica, no cost, URL kept; the next inference request wakes it."""
        with self.lock:
            endpoint = self.get(namespace, name)
            if endpoint.state is State.PAUSED:
                raise ApiError(400, f"Endpoint {name} is paused: resume it first")
            if endpoint.state in _FAILED:
                raise ApiError(400, f"Endpoint {name} is in a failed state")
            if endpoint.state is not State.SCALED_TO_ZERO:
                self._enter(endpoint, State.SCALED_TO_ZERO)
            return endpoint

    def fail(self, namespace: str, name: str, state: State = State.FAILED, message: str | None = None) -> Endpoint:
        """Failure injection: put the endpoint in ``failed`` (or ``updateFailed``) now."""
        if state not in _FAILED:
            raise ApiError(400, f"Can only inject 'failed' or 'updateFailed', not {state.value!r}")
        with self.lock:
            endpoint = self.get(namespace, name)
            self._enter(endpoint, state)
            endpoint.message = message
            return endpoint

    def request_arrived(self, endpoint: Endpoint) -> State:
        """An inference request reached the endpoint: reset its idle timer, and wake it if scaled to zero."""
        with self.lock:
            self._advance(endpoint)
            endpoint.lifecycle.last_activity = self.now()
            if endpoint.state is State.SCALED_TO_ZERO:
                self._enter(endpoint, State.INITIALIZING, cold_start=True, by_user=False)
            return endpoint.state

    def current_state(self, endpoint: Endpoint) -> State:
        """The endpoint's state now."""
        with self.lock:
            self._advance(endpoint)
            return endpoint.state

    def record_request(self, endpoint: Endpoint, status: int, *, inference: bool) -> None:
        """Remember that the endpoint's URL answered a (non-health) request with ``status``."""
        with self.lock:
            endpoint.requests.append((self.now(), status, inference))

    # --------------------------------------------------------------- helpers

    def _check_quota(
        self, namespace: str, config: dict[str, Any], instance: catalog.Instance, *, besides: Endpoint | None = None
    ) -> None:
        """Refuse (``behaviour.quota_status``) when the configuration's demand does not fit its quota."""
        key = quota.key_of(config)
        limit = self.quotas.limit(instance)
        if self.quota_used(namespace, key, besides=besides) + quota.demand(config, instance) > limit:
            vendor, region, instance_type = key
            raise ApiError(
                self.behaviour.quota_status,
                f"Quota exceeded for instance type '{instance_type}' in '{vendor}' - '{region}': pause or delete "
                "endpoints that use it, or request a quota increase",
            )

    def _advance(self, endpoint: Endpoint) -> None:
        if endpoint.deleted_at is None:
            advance(endpoint.lifecycle, self.now(), self.timings)

    def _enter(self, endpoint: Endpoint, state: State, *, cold_start: bool = False, by_user: bool = True) -> None:
        now = self.now()
        enter(endpoint.lifecycle, state, now, self.timings, cold_start=cold_start)
        endpoint.message = None
        if by_user:
            endpoint.updated_at = now
        self._advance(endpoint)


def _pull_failure(config: dict[str, Any]) -> str | None:
    """Why starting this configuration fails: a registry password that is the redaction placeholder."""
    if redaction.has_placeholder_password(config):
        return "Endpoint failed to start: the image could not be pulled (registry authentication failed)"
    return None
