"""The user guide (docs/) runs: every ```bash, ```console and ```python block of a guide page is executed.

Fence info strings say how a block runs (visible in the Markdown, so a reader sees which blocks are tested):

    ```bash            runs in the fast suite (`make check`): no model load, no server
    ```bash slow       loads real models (embedding, intent, chat): marked slow, runs in `make test`
    ```bash server     needs the server: one real `assistant serve` per page on a free port is started for it, and
                       `localhost:8000` in the block is pointed at that server (slow)
    ```bash no-test    never runs: it serves forever (`make run`), needs Docker, a cluster, a GPU or your own files

`console` blocks are transcripts: each `$ ` line runs, and every other non-empty line must appear in the output
(`...` stands for any text). `python` blocks run with the venv's interpreter. Every block must exit 0.

The blocks of one page run in order in one working directory and one ASSISTANT_DATA_DIR (both temporary), with
the repository's `.venv/bin` first on PATH. The guide's commands run from the repository root, so the working
directory links the repository's folders they read (REPO_DIRS); what they write stays in the temporary one. The
model cache is shared (ASSISTANT_MODEL_CACHE_DIR), so models converted once are reused. A fast block never
depends on a slow one.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
# The guide, in reading order (docs/README.md lists the same pages in this order).
PAGES = [
    "quickstart.md",
    "knowledge-base.md",
    "intents-and-templates.md",
    "widget-and-sites.md",
    "console-and-handoff.md",
    "fine-tuning.md",
    "deployment.md",
    "troubleshooting.md",
    "api.md",
]
RUNNERS = {"bash", "console", "python"}
MODES = {"", "slow", "server", "no-test"}
FENCE = re.compile(r"^```(\w*)([^\n]*)\n(.*?)^```\s*$", re.M | re.S)
BLOCK_TIMEOUT = 900
REPO_DIRS = ("assistant", "bench", "deploy", "finetune")


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    lang: str
    mode: str
    code: str

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def blocks(page: str) -> list[Block]:
    text = (DOCS / page).read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        lang, info, code = match.group(1), match.group(2).strip(), match.group(3)
        if lang not in RUNNERS:
            continue
        line = text.count("\n", 0, match.start()) + 1
        found.append(Block(page, line, lang, info, code))
    return found


ALL = [b for page in PAGES for b in blocks(page)]
RUNNABLE = [b for b in ALL if b.mode != "no-test"]


def _param(block: Block):
    marks = [pytest.mark.slow] if block.mode in {"slow", "server"} else []
    return pytest.param(block, id=block.id, marks=marks)


# --- the guide's shape -------------------------------------------------------------------------------------------

def test_index_lists_the_pages_in_order() -> None:
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    positions = [index.find(f"({page})") for page in PAGES]
    assert all(p >= 0 for p in positions), [page for page, p in zip(PAGES, positions, strict=True) if p < 0]
    assert positions == sorted(positions), "docs/README.md lists the guide out of order"


def test_docs_stay_small_and_hold_no_benchmark_diaries() -> None:
    markdown = sum(p.stat().st_size for p in DOCS.rglob("*.md"))
    assert markdown <= 300_000, f"docs/ holds {markdown} bytes of Markdown (at most 300 KB)"
    assert not (DOCS / "bench").exists(), "benchmark sections go to bench/results/, current numbers to docs/benchmarks.md"
    assert sorted(p.name for p in DOCS.glob("*.md")) == sorted([*PAGES, "README.md", "benchmarks.md"])


def test_every_block_has_a_known_mode() -> None:
    bad = [(b.id, b.mode) for b in ALL if b.mode not in MODES]
    assert not bad, f"unknown fence info strings (use one of {sorted(MODES)}): {bad}"


def test_few_blocks_are_excluded() -> None:
    excluded = [b.id for b in ALL if b.mode == "no-test"]
    assert len(excluded) <= len(ALL) // 3, f"most blocks should run; excluded: {excluded}"


def test_relative_links_resolve() -> None:
    broken = []
    for page in ["README.md", *PAGES, "benchmarks.md"]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", (DOCS / page).read_text(encoding="utf-8")):
            if not re.match(r"[a-z]+:", target) and not (DOCS / target).exists():
                broken.append(f"{page}: {target}")
    assert not broken, broken


# --- running the blocks ------------------------------------------------------------------------------------------

class PageRun:
    """Working directory, environment and (when a block asks) a server shared by one page's blocks."""

    def __init__(self, page: str, base: Path, model_cache: Path) -> None:
        self.page = page
        self.cwd = base / "work"
        self.cwd.mkdir(parents=True)
        for name in REPO_DIRS:
            (self.cwd / name).symlink_to(ROOT / name, target_is_directory=True)
        self.env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "ASSISTANT_DATA_DIR": str(base / "data"),
            "ASSISTANT_MODEL_CACHE_DIR": str(model_cache),
            "COLUMNS": "120",
            "NO_COLOR": "1",
            "PYTHONUNBUFFERED": "1",
        }
        for name in ("ASSISTANT_KB_PATH", "ASSISTANT_ENGINE__BACKEND", "ASSISTANT_DATABASE_URL"):
            self.env.pop(name, None)
        self._server = None
        self.base_url = ""
        self.done: set[str] = set()

    def server(self) -> str:
        if self._server is None:
            from tests.support import running_server

            self._server = running_server({k: v for k, v in self.env.items() if k.startswith("ASSISTANT_")})
            self.base_url, _ = self._server.__enter__()
        return self.base_url

    def close(self) -> None:
        if self._server is not None:
            self._server.__exit__(None, None, None)

    def run(self, args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(args, input=stdin, cwd=self.cwd, env=self.env, capture_output=True, text=True,
                              timeout=BLOCK_TIMEOUT)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, model_cache_dir: Path):
    made: dict[str, PageRun] = {}

    def get(page: str) -> PageRun:
        if page not in made:
            made[page] = PageRun(page, tmp_path_factory.mktemp(page.removesuffix(".md")), model_cache_dir)
        return made[page]

    yield get
    for run in made.values():
        run.close()


def _check(block: Block, result: subprocess.CompletedProcess) -> str:
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{block.id} exited {result.returncode}:\n{block.code}\n--- output ---\n{output[-4000:]}"
    return output


def _expect(block: Block, expected: list[str], output: str) -> None:
    for line in expected:
        pattern = ".*?".join(re.escape(part.strip()) for part in line.split("...") if part.strip())
        assert re.search(pattern, output), f"{block.id}: expected {line!r} in the output:\n{output[-4000:]}"


def _execute(block: Block, run: PageRun) -> None:
    code = block.code
    if block.mode == "server":
        code = code.replace("http://localhost:8000", run.server()).replace("localhost:8000", run.server())
    if block.lang == "python":
        _check(block, run.run([sys.executable, "-c", code]))
    elif block.lang == "bash":
        _check(block, run.run(["bash", "-euo", "pipefail", "-c", code]))
    else:  # console: "$ command" lines, each followed by the lines its output must contain
        steps: list[tuple[str, list[str]]] = []
        for line in code.splitlines():
            if line.startswith("$ "):
                steps.append((line[2:], []))
            elif line.strip() and steps:
                steps[-1][1].append(line)
        assert steps, f"{block.id}: a console block needs at least one '$ ' line"
        for command, expected in steps:
            output = _check(block, run.run(["bash", "-euo", "pipefail", "-c", command]))
            _expect(block, expected, output)
    run.done.add(block.id)


@pytest.mark.parametrize("block", [_param(b) for b in RUNNABLE])
def test_block_runs(block: Block, runs) -> None:
    run = runs(block.page)
    # a selection (-m slow, -k) may skip the page's earlier fast blocks, which set up files the later ones use
    for earlier in RUNNABLE:
        if earlier.page == block.page and earlier.line < block.line and not earlier.mode and earlier.id not in run.done:
            _execute(earlier, run)
    _execute(block, run)


def test_readme_is_short_and_its_links_resolve() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) < 250
    missing = [t for t in re.findall(r"\]\(([^)#\s]+)\)", readme) if not re.match(r"[a-z]+:", t) and not (ROOT / t).exists()]
    assert not missing, missing
