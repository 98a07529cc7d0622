"""`train` refuses to start without data or on an unusable hardware path, before loading any model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from finetune.arguments import parse_options
from finetune.errors import FinetuneError
from finetune.train import main, train
from finetune.train_options import TrainOptions


def _data(folder: Path, train_rows: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    row = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
           "question": "q", "answer": "a"}
    (folder / "train.jsonl").write_text("".join(json.dumps(row) + "\n" for _ in range(train_rows)))
    (folder / "val.jsonl").write_text(json.dumps(row) + "\n")
    return folder


def test_empty_training_set_refuses_to_start(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _data(tmp_path / "data", 0)
    assert main(["--data_dir", str(data), "--output_dir", str(tmp_path / "run")]) == 2
    assert "is empty; refusing to train" in capsys.readouterr().err
    assert not (tmp_path / "run" / "adapter").exists()


def test_missing_data_points_to_prepare(tmp_path: Path) -> None:
    with pytest.raises(FinetuneError, match="run `assistant finetune prepare` first"):
        train(TrainOptions(data_dir=str(tmp_path / "nothing"), output_dir=str(tmp_path / "run")))


@pytest.mark.skipif(torch.cuda.is_available(), reason="the guard is for machines without a GPU")
def test_qlora_and_bf16_without_gpu_are_refused_clearly(tmp_path: Path) -> None:
    data = _data(tmp_path / "data", 2)
    with pytest.raises(FinetuneError, match="QLoRA .* needs a CUDA GPU"):
        train(TrainOptions(data_dir=str(data), output_dir=str(tmp_path / "run"), qlora=True))
    with pytest.raises(FinetuneError, match="bf16 training needs a CUDA GPU"):
        train(TrainOptions(data_dir=str(data), output_dir=str(tmp_path / "run"), bf16="on", device="cpu"))


def test_finished_run_is_not_overwritten_silently(tmp_path: Path) -> None:
    data = _data(tmp_path / "data", 2)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "run.json").write_text("{}")
    with pytest.raises(FinetuneError, match="already holds a finished run"):
        train(TrainOptions(data_dir=str(data), output_dir=str(tmp_path / "run")))
    with pytest.raises(FinetuneError, match="no checkpoint to resume"):
        train(TrainOptions(data_dir=str(data), output_dir=str(tmp_path / "run"), resume_from_checkpoint="last"))


def test_options_from_yaml_with_flag_overrides(tmp_path: Path) -> None:
    config = tmp_path / "train.yaml"
    config.write_text("lora_r: 16\nlearning_rate: 0.0005\ntarget_modules: [q_proj, v_proj]\n")
    options = parse_options(TrainOptions, ["--config", str(config), "--lora_r", "4"], "test")
    assert (options.lora_r, options.learning_rate, options.target_modules) == (4, 0.0005, ["q_proj", "v_proj"])
    config.write_text("lora_rank: 16\n")
    with pytest.raises(FinetuneError, match=r"unknown options \['lora_rank'\]"):
        parse_options(TrainOptions, ["--config", str(config)], "test")
