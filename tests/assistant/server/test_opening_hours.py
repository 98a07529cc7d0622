"""Opening hours, the e-mail address a customer leaves, and the default site on an operator's knowledge base, on
a real server (subprocess on a free port, real SQLite, real intent model, retriever and store; fake LLM backend).

- Out of hours a handoff (typed, or the widget's button) tells when a person answers, in the site's zone, and the
  conversation is handed off all the same (to a French customer in French); in hours the site's own handoff
  message is said.
- Bad hours are a 400 (admin API) or exit 2 (CLI), and nothing is stored.
- The e-mail address: 400 when malformed, 404 for another site or widget session; agents see it on the
  conversation; it never appears in the conversation exports (API JSONL/CSV, CLI) nor in the review export.
- ASSISTANT_KB_PATH: the default site reports no intents (not the sample shop's) until it has intents of its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from assistant.engine.opening_hours import DAY_NAMES, DAYS, WHEN
from tests.load.servers import ADMIN, server_env, site_with_key
from tests.support import ROOT, running_server

SHOP = "https://night-shop.example.com"
EMAIL = "jo.rider@example.com"
ADMIN_H = {"X-Admin-Key": ADMIN}
OPEN_MESSAGE = "Hi, a night-shift colleague will reply here."


def _closed_hours() -> tuple[dict, str]:
    """Hours that are never now: one hour, three days ahead (UTC); and how the customer is told so."""
    day = datetime.now(UTC).date() + timedelta(days=3)
    hours = {"timezone": "UTC", "weekly": {DAYS[day.weekday()]: ["09:00-10:00"]}}
    return hours, f"back on {DAY_NAMES[day.weekday()]} at 09:00 (UTC)"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    data = tmp_path_factory.mktemp("opening-hours")
    env = server_env(data, ASSISTANT_SECURITY__REQUIRE_KEYS="true")
    with running_server(env, ready_timeout=900) as (base, _):
        hours, told = _closed_hours()
        night, night_key = site_with_key(base, "night", [SHOP], opening_hours=hours)
        _, day_key = site_with_key(base, "day", handoff_message=OPEN_MESSAGE,
                                   opening_hours={"timezone": "Europe/Amsterdam",
                                                  "weekly": {d: ["00:00-24:00"] for d in DAYS}})
        yield {"base": base, "env": env, "data": data, "night": night, "night_key": night_key, "told": told,
               "day_key": day_key}


def _h(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assistant", *args], env={**os.environ, **env}, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_bad_hours_are_refused_and_nothing_is_stored(server: dict) -> None:
    base = server["base"]
    before = httpx.get(f"{base}/v1/admin/sites/night", headers=ADMIN_H).json()["opening_hours"]
    for hours, says in [({"timezone": "Mars/Olympus", "weekly": {"mon": ["09:00-17:00"]}}, "unknown time zone"),
                        ({"timezone": "UTC", "weekly": {"mon": ["17:00-09:00"]}}, "ends before it starts"),
                        ({"timezone": "UTC", "weekly": {"someday": ["09:00-17:00"]}}, "unknown day")]:
        r = httpx.patch(f"{base}/v1/admin/sites/night", headers=ADMIN_H,
                        json={"opening_hours": hours, "company": "Changed"})
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_opening_hours", r.text
        assert says in r.json()["error"]["message"]
    # the site's own key is refused the same way
    r = httpx.patch(f"{base}/v1/site", headers=_h(server["night_key"]),
                    json={"opening_hours": {"timezone": "Nowhere/Land", "weekly": {"mon": ["09:00-10:00"]}}})
    assert r.status_code == 400
    cli = _cli(server["env"], "sites", "update", "night", "--company", "Changed",
               "--opening-hours", "Mars/Olympus mon-fri 09:00-17:00")
    assert cli.returncode == 2 and "unknown time zone 'Mars/Olympus'" in cli.stderr
    after = httpx.get(f"{base}/v1/admin/sites/night", headers=ADMIN_H).json()
    assert after["opening_hours"] == before and after["company"] is None  # nothing of any refused change


def test_out_of_hours_the_customer_is_told_when_a_person_answers_and_leaves_an_address(server: dict) -> None:
    base, key, told = server["base"], server["night_key"], server["told"]
    # Typed: the handoff reply names the next opening, and the conversation is with a person all the same.
    r = httpx.post(f"{base}/v1/chat", headers=_h(key), timeout=120,
                   json={"message": f"I want to talk to a person, mail me at {EMAIL}"})
    reply = r.json()
    assert reply["route"] == "handoff" and told in reply["answer"] and "e-mail address" in reply["answer"], reply
    assert reply["handoff"]["after_hours"] is True and reply["handoff"]["opens_at"].endswith("09:00:00Z")
    cid = reply["conversation_id"]
    conv = httpx.get(f"{base}/v1/conversations/{cid}", headers=_h(key)).json()
    assert conv["status"] == "handoff" and conv["contact_email"] is None
    assert EMAIL not in json.dumps(conv) and "[EMAIL]" in conv["messages"][0]["content"]  # redacted when stored

    # The widget's button: same notice; the widget session leaves its address on its own conversation.
    session = httpx.post(f"{base}/v1/widget/session", json={"site_key": server["night"]["public_key"]},
                         headers={"Origin": SHOP}).json()
    customer = {**_h(session["token"]), "Origin": SHOP}
    handed = httpx.post(f"{base}/v1/handoff", json={}, headers=customer).json()
    assert handed["after_hours"] is True and told in handed["message"] and handed["status"] == "handoff"
    wid = handed["conversation_id"]
    for bad in ("jo.rider", "jo@example", "jo rider@example.com", "jo@@example.com", "a" * 250 + "@example.com", ""):
        r = httpx.post(f"{base}/v1/conversations/{wid}/contact", json={"email": bad}, headers=customer)
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_email", (bad, r.text)
    assert httpx.get(f"{base}/v1/conversations/{wid}", headers=customer).json()["contact_email"] is None
    r = httpx.post(f"{base}/v1/conversations/{wid}/contact", json={"email": f"  {EMAIL} "}, headers=customer)
    assert r.status_code == 200 and r.json() == {"conversation_id": wid, "email": EMAIL}
    # Another widget session, and another site's key, cannot see or set it.
    other = httpx.post(f"{base}/v1/widget/session", json={"site_key": server["night"]["public_key"]},
                       headers={"Origin": SHOP}).json()
    r = httpx.post(f"{base}/v1/conversations/{wid}/contact", json={"email": "mallory@example.com"},
                   headers={**_h(other["token"]), "Origin": SHOP})
    assert r.status_code == 404
    assert httpx.post(f"{base}/v1/conversations/{wid}/contact", json={"email": "mallory@example.com"},
                      headers=_h(server["day_key"])).status_code == 404
    # The agent (the site's secret key) sees it with the conversation; the secret key may set one too.
    assert httpx.get(f"{base}/v1/conversations/{wid}", headers=_h(key)).json()["contact_email"] == EMAIL
    assert httpx.post(f"{base}/v1/conversations/{cid}/contact", json={"email": EMAIL},
                      headers=_h(key)).status_code == 200
    # An agent rates the typed handoff's reply (a review the fine-tuning export reads).
    assert httpx.post(f"{base}/v1/feedback", headers=_h(key), json={
        "conversation_id": cid, "message_id": reply["message_id"], "rating": "up"}).status_code == 200

    # Never in an export: the API's JSONL and CSV, the CLI's, and the review (fine-tuning) export.
    exported = [httpx.get(f"{base}/v1/exports/conversations", params={"format": fmt}, headers=_h(key)).text
                for fmt in ("jsonl", "csv")]
    assert cid in exported[0] and wid in exported[0] and wid in exported[1]
    cli = _cli(server["env"], "conversations", "export", "--site", "night")
    assert cli.returncode == 0 and wid in cli.stdout
    from assistant.engine.conversations import Conversations
    from assistant.engine.settings import Settings
    from assistant.engine.store import Store

    review = server["data"] / "review-finetune.jsonl"
    store = Store(Settings(data_dir=server["data"]).resolved_database_url)
    try:
        assert Conversations(store, Settings().security).export_reviewed(review) >= 1
    finally:
        store.close()
    assert cid in review.read_text()
    for text in (*exported, cli.stdout, review.read_text()):
        assert EMAIL not in text and "jo.rider" not in text


def test_out_of_hours_a_french_customer_is_told_in_french(server: dict) -> None:
    base, key = server["base"], server["night_key"]
    day = (datetime.now(UTC).date() + timedelta(days=3)).weekday()
    told = f"sera de retour {WHEN['fr'].days[day]} à 09:00 (UTC)"
    reply = httpx.post(f"{base}/v1/chat", headers=_h(key), timeout=120,
                       json={"message": "Je voudrais parler à un conseiller, s'il vous plaît."}).json()
    assert reply["route"] == "handoff" and reply["handoff"]["after_hours"] is True, reply
    assert told in reply["answer"] and "Laissez votre adresse e-mail" in reply["answer"], reply
    # the widget's button sends no text: the language the customer last wrote in
    first = httpx.post(f"{base}/v1/chat", headers=_h(key), timeout=120,
                       json={"message": "Combien de temps faut-il pour un remboursement ?"}).json()
    handed = httpx.post(f"{base}/v1/handoff", json={"conversation_id": first["conversation_id"]},
                        headers=_h(key)).json()
    assert handed["after_hours"] is True and told in handed["message"], handed


def test_in_hours_the_sites_own_handoff_message_is_said(server: dict) -> None:
    base, key = server["base"], server["day_key"]
    reply = httpx.post(f"{base}/v1/chat", headers=_h(key), json={"message": "Can I talk to a human please"},
                       timeout=120).json()
    assert reply["route"] == "handoff" and reply["answer"] == OPEN_MESSAGE and not reply["handoff"]["after_hours"]
    handed = httpx.post(f"{base}/v1/handoff", json={}, headers=_h(key)).json()
    assert (handed["message"], handed["after_hours"], handed["opens_at"]) == (OPEN_MESSAGE, False, None)


def test_the_default_site_on_an_operator_knowledge_base_has_no_sample_intents(server: dict, tmp_path: Path) -> None:
    """ASSISTANT_KB_PATH is set (server_env): the sample shop's intent model stays with the sample shop."""
    base = server["base"]
    _, key = site_with_key(base, "default")
    asked = httpx.post(f"{base}/v1/chat", headers=_h(key), json={"message": "Where is my order?"}, timeout=120).json()
    assert asked["intent"] is None and asked["intents"] == [], asked
    # Intents of its own (the site's intents file): those, and only those, are reported.
    intents = tmp_path / "course-intents.csv"
    intents.write_text("text,intent\nwhen is the exam,exam_dates\nexam date please,exam_dates\n"
                       "where do I find the slides,course_material\nlecture notes link,course_material\n")
    r = httpx.patch(f"{base}/v1/admin/sites/default", headers=ADMIN_H, json={"intents_path": str(intents)})
    assert r.status_code == 200, r.text
    own = httpx.post(f"{base}/v1/chat", headers=_h(key), json={"message": "When is the exam?"}, timeout=600).json()
    assert own["intents"] and {i["intent"] for i in own["intents"]} <= {"exam_dates", "course_material", "oos"}
