"""Serve while the endpoint wakes: a fallback chain over serverless, another endpoint, a local model or an
OpenAI-compatible server (issue 14; see docs/fallback.md).

- :class:`FallbackClient`: the dedicated endpoint first; while it sleeps and wakes (in the background), is over
  budget or fails, the first healthy fallback answers at once;
- :mod:`epmgr.fallback.backends`: the backends, each the real thing (huggingface_hub's ``InferenceClient`` for
  the router and OpenAI-compatible servers, epmgr's client for another endpoint, transformers for ``local:``);
- :mod:`epmgr.fallback.pricing`: what the fallbacks cost (a price table with overrides).

The rule of who serves is pure: :mod:`epmgr.domain.fallback`.
"""

from epmgr.fallback.chain import FallbackClient, ServedText

__all__ = ["FallbackClient", "ServedText"]
