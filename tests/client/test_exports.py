"""The public names of ``epmgr`` and ``epmgr.client``: pinned, so that a rename or a removal is deliberate."""

from __future__ import annotations

import epmgr
import epmgr.client

EPMGR = ["AsyncEndpointClient", "AsyncWakingTransport", "EndpointClient", "WakingTransport", "__version__"]
CLIENT = [
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


def test_epmgr_exports_exactly_these_names_and_each_resolves() -> None:
    assert sorted(epmgr.__all__) == sorted(EPMGR)
    for name in EPMGR:
        assert getattr(epmgr, name) is not None
    assert epmgr.EndpointClient is epmgr.client.EndpointClient


def test_epmgr_client_exports_exactly_these_names_and_each_resolves() -> None:
    assert sorted(epmgr.client.__all__) == sorted(CLIENT)
    for name in CLIENT:
        assert getattr(epmgr.client, name) is not None
