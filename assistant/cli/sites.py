"""`assistant sites create|list|show|update|delete|keys|revoke|origins`: manage support sites (tenants) and their keys.

    assistant sites create acme "Acme support" --origin https://help.acme.com --company "Acme Bikes"
    assistant sites update acme --templates acme/templates.yaml --intents acme/intents.csv
    assistant sites update acme --opening-hours "Europe/Amsterdam mon-fri 09:00-17:00; sat 10:00-14:00"
    assistant sites show acme
    assistant sites delete acme                      # asks first; --yes skips that, --force ignores open handoffs
    assistant sites keys acme --new backend          # prints the secret key once
    assistant sites revoke acme key_3f2a...
    assistant sites origins acme --add https://shop.acme.com --remove https://old.acme.com

Works directly on the configured database (ASSISTANT_DATABASE_URL / data_dir), like the server.
"""

from __future__ import annotations

from typing import Any

import typer

from assistant.cli import site_webhooks
from assistant.cli.common import JsonFlag, build_settings, fail, print_json_last
from assistant.engine.errors import KeyNotFound, SiteBusy, SiteError, SiteExists, SiteNotFound


def _sites() -> Any:
    """The configured database's sites (assistant.engine.sites.SiteDirectory)."""
    from assistant.engine.audit import AuditedSites

    return AuditedSites.open(build_settings().resolved_database_url).as_actor("cli")  # changes audited as "cli"


# What the assistant says in the site's name (site_profile.py), as CLI options: field -> (flag, help).
PROFILE_OPTIONS = {
    "company": ("--company", "Name the assistant speaks in (default: the site's name)."),
    "greeting": ("--greeting", "Reply to a hello when the site has no greeting template."),
    "system_prompt": ("--system-prompt", "The chat model's instructions and tone; {company} is replaced."),
    "handoff_message": ("--handoff-message", "What the customer is told when a person is asked for."),
    "abstain_message": ("--abstain-message", "What the customer is told when no reliable answer is found."),
    "templates_path": ("--templates", "The site's answer templates YAML (checked now; default: none)."),
    "intents_path": ("--intents", "The site's intent examples CSV: its own intent model (default: none)."),
}
CLEARS = " An empty value clears it."
HOURS_HELP = ("When its people answer a handoff, as 'ZONE DAYS HH:MM-HH:MM[,HH:MM-HH:MM]; DAYS ...', e.g. "
              "'Europe/Amsterdam mon-fri 09:00-17:00; sat 10:00-14:00' (or the JSON of the API). Outside them a "
              "handoff says when a person answers and invites an e-mail address.")


def _profile_option(field: str, clears: bool = False) -> Any:
    flag, text = PROFILE_OPTIONS[field]
    return typer.Option(None, flag, help=text + (CLEARS if clears else ""))


def _site_row(site: Any) -> dict[str, Any]:
    return {"id": site.id, "name": site.name, "namespace": site.namespace, "public_key": site.public_key,
            "allowed_origins": site.allowed_origins, "daily_quota": site.daily_quota, "key_rate": site.key_rate,
            "session_rate": site.session_rate, "widget": site.widget, "adapter": site.adapter,
            "quota_message": site.quota_message, **{field: getattr(site, field) for field in PROFILE_OPTIONS},
            "opening_hours": site.opening_hours}


def _hours(value: str | None) -> Any:
    """--opening-hours: the text form or the API's JSON object, checked by the engine when it is stored."""
    if value is None or not value.strip().startswith("{"):
        return value
    import json

    try:
        return json.loads(value)
    except ValueError as exc:
        fail(f"--opening-hours is not valid JSON: {exc}")


def _given(**options: Any) -> dict[str, Any]:
    """The options the command line set (None = not given; an empty string clears a text field)."""
    return {k: v for k, v in options.items() if v is not None}


def _key_row(key: Any) -> dict[str, Any]:
    return {"id": key.id, "name": key.name, "prefix": key.prefix, "active": key.active,
            "created_at": key.created_at, "revoked_at": key.revoked_at}


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    sites_app = typer.Typer(help="Support sites (tenants): origins, keys, limits.", no_args_is_help=True)
    app.add_typer(sites_app, name="sites")

    @sites_app.command("create")
    def create(
        site_id: str = typer.Argument(..., help="Id: a-z, 0-9, '-', '_' (e.g. acme)."),
        name: str = typer.Argument(..., help="Display name."),
        origin: list[str] = typer.Option([], "--origin", help="Origin allowed to embed the widget (repeatable)."),
        namespace: str = typer.Option(None, help="Knowledge-base namespace (default: the id)."),
        daily_quota: int = typer.Option(None, min=0, help="Chat messages per UTC day (0 = unlimited)."),
        key_rate: str = typer.Option(None, help="Rate per secret key, e.g. 600/minute."),
        session_rate: str = typer.Option(None, help="Rate per widget session, e.g. 30/minute."),
        company: str = _profile_option("company"),
        greeting: str = _profile_option("greeting"),
        system_prompt: str = _profile_option("system_prompt"),
        handoff_message: str = _profile_option("handoff_message"),
        abstain_message: str = _profile_option("abstain_message"),
        templates: str = _profile_option("templates_path"),
        intents: str = _profile_option("intents_path"),
        opening_hours: str = typer.Option(None, "--opening-hours", help=HOURS_HELP),
        json_out: JsonFlag = False,
    ) -> None:
        """Create a site; prints its public widget key. It starts with no templates and no intents of its own."""
        options = _given(daily_quota=daily_quota, key_rate=key_rate, session_rate=session_rate, company=company,
                         greeting=greeting, system_prompt=system_prompt, handoff_message=handoff_message,
                         abstain_message=abstain_message, templates_path=templates, intents_path=intents,
                         opening_hours=_hours(opening_hours))
        try:
            site = _sites().create(site_id, name, origins=origin, namespace=namespace, **options)
        except (SiteError, SiteExists) as exc:
            fail(str(exc))
        typer.echo(f"created site {site.id!r}; widget tag:")
        typer.echo(f'  <script src="https://YOUR-HOST/widget.js" data-site-key="{site.public_key}" async></script>')
        if json_out:
            print_json_last(_site_row(site))

    @sites_app.command("list")
    def list_(json_out: JsonFlag = False) -> None:
        """List sites with their origins and limits."""
        rows = [_site_row(s) for s in _sites().all_sites()]
        for row in rows:
            origins = ", ".join(row["allowed_origins"]) or "(no origins: widget refused everywhere but /demo)"
            typer.echo(f"{row['id']:<20} {row['name']:<30} {origins}")
        if json_out:
            print_json_last(rows)

    @sites_app.command("show")
    def show(site_id: str = typer.Argument(...), json_out: JsonFlag = False) -> None:
        """Show a site's settings, what the assistant says in its name, and how much data it holds."""
        directory = _sites()
        try:
            row, data = _site_row(directory.get(site_id)), directory.data(site_id)
        except SiteNotFound:
            fail(f"no site {site_id!r}")
        row.update(conversations=data.conversations, open_handoffs=data.open_handoffs, keys=data.keys)
        for name, value in row.items():
            shown = "(unset)" if value is None or value == "" else value
            typer.echo(f"{name:<16} {shown}")
        if json_out:
            print_json_last(row)

    @sites_app.command("update")
    def update(
        site_id: str = typer.Argument(...),
        name: str = typer.Option(None, help="Display name."),
        daily_quota: int = typer.Option(None, min=0, help="Chat messages per UTC day (0 = unlimited)."),
        key_rate: str = typer.Option(None, help="Rate per secret key, e.g. 600/minute."),
        session_rate: str = typer.Option(None, help="Rate per widget session, e.g. 30/minute."),
        quota_message: str = typer.Option(None, help="What the customer is told when the daily quota is spent."),
        adapter: str = typer.Option(None, help="LoRA adapter that answers for this site."),
        company: str = _profile_option("company", clears=True),
        greeting: str = _profile_option("greeting", clears=True),
        system_prompt: str = _profile_option("system_prompt", clears=True),
        handoff_message: str = _profile_option("handoff_message", clears=True),
        abstain_message: str = _profile_option("abstain_message", clears=True),
        templates: str = _profile_option("templates_path", clears=True),
        intents: str = _profile_option("intents_path", clears=True),
        opening_hours: str = typer.Option(None, "--opening-hours", help=HOURS_HELP + CLEARS),
        json_out: JsonFlag = False,
    ) -> None:
        """Change a site's settings; every value is checked first, and nothing is written when one is wrong."""
        changes = _given(name=name, daily_quota=daily_quota, key_rate=key_rate, session_rate=session_rate,
                         quota_message=quota_message, adapter=adapter, company=company, greeting=greeting,
                         system_prompt=system_prompt, handoff_message=handoff_message,
                         abstain_message=abstain_message, templates_path=templates, intents_path=intents,
                         opening_hours=_hours(opening_hours))
        if not changes:
            fail("nothing to change: give at least one option (see --help)")
        try:
            site = _sites().update(site_id, **changes)
        except SiteNotFound:
            fail(f"no site {site_id!r}")
        except SiteError as exc:
            fail(str(exc))
        typer.echo(f"updated site {site.id!r}: {', '.join(sorted(changes))}")
        if json_out:
            print_json_last(_site_row(site))

    @sites_app.command("delete")
    def delete(
        site_id: str = typer.Argument(...),
        yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
        force: bool = typer.Option(False, "--force", help="Delete even while it has open handoffs."),
        json_out: JsonFlag = False,
    ) -> None:
        """Delete a site with its conversations, keys and knowledge-base documents (asks first)."""
        if site_id == "default":  # refused before the question: the answer would not matter
            fail("the default site cannot be deleted: keyless local use and /demo answer as it")
        directory = _sites()
        try:
            site, data = directory.get(site_id), directory.data(site_id)
        except SiteNotFound:
            fail(f"no site {site_id!r}")
        if data.open_handoffs and not force:
            fail(f"site {site_id!r} has {data.open_handoffs} open handoff(s): a person may be answering them; "
                 "close them first, or pass --force")
        if not yes and not typer.confirm(
                f"Delete site {site_id!r} with {data.conversations} conversation(s), {data.keys} key(s) and the "
                f"documents of namespace {site.namespace!r}?", default=False):
            fail("nothing deleted", code=1)
        from assistant.cli.kb import open_knowledge

        try:
            deleted = directory.delete(site_id, force=force, knowledge=open_knowledge())
        except (SiteBusy, SiteNotFound) as exc:
            fail(str(exc) if isinstance(exc, SiteBusy) else f"no site {site_id!r}")
        kept = " (namespace shared with another site: its documents kept)" if deleted.namespace_shared else ""
        typer.echo(f"deleted site {site_id!r}: {deleted.conversations} conversation(s), {deleted.keys} key(s), "
                   f"{deleted.documents} document(s){kept}")
        if json_out:
            print_json_last(vars(deleted))

    site_webhooks.register(sites_app, _sites)

    @sites_app.command("keys")
    def keys(
        site_id: str = typer.Argument(...),
        new: str = typer.Option(None, "--new", help="Issue a new secret key with this name; shown once."),
        json_out: JsonFlag = False,
    ) -> None:
        """List a site's secret keys, or issue one with --new NAME."""
        directory = _sites()
        try:
            if new is not None:
                key, plaintext = directory.issue_key(site_id, new)
                typer.echo(f"new key {key.id} for {site_id!r} (store it now, it is not shown again):")
                typer.echo(plaintext)
                if json_out:
                    print_json_last({**_key_row(key), "key": plaintext})
                return
            rows = [_key_row(k) for k in directory.list_keys(site_id)]
        except SiteNotFound:
            fail(f"no site {site_id!r}")
        for row in rows:
            state = "active" if row["active"] else f"revoked {row['revoked_at']:%Y-%m-%d}"
            typer.echo(f"{row['id']:<18} {row['prefix']}…  {row['name']:<20} {state}")
        if json_out:
            print_json_last(rows)

    @sites_app.command("revoke")
    def revoke(site_id: str = typer.Argument(...), key_id: str = typer.Argument(...)) -> None:
        """Revoke a secret key at once."""
        try:
            _sites().revoke_key(key_id, site_id)
        except KeyNotFound:
            fail(f"site {site_id!r} has no key {key_id!r}")
        typer.echo(f"revoked {key_id}")

    @sites_app.command("origins")
    def origins(
        site_id: str = typer.Argument(...),
        add: list[str] = typer.Option([], "--add", help="Origin to allow (repeatable)."),
        remove: list[str] = typer.Option([], "--remove", help="Origin to disallow (repeatable)."),
    ) -> None:
        """Show or change the origins allowed to embed the site's widget (deny by default)."""
        from assistant.engine import sites

        directory = _sites()
        try:
            site = directory.get(site_id)
            if add or remove:
                gone = {sites.normalize_origin(o) for o in remove}
                wanted = [o for o in site.allowed_origins if o not in gone] + list(add)
                site = directory.update(site_id, allowed_origins=wanted)
        except SiteNotFound:
            fail(f"no site {site_id!r}")
        except SiteError as exc:
            fail(str(exc))
        for origin in site.allowed_origins:
            typer.echo(origin)
        if not site.allowed_origins:
            typer.echo("(none: the widget is refused on every other origin)")
