"""`assistant sites create|list|keys|revoke|origins`: manage support sites (tenants) and their keys.

    assistant sites create acme "Acme support" --origin https://help.acme.com
    assistant sites keys acme --new backend          # prints the secret key once
    assistant sites revoke acme key_3f2a...
    assistant sites origins acme --add https://shop.acme.com --remove https://old.acme.com

Works directly on the configured database (ASSISTANT_DATABASE_URL / data_dir), like the server.
"""

from __future__ import annotations

from typing import Any

import typer

from assistant.cli.common import JsonFlag, build_settings, fail, print_json_last
from assistant.engine.errors import KeyNotFound, SiteError, SiteExists, SiteNotFound


def _sites() -> Any:
    """The configured database's sites (assistant.engine.sites.SiteDirectory)."""
    from assistant.engine.sites import SiteDirectory

    return SiteDirectory.open(build_settings().resolved_database_url)


def _site_row(site: Any) -> dict[str, Any]:
    return {"id": site.id, "name": site.name, "namespace": site.namespace, "public_key": site.public_key,
            "allowed_origins": site.allowed_origins, "daily_quota": site.daily_quota, "key_rate": site.key_rate,
            "session_rate": site.session_rate, "widget": site.widget}


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
        json_out: JsonFlag = False,
    ) -> None:
        """Create a site; prints its public widget key."""
        options = {k: v for k, v in {"daily_quota": daily_quota, "key_rate": key_rate,
                                      "session_rate": session_rate}.items() if v is not None}
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
