"""Gather the sections the benchmark scripts wrote (bench/results/*.md) into bench/results/all.md.

    python bench/merge.py

Each script writes its area's section, with date, machine and command, to bench/results/<area>.md (not
committed). docs/benchmarks.md holds the current results only: copy a new table there over the old one,
with its date, machine, command and the peer it was compared with in the same run; git keeps the history.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def main() -> None:
    parts = sorted(p for p in RESULTS.glob("*.md") if p.name != "all.md")
    body = "\n\n".join(p.read_text(encoding="utf-8").strip() for p in parts)
    (RESULTS / "all.md").write_text("# Benchmark results of this checkout\n\n" + body + "\n", encoding="utf-8")
    print(f"bench/results/all.md: {len(parts)} sections; copy what changed into docs/benchmarks.md")


if __name__ == "__main__":
    main()
