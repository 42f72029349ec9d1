"""Where real Hugging Face is harsher than a naive fake (issue 13), through huggingface_hub's own client.

Quotas, redacted secrets, camelCase health routes, 401 namespaces, and the switches for undocumented behaviour
(list paging, inference while updating, a deleted endpoint's URL). TGI routes and metrics: test_tgi_metrics.py.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from huggingface_hub import HfApi, InferenceClient, InferenceEndpoint
from huggingface_hub.errors import BadRequestError, HfHubHTTPError, InferenceEndpointError

from epmgr.clock import FakeClock
from epmgr.emulator import EmulatorServer
from epmgr.emulator.redaction import REDACTED
from tests.emulator.helpers import AUTH, ORG, SLOW, body
from tests.emulator.test_hf_client import create, settle

T4 = {"accelerator": "gpu", "instance_type": "nvidia-t4", "instance_size": "x4"}
"""4 GPUs: the whole default quota of nvidia-t4 in aws/us-east-1."""


def gpu_endpoint(api: HfApi, name: str, **kwargs: Any) -> InferenceEndpoint:
    return create(api, name, **{**T4, **kwargs})


def put(server: EmulatorServer, route: str, body: dict[str, Any]) -> None:
    response = httpx.put(f"{server.url}/_emulator/{route}", json=body)
    assert response.status_code == 200, response.text


# ------------------------------------------------------------------ quotas


def test_a_create_past_the_quota_is_refused_naming_the_instance_type(hf_api: HfApi) -> None:
    gpu_endpoint(hf_api, "first")
    with pytest.raises(BadRequestError, match="Quota exceeded for instance type 'nvidia-t4' in 'aws' - 'us-east-1'"):
        gpu_endpoint(hf_api, "second")
    t4 = {h.id: h for h in hf_api.list_inference_endpoints_hardware(namespace="demo")}["aws-us-east-1-nvidia-t4-x1"]
    assert (t4.max_accelerators, t4.used_accelerators) == (4, 4)  # per instance type: every size shows it
    assert [e.name for e in hf_api.list_inference_endpoints(namespace="demo")] == ["first"]


def test_quotas_are_per_namespace_and_count_max_replicas(hf_api: HfApi) -> None:
    gpu_endpoint(hf_api, "mine")
    gpu_endpoint(hf_api, "theirs", namespace=ORG)
    with pytest.raises(BadRequestError, match="Quota exceeded"):
        create(hf_api, "autoscaled", accelerator="gpu", instance_type="nvidia-l4", instance_size="x1", max_replica=5)


def test_a_paused_endpoint_frees_its_quota_and_a_scaled_to_zero_one_keeps_it(hf_api: HfApi) -> None:
    first = gpu_endpoint(hf_api, "first")
    first.scale_to_zero()
    with pytest.raises(BadRequestError, match="Quota exceeded"):
        gpu_endpoint(hf_api, "second")
    first.pause()
    gpu_endpoint(hf_api, "second")
    with pytest.raises(BadRequestError, match="Quota exceeded"):  # someone took the GPUs while it was paused
        first.resume()
    assert first.fetch().status == "paused"


def test_the_control_route_takes_the_gpus_away_from_a_paused_endpoint(hf_api: HfApi, server: EmulatorServer) -> None:
    endpoint = settle(gpu_endpoint(hf_api, "monday"))
    endpoint.pause()
    put(server, "quota", {"limits": {"aws/us-east-1/nvidia-t4": 0}})
    assert httpx.get(f"{server.url}/_emulator/quota").json() == {
        "gpu": 4,
        "cpu": 64,
        "limits": {"aws/us-east-1/nvidia-t4": 0},
    }
    with pytest.raises(BadRequestError, match="nvidia-t4"):
        endpoint.resume()
    put(server, "quota", {"limits": {}})
    assert endpoint.resume().status == "pending"


def test_an_update_that_needs_more_gpus_than_the_quota_is_refused(hf_api: HfApi) -> None:
    endpoint = create(hf_api, accelerator="gpu", instance_type="nvidia-t4", instance_size="x1")
    with pytest.raises(BadRequestError, match="Quota exceeded"):
        endpoint.update(max_replica=5)
    assert endpoint.update(max_replica=4).raw["compute"]["scaling"]["maxReplica"] == 4
    assert endpoint.update(min_replica=2).raw["compute"]["scaling"]["minReplica"] == 2  # needs nothing more


def test_the_refusal_status_is_a_switch(hf_api: HfApi, server: EmulatorServer) -> None:
    put(server, "behaviour", {"quota_status": 429})
    gpu_endpoint(hf_api, "first")
    with pytest.raises(HfHubHTTPError) as caught:
        gpu_endpoint(hf_api, "second")
    assert caught.value.response.status_code == 429 and "Quota exceeded" in caught.value.response.text


def test_bad_quota_settings_are_refused(server: EmulatorServer) -> None:
    for bad in ({"limits": {"aws/mars-1/nvidia-t4": 1}}, {"gpu": -1}, {"limits": {"aws/us-east-1": 1}}, [1]):
        response = httpx.put(f"{server.url}/_emulator/quota", json=bad)
        assert response.status_code == 400 and response.json()["error"].startswith("Invalid quota")


# ----------------------------------------------------------------- secrets

CUSTOM = {"url": "ghcr.io/acme/tgi:1", "healthRoute": "/ping"}


def with_secrets(api: HfApi) -> InferenceEndpoint:
    return create(
        api,
        custom_image=CUSTOM,
        secrets={"API_KEY": "s3cret-value"},
        container_registry_username="bot",
        container_registry_password="registry-pass",
    )


def test_secrets_and_registry_passwords_never_come_back(hf_api: HfApi, server: EmulatorServer) -> None:
    created = with_secrets(hf_api)
    answers = [
        created.raw,
        hf_api.get_inference_endpoint("ep", namespace="demo").raw,
        hf_api.list_inference_endpoints(namespace="demo")[0].raw,
        created.update(min_replica=1).raw,
        created.pause().raw,
    ]
    for raw in answers:
        text = json.dumps(raw)
        assert "s3cret-value" not in text and "registry-pass" not in text
        assert raw["model"]["secrets"] == {"API_KEY": REDACTED}
        assert raw["model"]["image"]["custom"]["credentials"] == {"username": "bot", "password": REDACTED}
    stored = server.state.get("demo", "ep").config["model"]
    assert stored["secrets"] == {"API_KEY": "s3cret-value"}  # kept by the service, only hidden
    assert stored["image"]["custom"]["credentials"]["password"] == "registry-pass"


def test_sending_back_a_get_overwrites_the_secrets_and_the_image_pull_fails(
    hf_api: HfApi, server: EmulatorServer
) -> None:
    endpoint = settle(with_secrets(hf_api))
    model = endpoint.fetch().raw["model"]
    endpoint.update(custom_image=model["image"]["custom"], secrets=model["secrets"])
    stored = server.state.get("demo", "ep").config["model"]
    assert stored["secrets"] == {"API_KEY": REDACTED}
    with pytest.raises(InferenceEndpointError, match="failed to update"):
        settle(endpoint)
    assert "image could not be pulled" in endpoint.fetch().raw["status"]["message"]


def test_with_the_keep_switch_a_redacted_value_sent_back_keeps_the_secret(
    hf_api: HfApi, server: EmulatorServer
) -> None:
    put(server, "behaviour", {"redacted_update": "keep"})
    endpoint = settle(with_secrets(hf_api))
    model = endpoint.fetch().raw["model"]
    endpoint.update(custom_image=model["image"]["custom"], secrets={**model["secrets"], "NEW": "n"})
    stored = server.state.get("demo", "ep").config["model"]
    assert stored["secrets"] == {"API_KEY": "s3cret-value", "NEW": "n"}
    assert stored["image"]["custom"]["credentials"]["password"] == "registry-pass"
    assert settle(endpoint).status == "running"


# ------------------------------------------------------------ health route


def test_a_camel_case_health_route_of_a_custom_image_is_honoured(hf_api: HfApi) -> None:
    endpoint = settle(create(hf_api, custom_image=CUSTOM))  # wait() polls the health route: /ping must answer
    assert endpoint.health_route == "/ping" and endpoint.url is not None
    assert httpx.get(f"{endpoint.url}/ping", headers=AUTH).status_code == 200
    assert not InferenceClient(endpoint.url, provider="hf-inference").health_check()  # /health: 404 on this image
    updated = endpoint.update(custom_image={"url": "ghcr.io/acme/tgi:2", "healthRoute": "/ready"})
    assert updated.health_route == "/ready"


# --------------------------------------------------------------- namespaces


def test_a_namespace_without_access_or_billing_is_a_401(
    hf_api: HfApi, server: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server.identity, "unbilled_orgs", ("broke",))
    create(hf_api, "mine")
    for namespace in ("someone-else", "broke"):
        with pytest.raises(HfHubHTTPError) as caught:
            hf_api.list_inference_endpoints(namespace=namespace)
        assert caught.value.response.status_code == 401
        assert caught.value.response.json() == {"error": "Unauthorized"}  # the same: no billing or no access
    assert "broke" in [org["name"] for org in hf_api.whoami()["orgs"]]
    assert [e.name for e in hf_api.list_inference_endpoints(namespace="*")] == ["mine"]  # the 401 is skipped


# ----------------------------------------------------------------- switches


def test_the_list_is_cut_at_20_and_huggingface_hub_never_asks_for_more(hf_api: HfApi, server: EmulatorServer) -> None:
    for index in range(21):
        server.state.create("demo", body(name=f"ep-{index:02d}"), user="demo")
    assert len(hf_api.list_inference_endpoints(namespace="demo")) == 20
    put(server, "behaviour", {"list_page_size": 100})
    assert len(hf_api.list_inference_endpoints(namespace="demo")) == 21


@pytest.mark.parametrize(("switch", "status"), [("503", 503), ("serve", 200)])
def test_inference_while_updating_is_a_switch(
    fake_hf_api: HfApi, fake_server: EmulatorServer, clock: FakeClock, switch: str, status: int
) -> None:
    put(fake_server, "behaviour", {"while_updating": switch})
    endpoint = create(fake_hf_api)
    clock.advance(timedelta(seconds=SLOW.pending + SLOW.initializing))
    assert endpoint.update(repository="gpt2-large").status == "updating"
    assert endpoint.url is not None
    response = httpx.post(endpoint.url, json={"inputs": "hi"}, headers=AUTH)
    assert response.status_code == status
    assert InferenceClient(endpoint.url, provider="hf-inference").health_check() is (status == 200)


@pytest.mark.parametrize("switch", ["gzip", "off"])
def test_whole_answers_are_gzipped_for_clients_that_accept_it_unless_switched_off(
    hf_api: HfApi, server: EmulatorServer, switch: str
) -> None:
    put(server, "behaviour", {"compress": switch})
    endpoint = settle(create(hf_api))
    assert endpoint.url is not None
    asked = httpx.post(endpoint.url, json={"inputs": "hi"}, headers={**AUTH, "Accept-Encoding": "gzip"})
    assert asked.headers.get("content-encoding") == ("gzip" if switch == "gzip" else None)
    assert asked.json() == [{"generated_text": "echo: hi"}]  # httpx undoes the encoding
    plain = httpx.post(endpoint.url, json={"inputs": "hi"}, headers={**AUTH, "Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert endpoint.client.text_generation("hi") == "echo: hi"  # huggingface_hub's own client either way


def test_a_deleted_endpoint_url_answers_503_to_the_inference_client(hf_api: HfApi) -> None:
    endpoint = settle(create(hf_api))
    client = endpoint.client
    endpoint.delete()
    with pytest.raises(HfHubHTTPError) as caught:
        client.text_generation("anyone there?")
    assert caught.value.response.status_code == 503
