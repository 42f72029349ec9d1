"""`epmgr proxy`: a local reverse proxy that wakes endpoints for any HTTP client."""

from __future__ import annotations

import click

from epmgr.cli.context import AppContext
from epmgr.errors import ConfigError


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address; off loopback needs --api-key.")
@click.option("--port", default=8766, show_default=True, type=int, help="TCP port.")
@click.option("--api-key", envvar="EPMGR_PROXY_API_KEY", help="Required as 'Authorization: Bearer KEY' when set.")
@click.option("--queue", default=64, show_default=True, type=int, help="Requests held or in flight per endpoint.")
@click.option("--wake-timeout", default=600.0, show_default=True, type=float, help="Seconds a request may wait.")
@click.option(
    "--max-body", default=32 * 1024 * 1024, show_default=True, type=int, help="Largest request body in bytes (413)."
)
@click.pass_obj
def proxy(
    app: AppContext, host: str, port: int, api_key: str | None, queue: int, wake_timeout: float, max_body: int
) -> None:
    """Serve /ENDPOINT/... for any HTTP client, waking the endpoint on demand.

    OpenAI paths (/ENDPOINT/v1/chat/completions) and TGI paths (/ENDPOINT, /ENDPOINT/generate,
    /ENDPOINT/generate_stream) pass through, streams unbuffered; requests wait while the endpoint wakes.
    Inference only: GET and POST, paths under the endpoint's URL, bodies up to --max-body.

    \b
    Example:
        epmgr proxy --port 8766 &
        curl -s localhost:8766/phi3-mini/v1/chat/completions -H 'content-type: application/json' \\
             -d '{"model": "tgi", "messages": [{"role": "user", "content": "Hi"}]}'
    """
    from epmgr.domain.wake import wake_timeout as check_wake_timeout
    from epmgr.proxy.app import ProxyConfig
    from epmgr.proxy.server import check_port, serve

    check_port(port)
    try:
        check_wake_timeout(wake_timeout)
    except ValueError as exc:
        raise ConfigError(str(exc), key="--wake-timeout", source="command line") from None
    if max_body < 1 or queue < 0:
        raise ConfigError("--max-body must be at least 1 and --queue at least 0", source="command line")
    settings = app.settings()
    config = ProxyConfig(
        queue=queue, wake_timeout=wake_timeout, api_key=api_key, namespace=settings.namespace, max_body=max_body
    )

    def announce(url: str) -> None:
        click.echo(f"epmgr proxy: {url}/<endpoint>/... (namespace {settings.namespace})", err=True)

    serve(config, host=host, port=port, announce=announce)
