"""The one seam to Hugging Face: what epmgr needs from the endpoints API, in domain types only."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from epmgr.domain.model import EndpointChanges, EndpointSnapshot, EndpointSpec, HardwareOption


class EndpointsAPI(Protocol):
    """Manage dedicated endpoints of one namespace (the HF adapter implements it; so could a fake).

    Every method raises only :class:`epmgr.errors.EpmgrError` subclasses.
    """

    @property
    def namespace(self) -> str: ...

    def list_endpoints(self) -> list[EndpointSnapshot]: ...

    def get(self, name: str) -> EndpointSnapshot: ...

    def create(self, spec: EndpointSpec) -> EndpointSnapshot: ...

    def update(self, name: str, changes: EndpointChanges) -> EndpointSnapshot: ...

    def delete(self, name: str) -> None: ...

    def pause(self, name: str) -> EndpointSnapshot: ...

    def resume(self, name: str, *, running_ok: bool = True) -> EndpointSnapshot: ...

    def scale_to_zero(self, name: str) -> EndpointSnapshot: ...

    def hardware(self) -> list[HardwareOption]: ...

    def is_healthy(self, snapshot: EndpointSnapshot) -> bool: ...

    def request_counts(self, name: str, *, start: int, end: int, step_s: int = 60) -> list[tuple[datetime, int]]:
        """Requests the endpoint's URL received per step from epoch second ``start`` to ``end``, whoever sent them
        (the management API's metrics route): ``[(start of step, requests)]``, oldest first."""
        ...
