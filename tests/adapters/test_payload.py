"""The bodies epmgr sends are byte-for-byte the JSON huggingface_hub's own methods send for the same values.

Both run against the real HF URL under respx (nothing leaves the machine), so the test compares what each puts
on the wire; if a huggingface_hub upgrade changes its bodies, this test says so.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import respx
from huggingface_hub import HfApi, constants

from epmgr.adapters.hf import HfEndpointsAPI
from epmgr.domain.model import EndpointChanges, EndpointSpec, Instance
from tests.adapters.test_retries import ENDPOINT_JSON

L4 = Instance("aws", "us-east-1", "gpu", "nvidia-l4", "x1")
SPECS = {
    "minimal": EndpointSpec("ep", "gpt2", L4),
    "full": EndpointSpec(
        "ep", "meta-llama/Llama-3.1-8B", L4, framework="pytorch", task="text-generation", revision="abc123",
        min_replica=0, max_replica=2, scale_to_zero_timeout_min=15, endpoint_type="protected",
        image={"tgi": {"url": "ghcr.io/huggingface/text-generation-inference:3"}}, env={"MAX_TOTAL_TOKENS": "4096"},
        tags=("team-a", "prod"),
    ),
    "custom-image": EndpointSpec("ep", "gpt2", L4, image={"url": "registry.example/me/server:1", "port": 8080}),
}  # fmt: skip
CHANGES = {
    "scaling": EndpointChanges(min_replica=0, scale_to_zero_timeout_min=15),
    "everything": EndpointChanges(
        instance_type="nvidia-a10g", instance_size="x4", accelerator="gpu", min_replica=1, max_replica=3,
        scale_to_zero_timeout_min=30, repository="gpt2-large", revision="main", task="text-generation",
        framework="pytorch",
    ),
}  # fmt: skip


def sent_body(call: Callable[[], object], method: str, path: str) -> dict[str, Any]:
    """The JSON body ``call`` sends to the real management API's ``path``."""
    with respx.mock() as mock:
        route = mock.route(method=method, url=f"{constants.INFERENCE_ENDPOINTS_ENDPOINT}{path}")
        route.mock(return_value=httpx.Response(200, json=ENDPOINT_JSON))
        call()
    body: dict[str, Any] = json.loads(route.calls.last.request.content)
    return body


@pytest.mark.parametrize("spec", SPECS.values(), ids=SPECS.keys())
@pytest.mark.filterwarnings("ignore::FutureWarning")  # huggingface_hub's notice that "protected" is deprecated
def test_create_sends_what_huggingface_hub_sends(spec: EndpointSpec) -> None:
    ours = sent_body(lambda: HfEndpointsAPI(token="hf_x", namespace="ns").create(spec), "POST", "/endpoint/ns")
    theirs = sent_body(
        lambda: HfApi().create_inference_endpoint(
            spec.name, repository=spec.repository, framework=spec.framework, accelerator=spec.instance.accelerator,
            instance_size=spec.instance.instance_size, instance_type=spec.instance.instance_type,
            region=spec.instance.region, vendor=spec.instance.vendor, min_replica=spec.min_replica,
            max_replica=spec.max_replica, scale_to_zero_timeout=spec.scale_to_zero_timeout_min,
            revision=spec.revision, task=spec.task, custom_image=dict(spec.image) if spec.image else None,
            env=dict(spec.env) if spec.env else None, type=spec.endpoint_type, tags=list(spec.tags) or None,
            namespace="ns", token="hf_x",
        ),
        "POST", "/endpoint/ns",
    )  # fmt: skip
    assert ours == theirs


@pytest.mark.parametrize("changes", CHANGES.values(), ids=CHANGES.keys())
def test_update_sends_only_the_given_fields_as_huggingface_hub_does(changes: EndpointChanges) -> None:
    ours = sent_body(
        lambda: HfEndpointsAPI(token="hf_x", namespace="ns").update("ep", changes), "PUT", "/endpoint/ns/ep"
    )
    theirs = sent_body(
        lambda: HfApi().update_inference_endpoint(
            "ep", accelerator=changes.accelerator, instance_size=changes.instance_size,
            instance_type=changes.instance_type, min_replica=changes.min_replica, max_replica=changes.max_replica,
            scale_to_zero_timeout=changes.scale_to_zero_timeout_min, repository=changes.repository,
            framework=changes.framework, revision=changes.revision, task=changes.task, namespace="ns", token="hf_x",
        ),
        "PUT", "/endpoint/ns/ep",
    )  # fmt: skip
    assert ours == theirs
