"""GET /v1/unanswered and POST /v1/unanswered/answer on a real server (free port): real understanding, retrieval with
the real embedding model, SQLite; the fake chat backend. Two sites with empty knowledge bases abstain on the same
question; one site's operator answers its group; from the next turn on that site answers with the text (route faq,
cited) and the other still abstains. Bad input is a 400 or 404 and stores nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import running_server, sites_server_env

pytestmark = pytest.mark.slow

ADMIN = "unanswered-admin-key"
TANDEM = "Yes: tandems cost €35 a day at the Vondelpark depot; book one a day ahead."


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, model_cache_dir: Path) -> Iterator[tuple[str, dict[str, str]]]:
    data = tmp_path_factory.mktemp("unanswered")
    env = sites_server_env(data, model_cache_dir, ADMIN)
    admin = {"X-Admin-Key": ADMIN}
    with running_server(env) as (base, _):
        keys = {}
        for site in ("bikes", "cafe"):
            r = httpx.post(f"{base}/v1/admin/sites", headers=admin, json={"id": site, "name": site.title()}, timeout=60)
            assert r.status_code == 201, r.text
            r = httpx.post(f"{base}/v1/admin/sites/{site}/keys", headers=admin, json={"name": "test"}, timeout=60)
            keys[site] = r.json()["key"]
        yield base, keys


def call(base: str, key: str, method: str, path: str, **kw: Any) -> httpx.Response:
    return httpx.request(method, f"{base}{path}", headers={"Authorization": f"Bearer {key}"}, timeout=120, **kw)


def chat(base: str, key: str, text: str, cid: str | None = None) -> dict:
    r = call(base, key, "POST", "/v1/chat", json={"message": text, **({"conversation_id": cid} if cid else {})})
    assert r.status_code == 200, r.text
    return r.json()


def test_an_answered_group_answers_that_site_only(server: tuple[str, dict[str, str]]) -> None:
    base, keys = server
    bikes, cafe = keys["bikes"], keys["cafe"]
    first = chat(base, bikes, "Do you rent tandem bikes?")
    assert first["route"] == "abstain"
    again = chat(base, bikes, "Can I hire a tandem bicycle?", first["conversation_id"])
    assert again["handoff"]["reason"] == "repeated_abstention"  # a handoff for lack of an answer
    assert chat(base, bikes, "do you have tandems for rent")["route"] == "abstain"
    assert chat(base, bikes, "Is there car parking at the depot?")["route"] == "abstain"
    assert chat(base, cafe, "Do you rent tandem bikes?")["route"] == "abstain"

    r = call(base, bikes, "GET", "/v1/unanswered")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["site_id"] == "bikes"
    groups = body["groups"]
    assert [g["count"] for g in groups] == [3, 1]
    tandem = groups[0]
    assert sorted(tandem["examples"]) == ["Can I hire a tandem bicycle?", "Do you rent tandem bikes?",
                                          "do you have tandems for rent"]
    assert tandem["reasons"] == {"abstain": 2, "handoff": 1} and tandem["id"] == first["message_id"]
    assert groups[1]["question"] == "Is there car parking at the depot?"
    cafe_groups = call(base, cafe, "GET", "/v1/unanswered").json()["groups"]
    assert [g["examples"] for g in cafe_groups] == [["Do you rent tandem bikes?"]]

    answer = {"question": "Do you rent tandem bikes?", "answer": TANDEM, "question_ids": tandem["question_ids"],
              "author": "maria"}
    for change, status, code in [({"answer": "  "}, 400, "invalid_message"),
                                 ({"answer": "x" * 1001}, 400, "invalid_message"),
                                 ({"question": ""}, 400, "invalid_message"),
                                 ({"question_ids": cafe_groups[0]["question_ids"]}, 404, "question_not_found")]:
        r = call(base, bikes, "POST", "/v1/unanswered/answer", json={**answer, **change})
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), r.text
    assert call(base, bikes, "GET", "/v1/unanswered").json()["groups"] == groups  # nothing half-written
    assert call(base, bikes, "GET", "/v1/kb/documents").json() == call(base, cafe, "GET", "/v1/kb/documents").json()

    r = call(base, bikes, "POST", "/v1/unanswered/answer", json=answer)
    assert r.status_code == 201, r.text
    saved = r.json()
    assert (saved["namespace"], saved["answers"]) == ("bikes", 3)
    left = call(base, bikes, "GET", "/v1/unanswered").json()["groups"]
    assert [g["question"] for g in left] == ["Is there car parking at the depot?"]  # the group is answered

    for wording in ("Do you rent tandem bikes?", "can I rent a tandem"):
        reply = chat(base, bikes, wording)
        assert (reply["route"], reply["answer"]) == ("faq", f"{TANDEM} [1]"), reply
        assert reply["sources"][0]["doc_id"] == saved["doc_id"]
    assert chat(base, cafe, "Do you rent tandem bikes?")["route"] == "abstain"
    again = call(base, bikes, "POST", "/v1/unanswered/answer", json=answer)
    assert again.status_code == 404  # those questions are answered now


def test_unanswered_needs_the_sites_secret_key(server: tuple[str, dict[str, str]]) -> None:
    base, _ = server
    assert httpx.get(f"{base}/v1/unanswered", timeout=30).status_code == 401
    r = httpx.post(f"{base}/v1/unanswered/answer", timeout=30, headers={"Authorization": "Bearer sk_wrong"},
                   json={"question": "q", "answer": "a", "question_ids": ["x"]})
    assert r.status_code == 401
