"""Switches for what Hugging Face does not document: each default is the most hostile plausible behaviour.

Every switch is listed, with what would settle it, under "Assumed" in docs/emulator.md.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

QUOTA_STATUSES = (400, 402, 403, 409, 429)
WHILE_UPDATING = ("503", "serve")
DELETED_URL = ("503", "404")
REDACTED_UPDATE = ("overwrite", "keep")
COMPRESS = ("gzip", "off")


@dataclass(frozen=True)
class Behaviour:
    """Undocumented behaviours of the real service, as switches.

    Args:
        list_page_size: Endpoints per page of ``GET /v2/endpoint/{ns}`` without ``limit`` (the OpenAPI spec says
            20; huggingface_hub reads only the first page); ``None`` returns everything.
        quota_status: HTTP status of a quota refusal (the body is always ``{"error": "Quota exceeded ..."}``).
        while_updating: Inference during ``updating``: ``"503"`` (no replica serves) or ``"serve"`` (the old
            replica keeps serving).
        deleted_url: What a deleted endpoint's URL answers: ``"503"`` (looks like a cold start to a caller) or
            ``"404"``.
        redacted_update: A PUT that sends back the redaction placeholder of a secret or registry password:
            ``"overwrite"`` stores the placeholder (what huggingface_hub's comments say the real API does), ``"keep"``
            keeps the stored value.
        compress: An endpoint's whole (not streamed) answers to a request that accepts gzip: ``"gzip"``
            compressed (as a gateway in front of the model server may do), ``"off"`` as the server wrote them.
    """

    list_page_size: int | None = 20
    quota_status: int = 400
    while_updating: str = "503"
    deleted_url: str = "503"
    redacted_update: str = "overwrite"
    compress: str = "gzip"

    def __post_init__(self) -> None:
        if self.list_page_size is not None and (not isinstance(self.list_page_size, int) or self.list_page_size < 1):
            raise ValueError("list_page_size must be a whole number >= 1, or null for no paging")
        for name, allowed in (
            ("quota_status", QUOTA_STATUSES),
            ("while_updating", WHILE_UPDATING),
            ("deleted_url", DELETED_URL),
            ("redacted_update", REDACTED_UPDATE),
            ("compress", COMPRESS),
        ):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(map(str, allowed))}")

    @classmethod
    def from_json(cls, data: Any) -> Behaviour:
        """Build from the body of ``PUT /_emulator/behaviour`` (missing keys take their defaults)."""
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        if unknown := set(data) - set(asdict(cls())):
            raise ValueError(f"unknown keys: {', '.join(sorted(unknown))}")
        return cls(**data)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
