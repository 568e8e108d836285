"""Time exact (IndexFlatIP) vs approximate (IndexHNSWFlat, inner product) single-query search.

Why: the index switches from exact to HNSW past a size threshold; this measures where exact
search stops being "a few ms" on this machine. Random unit vectors are HNSW's worst case for
recall, so recall@10 here is a floor. Usage:

    .venv/bin/python scripts/bench_faiss.py [--sizes 1000,5000,...] [--dim 384] [--queries 200]
"""

from __future__ import annotations

import argparse
import time

import faiss
import numpy as np


def unit(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    x = rng.standard_normal((n, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def time_search(index: faiss.Index, queries: np.ndarray, k: int) -> tuple[float, float, np.ndarray]:
    """Median and p95 ms of one-query-at-a-time search (how a user asks), plus the ids."""
    ids = np.empty((len(queries), k), dtype=np.int64)
    times = []
    for i, q in enumerate(queries):
        t = time.perf_counter()
        _, ids[i : i + 1] = index.search(q[None, :], k)
        times.append((time.perf_counter() - t) * 1000)
    return float(np.median(times)), float(np.percentile(times, 95)), ids


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,5000,10000,20000,50000,100000,200000")
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--k", type=int, default=50)
    ap.add_argument("--m", type=int, default=32, help="HNSW M")
    ap.add_argument("--ef-construction", type=int, default=80)
    ap.add_argument("--ef-search", type=int, default=128)
    args = ap.parse_args()

    rng = np.random.default_rng(0)
    print(f"faiss {faiss.__version__}, omp threads {faiss.omp_get_max_threads()}, dim {args.dim}, k {args.k}")
    print("     n | flat med ms | flat p95 | hnsw build s | hnsw med ms | hnsw p95 | recall@10")
    for n in (int(s) for s in args.sizes.split(",")):
        base = unit(n, args.dim, rng)
        queries = unit(args.queries, args.dim, rng)
        flat = faiss.IndexFlatIP(args.dim)
        flat.add(base)
        f_med, f_p95, exact = time_search(flat, queries, args.k)

        hnsw = faiss.IndexHNSWFlat(args.dim, args.m, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = args.ef_construction
        t = time.perf_counter()
        hnsw.add(base)
        build = time.perf_counter() - t
        hnsw.hnsw.efSearch = args.ef_search
        h_med, h_p95, approx = time_search(hnsw, queries, args.k)
        recall = np.mean([len(set(a[:10]) & set(e[:10])) / 10 for a, e in zip(approx, exact, strict=True)])
        print(
            f"{n:>6} | {f_med:>11.2f} | {f_p95:>8.2f} | {build:>12.1f} | {h_med:>11.2f} | {h_p95:>8.2f} | {recall:.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
