"""SmoothQuant scaling (assistant/engine/quantization.py) on tiny random models: same outputs, flatter inputs.

    pytest tests/assistant/engine/test_quantization.py

The real W8A8 build of the default model is tested in tests/assistant/engine/backends/test_onnx_backend.py.
"""

from __future__ import annotations

from typing import Any

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from assistant.engine.quantization import QuantizationError, activation_maxima, smooth  # noqa: E402


class _Ids:
    """Turns a prompt of space-separated numbers into input ids (the model is random: any ids do)."""

    def __call__(self, prompt: str, return_tensors: str = "pt") -> dict[str, Any]:
        return {"input_ids": torch.tensor([[int(t) for t in prompt.split()]])}


def _llama(tied: bool = True) -> Any:
    config = transformers.LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=2, vocab_size=97,
                                      tie_word_embeddings=tied, attention_bias=True)
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config).eval()
    with torch.no_grad():
        for layer in model.model.layers:  # a few outlier channels, as trained models have
            layer.input_layernorm.weight[[3, 17]] *= 40
            layer.post_attention_layernorm.weight[5] *= 25
            layer.self_attn.v_proj.bias.normal_()  # biases must be scaled with their rows
    return model


def _outlier_ratio(x_max: Any) -> float:
    return float(x_max.max() / x_max.median())


@pytest.mark.parametrize("tied", [True, False])
def test_smoothing_keeps_the_logits_and_flattens_the_projection_inputs(tied: bool) -> None:
    model = _llama(tied)
    prompts = [" ".join(str((7 * i + j) % 97) for j in range(24)) for i in range(6)]
    ids = torch.tensor([[int(t) for t in prompts[0].split()]])
    with torch.no_grad():
        before = model(ids).logits
    maxima = activation_maxima(model, _Ids(), prompts)
    smooth(model, maxima, alpha=0.7)
    with torch.no_grad():
        after = model(ids).logits
    assert torch.allclose(before, after, atol=1e-4), float((before - after).abs().max())
    assert model.lm_head.weight.data_ptr() != model.model.embed_tokens.weight.data_ptr()
    assert model.config.tie_word_embeddings is False
    flat = activation_maxima(model, _Ids(), prompts)
    for key in ("0.self_attn.q_proj", "1.self_attn.q_proj", "0.mlp.gate_proj", "1.mlp.gate_proj"):
        assert _outlier_ratio(flat[key]) < _outlier_ratio(maxima[key]) / 2, key


def test_an_architecture_the_smoothing_does_not_know_is_refused() -> None:
    config = transformers.GPT2Config(n_embd=32, n_layer=1, n_head=2, vocab_size=50)
    with pytest.raises(QuantizationError, match="gpt2.*ONNX_PRECISION = \"int8\""):
        smooth(transformers.GPT2LMHeadModel(config), {})
