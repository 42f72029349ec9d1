"""Each endpoint's URL: gating by state, scale-up on request, the hold header, auth, and the TGI/chat payloads."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest

from epmgr.clock import FakeClock
from epmgr.emulator import EmulatorServer
from tests.emulator.helpers import AUTH, SLOW, body

UP = SLOW.pending + SLOW.initializing


def later(clock: FakeClock, seconds: float) -> None:
    clock.advance(timedelta(seconds=seconds))


def deploy(client: httpx.Client, clock: FakeClock | None = None, **changes: Any) -> str:
    """Create an endpoint, let it run (on the FakeClock) and return its URL."""
    created = client.post("/v2/endpoint/demo", json=body(**changes)).json()
    if clock is not None:
        later(clock, UP)
    url: str = client.get(f"/v2/endpoint/demo/{created['name']}").json()["status"].get("url", "")
    return url


def state_of(client: httpx.Client, name: str = "ep") -> str:
    state: str = client.get(f"/v2/endpoint/demo/{name}").json()["status"]["state"]
    return state


def generate(url: str, prompt: str = "hi", headers: dict[str, str] | None = None, **params: Any) -> httpx.Response:
    payload = {"inputs": prompt, "parameters": params}
    return httpx.post(url, json=payload, headers=AUTH if headers is None else headers, timeout=10)


def test_a_request_to_a_scaled_to_zero_endpoint_is_a_503_and_starts_the_scale_up(
    fake_http: httpx.Client, clock: FakeClock
) -> None:
    url = deploy(fake_http, clock)
    fake_http.post("/v2/endpoint/demo/ep/scale-to-zero")
    response = generate(url)
    assert response.status_code == 503 and "initializing" in response.json()["error"]
    assert state_of(fake_http) == "initializing"
    assert generate(url).status_code == 503  # still starting
    later(clock, SLOW.scale_up)
    assert generate(url).json() == [{"generated_text": "echo: hi"}]


@pytest.mark.parametrize("elapsed", [0, SLOW.pending], ids=["pending", "initializing"])
def test_a_starting_endpoint_answers_503(fake_http: httpx.Client, clock: FakeClock, elapsed: float) -> None:
    fake_http.post("/v2/endpoint/demo", json=body())
    later(clock, UP)
    url = fake_http.get("/v2/endpoint/demo/ep").json()["status"]["url"]
    fake_http.post("/v2/endpoint/demo/ep/pause")
    fake_http.post("/v2/endpoint/demo/ep/resume")
    later(clock, elapsed)
    assert generate(url).status_code == 503


def test_a_paused_endpoint_answers_400_invalid_state(fake_http: httpx.Client, clock: FakeClock) -> None:
    url = deploy(fake_http, clock)
    fake_http.post("/v2/endpoint/demo/ep/pause")
    response = generate(url)
    assert (response.status_code, response.text) == (400, "Bad Request: Invalid state")
    held = generate(url, headers={**AUTH, "X-Scale-Up-Timeout": "5"})
    assert held.status_code == 400  # a paused endpoint is never woken by a request
    assert state_of(fake_http) == "paused"


def test_the_scale_up_header_gives_up_after_its_seconds_with_a_503(fake_http: httpx.Client, clock: FakeClock) -> None:
    url = deploy(fake_http, clock)
    fake_http.post("/v2/endpoint/demo/ep/scale-to-zero")
    started = time.monotonic()
    response = generate(url, headers={**AUTH, "X-Scale-Up-Timeout": "0.3"})
    assert response.status_code == 503
    assert 0.3 <= time.monotonic() - started < 3  # the FakeClock does not move, so the cold start never ends


def test_the_scale_up_header_returns_as_soon_as_the_endpoint_runs(http: httpx.Client, server: EmulatorServer) -> None:
    http.post("/v2/endpoint/demo", json=body())
    time.sleep(server.state.timings.pending)  # the URL appears once it initializes
    url = http.get("/v2/endpoint/demo/ep").json()["status"]["url"]
    assert generate(url).status_code == 503
    response = generate(url, headers={**AUTH, "X-Scale-Up-Timeout": "5"})  # held through initializing
    assert response.status_code == 200
    assert state_of(http) == "running"


def test_every_request_restarts_the_idle_timer(fake_http: httpx.Client, clock: FakeClock) -> None:
    url = deploy(fake_http, clock, scaling={"minReplica": 0, "scaleToZeroTimeout": 10})
    for _ in range(3):
        later(clock, 9 * SLOW.minute)
        assert generate(url).status_code == 200
    later(clock, 10 * SLOW.minute - 1)
    assert state_of(fake_http) == "running"
    later(clock, 1)
    assert state_of(fake_http) == "scaledToZero"


@pytest.mark.parametrize("endpoint_type", ["authenticated", "private", "protected"])
def test_non_public_endpoints_need_an_accepted_token(
    fake_http: httpx.Client, clock: FakeClock, endpoint_type: str
) -> None:
    url = deploy(fake_http, clock, type=endpoint_type)
    assert generate(url, headers={}).status_code == 401
    assert generate(url, headers={"Authorization": "Bearer hf_wrong"}).status_code == 401
    assert httpx.get(f"{url}/health").status_code == 401
    assert generate(url).status_code == 200


def test_public_endpoints_need_no_token(fake_http: httpx.Client, clock: FakeClock) -> None:
    url = deploy(fake_http, clock, type="public")
    assert generate(url, headers={}).status_code == 200
    assert httpx.get(f"{url}/health").status_code == 200


def test_the_health_route_is_200_only_while_running_and_does_not_wake(
    fake_http: httpx.Client, clock: FakeClock
) -> None:
    fake_http.post("/v2/endpoint/demo", json=body())
    later(clock, SLOW.pending)
    url = fake_http.get("/v2/endpoint/demo/ep").json()["status"]["url"]
    assert httpx.get(f"{url}/health", headers=AUTH).status_code == 503  # initializing
    later(clock, SLOW.initializing)
    assert httpx.get(f"{url}/health", headers=AUTH).status_code == 200
    assert httpx.get(f"{url}/other", headers=AUTH).status_code == 404
    fake_http.post("/v2/endpoint/demo/ep/scale-to-zero")
    assert httpx.get(f"{url}/health", headers=AUTH).status_code == 503
    assert state_of(fake_http) == "scaledToZero"


def test_a_custom_health_route_is_served(fake_http: httpx.Client, clock: FakeClock) -> None:
    model = {**body()["model"], "image": {"custom": {"url": "img", "health_route": "/ping"}}}
    url = deploy(fake_http, clock, model=model)
    assert httpx.get(f"{url}/ping", headers=AUTH).status_code == 200
    assert httpx.get(f"{url}/health", headers=AUTH).status_code == 404


def test_a_deleted_endpoint_answers_503_by_default_and_unknown_ids_404(
    fake_http: httpx.Client, clock: FakeClock
) -> None:
    url = deploy(fake_http, clock)
    fake_http.delete("/v2/endpoint/demo/ep")
    assert generate(url).status_code == 503  # hostile default: looks like a cold start to a caller
    assert generate(url.rsplit("/", 1)[0] + "/0000000000000000").status_code == 404
    fake_http.put("/_emulator/behaviour", json={"deleted_url": "404"})
    assert generate(url).status_code == 404


def test_invalid_inputs_are_a_422_validation_error(fake_http: httpx.Client, clock: FakeClock) -> None:
    url = deploy(fake_http, clock)
    response = httpx.post(url, json={"parameters": {}}, headers=AUTH)
    assert response.status_code == 422 and response.json()["error_type"] == "validation"
    assert httpx.post(url, content=b"nope", headers=AUTH).status_code == 422
    assert httpx.post(f"{url}/v1/chat/completions", json={"messages": "hi"}, headers=AUTH).status_code == 422


def test_tgi_routes_answer_in_their_own_shapes(fake_http: httpx.Client, clock: FakeClock) -> None:
    url = deploy(fake_http, clock)
    payload = {"inputs": "a b c", "parameters": {"details": True, "seed": 7}}
    generated = httpx.post(f"{url}/generate", json=payload, headers=AUTH).json()
    assert generated["generated_text"] == "echo: a b c"
    assert generated["details"]["generated_tokens"] == 4 and generated["details"]["seed"] == 7
    stream = httpx.post(f"{url}/generate_stream", json=payload, headers=AUTH)
    assert stream.headers["content-type"].startswith("text/event-stream")
    events = [json.loads(line[len("data:") :]) for line in stream.text.splitlines() if line.startswith("data:")]
    assert [e["token"]["text"] for e in events] == ["echo:", " a", " b", " c"]
    assert [e["generated_text"] for e in events] == [None, None, None, "echo: a b c"]
    assert events[-1]["details"] == {"finish_reason": "eos_token", "generated_tokens": 4, "input_length": 3, "seed": 7}


@pytest.mark.parametrize(
    ("params", "text", "finish"),
    [
        ({"max_new_tokens": 2}, "echo: a", "length"),
        ({"stop": ["b"]}, "echo: a b", "stop_sequence"),
        ({"return_full_text": True}, "a b cecho: a b c", "eos_token"),
        ({"max_new_tokens": 1}, "echo:", "length"),
    ],
    ids=["max-new-tokens", "stop", "return-full-text", "one-token"],
)
def test_generation_parameters_are_honoured(
    fake_http: httpx.Client, clock: FakeClock, params: dict[str, Any], text: str, finish: str
) -> None:
    url = deploy(fake_http, clock)
    (output,) = generate(url, "a b c", details=True, **params).json()
    assert (output["generated_text"], output["details"]["finish_reason"]) == (text, finish)


def test_the_same_input_gives_the_same_output(fake_http: httpx.Client, clock: FakeClock) -> None:
    url = deploy(fake_http, clock)
    first = generate(url, "same words", details=True).json()
    assert generate(url, "same words", details=True).json() == first


def test_chat_completion_counts_tokens(fake_http: httpx.Client, clock: FakeClock) -> None:
    url = deploy(fake_http, clock)
    payload = {"model": "dummy", "messages": [{"role": "user", "content": [{"type": "text", "text": "x y"}]}]}
    answer = httpx.post(f"{url}/v1/chat/completions", json={**payload, "max_tokens": 2}, headers=AUTH).json()
    assert answer["choices"][0]["message"] == {"role": "assistant", "content": "echo: x"}
    assert answer["choices"][0]["finish_reason"] == "length"
    assert answer["usage"] == {"prompt_tokens": 2, "completion_tokens": 2, "total_tokens": 4}
    assert answer["object"] == "chat.completion" and answer["model"] == "gpt2"
    stream = httpx.post(f"{url}/v1/chat/completions", json={**payload, "stream": True}, headers=AUTH).text
    lines = [line for line in stream.splitlines() if line.startswith("data:")]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[len("data:") :]) for line in lines[:-1]]
    assert "".join(c["choices"][0]["delta"]["content"] for c in chunks) == "echo: x y"
    assert all("usage" not in c for c in chunks)  # only with stream_options.include_usage
