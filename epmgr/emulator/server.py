"""Serving the emulator over HTTP with uvicorn: in a background thread (:class:`EmulatorServer`) or blocking."""

from __future__ import annotations

from collections.abc import Iterable
from types import TracebackType

import uvicorn

from epmgr.background_server import BackgroundServer, is_loopback
from epmgr.clock import Clock
from epmgr.emulator.app import Emulator, RequestCounter, create_app
from epmgr.emulator.auth import DEMO_TOKEN, DEMO_USER, Identity
from epmgr.emulator.behaviour import Behaviour
from epmgr.emulator.faults import FaultConfig, FaultInjector
from epmgr.emulator.lifecycle import EmulatorTimings
from epmgr.emulator.quota import Quotas
from epmgr.emulator.state import EmulatorState

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def bind_host(host: str | None, allow_remote: bool) -> str:
    """The address to listen on: loopback by default; another one only when given AND ``allow_remote``.

    Raises:
        ValueError: ``host`` is not a loopback address and ``allow_remote`` is false.
    """
    if host is None:
        return DEFAULT_HOST
    if not is_loopback(host) and not allow_remote:
        raise ValueError(
            f"refusing to listen on {host!r}: it is not a loopback address and the emulator accepts the demo "
            "token; pass --allow-remote as well to serve other machines"
        )
    return host


class EmulatorServer:
    """The emulator on a real loopback socket, served by uvicorn in a background thread.

    Args:
        timings: Durations of the timed states (short defaults).
        clock: Source of "now" for the state machine (default: the system clock).
        tokens: Accepted bearer tokens; default: :data:`DEMO_TOKEN` only.
        user: The tokens' user, also the default namespace.
        orgs: Organisations of the user, whose namespaces work too.
        unbilled_orgs: Organisations of the user without billing (their namespaces answer 401).
        quotas: Accelerator limits per instance type (default: 4 GPUs, 64 vCPUs per type and region).
        behaviour: Switches for undocumented behaviour (default: the most hostile).
        faults: Fault injection on ``/v2`` calls (default: none).
        host: Address to listen on (default 127.0.0.1); a non-loopback one needs ``allow_remote``.
        port: TCP port; 0 picks a free one.
        allow_remote: Allow a non-loopback ``host``.
        access_log: One line per request on stderr.

    Example:
        >>> with EmulatorServer(access_log=False) as server:
        ...     server.url.startswith("http://127.0.0.1:")
        True
    """

    def __init__(
        self,
        *,
        timings: EmulatorTimings | None = None,
        clock: Clock | None = None,
        tokens: Iterable[str] | None = None,
        user: str = DEMO_USER,
        orgs: Iterable[str] = (),
        unbilled_orgs: Iterable[str] = (),
        quotas: Quotas | None = None,
        behaviour: Behaviour | None = None,
        faults: FaultConfig | None = None,
        host: str | None = None,
        port: int = 0,
        allow_remote: bool = False,
        access_log: bool = True,
    ) -> None:
        self.host = bind_host(host, allow_remote)
        self.state = EmulatorState(clock, timings, quotas, behaviour)
        self.identity = Identity(tokens or (DEMO_TOKEN,), user, orgs, unbilled_orgs)
        self.faults = FaultInjector(faults or FaultConfig())
        self.requests = RequestCounter()
        self.app = create_app(Emulator(self.state, self.identity, self.faults, self.requests), access_log=access_log)
        self._background = BackgroundServer(
            self.app, host=self.host, port=port, name="epmgr-emulator", graceful_shutdown_s=1, lifespan=False
        )

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` of the running server (the management API is under ``/v2``)."""
        return self._background.url

    def start(self) -> EmulatorServer:
        """Bind the socket and start serving; returns once the server accepts connections."""
        self._background.start()
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread to end (held requests are cut after about a second)."""
        self._background.stop()

    def __enter__(self) -> EmulatorServer:
        """Start (unless already started); leaving the block stops the server."""
        return self if self._background.started else self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def serve(
    *,
    host: str | None = None,
    port: int = DEFAULT_PORT,
    allow_remote: bool = False,
    timings: EmulatorTimings | None = None,
    tokens: Iterable[str] | None = None,
    user: str = DEMO_USER,
    orgs: Iterable[str] = (),
    unbilled_orgs: Iterable[str] = (),
    quotas: Quotas | None = None,
    behaviour: Behaviour | None = None,
    faults: FaultConfig | None = None,
    access_log: bool = True,
) -> None:
    """Serve the emulator in the foreground until interrupted (Ctrl+C). Arguments as for EmulatorServer."""
    bind = bind_host(host, allow_remote)
    state = EmulatorState(None, timings, quotas, behaviour)
    identity = Identity(tokens or (DEMO_TOKEN,), user, orgs, unbilled_orgs)
    app = create_app(Emulator(state, identity, FaultInjector(faults or FaultConfig())), access_log=access_log)
    config = uvicorn.Config(app, host=bind, port=port, log_level="info", access_log=False, lifespan="off", ws="none")
    uvicorn.Server(config).run()
