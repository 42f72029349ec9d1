"""The management API over real HTTP: routes, JSON shapes, errors, and the Hub routes."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from epmgr.clock import FakeClock
from epmgr.emulator import EmulatorServer
from tests.emulator.helpers import ORG, SLOW, body

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
URL = re.compile(r"^http://127\.0\.0\.1:\d+/e/[a-z0-9]{16}$")
REQUIRED_STATUS_KEYS = {
    "state",
    "createdAt",
    "updatedAt",
    "createdBy",
    "updatedBy",
    "message",
    "readyReplica",
    "targetReplica",
    "private",
}


def create(client: httpx.Client, namespace: str = "demo", **changes: Any) -> dict[str, Any]:
    response = client.post(f"/v2/endpoint/{namespace}", json=body(**changes))
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def get(client: httpx.Client, name: str = "ep", namespace: str = "demo") -> dict[str, Any]:
    response = client.get(f"/v2/endpoint/{namespace}/{name}")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def later(clock: FakeClock, seconds: float) -> None:
    clock.advance(timedelta(seconds=seconds))


def assert_endpoint_shape(data: dict[str, Any]) -> None:
    """Every key huggingface_hub reads (and the ones the spec requires) is there, timestamps end in Z."""
    assert {"name", "type", "healthRoute", "model", "compute", "provider", "status", "tags"} <= data.keys()
    assert {"experimentalFeatures", "notifications", "accountId"} <= data.keys()
    assert {"repository", "framework", "revision", "task", "image"} <= data["model"].keys()
    assert {"accelerator", "instanceType", "instanceSize", "scaling"} <= data["compute"].keys()
    assert {"minReplica", "maxReplica", "scaleToZeroTimeout"} <= data["compute"]["scaling"].keys()
    assert {"vendor", "region"} <= data["provider"].keys()
    assert data["status"].keys() >= REQUIRED_STATUS_KEYS
    assert TIMESTAMP.match(data["status"]["createdAt"]) and TIMESTAMP.match(data["status"]["updatedAt"])
    assert data["status"]["createdBy"]["name"] == "demo"


def status_of(data: dict[str, Any]) -> tuple[str, int, int, str | None]:
    status = data["status"]
    return status["state"], status["readyReplica"], status["targetReplica"], status.get("url")


def test_every_state_has_the_full_shape_and_its_url_and_replica_rules(
    fake_http: httpx.Client, clock: FakeClock
) -> None:
    created = create(fake_http, scaling={"minReplica": 0, "maxReplica": 2})
    seen = [status_of(created)]
    later(clock, SLOW.pending)
    seen.append(status_of(get(fake_http)))
    later(clock, SLOW.initializing)
    seen.append(status_of(get(fake_http)))
    seen.append(status_of(fake_http.put("/v2/endpoint/demo/ep", json={"tags": ["a"]}).json()))
    later(clock, SLOW.update)
    seen.append(status_of(fake_http.post("/v2/endpoint/demo/ep/scale-to-zero").json()))
    seen.append(status_of(fake_http.post("/v2/endpoint/demo/ep/pause").json()))
    seen.append(status_of(fake_http.post("/v2/endpoint/demo/ep/resume").json()))
    final = fake_http.post("/_emulator/endpoint/demo/ep/fail").json()
    seen.append(status_of(final))
    states = [(state, ready, target, url is not None) for state, ready, target, url in seen]
    assert states == [
        ("pending", 0, 0, False),
        ("initializing", 0, 1, True),
        ("running", 1, 1, True),
        ("updating", 0, 1, True),
        ("scaledToZero", 0, 0, True),
        ("paused", 0, 0, False),
        ("pending", 0, 0, False),
        ("failed", 0, 1, True),  # it ran once, so its URL stays
    ]
    urls = {url for *_, url in seen if url}
    assert len(urls) == 1 and URL.match(urls.pop())  # one stable URL, kept across pause and resume
    for data in (created, final):
        assert_endpoint_shape(data)
    assert "url" not in created["status"]


def test_a_failure_before_the_first_deploy_has_no_url(fake_http: httpx.Client) -> None:
    create(fake_http)
    failed = fake_http.post("/_emulator/endpoint/demo/ep/fail", json={"message": "bad image"}).json()
    assert failed["status"]["state"] == "failed" and "url" not in failed["status"]
    assert failed["status"]["message"] == "bad image"


def test_create_echoes_the_body_with_the_defaults_filled_in(fake_http: httpx.Client) -> None:
    created = create(fake_http)
    sent = body()
    assert created["compute"] == sent["compute"] and created["provider"] == sent["provider"]
    assert created["model"] == {**sent["model"], "task": "text-generation"}
    assert (created["healthRoute"], created["tags"], created["type"]) == ("/health", [], "authenticated")


def test_a_custom_image_health_route_becomes_the_health_route(fake_http: httpx.Client) -> None:
    image = {"custom": {"url": "ghcr.io/me/img:1", "health_route": "/ping"}}
    created = create(fake_http, model={**body()["model"], "image": image})
    assert created["healthRoute"] == "/ping"


def test_put_merges_only_the_given_fields(fake_http: httpx.Client) -> None:
    create(fake_http, model={**body()["model"], "env": {"A": "1"}})
    response = fake_http.put(
        "/v2/endpoint/demo/ep", json={"compute": {"scaling": {"minReplica": 0, "scaleToZeroTimeout": 15}}}
    )
    assert response.status_code == 200
    data = response.json()
    assert data["compute"]["scaling"] == {"minReplica": 0, "maxReplica": 1, "scaleToZeroTimeout": 15}
    assert data["model"]["env"] == {"A": "1"} and data["compute"]["instanceType"] == "intel-icl"
    assert get(fake_http)["compute"]["scaling"]["scaleToZeroTimeout"] == 15


def test_delete_answers_an_empty_200_then_the_endpoint_is_404(fake_http: httpx.Client) -> None:
    create(fake_http)
    response = fake_http.delete("/v2/endpoint/demo/ep")
    assert (response.status_code, response.content) == (200, b"")
    assert fake_http.get("/v2/endpoint/demo/ep").status_code == 404


def test_the_list_pages_at_20_by_default_unless_switched_off(fake_http: httpx.Client) -> None:
    for index in range(25):
        create(fake_http, name=f"ep-{index:02d}")
    data = fake_http.get("/v2/endpoint/demo").json()
    assert [item["name"] for item in data["items"]] == [f"ep-{i:02d}" for i in range(20)]
    assert data["nextCursor"] == "20"
    assert fake_http.put("/_emulator/behaviour", json={"list_page_size": None}).status_code == 200
    data = fake_http.get("/v2/endpoint/demo").json()
    assert [item["name"] for item in data["items"]] == [f"ep-{i:02d}" for i in range(25)]
    assert "nextCursor" not in data


def test_the_list_pages_with_limit_and_cursor(fake_http: httpx.Client) -> None:
    for index in range(5):
        create(fake_http, name=f"ep-{index}", tags=["even"] if index % 2 == 0 else [])
    names: list[str] = []
    params: dict[str, str] = {"limit": "2"}
    while True:
        data = fake_http.get("/v2/endpoint/demo", params=params).json()
        names += [item["name"] for item in data["items"]]
        if "nextCursor" not in data:
            break
        params = {"limit": "2", "cursor": data["nextCursor"]}
    assert names == [f"ep-{i}" for i in range(5)]
    tagged = fake_http.get("/v2/endpoint/demo", params={"tags": "even", "search": "ep-"}).json()["items"]
    assert [item["name"] for item in tagged] == ["ep-0", "ep-2", "ep-4"]
    assert fake_http.get("/v2/endpoint/demo", params={"limit": "zero"}).status_code == 400


ROUTES = [
    ("GET", "/v2/endpoint/demo"),
    ("POST", "/v2/endpoint/demo"),
    ("GET", "/v2/endpoint/demo/ep"),
    ("PUT", "/v2/endpoint/demo/ep"),
    ("DELETE", "/v2/endpoint/demo/ep"),
    ("POST", "/v2/endpoint/demo/ep/pause"),
    ("POST", "/v2/endpoint/demo/ep/resume"),
    ("POST", "/v2/endpoint/demo/ep/scale-to-zero"),
    ("POST", "/v2/endpoint/demo/ep/metrics/request-count"),
    ("GET", "/v2/provider/demo"),
    ("GET", "/api/whoami-v2"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer hf_wrong"}, {"Authorization": "Basic x"}])
def test_a_missing_or_unknown_token_is_a_401(
    fake_server: EmulatorServer, method: str, path: str, headers: dict[str, str]
) -> None:
    response = httpx.request(method, fake_server.url + path, headers=headers, json=body())
    assert response.status_code == 401
    assert isinstance(response.json()["error"], str)


def test_another_namespace_is_a_401_and_the_org_namespace_works(fake_http: httpx.Client) -> None:
    response = fake_http.post("/v2/endpoint/someone-else", json=body())
    assert response.status_code == 401 and response.json() == {"error": "Unauthorized"}
    assert create(fake_http, namespace=ORG)["name"] == "ep"
    assert [item["name"] for item in fake_http.get(f"/v2/endpoint/{ORG}").json()["items"]] == ["ep"]
    assert fake_http.get("/v2/endpoint/demo").json() == {"items": []}


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("GET", ""), ("PUT", ""), ("DELETE", ""), ("POST", "/pause"), ("POST", "/resume"), ("POST", "/scale-to-zero")],
)
def test_an_unknown_endpoint_is_a_404_with_an_error_body(fake_http: httpx.Client, method: str, suffix: str) -> None:
    response = fake_http.request(method, f"/v2/endpoint/demo/nope{suffix}", json={"tags": []})
    assert response.status_code == 404
    assert "nope" in response.json()["error"]


def test_a_duplicate_name_is_a_409(fake_http: httpx.Client) -> None:
    create(fake_http)
    response = fake_http.post("/v2/endpoint/demo", json=body())
    assert response.status_code == 409 and "already taken" in response.json()["error"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "Bad_Name"}, "Invalid endpoint name"),
        (
            {"compute": {"instanceType": "c6i", "instanceSize": "medium"}},
            "Instance compute 'Cpu' - 'c6i' - 'medium' in 'aws' - 'us-east-1' not found",
        ),
        ({"scaling": {"scaleToZeroTimeout": 15}}, "scaleToZeroTimeout requires minReplica to be 0"),
        ({"type": "internal"}, "Invalid endpoint type"),
    ],
    ids=["name", "compute", "scale-to-zero-timeout", "type"],
)
def test_invalid_creates_are_a_400_with_the_message(
    fake_http: httpx.Client, changes: dict[str, Any], message: str
) -> None:
    response = fake_http.post("/v2/endpoint/demo", json=body(**changes))
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_a_body_that_is_not_json_is_a_400(fake_http: httpx.Client) -> None:
    response = fake_http.post("/v2/endpoint/demo", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400 and "JSON" in response.json()["error"]
    assert fake_http.post("/v2/endpoint/demo", json=["a", "list"]).status_code == 400


def test_resume_of_a_running_endpoint_is_a_400_containing_already_running(
    fake_http: httpx.Client, clock: FakeClock
) -> None:
    create(fake_http)
    later(clock, SLOW.pending + SLOW.initializing)
    response = fake_http.post("/v2/endpoint/demo/ep/resume")
    assert response.status_code == 400 and "already running" in response.text


def test_the_hardware_listing_has_prices_and_counts_quota(fake_http: httpx.Client, clock: FakeClock) -> None:
    for name in ("run", "zero", "paused"):
        create(fake_http, name=name, compute={"instanceType": "intel-spr", "instanceSize": "x4"})
    later(clock, SLOW.pending + SLOW.initializing)
    fake_http.post("/v2/endpoint/demo/zero/scale-to-zero")
    fake_http.post("/v2/endpoint/demo/paused/pause")
    data = fake_http.get("/v2/provider/demo").json()
    assert [v["name"] for v in data["vendors"]] == ["aws", "azure", "gcp"]
    computes = {c["id"]: c for v in data["vendors"] for r in v["regions"] for c in r["computes"]}
    spr = computes["aws-us-east-1-intel-spr-x4"]
    assert spr["pricePerHour"] == 0.134 and spr["accelerator"] == "cpu" and spr["numCpus"] == 4
    assert spr["quota"]["usedAccelerators"] == 2 * 4  # running + scaled to zero, 4 vCPUs each; paused is free
    assert computes["aws-eu-west-1-intel-spr-x4"]["quota"]["usedAccelerators"] == 0
    assert computes["gcp-us-east4-nvidia-l4-x1"]["pricePerHour"] == 0.7
    keys = {
        "id",
        "accelerator",
        "instanceType",
        "instanceSize",
        "architecture",
        "numAccelerators",
        "memoryGb",
        "pricePerHour",
        "status",
        "quota",
    }
    assert all(keys <= c.keys() for c in computes.values())


def test_whoami_names_the_user_and_its_orgs(fake_http: httpx.Client) -> None:
    data = fake_http.get("/api/whoami-v2").json()
    assert data["type"] == "user" and data["name"] == "demo"
    assert [org["name"] for org in data["orgs"]] == [ORG]


def test_agent_harnesses_is_an_object_even_without_a_token(fake_server: EmulatorServer) -> None:
    data = httpx.get(f"{fake_server.url}/api/agent-harnesses").json()
    assert data == {"standardEnvVars": [], "harnesses": {}}
    assert isinstance(data["harnesses"], dict)


def test_the_request_counter_counts_per_route_pattern(fake_http: httpx.Client) -> None:
    create(fake_http)
    fake_http.post("/v2/endpoint/demo/ep/resume")
    fake_http.get("/v2/endpoint/demo/ep")
    fake_http.get("/v2/endpoint/demo/ep")
    counts = fake_http.get("/_emulator/requests").json()["counts"]
    assert counts["POST /v2/endpoint/{namespace}/{name}/resume"] == 1
    assert counts["GET /v2/endpoint/{namespace}/{name}"] == 2
    assert counts["POST /v2/endpoint/{namespace}"] == 1
    assert fake_http.delete("/_emulator/requests").json() == {"counts": {}}
    assert fake_http.get("/_emulator/requests").json()["counts"] == {"GET /_emulator/requests": 1}


def test_reset_forgets_endpoints_billing_and_counts(fake_http: httpx.Client, clock: FakeClock) -> None:
    create(fake_http)
    later(clock, 3600)
    assert fake_http.get("/_emulator/billing").json()["totalUsd"] != "0"
    assert fake_http.post("/_emulator/reset").json() == {"reset": True}
    assert fake_http.get("/v2/endpoint/demo").json() == {"items": []}
    assert fake_http.get("/_emulator/billing").json() == {"currency": "USD", "totalUsd": "0", "endpoints": []}


def test_the_billing_report_lists_segments_and_transitions(fake_http: httpx.Client, clock: FakeClock) -> None:
    create(fake_http)
    later(clock, SLOW.pending + SLOW.initializing + 3600)
    fake_http.post("/v2/endpoint/demo/ep/pause")
    fake_http.delete("/v2/endpoint/demo/ep")
    report = fake_http.get("/_emulator/billing", params={"namespace": "demo"}).json()
    (entry,) = report["endpoints"]
    assert (entry["name"], entry["deleted"], entry["replicaMinutes"], entry["usd"]) == ("ep", True, 64, "0.068267")
    assert report["totalUsd"] == "0.068267"
    (segment,) = entry["segments"]
    assert (segment["replicas"], segment["pricePerHour"], segment["minutes"]) == (1, "0.064", 64)
    assert TIMESTAMP.match(segment["start"]) and TIMESTAMP.match(segment["end"])
    assert [t["state"] for t in entry["transitions"]] == ["pending", "initializing", "running", "paused"]
    assert fake_http.get("/_emulator/billing", params={"namespace": ORG}).json()["endpoints"] == []


def test_fail_accepts_update_failed_and_rejects_other_states(fake_http: httpx.Client) -> None:
    create(fake_http)
    failed = fake_http.post("/_emulator/endpoint/demo/ep/fail", json={"state": "updateFailed"}).json()
    assert failed["status"]["state"] == "updateFailed"
    assert fake_http.post("/_emulator/endpoint/demo/ep/fail", json={"state": "running"}).status_code == 400
    assert fake_http.post("/_emulator/endpoint/demo/ep/fail", json={"state": "nonsense"}).status_code == 400
    assert fake_http.post("/_emulator/endpoint/demo/nope/fail").status_code == 404


def test_control_routes_answer_loopback_clients_only(fake_server: EmulatorServer) -> None:
    with TestClient(fake_server.app) as client:  # its client address is "testclient", not loopback
        assert client.get("/_emulator/billing").status_code == 403
        assert client.post("/_emulator/reset").status_code == 403
        assert client.get("/api/agent-harnesses").status_code == 200
