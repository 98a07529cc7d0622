"""The onnx backend's small-batch decode model: the GGUF's own 4-bit weights, exactly, in MatMulNBits.

    python -m assistant.engine.decode_model FP32_FOLDER GGUF_FILE TARGET_FOLDER [--value-scales NPY]

`assistant.engine.models.onnx_folder(ref, cache_dir, "w8a8")` runs it once per chat model, in a child
process, and puts `decode.onnx` next to the w8a8 `model.onnx`; onnx_session.BatchSession decodes steps of
at most DECODE_ROWS chats with it.

Why: one chat's decode step reads every weight once, so its speed is the bytes read. The w8a8 model reads
int8 weights (1 byte each); the GGUF stores the layers as Q4_1 (4-bit q, one fp16 scale d and minimum m per
32 weights: w = d * q + m). ONNX Runtime's MatMulNBits has uint8 zero points only, which cannot hold m
(re-quantising onto its grid raised perplexity 28%, docs/benchmarks.md), so the minimum goes in a second
term: W x = MatMulNBits(q - 8, d) x + M s, where s holds x's sums over each 32-block and M = m + 8d has one
value per block ([K/32, N], itself a MatMulNBits in 8 bits: in fp32 its bytes made a step 7% slower). So q and
d are the GGUF's own (tested) and M is within 1/128 of its largest value per 32, for ~0.66 bytes a weight
instead of w8a8's 1. MatMulNBits' accuracy_level 4 quantises the activations to int8 per 32-block inside the
kernel (perplexity 24.53 against the fp32 model's 24.45; w8a8: 24.94). Its kernel is slower than w8a8's int8 x int8 MatMuls once a step holds 3 or more rows, and prefill
much slower, so those stay on model.onnx (measured in docs/bench/serving-notes.md).

Both models share one KV cache, so decode.onnx must read and write w8a8's values: SmoothQuant divided
v_proj's outputs by per-channel scales (and multiplied o_proj's inputs back; quantization.py). Here v's rows
take 1/s in their d and m (a row's scale is free in Q4_1: q stays the GGUF's) and a Mul by s feeds o_proj;
`--value-scales` is the smoothing step's value_scales.npy.

The fp32 folder must be the builder's export of the unscaled HF folder (w8a8's SmoothQuant folds scales into
the layer norms), with the LM head kept: it is re-quantised to MatMulNBits int8 like w8a8's (the GGUF's
token_embd is Q8_0, so that is exact too). The HF folder stores bf16, so each GGUF row is matched to the
fp32 weight's row through its bf16 rounding; that also recovers the q/k row order the HF conversion permuted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

BLOCK = 32
Q4_1 = "Q4_1"
# the builder's MatMul (by its name's second-to-last part) -> the GGUF tensors it concatenates, in order
GGUF_PARTS = {"qkv_proj": ["attn_q", "attn_k", "attn_v"], "o_proj": ["attn_output"], "gate_proj": ["ffn_gate"],
              "up_proj": ["ffn_up"], "down_proj": ["ffn_down"]}


class NotApplicable(ValueError):
    """The chat model's GGUF is not Q4_1 throughout (or its layout is not known): no decode model."""


def q4_1_blocks(tensor: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """q [rows, blocks, 32] uint8 in 0..15, d and m [rows, blocks] float32, of a GGUF Q4_1 tensor."""
    raw = np.asarray(tensor.data).reshape(tensor.data.shape[0], -1, 20)  # block: d fp16, m fp16, 16 bytes
    d = raw[..., 0:2].copy().view(np.float16)[..., 0].astype(np.float32)
    m = raw[..., 2:4].copy().view(np.float16)[..., 0].astype(np.float32)
    qs = raw[..., 4:]
    return np.concatenate([qs & 0xF, qs >> 4], axis=-1), d, m  # element j in the low nibble, j + 16 high


def bf16(x: np.ndarray) -> np.ndarray:
    """float32 rounded to bfloat16 (nearest, ties to even), as float32."""
    bits = x.astype(np.float32).view(np.uint32)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
    return rounded.astype(np.uint32).view(np.float32)


def row_order(weight_t: np.ndarray, gguf_rows: np.ndarray) -> np.ndarray:
    """For each row of the onnx weight (transposed), the GGUF row holding the same values."""
    index = {row.tobytes(): i for i, row in enumerate(bf16(gguf_rows))}
    order = np.array([index.get(row.astype(np.float32).tobytes(), -1) for row in weight_t])
    if (order < 0).any() or len(set(order.tolist())) != len(order):
        raise NotApplicable("the GGUF's weights do not match the exported model's")
    return order


def layer_of(node_name: str) -> int | None:
    """The decoder layer a builder node belongs to ("/model/layers.7/mlp/..." -> 7); None outside the layers."""
    if "/model/layers." not in node_name:
        return None
    return int(node_name.split("/model/layers.")[1].split("/")[0])


def matmul_parts(gguf_tensors: dict[str, Any], node_name: str, layer: int) -> tuple[np.ndarray, ...]:
    """q, d, m (GGUF row order) of the weight behind one builder MatMul of `layer`."""
    parts = GGUF_PARTS.get(node_name.split("/")[-2])
    if parts is None:
        raise NotApplicable(f"unknown layer MatMul {node_name}")
    tensors = [gguf_tensors.get(f"blk.{layer}.{p}.weight") for p in parts]
    if any(t is None or t.tensor_type.name != Q4_1 for t in tensors):
        raise NotApplicable(f"layer {layer}: {', '.join(parts)} are not all {Q4_1}")
    q, d, m = zip(*(q4_1_blocks(t) for t in tensors), strict=True)
    return np.concatenate(q), np.concatenate(d), np.concatenate(m)


def build(fp32_folder: Path, gguf_file: Path, target: Path, value_scales: np.ndarray | None = None) -> int:
    """Write target/decode.onnx (+ .data); returns the MatMuls replaced. value_scales: [layers, kv dim]."""
    import json

    import gguf
    import onnx
    from onnx import helper, numpy_helper

    from assistant.engine.quantization import save_int8_weight_only

    decoder = json.loads((fp32_folder / "genai_config.json").read_text())["model"]["decoder"]
    kv_dim = decoder["num_key_value_heads"] * decoder["head_size"]
    groups = decoder["num_attention_heads"] // decoder["num_key_value_heads"]
    tensors = {t.name: t for t in gguf.GGUFReader(str(gguf_file)).tensors}
    model = onnx.load(str(fp32_folder / "model.onnx"))
    graph = model.graph
    weights = {i.name: i for i in graph.initializer}
    nodes: list[Any] = []
    added = [numpy_helper.from_array(np.array([-1], np.int64), "q4/axes")]
    block_sums: dict[str, str] = {}  # input -> its per-block sums (q/k/v and gate/up share an input)
    by_name = {n.name: n for n in graph.node}
    done: set[str] = set()

    def blocks(node: Any, layer: int) -> tuple[np.ndarray, ...]:
        """q, d, m of a layer MatMul in the exported weight's row order, v rows scaled to w8a8's values."""
        q, d, m = matmul_parts(tensors, node.name, layer)
        weight = numpy_helper.to_array(weights[node.input[1]])  # [K, N]
        order = row_order(weight.T, (q * d[..., None] + m[..., None]).reshape(len(q), weight.shape[0]))
        q, d, m = q[order], d[order], m[order]
        if value_scales is not None and "qkv_proj" in node.name:  # v: the last kv_dim outputs
            d[-kv_dim:] /= value_scales[layer][:, None]
            m[-kv_dim:] /= value_scales[layer][:, None]
        graph.initializer.remove(weights[node.input[1]])
        return q, d, m

    for node in graph.node:
        if node.name in done:
            continue
        layer = layer_of(node.name)
        if node.op_type != "MatMul" or layer is None:  # the LM head: quantised below
            nodes.append(node)
            continue
        # gate and up read the same input: one kernel over both (a Split after), one offset MatMul
        fused = [node] + ([by_name[node.name.replace("gate_proj", "up_proj")]] if "gate_proj" in node.name else [])
        done.update(n.name for n in fused)
        parts = [blocks(f, layer) for f in fused]
        q, d, m = (np.concatenate(a) for a in zip(*parts, strict=True))
        x, k, n = node.input[0], q.shape[1] * BLOCK, len(q)
        p = f"q4/{node.name.strip('/')}"
        if value_scales is not None and "o_proj" in node.name:  # back from w8a8's values, per query head
            per_head = np.repeat(value_scales[layer].reshape(-1, decoder["head_size"]), groups, axis=0)
            added.append(numpy_helper.from_array(per_head.reshape(-1).astype(np.float32), f"{p}/value_scales"))
            nodes.append(helper.make_node("Mul", [x, f"{p}/value_scales"], [f"{p}/input"]))
            x = f"{p}/input"
        added += [numpy_helper.from_array((q[..., 0::2] | (q[..., 1::2] << 4)).astype(np.uint8), f"{p}/q"),
                  numpy_helper.from_array(d.reshape(-1), f"{p}/scale"),
                  numpy_helper.from_array((m + 8 * d).T.astype(np.float32), f"{p}/offset")]  # no zero point: 8
        if x not in block_sums:
            s = block_sums[x] = f"q4/block_sums{len(block_sums)}"
            added.append(numpy_helper.from_array(np.array([0, 0, k // BLOCK, BLOCK], np.int64), f"{s}/shape"))
            nodes += [helper.make_node("Reshape", [x, f"{s}/shape"], [f"{s}/blocks"]),
                      helper.make_node("ReduceSum", [f"{s}/blocks", "q4/axes"], [s], keepdims=0)]
        outputs = [o for f in fused for o in f.output]
        summed = outputs if len(fused) == 1 else [f"{p}/both"]
        nodes += [helper.make_node("MatMulNBits", [x, f"{p}/q", f"{p}/scale"], [f"{p}/scaled"], name=node.name,
                                   domain="com.microsoft", K=k, N=n, bits=4, block_size=BLOCK, accuracy_level=4),
                  helper.make_node("MatMul", [block_sums[x], f"{p}/offset"], [f"{p}/offsets"], name=f"{p}/offsets"),
                  helper.make_node("Add", [f"{p}/scaled", f"{p}/offsets"], summed)]
        if len(fused) > 1:
            sizes = np.array([len(part[0]) for part in parts], np.int64)
            added.append(numpy_helper.from_array(sizes, f"{p}/split"))
            nodes.append(helper.make_node("Split", [summed[0], f"{p}/split"], outputs, axis=-1))
    replaced = len(done)
    if not replaced:
        raise NotApplicable("no layer MatMul found")
    del graph.node[:]
    graph.node.extend(nodes)
    graph.initializer.extend(added)
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    # the LM head and the offsets, in 8 bits: fp32 offsets (4 bytes per 32 weights) made a step 7% slower
    save_int8_weight_only(model, target / "decode.onnx")
    return replaced


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fp32_folder", type=Path)
    parser.add_argument("gguf_file", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("--value-scales", type=Path, help="w8a8's value_scales.npy (quantization.py smooth)")
    args = parser.parse_args()
    try:
        scales = np.load(args.value_scales) if args.value_scales else None
        replaced = build(args.fp32_folder, args.gguf_file, args.target, scales)
    except NotApplicable as exc:  # not an error: the w8a8 model then decodes every step
        print(f"no decode model: {exc}")
        return
    print(f"decode model: {replaced} MatMuls from the GGUF's {Q4_1} blocks")


if __name__ == "__main__":
    main()
