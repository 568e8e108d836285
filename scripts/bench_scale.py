#!/usr/bin/env python
"""Scaling benchmark: build time, query latency, memory and disk of each index backend at
10k, 100k and 1M chunks (docs/scale.md holds the results and the plan beyond).

Synthetic corpus: chunks of 100-160 words (the chunker's size) drawn with Zipf frequencies from
the words of the shipped reading lists (English and Chinese, ~1 chunk in 8 Chinese), spread over
papers of 40 chunks each. Vectors: the real embedder (`use`) for the smallest size, random unit
vectors beyond (embedding 1M chunks would take ~3 hours on two cores; its cost is measured
separately as chunks/s). Queries: 100 phrases cut from the corpus, with their vectors.

Each (backend, size) cell runs in its own process, so memory is that backend's alone, under a
time limit; the build is the store's part (tokenize + BM25 + vector index + chunk records),
as `paperqa index` does it after the vectors are known.

    python scripts/bench_scale.py [--sizes 10000,100000,1000000] [--backends faiss,milvus]
                                  [--work DIR] [--limit SECONDS] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
REAL_EMBED_MAX = 10_000
WORDS_PER_PAPER = 40
N_QUERIES = 100


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def du_mb(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 2**20
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def vocabulary() -> tuple[list[str], list[str]]:
    """English words and Chinese characters/words of the shipped lists."""
    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "corpus" / "lists").glob("*.md")))
    en = sorted(set(re.findall(r"[A-Za-z][A-Za-z0-9\-]{1,20}", text)))
    zh = sorted(set(re.findall(r"[\u4e00-\u9fff]{1,4}", text)))
    return en, zh


def synthetic_chunks(n: int, seed: int = 7) -> list:
    import numpy as np

    from paperqa.records import Chunk

    rng = np.random.default_rng(seed)
    en, zh = vocabulary()
    pe = 1.0 / np.arange(1, len(en) + 1) ** 1.07
    pz = 1.0 / np.arange(1, len(zh) + 1) ** 1.07
    pe, pz = pe / pe.sum(), pz / pz.sum()
    rng.shuffle(pe)
    rng.shuffle(pz)
    out = []
    lengths = rng.integers(100, 161, size=n)
    is_zh = rng.random(n) < 0.125
    for i in range(n):
        pid = f"p{i // WORDS_PER_PAPER:07d}"
        if is_zh[i]:
            text = "".join(rng.choice(zh, size=int(lengths[i]) // 2, p=pz))
            out.append(
                Chunk(chunk_id=f"{pid}:summary:{i}", paper_id=pid, kind="summary", lang="zh", text=text)
            )
        else:
            text = " ".join(rng.choice(en, size=int(lengths[i]), p=pe))
            out.append(
                Chunk(
                    chunk_id=f"{pid}:paper:{i}",
                    paper_id=pid,
                    kind="paper",
                    text=text,
                    page_start=1 + i % 20,
                    page_end=1 + i % 20,
                )
            )
    return out


def queries(chunks: list, seed: int = 11) -> list[str]:
    import numpy as np

    rng = np.random.default_rng(seed)
    out = []
    for i in rng.choice(len(chunks), size=N_QUERIES, replace=False):
        text = chunks[int(i)].text
        if chunks[int(i)].lang == "zh":
            s = int(rng.integers(0, max(1, len(text) - 12)))
            out.append(text[s : s + 12])
        else:
            words = text.split()
            s = int(rng.integers(0, max(1, len(words) - 6)))
            out.append(" ".join(words[s : s + 6]))
    return out


def random_unit(n: int, dim: int, seed: int) -> object:
    import numpy as np

    rng = np.random.default_rng(seed)
    out = np.empty((n, dim), dtype=np.float32)
    for s in range(0, n, 100_000):
        block = rng.standard_normal((min(n, s + 100_000) - s, dim), dtype=np.float32)
        out[s : s + len(block)] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(q * len(xs)))], 2)


def _reused_vectors(work: Path, n: int, embedder_name: str) -> object | None:
    """Vectors of the same synthetic corpus embedded by an earlier cell (saved, or in its FAISS index)."""
    import numpy as np

    saved = work / f"vectors-{n}-{embedder_name.replace(':', '_')}.npy"
    if saved.exists():
        return np.load(saved)
    faiss_dir = work / f"faiss-{n}" / "index"
    try:
        gen = (faiss_dir / "CURRENT").read_text().strip()
        manifest = json.loads((faiss_dir / gen / "manifest.json").read_text())
    except OSError:
        return None
    if manifest.get("embedder") != embedder_name:
        return None
    import faiss

    dense = faiss.read_index(str(faiss_dir / gen / "dense.faiss"))
    return dense.reconstruct_n(0, dense.ntotal)


def worker(backend: str, n: int, work: Path, embedder_name: str) -> dict:
    import numpy as np

    from paperqa.search import index as ix
    from paperqa.search.embedders import load_embedder
    from paperqa.search.unit import normalise_rows
    from paperqa.settings import Settings

    home = work / f"{backend}-{n}"
    if home.exists():
        import shutil

        shutil.rmtree(home)
    settings = Settings(home=home, index=backend)
    settings.index_dir.mkdir(parents=True)
    t = time.perf_counter()
    chunks = synthetic_chunks(n)
    qs = queries(chunks)
    out: dict = {"backend": backend, "chunks": n, "corpus_s": round(time.perf_counter() - t, 1)}
    embedder = load_embedder(embedder_name)
    if n <= REAL_EMBED_MAX:
        vectors = _reused_vectors(work, n, embedder.name)  # the other backend's cell embedded them
        if vectors is None:
            t = time.perf_counter()
            vectors = normalise_rows(embedder.encode_passages([c.index_text for c in chunks], batch_size=32))
            out["embed_s"] = round(time.perf_counter() - t, 1)
            out["embed_chunks_per_s"] = round(n / (time.perf_counter() - t), 1)
            np.save(work / f"vectors-{n}-{embedder.name.replace(':', '_')}.npy", vectors)
        qvecs = [embedder.encode_query(q) for q in qs]
        out["vectors"] = embedder.name
    else:
        vectors = random_unit(n, embedder.dim, 1)
        qvecs = list(random_unit(N_QUERIES, embedder.dim, 2))
        out["vectors"] = f"random unit {embedder.dim}-d"
    meta = {"chunker": {"max_words": 160}, "catalog_hash": "bench", "corpus_hash": "bench"}
    rss0 = rss_mb()
    t = time.perf_counter()
    if backend == "faiss":
        gen = ix._new_generation_name()
        out["index_type"] = ix._write_generation(settings.index_dir / gen, chunks, vectors, embedder, meta, t)
        ix._write_current(settings.index_dir, gen)
        disk = settings.index_dir / gen
    else:
        from paperqa.search import milvus as mv

        target = mv.parse_index_spec(backend, settings.index_dir)
        gen = ix._new_generation_name()
        col = target.collection(gen)
        kind = mv._create_generation(target, col, embedder.dim, n)
        mv._insert_rows(target, col, chunks, vectors)
        info = {"type": kind, "metric": "inner_product", "ntotal": n, "collection": col}
        if kind == "HNSW":
            info.update(ef_search=ix.HNSW_EF_SEARCH)
        manifest = ix._manifest_base(chunks, embedder, meta, gen, 0.0, "milvus", info, "milvus")
        mv._write_meta(target, col, manifest)
        mv._switch_alias(target, col, False)
        out["index_type"] = f"milvus-lite {kind}"
        disk = target.lite_path
    out["build_s"] = round(time.perf_counter() - t, 1)
    out["build_rss_growth_mb"] = round(rss_mb() - rss0, 0)
    del vectors
    t = time.perf_counter()
    idx = ix.open_index(settings, embedder.name)
    out["open_s"] = round(time.perf_counter() - t, 1)
    dense_ms, bm25_ms = [], []
    for _ in range(2):  # the first round warms caches; the second is reported
        dense_ms, bm25_ms = [], []
        for q, v in zip(qs, qvecs, strict=True):
            t = time.perf_counter()
            idx.search_dense(v, 50)
            dense_ms.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            idx.search_bm25(q, 50)
            bm25_ms.append((time.perf_counter() - t) * 1000)
    filt = []
    for q, v in zip(qs[:30], qvecs[:30], strict=True):
        allowed = {idx.chunks[0].paper_id, idx.chunks[-1].paper_id}
        t = time.perf_counter()
        idx.search_dense(v, 50, allowed=allowed)
        idx.search_bm25(q, 50, allowed=allowed)
        filt.append((time.perf_counter() - t) * 1000)
    out.update(
        dense_p50_ms=pct(dense_ms, 0.5),
        dense_p95_ms=pct(dense_ms, 0.95),
        bm25_p50_ms=pct(bm25_ms, 0.5),
        bm25_p95_ms=pct(bm25_ms, 0.95),
        filtered_p50_ms=pct(filt, 0.5),
        rss_mb=round(rss_mb(), 0),
        peak_rss_mb=round(peak_rss_mb(), 0),
        disk_mb=round(du_mb(disk), 1),
    )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--backends", default="faiss,milvus")
    ap.add_argument("--embedder", default="use")
    ap.add_argument("--work", type=Path, default=Path("/tmp/paperqa-bench-scale"))
    ap.add_argument("--limit", type=float, default=3600, help="seconds per cell before it is stopped")
    ap.add_argument("--json", type=Path, help="append one JSON line per cell here")
    ap.add_argument("--worker", nargs=2, metavar=("BACKEND", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], int(args.worker[1]), args.work, args.embedder)))
        return 0
    args.work.mkdir(parents=True, exist_ok=True)
    for n in (int(x) for x in args.sizes.split(",")):
        for backend in args.backends.split(","):
            cmd = [sys.executable, __file__, "--worker", backend, str(n), "--work", str(args.work)]
            cmd += ["--embedder", args.embedder]
            t = time.perf_counter()
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.limit)
                lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
                row = (
                    json.loads(lines[-1])
                    if proc.returncode == 0 and lines
                    else {"backend": backend, "chunks": n, "error": proc.stderr.strip().splitlines()[-1:]}
                )
            except subprocess.TimeoutExpired:
                row = {"backend": backend, "chunks": n, "error": f"not finished in {args.limit:.0f} s"}
            row["wall_s"] = round(time.perf_counter() - t, 1)
            print(json.dumps(row), flush=True)
            if args.json:
                with open(args.json, "a", encoding="utf-8") as f:
                    f.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
