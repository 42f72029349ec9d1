"""Building a client's parts from the same configuration and environment as the CLI."""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from epmgr import names
from epmgr.adapters.hf import HfEndpointsAPI
from epmgr.client.recorder import ActivityRecorder
from epmgr.client.waker import Waker
from epmgr.clock import Clock, SystemClock
from epmgr.config import Settings, load_settings
from epmgr.domain.model import Actor, EndpointRef
from epmgr.domain.wake import wake_timeout as wake_timeout_of
from epmgr.errors import ApiUnavailable, ConfigError, SchemaOutdated
from epmgr.ledger import Ledger, open_ledger
from epmgr.ports import EndpointsAPI

URL_RECHECK_S = 2.0  # a paused endpoint's missing URL is asked again only after this
_LEDGERS: dict[str, Ledger] = {}
_LEDGERS_LOCK = threading.Lock()


def shared_ledger(url: str) -> Ledger:
    """One ledger (one engine, migrated once) per database URL per process, shared by every client."""
    with _LEDGERS_LOCK:
        ledger = _LEDGERS.get(url)
        if ledger is None:
            try:  # most clients find it current: checking takes no write lock (8 processes start at once)
                ledger = open_ledger(url, upgrade=False)
            except SchemaOutdated:
                ledger = open_ledger(url)
            _LEDGERS[url] = ledger
        return ledger


def url_memory_path() -> Path:
    """Where endpoint URLs seen running are remembered (``EPMGR_URL_CACHE``, else the user cache directory)."""
    configured = os.environ.get("EPMGR_URL_CACHE")
    if configured:
        return Path(configured)
    import platformdirs

    return Path(platformdirs.user_cache_dir("epmgr")) / "endpoint-urls.json"


def remember_urls(pairs: dict[str, EndpointRef]) -> None:
    """Remember which endpoint a URL belongs to: a paused endpoint has no URL in the API, so a client given only
    the URL could not find it to resume it (best effort: an unwritable cache is ignored)."""
    if not pairs:
        return
    path = url_memory_path()
    known = _recall_all(path)
    update = {url.rstrip("/"): str(ref) for url, ref in pairs.items()}
    if all(known.get(url) == ref for url, ref in update.items()):
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({**known, **update}, indent=0, sort_keys=True))
        tmp.replace(path)
    except OSError:
        pass


def _recall_all(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def recall_url(url: str) -> EndpointRef | None:
    """The endpoint a URL was last seen to belong to, if any."""
    found = _recall_all(url_memory_path()).get(url.rstrip("/"))
    if not found or "/" not in found:
        return None
    namespace, name = found.split("/", 1)
    return EndpointRef(namespace, name)


def is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


@dataclass
class ClientParts:
    """What a client (or transport, or the proxy) needs for one endpoint."""

    waker: Waker
    recorder: ActivityRecorder | None
    token: str | None
    api: EndpointsAPI | None
    ledger: Ledger | None
    owns_recorder: bool = True
    _asked_at: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def ref(self) -> EndpointRef | None:
        return self.waker.ref

    def resolve_url(self) -> str | None:
        """The endpoint's URL, asking the API once if it is not known yet (None while paused).

        Concurrent callers ask once: the others get None and join the wake (which learns the URL).
        """
        if self.waker.url is not None or self.api is None or self.waker.ref is None:
            return self.waker.url
        with self._lock:
            if self._asked_at is not None and time.monotonic() - self._asked_at < URL_RECHECK_S:
                return self.waker.url
            self._asked_at = time.monotonic()
            try:
                snapshot = self.api.get(self.waker.ref.name)
            except ApiUnavailable:  # the wake asks again (and outlives an API outage up to its deadline)
                return self.waker.url
            if snapshot.url:
                self.waker.url = snapshot.url.rstrip("/")
                remember_urls({snapshot.url: snapshot.ref})
            self.waker.health_route = snapshot.health_route or self.waker.health_route
            return self.waker.url

    def close(self) -> None:
        if self.recorder is not None and self.owns_recorder:
            self.recorder.close()
        elif self.recorder is not None:
            self.recorder.flush()
        self.waker.close()


def build_parts(
    endpoint: str | None,
    *,
    namespace: str | None = None,
    url: str | None = None,
    token: str | None = None,
    settings: Settings | None = None,
    api: EndpointsAPI | None = None,
    ledger: Ledger | None = None,
    recorder: ActivityRecorder | None = None,
    record: bool = True,
    wake_timeout: float = 600.0,
    clock: Clock | None = None,
    client_id: str = "client",
    actor: Actor = Actor.CLIENT,
) -> ClientParts:
    """Resolve an endpoint given by name or URL into a waker and a recorder.

    A name needs a token (to find its URL and resume it). A URL is matched against the namespace's endpoints
    when a token is known (one list call), so it is woken and recorded like a name; otherwise only its cold
    starts are ridden out and its requests are not recorded (the ledger has no endpoint to put them under).

    Raises:
        ConfigError: Neither an endpoint nor a URL, or a name without a token.
    """
    if endpoint and is_url(endpoint):
        endpoint, url = None, endpoint
    if not endpoint and not url:
        raise ConfigError("give an endpoint name or URL (e.g. EndpointClient('phi3-mini'))", key="endpoint")
    if endpoint:  # checked before any I/O: a name goes into API paths, ledger rows and audit lines
        given_namespace, endpoint = names.endpoint_ref(endpoint)
        namespace = namespace or given_namespace
    if namespace is not None:
        namespace = names.namespace(namespace)
    try:
        timeout = wake_timeout_of(wake_timeout)
    except ValueError as exc:
        raise ConfigError(str(exc), key="wake_timeout") from None
    if settings is None and (api is None or ledger is None or token is None):
        settings = load_settings(None, env=os.environ, namespace=namespace)
    token = token or (settings.token if settings else None)
    if api is None and token and settings is not None and (endpoint or settings.namespace):
        api = HfEndpointsAPI(token=token, namespace=namespace or settings.namespace, api_url=settings.hf_api_url)
    if endpoint and api is None:
        raise ConfigError(
            f"endpoint {endpoint!r} given by name needs an HF token: set HF_TOKEN or run `hf auth login`",
            key="HF_TOKEN",
            source="environment",
        )
    ref: EndpointRef | None = None
    health_route = "/health"
    if endpoint and api is not None:
        ref = EndpointRef(api.namespace, endpoint)
    elif url and api is not None:
        wanted = url.rstrip("/")
        listed = api.list_endpoints()
        remember_urls({s.url: s.ref for s in listed if s.url})
        for snapshot in listed:
            if snapshot.url and snapshot.url.rstrip("/") == wanted:
                ref, health_route = snapshot.ref, snapshot.health_route
                break
        else:
            ref = recall_url(wanted)
            if ref is not None and ref.namespace != api.namespace:
                ref = None
    if ref is not None and ledger is None and settings is not None:
        ledger = shared_ledger(settings.db_url)
    clock = clock or SystemClock()
    waker = Waker(
        ref,
        api=api if ref is not None else None,
        ledger=ledger if ref is not None else None,
        url=url,
        token=token,
        timeout=timeout,
        health_route=health_route,
        clock=clock,
        actor=actor,
    )
    owns = recorder is None
    if recorder is None and record and ref is not None and ledger is not None:
        recorder = ActivityRecorder(ledger, client_id=client_id, clock=clock)
    return ClientParts(waker, recorder if record else None, token, api, ledger, owns_recorder=owns)


def close_shared_ledgers() -> None:
    """Dispose of the ledgers :func:`shared_ledger` opened (tests; long-lived processes switching databases)."""
    with _LEDGERS_LOCK:
        for ledger in _LEDGERS.values():
            ledger.close()
        _LEDGERS.clear()
