"""50 concurrent streamed (SSE) chats against the real server with the fake backend: 0 errors, p50/p99 reported."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.load.sse_load import run_sse_load
from tests.support import ROOT

pytestmark = pytest.mark.slow  # the server loads the real embedding and intent models


def test_fifty_concurrent_sse_chats_without_errors(fake_server: str) -> None:
    result = asyncio.run(run_sse_load(fake_server, 50))
    summary = result.summary()
    out = ROOT / "test-output"
    out.mkdir(exist_ok=True)
    (out / "load-sse.json").write_text(json.dumps(summary, indent=1))
    print("\n50 concurrent SSE chats:", summary)
    assert result.errors == [], result.errors[:3]
    assert len(result.total_s) == 50
    assert summary["ttft_p50_ms"] <= summary["total_p50_ms"]
