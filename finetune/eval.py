"""Evaluate a trained adapter against its base model on the validation split, gate it, register it.

    python -m finetune.eval --run_dir runs/support-lora        # or: assistant finetune eval ...

Scores base and adapter on the same rows: reply loss and perplexity, answer-ranking accuracy,
ROUGE-L and MiniLM cosine of greedy answers against the references, and the rate of answers that
keep the reference's key facts. Writes run_dir/eval/{report.md, report.json, loss.png}; then the
gate registers the adapter in adapters_dir/NAME or sets it aside under adapters_dir/.rejected.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from statistics import fmean
from typing import Any

from assistant.engine.models import resolve_embedding_model
from assistant.engine.settings import Settings
from finetune import adapters, scoring
from finetune.arguments import options_dict, parse_options
from finetune.base_model import load_base
from finetune.errors import FinetuneError
from finetune.gate import Margins, decide
from finetune.keyfacts import KeyFacts, kb_policy_names
from finetune.plots import plot_losses
from finetune.report import write_report
from finetune.similarity import EmbeddingSimilarity, rouge_l
from finetune.tokenization import encode_rows, read_rows

SAMPLE_KB = Path(__file__).resolve().parent.parent / "assistant" / "samples" / "kb"


@dataclass
class EvalOptions:
    run_dir: str = field(default="runs/support-lora", metadata={"help": "Run folder written by `finetune train`."})
    name: str = field(default="", metadata={"help": "Name to register the adapter under; empty = run folder name."})
    adapters_dir: str = field(default="", metadata={"help": "Adapter registry; empty = settings engine.adapters_dir."})
    data_dir: str = field(default="", metadata={"help": "Prepared data; empty = the one the run was trained on."})
    base_model: str = field(default="", metadata={"help": "Base model; empty = the one the run was trained on."})
    max_generate: int = field(default=24, metadata={"help": "Validation rows answered by greedy generation."})
    max_new_tokens: int = field(default=96, metadata={"help": "Longest generated answer in tokens."})
    batch_size: int = field(default=8, metadata={"help": "Rows per forward pass / generation batch."})
    ranking_negatives: int = field(default=3, metadata={"help": "Wrong replies each reference is ranked against."})
    seed: int = field(default=7, metadata={"help": "Seed for picking the wrong replies."})
    max_length: int = field(default=0, metadata={"help": "Longest row in tokens; 0 = the training max_length."})
    device: str = field(default="auto", metadata={"help": "auto | cpu | cuda"})
    kb_dir: str = field(default="", metadata={
        "help": "Markdown KB whose page titles count as named policies; empty = settings kb_path or the sample KB."})
    min_loss_reduction: float | None = field(default=0.05, metadata={
        "help": "Gate: relative validation-loss reduction required (0.05 = 5%% below base)."})
    min_ranking_gain: float | None = field(default=0.0, metadata={
        "help": "Gate: answer-ranking accuracy gain required over base (0 = must not fall)."})
    min_margin_gain: float | None = field(default=0.0, metadata={
        "help": "Gate: gain in the ranking margin (wrong minus true reply loss, nats/token) required (0 = must not fall)."})
    min_rouge_gain: float | None = field(default=0.0, metadata={"help": "Gate: ROUGE-L F1 gain required."})
    min_cosine_gain: float | None = field(default=None, metadata={"help": "Gate: embedding-cosine gain; unset = off."})
    min_facts_gain: float | None = field(default=0.0, metadata={"help": "Gate: key-fact retention gain required."})
    register: bool = field(default=True, metadata={"help": "Register (or set aside) the adapter after the gate."})
    overwrite: bool = field(default=False, metadata={"help": "Replace an adapter already registered under NAME."})


def _side(model: Any, tokenizer: Any, encoded: Any, rank_items: list, groups: list, options: EvalOptions,
          facts: KeyFacts, similarity: EmbeddingSimilarity, label: str) -> tuple[dict[str, float], list[str]]:
    losses = scoring.reply_losses(model, tokenizer, encoded.items, options.batch_size, desc=f"{label} loss")
    val_loss = scoring.mean_loss(losses)
    ranked = scoring.reply_losses(model, tokenizer, rank_items, options.batch_size, desc=f"{label} ranking")
    rows = encoded.rows[: options.max_generate]
    answers = scoring.generate(model, tokenizer, [r["messages"][:-1] for r in rows], options.max_new_tokens,
                               options.batch_size, desc=f"{label} generate")
    refs = [r["answer"] for r in rows]
    fact_scores = [facts.score(ref, ans) for ref, ans in zip(refs, answers, strict=True)]
    with_facts = [s for s in fact_scores if s.facts]
    metrics = {
        "val_loss": val_loss,
        "perplexity": math.exp(min(val_loss, 50.0)),
        "ranking_accuracy": scoring.ranking_accuracy(ranked, groups),
        "ranking_margin": scoring.ranking_margin(ranked, groups),
        "rouge_l": fmean(rouge_l(refs, answers)) if refs else 0.0,
        "embedding_cosine": fmean(similarity.cosine(refs, answers)) if refs else 0.0,
        "key_fact_retention": fmean(s.all_kept for s in with_facts) if with_facts else 0.0,
        "key_fact_recall": (sum(s.kept for s in with_facts) / sum(s.facts for s in with_facts)) if with_facts else 0.0,
    }
    return metrics, answers


def evaluate(options: EvalOptions, settings: Settings | None = None) -> dict[str, Any]:
    settings = settings or Settings()
    run_dir = Path(options.run_dir)
    record_path, adapter_dir = run_dir / "run.json", run_dir / "adapter"
    if not record_path.is_file() or not (adapter_dir / "adapter_config.json").is_file():
        raise FinetuneError(f"{run_dir} holds no finished training run (run.json + adapter/); run `finetune train`")
    record = json.loads(record_path.read_text())
    name = adapters.validate_name(options.name or run_dir.name)
    data_dir = Path(options.data_dir or record["data_dir"])
    val_rows = read_rows(data_dir / "val.jsonl")
    if not val_rows:
        raise FinetuneError(f"the validation set {data_dir / 'val.jsonl'} is empty; nothing to evaluate on")

    base_spec = options.base_model or (record["base_folder"] if Path(record["base_folder"]).exists() else "")
    base = load_base(base_spec, settings, device=options.device, bf16="off")
    model = adapters.load_adapter(base.model, adapter_dir).eval()
    max_length = options.max_length or record["options"]["max_length"]
    encoded = encode_rows(val_rows, base.tokenizer, max_length)
    rank_items, groups = scoring.ranking_pairs(encoded.rows, base.tokenizer, max_length,
                                               options.ranking_negatives, options.seed)
    kb = Path(options.kb_dir) if options.kb_dir else (settings.kb_path or SAMPLE_KB)
    facts = KeyFacts(kb_policy_names(kb) if Path(kb).is_dir() else [])
    similarity = EmbeddingSimilarity(resolve_embedding_model(settings.retrieval.embedding_model))

    with model.disable_adapter():
        base_metrics, base_answers = _side(model, base.tokenizer, encoded, rank_items, groups, options, facts,
                                           similarity, "base")
    adapter_metrics, adapter_answers = _side(model, base.tokenizer, encoded, rank_items, groups, options, facts,
                                             similarity, "adapter")
    margins = Margins(min_loss_reduction=options.min_loss_reduction, min_ranking_gain=options.min_ranking_gain,
                      min_margin_gain=options.min_margin_gain, min_rouge_gain=options.min_rouge_gain,
                      min_cosine_gain=options.min_cosine_gain, min_facts_gain=options.min_facts_gain)
    decision = decide(base_metrics, adapter_metrics, margins)

    out = run_dir / "eval"
    plot_losses(record.get("log_history", []), out / "loss.png", base_val_loss=base_metrics["val_loss"],
                title=f"LoRA fine-tuning: {name}")
    report: dict[str, Any] = {
        "name": name,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "base_model": record["base_model"],
        "data_hash": record["data_hash"],
        "rows": {"val": len(encoded), "generated": len(base_answers), "ranking_negatives": options.ranking_negatives},
        "base": base_metrics,
        "adapter": adapter_metrics,
        "gate": decision.to_dict(),
        "options": options_dict(options),
        "training": record.get("metrics", {}),
        "samples": [{"question": r["question"], "reference": r["answer"], "base": b, "adapter": a}
                    for r, b, a in zip(encoded.rows[:5], base_answers, adapter_answers, strict=False)],
    }
    if options.register:
        metadata = {
            "name": name, "base_model": record["base_model"], "base_fingerprint": record["base_fingerprint"],
            "data_hash": record["data_hash"], "date": report["date"], "trained": record["date"],
            "metrics": {"base": base_metrics, "adapter": adapter_metrics}, "gate": decision.to_dict(),
            "train_options": record["options"],
        }
        registry = Path(options.adapters_dir) if options.adapters_dir else settings.engine.adapters_dir
        extra = {"report.md": out / "report.md", "loss.png": out / "loss.png"}
        write_report(report, out)  # written first so the registry copy includes it
        if decision.promoted:
            dest = adapters.register(adapter_dir, name, registry, metadata, overwrite=options.overwrite, extra=extra)
        else:
            dest = adapters.set_aside(adapter_dir, name, registry, metadata, extra=extra)
        report["destination"] = str(dest)
        write_report(report, dest)
    write_report(report, out)
    return report


def main(argv: list[str] | None = None) -> int:
    try:
        options = parse_options(EvalOptions, argv, "Evaluate, gate and register an adapter (see finetune/eval.py).")
        report = evaluate(options)
    except FinetuneError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    b, a, gate = report["base"], report["adapter"], report["gate"]
    print(f"val loss {b['val_loss']:.4f} -> {a['val_loss']:.4f}, ranking {b['ranking_accuracy']:.1%} -> "
          f"{a['ranking_accuracy']:.1%}, ROUGE-L {b['rouge_l']:.3f} -> {a['rouge_l']:.3f}, key facts "
          f"{b['key_fact_retention']:.1%} -> {a['key_fact_retention']:.1%}")
    verdict = "promoted" if gate["promoted"] else "rejected: " + "; ".join(gate["reasons"])
    print(f"gate: {verdict} ({report.get('destination', 'not registered')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
