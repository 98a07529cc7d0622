"""The templates API on a real server (its own process, a free port): a site's key edits its templates, the edit
answers that site's next turn and never the other site's, retire stops it, revert brings an earlier text back,
bad input is a 422 that stores nothing, and another site's key, a widget session and a missing key get nothing.

Real understanding (the bike site's intents are trained from its CSV), retrieval and SQLite store; the fake
backend with extractive answers, as in test_two_sites.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.assistant.server.test_two_sites import BIKE_PAGES, write_bike_files
from tests.support import running_server, sites_server_env

pytestmark = pytest.mark.slow

ADMIN = "templates-admin-key"
QUESTION = "What time do you close on Sunday?"
FILE_TEXT = "Pedal Rentals is open every day from 09:00 to 18:00 at the Vondelpark depot."
EDITED = "{company} is open every day from 08:00 to 20:00 at the Vondelpark depot."
EDITED_TEXT = "Pedal Rentals is open every day from 08:00 to 20:00 at the Vondelpark depot."
ORIGIN = "http://bikes.example"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, model_cache_dir: Path) -> Iterator[dict[str, Any]]:
    data = tmp_path_factory.mktemp("templates-api")
    templates, intents = write_bike_files(data)
    env = sites_server_env(data, model_cache_dir, ADMIN)
    admin = {"X-Admin-Key": ADMIN}
    with running_server(env) as (base, _):
        def post(path: str, **kw: Any) -> dict:
            r = httpx.post(f"{base}{path}", timeout=120, **kw)
            assert r.status_code in (200, 201), r.text
            return r.json()

        bikes = post("/v1/admin/sites", headers=admin, json={
            "id": "bikes", "name": "Bike support", "company": "Pedal Rentals", "allowed_origins": [ORIGIN],
            "templates_path": str(templates), "intents_path": str(intents)})
        bike_key = post("/v1/admin/sites/bikes/keys", headers=admin, json={"name": "e2e"})["key"]
        shop_key = post("/v1/admin/sites/default/keys", headers=admin, json={"name": "e2e"})["key"]
        files = [("files", (f"{doc_id}.md", text.encode(), "text/markdown")) for doc_id, text in BIKE_PAGES.items()]
        assert post("/v1/kb/documents", files=files, headers={"Authorization": f"Bearer {bike_key}"})["added"] == 3
        yield {"base": base, "bikes": {"Authorization": f"Bearer {bike_key}"},
               "shop": {"Authorization": f"Bearer {shop_key}"}, "public_key": bikes["public_key"]}


def call(server: dict, method: str, path: str, site: str = "bikes", **kw: Any) -> httpx.Response:
    return httpx.request(method, f"{server['base']}{path}", headers=server[site], timeout=120, **kw)


def ask(server: dict, site: str, question: str = QUESTION) -> dict:
    r = call(server, "POST", "/v1/chat", site, json={"message": question})
    assert r.status_code == 200, r.text
    return r.json()


def template(server: dict, template_id: str = "bike.opening_hours", site: str = "bikes") -> dict:
    r = call(server, "GET", f"/v1/templates/{template_id}", site)
    assert r.status_code == 200, r.text
    return r.json()


def test_edit_retire_and_revert_answer_from_the_next_turn_on_their_site_only(server: dict) -> None:
    listed = call(server, "GET", "/v1/templates").json()["templates"]
    assert {(t["id"], t["status"], t["version"]) for t in listed} == {("bike.greeting", "file", 0),
                                                                      ("bike.opening_hours", "file", 0)}
    before = ask(server, "bikes")
    assert (before["template_id"], before["answer"]) == ("bike.opening_hours", FILE_TEXT)
    shop_before = ask(server, "shop")

    r = call(server, "PUT", "/v1/templates/bike.opening_hours",
             json={"intent": "bike_opening_hours", "text": EDITED, "sources": ["bike-hours"]})
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["version"], r.json()["versions"][0]["actor"][:4]) == ("edited", 1, "key:")
    edited = ask(server, "bikes")
    assert (edited["template_id"], edited["answer"]) == ("bike.opening_hours", EDITED_TEXT)
    shop = ask(server, "shop")  # the other site: the same answer as before the edit, never the bike site's
    assert (shop["answer"], shop["template_id"]) == (shop_before["answer"], shop_before["template_id"])
    assert "bike.opening_hours" not in {t["id"] for t in call(server, "GET", "/v1/templates", "shop").json()[
        "templates"]}

    retired = call(server, "DELETE", "/v1/templates/bike.opening_hours")
    assert retired.status_code == 200 and retired.json()["status"] == "retired"
    after = ask(server, "bikes")
    assert after["template_id"] is None and after["route"] != "template"

    back = call(server, "POST", "/v1/templates/bike.opening_hours/revert", json={"version": 1})
    assert back.status_code == 200 and (back.json()["version"], back.json()["versions"][-1]["restores"]) == (3, 1)
    assert ask(server, "bikes")["answer"] == EDITED_TEXT
    call(server, "POST", "/v1/templates/bike.opening_hours/revert", json={"version": 0})
    assert ask(server, "bikes")["answer"] == FILE_TEXT
    assert [v["action"] for v in template(server)["versions"]] == ["edit", "retire", "revert", "revert"]


@pytest.mark.parametrize(("body", "message"), [
    ({"intent": "bike_opening_hours", "text": "Open {opening_times}."}, "unknown slot {opening_times}"),
    ({"intent": "bike_opening_hours", "text": "  "}, "the text is empty"),
    ({"intent": "bike_opening_hours", "text": "Open daily.", "sources": ["shipping-times"]},
     "unknown source page(s) shipping-times"),
])
def test_bad_input_is_a_422_and_stores_nothing(server: dict, body: dict, message: str) -> None:
    versions = template(server)["version"]
    r = call(server, "PUT", "/v1/templates/bike.opening_hours", json=body)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_template", r.text
    assert message in r.json()["error"]["message"]
    assert template(server)["version"] == versions
    assert call(server, "POST", "/v1/templates/bike.opening_hours/revert", json={"version": 99}).status_code == 404
    assert template(server)["version"] == versions


def test_other_sites_widgets_and_missing_keys_get_nothing(server: dict) -> None:
    assert call(server, "GET", "/v1/templates/bike.opening_hours", "shop").status_code == 404
    assert call(server, "DELETE", "/v1/templates/bike.opening_hours", "shop").status_code == 404
    session = httpx.post(f"{server['base']}/v1/widget/session", json={"site_key": server["public_key"]},
                         headers={"Origin": ORIGIN}, timeout=30).json()
    widget = {"Authorization": f"Bearer {session['token']}", "Origin": ORIGIN}
    r = httpx.put(f"{server['base']}/v1/templates/bike.opening_hours", headers=widget, timeout=30,
                  json={"intent": "bike_opening_hours", "text": "Hacked."})
    assert r.status_code == 403
    assert httpx.get(f"{server['base']}/v1/templates", timeout=30).status_code == 401
    assert "Hacked." not in ask(server, "bikes")["answer"]
