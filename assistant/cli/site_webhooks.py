"""`assistant sites webhook SITE`: show or set where a site's agent-queue events go (assistant/engine/webhooks.py).

    assistant sites webhook acme --url https://desk.acme.com/hooks/assistant     # a signing secret is generated
    assistant sites webhook acme --format slack --url https://hooks.slack.com/services/T0/B0/XX
    assistant sites webhook acme --secret "$(openssl rand -hex 24)"               # your own secret
    assistant sites webhook acme --clear                                          # no webhook
    assistant sites webhook acme                                                  # show it (secret included)

A URL that is not http(s) is refused (exit 2, nothing changed). The change is written to the audit log as "cli".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer

from assistant.cli.common import JsonFlag, fail, print_json_last
from assistant.engine.errors import SiteError, SiteNotFound


def register(sites_app: typer.Typer, sites: Callable[[], Any]) -> None:
    """Add the `webhook` command to `assistant sites`; `sites()` opens the configured database's sites."""

    @sites_app.command("webhook")
    def webhook(
        site_id: str = typer.Argument(...),
        url: str = typer.Option(None, "--url", help="Where events are POSTed (http:// or https://)."),
        secret: str = typer.Option(None, "--secret", help="HMAC-SHA256 signing secret, 16-200 characters."),
        format_: str = typer.Option(None, "--format", help="json (the event's fields) or slack ({'text'} only)."),
        clear: bool = typer.Option(False, "--clear", help="Remove the webhook (URL, secret and format)."),
        json_out: JsonFlag = False,
    ) -> None:
        """Show or set the site's webhook for handoff, claim, reply, close and hand back events."""
        changes: dict[str, Any] = {"webhook_url": url, "webhook_secret": secret, "webhook_format": format_}
        changes = {k: v for k, v in changes.items() if v is not None}
        if clear:
            changes = {"webhook_url": None, "webhook_secret": None, "webhook_format": None}
        directory = sites()
        try:
            site = directory.update(site_id, **changes) if changes else directory.get(site_id)
        except SiteNotFound:
            fail(f"no site {site_id!r}")
        except SiteError as exc:
            fail(str(exc))
        row = {"site": site.id, "url": site.webhook_url, "secret": site.webhook_secret,
               "format": site.webhook_format or "json"}
        if not site.webhook_url:
            typer.echo(f"{site.id}: no webhook")
        else:
            typer.echo(f"{site.id}: {row['format']} to {row['url']}\nsigning secret: {row['secret']}")
        if json_out:
            print_json_last(row)
