"""EndpointClient against the emulator over HTTP: every state, failure, budget, single flight, recording."""

from __future__ import annotations

import asyncio
import multiprocessing
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from epmgr.adapters.hf import HfEndpointsAPI
from epmgr.client import AsyncEndpointClient, EndpointClient, WakingTransport
from epmgr.client.context import close_shared_ledgers
from epmgr.clock import FakeClock, SystemClock
from epmgr.domain.model import EndpointRef, EndpointSpec, EndpointState, Hold
from epmgr.domain.wake import PollCadence
from epmgr.emulator import DEMO_TOKEN, DEMO_USER, EmulatorServer, EmulatorTimings
from epmgr.errors import BudgetExceeded, EndpointFailed, WakeTimeout
from tests.client.workers import call_many
from tests.client.world import CPU, World

HF_TIMINGS = EmulatorTimings(pending=60, initializing=240, scale_up=180, update=120, minute=60)  # real seconds

STATES = [EndpointState.RUNNING, EndpointState.SCALED_TO_ZERO, EndpointState.PAUSED, EndpointState.INITIALIZING]


@pytest.mark.parametrize("state", STATES, ids=[s.value for s in STATES])
def test_every_state_answers(world: World, state: EndpointState) -> None:
    world.create("ep", state)
    with EndpointClient("ep") as client:
        assert client.text_generation("hello there", max_new_tokens=5) == "echo: hello there"
        assert list(client.text_generation("a b", stream=True)) == ["echo:", " a", " b"]
        chat = client.chat_completion([{"role": "user", "content": "hi"}], max_tokens=5)
        assert chat.choices[0].message.content == "echo: hi"
    assert world.ledger().count_requests(EndpointRef(DEMO_USER, "ep")) == 3


@pytest.mark.parametrize("state", STATES, ids=[s.value for s in STATES])
def test_the_async_client_answers_in_every_state(world: World, state: EndpointState) -> None:
    world.create("ep", state)

    async def main() -> tuple[str, list[str]]:
        async with AsyncEndpointClient("ep") as client:
            text = await client.text_generation("x y", max_new_tokens=5)
            chunks = [
                c.choices[0].delta.content
                async for c in await client.chat_completion([{"role": "user", "content": "z"}], stream=True)
                if c.choices
            ]  # noqa: E501
            return text, [c or "" for c in chunks]

    text, chunks = asyncio.run(main())
    assert text == "echo: x y" and "".join(chunks) == "echo: z"


def test_a_failed_endpoint_raises_at_once(world: World) -> None:
    world.create("broken", EndpointState.FAILED)
    world.clear_counts()
    with EndpointClient("broken") as client, pytest.raises(EndpointFailed, match="demo/broken is failed"):
        client.text_generation("hi")
    counts = world.counts()  # at once: no resume, no polling (the first look and the wake's own look)
    assert "POST /v2/endpoint/{namespace}/{name}/resume" not in counts
    assert counts["GET /v2/endpoint/{namespace}/{name}"] <= 2


def test_a_budget_paused_endpoint_raises_budget_exceeded(world: World) -> None:
    world.create("capped", EndpointState.PAUSED)
    ledger = world.ledger()
    now = SystemClock().now()
    ledger.place_hold(Hold(EndpointRef(DEMO_USER, "capped"), "budget", "daily $5 spent", now, now + timedelta(hours=3)))
    with EndpointClient("capped") as client, pytest.raises(BudgetExceeded) as caught:
        client.text_generation("hi")
    assert "demo/capped" in str(caught.value) and "daily $5 spent" in str(caught.value)
    assert "epmgr resume --force capped" in str(caught.value)
    assert "POST /v2/endpoint/{namespace}/{name}/resume" not in world.counts()


def test_a_wake_that_takes_too_long_names_endpoint_state_and_wait(world: World) -> None:
    world.create("slow", EndpointState.PAUSED)
    with EndpointClient("slow", wake_timeout=0.05) as client, pytest.raises(WakeTimeout) as caught:
        client.text_generation("hi")
    assert caught.value.endpoint == "demo/slow" and caught.value.last_state in {"pending", "paused"}
    assert "demo/slow was not ready after" in str(caught.value)


def test_the_wait_returns_soon_after_the_endpoint_is_ready(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # HF's time scales (a 5-minute start after a resume) on one accelerated clock shared with the emulator: the
    # client's sleeps move it, so the lag below is exact, with no scheduling noise and no wall-clock wait.
    clock = FakeClock(datetime(2026, 1, 5, 9, tzinfo=timezone.utc))
    with EmulatorServer(clock=clock, timings=HF_TIMINGS, access_log=False) as server:
        for key, value in {"EPMGR_DB_URL": f"sqlite:///{tmp_path / 'ledger.db'}", "EPMGR_HF_API_URL": server.url,
                           "EPMGR_NAMESPACE": DEMO_USER, "HF_TOKEN": DEMO_TOKEN,
                           "EPMGR_URL_CACHE": str(tmp_path / "urls.json")}.items():  # fmt: skip
            monkeypatch.setenv(key, value)
        api = HfEndpointsAPI(token=DEMO_TOKEN, namespace=DEMO_USER, api_url=server.url)
        spec = EndpointSpec(name="quick", repository="openai-community/gpt2", instance=CPU, task="text-generation")
        api.create(spec)
        clock.advance(timedelta(minutes=10))
        api.pause("quick")
        try:
            with EndpointClient("quick", clock=clock) as client:
                client.ensure_awake()
                returned_at = clock.now()
        finally:
            close_shared_ledgers()
        assert api.get("quick").state == EndpointState.RUNNING
        transitions = httpx.get(f"{server.url}/_emulator/billing").json()["endpoints"][0]["transitions"]
    running_at = datetime.fromisoformat(transitions[-1]["at"].replace("Z", "+00:00"))
    assert [t["state"] for t in transitions[-3:]] == ["pending", "initializing", "running"]
    assert running_at - timedelta(minutes=5) >= datetime(2026, 1, 5, 9, 10, tzinfo=timezone.utc)  # HF's cold start
    # Health is polled at most every 0.4 s (pinned exactly in test_wake_plan): it returns within one poll.
    assert timedelta(0) <= returned_at - running_at <= PollCadence().health_cap


def test_health_polls_are_never_more_than_half_a_second_apart() -> None:
    cadence = PollCadence()
    assert max(cadence.health_delay(n) for n in range(1, 50)) <= timedelta(milliseconds=500)


def test_200_callers_in_8_processes_make_one_resume_call(world: World) -> None:
    world.create("shared", EndpointState.PAUSED)
    world.ledger().close()  # migrated once, as `epmgr db upgrade` would
    world.clear_counts()
    with multiprocessing.get_context("spawn").Pool(8) as pool:
        answers = pool.starmap(call_many, [("shared", 25)] * 8)
    assert sum(len(a) for a in answers) == 200 and all(a.startswith("echo: caller") for b in answers for a in b)
    counts = world.counts()
    assert counts["POST /v2/endpoint/{namespace}/{name}/resume"] == 1
    gets = counts["GET /v2/endpoint/{namespace}/{name}"]
    print(f"management API GETs for 200 callers in 8 processes: {gets}")
    assert gets <= 40
    assert world.ledger().count_requests(EndpointRef(DEMO_USER, "shared")) == 200


def test_10000_requests_make_10000_rows(world: World) -> None:
    world.create("busy", EndpointState.RUNNING)
    with EndpointClient("busy") as client:
        for i in range(10_000):
            client.request(
                "POST", "/generate", json={"inputs": f"n{i}", "parameters": {"max_new_tokens": 1, "details": True}}
            )
    ledger = world.ledger()
    rows = ledger.requests(EndpointRef(DEMO_USER, "busy"))
    assert len(rows) == 10_000 and all(r.finished_at is not None and r.status_code == 200 for r in rows)
    assert rows[0].tokens_out == 1


def test_any_httpx_client_wakes_through_the_transport(world: World) -> None:
    url = world.create("raw", EndpointState.SCALED_TO_ZERO).url
    transport = WakingTransport.for_endpoint("raw")
    with httpx.Client(transport=transport, headers={"Authorization": f"Bearer {world.env['HF_TOKEN']}"}) as http:
        answer = http.post(f"{url}/generate", json={"inputs": "hi"})
    assert answer.json() == {"generated_text": "echo: hi"} and answer.headers["x-epmgr-cold-start"] == "true"
