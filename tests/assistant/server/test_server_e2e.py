"""End to end: the real server process on a free port, the real default models, a real SQLite file."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support import parse_sse, running_server

pytestmark = pytest.mark.slow

QUESTION = "How long does it take to get my money back after I return something?"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="module")
def env(data_dir: Path, model_cache_dir: Path) -> dict[str, str]:
    return {
        "ASSISTANT_DATA_DIR": str(data_dir),
        "ASSISTANT_MODEL_CACHE_DIR": str(model_cache_dir),
        # the intent model trained from the bundled samples is shared by the server tests (trained once per run)
        "ASSISTANT_UNDERSTANDING__INTENT_MODEL_DIR": str(model_cache_dir / "test-intent-model"),
        "ASSISTANT_ENGINE__BACKEND": "transformers",
        "ASSISTANT_ENGINE__MAX_NEW_TOKENS": "40",
        # the model drafts every answer: these tests are about the engine's stream (auto answers extractively
        # with the embedded 135M model, without it)
        "ASSISTANT_ENGINE__ANSWERS": "checked",
    }


def test_streamed_answer_equals_json_answer_at_temperature_zero(env: dict[str, str]) -> None:
    with running_server(env) as (base, _):
        plain = httpx.post(f"{base}/v1/chat", json={"message": QUESTION}, timeout=120)
        assert plain.status_code == 200, plain.text
        reply = plain.json()
        assert reply["route"] in ("generate", "extractive"), reply
        assert reply["sources"] and reply["sources"][0]["doc_id"] and reply["sources"][0]["snippet"]
        assert reply["timings"]["ttft_ms"] > 0 and reply["timings"]["total_ms"] >= reply["timings"]["ttft_ms"]

        with httpx.stream("POST", f"{base}/v1/chat", json={"message": QUESTION, "stream": True},
                          timeout=120) as r:
            assert r.status_code == 200
            assert r.headers["x-accel-buffering"] == "no"
            body = "".join(r.iter_text())
        events = parse_sse(body)
        names = [n for n, _ in events]
        assert names[0] == "classification" and "sources" in names and names[-1] == "done"
        joined = "".join(d["text"] for n, d in events if n == "token").strip()
        assert joined == reply["answer"]
        assert events[-1][1]["reply"]["answer"] == reply["answer"]
        assert [s["doc_id"] for s in events[-1][1]["reply"]["sources"]] == [s["doc_id"] for s in reply["sources"]]


def test_conversation_survives_a_restart(env: dict[str, str]) -> None:
    with running_server(env) as (base, _):
        first = httpx.post(f"{base}/v1/chat", json={"message": "Can I change the delivery address of my order?"},
                           timeout=120).json()
        conv_id = first["conversation_id"]
    with running_server(env) as (base, _):
        transcript = httpx.get(f"{base}/v1/conversations/{conv_id}", timeout=10).json()
        assert [m["role"] for m in transcript["messages"]] == ["user", "assistant"]
        assert transcript["messages"][1]["content"] == first["answer"]
        follow = httpx.post(f"{base}/v1/chat", json={"message": "And what if it has already shipped?",
                                                      "conversation_id": conv_id}, timeout=120)
        assert follow.status_code == 200, follow.text
        transcript = httpx.get(f"{base}/v1/conversations/{conv_id}", timeout=10).json()
        assert len(transcript["messages"]) == 4


def test_the_default_engine_on_a_cpu_is_onnx_and_answers(env: dict[str, str], tmp_path: Path) -> None:
    """No ASSISTANT_ENGINE__BACKEND: `auto` picks the onnx engine here (CPU, no vLLM, no adapter)."""
    default = {k: v for k, v in env.items() if k != "ASSISTANT_ENGINE__BACKEND"}
    default.update(ASSISTANT_DATA_DIR=str(tmp_path), ASSISTANT_ENGINE__ADAPTERS_DIR=str(tmp_path / "adapters"))
    with running_server(default) as (base, _):
        health = httpx.get(f"{base}/readyz", timeout=10).json()
        assert health["backend"] == "onnx", health
        # Not every grounded question gets model text: the 135M model sometimes opens by echoing a <source>
        # tag (even in fp32: QUESTION above does), and then the extractive answer stands in (4 of 27 generated
        # store turns with an earlier build of the model; the guarantee question asked here before is one). This question is
        # answered by the model.
        reply = httpx.post(f"{base}/v1/chat", json={"message": "Do you ship camping gas abroad?"},
                           timeout=120).json()
        assert reply["route"] in ("generate", "extractive") and reply["sources"], reply
        assert reply["timings"]["completion_tokens"] > 0 and "gas" in reply["answer"].lower(), reply
