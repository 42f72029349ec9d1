"""`epmgr proxy`: a local reverse proxy that wakes endpoints for any HTTP client."""

from __future__ import annotations

import click

from epmgr.cli.context import AppContext


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address; off loopback needs --api-key.")
@click.option("--port", default=8766, show_default=True, type=int, help="TCP port.")
@click.option("--api-key", envvar="EPMGR_PROXY_API_KEY", help="Required as 'Authorization: Bearer KEY' when set.")
@click.option("--queue", default=64, show_default=True, type=int, help="Requests held or in flight per endpoint.")
@click.option("--wake-timeout", default=600.0, show_default=True, type=float, help="Seconds a request may wait.")
@click.pass_obj
def proxy(app: AppContext, host: str, port: int, api_key: str | None, queue: int, wake_timeout: float) -> None:
    """Serve /ENDPOINT/... for any HTTP client, waking the endpoint on demand.

    OpenAI paths (/ENDPOINT/v1/chat/completions) and TGI paths (/ENDPOINT, /ENDPOINT/generate,
    /ENDPOINT/generate_stream) pass through, streams unbuffered; requests wait while the endpoint wakes.

    \b
    Example:
        epmgr proxy --port 8766 &
        curl -s localhost:8766/phi3-mini/v1/chat/completions -H 'content-type: application/json' \\
             -d '{"model": "tgi", "messages": [{"role": "user", "content": "Hi"}]}'
    """
    from epmgr.proxy.app import ProxyConfig
    from epmgr.proxy.server import serve

    settings = app.settings()
    config = ProxyConfig(queue=queue, wake_timeout=wake_timeout, api_key=api_key, namespace=settings.namespace)
    click.echo(f"epmgr proxy: http://{host}:{port}/<endpoint>/... (namespace {settings.namespace})", err=True)
    serve(config, host=host, port=port)
