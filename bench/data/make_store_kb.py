"""Regenerate bench/data/store_kb.jsonl from the sample help-centre pages.

Run from the repo root: python bench/data/make_store_kb.py

One line per page in assistant/samples/kb/*.md: {"id": file stem, "title": the `# ` heading, "text": the
markdown body below it}. Benchmarks read this file so they do not depend on the package layout.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KB_DIR = ROOT / "assistant" / "samples" / "kb"
OUT = ROOT / "bench" / "data" / "store_kb.jsonl"


def page_record(path: Path) -> dict[str, str]:
    """Split a page into its H1 title and body; a page without a leading H1 is an authoring error."""
    first, _, body = path.read_text(encoding="utf-8").strip().partition("\n")
    if not first.startswith("# "):
        raise ValueError(f"{path}: first line must be a '# Title' heading")
    return {"id": path.stem, "title": first[2:].strip(), "text": body.strip()}


def main() -> int:
    pages = sorted(KB_DIR.glob("*.md"))
    if not pages:
        print(f"no pages found in {KB_DIR}", file=sys.stderr)
        return 1
    try:
        records = [page_record(p) for p in pages]
    except ValueError as err:
        print(err, file=sys.stderr)
        return 1
    # Written in one go so a failed run never leaves a half-written file behind.
    OUT.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    print(f"wrote {len(records)} pages to {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
