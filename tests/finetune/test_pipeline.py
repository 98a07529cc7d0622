"""End to end on the real default model (SmolLM2-135M, CPU): a short LoRA run lowers the loss, the adapter
loads and changes the output, resumes from a checkpoint, is gated (shuffled answers are rejected),
registered, refused on a mismatched base, merged by export and served by the transformers backend.

Rows are kept short (a one-line system prompt, eight sample Q/A pairs) so the module runs in a few minutes.
"""

from __future__ import annotations

import asyncio
import csv
import json
from pathlib import Path

import pytest
import torch

from assistant.engine.settings import Settings
from finetune import adapters
from finetune.errors import AdapterMismatch, FinetuneError
from finetune.eval import EvalOptions, evaluate
from finetune.export import ExportOptions, export
from finetune.prepare import PrepareOptions, prepare
from finetune.train import train
from finetune.train_options import TrainOptions

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

STEPS = 8


@pytest.fixture(scope="module")
def settings(model_cache_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    registry = tmp_path_factory.mktemp("adapters")
    return Settings(system_prompt="You are the support assistant of {company}. Answer briefly.",
                    model_cache_dir=model_cache_dir, engine={"adapters_dir": registry})


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def _data(folder: Path, settings: Settings, shuffle: bool) -> Path:
    """Eight sample Q/A pairs; validation holds the true pairs, training the true or shuffled ones."""
    with (ROOT / "finetune" / "samples" / "qa.csv").open(encoding="utf-8") as handle:
        pairs = list(csv.reader(handle))[1:9]
    source = folder / "qa.csv"
    with source.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["question", "answer"], *pairs])
    prepare(PrepareOptions(inputs=[str(source)], output_dir=str(folder / "data"), val_fraction=0.0), settings)
    data = folder / "data"
    rows = _rows(data / "train.jsonl")
    (data / "val.jsonl").write_text((data / "train.jsonl").read_text())
    if shuffle:  # every question gets the next question's answer
        answers = [r["answer"] for r in rows]
        for i, row in enumerate(rows):
            row["answer"] = answers[(i + 1) % len(rows)]
            row["messages"][-1]["content"] = row["answer"]
        (data / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return data


def _options(data: Path, out: Path, **overrides: object) -> TrainOptions:
    values = dict(data_dir=str(data), output_dir=str(out), max_steps=STEPS, per_device_train_batch_size=4,
                  learning_rate=3e-3, warmup_ratio=0.0, lr_scheduler_type="constant", logging_steps=1,
                  save_steps=4, max_length=256, seed=0, torch_threads=0)
    values.update(overrides)
    return TrainOptions(**values)


@pytest.fixture(scope="module")
def good_run(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("good")
    return train(_options(_data(folder, settings, shuffle=False), folder / "run"), settings)


@pytest.fixture(scope="module")
def shuffled_run(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("shuffled")
    return train(_options(_data(folder, settings, shuffle=True), folder / "run"), settings)


def _eval(run: dict, name: str, settings: Settings) -> dict:
    return evaluate(EvalOptions(run_dir=run["options"]["output_dir"], name=name, max_generate=4,
                                max_new_tokens=48, ranking_negatives=7), settings)


def test_short_run_lowers_the_loss(good_run: dict) -> None:
    m = good_run["metrics"]
    assert m["steps"] == STEPS
    assert m["val_loss"] < 0.8 * m["base_val_loss"]
    train_losses = [h["loss"] for h in good_run["log_history"] if "loss" in h]
    assert sum(train_losses[-2:]) / 2 < sum(train_losses[:2]) / 2
    run_dir = Path(good_run["options"]["output_dir"])
    assert (run_dir / "loss.png").stat().st_size > 1000
    assert any((run_dir / "tensorboard").iterdir())  # TensorBoard event files
    meta = json.loads((run_dir / "adapter" / "metadata.json").read_text())
    assert meta["base_model"] == "SmolLM2-135M-Instruct" and len(meta["data_hash"]) == 64


def test_adapter_loads_and_changes_the_output(good_run: dict, settings: Settings) -> None:
    from finetune.base_model import load_base
    from finetune.scoring import generate
    from finetune.similarity import rouge_l

    base = load_base("", settings, device="cpu")
    rows = _rows(Path(good_run["data_dir"], "val.jsonl"))[:2]
    prompts = [r["messages"][:-1] for r in rows]
    before = generate(base.model, base.tokenizer, prompts, 24, 2)
    model = adapters.load_adapter(base.model, Path(good_run["options"]["output_dir"]) / "adapter")
    after = generate(model, base.tokenizer, prompts, 24, 2)
    assert before != after
    # ...towards the references it was trained on.
    refs = [r["answer"] for r in rows]
    assert sum(rouge_l(refs, after)) > sum(rouge_l(refs, before))


def test_resume_from_last_checkpoint(good_run: dict, settings: Settings) -> None:
    run_dir = Path(good_run["options"]["output_dir"])
    assert (run_dir / "checkpoints" / f"checkpoint-{STEPS}").is_dir()
    resumed = train(_options(Path(good_run["data_dir"]), run_dir, max_steps=STEPS + 2,
                             resume_from_checkpoint="last"), settings)
    assert resumed["metrics"]["steps"] == STEPS + 2
    steps = [h["step"] for h in resumed["log_history"] if "loss" in h]
    assert steps[-2:] == [STEPS + 1, STEPS + 2]


def test_gate_promotes_the_adapter_and_rejects_shuffled_answers(good_run: dict, shuffled_run: dict,
                                                                settings: Settings) -> None:
    good = _eval(good_run, "tiny-good", settings)
    bad = _eval(shuffled_run, "tiny-shuffled", settings)
    assert good["gate"]["promoted"], good["gate"]["reasons"]
    assert good["adapter"]["ranking_accuracy"] >= good["base"]["ranking_accuracy"]
    assert good["adapter"]["ranking_margin"] > good["base"]["ranking_margin"]
    registered = settings.engine.adapters_dir / "tiny-good"
    meta = json.loads((registered / "metadata.json").read_text())
    assert {"base_model", "base_fingerprint", "data_hash", "metrics", "date"} <= set(meta)
    assert (registered / "report.md").is_file() and (registered / "adapter_model.safetensors").is_file()

    assert not bad["gate"]["promoted"]
    assert any(r.startswith("ranking_margin") for r in bad["gate"]["reasons"])
    assert not (settings.engine.adapters_dir / "tiny-shuffled").exists()
    (aside,) = (settings.engine.adapters_dir / adapters.REJECTED).glob("tiny-shuffled-*")
    assert "ranking margin" in (aside / "report.md").read_text()
    assert [a["name"] for a in adapters.list_adapters(settings.engine.adapters_dir)] == ["tiny-good"]
    report = Path(good_run["options"]["output_dir"]) / "eval"
    assert (report / "loss.png").is_file() and json.loads((report / "report.json").read_text())["gate"]["promoted"]


def test_mismatched_base_model_is_refused(good_run: dict, tmp_path: Path) -> None:
    from transformers import AutoConfig, LlamaConfig, LlamaForCausalLM

    other = LlamaForCausalLM(LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                         num_attention_heads=4, num_key_value_heads=2, vocab_size=49152))
    other.save_pretrained(tmp_path / "other")
    adapter_dir = Path(good_run["options"]["output_dir"]) / "adapter"
    with pytest.raises(AdapterMismatch, match="SmolLM2-135M-Instruct.*hidden_size is 64"):
        adapters.check_adapter(tmp_path / "other", adapter_dir)
    with pytest.raises(AdapterMismatch, match="cannot be loaded"):
        adapters.load_adapter(other, adapter_dir)
    # Same architecture, different weights (think base vs instruct checkpoint): refused too.
    twin = LlamaForCausalLM(AutoConfig.from_pretrained(good_run["base_folder"]))  # random weights
    with pytest.raises(AdapterMismatch, match="different weights"):
        adapters.load_adapter(twin, adapter_dir)
    adapters.check_adapter(good_run["base_folder"], adapter_dir)  # the right base passes


def test_export_merges_into_plain_weights(good_run: dict, settings: Settings, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    from finetune.base_model import load_base

    adapter_dir = Path(good_run["options"]["output_dir"]) / "adapter"
    info = export(ExportOptions(adapter=str(adapter_dir), output_dir=str(tmp_path / "merged"), dtype="float32"),
                  settings)
    merged = AutoModelForCausalLM.from_pretrained(info["output_dir"], dtype=torch.float32)
    assert (tmp_path / "merged" / "model.safetensors").is_file()
    base = load_base("", settings, device="cpu")
    peft_model = adapters.load_adapter(base.model, adapter_dir).eval()
    ids = base.tokenizer("Where is my parcel?", return_tensors="pt").input_ids
    with torch.no_grad():
        assert torch.allclose(merged(ids).logits, peft_model(ids).logits, atol=1e-3)
    with pytest.raises(FinetuneError, match="already exists"):
        export(ExportOptions(adapter=str(adapter_dir), output_dir=str(tmp_path / "merged")), settings)


def test_transformers_backend_serves_the_registered_adapter(good_run: dict, shuffled_run: dict,
                                                            settings: Settings) -> None:
    from assistant.engine.backends import GenerationRequest, SamplingParams
    from assistant.engine.backends.transformers import TransformersBackend
    from finetune.base_model import load_base
    from finetune.scoring import generate

    if not (settings.engine.adapters_dir / "tiny-good").exists():
        pytest.skip("needs the adapter registered by the gate test")
    rows = _rows(Path(good_run["data_dir"], "val.jsonl"))
    backend = TransformersBackend(settings)

    async def ask(adapter: str | None) -> str:
        request = GenerationRequest(messages=rows[0]["messages"][:-1], adapter=adapter,
                                    sampling=SamplingParams(max_tokens=24))
        return (await backend.generate(request)).text

    async def run() -> tuple[list[str], str, str]:
        await backend.start()
        try:
            return backend.adapters(), await ask(None), await ask("tiny-good")
        finally:
            await backend.close()

    names, plain, tuned = asyncio.run(run())
    assert names == ["tiny-good"]
    assert plain != tuned
    # The backend serves exactly the registered adapter: same greedy reply as loading it directly.
    base = load_base("", settings, device="cpu")
    model = adapters.load_adapter(base.model, settings.engine.adapters_dir / "tiny-good")
    (expected,) = generate(model, base.tokenizer, [rows[0]["messages"][:-1]], 24, 1)
    assert tuned.strip() == expected


def test_chat_api_answers_with_the_adapter_named_in_the_request(good_run: dict, settings: Settings,
                                                                 tmp_path: Path) -> None:
    """POST /v1/chat with "adapter" runs the real transformers backend on the registered adapter."""
    import time

    from fastapi.testclient import TestClient

    from assistant.engine.backends.transformers import TransformersBackend
    from assistant.engine.facade import Assistant
    from assistant.engine.store import Store
    from assistant.engine.understanding.policy import AnswerPolicy
    from assistant.engine.understanding.templates import TemplateBook
    from assistant.server.app import create_app
    from tests.support import FakeClassifier, FakeHit, FakeRetriever

    if not (settings.engine.adapters_dir / "tiny-good").exists():
        pytest.skip("needs the adapter registered by the gate test")
    row = _rows(Path(good_run["data_dir"], "val.jsonl"))[0]
    # the model's own text, unchecked: the check would replace both drafts by the same passage sentence
    chat_settings = settings.model_copy(update={"data_dir": tmp_path, "engine": settings.engine.model_copy(
        update={"answers": "unchecked"})})
    # a passage that does not hold the answer, so the reply comes from the model, not from copying the source
    hit = FakeHit("about", "About us", "Northwind Outfitters sells outdoor clothing and gear online.", 0.9)
    bot = Assistant(chat_settings, backend=TransformersBackend(chat_settings), retriever=FakeRetriever([hit]),
                    understanding=FakeClassifier(), store=Store(chat_settings.resolved_database_url),
                    policy=AnswerPolicy(chat_settings.understanding, TemplateBook.empty()))
    # a factory, not a ready facade: the app starts the backend in the background as in production
    with TestClient(create_app(chat_settings, factory=lambda _: bot)) as client:
        deadline = time.time() + 300
        while client.get("/readyz").status_code != 200:
            assert time.time() < deadline, client.get("/readyz").text
            time.sleep(0.5)
        ask = {"message": row["question"], "temperature": 0, "max_tokens": 24}
        plain = client.post("/v1/chat", json=ask)
        tuned = client.post("/v1/chat", json={**ask, "adapter": "tiny-good"})
        missing = client.post("/v1/chat", json={**ask, "adapter": "no-such-adapter"})
        models = client.get("/v1/models").json()
    assert plain.status_code == tuned.status_code == 200, (plain.text, tuned.text)
    assert plain.json()["route"] == tuned.json()["route"] == "generate"
    assert plain.json()["answer"] != tuned.json()["answer"]
    assert missing.status_code == 404 and "no-such-adapter" in missing.text
    assert "tiny-good" in [m["id"] for m in models["data"]]
