"""What the onnx backend's weight formats cost in quality: perplexity of the default chat model per format.

    .venv/bin/python bench/serving/quantization.py [--texts 20] [--max-tokens 384] [--threads 2]

The reference is the transformers backend's model (the GGUF's Q4_1 weights dequantised into the cached HF
folder, run in fp32). Each onnx format is built by the product's own conversion
(assistant/engine/models.py:onnx_folder) and run teacher-forced over the same texts, the first N
help-centre articles of bench/data/store_kb.jsonl. Writes docs/bench/quantization.{md,json}.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from assistant.engine.decode_model import build as build_decode_model  # noqa: E402
from assistant.engine.models import ONNX_PRECISIONS, hf_folder, onnx_folder, resolve_chat_model  # noqa: E402
from assistant.engine.settings import Settings  # noqa: E402

OUT_JSON = ROOT / "docs" / "bench" / "quantization.json"
OUT_MD = ROOT / "docs" / "bench" / "quantization.md"


def token_rows(tokenizer: object, count: int, max_tokens: int) -> list[list[int]]:
    rows = [json.loads(line)["text"] for line in (ROOT / "bench/data/store_kb.jsonl").read_text().splitlines()]
    return [tokenizer(text)["input_ids"][:max_tokens] for text in rows[:count]]  # type: ignore[operator]


def nll_torch(folder: Path, rows: list[list[int]]) -> float:
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    total = count = 0.0
    with torch.no_grad():
        for ids in tqdm(rows, desc="fp32 torch", leave=False):
            logits = model(torch.tensor([ids])).logits[0, :-1].float()
            total += torch.nn.functional.cross_entropy(logits, torch.tensor(ids[1:]), reduction="sum").item()
            count += len(ids) - 1
    return total / count


def nll_onnx(folder: Path, rows: list[list[int]], threads: int, model_file: str = "model.onnx") -> float:
    """Whole-sequence forward through the built model (empty KV cache), logits at every position."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(folder / model_file), options, providers=["CPUExecutionProvider"])
    decoder = json.loads((folder / "genai_config.json").read_text())["model"]["decoder"]
    empty = np.zeros((1, decoder["num_key_value_heads"], 0, decoder["head_size"]), np.float32)
    total = count = 0.0
    for ids in tqdm(rows, desc=folder.name, leave=False):
        feed = {"input_ids": np.array([ids], np.int64), "attention_mask": np.ones((1, len(ids)), np.int64)}
        feed |= {i.name: empty for i in session.get_inputs() if i.name.startswith("past_key_values")}
        logits = session.run(["logits"], feed)[0][0, :-1].astype(np.float64)
        top = logits.max(-1, keepdims=True)
        logp = logits - top - np.log(np.exp(logits - top).sum(-1, keepdims=True))
        total += -float(logp[np.arange(len(ids) - 1), ids[1:]].sum())
        count += len(ids) - 1
    return total / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=20)
    parser.add_argument("--max-tokens", type=int, default=384)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    from transformers import AutoTokenizer

    settings = Settings()
    ref = resolve_chat_model("")
    source = hf_folder(ref, settings.cache_dir)
    rows = token_rows(AutoTokenizer.from_pretrained(source), args.texts, args.max_tokens)
    results = {"fp32 (transformers backend)": {"nll": nll_torch(source, rows), "bytes": None}}
    for precision in tqdm(ONNX_PRECISIONS, desc="formats"):
        folder = onnx_folder(ref, settings.cache_dir, precision, all_logits=True)  # same weights as served
        size = sum(p.stat().st_size for p in folder.glob("model.onnx*"))
        results[f"onnx {precision}"] = {"nll": nll_onnx(folder, rows, args.threads), "bytes": size}
    # the small-batch decode model (assistant/engine/decode_model.py), built as onnx_folder builds it but over
    # the all-logits fp32 export; on its own (no value scales: no w8a8 cache to share)
    fp32 = onnx_folder(ref, settings.cache_dir, "fp32", all_logits=True)
    with tempfile.TemporaryDirectory() as tmp:
        build_decode_model(fp32, Path(ref.path) / str(ref.gguf_file), Path(tmp))
        size = sum(p.stat().st_size for p in Path(tmp).glob("decode.onnx*"))
        shutil.copy(fp32 / "genai_config.json", Path(tmp) / "genai_config.json")
        nll = nll_onnx(Path(tmp), rows, args.threads, "decode.onnx")
    results["onnx w8a8's decode model (steps of 1-2 chats)"] = {"nll": nll, "bytes": size}
    base = results["fp32 (transformers backend)"]["nll"]
    meta = {"date": dt.datetime.now().isoformat(timespec="minutes"), "load": [round(x, 2) for x in os.getloadavg()],
            "command": " ".join(["python bench/serving/quantization.py", *sys.argv[1:]]),
            "tokens": sum(len(r) - 1 for r in rows), "texts": len(rows)}
    OUT_JSON.write_text(json.dumps({"meta": meta, "results": results}, indent=2))
    lines = [
        "## Chat model weight formats: perplexity of the onnx backend's w8a8 / int8 / int4 / fp32 / decode models",
        "",
        f"Date: {meta['date']}. Machine: 2-core x86-64 CPU (AVX2), 24 GiB, no GPU. Command: `{meta['command']}`",
        "",
        f"Teacher-forced over {meta['tokens']} tokens ({meta['texts']} help-centre articles of "
        "bench/data/store_kb.jsonl). Reference: the transformers backend's model in fp32 (the GGUF's Q4_1 "
        "weights, dequantised into the cached bf16 HF folder). The onnx models are built from it by onnxruntime-genai's model builder "
        "(int8/int4: MatMulNBits, block 32, symmetric; `ONNX_PRECISION` in assistant/engine/backends/onnx_genai.py). w8a8: the builder's fp32 model "
        "of a SmoothQuant-scaled copy (calibrated on the sample intents' utterances, not these texts), with int8 x int8 "
        "MatMuls and down_proj / LM head as MatMulNBits int8 (assistant/engine/quantization.py).",
        "",
        "| model | files | perplexity | vs reference |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, r in results.items():
        size = f"{r['bytes'] / 1e6:.0f} MB" if r["bytes"] else ""
        lines.append(f"| {name} | {size} | {math.exp(r['nll']):.2f} | {100 * (math.exp(r['nll'] - base) - 1):+.1f}% |")
    lines += ["", "int4 re-quantises weights that were already 4-bit (Q4_1: asymmetric, one scale and minimum per "
              "32) onto a symmetric grid, so the two rounding errors add up; int8 keeps them. w8a8 also quantises "
              "the activations: a little more error than int8, for a prefill ~1.8x faster on an AVX2 CPU (time to "
              "first token: docs/bench/grounded-ttft.md). Hence the default `ONNX_PRECISION = 'w8a8'`. Its decode model (decode.onnx, "
              "assistant/engine/decode_model.py) holds the GGUF's own 4-bit q and scales, the minimum as an 8-bit "
              "per-block offset, activations int8 per 32 inside the kernel; the onnx backend runs decode steps of "
              "1-2 chats on it."]
    OUT_MD.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
