"""Control routes that change the emulated service while it runs: quotas and the undocumented-behaviour switches.

``GET/PUT /_emulator/quota`` (e.g. take the GPUs away from a paused endpoint before it resumes) and
``GET/PUT /_emulator/behaviour``. Loopback clients only, like every ``/_emulator`` route; ``POST /_emulator/reset``
restores both to what the server started with.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from epmgr.emulator.behaviour import Behaviour
from epmgr.emulator.inference import Handler
from epmgr.emulator.state import EmulatorState
from epmgr.emulator.validation import ApiError


async def _json(request: Request) -> Any:
    try:
        return await request.json()
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "The request body is not valid JSON") from None


class SwitchRoutes:
    """``/_emulator/quota`` and ``/_emulator/behaviour``."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def handlers(self) -> list[tuple[str, list[str], Handler]]:
        return [
            ("/_emulator/quota", ["GET"], self.get_quota),
            ("/_emulator/quota", ["PUT"], self.set_quota),
            ("/_emulator/behaviour", ["GET"], self.get_behaviour),
            ("/_emulator/behaviour", ["PUT"], self.set_behaviour),
        ]

    async def get_quota(self, request: Request) -> Response:
        """``{"gpu": 4, "cpu": 64, "limits": {"aws/us-east-1/nvidia-t4": 0}}``: defaults and per-type limits."""
        return JSONResponse(self.state.quotas.to_json())

    async def set_quota(self, request: Request) -> Response:
        """Replace the limits (``limits`` replaces every override; missing ``gpu``/``cpu`` keep their value)."""
        try:
            self.state.quotas.configure_from_json(await _json(request))
        except ValueError as exc:
            raise ApiError(400, f"Invalid quota: {exc}") from None
        return JSONResponse(self.state.quotas.to_json())

    async def get_behaviour(self, request: Request) -> Response:
        return JSONResponse(self.state.behaviour.to_json())

    async def set_behaviour(self, request: Request) -> Response:
        """Replace the switches (keys of Behaviour; missing ones take their defaults)."""
        try:
            behaviour = Behaviour.from_json(await _json(request))
        except (TypeError, ValueError) as exc:
            raise ApiError(400, f"Invalid behaviour: {exc}") from None
        with self.state.lock:
            self.state.behaviour = behaviour
        return JSONResponse(behaviour.to_json())
