"""The site's profile over the admin API and the site's own key: set, read, refused when bad (nothing written), and a
site deleted with its data (409 while a person may be answering, unless force=true)."""

from __future__ import annotations

from pathlib import Path

from tests.assistant.server.sites_support import ADMIN, HITS, app_client, auth, new_site
from tests.support import FakeRetriever

ADMIN_H = {"X-Admin-Key": ADMIN}
PROFILE = {"company": "Pedal Rentals", "greeting": "Hey rider!", "system_prompt": "You help {company}'s riders.",
           "handoff_message": "A rider guide will write back here.", "abstain_message": "No idea, sorry."}


def test_the_admin_sets_and_reads_a_sites_profile(tmp_path: Path) -> None:
    templates = tmp_path / "t.yaml"
    templates.write_text("intents:\n  hours:\n    templates:\n      - id: hours.default\n        text: Open 9-6.\n")
    with app_client(tmp_path) as client:
        site, key = new_site(client, "bikes", **PROFILE, templates_path=str(templates))
        assert {k: site[k] for k in PROFILE} == PROFILE and site["templates_path"] == str(templates.resolve())
        assert client.post("/v1/chat", json={"message": "hello"}, headers=auth(key)).json()["answer"] == "Hey rider!"
        handoff = client.post("/v1/handoff", json={}, headers=auth(key)).json()
        assert handoff["message"] == PROFILE["handoff_message"]
        r = client.patch("/v1/admin/sites/bikes", json={"company": "", "greeting": None}, headers=ADMIN_H)
        assert r.status_code == 200 and r.json()["company"] is None and r.json()["greeting"] is None
        hello = client.post("/v1/chat", json={"message": "hello"}, headers=auth(key)).json()["answer"]
        assert hello == "Hi, welcome to Bikes! What can I help you with?"  # unset company: the site's name
        # the default site is untouched and keeps the global handoff message
        assert client.post("/v1/handoff", json={}).json()["message"] == client.bot.settings.understanding.handoff_message


def test_bad_profile_values_are_4xx_and_nothing_is_written(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("intents:\n  x:\n    templates:\n      - id: x.a\n        text: 'Hi {who}'\n")
    with app_client(tmp_path) as client:
        new_site(client, "bikes", company="Pedal Rentals")
        for body, status, code in [
            ({"company": "New", "templates_path": str(tmp_path / "bad.yaml")}, 422, "invalid_site"),
            ({"company": "New", "intents_path": str(tmp_path / "none.csv")}, 422, "invalid_site"),
            ({"company": "x" * 201}, 422, "invalid_request"),
            ({"greeting": "Hi", "tone": "cheerful"}, 422, "invalid_request"),
        ]:
            r = client.patch("/v1/admin/sites/bikes", json=body, headers=ADMIN_H)
            assert (r.status_code, r.json()["error"]["code"]) == (status, code), r.text
        assert "bad.yaml:5" in client.patch("/v1/admin/sites/bikes", json={"templates_path": str(tmp_path / "bad.yaml")},
                                            headers=ADMIN_H).json()["error"]["message"]
        site = client.get("/v1/admin/sites/bikes", headers=ADMIN_H).json()
        assert (site["company"], site["greeting"], site["templates_path"]) == ("Pedal Rentals", None, None)
        r = client.post("/v1/admin/sites", json={"id": "boats", "name": "Boats", "templates_path": "/nope.yaml"},
                        headers=ADMIN_H)
        assert r.status_code == 422 and client.get("/v1/admin/sites/boats", headers=ADMIN_H).status_code == 404


def test_a_site_key_sets_its_voice_but_not_server_files(tmp_path: Path) -> None:
    with app_client(tmp_path) as client:
        _, key = new_site(client, "bikes")
        r = client.patch("/v1/site", json={"company": "Pedal Rentals", "handoff_message": "We'll write back."},
                         headers=auth(key))
        assert r.status_code == 200 and r.json()["company"] == "Pedal Rentals"
        r = client.patch("/v1/site", json={"templates_path": "/etc/passwd"}, headers=auth(key))
        assert r.status_code == 403 and client.get("/v1/site", headers=auth(key)).json()["templates_path"] is None


class DocumentsRetriever(FakeRetriever):
    """Answers every site with HITS, and keeps a list of documents per namespace (what deletion reaches)."""

    def __init__(self, docs: dict[str, list[str]]) -> None:
        super().__init__(list(HITS))
        self.docs = docs

    def documents(self, namespace: str) -> list[dict[str, str]]:
        return [{"id": d} for d in self.docs.get(namespace, [])]

    def delete(self, doc_id: str, namespace: str) -> bool:
        self.docs[namespace].remove(doc_id)
        return True


def test_deleting_a_site_takes_its_data_and_waits_for_open_handoffs(tmp_path: Path) -> None:
    docs = {"bikes": ["bike-hours", "prices"], "boats": ["boat-hours"]}
    with app_client(tmp_path, retriever=DocumentsRetriever(docs)) as client:
        _, key = new_site(client, "bikes")
        _, other = new_site(client, "boats")
        mine = client.post("/v1/chat", json={"message": "How long do refunds take?"}, headers=auth(key)).json()
        theirs = client.post("/v1/chat", json={"message": "How long do refunds take?"}, headers=auth(other)).json()
        client.post("/v1/handoff", json={"conversation_id": mine["conversation_id"]}, headers=auth(key))
        r = client.delete("/v1/admin/sites/bikes", headers=ADMIN_H)
        assert r.status_code == 409 and r.json()["error"]["code"] == "site_busy" and "open handoff" in r.text
        assert docs["bikes"] == ["bike-hours", "prices"]  # refused: nothing deleted
        assert client.get(f"/v1/conversations/{mine['conversation_id']}", headers=auth(key)).status_code == 200
        assert client.delete("/v1/admin/sites/default", headers=ADMIN_H).status_code == 409
        assert client.delete("/v1/admin/sites/ghost", headers=ADMIN_H).status_code == 404
        r = client.delete("/v1/admin/sites/bikes?force=true", headers=ADMIN_H)
        assert r.status_code == 200 and (r.json()["conversations"], r.json()["keys"], r.json()["documents"]) == (1, 1, 2)
        assert docs == {"bikes": [], "boats": ["boat-hours"]}
        assert client.get("/v1/site", headers=auth(key)).status_code == 401  # its keys went with it
        assert client.get("/v1/admin/sites/bikes", headers=ADMIN_H).status_code == 404
        assert not client.store.exists(mine["conversation_id"])
        assert client.get(f"/v1/conversations/{theirs['conversation_id']}", headers=auth(other)).status_code == 200
