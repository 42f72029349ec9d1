"""Demo chapter: a small RAG chain over two sleeping endpoints. The embeddings endpoint (TEI) is scaled to zero and
the LLM endpoint paused; one question wakes both, and both calls are in the ledger."""

from __future__ import annotations

import os
from collections.abc import Callable

DOCUMENTS = [
    "A paused endpoint costs nothing and must be resumed before it serves again.",
    "A scaled-to-zero endpoint costs nothing and wakes on its next request, after a cold start.",
    "epmgr records every request and every state change in its ledger.",
]
QUESTION = "What does a paused endpoint cost?"
CPU = ("--vendor", "aws", "--region", "us-east-1", "--accelerator", "cpu", "--instance-type", "intel-spr",
       "--instance-size", "x1")  # fmt: skip


def chapter(env: dict[str, str], run: Callable[..., str], say: Callable[[str], None]) -> None:
    from epmgr.client import EndpointClient

    saved = dict(os.environ)
    os.environ.update(env)
    try:
        say("RAG: an embeddings endpoint (TEI) and an LLM endpoint, one scaled to zero, one paused")
        run("create", "rag-embed", "--repo", "BAAI/bge-small-en-v1.5", *CPU, "--task", "feature-extraction",
            "--min-replica", "0", env=env)  # fmt: skip
        run("create", "rag-llm", "--repo", "openai-community/gpt2", *CPU, "--task", "text-generation",
            "--wait", env=env)  # fmt: skip
        # rag-embed was created first: it runs by now
        with EndpointClient("rag-llm", record=False) as client:
            llm_url = client.url  # LangChain's HuggingFaceEndpoint takes a URL (a paused endpoint shows none)
        run("scale-to-zero", "rag-embed", env=env)
        run("pause", "rag-llm", "--reason", "demo", env=env)

        from langchain_core.documents import Document
        from langchain_core.prompts import PromptTemplate
        from langchain_core.runnables import RunnablePassthrough
        from langchain_core.vectorstores import InMemoryVectorStore

        from epmgr.langchain import HuggingFaceEndpoint, HuggingFaceEndpointEmbeddings

        embeddings = HuggingFaceEndpointEmbeddings(model="rag-embed")  # wakes the scaled-to-zero TEI endpoint
        store = InMemoryVectorStore.from_documents([Document(d) for d in DOCUMENTS], embeddings)
        llm = HuggingFaceEndpoint(  # type: ignore[call-arg]  # resumes the paused LLM endpoint
            endpoint_url=llm_url, max_new_tokens=64, temperature=0.01, task="text-generation"
        )
        prompt = PromptTemplate.from_template("Context: {context} Question: {question}")
        retrieve = store.as_retriever(search_kwargs={"k": 1}) | (lambda docs: docs[0].page_content)
        chain = {"context": retrieve, "question": RunnablePassthrough()} | prompt | llm
        print(f"  > {QUESTION}\n  < {chain.invoke(QUESTION)}")
        print("  (the emulator's model echoes its prompt: the retrieved context is the one about paused endpoints)")
        llm.client.close()
        embeddings.close()
        run("list", env=env)
    finally:
        os.environ.clear()
        os.environ.update(saved)
