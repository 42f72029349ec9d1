"""What the proxy lets through: inference methods, paths confined under the endpoint's URL, bodies up to a limit.

The proxy spends its own HF token for its callers, so a request may only reach the endpoint it names, with a
method inference uses. Each check gives a :class:`Refused` with the 4xx status and a one-line reason.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from urllib.parse import unquote

INFERENCE_METHODS = frozenset({"GET", "POST"})  # POST: generation, chat; GET: health, /info, /v1/models
DEFAULT_MAX_BODY = 32 * 1024 * 1024

_ENCODED = re.compile(r"%(2e|2f|5c|25|00)", re.IGNORECASE)  # encoded '.', '/', '\', '%', NUL: never in inference
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


class Refused(Exception):
    """A request the proxy does not forward.

    Args:
        status: The HTTP status to answer (4xx).
        reason: One line saying what is wrong.
    """

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def check_method(method: str) -> None:
    """405 for a method inference does not use (DELETE, PUT, PATCH, ...)."""
    if method not in INFERENCE_METHODS:
        allowed = ", ".join(sorted(INFERENCE_METHODS))
        raise Refused(405, f"method {method} is not forwarded: the proxy forwards inference only ({allowed})")


def confined_path(raw_path: str) -> str:
    """The path below the endpoint's URL, from the raw request path after ``/{endpoint}`` (still percent-encoded).

    Refuses with 400 anything that could leave the endpoint once joined to its URL: ``.`` or ``..`` segments,
    empty segments (``//``), backslashes, encoded dots, slashes, backslashes or percent signs, control
    characters, and absolute URLs.

    Example:
        >>> confined_path("/v1/chat/completions")
        'v1/chat/completions'
    """
    if _ENCODED.search(raw_path):
        raise Refused(400, f"path {_shown(raw_path)} has an encoded '.', '/', '\\' or '%': not forwarded")
    path = unquote(raw_path)
    if "\\" in path or any(ord(c) < 0x20 or ord(c) == 0x7F for c in path):
        raise Refused(400, f"path {_shown(raw_path)} has a backslash or a control character: not forwarded")
    relative = path[1:] if path.startswith("/") else path
    if _SCHEME.match(relative):
        raise Refused(400, f"path {_shown(raw_path)} is an absolute URL: give a path under the endpoint")
    if not relative:
        return ""
    segments = relative.split("/")
    inner = segments[:-1]  # a trailing slash is fine ("/v1/"), an empty segment inside is not
    if any(s in ("", ".", "..") for s in inner) or segments[-1] in (".", ".."):
        raise Refused(400, f"path {_shown(raw_path)} leaves the endpoint ('..', '.' or '//'): not forwarded")
    return relative


def under(url: str, base: str) -> bool:
    """Whether ``url`` (as it will be sent) is ``base`` or below it (the last check before sending)."""
    base = base.rstrip("/")
    return url == base or url.startswith((base + "/", base + "?"))


def check_length(header: str | None, limit: int) -> None:
    """413 at once when ``Content-Length`` announces more than ``limit`` bytes; 400 when it is not a number."""
    if header is None:
        return
    if not header.strip().isdigit():
        raise Refused(400, f"Content-Length {_shown(header)} is not a number")
    if int(header) > limit:
        raise Refused(413, f"the body ({int(header)} bytes) is over the proxy's limit of {limit} bytes")


async def read_limited(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    """The whole body, read chunk by chunk; 413 as soon as it passes ``limit`` (the rest is never read)."""
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise Refused(413, f"the body is over the proxy's limit of {limit} bytes")
        parts.append(chunk)
    return b"".join(parts)


def _shown(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:60] + "...")
