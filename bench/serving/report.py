"""Writes the serving benchmark's results (bench/serving/serving.py) to docs/bench/serving.md and .json."""

from __future__ import annotations

import json
from pathlib import Path
from statistics import median
from typing import Any

BACKENDS = ("transformers", "onnx", "onnx:int4", "vllm")  # engines the product can run; llama.cpp is the peer


def _f(value: Any, fmt: str) -> str:
    return "" if value is None else format(value, fmt)


def base(spec: str) -> str:
    """The engine without its thread count or round: "onnx@2#3" -> "onnx"."""
    return spec.partition("#")[0].partition("@")[0]


def round_of(spec: str) -> str:
    """The round of a spec run with --rounds: "onnx@2#3" -> "3" ("" without rounds)."""
    return spec.partition("#")[2]


def _shape(meta: dict[str, Any]) -> str:
    passages, chars = meta.get("passages", 3), meta.get("passage_chars", 0)
    if not chars:
        return f"store question + {passages} whole help-centre passages, ~650-710 prompt tokens with 3"
    return (f"store question + {passages} help-centre passages cut to {chars} characters each: as long as the "
            "product's grounded prompts (context.CONTEXT_PASSAGES = 2, CONTEXT_CHARS = 450)")


def peer_ratio(results: dict[str, Any]) -> str:
    """Each product engine's best single-stream decode (over its thread variants) against llama.cpp's best."""
    best: dict[str, tuple[float, str]] = {}
    for spec, r in results.items():
        decode = r.get("levels", {}).get("1", {}).get("decode_tok_s")
        if decode and decode > best.get(base(spec), (0.0, ""))[0]:
            best[base(spec)] = (decode, spec)
    if "llamacpp" not in best:
        return ""
    peer, peer_spec = best.pop("llamacpp")
    parts = [f"{name} {tok:.1f} tok/s ({spec}) = {tok / peer:.2f}x" for name, (tok, spec) in best.items()]
    return (f"Single-stream decode, each engine at its best thread count in this run, against llama.cpp's best "
            f"({peer:.1f} tok/s, {peer_spec}): " + "; ".join(parts) + ".")


def round_ratios(results: dict[str, Any]) -> str:
    """With --rounds: per round, each product engine's best single-stream decode over llama.cpp's best."""
    rounds: dict[str, dict[str, float]] = {}
    for spec, r in results.items():
        decode = r.get("levels", {}).get("1", {}).get("decode_tok_s")
        if decode and round_of(spec):
            best = rounds.setdefault(round_of(spec), {})
            best[base(spec)] = max(decode, best.get(base(spec), 0.0))
    ratios: dict[str, list[float]] = {}
    for best in rounds.values():
        peer = best.get("llamacpp")
        for name, tok in best.items():
            if peer and name != "llamacpp":
                ratios.setdefault(name, []).append(tok / peer)
    if not ratios:
        return ""
    parts = [f"{name}: {' / '.join(f'{x:.2f}x' for x in xs)}, median **{median(xs):.2f}x**"
             for name, xs in ratios.items()]
    return ("Single-stream decode against llama.cpp, round by round (each engine's best thread count within the "
            "round): " + "; ".join(parts) + ".")


def verdict(results: dict[str, Any]) -> str:
    ok = {name: r for name, r in results.items() if base(name) in BACKENDS and "levels" in r}
    if not ok:
        return "No product engine finished; no default chosen from this run."

    def agg(name: str, level: str) -> float:
        return ok[name]["levels"].get(level, {}).get("aggregate_tok_s") or 0.0

    def alone(name: str, key: str) -> float:
        return ok[name]["levels"].get("1", {}).get(key) or 0.0

    best = max(ok, key=lambda n: (agg(n, "16"), agg(n, "1")))
    fastest = max(ok, key=lambda n: alone(n, "decode_tok_s"))
    parts = [f"{n}: TTFT {alone(n, 'ttft_p50_s'):.2f} s and {alone(n, 'decode_tok_s'):.1f} tok/s decode alone, "
             f"{agg(n, '16'):.1f} tok/s aggregate at 16 chats" for n in ok]
    return (f"Highest aggregate tokens/s at 16 chats: **{best}**; fastest single stream: **{fastest}** ("
            + "; ".join(parts) + ").")


def plot(results: dict[str, Any], png: Path) -> None:
    """Aggregate tokens/s and TTFT p50 against concurrency, one line per engine (per round with --rounds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if any(round_of(spec) for spec in results):
        return plot_rounds(results, png, plt)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for name, r in results.items():
        if "levels" not in r:
            continue
        levels = sorted(r["levels"], key=int)
        xs = [int(level) for level in levels]
        left.plot(xs, [r["levels"][lv].get("aggregate_tok_s") or 0 for lv in levels], marker="o", label=name)
        right.plot(xs, [r["levels"][lv].get("ttft_p50_s") or 0 for lv in levels], marker="o", label=name)
    for ax, title in ((left, "aggregate tokens/s"), (right, "time to first token p50 (s)")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("concurrent chats")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)


def plot_rounds(results: dict[str, Any], png: Path, plt: Any) -> None:
    """With --rounds: single-stream decode tokens/s and TTFT p50, round by round, one line per engine."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    lines: dict[str, dict[int, dict[str, Any]]] = {}
    for spec, r in results.items():
        if "levels" in r and "1" in r["levels"]:
            lines.setdefault(spec.partition("#")[0], {})[int(round_of(spec))] = r["levels"]["1"]
    for name, by_round in lines.items():
        xs = sorted(by_round)
        left.plot(xs, [by_round[x].get("decode_tok_s") or 0 for x in xs], marker="o", label=name)
        right.plot(xs, [by_round[x].get("ttft_p50_s") or 0 for x in xs], marker="o", label=name)
    for ax, title in ((left, "single-stream decode tokens/s"), (right, "time to first token p50 (s)")):
        ax.set_xlabel("round")
        ax.set_xticks(range(1, 1 + max((len(v) for v in lines.values()), default=1)))
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
    left.set_ylim(bottom=0)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)


def write_report(meta: dict[str, Any], results: dict[str, Any], md: Path, js: Path) -> None:
    js.write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    plot(results, md.with_suffix(".png"))
    bw = meta["bandwidth"]
    lines = [
        f"## Serving: latency and throughput at {'/'.join(map(str, meta['levels']))} concurrent chats "
        f"({', '.join(results)})",
        "",
        f"Date: {meta['date']}. Machine: 2-core x86-64 CPU (AMD EPYC, AVX2), 24 GiB, no GPU, shared with other "
        f"jobs. Load average before: {meta['load_before']}, after: {meta.get('load_after')}.",
        f"Command: `{meta['command']}`",
        "",
        f"Each engine in its own process, one after another, {meta['threads']} CPU thread(s) each (an engine "
        "named name@N: N threads); greedy, up to "
        f"{meta['max_tokens']} new tokens, the same grounded prompts ({_shape(meta)}). Level N sends max(N, 3) requests at once. Batched engines: max "
        f"{meta['max_batch']} rows, the rest queue. llama.cpp: llama-cpp-python in-process, one Llama behind a "
        "lock (its Python API decodes one sequence at a time). TTFT includes queueing and prompt prefill; "
        "aggregate = all completion tokens / wall time of the level, prefill included; decode = tokens after "
        "the first / time after the first token, per request.",
        "",
        "| engine | concurrency | requests | errors | TTFT p50 s | TTFT p99 s | ITL p50 ms | aggregate tok/s "
        "| decode tok/s per stream |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, r in results.items():
        if "levels" not in r:
            lines.append(f"| {name} | failed: {r.get('error', '')[:100]} | | | | | | | |")
            continue
        for level, row in r["levels"].items():
            lines.append(
                f"| {name} | {level} | {row['requests']} | {row['errors']} | {_f(row.get('ttft_p50_s'), '.2f')} "
                f"| {_f(row.get('ttft_p99_s'), '.2f')} | {_f(row.get('itl_p50_ms'), '.0f')} "
                f"| {_f(row.get('aggregate_tok_s'), '.1f')} | {_f(row.get('decode_tok_s'), '.1f')} |")
    lines += [
        "",
        f"Memory bandwidth: numpy triad {bw['triad_gb_s']:.1f} GB/s (1 thread), torch copy "
        f"{bw['torch_copy_gb_s']:.1f} GB/s ({meta['threads']} thread(s)); limit used: {bw['best_gb_s']:.1f} GB/s.",
        "",
        "| engine | weights read per token | bandwidth limit tok/s | single-stream decode tok/s | fraction of limit "
        "| 16-chat aggregate / single-stream decode | 16-chat aggregate / 1-chat aggregate |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, r in results.items():
        if "levels" not in r or not r.get("weight_bytes"):
            continue
        single = r["levels"].get("1", {}).get("decode_tok_s")
        agg16 = r["levels"].get("16", {}).get("aggregate_tok_s")
        agg1 = r["levels"].get("1", {}).get("aggregate_tok_s")
        ratio = f"{agg16 / single:.2f}x" if single and agg16 else ""
        same = f"{agg16 / agg1:.2f}x" if agg1 and agg16 else ""  # both include prefill
        lines.append(f"| {name} | {r['weight_bytes'] / 1e6:.0f} MB | {_f(r.get('bandwidth_limit_tok_s'), '.1f')} "
                     f"| {_f(single, '.1f')} | {_f(r.get('fraction_of_limit'), '.0%')} | {ratio} | {same} |")
    lines += ["", f"![serving]({md.with_suffix('.png').name})", "", verdict(results)]
    lines += [part for line in (peer_ratio(results), round_ratios(results)) if line for part in ("", line)]
    md.write_text("\n".join(lines) + "\n")
