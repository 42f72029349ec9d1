"""A resume refused for quota is the caller's clear error at once; a URL alone finds and wakes its endpoint."""

from __future__ import annotations

import httpx
import pytest

from epmgr.client import EndpointClient
from epmgr.domain.model import ActionKind, Actor, EndpointRef, EndpointState, Outcome
from epmgr.emulator import DEMO_USER
from epmgr.errors import AuthError, QuotaExceeded
from epmgr.proxy import ProxyConfig, ProxyServer
from tests.client.world import World

RESUME = "POST /v2/endpoint/{namespace}/{name}/resume"


def take_the_cpus_away(world: World) -> None:
    httpx.put(f"{world.server.url}/_emulator/quota", json={"limits": {"aws/us-east-1/intel-spr": 0}}).raise_for_status()


def test_a_resume_refused_for_quota_raises_quota_exceeded_at_once(world: World) -> None:
    world.create("no-room", EndpointState.PAUSED)
    take_the_cpus_away(world)
    world.clear_counts()
    with EndpointClient("no-room") as client, pytest.raises(QuotaExceeded) as caught:
        client.text_generation("hi")
    assert "quota" in str(caught.value).lower() and "\n" not in str(caught.value)
    assert world.counts()[RESUME] == 1  # not retried until the deadline
    assert world.api.get("no-room").state == EndpointState.PAUSED
    ledger = world.ledger()  # the one resume is audited once, failed with the refusal, and raised to the caller
    resumes = [a for a in ledger.actions(EndpointRef(DEMO_USER, "no-room")) if a.action == ActionKind.RESUME]
    assert [(a.outcome, a.actor) for a in resumes] == [(Outcome.FAILED, Actor.CLIENT)]
    assert resumes[0].error is not None and "quota" in resumes[0].error.lower()
    ledger.close()


def test_the_proxy_answers_a_quota_refusal_with_a_clear_json_error(world: World) -> None:
    world.create("px-room", EndpointState.PAUSED)
    take_the_cpus_away(world)
    with ProxyServer(ProxyConfig()) as proxy:
        answer = httpx.post(f"{proxy.url}/px-room/generate", json={"inputs": "x"}, timeout=30)
    assert answer.status_code == 409
    assert "quota" in answer.json()["error"].lower() and "demo/px-room" in answer.json()["error"]


def test_a_paused_endpoint_is_woken_from_a_url_never_seen_on_this_machine(world: World) -> None:
    url = world.create("unseen", EndpointState.RUNNING).url
    world.api.pause("unseen")
    assert url is not None
    with EndpointClient(url) as client:  # the URL cache is empty: the list call matches the one URL-less endpoint
        assert client.text_generation("wake me", max_new_tokens=5) == "echo: wake me"
    assert world.api.get("unseen").state == EndpointState.RUNNING


def test_construction_with_a_refused_token_raises_only_when_called(world: World) -> None:
    url = world.create("refused", EndpointState.RUNNING).url
    world.clear_counts()
    client = EndpointClient(url, token="hf_wrong")  # no call yet: upstream fails only when called, too
    assert {k: v for k, v in world.counts().items() if "_emulator" not in k} == {}
    with client, pytest.raises(AuthError) as caught:
        client.text_generation("hi")
    assert "\n" not in str(caught.value)
