"""Fine-tuning pipeline: support transcripts -> LoRA adapter -> side-by-side evaluation -> promotion gate.

Steps, each runnable as `python -m finetune.<step>` or `assistant finetune <step>`:
prepare (clean, redact, split, render with the serving prompt builder), train (peft LoRA with
transformers' Trainer), eval (base vs adapter, report, gate, registry) and export (merged weights).
`finetune.adapters` holds the registry helpers the serving backends call.
"""
