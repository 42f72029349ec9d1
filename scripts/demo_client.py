"""Demo chapter: the auto-wake client. A LangChain chain and the openai SDK (through `epmgr proxy`) each get an
answer from endpoints that start paused or scaled to zero."""

from __future__ import annotations

import os
from collections.abc import Callable


def chapter(env: dict[str, str], run: Callable[..., str], say: Callable[[str], None]) -> None:
    from epmgr.client import EndpointClient
    from epmgr.proxy import ProxyConfig, ProxyServer

    saved = dict(os.environ)
    os.environ.update(env)
    try:
        say("Auto-wake: a LangChain chain calls a scaled-to-zero endpoint (only the import changed)")
        run("create", "chat-demo", "--repo", "openai-community/gpt2", "--vendor", "aws", "--region", "us-east-1",
            "--accelerator", "cpu", "--instance-type", "intel-spr", "--instance-size", "x1", "--task",
            "text-generation", "--wait", env=env)  # fmt: skip
        with EndpointClient("chat-demo", record=False) as client:
            url = client.url
        run("scale-to-zero", "chat-demo", env=env)
        from langchain_core.prompts import PromptTemplate

        from epmgr.langchain import HuggingFaceEndpoint

        llm = HuggingFaceEndpoint(  # type: ignore[call-arg]
            endpoint_url=url, max_new_tokens=512, temperature=0.01, task="text-generation"
        )
        chain = PromptTemplate.from_template("Question: {question}") | llm
        print(f"  chain.invoke(...) -> {chain.invoke({'question': 'who woke me?'})!r}")
        llm.client.close()

        say("Auto-wake: the openai SDK through `epmgr proxy` calls a paused endpoint")
        run("pause", "chat-demo", "--reason", "demo", env=env)
        from openai import OpenAI

        with ProxyServer(ProxyConfig()) as proxy:
            print(f"$ epmgr proxy &   # {proxy.url}")
            sdk = OpenAI(base_url=f"{proxy.url}/chat-demo/v1", api_key="unused", max_retries=0)
            raw = sdk.chat.completions.with_raw_response.create(
                model="tgi", messages=[{"role": "user", "content": "Hello from the openai SDK"}]
            )
            print(f"  X-Epmgr-Cold-Start: {raw.headers['x-epmgr-cold-start']}")
            print(f"  answer: {raw.parse().choices[0].message.content!r}")
            sdk.close()
        run("list", env=env)
    finally:
        os.environ.clear()
        os.environ.update(saved)
