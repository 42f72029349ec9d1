"""The auto-wake client: call a dedicated endpoint whatever state it is in, and record each call in the ledger.

- :class:`EndpointClient` / :class:`AsyncEndpointClient`: ``text_generation``, ``chat_completion``, raw requests
  and ``ensure_awake``, built from an endpoint name or URL (no I/O until the first request);
- :class:`WakingTransport` / :class:`AsyncWakingTransport`: the same for any httpx-based code (``transport=``);
- :class:`ActivityRecorder`: batched, off-the-hot-path request records (one per process and ledger);
- :class:`WakeCoordinator`: the port for the wake lease and published states (:class:`LedgerCoordinator`,
  :class:`InProcessCoordinator`).

A call on a paused endpoint crosses at most 6 files of epmgr between the caller and the socket, at its resume
(``tests/client/test_call_path.py`` traces every send): ``client/sync.py`` (or ``aio.py``) →
``client/transport.py`` (the exchange: send, "asleep", wake, send again) → ``client/waker.py`` (the driver; the flow
in ``domain/wakeflow.py`` decides between its steps and does no I/O; the wake lease is asked of
``client/coordinator.py`` before, and the resume call it prepares is made from here) → ``acting.py`` (the one
executor: the resume fenced and audited) → ``adapters/hf.py`` → ``adapters/hf_http.py`` (the management API). A
first call by name finds the URL through ``client/context.py`` → ``adapters/hf.py``; a health check leaves from
``waker.py``, the request and its answer from ``transport.py``.

Importing this package loads neither SQLAlchemy, Alembic nor click (``tests/test_architecture.py`` pins it):
the ledger, the configuration and the HF adapter are imported by the first request that needs them.
See docs/client.md.
"""

from epmgr.client.aio import AsyncEndpointClient
from epmgr.client.coordinator import InProcessCoordinator, LedgerCoordinator, WakeCoordinator
from epmgr.client.recorder import ActivityRecorder
from epmgr.client.runtime import Runtime, default_runtime
from epmgr.client.sync import EndpointClient
from epmgr.client.transport import COLD_START_HEADER, AsyncWakingTransport, WakingTransport
from epmgr.client.waker import Waker
from epmgr.domain.wakeflow import Ready

__all__ = [
    "COLD_START_HEADER",
    "ActivityRecorder",
    "AsyncEndpointClient",
    "AsyncWakingTransport",
    "EndpointClient",
    "InProcessCoordinator",
    "LedgerCoordinator",
    "Ready",
    "Runtime",
    "WakeCoordinator",
    "Waker",
    "WakingTransport",
    "default_runtime",
]
