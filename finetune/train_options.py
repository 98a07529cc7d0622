"""Options of `finetune train`: LoRA shape, optimisation and hardware, each with its --help text.

Set them in a YAML file (`--config finetune/configs/example.yaml`) and/or as flags
(`--lora_r 16 --learning_rate 5e-4`); flags win. Field names follow peft's LoraConfig and
transformers' TrainingArguments, so their documentation applies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ATTENTION_PROJECTIONS = ["q_proj", "k_proj", "v_proj", "o_proj"]


@dataclass
class TrainOptions:
    data_dir: str = field(default="var/finetune/data", metadata={
        "help": "Folder written by `finetune prepare` (train.jsonl, val.jsonl, report.json)."})
    output_dir: str = field(default="runs/support-lora", metadata={
        "help": "Run folder: checkpoints/, tensorboard/, adapter/, run.json, loss.png."})
    base_model: str = field(default="", metadata={
        "help": "HF folder, GGUF file or hub id; empty = the configured chat model (embedded SmolLM2-135M)."})
    lora_r: int = field(default=8, metadata={"help": "LoRA rank: size of the low-rank update."})
    lora_alpha: int = field(default=16, metadata={"help": "LoRA scaling numerator (update scaled by alpha / r)."})
    lora_dropout: float = field(default=0.05, metadata={"help": "Dropout on the LoRA input."})
    target_modules: list[str] = field(default_factory=lambda: list(ATTENTION_PROJECTIONS), metadata={
        "help": "Module names that get LoRA updates (attention projections by default)."})
    learning_rate: float = field(default=1e-3, metadata={"help": "Peak learning rate of AdamW."})
    num_train_epochs: float = field(default=2.0, metadata={"help": "Passes over the training set."})
    max_steps: int = field(default=-1, metadata={"help": "Stop after this many optimizer steps (-1 = use epochs)."})
    per_device_train_batch_size: int = field(default=8, metadata={"help": "Rows per forward pass per device."})
    per_device_eval_batch_size: int = field(default=8, metadata={"help": "Rows per validation forward pass."})
    gradient_accumulation_steps: int = field(default=1, metadata={
        "help": "Micro-batches accumulated per optimizer step (effective batch = batch size x this x devices)."})
    max_length: int = field(default=512, metadata={
        "help": "Longest row in tokens; replies are cut to fit, rows whose prompt alone is longer are skipped."})
    seed: int = field(default=42, metadata={"help": "Seed for LoRA initialisation, shuffling and dropout."})
    warmup_ratio: float = field(default=0.05, metadata={"help": "Share of steps with a linear learning-rate warm-up."})
    lr_scheduler_type: str = field(default="cosine", metadata={"help": "transformers scheduler name."})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay on the LoRA weights."})
    gradient_checkpointing: Literal["auto", "on", "off"] = field(default="auto", metadata={
        "help": "Recompute activations in backward to save memory (~30%% more compute). auto = on for GPUs."})
    bf16: Literal["auto", "on", "off"] = field(default="auto", metadata={
        "help": "bfloat16 weights and autocast; auto = on for GPUs that support it, float32 on CPU."})
    qlora: bool = field(default=False, metadata={
        "help": "Load the base in 4-bit (QLoRA). Needs a CUDA GPU and bitsandbytes."})
    device: Literal["auto", "cpu", "cuda"] = field(default="auto", metadata={"help": "Where to train."})
    torch_threads: int = field(default=0, metadata={"help": "CPU threads for torch; 0 = torch's default."})
    logging_steps: int = field(default=5, metadata={"help": "Log the training loss every N optimizer steps."})
    eval_steps: int = field(default=0, metadata={"help": "Validation loss every N steps; 0 = once per epoch."})
    save_steps: int = field(default=0, metadata={"help": "Checkpoint every N steps; 0 = once per epoch."})
    save_total_limit: int = field(default=2, metadata={"help": "Checkpoints kept on disk."})
    resume_from_checkpoint: str = field(default="", metadata={
        "help": "'last' = newest checkpoint in output_dir, or a checkpoint folder; empty = start fresh."})
    overwrite: bool = field(default=False, metadata={"help": "Replace a finished run in output_dir."})
    share_prompt_prefix: bool = field(default=True, metadata={
        "help": "Run the system prompt shared by a batch's rows once (same loss, much less CPU work). "
                "Ignored with gradient checkpointing or several processes."})
    group_by_length: bool = field(default=True, metadata={
        "help": "Batch rows of similar length together (less padding, faster on CPU)."})
