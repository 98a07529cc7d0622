"""The intents API (routes/intents.py) behind the real app, on real SQLite and the real intent model trained on a
small CSV: a site's key adds examples, retrains, and its next message is classified with the new intent while the
other site's is not; retire, revert, bad input a 422 with nothing stored, audit entries under key:<id>, and a
wrong key refused."""

from __future__ import annotations

from pathlib import Path

from tests.assistant.engine.test_intent_versions import HELMET, understanding
from tests.assistant.server.sites_support import auth
from tests.ui.test_console_intents import console, intent_of

__all__ = ["understanding"]  # the module-scoped real Understanding fixture


def test_a_sites_key_edits_versions_and_retrains_its_intents(tmp_path: Path, understanding) -> None:
    with console(tmp_path, understanding) as (client, _, keys):
        bikes = auth(keys["bikes"])
        listed = client.get("/v1/intents", headers=bikes).json()
        assert (listed["site_id"], listed["version"], listed["trained"]) == ("bikes", 0, None)
        assert [i["intent"] for i in listed["intents"]] == ["opening_hours", "rental_price"]
        for text in HELMET:
            r = client.post("/v1/intents/lost_property/examples", json={"text": text}, headers=bikes)
            assert r.status_code == 200, r.text
        assert r.json()["pending"] and r.json()["version"] == 5
        assert client.get("/v1/intents/lost_property", headers=bikes).json()["examples"] == HELMET

        bad = [client.post("/v1/intents/lost_property/examples", json={"text": " "}, headers=bikes),
               client.post("/v1/intents/Lost-Property/examples", json={"text": "my helmet"}, headers=bikes),
               client.request("DELETE", "/v1/intents/opening_hours/examples", json={"text": "my helmet"},
                              headers=bikes),
               client.delete("/v1/intents/gift_wrapping", headers=bikes),
               client.post("/v1/intents/revert", json={"version": 42}, headers=bikes)]
        assert [(r.status_code, r.json()["error"]["code"]) for r in bad] == [(422, "invalid_intent_change")] * 5, \
            [r.text for r in bad]
        assert client.get("/v1/intents", headers=bikes).json()["version"] == 5  # nothing stored

        r = client.post("/v1/intents/retrain", headers=bikes)
        assert r.status_code == 200 and (r.json()["examples"], r.json()["operator_examples"]) == (17, 5), r.text
        assert intent_of(client, keys["bikes"]) == "lost_property"
        assert intent_of(client, keys["scooters"]) != "lost_property"
        assert client.get("/v1/intents", headers=auth(keys["scooters"])).json()["version"] == 0

        assert client.delete("/v1/intents/lost_property", headers=bikes).json()["version"] == 7
        client.post("/v1/intents/retrain", headers=bikes)
        assert intent_of(client, keys["bikes"]) != "lost_property"
        reverted = client.post("/v1/intents/revert", json={"version": 6}, headers=bikes).json()
        assert reverted["versions"][-1]["restores"] == 6
        client.post("/v1/intents/retrain", headers=bikes)
        assert intent_of(client, keys["bikes"]) == "lost_property"

        actors = {(e.actor, e.action) for e in client.bot.audit.entries(site_id="bikes") if "intent" in e.action}
        who = {actor for actor, _ in actors}
        assert len(who) == 1 and who.pop().startswith("key:")  # the bikes key, never a console name
        assert {action for _, action in actors} == {"intent_add", "intent_retrain", "intent_retire", "intent_revert"}

        assert client.post("/v1/intents/retrain", headers=auth("sk_not_a_key")).status_code == 401
