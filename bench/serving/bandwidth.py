"""Memory bandwidth of this machine, for the decode roofline of the serving benchmark (bench/serving/serving.py).

Single-stream decode reads every weight once per token, so bandwidth / weight bytes bounds tokens/s.
Two measures, best of five: a STREAM-like triad in numpy (a = b + s*c, one thread) and a large torch
copy (torch's threads); arrays of 256 MiB, far beyond the caches.
"""

from __future__ import annotations

import time

import numpy as np


def _best(fn, moved_bytes: int, repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return moved_bytes / best / 1e9


def measure_bandwidth(threads: int) -> dict[str, float]:
    n = 32 * 2**20  # float64: 256 MiB per array
    a, b, c = np.empty(n), np.random.rand(n), np.random.rand(n)

    def triad() -> None:
        np.multiply(c, 3.0, out=a)
        np.add(a, b, out=a)

    # the two-pass triad moves c (read), a (write), a and b (read), a (write): 5 arrays of traffic
    triad_gb_s = _best(triad, 5 * 8 * n)
    import torch

    if threads:
        torch.set_num_threads(threads)
    x = torch.rand(64 * 2**20)
    y = torch.empty_like(x)
    copy_gb_s = _best(lambda: y.copy_(x), 2 * 4 * x.numel())
    return {"triad_gb_s": triad_gb_s, "torch_copy_gb_s": copy_gb_s, "best_gb_s": max(triad_gb_s, copy_gb_s)}
