"""A client's parts for one endpoint, wired lazily: building them does no I/O, the first request does the rest.

:func:`build_parts` checks the name and options and reads the configuration (a bad name or a name without a
token is a ConfigError at once). :meth:`ClientParts.prepare`, run by the first request, then builds the
management API, opens the ledger (through the :class:`~epmgr.client.runtime.Runtime`) and, for a URL, matches
it to its endpoint (once per process: one list call); a failure there is that request's error.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from epmgr import names
from epmgr.client.coordinator import InProcessCoordinator, LedgerCoordinator, WakeCoordinator
from epmgr.client.recorder import ActivityRecorder
from epmgr.client.runtime import Runtime, default_runtime
from epmgr.client.waker import Waker
from epmgr.clock import Clock, SystemClock
from epmgr.domain.model import Actor, EndpointRef, EndpointSnapshot, EndpointState
from epmgr.domain.wake import wake_timeout as wake_timeout_of
from epmgr.errors import ApiUnavailable, ConfigError
from epmgr.ports import EndpointsAPI

if TYPE_CHECKING:
    from epmgr.config import Settings
    from epmgr.ledger import Ledger


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


def match_url(api: EndpointsAPI, url: str) -> tuple[EndpointRef, EndpointSnapshot | None] | None:
    """The endpoint of the namespace serving ``url`` (one list call), and its snapshot.

    A paused endpoint shows no URL: it is found from the URLs remembered on this machine, else as the
    namespace's only endpoint without a URL.
    """
    wanted = url.rstrip("/")
    listed = api.list_endpoints()
    remember_urls({s.url: s.ref for s in listed if s.url})
    for snapshot in listed:
        if snapshot.url and snapshot.url.rstrip("/") == wanted:
            return snapshot.ref, snapshot
    recalled = recall_url(wanted)
    if recalled is not None and recalled.namespace == api.namespace:
        return recalled, next((s for s in listed if s.ref == recalled), None)
    urlless = [s for s in listed if not s.url and s.state == EndpointState.PAUSED]
    return (urlless[0].ref, urlless[0]) if len(urlless) == 1 else None


@dataclass
class ClientParts:
    """What a client (or transport, or the proxy) needs for one endpoint; :meth:`prepare` completes it."""

    waker: Waker
    token: str | None
    runtime: Runtime
    recorder: ActivityRecorder | None = None
    client_id: str = "client"
    record: bool = True
    make_api: Callable[[], EndpointsAPI | None] = lambda: None
    make_coordinator: Callable[[], WakeCoordinator | None] = lambda: None
    make_recorder: Callable[[], ActivityRecorder | None] = lambda: None
    name: str | None = None  # given by name: its namespace may come from the API
    url_given: str | None = None
    prepared: bool = False
    first_state: EndpointState | None = None  # the state the first look showed (a cold start if sleeping)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def ref(self) -> EndpointRef | None:
        return self.waker.ref

    def prepare(self) -> None:
        """Build the API, the ledger's coordinator and recorder, and find the URL or the endpoint (once)."""
        if self.prepared:
            return
        with self._lock:
            if self.prepared:
                return
            waker = self.waker
            api = waker.api or self.make_api()
            snapshot: EndpointSnapshot | None = None
            if waker.ref is None and api is not None and self.name is not None:
                waker.ref = EndpointRef(api.namespace, self.name)
            elif waker.ref is None and api is not None and self.url_given is not None:
                ref = self.runtime.match(api.namespace, self.url_given)
                if ref is None:
                    found = match_url(api, self.url_given)
                    if found is not None:
                        ref, snapshot = found
                        self.runtime.remember(api.namespace, self.url_given, ref)
                waker.ref = ref
            if waker.ref is not None and api is not None:
                waker.api = api
                if waker.url is None and snapshot is None:
                    try:
                        snapshot = api.get(waker.ref.name)
                    except ApiUnavailable:  # the wake asks again, up to its deadline
                        snapshot = None
                coordinator = self.make_coordinator()
                if coordinator is not None:
                    waker.coordinator = coordinator
                if self.record and self.recorder is None:
                    self.recorder = self.make_recorder()
            if snapshot is not None:
                waker.learn(snapshot)
                self.first_state = snapshot.state
                if snapshot.url:
                    remember_urls({snapshot.url: snapshot.ref})
            self.prepared = True

    def url(self) -> str | None:
        """The endpoint's URL (None while it is paused and was never seen running)."""
        self.prepare()
        return self.waker.url

    def close(self) -> None:
        if self.recorder is not None:
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
    coordinator: WakeCoordinator | None = None,
    recorder: ActivityRecorder | None = None,
    runtime: Runtime | None = None,
    record: bool = True,
    wake_timeout: float = 600.0,
    clock: Clock | None = None,
    client_id: str = "client",
    actor: Actor = Actor.CLIENT,
    **unknown: Any,
) -> ClientParts:
    """Check an endpoint given by name or URL and the options, and wire the parts lazily (no I/O).

    A name needs a token (to find its URL and resume it). A URL is matched against the namespace's endpoints by
    the first request when a token is known, so it is woken and recorded like a name; otherwise only its health
    route and a held request wake it, and its requests are not recorded.

    Raises:
        ConfigError: Neither an endpoint nor a URL, a bad name or option, or a name without a token.
    """
    if unknown:
        raise ConfigError(f"unknown client option(s): {', '.join(sorted(unknown))}", key="options")
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
    if settings is None and (api is None or (ledger is None and coordinator is None) or token is None):
        from epmgr.config import load_settings

        settings = load_settings(None, env=os.environ, namespace=namespace)
    token = token or (settings.token if settings else None)
    space = namespace or (settings.namespace if settings else None) or (api.namespace if api else None)
    if endpoint and api is None and not token:
        raise ConfigError(
            f"endpoint {endpoint!r} given by name needs an HF token: set HF_TOKEN or run `hf auth login`",
            key="HF_TOKEN",
            source="environment",
        )
    clock = clock or SystemClock()
    runtime = runtime or default_runtime()
    db_url = settings.db_url if settings is not None else None

    def make_api() -> EndpointsAPI | None:
        if api is not None or not token or settings is None or not (endpoint or space):
            return api
        from epmgr.adapters.hf import HfEndpointsAPI

        return HfEndpointsAPI(token=token, namespace=space, api_url=settings.hf_api_url)

    def make_coordinator() -> WakeCoordinator:
        if coordinator is not None:
            return coordinator
        chosen = ledger or (runtime.ledger(db_url) if db_url else None)
        return LedgerCoordinator(chosen, clock, actor) if chosen is not None else InProcessCoordinator()

    def make_recorder() -> ActivityRecorder | None:
        if recorder is not None:
            return recorder
        if ledger is not None:
            return ActivityRecorder(ledger, client_id=client_id, clock=clock)
        return runtime.recorder(db_url, clock) if db_url else None

    ref = EndpointRef(space, endpoint) if endpoint and space else None
    waker = Waker(ref, url=url, token=token, timeout=timeout, clock=clock, flights=runtime.flights)
    return ClientParts(
        waker,
        token,
        runtime,
        client_id=client_id,
        record=record,
        make_api=make_api,
        make_coordinator=make_coordinator,
        make_recorder=make_recorder,
        name=endpoint,
        url_given=url,
    )


def close_shared_ledgers() -> None:
    """Flush and close the default runtime's recorders and ledgers (tests; processes switching databases)."""
    default_runtime().close()
