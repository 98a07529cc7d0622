"""The embeddable support widget (widget.js + widget.css, no build step) and the /demo support page.

    mount_widget(app, settings)     # assistant.main does this: serves /widget.js, /widget.css and /demo

/widget.js is one script made of the parts in WIDGET_PARTS (each a file here, by what it handles), joined in
that order into one function scope, so the page still embeds the widget with one `<script>` tag.

/demo shows the widget for the 'default' site (or ?site_key=pk_... for another site) on a
help-centre page with hostile CSS, so the shadow DOM's isolation is visible. The widget's API
calls are the server's /v1/widget/session, /v1/chat, /v1/conversations (and, after a handoff, its
/messages, polled for an agent's replies), /v1/handoff, /v1/feedback.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from fastapi import FastAPI, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from assistant.engine import sites
from assistant.engine.settings import Settings
from assistant.server.auth import ensure_sites

HERE = Path(__file__).resolve().parent
LANG = re.compile(r"^(auto|en|zh)$")
# The widget's script, in the order its top-level statements must run: options and state, texts, the DOM, the
# server calls, the handoff (agent replies, the e-mail field), the conversation, then the events and mounting.
WIDGET_PARTS = ("setup.js", "strings.js", "view.js", "api.js", "handoff.js", "chat.js", "widget.js")


def widget_script() -> str:
    """/widget.js: the parts in one strict-mode function, so they share its scope and leak nothing to the page."""
    body = "\n".join(f"// ---- {name}\n" + (HERE / name).read_text(encoding="utf-8") for name in WIDGET_PARTS)
    return '(function () {\n"use strict";\n' + body + "})();\n"


def demo_page(company: str, origin: str, site_key: str, lang: str | None = None) -> str:
    extra = f'data-lang="{lang}"' if lang and LANG.match(lang) else ""
    page = (HERE / "demo.html").read_text(encoding="utf-8")
    for name, value in (("COMPANY", company), ("ORIGIN", origin), ("SITE_KEY", site_key)):
        page = page.replace("{{" + name + "}}", html.escape(value, quote=True))
    return page.replace("{{EXTRA}}", extra)


def mount_widget(app: FastAPI, settings: Settings) -> FastAPI:
    state = app.state.app_state

    script = widget_script()  # joined once: the parts are package files, not edited while the server runs

    @app.get("/widget.js", include_in_schema=False)
    def widget_js() -> Response:
        return Response(script, media_type="application/javascript",
                        headers={"Cache-Control": "public, max-age=300"})

    @app.get("/widget.css", include_in_schema=False)
    def widget_css() -> FileResponse:
        return FileResponse(HERE / "widget.css", media_type="text/css", headers={"Cache-Control": "public, max-age=300"})

    @app.get("/demo", include_in_schema=False, response_class=HTMLResponse)
    def demo(request: Request, site_key: str | None = Query(None, max_length=100),
             lang: str | None = Query(None, max_length=4)) -> HTMLResponse:
        if not state.ready:
            return HTMLResponse("<!doctype html><meta http-equiv='refresh' content='3'><p>The assistant is starting…</p>",
                                status_code=503, headers={"Retry-After": "3"})
        if site_key is None:
            site_key = ensure_sites(state, state.assistant.sites).get(sites.DEFAULT_SITE).public_key
        origin = f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"
        site = state.assistant.sites.by_public_key(site_key)  # the page and widget title in that site's name
        company = state.assistant.profiles.get(site.id if site else sites.DEFAULT_SITE).company
        return HTMLResponse(demo_page(company, origin, site_key, lang))

    return app
