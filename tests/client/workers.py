"""Work done in child processes by the single-flight test (importable by spawn)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor


def call_many(name: str, callers: int) -> list[str]:
    """``callers`` threads of one process each ask the same endpoint once."""
    from epmgr.client import EndpointClient

    with EndpointClient(name, wake_timeout=60) as client, ThreadPoolExecutor(callers) as pool:
        return list(pool.map(lambda i: client.text_generation(f"caller {i}", max_new_tokens=4), range(callers)))
