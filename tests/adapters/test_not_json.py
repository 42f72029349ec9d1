"""A success answer that is not the JSON the HF API sends becomes one ApiError naming URL, status and content type.

respx injects the fault (a proxy's login page, a wrong ``EPMGR_HF_API_URL``); the adapter and huggingface_hub are
real. Such an answer is not retried: a misconfigured URL does not heal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import respx

from epmgr.adapters.hf import HfEndpointsAPI
from epmgr.domain.backoff import Backoff
from epmgr.errors import ApiError, ApiUnavailable

BASE = "http://wrong.test"
CALLS: dict[str, Callable[[HfEndpointsAPI], Any]] = {
    "list": lambda api: api.list_endpoints(),
    "get": lambda api: api.get("phi3"),
    "pause": lambda api: api.pause("phi3"),
    "resume": lambda api: api.resume("phi3"),
    "scale-to-zero": lambda api: api.scale_to_zero("phi3"),
    "hardware": lambda api: api.hardware(),
}


def _api() -> HfEndpointsAPI:
    return HfEndpointsAPI(token="hf_test", namespace="demo", api_url=BASE, backoff=Backoff(base_s=0, attempts=3))


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
def test_html_with_200_is_one_clear_error_and_is_not_retried(call: Callable[[HfEndpointsAPI], Any]) -> None:
    api = _api()
    page = httpx.Response(200, text="<html><body>Sign in</body></html>", headers={"content-type": "text/html"})
    with respx.mock(base_url=BASE) as mock:
        route = mock.route().mock(return_value=page)
        with pytest.raises(ApiError) as caught:
            call(api)
    assert not isinstance(caught.value, ApiUnavailable) and caught.value.status_code == 200
    assert f"the HF API at {BASE} answered 200 with non-JSON content (text/html); is EPMGR_HF_API_URL right?" in str(
        caught.value
    )
    assert route.call_count == 1 and "hf_test" not in str(caught.value)


@pytest.mark.parametrize(
    ("body", "call"),
    [([1, 2], "get"), ("just a string", "pause"), ({"items": ["x"]}, "list"), ([{"name": 5}, 3], "list")],
)
def test_json_of_the_wrong_shape_is_one_clear_error(body: object, call: str) -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.route().mock(return_value=httpx.Response(200, json=body))
        with pytest.raises(ApiError, match="answered 200 with JSON that is not what epmgr expects"):
            CALLS[call](_api())


def test_mistyped_optional_fields_get_neutral_values() -> None:
    endpoint: dict[str, object] = {
        "name": "phi3",
        "status": {"state": "running"},
        "compute": "gpu",
        "model": None,
        "provider": [],
    }
    with respx.mock(base_url=BASE) as mock:
        mock.route().mock(return_value=httpx.Response(200, json={"items": [endpoint]}))
        (snapshot,) = _api().list_endpoints()
    assert snapshot.ref.name == "phi3" and snapshot.instance.vendor == "" and snapshot.repository == ""
