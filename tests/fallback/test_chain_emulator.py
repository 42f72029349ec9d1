"""The chain against the emulator over HTTP at real HF timings on an accelerated clock: the router answers while
the primary wakes in the background, one resume is made, and the primary serves again once ready."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from epmgr.domain.model import EndpointRef, EndpointState
from epmgr.emulator import DEMO_USER
from epmgr.fallback import FallbackClient
from tests.realtime.conftest import Hf

PHI3 = "serverless:microsoft/Phi-3-mini-4k-instruct"
CHAT = [{"role": "user", "content": "hello there"}]


def resumes(hf: Hf) -> int:
    counts = hf.server.requests.counts()
    return sum(n for key, n in counts.items() if key.startswith("POST /v2/endpoint/") and key.endswith("/resume"))


def test_a_paused_primary_is_woken_once_while_the_router_answers(hf: Hf) -> None:
    hf.create("fb-chat", EndpointState.PAUSED)
    with FallbackClient("fb-chat", fallback=[PHI3], router=hf.server.url, clock=hf.clock) as client:
        with ThreadPoolExecutor(10) as pool:
            answers = list(pool.map(lambda _: client.chat_completion(CHAT, max_tokens=8), range(20)))
        assert {a.served_by for a in answers} == {PHI3}
        assert answers[0].choices[0].message.content == "echo: hello there"
        client.wait_for_wake()
        after = client.chat_completion(CHAT, max_tokens=8)
        assert after.served_by == "primary"
        assert hf.api.get("fb-chat").state == EndpointState.RUNNING
    assert resumes(hf) == 1
    ledger = hf.ledger()
    rows = ledger.requests(EndpointRef(DEMO_USER, "fb-chat"))
    ledger.close()
    assert sum(1 for r in rows if r.served_by == PHI3) == 20
