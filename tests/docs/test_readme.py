"""The README's examples run as written: its `curl` and OpenAI-client blocks against a real `assistant serve`
started as `make run` starts it (local mode: keys not required), on a free port instead of 8000."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT, running_server

pytestmark = pytest.mark.slow

FENCE = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```\s*$", re.M | re.S)


def _examples() -> list[tuple[str, str]]:
    """(language, code) of every README block that talks to the local server."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [(lang, code) for lang, code in FENCE.findall(text)
            if lang in ("bash", "python") and "localhost:8000" in code]


def test_readme_shows_the_http_and_openai_examples() -> None:
    found = _examples()
    assert [lang for lang, _ in found] == ["bash", "python"]
    assert 'OpenAI(base_url="http://localhost:8000/v1", api_key="local")' in found[1][1]


def test_readme_examples_run_against_a_local_server(tmp_path: Path, model_cache_dir: Path) -> None:
    env = {"ASSISTANT_DATA_DIR": str(tmp_path / "data"), "ASSISTANT_MODEL_CACHE_DIR": str(model_cache_dir),
           "ASSISTANT_UNDERSTANDING__INTENT_MODEL_DIR": str(model_cache_dir / "test-intent-model")}
    with running_server(env, ready_timeout=900) as (base, _):
        for lang, code in _examples():
            code = code.replace("http://localhost:8000", base).replace("localhost:8000", base)
            args = [sys.executable, "-c", code] if lang == "python" else ["bash", "-euo", "pipefail", "-c", code]
            done = subprocess.run(args, capture_output=True, text=True, timeout=300, cwd=tmp_path)
            assert done.returncode == 0, f"{lang} example failed:\n{code}\n{done.stdout}\n{done.stderr}"
            assert "refund" in done.stdout.lower() or "business days" in done.stdout, done.stdout
