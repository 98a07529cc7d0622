"""Deterministic train/validation split that never separates the turns of one conversation.

Groups are ordered by a seeded hash of their content (not of file names or positions), so the
same data and seed give the same split on any machine, and renaming an input file changes nothing.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict

from finetune.records import Example


def _group_rank(seed: int, examples: list[Example]) -> str:
    content = "\x1f".join("\x1e".join(ex.key()) for ex in examples)
    return hashlib.sha256(f"{seed}\x1d{content}".encode()).hexdigest()


def split(examples: list[Example], val_fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """(train, val): about `val_fraction` of the examples, at least one when there are two or more."""
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError("val_fraction must be within [0, 1)")
    groups: dict[str, list[Example]] = defaultdict(list)
    for ex in examples:
        groups[ex.group or ex.origin or "\x1e".join(ex.key())].append(ex)
    ordered = sorted(groups, key=lambda g: _group_rank(seed, groups[g]))
    target = round(val_fraction * len(examples))
    if val_fraction > 0 and len(examples) >= 2:
        target = max(target, 1)
    val_groups: set[str] = set()
    taken = 0
    for g in ordered:
        if taken >= target or len(val_groups) == len(ordered) - 1:
            break
        val_groups.add(g)
        taken += len(groups[g])
    train = [ex for ex in examples if (ex.group or ex.origin or "\x1e".join(ex.key())) not in val_groups]
    val = [ex for ex in examples if (ex.group or ex.origin or "\x1e".join(ex.key())) in val_groups]
    return train, val
