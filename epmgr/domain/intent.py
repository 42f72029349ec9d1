"""After a crash: did a started action take effect? Read from the endpoint's state now (pure)."""

from __future__ import annotations

from epmgr.domain.model import ActionKind, EndpointState

_ASLEEP = frozenset({EndpointState.PAUSED, EndpointState.SCALED_TO_ZERO})


def took_effect(action: ActionKind, state: EndpointState) -> bool | None:
    """Whether ``action`` shows in ``state``; None when the state cannot tell (e.g. a replica change).

    Example:
        >>> took_effect(ActionKind.PAUSE, EndpointState.PAUSED)
        True
        >>> took_effect(ActionKind.RESUME, EndpointState.PAUSED)
        False
    """
    if state in (EndpointState.UNKNOWN, EndpointState.DELETED):
        return None
    if action == ActionKind.PAUSE:
        return state == EndpointState.PAUSED
    if action == ActionKind.SCALE_TO_ZERO:
        return state == EndpointState.SCALED_TO_ZERO
    if action == ActionKind.RESUME:
        return state not in _ASLEEP
    return None
