"""Test helpers: free ports, a real server subprocess, SSE parsing, and light fakes for unit tests."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx

from assistant.engine.events import Classification, IntentScore, Sentiment
from assistant.engine.understanding.language import detect_language

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_sse(text: str) -> list[tuple[str, Any]]:
    """Parse an SSE body into (event, data) pairs; comments (keep-alives) are dropped."""
    events = []
    for block in text.split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
        if data:
            events.append((name, json.loads("\n".join(data))))
    return events


def sites_server_env(data_dir: Path, model_cache_dir: Path, admin_key: str, **extra: str) -> dict[str, str]:
    """Environment of a real server with several sites: keys required, an admin key, the test intent model, the fake
    backend answering extractively (what the customer reads comes from the pages, not canned model text)."""
    return {
        "ASSISTANT_DATA_DIR": str(data_dir),
        "ASSISTANT_MODEL_CACHE_DIR": str(model_cache_dir),
        "ASSISTANT_UNDERSTANDING__INTENT_MODEL_DIR": str(model_cache_dir / "test-intent-model"),
        "ASSISTANT_ENGINE__BACKEND": "fake",
        "ASSISTANT_ENGINE__ANSWERS": "extractive",
        "ASSISTANT_SECURITY__ADMIN_KEY": admin_key,
        "ASSISTANT_SECURITY__REQUIRE_KEYS": "true",
        **extra,
    }


@contextmanager
def running_server(env: dict[str, str], *, ready_timeout: float = 600.0, port: int | None = None,
                   module: str = "assistant") -> Iterator[tuple[str, subprocess.Popen]]:
    """Start `python -m MODULE serve` (`assistant serve`, or a wrapper such as tests.with_constants) as a real
    process on a free port; yields (base_url, process)."""
    port = port or free_port()
    full_env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
    (ROOT / "test-output").mkdir(exist_ok=True)
    log = open(ROOT / "test-output" / f"server-{port}.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", module, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=full_env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + ready_timeout
        while time.time() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}; see {log.name}")
            try:
                ready = httpx.get(f"{base}/readyz", timeout=2)
            except httpx.HTTPError:
                ready = None
            if ready is not None and ready.status_code == 200:
                break
            if ready is not None and ready.json().get("status") == "error":  # a failed load is final: say why now
                raise RuntimeError(f"server failed to load: {ready.json().get('detail')}; see {log.name}")
            time.sleep(0.5)
        else:
            raise TimeoutError(f"server not ready after {ready_timeout}s; see {log.name}")
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()


@dataclass
class FakeHit:
    doc_id: str
    title: str
    text: str
    score: float
    chunk_id: str = ""
    url: str | None = None
    section: str | None = None


@dataclass
class FakeRetriever:
    hits: list[FakeHit] = field(default_factory=list)
    queries: list[tuple[str, int, str]] = field(default_factory=list)

    def search(self, query: str, k: int = 4, namespace: str = "default", mode: str | None = None) -> list[FakeHit]:
        self.queries.append((query, k, namespace))
        return self.hits[:k]


class FakeClassifier:
    """Stands in for Understanding in fast unit tests: fixed intent, keyword sentiment."""

    def __init__(self, intent: str | None = "refund_status", confidence: float = 0.5, templates: Any = None) -> None:
        self.intent, self.confidence, self.templates = intent, confidence, templates
        # like an intent model folder saved before examples.json: no intent vouches for a weak page
        self.intents = SimpleNamespace(examples={})

    def classify(self, text: str) -> Classification:
        negative = any(w in text.lower() for w in ("terrible", "awful", "angry", "worst"))
        sentiment = Sentiment(label="negative", score=-0.8) if negative else Sentiment(label="neutral", score=0.0)
        return Classification(intent=self.intent, confidence=self.confidence, out_of_scope=self.intent is None,
                              intents=[IntentScore(intent=self.intent or "oos", probability=self.confidence)],
                              sentiment=sentiment, language=detect_language(text))
