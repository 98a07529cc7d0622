"""`assistant conversations export`: the stored conversations as JSONL or CSV, filtered and redacted.

    assistant conversations export --site acme --since 2026-11-01 --until 2026-12-01 -o november.jsonl
    assistant conversations export --route abstain --sentiment negative --format csv > unhappy.csv

Reads the configured database (ASSISTANT_DATABASE_URL or the data dir's SQLite) without loading a model;
what goes out is redacted (assistant.engine.conversation_export) and each export is written to the audit log.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import typer

from assistant.cli.common import build_settings, fail

PERIOD_HELP = "ISO date or date-time (UTC unless it says otherwise)"


def _when(value: str | None, option: str) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(f"{option}: {value!r} is not an ISO date or date-time (2026-11-01, 2026-11-01T08:00)")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    conversations_app = typer.Typer(help="Stored conversations: export them for analysis.", no_args_is_help=True)
    app.add_typer(conversations_app, name="conversations")

    @conversations_app.command("export")
    def export(
        output: Path = typer.Option(None, "--output", "-o", help="File to write (default: standard output)."),
        fmt: str = typer.Option(None, "--format", "-f", help="jsonl (one conversation a line) or csv (one "
                                "message a row); default: the output's extension, else jsonl."),
        site: str = typer.Option(None, "--site", help="One site's conversations (default: every site's)."),
        since: str = typer.Option(None, "--since", help=f"Active from ({PERIOD_HELP})."),
        until: str = typer.Option(None, "--until", help=f"Active before ({PERIOD_HELP})."),
        route: str = typer.Option(None, "--route", help="With an assistant reply on this route (abstain, "
                                  "handoff, template, faq, generate, extractive, smalltalk, paused)."),
        sentiment: str = typer.Option(None, "--sentiment", help="With a customer message of this sentiment "
                                      "(negative, neutral, positive)."),
    ) -> None:
        """Export conversations (redacted) as JSONL or CSV; the count goes to standard error."""
        from assistant.engine.conversation_export import ConversationExport, ExportError, ExportFilter

        fmt = (fmt or (output.suffix.lstrip(".").lower() if output and output.suffix else "jsonl")).lower()
        where = ExportFilter(site_id=site, since=_when(since, "--since"), until=_when(until, "--until"),
                             route=route, sentiment=sentiment)
        exporter = ConversationExport.open(build_settings())
        try:
            where.check()
            if fmt not in ("jsonl", "csv"):
                raise ExportError(f"unknown format {fmt!r}; one of jsonl, csv")
            if output is None:
                count = exporter.write(sys.stdout, fmt, where, actor="cli")
            else:
                # Written beside the target and moved into place: a failed export leaves no half file.
                partial = output.with_name(output.name + ".partial")
                try:
                    with partial.open("w", encoding="utf-8", newline="") as out:
                        count = exporter.write(out, fmt, where, actor="cli")
                    partial.replace(output)
                finally:
                    partial.unlink(missing_ok=True)
        except ExportError as exc:
            fail(str(exc))
        typer.echo(f"exported {count} conversations" + (f" to {output}" if output else ""), err=True)
