"""Session fixtures shared by the slow tests: one model cache so the GGUF is converted once per run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def model_cache_dir() -> Path:
    """The converted default chat model lives here across tests (and across runs: var/ is gitignored)."""
    path = Path(os.environ.get("ASSISTANT_MODEL_CACHE_DIR", ROOT / "var" / "cache"))
    path.mkdir(parents=True, exist_ok=True)
    return path
