"""Time to first token of grounded answers drafted by the model, through the whole pipeline, one run.

    python bench/grounded_ttft.py            # store set, default engine (onnx on a CPU)

Runs `assistant eval answers` with engine.answers=checked (the default model drafts every grounded answer;
by default it answers extractively) on the store KB and queries, and reads each grounded turn's TTFT,
prompt tokens and citation from the per-query details. The context budget is the answers' default (the
top 2 passages cut to their sentences closest to the question, assistant/engine/context.py).
TTFT is measured in the facade from the customer message to the first streamed answer text, so
it includes understanding, retrieval, source selection, prefill and the answer check's hold.
Writes bench/results/grounded-ttft.md and bench/results/grounded-ttft.png.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from datetime import datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.answers_runner import add_arguments, eval_answers  # noqa: E402


def summarise(metrics: dict, rows: list[dict]) -> dict:
    generated = [r for r in rows if r["route"] in ("generate", "extractive") and r["ttft_ms"] is not None]
    ttft = [r["ttft_ms"] for r in generated]
    return {
        "generated": len(generated),
        "ttft_ms_p50": round(float(np.percentile(ttft, 50)), 1),
        "ttft_ms_p90": round(float(np.percentile(ttft, 90)), 1),
        "under_500ms": round(float(np.mean([t <= 500 for t in ttft])), 3),
        "prompt_tokens_p50": int(np.percentile([r["prompt_tokens"] for r in generated], 50)),
        "source_hit_at_1": metrics["source_hit_at_1"],
        "answered_rate": metrics["answered_rate"],
        "abstain_or_handoff_rate_unanswerable": metrics["abstain_or_handoff_rate_unanswerable"],
        "ttft": ttft,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args()
    load = os.getloadavg()
    os.environ["ASSISTANT_ENGINE__ANSWERS"] = "checked"
    with tempfile.TemporaryDirectory() as tmp:
        results = {"default": summarise(*eval_answers(args, {}, Path(tmp) / "run.jsonl"))}

    r = results["default"]
    lines = [
        "## Grounded answers drafted by the model: time to first token",
        "",
        f"Date: {datetime.now().isoformat(timespec='minutes')}. Machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"no GPU; load average before: {[round(x, 2) for x in load]}.",
        f"Command: `python bench/grounded_ttft.py` (`ASSISTANT_ENGINE__ANSWERS=checked assistant eval answers --kb "
        f"{args.kb.relative_to(ROOT)} --queries {args.queries.relative_to(ROOT)} --details ...`; default engine: onnx, "
        "onnxruntime-genai's Engine; greedy).",
        "",
        "TTFT: from the customer message to the first streamed answer text, measured in the facade, so it includes "
        "understanding, retrieval, source selection, prefill and the answer check's hold. Grounded turns only "
        "(the model drafted them); templates and abstentions answer in ~10 ms. The model reads the answers' context "
        "budget: the top 2 passages, cut to the 450 characters of their sentences closest to the question.",
        "",
        "| grounded turns | prompt tokens p50 | TTFT p50 | TTFT p90 | TTFT <= 0.5 s | source_hit_at_1 | answered "
        "| abstain/handoff on unanswerable |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {r['generated']} | {r['prompt_tokens_p50']} | {r['ttft_ms_p50']:.0f} ms | {r['ttft_ms_p90']:.0f} ms "
        f"| {r['under_500ms']:.0%} | {r['source_hit_at_1']} | {r['answered_rate']} "
        f"| {r['abstain_or_handoff_rate_unanswerable']} |",
    ]
    lines += ["", "![grounded TTFT](grounded-ttft.png)", ""]
    (ROOT / "bench/results/grounded-ttft.md").write_text("\n".join(lines))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.6))
    for name, r in results.items():
        xs = np.sort(r["ttft"])
        ax.step(xs, np.arange(1, len(xs) + 1) / len(xs), where="post", label=f"{name} (p50 {r['ttft_ms_p50']:.0f} ms)")
    ax.axvline(500, color="grey", ls=":", lw=1)
    ax.set_xlabel("time to first token, grounded answer (ms)")
    ax.set_ylabel("share of grounded turns")
    ax.set_title("Store eval set, default onnx engine, 2 cores")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(ROOT / "bench/results/grounded-ttft.png", dpi=110)
    print(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "ttft"} for k, v in results.items()}))


if __name__ == "__main__":
    main()
