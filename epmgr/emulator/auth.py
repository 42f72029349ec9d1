"""Who may call the emulator: bearer tokens that all belong to one demo user, and the user's organisations."""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from typing import Any

from epmgr.emulator.state import user_ref

DEMO_TOKEN = "hf_epmgr_emulator_demo_token"
"""The token the emulator accepts when no ``--token`` is given (documented, so not a secret)."""

DEMO_USER = "demo"
"""The emulator's user when no ``--user`` is given; also its default namespace."""


class Identity:
    """The accepted tokens, the user they belong to, and the user's organisations.

    Args:
        tokens: Accepted bearer tokens (never logged or echoed).
        user: The user's name, which is also its namespace.
        orgs: Organisations the user belongs to; their namespaces are accessible too.
        unbilled_orgs: Organisations the user belongs to that have no billing set up: listed by whoami, but their
            namespaces answer 401 like a namespace the user cannot use.
    """

    def __init__(
        self, tokens: Iterable[str], user: str, orgs: Iterable[str] = (), unbilled_orgs: Iterable[str] = ()
    ) -> None:
        self._tokens = tuple(tokens)
        if not self._tokens:
            raise ValueError("at least one token is needed")
        self.user = user
        self.orgs = tuple(orgs)
        self.unbilled_orgs = tuple(unbilled_orgs)

    def token_of(self, headers: Mapping[str, str]) -> str | None:
        """The bearer token in an ``Authorization`` header, or ``None``."""
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        return token.strip() or None

    def is_valid(self, token: str | None) -> bool:
        """Whether ``token`` is one of the accepted tokens (compared in constant time)."""
        if token is None:
            return False
        return any(hmac.compare_digest(token.encode(), known.encode()) for known in self._tokens)

    def authenticated(self, headers: Mapping[str, str]) -> bool:
        """Whether the request headers carry an accepted bearer token."""
        return self.is_valid(self.token_of(headers))

    def may_use(self, namespace: str) -> bool:
        """Whether the user may manage endpoints in ``namespace`` (its own or one of its organisations)."""
        return namespace == self.user or namespace in self.orgs

    def whoami(self) -> dict[str, Any]:
        """The ``GET /api/whoami-v2`` answer."""
        return {
            "type": "user",
            "id": user_ref(self.user)["id"],
            "name": self.user,
            "fullname": self.user,
            "isPro": False,
            "orgs": [
                {"type": "org", "name": org, "id": user_ref(org)["id"], "roleInOrg": "admin"}
                for org in (*self.orgs, *self.unbilled_orgs)
            ],
            "auth": {"type": "access_token", "accessToken": {"displayName": "epmgr-emulator", "role": "write"}},
        }
