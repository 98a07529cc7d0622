"""deploy/image.sh on bad ground: a missing tool or a base that cannot be made ends with one clear line and a
non-zero exit (CI fails rather than skipping). The full build, start and question run in `make test-image`."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.support import ROOT

SCRIPT = ROOT / "deploy" / "image.sh"


def run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["/bin/bash", str(SCRIPT)], capture_output=True, text=True, timeout=300,
                          env={"HOME": os.environ.get("HOME", "/tmp"), **env})


def test_a_missing_tool_is_one_line_and_a_failure() -> None:
    result = run({"PATH": "/nonexistent"})
    assert result.returncode != 0
    assert result.stderr.splitlines() == [
        "deploy/image.sh: buildah is not installed (Debian: apt-get install buildah mmdebstrap)"]
    assert result.stdout == ""


def test_a_base_that_cannot_be_made_is_one_line_and_a_failure() -> None:
    if not (shutil.which("buildah") and shutil.which("mmdebstrap")):
        if os.environ.get("CI") == "true":
            pytest.fail("CI installs buildah and mmdebstrap (make image-tools) before the tests")
        pytest.skip("buildah and mmdebstrap are not installed here (make image-tools)")
    result = run({"PATH": os.environ["PATH"], "SUITE": "no-such-suite",
                  "BASE_IMAGE": "localhost/no-such-base:test", "STORAGE_DRIVER": "vfs"})
    assert result.returncode != 0
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("deploy/image.sh: mmdebstrap could not make the no-such-suite base"), \
        result.stderr
