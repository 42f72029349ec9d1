"""The one exception tree of epmgr.

Every error epmgr raises on purpose is an :class:`EpmgrError`; failures of the libraries underneath
(huggingface_hub, httpx, SQLAlchemy) are translated at the boundary where they happen::

    EpmgrError
    ├── ConfigError(ValueError)          bad configuration file, key or value; names file, line and key
    ├── EndpointNotFound(LookupError)    no such endpoint (or namespace)
    ├── ApiError                         the HF API (or the emulator) refused or failed
    │   ├── AuthError(PermissionError)   401/403: wrong or missing token; never retried
    │   ├── ConflictError                409: the name is taken
    │   ├── BadRequest(ValueError)       400: the server's own message is kept
    │   ├── QuotaExceeded                a start or growth past the namespace's quota; never retried
    │   └── ApiUnavailable(ConnectionError)  429/5xx, network errors, timeouts (retried first)
    ├── WakeError                        the endpoint could not be made ready to serve
    │   ├── WakeTimeout(TimeoutError)    it did not become ready in time
    │   ├── EndpointFailed               it is in a failed state and needs a person
    │   └── BudgetExceeded               waking it is refused by a budget
    └── LedgerError                      the ledger database is unusable
        ├── SchemaOutdated               the ledger needs `epmgr db upgrade`
        └── SchemaTooNew                 a newer epmgr migrated the ledger: upgrade epmgr

Each carries the ``endpoint`` it concerns, where there is one.
"""

from __future__ import annotations


class EpmgrError(Exception):
    """Root of every error epmgr raises on purpose.

    Args:
        message: What went wrong, in one line a person can act on.
        endpoint: The endpoint concerned ("namespace/name" or "name"), if any.
    """

    exit_code = 1

    def __init__(self, message: str, *, endpoint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.endpoint = endpoint

    def __str__(self) -> str:
        return self.message


class ConfigError(EpmgrError, ValueError):
    """The configuration (file, environment or command-line value) is invalid.

    Args:
        message: What is wrong and what is expected.
        source: The file (or "environment", "command line") the value came from.
        line: The 1-based line in ``source`` where the value stands, when known.
        key: The dotted key of the value, e.g. ``endpoints[0].budget.daily_usd``.
    """

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        line: int | None = None,
        key: str | None = None,
        endpoint: str | None = None,
    ) -> None:
        where = source or ""
        if source and line:
            where = f"{source}:{line}"
        prefix = ": ".join(part for part in (where, key) if part)
        super().__init__(f"{prefix}: {message}" if prefix else message, endpoint=endpoint)
        self.source = source
        self.line = line
        self.key = key
        self.detail = message


class EndpointNotFound(EpmgrError, LookupError):
    """The endpoint (or its namespace) does not exist."""


class ApiError(EpmgrError):
    """The HF endpoints API refused or failed a call.

    Args:
        status_code: The HTTP status, when there was a response.
    """

    def __init__(self, message: str, *, endpoint: str | None = None, status_code: int | None = None) -> None:
        super().__init__(message, endpoint=endpoint)
        self.status_code = status_code


class AuthError(ApiError, PermissionError):
    """The token is missing, wrong, or not allowed in that namespace (401/403)."""


class ConflictError(ApiError):
    """The request conflicts with the current state, e.g. the name is taken (409)."""


class BadRequest(ApiError, ValueError):
    """The API rejected the request (400); the message is the server's own."""


class AlreadyRunning(BadRequest):
    """A resume the API refused (400) because the endpoint is already running (asked with ``running_ok=False``)."""


class QuotaExceeded(ApiError):
    """HF refused to create, resume or grow an endpoint past the namespace's quota; retrying will not help.

    Args:
        server_message: The API's own message.
        instance: The compute refused (``vendor/region/type-size``), when known.
        limit: The quota of that instance type, in accelerators, when known.
        used: Accelerators of that type already in use, when known.
        needed: Accelerators the refused call asked for, when known.
    """

    def __init__(
        self,
        message: str,
        *,
        endpoint: str | None = None,
        status_code: int | None = None,
        server_message: str = "",
        instance: str | None = None,
        limit: int | None = None,
        used: int | None = None,
        needed: int | None = None,
    ) -> None:
        super().__init__(message, endpoint=endpoint, status_code=status_code)
        self.server_message = server_message
        self.instance = instance
        self.limit = limit
        self.used = used
        self.needed = needed


class ApiUnavailable(ApiError, ConnectionError):
    """The API is unreachable, rate limited (429), failing (5xx) or timed out."""


class WakeError(EpmgrError):
    """The endpoint could not be made ready to serve."""


class WakeTimeout(WakeError, TimeoutError):
    """The endpoint did not become ready within the allowed time.

    Args:
        last_state: The last state seen.
        waited_s: How long epmgr waited, in seconds.
    """

    def __init__(
        self, message: str, *, endpoint: str | None = None, last_state: str | None = None, waited_s: float | None = None
    ) -> None:
        super().__init__(message, endpoint=endpoint)
        self.last_state = last_state
        self.waited_s = waited_s


class EndpointFailed(WakeError):
    """The endpoint is in a failed state; waking it again will not help."""


class BudgetExceeded(WakeError):
    """A budget policy paused the endpoint; it is not woken until the budget resets or a person overrides."""


class LedgerError(EpmgrError):
    """The ledger database is unusable (unreachable, corrupt, or locked beyond the timeout)."""


class SchemaOutdated(LedgerError):
    """The ledger's schema is older than this epmgr: run `epmgr db upgrade`."""


class SchemaTooNew(LedgerError):
    """The ledger was migrated by a newer epmgr: upgrade epmgr (a ledger is never downgraded)."""
