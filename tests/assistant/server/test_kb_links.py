"""Links set at upload (#28): POST /v1/kb/documents with a `base_url` links the uploaded files' documents that
have none of their own, and the chat reply's sources carry those links. A real index (hashing embedder)."""

from __future__ import annotations

from pathlib import Path

from retrieval import RetrievalConfig, Retriever
from tests.assistant.server.sites_support import app_client, auth, new_site
from tests.retrieval.conftest import HashingEmbedder

PAGE = b"# Returns\n\nReturn unworn items within 30 days of delivery for a full refund.\n"
OWN = b"---\nurl: https://elsewhere.example.org/warranty\n---\n# Warranty\n\nEvery jacket has a two-year warranty.\n"


def _index(tmp_path: Path) -> Retriever:
    embedder = HashingEmbedder()
    return Retriever.open(tmp_path / "index", embedder.spec, RetrievalConfig(), embedder=embedder)


def test_upload_with_a_base_url_links_the_documents(tmp_path: Path) -> None:
    with app_client(tmp_path, retriever=_index(tmp_path), require_keys=True) as client:
        _, key = new_site(client, "acme")
        files = [("files", ("returns.md", PAGE, "text/markdown")), ("files", ("warranty.md", OWN, "text/markdown"))]
        r = client.post("/v1/kb/documents", files=files, data={"base_url": "https://help.acme.com/en/"},
                        headers=auth(key))
        assert r.status_code == 200 and r.json()["added"] == 2, r.text
        docs = {d["id"]: d["url"] for d in client.get("/v1/kb/documents", headers=auth(key)).json()}
        assert docs == {"returns": "https://help.acme.com/en/returns", "warranty": "https://elsewhere.example.org/warranty"}
        hits = client.post("/v1/kb/search", json={"query": "return unworn items"}, headers=auth(key)).json()
        assert hits[0]["url"] == "https://help.acme.com/en/returns"


def test_upload_with_a_base_url_that_is_not_http_is_refused_and_stores_nothing(tmp_path: Path) -> None:
    with app_client(tmp_path, retriever=_index(tmp_path), require_keys=True) as client:
        _, key = new_site(client, "acme")
        for bad in ("javascript:alert(1)", "help.acme.com"):
            r = client.post("/v1/kb/documents", files={"files": ("returns.md", PAGE, "text/markdown")},
                            data={"base_url": bad}, headers=auth(key))
            assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_upload", r.text
            assert "base URL" in r.json()["error"]["message"]
        assert client.get("/v1/kb/documents", headers=auth(key)).json() == []
