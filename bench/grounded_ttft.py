"""Time to first token of grounded answers through the whole pipeline, by what the model reads, one run.

    python bench/grounded_ttft.py            # store set, default engine (onnx on a CPU), 32 new tokens

Runs `assistant eval answers` on the same KB and queries three times and reads each grounded
(generated) turn's TTFT, prompt tokens and citation from the per-query details:
- `int8, whole passages`: int8 weight-only model (onnx_genai.ONNX_PRECISION = "int8"), the top 4 passages
  whole (each cut at 700 characters): the default before this session's changes;
- `int8`: the top 2 passages cut to their sentences closest to the question (context.CONTEXT_PASSAGES = 2,
  CONTEXT_CHARS = 450; assistant/engine/context.py), int8 weight-only model;
- `default`: the same sources, the W8A8 model (ONNX_PRECISION = "w8a8"; int8 activations too,
  assistant/engine/quantization.py).
All run on every core and keep the onnx model process's prefix cache (the system rules are prefilled once).
TTFT is measured in the facade from the customer message to the first streamed answer text, so
it includes understanding, retrieval, source selection, prefill and the answer guard's hold.
Writes docs/bench/grounded-ttft.md and docs/bench/grounded-ttft.png.
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

PRECISION = "assistant.engine.backends.onnx_genai:ONNX_PRECISION"
VARIANTS = {
    "int8, whole passages": {PRECISION: "int8", "assistant.engine.context:CONTEXT_CHARS": 0,
                             "assistant.engine.context:CONTEXT_PASSAGES": 4},
    "int8": {PRECISION: "int8"},
    "default": {},
}


def summarise(metrics: dict, rows: list[dict]) -> dict:
    generated = [r for r in rows if r["route"] == "generate" and r["ttft_ms"] is not None]
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
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n, (name, constants) in enumerate(VARIANTS.items()):
            results[name] = summarise(*eval_answers(args, constants, Path(tmp) / f"{n}.jsonl"))
            print(name, {k: v for k, v in results[name].items() if k != "ttft"}, flush=True)

    lines = [
        "## Grounded answers: time to first token by what the model reads",
        "",
        f"Date: {datetime.now().isoformat(timespec='minutes')}. Machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"no GPU; load average before: {[round(x, 2) for x in load]}.",
        f"Command: `python bench/grounded_ttft.py` (three runs of `assistant eval answers --kb {args.kb.relative_to(ROOT)} "
        f"--queries {args.queries.relative_to(ROOT)} --details ...`; default engine, 32 new tokens, greedy).",
        "",
        "TTFT: from the customer message to the first streamed answer text, measured in the facade, so it includes "
        "understanding, retrieval, source selection, prefill and the answer guard's hold. Grounded (generated) turns "
        "only; templates and abstentions answer in ~10 ms. The onnx model process keeps the previous request's KV "
        "cache and prefills only what a prompt does not share with it (the system rules, ~60 tokens); every core.",
        "",
        "| model reads | weights | grounded turns | prompt tokens p50 | TTFT p50 | TTFT p90 | TTFT <= 0.5 s "
        "| source_hit_at_1 | answered | abstain/handoff on unanswerable |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    closest = "top 2 passages, 450 chars of closest sentences"
    reads = {"int8, whole passages": ("top 4 passages whole", "int8 weight-only"), "int8": (closest, "int8 weight-only"),
             "default": (f"{closest} (default)", "w8a8 (default)")}
    for name, r in results.items():
        what, weights = reads[name]
        lines.append(f"| {what} | {weights} | {r['generated']} | {r['prompt_tokens_p50']} | {r['ttft_ms_p50']:.0f} ms "
                     f"| {r['ttft_ms_p90']:.0f} ms | {r['under_500ms']:.0%} | {r['source_hit_at_1']} | {r['answered_rate']} "
                     f"| {r['abstain_or_handoff_rate_unanswerable']} |")
    lines += ["", "![grounded TTFT](grounded-ttft.png)", ""]
    (ROOT / "docs/bench/grounded-ttft.md").write_text("\n".join(lines))

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
    fig.savefig(ROOT / "docs/bench/grounded-ttft.png", dpi=110)
    print(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "ttft"} for k, v in results.items()}))


if __name__ == "__main__":
    main()
