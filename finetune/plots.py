"""PNG of the training and validation loss curves, from the Trainer's log history."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot_losses(log_history: list[dict[str, Any]], path: Path, *, base_val_loss: float | None = None,
                title: str = "LoRA fine-tuning") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [(h["step"], h["loss"]) for h in log_history if "loss" in h and "step" in h]
    val = [(h["step"], h["eval_loss"]) for h in log_history if "eval_loss" in h and "step" in h]
    fig, ax = plt.subplots(figsize=(7, 4))
    if train:
        ax.plot(*zip(*train, strict=True), label="train loss", color="tab:blue")
    if val:
        ax.plot(*zip(*val, strict=True), "o-", label="validation loss", color="tab:orange")
    if base_val_loss is not None:
        ax.axhline(base_val_loss, ls="--", color="grey", label=f"base model validation loss ({base_val_loss:.3f})")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("cross-entropy on reply tokens")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
