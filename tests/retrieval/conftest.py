"""Shared fixtures for retrieval tests: the real embedded MiniLM (session-wide) and a hashing fake for fast units."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest

from retrieval.embedder import PROBE


class HashingEmbedder:
    """Fast, deterministic bag-of-words vectors: only for unit tests of storage and ranking plumbing."""

    def __init__(self, dims: int = 64, name: str = "hashing-test") -> None:
        self.dims = dims
        self.name = name
        self.spec = name
        self.batch_size = 64
        self.calls = 0
        self.fingerprint = self.encode([PROBE])[0]

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), self.dims), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                out[i, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dims] += 1.0
            out[i, 0] += 1e-3  # never the zero vector
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def encode_query(self, query: str) -> np.ndarray:
        return self.encode([query])[0]


@pytest.fixture
def hashing_embedder() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture(scope="session")
def minilm():
    """The real embedded all-MiniLM-L6-v2 (loaded once per test session)."""
    from assistant.engine.models import resolve_embedding_model
    from retrieval.embedder import Embedder

    return Embedder(resolve_embedding_model(""))


@pytest.fixture
def kb_dir(tmp_path: Path) -> Path:
    """A small help centre: Markdown pages in folders, an HTML page and a FAQ CSV."""
    root = tmp_path / "kb"
    (root / "policies").mkdir(parents=True)
    (root / "shipping-times.md").write_text(
        "---\ntitle: Shipping times\nurl: https://shop.example/help/shipping\n---\n"
        "# Shipping times\n\nStandard shipping takes 3-5 business days within the EU.\n\n"
        "## Express\n\nExpress orders placed before 2pm ship the same day and arrive the next day.\n"
    )
    (root / "policies" / "returns.md").write_text(
        "# Returns\n\nYou can return unworn items within 30 days for a full refund. "
        "Print the prepaid label and write the return code RX-7731 on the parcel.\n"
    )
    (root / "gift-cards.html").write_text(
        "<html><head><title>Gift cards</title></head><body><nav>Home | Shop | Cart</nav>"
        "<main><h1>Gift cards</h1><p>Gift cards never expire and can be used online.</p>"
        "<h2>Balance</h2><p>Check a gift card balance on the account page.</p></main>"
        "<footer>Copyright Northwind</footer></body></html>"
    )
    (root / "faq.csv").write_text(
        "question,answer\n"
        'Do you ship to Canada?,"Yes, we ship to Canada; delivery takes 7-10 days."\n'
        "How do I reset my password?,Click Forgot password on the sign-in page and follow the email link.\n"
    )
    return root
