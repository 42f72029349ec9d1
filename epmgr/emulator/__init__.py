"""A fake Hugging Face: the Inference Endpoints management API and the endpoints themselves, over real HTTP.

It models Hugging Face, not epmgr: lazy state transitions on a Clock, per-minute billing, scale to zero and
cold starts, quotas, redacted secrets, TGI and OpenAI inference, the endpoint metrics route, fault injection, and
switches (:class:`Behaviour`) for what HF does not document, each defaulting to the most hostile plausible
behaviour. See docs/emulator.md.

Example:
    >>> from epmgr.emulator import DEMO_TOKEN, EmulatorServer, EmulatorTimings
    >>> with EmulatorServer(timings=EmulatorTimings(pending=0.1), access_log=False) as server:
    ...     api_base = f"{server.url}/v2"
"""

from epmgr.emulator.app import Emulator, RequestCounter, create_app
from epmgr.emulator.auth import DEMO_TOKEN, DEMO_USER, Identity
from epmgr.emulator.behaviour import Behaviour
from epmgr.emulator.faults import FaultConfig, FaultInjector
from epmgr.emulator.lifecycle import EmulatorTimings, State
from epmgr.emulator.quota import Quotas
from epmgr.emulator.server import EmulatorServer, serve
from epmgr.emulator.state import EmulatorState, Endpoint

__all__ = [
    "Behaviour",
    "DEMO_TOKEN",
    "DEMO_USER",
    "Emulator",
    "EmulatorServer",
    "EmulatorState",
    "EmulatorTimings",
    "Endpoint",
    "FaultConfig",
    "FaultInjector",
    "Identity",
    "Quotas",
    "RequestCounter",
    "State",
    "create_app",
    "serve",
]
