"""The home page of a running Tidings: what it is, what is configured, where to go next."""

from __future__ import annotations

from html import escape

from litestar import MediaType, get
from litestar.di import NamedDependency

from host import __version__
from host.runtime.wiring import Runtime

__all__ = ["home"]


@get("/", media_type=MediaType.HTML, include_in_schema=False)
async def home(runtime: NamedDependency[Runtime]) -> str:
    """A plain page listing the active channels and recent activity, with links to the API."""
    dispatches = await runtime.dispatches.total()
    templates = await runtime.templates.total()
    channels = "".join(f"<li>{escape(name)}</li>" for name in runtime.registry)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tidings</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem}}
code{{background:#f3f3f3;padding:0 .25rem}}</style></head>
<body><h1>Tidings {escape(__version__)}</h1>
<p>One API call, every channel: e-mail, SMS, push and voice.</p>
<h2>Active channels</h2><ul>{channels}</ul>
<p>{dispatches} dispatches, {templates} templates stored.</p>
<h2>API</h2>
<ul><li><code>POST /send</code> and <code>POST /saga/send</code> (Mia Messaging Service compatible)</li>
<li><code>GET /dispatches/{{id}}</code>: status of a dispatch</li>
<li><a href="/schema">OpenAPI document</a> (<a href="/schema/openapi.json">JSON</a>)</li>
<li><a href="/-/healthz">/-/healthz</a> and <a href="/-/ready">/-/ready</a></li></ul>
</body></html>"""
