"""Sites (tenants): the engine functions, the admin API, and isolation between sites."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.engine import sites
from assistant.engine.store import Store
from tests.assistant.server.sites_support import ADMIN, app_client, auth, count_messages, new_site

ADMIN_H = {"X-Admin-Key": ADMIN}


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    s = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    sites.install(s)
    return s


def test_keys_are_hashed_shown_once_and_revocable(store: Store, tmp_path: Path) -> None:
    sites.create_site(store, "acme", "Acme", origins=["https://Help.Acme.com/"])
    key, plaintext = sites.issue_key(store, "acme", "backend")
    assert plaintext.startswith("sk_") and len(plaintext) > 40
    assert sites.verify_key(store, plaintext)[0].id == "acme"
    assert sites.verify_key(store, plaintext + "x") is None
    # Only the hash is stored: the plaintext appears nowhere in the database file.
    store.close()
    assert plaintext.encode() not in (tmp_path / "db.sqlite").read_bytes()
    assert [k.prefix for k in sites.list_keys(store, "acme")] == [plaintext[:10]]
    sites.revoke_key(store, key.id, "acme")
    assert sites.verify_key(store, plaintext) is None
    with pytest.raises(sites.KeyNotFound):
        sites.revoke_key(store, key.id, "other-site")


@pytest.mark.parametrize("origin", ["help.acme.com", "ftp://acme.com", "https://acme.com/path", "https://u:p@acme.com"])
def test_bad_origins_are_refused(store: Store, origin: str) -> None:
    with pytest.raises(sites.SiteError):
        sites.create_site(store, "acme", "Acme", origins=[origin])
    assert sites.list_sites(store) == []


def test_origin_allowlist_denies_by_default() -> None:
    allowed = ["https://help.acme.com", "https://*.acme.org"]
    assert sites.origin_allowed(allowed, "https://help.acme.com")
    assert sites.origin_allowed(allowed, "https://HELP.acme.com/")
    assert sites.origin_allowed(allowed, "https://shop.acme.org")
    for origin in ["http://help.acme.com", "https://evil.com", "https://acme.org.evil.com", None, "null", ""]:
        assert not sites.origin_allowed(allowed, origin)
    assert not sites.origin_allowed([], "https://help.acme.com")


def test_site_validation(store: Store) -> None:
    with pytest.raises(sites.SiteError):
        sites.create_site(store, "Bad Id!", "x")
    with pytest.raises(sites.SiteError):
        sites.create_site(store, "ok", "x", key_rate="lots")
    with pytest.raises(sites.SiteError):
        sites.create_site(store, "ok", "x", widget={"colour": "red"})
    sites.create_site(store, "ok", "x", key_rate="5/second;100/hour", widget={"color": "#123456"})
    with pytest.raises(sites.SiteExists):
        sites.create_site(store, "ok", "again")


def test_admin_api_manages_sites_and_keys(tmp_path: Path) -> None:
    with app_client(tmp_path) as client:
        assert client.get("/v1/admin/sites").status_code == 401
        assert client.get("/v1/admin/sites", headers={"X-Admin-Key": "wrong"}).status_code == 401
        site, key = new_site(client, "acme", ["https://help.acme.com"], widget={"title": "Acme help"})
        assert site["public_key"].startswith("pk_") and site["namespace"] == "acme"
        assert client.post("/v1/admin/sites", json={"id": "acme", "name": "x"}, headers=ADMIN_H).status_code == 409
        bad = client.post("/v1/admin/sites", json={"id": "x", "name": "x", "allowed_origins": ["nope"]},
                          headers=ADMIN_H)
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_site"
        assert [s["id"] for s in client.get("/v1/admin/sites", headers=ADMIN_H).json()] == ["acme", "default"]
        r = client.patch("/v1/admin/sites/acme", json={"daily_quota": 10, "widget": {"color": "#ff0000"}},
                         headers=ADMIN_H)
        assert r.status_code == 200 and r.json()["daily_quota"] == 10 and r.json()["widget"] == {"color": "#ff0000"}
        keys = client.get("/v1/admin/sites/acme/keys", headers=ADMIN_H).json()
        assert len(keys) == 1 and "key" not in keys[0] and keys[0]["active"]
        assert client.get("/v1/site", headers=auth(key)).json()["id"] == "acme"
        assert client.delete(f"/v1/admin/sites/acme/keys/{keys[0]['id']}", headers=ADMIN_H).status_code == 204
        r = client.get("/v1/site", headers=auth(key))
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_credentials"
        assert client.get("/v1/admin/sites/nope", headers=ADMIN_H).status_code == 404


def test_admin_api_is_off_without_an_admin_key(tmp_path: Path) -> None:
    with app_client(tmp_path, admin_key="") as client:
        r = client.get("/v1/admin/sites", headers={"X-Admin-Key": ""})
        assert r.status_code == 403 and r.json()["error"]["code"] == "admin_disabled"


def test_own_site_key_cannot_lift_its_own_limits(tmp_path: Path) -> None:
    with app_client(tmp_path) as client:
        _, key = new_site(client, "acme")
        r = client.patch("/v1/site", json={"daily_quota": 0}, headers=auth(key))
        assert r.status_code == 403
        r = client.patch("/v1/site", json={"allowed_origins": ["https://acme.com"]}, headers=auth(key))
        assert r.status_code == 200 and r.json()["allowed_origins"] == ["https://acme.com"]


def test_a_site_cannot_reach_another_sites_conversations(tmp_path: Path) -> None:
    with app_client(tmp_path, require_keys=True) as client:
        _, key_a = new_site(client, "site-a")
        _, key_b = new_site(client, "site-b")
        conv = client.post("/v1/chat", json={"message": "How long do refunds take?"}, headers=auth(key_a)).json()
        cid = conv["conversation_id"]
        before = count_messages(client.store)
        for method, path, body in [
            ("GET", f"/v1/conversations/{cid}", None),
            ("DELETE", f"/v1/conversations/{cid}", None),
            ("POST", "/v1/chat", {"message": "and for gift cards?", "conversation_id": cid}),
            ("POST", "/v1/chat", {"message": "and for gift cards?", "conversation_id": cid, "stream": True}),
            ("POST", "/v1/feedback", {"conversation_id": cid, "message_id": conv["message_id"], "rating": "down"}),
            ("POST", "/v1/handoff", {"conversation_id": cid}),
            ("POST", f"/v1/conversations/{cid}/handback", None),
        ]:
            r = client.request(method, path, json=body, headers=auth(key_b))
            assert r.status_code == 404, (method, path, r.text)
            assert r.json()["error"]["code"] == "conversation_not_found"
        assert count_messages(client.store) == before
        assert client.get("/v1/conversations", headers=auth(key_b)).json()["total"] == 0
        assert client.get(f"/v1/conversations/{cid}", headers=auth(key_a)).status_code == 200


def test_chat_uses_the_sites_namespace(tmp_path: Path) -> None:
    with app_client(tmp_path, require_keys=True) as client:
        _, key = new_site(client, "acme", namespace="acme-kb")
        client.post("/v1/chat", json={"message": "How long do refunds take?"}, headers=auth(key))
        assert client.bot.retriever.queries[-1][2] == "acme-kb"


@pytest.fixture(scope="module")
def retriever(tmp_path_factory: pytest.TempPathFactory):
    """One real index (embedded MiniLM) for the KB tests; each test works in its own sites' namespaces."""
    from assistant.engine.models import resolve_embedding_model
    from retrieval import Retriever

    return Retriever.open(tmp_path_factory.mktemp("index"), resolve_embedding_model(""))


@pytest.mark.slow
def test_a_site_cannot_read_or_change_another_sites_knowledge_base(tmp_path: Path, retriever) -> None:
    with app_client(tmp_path, retriever=retriever, require_keys=True) as client:
        _, key_a = new_site(client, "site-a")
        _, key_b = new_site(client, "site-b")
        files = {"files": ("secret-discount.md", b"# Staff discount\n\nStaff get 40% off with code STAFF40.",
                           "text/markdown")}
        r = client.post("/v1/kb/documents", files=files, headers=auth(key_a))
        assert r.status_code == 200 and r.json()["added"] == 1, r.text
        ids_a = [d["id"] for d in client.get("/v1/kb/documents", headers=auth(key_a)).json()]
        assert ids_a == ["secret-discount"]
        assert client.get("/v1/kb/documents", headers=auth(key_b)).json() == []
        hits_b = client.post("/v1/kb/search", json={"query": "staff discount code"}, headers=auth(key_b)).json()
        assert all("STAFF40" not in h["text"] for h in hits_b)
        hits_a = client.post("/v1/kb/search", json={"query": "staff discount code"}, headers=auth(key_a)).json()
        assert "STAFF40" in hits_a[0]["text"]
        assert client.delete("/v1/kb/documents/secret-discount", headers=auth(key_b)).status_code == 404
        assert client.delete("/v1/kb/documents/secret-discount", headers=auth(key_a)).status_code == 204
        assert client.get("/v1/kb/documents", headers=auth(key_a)).json() == []


@pytest.mark.slow
def test_kb_upload_refuses_bad_files_and_stores_nothing(tmp_path: Path, retriever) -> None:
    with app_client(tmp_path, retriever=retriever, require_keys=True) as client:
        _, key = new_site(client, "acme")
        cases = [
            ({"files": ("virus.exe", b"MZ...", "application/octet-stream")}, 415, "unsupported_file_type"),
            ({"files": ("empty.md", b"", "text/markdown")}, 400, "empty_file"),
            ({"files": ("../../etc/passwd.md", b"x", "text/markdown")}, 200, None),
        ]
        for files, status, code in cases[:2]:
            r = client.post("/v1/kb/documents", files=files, headers=auth(key))
            assert r.status_code == status and r.json()["error"]["code"] == code, r.text
        r = client.post("/v1/kb/documents", json={"files": []}, headers=auth(key))
        assert r.status_code == 415
        assert client.get("/v1/kb/documents", headers=auth(key)).json() == []
        # A path in the file name is reduced to its base name: nothing is written outside the upload folder.
        r = client.post("/v1/kb/documents", files=cases[2][0], headers=auth(key))
        assert r.status_code == 200 and [d["id"] for d in client.get("/v1/kb/documents", headers=auth(key)).json()] \
            == ["passwd"]
