"""decode.onnx: the GGUF's Q4_1 weights in MatMulNBits (q and scale exact) plus a per-block offset term."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.engine.decode_model import NotApplicable, bf16, q4_1_blocks, row_order
from assistant.engine.models import onnx_folder, resolve_chat_model


def _gguf_tensors() -> dict:
    import gguf

    ref = resolve_chat_model("")
    return {t.name: t for t in gguf.GGUFReader(str(Path(ref.path) / str(ref.gguf_file))).tensors}


def test_bf16_rounds_like_torch() -> None:
    import torch

    x = np.random.default_rng(0).standard_normal(10_000).astype(np.float32) * 0.1
    x[:4] = [1.00390625, 1.01171875, -1.00390625, 0.0]  # ties: to even
    want = torch.from_numpy(x).to(torch.bfloat16).float().numpy()
    assert np.array_equal(bf16(x), want)


def test_rows_are_matched_through_their_bf16_rounding_and_mismatches_are_refused() -> None:
    rng = np.random.default_rng(1)
    rows = rng.standard_normal((6, 32)).astype(np.float32)
    order = np.array([3, 0, 5, 1, 4, 2])
    assert np.array_equal(row_order(bf16(rows[order]), rows), order)
    with pytest.raises(NotApplicable):
        row_order(bf16(rows[order]) + 1e-2, rows)


def test_q4_1_blocks_decode_like_gguf() -> None:
    from gguf import dequantize

    tensor = _gguf_tensors()["blk.0.attn_v.weight"]
    q, d, m = q4_1_blocks(tensor)
    assert q.max() <= 15 and q.shape[-1] == 32
    mine = (q * d[..., None] + m[..., None]).reshape(len(q), -1)
    assert np.array_equal(mine, dequantize(tensor.data, tensor.tensor_type).reshape(mine.shape))


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_decode_model_computes_with_the_ggufs_own_weights(model_cache_dir: Path) -> None:
    """Each block's 4-bit q and scale are the GGUF's; its offset m + 8d is held to 8 bits (1/128 of the largest)."""
    import onnx
    from onnx import numpy_helper

    folder = onnx_folder(resolve_chat_model(""), model_cache_dir, "w8a8")
    model = onnx.load(str(folder / "decode.onnx"))
    weights = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    nodes = {n.name: n for n in model.graph.node if n.op_type == "MatMulNBits"}
    bits = {name: next(a.i for a in n.attribute if a.name == "bits") for name, n in nodes.items()}
    assert sum(b == 4 for b in bits.values()) == 120  # 30 layers x qkv, o, gate + up (one kernel), down
    assert [b for name, b in bits.items() if "lm_head" in name or "offsets" in name] == [8] * 121
    tensors = _gguf_tensors()
    for layer, part in ((0, "ffn_gate"), (29, "ffn_down")):
        name = f"/model/layers.{layer}/mlp/{part[4:]}_proj/MatMul"
        packed, scale = (weights[i] for i in nodes[name].input[1:3])
        q, d, m = q4_1_blocks(tensors[f"blk.{layer}.{part}.weight"])  # gate and down keep the GGUF's row order
        rows = len(q)  # gate's kernel holds up's rows after gate's
        held_q = np.stack([packed & 0xF, packed >> 4], axis=-1).reshape(packed.shape[0], -1, 32)[:rows]
        assert np.array_equal(held_q, q) and np.array_equal(scale.reshape(len(packed), -1)[:rows], d)
        offsets = nodes[f"q4{name}/offsets_Q8"]  # the quantiser renames what it quantises
        packed8, scale8 = (weights[i][:rows] for i in offsets.input[1:3])  # [N, 1 or 2, 32], zero point 128
        scale8 = scale8.reshape(packed8.shape[:2])  # signed: the quantiser maps the largest |value| to -128
        blocks8 = (packed8.astype(np.float32) - 128) * scale8[..., None]
        held_m = blocks8.reshape(len(packed8), -1)[:, : d.shape[1]]
        step = np.repeat(np.abs(scale8), 32, axis=1)[:, : d.shape[1]]
        # half a step of rounding, a whole one where the side opposite -128 clips at +127
        assert np.all(np.abs(held_m - (m + 8 * d)) <= step + 1e-7)
