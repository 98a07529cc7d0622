"""Merge the per-area benchmark sections (docs/bench/*.md) into docs/benchmarks.md.

    python bench/merge.py
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ORDER = ["install", "answers-text", "spine", "retrieval", "understanding", "second-encoder", "oos_scores", "answers", "rephrase", "grounded-ttft", "engines", "engines-answers", "repetition", "repetition-mlops",
         "finetune", "sites", "console", "deploy"]

HEADER = """# Benchmarks

Every number here was produced by a script in `bench/` on the project's build machine (2 CPU cores, 24 GiB, no GPU)
unless the section says otherwise. Each section records its date and the exact command; rerun it to reproduce.
Sections are written by the scripts into `docs/bench/<area>.md` and merged here by `python bench/merge.py`.
Speeds on this shared 2-core machine are noisy: compare ratios measured in the same run, not across sections.
"""


def main() -> None:
    parts = sorted((ROOT / "docs" / "bench").glob("*.md"),
                   key=lambda p: (ORDER.index(p.stem) if p.stem in ORDER else len(ORDER), p.stem))
    # sections link their images relative to docs/bench/; the merged file lives one level up
    body = "\n\n".join(re.sub(r"\]\((?!https?:|/|bench/)([^)]+\.png)\)", r"](bench/\1)", p.read_text().strip())
                         for p in parts)
    (ROOT / "docs" / "benchmarks.md").write_text(HEADER + "\n" + body + "\n")
    print(f"docs/benchmarks.md: {len(parts)} sections")


if __name__ == "__main__":
    main()
