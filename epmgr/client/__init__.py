"""The auto-wake client: call a dedicated endpoint whatever state it is in, and record each call in the ledger.

- :class:`EndpointClient` / :class:`AsyncEndpointClient`: ``text_generation``, ``chat_completion``, raw requests
  and ``ensure_awake``, built from an endpoint name or URL;
- :class:`WakingTransport` / :class:`AsyncWakingTransport`: the same for any httpx-based code (``transport=``);
- :class:`ActivityRecorder`: batched, off-the-hot-path request records.

See docs/client.md.
"""

from epmgr.client.aio import AsyncEndpointClient
from epmgr.client.recorder import ActivityRecorder
from epmgr.client.sync import EndpointClient
from epmgr.client.transport import COLD_START_HEADER, AsyncWakingTransport, WakingTransport
from epmgr.client.waker import Ready, Waker

__all__ = [
    "COLD_START_HEADER",
    "ActivityRecorder",
    "AsyncEndpointClient",
    "AsyncWakingTransport",
    "EndpointClient",
    "Ready",
    "Waker",
    "WakingTransport",
]
