"""Fine-tuning benchmarks: LoRA training tokens/s on this CPU, and the README example end to end.

    .venv/bin/python bench/finetune.py --part throughput [--steps 3] [--threads 2]   # tokens/s, 3 variants
    .venv/bin/python bench/finetune.py --part example                 # prepare -> train -> eval, timed

Throughput trains the embedded SmolLM2-135M (float32, LoRA r=8 on q,k,v,o) on batches of 8 real
rendered sample rows and times forward + backward + AdamW steps for three variants in the same run,
interleaved so that CPU contention hits them alike: the stock causal-LM loss (logits for every
position), reply-only logits, and reply-only logits with the shared system prompt run once per
batch (the `finetune train` default). Tokens are the non-padding tokens of every row.
The example part runs the README commands as subprocesses. Results go to bench/results/finetune.json
and bench/results/finetune.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT_JSON = ROOT / "bench" / "results" / "finetune.json"
OUT_MD = ROOT / "bench" / "results" / "finetune.md"
MACHINE = "2-core CPU (AVX2, no GPU), 24 GiB RAM, shared with other jobs"


def _load() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def throughput(steps: int, batch_size: int, threads: int) -> dict:
    import torch
    from peft import LoraConfig, get_peft_model
    from tqdm import tqdm
    from transformers import DataCollatorForSeq2Seq

    from assistant.engine.settings import Settings
    from finetune.base_model import load_base
    from finetune.prepare import PrepareOptions, prepare
    from finetune.tokenization import IGNORE, encode_rows, read_rows
    from finetune.trainer import answer_loss

    torch.set_num_threads(threads)
    settings = Settings()
    with tempfile.TemporaryDirectory() as tmp:
        prepare(PrepareOptions(output_dir=f"{tmp}/data"), settings)
        rows = read_rows(Path(tmp, "data", "train.jsonl"))
    base = load_base("", settings, device="cpu")
    encoded = encode_rows(rows, base.tokenizer, 512)
    torch.manual_seed(0)
    model = get_peft_model(base.model, LoraConfig(r=8, lora_alpha=16, lora_dropout=0.05, task_type="CAUSAL_LM",
                                                  target_modules=["q_proj", "k_proj", "v_proj", "o_proj"]))
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    collate = DataCollatorForSeq2Seq(base.tokenizer, padding=True, label_pad_token_id=IGNORE)
    # Length-grouped batches, as the Trainer's group_by_length sampler makes them.
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]["input_ids"]))
    batches = [collate([dict(encoded[i]) for i in order[s:s + batch_size]])
               for s in range(0, len(order) - batch_size + 1, batch_size)]

    def stock(batch: dict) -> torch.Tensor:
        return model(**batch).loss

    variants = {
        "stock causal-LM loss (all logits)": stock,
        "reply-only logits": lambda b: answer_loss(model, b, share_prefix=False)[0],
        "reply-only logits + shared prompt prefix (default)": lambda b: answer_loss(model, b, share_prefix=True)[0],
    }
    totals = {name: [0, 0.0, 0.0] for name in variants}  # tokens, wall seconds, CPU seconds
    for step in tqdm(range(steps + 1), desc="throughput steps"):
        batch = batches[(step * 7) % len(batches)]
        tokens = int(batch["attention_mask"].sum())
        for name, fn in variants.items():
            wall, cpu = time.perf_counter(), time.process_time()
            fn(batch).backward()
            optimizer.step()
            optimizer.zero_grad()
            if step:  # the first round is warm-up
                totals[name][0] += tokens
                totals[name][1] += time.perf_counter() - wall
                totals[name][2] += time.process_time() - cpu
    return {"steps": steps, "batch_size": batch_size, "threads": torch.get_num_threads(),
            "mean_row_tokens": round(encoded.tokens / len(encoded), 1),
            "tokens_per_second": {k: round(t / w, 1) for k, (t, w, _) in totals.items()},
            "tokens_per_cpu_second": {k: round(t / c, 1) for k, (t, _, c) in totals.items()}}


def _timed(cmd: list[str]) -> float:
    started = time.perf_counter()
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True)
    return time.perf_counter() - started


def example() -> dict:
    assistant = [str(ROOT / ".venv" / "bin" / "assistant")]
    with tempfile.TemporaryDirectory() as tmp:
        data, run, registry = f"{tmp}/data", f"{tmp}/support-lora", f"{tmp}/adapters"
        times = {
            "prepare": _timed([*assistant, "finetune", "prepare", "--output_dir", data]),
            "train": _timed([*assistant, "finetune", "train", "--config", "finetune/configs/example.yaml",
                             "--data_dir", data, "--output_dir", run]),
            "eval": _timed([*assistant, "finetune", "eval", "--run_dir", run, "--adapters_dir", registry]),
        }
        record = json.loads(Path(run, "run.json").read_text())
        report = json.loads(Path(run, "eval", "report.json").read_text())
        plot = ROOT / "bench" / "results" / "finetune-loss.png"
        plot.write_bytes(Path(run, "eval", "loss.png").read_bytes())
    return {"seconds": {k: round(v, 1) for k, v in times.items()}, "total_s": round(sum(times.values()), 1),
            "rows": record["rows"], "train": record["metrics"], "base": report["base"], "adapter": report["adapter"],
            "gate": report["gate"], "samples": report["samples"][:2]}


def _markdown(results: dict) -> str:
    lines = ["## Fine-tuning (LoRA on the embedded SmolLM2-135M, CPU)", ""]
    runs = results.get("throughput", {})
    if runs:
        first = next(iter(runs.values()))
        lines += [
            f"Training throughput, {first['date']}, {first['machine']} ({first['cpu']}).", "",
            "Commands: " + ", ".join(f"`{r['command']}` (load average {r['load_before']} -> {r['load_after']})"
                                     for r in runs.values()), "",
            f"float32, LoRA r=8 on q,k,v,o, batches of {first['batch_size']} length-grouped sample rows "
            f"(mean {first['mean_row_tokens']} tokens: the serving system prompt, question, reply), {first['steps']} "
            "timed optimizer steps (forward, backward, AdamW) per variant. Target: >= 190 tokens/s on 2 cores.", "",
        ]
        header = "| forward variant |" + "".join(f" {n} thread(s): tokens/s wall | {n} thread(s): tokens per CPU-s |"
                                                for n in runs)
        lines += [header, "|---|" + "---|---|" * len(runs)]
        for variant in first["tokens_per_second"]:
            lines.append(f"| {variant} |" + "".join(f" {r['tokens_per_second'][variant]} | "
                                                    f"{r['tokens_per_cpu_second'][variant]} |" for r in runs.values()))
        lines += ["", "Wall tokens/s is what the run got while other jobs shared the two cores (see the load "
                  "averages). Tokens per CPU-second counts only the CPU time the process received; with one "
                  "thread it is the per-core rate an idle core gives (with two threads under contention it is "
                  "inflated by OpenMP threads spinning at barriers, so read the one-thread column). All three "
                  "variants give the same loss and gradients (tests/finetune/test_forward.py); the last is what "
                  "`assistant finetune train` runs on one device without gradient checkpointing.", ""]
    if "example" in results:
        e = results["example"]
        b, a, g = e["base"], e["adapter"], e["gate"]
        lines += [
            f"README example end to end, {e['date']}, {e['machine']}, load average before/after "
            f"{e['load_before']} -> {e['load_after']}.", "",
            f"Command: `{e['command']}` (runs `assistant finetune prepare`, `train --config "
            "finetune/configs/example.yaml`, `eval`).", "",
            f"Wall time: prepare {e['seconds']['prepare']} s, train {e['seconds']['train']} s, eval "
            f"{e['seconds']['eval']} s, total {e['total_s']} s ({e['total_s'] / 60:.1f} min; target <= 10 min). "
            f"{e['rows']['train']} training rows, {e['train']['steps']} steps, "
            f"{e['train']['train_tokens_per_second']} tokens/s inside the Trainer.", "",
            "| validation metric | base | adapter |", "|---|---|---|",
            f"| loss (reply tokens) | {b['val_loss']:.3f} | {a['val_loss']:.3f} |",
            f"| perplexity | {b['perplexity']:.1f} | {a['perplexity']:.1f} |",
            f"| answer-ranking accuracy | {b['ranking_accuracy']:.1%} | {a['ranking_accuracy']:.1%} |",
            f"| ROUGE-L F1 | {b['rouge_l']:.3f} | {a['rouge_l']:.3f} |",
            f"| embedding cosine (MiniLM) | {b['embedding_cosine']:.3f} | {a['embedding_cosine']:.3f} |",
            f"| answers keeping all key facts | {b['key_fact_retention']:.1%} | {a['key_fact_retention']:.1%} |",
            "", f"Gate: **{'promoted' if g['promoted'] else 'rejected'}**"
            + ("" if g["promoted"] else " - " + "; ".join(g["reasons"])) + ".", "",
            "![loss curves of the README example](bench/finetune-loss.png)", "",
        ]
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=["throughput", "example", "all"], default="all")
    ap.add_argument("--steps", type=int, default=3, help="timed optimizer steps per variant")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2, help="torch threads for the throughput part")
    args = ap.parse_args()
    results = json.loads(OUT_JSON.read_text()) if OUT_JSON.exists() else {}
    common = {"machine": MACHINE, "cpu": _cpu(), "command": "python bench/finetune.py " + " ".join(sys.argv[1:])}
    for part in (["throughput", "example"] if args.part == "all" else [args.part]):
        before = _load()
        started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        result = throughput(args.steps, args.batch_size, args.threads) if part == "throughput" else example()
        result = {**result, **common, "date": started, "load_before": before, "load_after": _load()}
        if part == "throughput":
            results.setdefault("throughput", {})[str(args.threads)] = result
        else:
            results[part] = result
        OUT_JSON.write_text(json.dumps(results, indent=2, ensure_ascii=False))
        OUT_MD.write_text(_markdown(results))
        print(json.dumps({k: v for k, v in result.items() if k != "samples"}, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
