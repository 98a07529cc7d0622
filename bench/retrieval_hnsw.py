"""HNSW recall@10 against exact search on 1M synthetic 384-d vectors, with query latency.

    python bench/retrieval_hnsw.py [--n 1000000] [--queries 1000] [--m 32] [--ef-construction 80]

Vectors: a Gaussian mixture (20,000 centres) in a 48-dim latent space projected to 384-d plus
small isotropic noise, normalised: sentence embeddings have a low intrinsic dimension, and
isotropic 384-d noise (the worst case for any ANN index) would measure something no knowledge
base looks like. Queries are drawn the same way but are not in the index. Ground truth: exact inner product (faiss.IndexFlatIP, batched BLAS). The HNSW
index is built through the same DenseIndex class the Retriever uses, then searched at several
efSearch values (one query at a time, like the server). Writes bench/results/retrieval.md (part "hnsw").
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import faiss
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.retrieval_report import record, table  # noqa: E402
from retrieval.dense_index import DenseIndex, HnswParams  # noqa: E402


def synthetic(
    n: int, dims: int, rng: np.random.Generator, latent: int = 48, centres: int = 20_000
) -> np.ndarray:
    """Unit vectors with sentence-embedding-like structure: a Gaussian mixture in a `latent`-dim space,
    projected into `dims` dimensions, plus small isotropic noise."""
    means = rng.standard_normal((centres, latent)).astype(np.float32)
    proj = np.linalg.qr(rng.standard_normal((dims, latent)))[0].T.astype(np.float32)
    out = np.empty((n, dims), dtype=np.float32)
    step = 100_000
    for start in range(0, n, step):
        m = min(step, n - start)
        z = means[rng.integers(0, centres, m)] + 0.5 * rng.standard_normal((m, latent)).astype(np.float32)
        x = z @ proj + 0.02 * rng.standard_normal((m, dims)).astype(np.float32)
        out[start : start + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--dims", type=int, default=384)
    parser.add_argument("--m", type=int, default=32)
    parser.add_argument("--ef-construction", type=int, default=80)
    parser.add_argument("--ef-search", default="32,64,96,128,256")
    parser.add_argument("--threads", type=int, default=0, help="FAISS threads (0 = all cores).")
    args = parser.parse_args()
    if args.threads:
        faiss.omp_set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    data = synthetic(args.n + args.queries, args.dims, rng)
    base, queries = data[: args.n], data[args.n :]
    print(
        f"{args.n:,} x {args.dims} vectors ({base.nbytes / 2**30:.2f} GiB); exact ground truth...", flush=True
    )
    t0 = time.perf_counter()
    flat = faiss.IndexFlatIP(args.dims)
    flat.add(base)
    _, truth = flat.search(queries, 10)
    exact_batch_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for q in queries[:50]:
        flat.search(q[None, :], 10)
    exact_ms = (time.perf_counter() - t0) * 1000 / 50
    del flat
    params = HnswParams(m=args.m, ef_construction=args.ef_construction, ef_search=64)
    t0 = time.perf_counter()
    index = DenseIndex.build(base, threshold=0, params=params, progress=True)
    build_s = time.perf_counter() - t0
    print(f"HNSW built in {build_s:.0f}s", flush=True)
    rows, numbers = (
        [],
        {
            "n": args.n,
            "dims": args.dims,
            "m": args.m,
            "ef_construction": args.ef_construction,
            "build_s": build_s,
            "exact_single_query_ms": exact_ms,
            "exact_batch_s": exact_batch_s,
        },
    )
    for ef in [int(x) for x in args.ef_search.split(",")]:
        index.params = HnswParams(args.m, args.ef_construction, ef)
        found = np.empty_like(truth)
        lat = []
        for i, q in enumerate(queries):
            t0 = time.perf_counter()
            _, rows_i = index.search(q, 10)
            lat.append((time.perf_counter() - t0) * 1000)
            found[i] = rows_i[0]
        recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth, strict=True)]))
        p50, p99 = float(np.percentile(lat, 50)), float(np.percentile(lat, 99))
        rows.append([ef, recall, f"{p50:.3f}", f"{p99:.3f}"])
        numbers[f"ef{ef}"] = {"recall_at_10": recall, "p50_ms": p50, "p99_ms": p99}
        print(rows[-1], flush=True)
    md = "\n".join(
        [
            f"### HNSW vs exact search, {args.n:,} synthetic {args.dims}-d vectors (target recall@10 >= 0.95)",
            "",
            f"HNSW M={args.m}, efConstruction={args.ef_construction}, built in {build_s:.0f} s on this machine; "
            f"{args.queries} queries not in the index, one at a time. Exact search (flat inner product) takes "
            f"{exact_ms:.1f} ms per single query. Vectors: 48-dim latent Gaussian mixture (20,000 centres) projected to 384-d + noise.",
            "",
            table(["efSearch", "recall@10", "p50 ms", "p99 ms"], rows),
        ]
    )
    record("hnsw", md, numbers)


if __name__ == "__main__":
    main()
