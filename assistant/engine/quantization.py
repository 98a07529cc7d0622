"""W8A8 chat model for the onnx backend: SmoothQuant scales folded into the weights, int8 MatMuls on int8 activations.

    python -m assistant.engine.quantization smooth HF_FOLDER OUT      # SmoothQuant-scaled float32 HF folder
    python -m assistant.engine.quantization quantize FP32_ONNX OUT    # W8A8 ONNX Runtime GenAI folder

`assistant.engine.models.onnx_folder(ref, cache_dir, "w8a8")` runs both around the ONNX builder, once per
model, each in a child process (the quantisers log per tensor). `python bench/serving/quantization.py`
reports its perplexity next to the other formats.

Why: prefill on two AVX2 cores is arithmetic-bound, and ONNX Runtime's int8 x int8 MatMul
(DynamicQuantizeMatMul) prefilled a 230-token prompt 1.8x faster than the builder's int8 weight-only
MatMulNBits, which computes in float (measured 276 vs 506 ms). Activations are quantised per tensor
there, and a few of the model's hidden channels run 10-50x larger than the median, so quantised as is
the model only produced noise (perplexity in the millions). SmoothQuant (Xiao et al., 2023) divides
each input channel of a MatMul by s_j = max|x_j|^a / max|w_j|^(1-a) and multiplies the weight's row
by it, folding 1/s into the preceding RMSNorm (or, for o_proj and down_proj, into v_proj and up_proj):
the float model is unchanged and the activations flatten. The MLP's down_proj inputs kept outliers
that no `a` flattened enough (perplexity 26.9 with it int8 x int8, 24.9 without), so down_proj, and
the LM head, which decides each token, keep MatMulNBits int8 weights (blockwise int8 compute).
Measured on the store help centre: perplexity 24.45 fp32, 24.57 int8 weight-only, 24.94 this (+2.0%, per-row scales).

Activation scales are per row (one per token), not ONNX Runtime's per-tensor DynamicQuantizeLinear
(per_row_activations): with one scale for the whole batch, a row's logits depended on the other rows in
the batch (up to 17 logits apart on a 3-row batch), so the onnx backend could not batch chats. Per-row
scales make every row compute exactly what it computes alone (tested), at the same perplexity (24.94
vs 24.86 per tensor) and prefill speed (524 vs 516 ms for 230 tokens on one core).

Calibration reads the sample store's intent utterances (assistant/samples/intents.csv) in the chat
template: per-channel maxima only, 576 numbers per layer input, not the perplexity text.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from typing import Any

ALPHA = 0.7  # perplexity 25.44 / 24.92 / 25.02 at 0.6 / 0.7 / 0.8 (down_proj weight-only); 90 at 0.5 if all int8
SUPPORTED = ("llama", "mistral", "qwen2", "qwen3")  # RMSNorm (x * w) before q/k/v and gate/up; SiLU-gated MLP
CALIBRATION = Path(__file__).resolve().parents[1] / "samples" / "intents.csv"
VALUE_SCALES = "value_scales.npy"


class QuantizationError(RuntimeError):
    """The model cannot be built as W8A8 (its architecture is not one the smoothing knows)."""


def calibration_prompts(tokenizer: Any, per_prompt: int = 12) -> list[str]:
    """The sample intents' utterances as short chats, the kind of text the assistant reads."""
    with open(CALIBRATION, encoding="utf-8", newline="") as fh:
        utterances = [row[0] for row in list(csv.reader(fh))[1:] if row]
    system = {"role": "system", "content": "You are a helpful customer-service assistant."}
    return [
        tokenizer.apply_chat_template(
            [system, *({"role": "user" if j % 2 == 0 else "assistant", "content": u}
                       for j, u in enumerate(utterances[i:i + per_prompt]))], tokenize=False)
        for i in range(0, len(utterances), per_prompt)
    ]


def activation_maxima(model: Any, tokenizer: Any, prompts: list[str]) -> dict[str, Any]:
    """max |x_j| per input channel of every projection that smoothing touches, over `prompts`."""
    import torch

    maxima: dict[str, torch.Tensor] = {}

    def record(name: str) -> Any:
        def hook(_module: Any, inputs: tuple) -> None:
            x = inputs[0].detach().abs().reshape(-1, inputs[0].shape[-1]).amax(0).float()
            maxima[name] = torch.maximum(maxima[name], x) if name in maxima else x
        return hook

    handles = [model.lm_head.register_forward_pre_hook(record("lm_head"))]
    for i, layer in enumerate(model.model.layers):
        for name in ("self_attn.q_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.down_proj"):
            handles.append(layer.get_submodule(name).register_forward_pre_hook(record(f"{i}.{name}")))
    try:
        with torch.no_grad():
            for prompt in prompts:
                model(**tokenizer(prompt, return_tensors="pt"))
    finally:
        for handle in handles:
            handle.remove()
    return maxima


def _ratio(x_max: Any, w_max: Any, alpha: float) -> Any:
    return (x_max.clamp(min=1e-5) ** alpha / w_max.clamp(min=1e-5) ** (1 - alpha)).clamp(min=1e-5)


def _scales(x_max: Any, weights: list[Any], alpha: float) -> Any:
    """Per input channel of the MatMuls that share one input (weights are HF Linear: out x in)."""
    import torch

    return _ratio(x_max, torch.stack([w.abs().amax(0) for w in weights]).amax(0), alpha)


def smooth(model: Any, maxima: dict[str, Any], alpha: float = ALPHA) -> list[Any]:
    """Fold SmoothQuant scales into `model` in place; its float outputs stay the same.

    The LM head is untied from the embeddings first: its scales fold into the final norm, which the
    embedding lookup must not see. Returns each layer's value scales: v_proj's outputs, and so the values
    in the KV cache, are divided by them (a model sharing this cache must do the same: decode_model.py).
    """
    import torch

    config = model.config
    if config.model_type not in SUPPORTED:
        raise QuantizationError(f"w8a8 smoothing supports {', '.join(SUPPORTED)} models, not "
                                f"{config.model_type!r}; use ONNX_PRECISION = \"int8\" (backends/onnx_genai.py)")
    groups = config.num_attention_heads // config.num_key_value_heads
    value_scales = []
    with torch.no_grad():
        if getattr(config, "tie_word_embeddings", False):
            model.lm_head.weight = torch.nn.Parameter(model.model.embed_tokens.weight.detach().clone())
            config.tie_word_embeddings = False
        for i, layer in enumerate(model.model.layers):
            attn, mlp = layer.self_attn, layer.mlp
            s = _scales(maxima[f"{i}.self_attn.q_proj"], [attn.q_proj.weight, attn.k_proj.weight, attn.v_proj.weight],
                        alpha)
            layer.input_layernorm.weight /= s
            for proj in (attn.q_proj, attn.k_proj, attn.v_proj):
                proj.weight *= s
            s = _scales(maxima[f"{i}.mlp.gate_proj"], [mlp.gate_proj.weight, mlp.up_proj.weight], alpha)
            layer.post_attention_layernorm.weight /= s
            for proj in (mlp.gate_proj, mlp.up_proj):
                proj.weight *= s
            # o_proj input channel (head h, dim d) is v_proj output (kv head h // groups, dim d): one scale per kv dim
            head_dim = attn.o_proj.weight.shape[1] // config.num_attention_heads
            x_max = maxima[f"{i}.self_attn.o_proj"].view(-1, groups, head_dim).amax(1)
            w_max = attn.o_proj.weight.abs().amax(0).view(-1, groups, head_dim).amax(1)
            s = _ratio(x_max, w_max, alpha).reshape(-1)
            _scale_rows(attn.v_proj, 1 / s)
            value_scales.append(s)
            attn.o_proj.weight *= s.view(-1, head_dim).repeat_interleave(groups, 0).reshape(-1)
            s = _scales(maxima[f"{i}.mlp.down_proj"], [mlp.down_proj.weight], alpha)
            _scale_rows(mlp.up_proj, 1 / s)  # down's input is silu(gate) * up: linear in up's output
            mlp.down_proj.weight *= s
        s = _scales(maxima["lm_head"], [model.lm_head.weight], alpha)
        model.model.norm.weight /= s
        model.lm_head.weight *= s
    return value_scales


def _scale_rows(linear: Any, factor: Any) -> None:
    linear.weight *= factor[:, None]
    if linear.bias is not None:
        linear.bias *= factor


def smoothed_folder(source: Path, target: Path, alpha: float = ALPHA) -> Path:
    """Write `source` (an HF folder) smoothed, in float32, to `target`, for the ONNX builder.

    Also writes target/VALUE_SCALES ([layers, kv heads x head dim], float32): what the values are divided by.
    """
    import numpy as np
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32).eval()
    value_scales = smooth(model, activation_maxima(model, tokenizer, calibration_prompts(tokenizer)), alpha)
    model.config.dtype = "float32"
    model.save_pretrained(target, safe_serialization=True)
    np.save(target / VALUE_SCALES, torch.stack(value_scales).numpy().astype(np.float32))
    tokenizer.save_pretrained(target)
    for name in ("chat_template.jinja", "generation_config.json"):
        if (source / name).exists() and not (target / name).exists():
            shutil.copy(source / name, target / name)
    return target


def quantize_w8a8(fp32_folder: Path, target: Path) -> None:
    """From the builder's fp32 folder: int8 x int8 MatMuls; down_proj and the LM head as MatMulNBits int8."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    target.mkdir(parents=True, exist_ok=True)
    for path in fp32_folder.iterdir():
        if not path.name.startswith("model.onnx"):
            shutil.copy(path, target / path.name)
    graph = onnx.load(str(fp32_folder / "model.onnx"), load_external_data=False).graph
    # down_proj's inputs keep outliers that per-tensor activation scales lose; the LM head decides the token
    weight_only = [n.name for n in graph.node if n.op_type == "MatMul" and ("down_proj" in n.name or "lm_head" in n.name)]
    staged = target / "stage"
    staged.mkdir()
    try:
        quantize_dynamic(fp32_folder / "model.onnx", staged / "model.onnx", weight_type=QuantType.QInt8,
                         per_channel=True, op_types_to_quantize=["MatMul"], nodes_to_exclude=weight_only,
                         use_external_data_format=True, extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
        model = onnx.load(str(staged / "model.onnx"))
        per_row_activations(model)
        save_int8_weight_only(model, target / "model.onnx")
    finally:
        shutil.rmtree(staged, ignore_errors=True)


def save_int8_weight_only(model: Any, path: Path) -> None:
    """Every MatMul left with a constant weight becomes MatMulNBits int8 (symmetric, per 32, int8 compute); saved
    with external data next to `path`."""
    from onnxruntime.quantization.matmul_nbits_quantizer import (
        DefaultWeightOnlyQuantConfig,
        MatMulNBitsQuantizer,
    )

    quantizer = MatMulNBitsQuantizer(model, algo_config=DefaultWeightOnlyQuantConfig(
        block_size=32, is_symmetric=True, accuracy_level=4, bits=8))
    quantizer.process()
    quantizer.model.save_model_to_file(str(path), use_external_data_format=True)


def per_row_activations(model: Any) -> int:
    """Replace each DynamicQuantizeLinear (one uint8 scale and zero point per tensor) by one scale per row.

    Symmetric per row: scale = max|x| / 127 over the last axis, q = round(x / scale) + 128 as uint8 with the
    scalar zero point 128 that MatMulInteger requires; the [..., 1] scale broadcasts in the Mul that follows
    (scale x weight scales). Returns how many nodes were replaced.
    """
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    constants = {"axes": np.array([-1], np.int64), "127": np.array(127.0, np.float32),
                 "eps": np.array(1e-8, np.float32), "128": np.array(128.0, np.float32),
                 "0": np.array(0.0, np.float32), "255": np.array(255.0, np.float32), "zp": np.array(128, np.uint8)}
    graph.initializer.extend(numpy_helper.from_array(v, f"per_row/{k}") for k, v in constants.items())
    c = {k: f"per_row/{k}" for k in constants}
    nodes, replaced = [], 0
    for node in graph.node:
        if node.op_type != "DynamicQuantizeLinear":
            nodes.append(node)
            continue
        (x,), (q, scale, zero), p = node.input, node.output, node.name
        nodes += [
            helper.make_node("Abs", [x], [f"{p}/abs"]),
            helper.make_node("ReduceMax", [f"{p}/abs", c["axes"]], [f"{p}/amax"], keepdims=1),
            helper.make_node("Max", [f"{p}/amax", c["eps"]], [f"{p}/amax_eps"]),  # an all-zero row
            helper.make_node("Div", [f"{p}/amax_eps", c["127"]], [scale]),
            helper.make_node("Div", [x, scale], [f"{p}/scaled"]),
            helper.make_node("Round", [f"{p}/scaled"], [f"{p}/round"]),
            helper.make_node("Add", [f"{p}/round", c["128"]], [f"{p}/shift"]),
            helper.make_node("Clip", [f"{p}/shift", c["0"], c["255"]], [f"{p}/clip"]),
            helper.make_node("Cast", [f"{p}/clip"], [q], to=TensorProto.UINT8),
            helper.make_node("Identity", [c["zp"]], [zero]),
        ]
        replaced += 1
    del graph.node[:]
    graph.node.extend(nodes)
    return replaced


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["smooth", "quantize"])
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    args = parser.parse_args()
    try:
        if args.step == "smooth":
            smoothed_folder(args.source, args.target)
        else:
            quantize_w8a8(args.source, args.target)
    except QuantizationError as exc:
        raise SystemExit(str(exc)) from exc  # its message as the last line: onnx_folder shows that line


if __name__ == "__main__":
    main()
