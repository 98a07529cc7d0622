"""Confusion-matrix PNG for classifier evaluations (`--plot PATH`): a person reads a picture faster than a table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.metrics import confusion_matrix


def plot_confusion(gold: list[str], predicted: list[str], labels: list[str], path: Path, title: str) -> Path:
    """Write a row-normalised confusion matrix; tick labels are shown only while they stay legible."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = confusion_matrix(gold, predicted, labels=labels).astype(float)
    rows = matrix.sum(1, keepdims=True)
    normalised = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
    size = min(24.0, max(5.0, 0.22 * len(labels) + 3))
    fig, ax = plt.subplots(figsize=(size, size * 0.9))
    image = ax.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true label")
    if len(labels) <= 80:
        font = 9 if len(labels) <= 12 else 5
        ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=font)
        ax.set_yticks(range(len(labels)), labels, fontsize=font)
    if len(labels) <= 12:
        for i in range(len(labels)):
            for j in range(len(labels)):
                if matrix[i, j]:
                    colour = "white" if normalised[i, j] > 0.5 else "black"
                    ax.text(j, i, f"{int(matrix[i, j])}", ha="center", va="center", fontsize=9, color=colour)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
