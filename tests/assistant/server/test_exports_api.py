"""GET /v1/exports/conversations (#28): a site's own conversations only, as JSONL or CSV, filtered, redacted,
audited; bad filters are a 400 and a widget session cannot export. In process, real SQLite store."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from tests.assistant.server.sites_support import app_client, auth, new_site, widget_token

SHOP = "https://shop.example.com"


def _chat(client, key: str, text: str) -> str:
    r = client.post("/v1/chat", json={"message": text}, headers=auth(key))
    assert r.status_code == 200, r.text
    return r.json()["conversation_id"]


def test_a_site_exports_its_own_conversations_redacted(tmp_path: Path) -> None:
    with app_client(tmp_path, require_keys=True) as client:
        acme, key_a = new_site(client, "acme", [SHOP])
        _, key_b = new_site(client, "bikes")
        mine = _chat(client, key_a, "How long do refunds take? Mail me at jane.doe@example.com")
        _chat(client, key_b, "How much is a day's bike rental?")
        r = client.get("/v1/exports/conversations", headers=auth(key_a))
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
        assert r.headers["x-export-count"] == "1" and "conversations-acme.jsonl" in r.headers["content-disposition"]
        (record,) = [json.loads(line) for line in r.text.splitlines()]
        assert record["id"] == mine and record["site_id"] == "acme"
        assert [m["role"] for m in record["messages"]] == ["user", "assistant"]
        assert "jane.doe@example.com" not in r.text and "bike" not in r.text
        assert record["messages"][1]["sources"][0]["url"] == "https://help.example.com/refunds"
        r = client.get("/v1/exports/conversations", params={"format": "csv", "route": "generate"}, headers=auth(key_a))
        rows = list(csv.DictReader(io.StringIO(r.text)))
        assert r.status_code == 200 and [row["role"] for row in rows] == ["user", "assistant"]
        assert r.headers["content-type"].startswith("text/csv")
        assert client.get("/v1/exports/conversations", params={"route": "abstain"},
                          headers=auth(key_a)).text == ""  # no conversation matches
        entries = client.bot.audit.entries(site_id="acme", action="export")
        assert len(entries) == 3 and entries[0].actor.startswith("key:")
        # A widget session cannot export, and bad filters are refused before anything is written.
        session = widget_token(client, acme, SHOP)
        r = client.get("/v1/exports/conversations", headers={**auth(session["token"]), "Origin": SHOP})
        assert r.status_code == 403
        for params, code in [({"route": "shouting"}, 400), ({"sentiment": "furious"}, 400),
                             ({"since": "2026-12-02T00:00:00Z", "until": "2026-12-01T00:00:00Z"}, 400),
                             ({"format": "xml"}, 422)]:
            r = client.get("/v1/exports/conversations", params=params, headers=auth(key_a))
            assert r.status_code == code, (params, r.text)
        assert len(client.bot.audit.entries(site_id="acme", action="export")) == 3
