"""epmgr's HuggingFaceEndpointEmbeddings: LangChain's standard embeddings suite, on a running and on a scaled-to-zero
TEI endpoint of the emulator (over HTTP), then what the suite does not check: waking, recording, refusals."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import ValidationError

from epmgr.domain.model import EndpointRef, EndpointSpec, EndpointState
from epmgr.emulator import DEMO_USER
from tests.client.world import CPU, World

pytest.importorskip("langchain_huggingface")
pytest.importorskip("langchain_tests")

from langchain_tests.integration_tests import EmbeddingsIntegrationTests  # noqa: E402

from epmgr.langchain import HuggingFaceEndpointEmbeddings  # noqa: E402

pytestmark = pytest.mark.anyio  # the suite's async tests run on anyio's asyncio backend

NAME = "embedder"
REPOSITORY = "BAAI/bge-small-en-v1.5"  # 384 dimensions in the emulator, as the real model


def embedder(world: World, state: EndpointState) -> None:
    """A TEI feature-extraction endpoint, running, then scaled to zero or paused if asked."""
    spec = EndpointSpec(name=NAME, repository=REPOSITORY, instance=CPU, min_replica=0)
    world.api.create(EndpointSpec(**{**spec.__dict__, "task": "feature-extraction"}))
    world.until(NAME, EndpointState.RUNNING)
    if state == EndpointState.SCALED_TO_ZERO:
        world.api.scale_to_zero(NAME)
    elif state == EndpointState.PAUSED:
        world.api.pause(NAME)
    world.until(NAME, state)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class TestRunningEndpoint(EmbeddingsIntegrationTests):
    """The standard suite, unchanged, on a running endpoint."""

    state = EndpointState.RUNNING

    @pytest.fixture(autouse=True)
    def _endpoint(self, world: World) -> None:
        embedder(world, self.state)

    @property
    def embeddings_class(self) -> type[HuggingFaceEndpointEmbeddings]:
        return HuggingFaceEndpointEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, str]:
        return {"model": NAME}


class TestScaledToZeroEndpoint(TestRunningEndpoint):
    """The standard suite, unchanged, each test starting on a scaled-to-zero endpoint."""

    state = EndpointState.SCALED_TO_ZERO


def test_a_paused_endpoint_is_resumed_for_a_query_and_each_call_recorded(world: World) -> None:
    embedder(world, EndpointState.PAUSED)
    embeddings = HuggingFaceEndpointEmbeddings(model=NAME)
    query = embeddings.embed_query("what wakes a paused endpoint?")
    documents = asyncio.run(embeddings.aembed_documents(["one", "two"]))
    assert len(query) == 384 and [len(d) for d in documents] == [384, 384]
    assert world.api.get(NAME).state == EndpointState.RUNNING
    embeddings.client.close()
    assert world.ledger().count_requests(EndpointRef(DEMO_USER, NAME)) == 2


def test_the_endpoint_url_works_as_the_model(world: World) -> None:
    embedder(world, EndpointState.RUNNING)
    url = world.api.get(NAME).url
    assert url is not None
    vector = HuggingFaceEndpointEmbeddings(model=url, model_kwargs={"normalize": False}).embed_query("a a a")
    assert sum(x * x for x in vector) > 1.5  # not normalised: model_kwargs reach feature_extraction


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "needs model="),
        ({"model": "BAAI/bge-small-en-v1.5"}, "is a Hub repository"),
        ({"model": NAME, "task": "text-generation"}, "only feature-extraction"),
        ({"model": "Bad_Name!"}, "Bad_Name!"),
    ],
    ids=["nothing", "repository", "task", "bad-name"],
)
def test_what_is_not_an_endpoint_is_refused_in_one_line(world: World, options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        HuggingFaceEndpointEmbeddings(**options)
