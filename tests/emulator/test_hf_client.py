"""huggingface_hub's own HfApi and InferenceEndpoint methods, unchanged, against the real-time emulator."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from huggingface_hub import ChatCompletionInputStreamOptions, HfApi, InferenceClient, InferenceEndpoint
from huggingface_hub.errors import BadRequestError, HfHubHTTPError, InferenceEndpointError

from epmgr.emulator import EmulatorServer
from tests.emulator.helpers import FAST, ORG

POLL = 0.02  # seconds between huggingface_hub's wait() polls


def create(api: HfApi, name: str = "ep", namespace: str | None = "demo", **kwargs: Any) -> InferenceEndpoint:
    options: dict[str, Any] = {
        "repository": "gpt2",
        "framework": "pytorch",
        "accelerator": "cpu",
        "instance_size": "x2",
        "instance_type": "intel-icl",
        "region": "us-east-1",
        "vendor": "aws",
        "namespace": namespace,
    }
    options.update(kwargs)
    return api.create_inference_endpoint(name, **options)


def settle(endpoint: InferenceEndpoint) -> InferenceEndpoint:
    """huggingface_hub's own wait(), polling every 20 ms (its signature says int; any positive number works)."""
    return endpoint.wait(timeout=5, refresh_every=POLL)  # type: ignore[arg-type]


def counts(server: EmulatorServer) -> dict[str, int]:
    return server.requests.counts()


def test_create_wait_and_generate(hf_api: HfApi) -> None:
    endpoint = create(hf_api)
    assert (endpoint.status, endpoint.url) == ("pending", None)
    assert endpoint.wait(timeout=5, refresh_every=POLL) is endpoint  # type: ignore[arg-type]
    assert endpoint.status == "running" and endpoint.url is not None
    assert endpoint.client.text_generation("Hello emulated world") == "echo: Hello emulated world"


def test_fetch_pause_resume_and_scale_to_zero(hf_api: HfApi, server: EmulatorServer) -> None:
    endpoint = settle(create(hf_api))
    url = endpoint.url
    assert endpoint.pause().status == "paused" and endpoint.url is None
    assert endpoint.fetch().status == "paused"
    assert endpoint.resume().status == "pending"
    settle(endpoint)
    assert endpoint.url == url  # the URL survives pause and resume
    assert endpoint.scale_to_zero().status == "scaledToZero" and endpoint.url == url


def test_resume_running_ok_turns_already_running_into_one_post_and_one_get(
    hf_api: HfApi, server: EmulatorServer
) -> None:
    endpoint = settle(create(hf_api))
    server.requests.clear()
    assert endpoint.resume(running_ok=True).status == "running"
    assert counts(server) == {
        "POST /v2/endpoint/{namespace}/{name}/resume": 1,
        "GET /v2/endpoint/{namespace}/{name}": 1,
    }
    with pytest.raises(BadRequestError, match="already running"):
        endpoint.resume(running_ok=False)


def test_without_a_namespace_the_client_asks_whoami(hf_api: HfApi, server: EmulatorServer) -> None:
    create(hf_api)
    server.requests.clear()
    assert hf_api.get_inference_endpoint("ep").namespace == "demo"
    assert counts(server) == {"GET /api/whoami-v2": 1, "GET /v2/endpoint/{namespace}/{name}": 1}


def test_listing_every_namespace_includes_the_org(hf_api: HfApi) -> None:
    create(hf_api, "mine")
    create(hf_api, "theirs", namespace=ORG)
    listed = hf_api.list_inference_endpoints(namespace="*")
    assert sorted((e.namespace, e.name) for e in listed) == [(ORG, "theirs"), ("demo", "mine")]


def test_hardware_listing_parses_into_hardware_objects(hf_api: HfApi) -> None:
    hardware = hf_api.list_inference_endpoints_hardware(namespace="demo")
    by_id = {h.id: h for h in hardware}
    l4 = by_id["aws-us-east-1-nvidia-l4-x1"]
    assert (l4.price_per_hour, l4.accelerator, l4.gpu_memory_gb, l4.used_accelerators) == (0.8, "gpu", 24, 0)


def test_update_sends_only_the_given_fields_and_goes_through_updating(hf_api: HfApi) -> None:
    endpoint = settle(create(hf_api))
    updated = endpoint.update(min_replica=0, scale_to_zero_timeout=15)
    assert updated.status == "updating"
    assert updated.raw["compute"]["scaling"] == {"minReplica": 0, "maxReplica": 1, "scaleToZeroTimeout": 15}
    assert updated.raw["compute"]["instanceType"] == "intel-icl"
    assert settle(updated).status == "running"


def test_the_endpoint_scales_to_zero_by_itself_when_idle(hf_api: HfApi) -> None:
    endpoint = settle(create(hf_api, min_replica=0, scale_to_zero_timeout=2))
    time.sleep(2 * FAST.minute + 0.05)
    assert endpoint.fetch().status == "scaledToZero" and endpoint.url is not None


def test_a_scaled_to_zero_endpoint_answers_503_then_serves_after_its_cold_start(hf_api: HfApi) -> None:
    endpoint = settle(create(hf_api))
    endpoint.scale_to_zero()
    with pytest.raises(HfHubHTTPError) as caught:
        endpoint.client.text_generation("wake up")
    assert caught.value.response.status_code == 503
    assert endpoint.fetch().status in ("initializing", "running")  # the request started the scale-up
    settle(endpoint)
    assert endpoint.client.text_generation("wake up") == "echo: wake up"


def test_the_scale_up_header_holds_the_request_through_the_cold_start(hf_api: HfApi) -> None:
    endpoint = settle(create(hf_api))
    endpoint.scale_to_zero()
    assert endpoint.url is not None
    client = InferenceClient(model=endpoint.url, headers={"X-Scale-Up-Timeout": "5"})
    started = time.monotonic()
    assert client.text_generation("held") == "echo: held"
    assert time.monotonic() - started >= FAST.scale_up - 0.02


def test_text_generation_stream_and_details(hf_api: HfApi) -> None:
    client = settle(create(hf_api)).client
    prompt = "one two three four five"
    assert list(client.text_generation(prompt, max_new_tokens=3, stream=True)) == ["echo:", " one", " two"]
    detailed = client.text_generation(prompt, max_new_tokens=3, details=True)
    assert detailed.generated_text == "echo: one two"
    assert detailed.details is not None
    assert (detailed.details.generated_tokens, detailed.details.finish_reason) == (3, "length")
    assert [t.text for t in detailed.details.tokens] == ["echo:", " one", " two"]
    events = list(client.text_generation(prompt, stream=True, details=True))
    assert [e.token.text for e in events][-1] == " five"
    assert events[-1].generated_text == "echo: one two three four five"
    assert events[-1].details is not None and events[-1].details.generated_tokens == 6
    assert events[-1].details.input_length == 5 and events[-1].details.finish_reason == "eos_token"


def test_chat_completion_with_and_without_stream(hf_api: HfApi) -> None:
    client = settle(create(hf_api)).client
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello there"}]
    answer = client.chat_completion(messages, max_tokens=10)
    assert answer.choices[0].message.content == "echo: hello there"
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens, answer.usage.total_tokens) == (4, 3, 7)
    assert answer.model == "gpt2"
    chunks = list(
        client.chat_completion(
            messages, stream=True, stream_options=ChatCompletionInputStreamOptions(include_usage=True)
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "echo: hello there"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 7


def test_a_failed_endpoint_makes_wait_raise(hf_api: HfApi, server: EmulatorServer) -> None:
    endpoint = create(hf_api)
    httpx.post(f"{server.url}/_emulator/endpoint/demo/ep/fail")
    with pytest.raises(InferenceEndpointError, match="failed to deploy"):
        endpoint.fetch().wait(timeout=2, refresh_every=POLL)  # type: ignore[arg-type]


def test_errors_surface_as_huggingface_hub_exceptions(hf_api: HfApi) -> None:
    with pytest.raises(BadRequestError, match="Instance compute 'Cpu' - 'c6i' - 'medium' in 'aws' - 'us-east-1'"):
        create(hf_api, instance_type="c6i", instance_size="medium")
    create(hf_api)
    with pytest.raises(HfHubHTTPError) as duplicate:
        create(hf_api)
    assert duplicate.value.response.status_code == 409
    hf_api.delete_inference_endpoint("ep", namespace="demo")
    with pytest.raises(HfHubHTTPError) as missing:
        hf_api.get_inference_endpoint("ep", namespace="demo")
    assert missing.value.response.status_code == 404
    with pytest.raises(HfHubHTTPError) as unauthorized:
        hf_api.list_inference_endpoints(namespace="demo", token="hf_wrong")
    assert unauthorized.value.response.status_code == 401


def test_whoami_through_the_hub_endpoint(hf_api: HfApi) -> None:
    me = hf_api.whoami()
    assert me["name"] == "demo" and [org["name"] for org in me["orgs"]] == [ORG]
    with pytest.raises(HfHubHTTPError) as caught:
        hf_api.whoami(token="hf_wrong")
    assert caught.value.response.status_code == 401
