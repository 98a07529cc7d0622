"""Train a LoRA adapter on prepared data with peft and transformers' Trainer.

    python -m finetune.train --config finetune/configs/example.yaml     # or: assistant finetune train ...
    accelerate launch --config_file finetune/configs/accelerate_ddp.yaml -m finetune.train --config ...

The loss covers assistant tokens only. Writes output_dir/adapter (peft format), run.json (base
model and its fingerprint, data hash, options, metrics, log history), loss.png, TensorBoard logs
in output_dir/tensorboard and checkpoints in output_dir/checkpoints (resume with
--resume_from_checkpoint last). Multi-GPU runs need no code here: accelerate and the Trainer do it.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assistant.engine.settings import Settings
from finetune import fingerprint
from finetune.adapters import METADATA
from finetune.arguments import options_dict, parse_options
from finetune.base_model import load_base
from finetune.errors import FinetuneError
from finetune.plots import plot_losses
from finetune.tokenization import encode_rows, read_rows
from finetune.train_options import TrainOptions

log = logging.getLogger(__name__)


def _tensorboard_callback(log_dir: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
        from transformers.integrations import TensorBoardCallback
    except ImportError:
        log.warning("tensorboard is not installed; training curves go to run.json and loss.png only")
        return None
    return TensorBoardCallback(tb_writer=SummaryWriter(log_dir=str(log_dir)))


def _resume_path(options: TrainOptions, checkpoints: Path) -> str | None:
    if not options.resume_from_checkpoint:
        return None
    if options.resume_from_checkpoint == "last":
        from transformers.trainer_utils import get_last_checkpoint

        last = get_last_checkpoint(str(checkpoints)) if checkpoints.is_dir() else None
        if last is None:
            raise FinetuneError(f"no checkpoint to resume from in {checkpoints}")
        return last
    if not Path(options.resume_from_checkpoint).is_dir():
        raise FinetuneError(f"checkpoint folder not found: {options.resume_from_checkpoint}")
    return options.resume_from_checkpoint


def _data_hash(data_dir: Path) -> str:
    report = data_dir / "report.json"
    if report.is_file():
        return json.loads(report.read_text())["data_hash"]
    import hashlib

    return hashlib.sha256((data_dir / "train.jsonl").read_bytes() + (data_dir / "val.jsonl").read_bytes()).hexdigest()


def train(options: TrainOptions, settings: Settings | None = None) -> dict[str, Any]:
    """Train and save the adapter; returns the run record (also written to output_dir/run.json)."""
    import torch
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import DataCollatorForSeq2Seq, TrainingArguments

    from finetune.trainer import AnswerOnlyTrainer

    settings = settings or Settings()
    run_dir, data_dir = Path(options.output_dir), Path(options.data_dir)
    checkpoints = run_dir / "checkpoints"
    resume = _resume_path(options, checkpoints)
    if not resume and not options.overwrite:
        if (run_dir / "run.json").exists():
            raise FinetuneError(f"{run_dir} already holds a finished run; pass --overwrite or pick another --output_dir")
        if checkpoints.is_dir() and any(checkpoints.glob("checkpoint-*")):
            raise FinetuneError(f"{run_dir} holds checkpoints of an unfinished run; continue it with "
                                "--resume_from_checkpoint last, or start over with --overwrite")
    train_rows, val_rows = read_rows(data_dir / "train.jsonl"), read_rows(data_dir / "val.jsonl")
    if not train_rows:
        raise FinetuneError(f"the training set {data_dir / 'train.jsonl'} is empty; refusing to train")
    if options.torch_threads:
        torch.set_num_threads(options.torch_threads)

    base = load_base(options.base_model, settings, device=options.device, bf16=options.bf16, qlora=options.qlora)
    train_set = encode_rows(train_rows, base.tokenizer, options.max_length)
    val_set = encode_rows(val_rows, base.tokenizer, options.max_length)
    if not len(train_set):
        raise FinetuneError(f"every training row is longer than max_length={options.max_length}; refusing to train")

    model = base.model
    on_gpu = base.device == "cuda"
    checkpointing = options.gradient_checkpointing == "on" or (options.gradient_checkpointing == "auto" and on_gpu)
    if options.qlora:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=checkpointing)
    lora = LoraConfig(r=options.lora_r, lora_alpha=options.lora_alpha, lora_dropout=options.lora_dropout,
                      target_modules=list(options.target_modules), task_type="CAUSAL_LM")
    try:
        model = get_peft_model(model, lora)
    except ValueError as exc:  # e.g. target modules that this architecture does not have
        raise FinetuneError(f"cannot attach LoRA to {base.name}: {exc}") from exc
    bf16 = next(model.parameters()).dtype == torch.bfloat16 or options.qlora

    evaluate = "steps" if options.eval_steps else "epoch"
    args = TrainingArguments(
        output_dir=str(checkpoints),
        learning_rate=options.learning_rate,
        num_train_epochs=options.num_train_epochs,
        max_steps=options.max_steps,
        per_device_train_batch_size=options.per_device_train_batch_size,
        per_device_eval_batch_size=options.per_device_eval_batch_size,
        gradient_accumulation_steps=options.gradient_accumulation_steps,
        warmup_steps=options.warmup_ratio,
        lr_scheduler_type=options.lr_scheduler_type,
        weight_decay=options.weight_decay,
        seed=options.seed,
        bf16=bf16,
        use_cpu=base.device == "cpu",
        gradient_checkpointing=checkpointing,
        gradient_checkpointing_kwargs={"use_reentrant": False} if checkpointing else None,
        logging_steps=options.logging_steps,
        logging_first_step=True,
        eval_strategy=evaluate if len(val_set) else "no",
        eval_steps=options.eval_steps or None,
        save_strategy="steps" if options.save_steps else "epoch",
        save_steps=options.save_steps or 500,
        save_total_limit=options.save_total_limit,
        prediction_loss_only=True,
        remove_unused_columns=False,
        train_sampling_strategy="group_by_length" if options.group_by_length else "random",
        report_to="none",
        dataloader_num_workers=0,
    )
    callbacks = [cb for cb in [_tensorboard_callback(run_dir / "tensorboard")] if cb is not None]
    trainer = AnswerOnlyTrainer(
        model=model, args=args, train_dataset=train_set, eval_dataset=val_set if len(val_set) else None,
        data_collator=DataCollatorForSeq2Seq(base.tokenizer, padding=True, label_pad_token_id=-100),
        callbacks=callbacks, share_prefix=options.share_prompt_prefix,
    )
    if getattr(trainer.accelerator.state, "fsdp_plugin", None) is not None:
        # peft's FSDP recipe: wrap trainable LoRA weights apart from the frozen base (use_orig_params=false).
        from peft.utils.other import fsdp_auto_wrap_policy

        trainer.accelerator.state.fsdp_plugin.auto_wrap_policy = fsdp_auto_wrap_policy(trainer.model)
    base_val_loss = None
    if len(val_set):
        with model.disable_adapter():  # logged as base_eval_loss, apart from the adapter's eval_loss curve
            base_val_loss = trainer.evaluate(metric_key_prefix="base_eval")["base_eval_loss"]
    if options.overwrite and not resume:
        shutil.rmtree(checkpoints, ignore_errors=True)
    result = trainer.train(resume_from_checkpoint=resume)
    final_eval: dict[str, Any] = {}
    if len(val_set):
        last = [h for h in trainer.state.log_history if "eval_loss" in h]
        done = last and last[-1].get("step") == trainer.state.global_step
        final_eval = {"eval_loss": last[-1]["eval_loss"]} if done else trainer.evaluate()

    if trainer.is_fsdp_enabled:  # gather full LoRA weights so the adapter loads with from_pretrained
        trainer.accelerator.state.fsdp_plugin.set_state_dict_type("FULL_STATE_DICT")
    adapter_dir = run_dir / "adapter"
    if trainer.is_world_process_zero():
        shutil.rmtree(adapter_dir, ignore_errors=True)
    trainer.save_model(str(adapter_dir))
    if not trainer.is_world_process_zero():
        return {}
    history = trainer.state.log_history
    base_fingerprint = fingerprint.from_model(model)
    data_hash = _data_hash(data_dir)
    # The adapter carries its base model's identity, so a mismatched base refuses to load it anywhere.
    (adapter_dir / METADATA).write_text(json.dumps(
        {"base_model": base.name, "base_fingerprint": base_fingerprint, "data_hash": data_hash}, indent=2))
    record = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "base_model": base.name,
        "base_folder": str(base.folder),
        "base_fingerprint": base_fingerprint,
        "data_dir": str(data_dir),
        "data_hash": data_hash,
        "options": options_dict(options),
        "device": base.device,
        "rows": {"train": len(train_set), "val": len(val_set), "skipped_too_long": train_set.skipped + val_set.skipped},
        "metrics": {
            "train_loss": result.training_loss,
            "base_val_loss": base_val_loss,
            "val_loss": final_eval.get("eval_loss"),
            "train_runtime_s": result.metrics.get("train_runtime"),
            "train_tokens": trainer.meter.tokens,
            "train_tokens_per_second": round(trainer.meter.tokens_per_second, 1),
            "shared_prompt_prefix": trainer.share_prefix,
            "steps": trainer.state.global_step,
        },
        "log_history": history,
    }
    (run_dir / "run.json").write_text(json.dumps(record, indent=2, default=str))
    plot_losses(history, run_dir / "loss.png", base_val_loss=base_val_loss)
    return record


def main(argv: list[str] | None = None) -> int:
    try:
        options = parse_options(TrainOptions, argv, "Train a LoRA adapter (see finetune/train.py).")
        record = train(options)
    except FinetuneError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if record:
        m = record["metrics"]
        print(f"adapter saved to {Path(options.output_dir) / 'adapter'}: train loss {m['train_loss']:.3f}, "
              f"val loss {m['base_val_loss']} -> {m['val_loss']}, {m['train_tokens_per_second']} tokens/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
