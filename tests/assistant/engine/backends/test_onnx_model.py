"""The onnx backend's model and start-up, with the real default model: what the conformance suite does not cover.

The model folder comes from onnxruntime-genai's own builder, once, into the shared model cache; its
next-token predictions must follow the dequantised fp32 model's (teacher-forced); bad configuration
fails at start-up with one line naming the setting; a template the model rewords is shown only when
the fact check passes.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest

from assistant.engine.backends import BackendError, GenerationRequest, create_backend
from assistant.engine.models import ModelNotFound, ModelRef, hf_folder, onnx_folder, resolve_chat_model
from assistant.engine.settings import Settings

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

TEXTS = [
    "Refunds are paid to the original payment method within 5 working days after the parcel is back.",
    "You can change the delivery address until the order is packed. After that, contact the carrier.",
    "Our two-year guarantee covers manufacturing faults, not wear and tear or accidental damage.",
]


def test_the_built_model_predicts_the_fp32_models_next_tokens(model_cache_dir: Path) -> None:
    import onnxruntime_genai as og
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    ref = resolve_chat_model("")
    source = hf_folder(ref, model_cache_dir)
    folder = onnx_folder(ref, model_cache_dir)
    assert onnx_folder(ref, model_cache_dir) == folder  # cached: built once
    assert json.loads((folder / "conversion.json").read_text())["builder"] == "onnxruntime_genai.models.builder"
    tokenizer = AutoTokenizer.from_pretrained(source)
    fp32 = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32).eval()
    model = og.Model(str(folder))
    agree = total = 0
    for text in TEXTS:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        with torch.inference_mode():
            expected = fp32(torch.tensor([ids])).logits[0].argmax(-1).tolist()
        params = og.GeneratorParams(model)
        params.set_search_options(max_length=256)
        generator = og.Generator(model, params)
        for position, token in enumerate(ids[:-1]):
            generator.append_tokens(np.array([token], dtype=np.int32))
            got = int(np.argmax(generator.get_logits()[0, -1]))
            agree += got == expected[position]
            total += 1
    assert agree / total >= 0.9, f"{agree}/{total} next tokens agree with the fp32 model"


def test_a_failed_conversion_leaves_nothing_in_the_cache(tmp_path: Path) -> None:
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text(json.dumps({"model_type": "not-a-model"}))
    with pytest.raises(ModelNotFound, match="model builder could not convert"):
        onnx_folder(ModelRef("broken-model", str(broken)), tmp_path / "cache")
    left = [p for p in (tmp_path / "cache").rglob("*") if p.is_file() or "onnx" in p.name]
    assert left == [], left


def test_bad_configuration_fails_at_start_up_naming_the_setting(model_cache_dir: Path, tmp_path: Path) -> None:
    adapter = Settings(data_dir=tmp_path, model_cache_dir=model_cache_dir, engine={"backend": "onnx", "adapter": "x"})
    with pytest.raises(BackendError, match="ASSISTANT_ENGINE__ADAPTER"):
        asyncio.run(create_backend(adapter).start())
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text(json.dumps({"model_type": "not-a-model"}))
    model = Settings(data_dir=tmp_path, model_cache_dir=tmp_path / "cache",
                     engine={"backend": "onnx", "chat_model": str(broken)})
    with pytest.raises(BackendError, match="ASSISTANT_ENGINE__CHAT_MODEL"):
        asyncio.run(create_backend(model).start())
    with pytest.raises(BackendError, match="ASSISTANT_ENGINE__BACKEND"):
        create_backend(Settings(data_dir=tmp_path, engine={"backend": "no-such-engine"}))


def test_a_prompt_over_the_context_is_refused(model_cache_dir: Path, tmp_path: Path) -> None:
    backend = create_backend(Settings(data_dir=tmp_path, model_cache_dir=model_cache_dir, engine={"backend": "onnx"}))

    async def run() -> None:
        await backend.start()
        try:
            with pytest.raises(BackendError, match="exceeds the context"):
                await backend.generate(GenerationRequest(messages=[{"role": "user", "content": "refund " * 3000}]))
        finally:
            await backend.close()

    asyncio.run(run())


# a greeting is small talk (turn.py): answered before templates, never reworded
@pytest.mark.parametrize("intent, message", [("contact_hours", "are you open on Saturday?")])
def test_a_template_reworded_by_the_real_model_is_shown_only_when_the_fact_check_passes(
        model_cache_dir: Path, tmp_path: Path, intent: str, message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default model really rewords the sample templates (bench/rephrase.py: most rewordings drop a fact);
    whatever it writes, the customer sees the template as written or a rewording that kept every fact."""
    from assistant.engine.facade import Assistant
    from assistant.engine.store import Store
    from assistant.engine.understanding import policy, rephrase
    from assistant.engine.understanding.policy import AnswerPolicy
    from assistant.engine.understanding.templates import TemplateBook
    from assistant.engine.understanding.understanding import SAMPLE_TEMPLATES
    from tests.support import FakeClassifier, FakeRetriever

    monkeypatch.setattr(policy, "CORROBORATE_TEMPLATES", False)
    settings = Settings(data_dir=tmp_path, model_cache_dir=model_cache_dir,
                        engine={"backend": "onnx"}, understanding={"rephrase_templates": True})
    book = TemplateBook.load(SAMPLE_TEMPLATES)
    bot = Assistant(settings, backend=create_backend(settings), retriever=FakeRetriever([]),
                    understanding=FakeClassifier(intent, 0.99), policy=AnswerPolicy(settings.understanding, book),
                    store=Store(settings.resolved_database_url))

    async def run() -> object:
        await bot.backend.start()
        try:
            return await bot.chat(message)
        finally:
            await bot.backend.close()

    reply = asyncio.run(run())
    rendered = book.select(intent, message)
    assert reply.route == "template" and reply.template_id == rendered.template_id
    assert reply.timings.completion_tokens > 0  # the model was asked
    assert reply.answer == rendered.text or rephrase.check(rendered.text, reply.answer, rendered.filled.values()).ok
    bot.store.close()
