"""The client refuses bad names before any I/O, never lets a raw httpx error reach its caller (respx injects
the faults), and keeps serving while the ledger is down without losing records silently."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator, Sequence
from datetime import timedelta

import httpx
import pytest
import respx

from epmgr.client import ActivityRecorder, AsyncEndpointClient, EndpointClient
from epmgr.clock import FakeClock
from epmgr.domain.model import EndpointRef, EndpointState, RequestRecord
from epmgr.errors import ApiUnavailable, ConfigError, LedgerError
from epmgr.ledger import Ledger
from epmgr.ledger.store import RequestFinish
from tests.client.world import World
from tests.conftest import T0

BAD_NAMES = ["x/../ep2", "../ns/name", "a\nb", "n" * 100_000, "UPPER", "a/b/c", "ep 2", "ns/"]


@pytest.mark.parametrize("name", BAD_NAMES, ids=range(len(BAD_NAMES)))
def test_a_bad_name_is_refused_before_any_io(world: World, name: str) -> None:
    world.clear_counts()
    with pytest.raises(ConfigError) as caught:
        EndpointClient(name)
    message = str(caught.value)
    assert "\n" not in message and len(message) < 300
    assert "expected" in message
    assert {k: v for k, v in world.counts().items() if "_emulator" not in k} == {}
    ledger = world.ledger()
    assert ledger.endpoints() == []
    ledger.close()


def test_namespace_slash_name_is_accepted(world: World) -> None:
    world.create("ns-form", EndpointState.RUNNING)
    with EndpointClient("demo/ns-form") as client:
        assert client.text_generation("hi", max_new_tokens=2) == "echo: hi"


@pytest.mark.parametrize("seconds", [1e300, 0, -1, float("nan")])
def test_a_wake_timeout_out_of_range_is_a_config_error(world: World, seconds: float) -> None:
    with pytest.raises(ConfigError, match="wake_timeout: expected a wake timeout"):
        EndpointClient("ep", wake_timeout=seconds)


# -- transport errors (respx injects them) ---------------------------------------------------------

URL = "http://ep.test"


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        router.get(f"{URL}/health").respond(200)
        yield router


def test_a_stale_connection_is_sent_again_once(mock: respx.MockRouter) -> None:
    route = mock.post(f"{URL}/").mock(
        side_effect=[httpx.ReadError("connection reset"), httpx.Response(200, json=[{"generated_text": "ok"}])]
    )
    with EndpointClient(URL, record=False) as client:
        assert client.text_generation("hi") == "ok"
    assert route.call_count == 2


@pytest.mark.parametrize(
    ("error", "calls", "says"),
    [(httpx.ReadError("reset"), 2, "connection failed (ReadError: reset)"),
     (httpx.RemoteProtocolError("gone"), 2, "connection failed (RemoteProtocolError: gone)"),
     (httpx.ReadTimeout("slow"), 1, "did not answer in time (ReadTimeout: slow)"),
     (httpx.ProxyError("proxy"), 1, "connection failed (ProxyError: proxy)")],
    ids=["read", "protocol", "timeout", "proxy"],
)  # fmt: skip
def test_transport_errors_become_api_unavailable(
    mock: respx.MockRouter, error: Exception, calls: int, says: str
) -> None:
    route = mock.post(f"{URL}/").mock(side_effect=error)
    with EndpointClient(URL, record=False) as client, pytest.raises(ApiUnavailable) as caught:
        client.text_generation("hi")
    assert str(caught.value) == f"{URL}: the endpoint's {says}"
    assert caught.value.endpoint == URL
    assert route.call_count == calls


def test_a_raw_request_and_a_cut_stream_become_api_unavailable(mock: respx.MockRouter) -> None:
    mock.get(f"{URL}/info").mock(side_effect=httpx.ConnectError("refused"))

    def cut() -> Iterator[bytes]:
        yield b'data:{"token": {"id": 1, "text": "a", "logprob": 0, "special": false}}\n\n'
        raise httpx.ReadError("cut mid-stream")

    mock.post(f"{URL}/").mock(return_value=httpx.Response(200, content=cut()))
    with EndpointClient(URL, record=False) as client:
        with pytest.raises(ApiUnavailable, match="ConnectError: refused"):
            client.request("GET", "/info")
        tokens = client.text_generation("hi", stream=True)
        with pytest.raises(ApiUnavailable, match="ReadError: cut mid-stream"):
            list(tokens)


def test_the_async_client_translates_too(mock: respx.MockRouter) -> None:
    route = mock.post(f"{URL}/").mock(side_effect=httpx.WriteError("broken pipe"))

    async def main() -> None:
        async with AsyncEndpointClient(URL, record=False) as client:
            await client.text_generation("hi")

    with pytest.raises(ApiUnavailable, match="WriteError: broken pipe"):
        asyncio.run(main())
    assert route.call_count == 2


def test_an_html_page_answering_200_is_a_clear_error(mock: respx.MockRouter) -> None:
    mock.post(f"{URL}/").respond(200, text="<html>captive portal</html>", headers={"content-type": "text/html"})
    with EndpointClient(URL, record=False) as client, pytest.raises(Exception) as caught:
        client.text_generation("hi")
    assert "answered 200 with a body that is not JSON (text/html)" in str(caught.value)
    assert type(caught.value).__module__ == "epmgr.errors"


# -- the ledger down -------------------------------------------------------------------------------


class Outage:
    """A real ledger with an outage switch (fault injection at the ledger port, as respx does for HTTP)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.down = False

    def record_requests(self, records: Sequence[RequestRecord]) -> list[int]:
        if self.down:
            raise LedgerError("the ledger is unreachable (injected)")
        return self.ledger.record_requests(records)

    def write_requests(self, records: Sequence[RequestRecord]) -> list[int | None]:
        if self.down:
            raise LedgerError("the ledger is unreachable (injected)")
        return self.ledger.write_requests(records)

    def finish_requests(self, finishes: Sequence[RequestFinish]) -> None:
        if self.down:
            raise LedgerError("the ledger is unreachable (injected)")
        self.ledger.finish_requests(finishes)


REF = EndpointRef("demo", "ep")


def outage_recorder(ledger: Ledger, clock: FakeClock) -> tuple[Outage, ActivityRecorder]:
    outage = Outage(ledger)
    recorder = ActivityRecorder(outage, interval=3600, clock=clock)  # type: ignore[arg-type]
    return outage, recorder


def test_records_wait_for_the_ledger_and_the_outage_is_reported(
    ledger: Ledger, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(T0)
    outage, recorder = outage_recorder(ledger, clock)
    outage.down = True
    for _ in range(5):
        recorder.finish(recorder.start(REF), 200)
    with caplog.at_level(logging.WARNING, logger="epmgr.client.recorder"):
        for _ in range(10):  # ten flushes within a minute: one warning
            recorder.flush()
            clock.advance(timedelta(seconds=5))
        assert recorder.queued == 5 and recorder.dropped == 0
        assert len(caplog.records) == 1 and "the ledger is unavailable" in caplog.records[0].getMessage()
        clock.advance(timedelta(minutes=1))
        recorder.flush()
        assert len(caplog.records) == 2  # still down a minute later: said again
        outage.down = False
        recorder.flush()
        assert "the ledger is back" in caplog.records[-1].getMessage()
    assert recorder.queued == 0 and ledger.count_requests(REF) == 5
    recorder.close()


def test_records_too_old_are_dropped_and_counted(ledger: Ledger, caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock(T0)
    outage, recorder = outage_recorder(ledger, clock)
    running = recorder.start(REF)  # its in-flight row is written while the ledger works
    recorder.flush()
    outage.down = True
    recorder.finish(running, 200)  # its finish waits
    for _ in range(3):
        recorder.finish(recorder.start(REF), 200)
    recorder.flush()
    assert recorder.queued == 4
    clock.advance(timedelta(minutes=11))
    with caplog.at_level(logging.WARNING, logger="epmgr.client.recorder"):
        recorder.flush()
    assert recorder.queued == 0 and recorder.dropped == 4
    assert "4 dropped" in caplog.records[-1].getMessage()
    recorder.start(REF)
    recorder.close()  # still down at exit: dropped, counted, said
    assert recorder.dropped == 5
    assert ledger.count_requests(REF) == 1


def test_the_queue_is_bounded_while_the_ledger_is_down(ledger: Ledger) -> None:
    clock = FakeClock(T0)
    outage, recorder = outage_recorder(ledger, clock)
    recorder.max_queued = 100
    outage.down = True
    for _ in range(250):
        recorder.finish(recorder.start(REF), 200)
    recorder.flush()
    assert recorder.queued == 100 and recorder.dropped == 150
    outage.down = False
    recorder.flush()
    assert ledger.count_requests(REF) == 100
    recorder.close()


class StalledOutage(Outage):
    """An outage whose failing write waits for ``release``: a flush caught in the middle of its write."""

    def __init__(self, ledger: Ledger) -> None:
        super().__init__(ledger)
        self.writing = threading.Event()
        self.release = threading.Event()

    def write_requests(self, records: Sequence[RequestRecord]) -> list[int | None]:
        self.writing.set()
        assert self.release.wait(10)
        return super().write_requests(records)


def test_records_in_a_flush_under_way_are_still_counted_as_queued(ledger: Ledger) -> None:
    outage = StalledOutage(ledger)
    outage.down = True
    recorder = ActivityRecorder(outage, interval=3600, clock=FakeClock(T0))  # type: ignore[arg-type]
    for _ in range(3):
        recorder.finish(recorder.start(REF), 200)
    flushing = threading.Thread(target=recorder.flush)
    flushing.start()
    assert outage.writing.wait(10)
    assert recorder.queued == 3  # taken by the stalled flush, not yet written
    recorder.start(REF)
    assert recorder.queued == 4
    outage.release.set()
    flushing.join(10)
    assert recorder.queued == 4 and recorder.dropped == 0  # the failed write put them back
    outage.down = False
    recorder.flush()
    assert recorder.queued == 0  # the request still running has its in-flight row
    recorder.close()
    assert ledger.count_requests(REF) == 4


def test_an_endpoint_serves_while_the_ledger_is_down(world: World) -> None:
    world.create("ep", EndpointState.RUNNING)
    ledger = world.ledger()
    outage = Outage(ledger)
    recorder = ActivityRecorder(outage, interval=0.05)  # type: ignore[arg-type]
    outage.down = True
    with EndpointClient("ep", recorder=recorder) as client:
        for i in range(3):
            assert client.text_generation(f"q{i}", max_new_tokens=2) == f"echo: q{i}"
        assert recorder.queued == 3
        outage.down = False
        recorder.flush()
    recorder.close()
    assert ledger.count_requests(EndpointRef("demo", "ep")) == 3
    ledger.close()
