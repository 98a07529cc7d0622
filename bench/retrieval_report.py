"""Shared by the bench/retrieval*.py scripts: record a part's numbers and rewrite bench/results/retrieval.md.

Each script stores its part (with date, machine, load average and exact command) in
bench/results/retrieval.json; the Markdown is regenerated from all parts, so parts can be rerun
separately on a busy machine.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
JSON_PATH = ROOT / "bench" / "results" / "retrieval.json"
MD_PATH = ROOT / "bench" / "results" / "retrieval.md"
ORDER = ["quality", "fusion", "abstention", "calibration", "ingest", "precision", "latency", "hnsw"]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()}-core {cpu}, {mem:.0f} GiB RAM, no GPU"


def record(part: str, markdown: str, numbers: dict[str, Any]) -> None:
    """Store one part (its Markdown body and raw numbers) and regenerate the Markdown file."""
    data = json.loads(JSON_PATH.read_text()) if JSON_PATH.exists() else {}
    data[part] = {
        "date": dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "machine": machine(),
        "load_average": [round(x, 1) for x in os.getloadavg()],
        "command": "python " + " ".join([os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]]),
        "markdown": markdown,
        "numbers": numbers,
    }
    JSON_PATH.parent.mkdir(parents=True, exist_ok=True)
    JSON_PATH.write_text(json.dumps(data, indent=1, default=float))
    render(data)


def render(data: dict[str, Any]) -> None:
    lines = [
        "## Retrieval",
        "",
        "Scripts: bench/retrieval_quality.py, bench/retrieval_calibrate.py, bench/retrieval_speed.py, bench/retrieval_precision.py, "
        "bench/retrieval_hnsw.py (eval sets from bench/retrieval_faq_data.py). The machine is shared with other "
        "jobs: the load average at the start of each run is recorded.",
    ]
    for part in sorted(data, key=lambda p: ORDER.index(p) if p in ORDER else len(ORDER)):
        entry = data[part]
        lines += [
            "",
            entry["markdown"].strip(),
            "",
            f"*{entry['date']}, {entry['machine']}, load average {entry['load_average']}; "
            f"command: `{entry['command']}`*",
        ]
    MD_PATH.write_text("\n".join(lines) + "\n")


def table(header: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        return f"{v:.4f}" if isinstance(v, float) else str(v)

    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(out)
