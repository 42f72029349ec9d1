"""TGI's extra routes, TGI's 422 for zero tokens, health checks on a sleeping endpoint, and the metrics route.

Through huggingface_hub's InferenceClient and the openai SDK (httpx where neither has a method), on the FakeClock
emulator.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from huggingface_hub import HfApi, InferenceClient, InferenceEndpoint
from huggingface_hub.errors import ValidationError
from openai import OpenAI

from epmgr.clock import FakeClock
from epmgr.emulator import DEMO_TOKEN, EmulatorServer
from tests.emulator.helpers import AUTH, SLOW
from tests.emulator.test_hf_client import create

UP = timedelta(seconds=SLOW.pending + SLOW.initializing)


def running(api: HfApi, clock: FakeClock, **kwargs: Any) -> tuple[InferenceEndpoint, InferenceClient]:
    endpoint = create(api, **kwargs)
    clock.advance(UP)
    endpoint.fetch()
    assert endpoint.status == "running" and endpoint.url is not None
    return endpoint, InferenceClient(endpoint.url, provider="hf-inference")


def test_info_models_and_prometheus_metrics(fake_hf_api: HfApi, clock: FakeClock) -> None:
    endpoint, client = running(fake_hf_api, clock)
    info = client.get_endpoint_info()
    assert (info["model_id"], info["model_pipeline_tag"], info["max_total_tokens"]) == ("gpt2", "text-generation", 4096)
    models = httpx.get(f"{endpoint.url}/v1/models", headers=AUTH).json()
    assert [m["id"] for m in models["data"]] == ["gpt2"] and models["object"] == "list"
    client.text_generation("one two")
    client.chat_completion([{"role": "user", "content": "hi"}])
    with pytest.raises(ValidationError):
        client.text_generation("none", max_new_tokens=0)
    scraped = httpx.get(f"{endpoint.url}/metrics", headers=AUTH)
    assert scraped.headers["content-type"].startswith("text/plain")
    values = dict(line.rsplit(" ", 1) for line in scraped.text.splitlines() if not line.startswith("#"))
    assert values["tgi_request_count"] == "3" and values["tgi_request_success"] == "2"
    assert values['tgi_request_failure{err="validation"}'] == "1"


@pytest.mark.parametrize(
    ("route", "payload"),
    [
        ("/generate", {"inputs": "x", "parameters": {"max_new_tokens": 0}}),
        ("/generate_stream", {"inputs": "x", "parameters": {"max_new_tokens": 0}}),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "max_tokens": 0}),
        ("/v1/completions", {"prompt": "x", "max_tokens": 0}),
    ],
)
def test_zero_tokens_is_tgi_422(fake_hf_api: HfApi, clock: FakeClock, route: str, payload: dict[str, Any]) -> None:
    endpoint, _ = running(fake_hf_api, clock)
    response = httpx.post(f"{endpoint.url}{route}", json=payload, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["error_type"] == "validation" and "must be strictly positive" in response.json()["error"]


def test_completions_with_and_without_stream(fake_hf_api: HfApi, clock: FakeClock) -> None:
    endpoint, _ = running(fake_hf_api, clock)
    url = f"{endpoint.url}/v1/completions"
    answer = httpx.post(url, json={"prompt": "a b c", "max_tokens": 3}, headers=AUTH).json()
    assert answer["object"] == "text_completion" and answer["model"] == "gpt2"
    assert (answer["choices"][0]["text"], answer["choices"][0]["finish_reason"]) == ("echo: a b", "length")
    assert answer["usage"] == {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6}
    with httpx.stream("POST", url, json={"prompt": ["a b"], "stream": True}, headers=AUTH) as streamed:
        lines = [line.removeprefix("data:").strip() for line in streamed.iter_lines() if line]
    assert lines[-1] == "[DONE]"
    chunks = [json.loads(line) for line in lines[:-1]]
    assert "".join(c["choices"][0]["text"] for c in chunks) == "echo: a b"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_health_checks_neither_wake_a_scaled_to_zero_endpoint_nor_keep_it_awake(
    fake_hf_api: HfApi, clock: FakeClock
) -> None:
    endpoint, client = running(fake_hf_api, clock, min_replica=0, scale_to_zero_timeout=2)
    clock.advance(timedelta(seconds=1.5 * SLOW.minute))
    assert client.health_check()  # 200, but the idle timer keeps running
    clock.advance(timedelta(seconds=0.6 * SLOW.minute))
    assert endpoint.fetch().status == "scaledToZero"
    assert not client.health_check()
    clock.advance(timedelta(seconds=SLOW.scale_up * 2))
    assert endpoint.fetch().status == "scaledToZero"  # health checks never woke it
    with pytest.raises(Exception, match="503"):
        client.text_generation("wake up")  # a real request does
    assert endpoint.fetch().status == "initializing"


def request_count(server: EmulatorServer, body: dict[str, Any], name: str = "ep") -> httpx.Response:
    return httpx.post(f"{server.url}/v2/endpoint/demo/{name}/metrics/request-count", json=body, headers=AUTH)


def test_the_metrics_route_counts_every_request_the_url_received(
    fake_hf_api: HfApi, fake_server: EmulatorServer, clock: FakeClock
) -> None:
    endpoint, client = running(fake_hf_api, clock)
    start = int(clock.now().timestamp())  # the first minute the endpoint runs
    for _ in range(3):
        client.text_generation("straight to the URL, not through epmgr")
    assert client.health_check()  # health checks are not counted
    clock.advance(timedelta(minutes=1))
    client.text_generation("a minute later")
    endpoint.scale_to_zero()
    httpx.post(endpoint.url or "", json={"inputs": "wakes it"}, headers=AUTH)  # 503: counted as 5xx
    answer = request_count(fake_server, {"from": start - 60, "to": start + 180, "step": "1m"})
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert (data["status"], data["data"]["resultType"]) == ("success", "matrix")
    series = {r["metric"]["status"]: r["values"] for r in data["data"]["result"]}
    assert series["2xx"] == [[start - 60, "0"], [start, "3"], [start + 60, "1"], [start + 120, "0"]]
    assert [count for _, count in series["5xx"]] == ["0", "0", "1", "0"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"to": 10}, "'from' and 'to' are required"),
        ({"from": 10, "to": 5}, "'to' must be after 'from'"),
        ({"from": 0, "to": 10, "step": "soon"}, "Invalid step"),
        ({"from": 0, "to": 10**9, "step": "1s"}, "Too many points"),
        ({"from": 0, "to": 10, "dnsPrefix": "someone-else"}, "dnsPrefix"),
    ],
)
def test_bad_metrics_queries_are_400(
    fake_hf_api: HfApi, fake_server: EmulatorServer, body: dict[str, Any], message: str
) -> None:
    create(fake_hf_api)
    response = request_count(fake_server, body)
    assert response.status_code == 400 and message in response.json()["error"]


def test_metrics_of_an_unknown_metric_or_endpoint(fake_hf_api: HfApi, fake_server: EmulatorServer) -> None:
    create(fake_hf_api)
    unknown = httpx.post(f"{fake_server.url}/v2/endpoint/demo/ep/metrics/latency", json={}, headers=AUTH)
    assert unknown.status_code == 400 and "request-count" in unknown.json()["error"]
    assert request_count(fake_server, {"from": 0, "to": 60}, name="nope").status_code == 404


def test_the_openai_sdk_lists_models_and_completes(fake_hf_api: HfApi, clock: FakeClock) -> None:
    endpoint, _ = running(fake_hf_api, clock)
    client = OpenAI(base_url=f"{endpoint.url}/v1", api_key=DEMO_TOKEN, max_retries=0)
    assert [model.id for model in client.models.list()] == ["gpt2"]
    completion = client.completions.create(model="tgi", prompt="one two three", max_tokens=2)
    assert completion.choices[0].text == "echo: one" and completion.usage is not None
    streamed = client.completions.create(model="tgi", prompt="one two", stream=True)
    assert "".join(chunk.choices[0].text for chunk in streamed) == "echo: one two"
