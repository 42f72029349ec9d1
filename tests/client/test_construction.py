"""Building clients does no I/O and starts no thread; the first request does the rest, once per process."""

from __future__ import annotations

import threading

from epmgr.client import EndpointClient
from epmgr.domain.model import EndpointState
from tests.client.world import World


def test_thirty_clients_share_one_recorder_thread_and_call_nothing_until_used(world: World) -> None:
    world.create("many", EndpointState.RUNNING)
    world.clear_counts()
    before = threading.active_count()
    clients = [EndpointClient("many") for _ in range(30)]
    assert {k: v for k, v in world.counts().items() if "_emulator" not in k} == {}  # no I/O at construction
    for client in clients:
        assert client.text_generation("hi", max_new_tokens=2) == "echo: hi"
    assert threading.active_count() <= before + 1  # one recorder for the process and ledger
    for client in clients:
        client.close()


def test_a_bare_url_of_a_scaled_to_zero_endpoint_is_woken_by_a_held_request(world: World) -> None:
    url = world.create("bare", EndpointState.SCALED_TO_ZERO).url
    assert url is not None
    with EndpointClient(url, token=world.env["HF_TOKEN"], api=None, record=False, hold=False) as client:
        client.parts.make_api = lambda: None  # the URL only: no management API
        ready = client.ensure_awake()
    assert ready.url == url.rstrip("/") and world.api.get("bare").state == EndpointState.RUNNING
