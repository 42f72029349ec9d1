"""Demo chapter: serve while the endpoint wakes (issue 14). A paused endpoint with a serverless fallback answers at
once from the (emulated) router while it wakes in the background, then serves again itself."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

MODEL = "meta-llama/Llama-3.1-8B-Instruct"


def chapter(env: dict[str, str], run: Callable[..., str], say: Callable[[str], None]) -> None:
    from epmgr.fallback import FallbackClient

    saved = dict(os.environ)
    os.environ.update(env, EPMGR_HF_ROUTER_URL=env["EPMGR_HF_API_URL"])  # the emulator serves the router too
    try:
        say("Fallback: a paused endpoint answers at once from serverless while it wakes in the background")
        run("pause", "llama-8b", "--reason", "demo: cold start ahead", env=env)
        print(f'  FallbackClient("llama-8b", fallback=["serverless:{MODEL}"])')
        chat = [{"role": "user", "content": "Who answers while you wake?"}]
        with FallbackClient("llama-8b", fallback=[f"serverless:{MODEL}"]) as client:
            started = time.monotonic()
            answer = client.chat_completion(chat, max_tokens=16)
            print(f"  served by {answer.served_by} in {time.monotonic() - started:.2f} s: "
                  f"{answer.choices[0].message.content!r}")  # fmt: skip
            client.wait_for_wake()
            answer = client.chat_completion(chat, max_tokens=16)
            print(f"  after the cold start, served by {answer.served_by}: {answer.choices[0].message.content!r}")
    finally:
        os.environ.clear()
        os.environ.update(saved)
