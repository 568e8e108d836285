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


def _word_rows(rng, n: int, is_zh, sizes, cdf_en, cdf_zh):
    """Word indices of each chunk, a block of chunks at a time (one uniform draw per word).

    The same random stream, in the same order, as one `rng.choice(words, size, p=...)` per chunk
    (which is what this did before, and what made 1M chunks take minutes: each call rebuilt the
    word array and its cumulative distribution), so the corpus is the same, word for word.
    """
    block = 20_000
    for s in range(0, n, block):
        sz = sizes[s : s + block]
        u = rng.random(int(sz.sum()))
        ends = sz.cumsum()
        en_idx = cdf_en.searchsorted(u, side="right")
        zh_idx = cdf_zh.searchsorted(u, side="right")
        for j, (e, k) in enumerate(zip(ends.tolist(), sz.tolist(), strict=True)):
            yield (zh_idx if is_zh[s + j] else en_idx)[e - k : e].tolist()


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
    cdf_en, cdf_zh = pe.cumsum(), pz.cumsum()
    cdf_en /= cdf_en[-1]
    cdf_zh /= cdf_zh[-1]
    out = []
    lengths = rng.integers(100, 161, size=n)
    is_zh = rng.random(n) < 0.125
    sizes = np.where(is_zh, lengths // 2, lengths)
    for i, words in enumerate(_word_rows(rng, n, is_zh, sizes, cdf_en, cdf_zh)):
        pid = f"p{i // WORDS_PER_PAPER:07d}"
        if is_zh[i]:
            text = "".join([zh[w] for w in words])
            out.append(
                Chunk(chunk_id=f"{pid}:summary:{i}", paper_id=pid, kind="summary", lang="zh", text=text)
            )
        else:
            text = " ".join([en[w] for w in words])
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


_T0 = time.perf_counter()


def stage(name: str) -> None:
    """One progress line on stderr: the parent keeps the last ones to say where a stopped cell was."""
    print(
        f"stage {name} at {time.perf_counter() - _T0:.0f} s, rss {rss_mb():.0f} MB",
        file=sys.stderr,
        flush=True,
    )


def _timed(stages: dict, name: str, fn):
    """`fn`, recording its seconds under stages[name] (the index module calls it by this name)."""

    def run(*a, **kw):
        stage(f"{name} started")
        t = time.perf_counter()
        try:
            return fn(*a, **kw)
        finally:
            stages[name] = round(stages.get(name, 0.0) + time.perf_counter() - t, 1)
            stage(f"{name} done")

    return run


def _corpus(n: int, work: Path, embedder, out: dict) -> tuple:
    """Chunks, query texts, chunk vectors and query vectors of the n-chunk synthetic corpus."""
    import numpy as np

    from paperqa.search.unit import normalise_rows

    t = time.perf_counter()
    chunks = synthetic_chunks(n)
    qs = queries(chunks)
    out["corpus_s"] = round(time.perf_counter() - t, 1)
    stage("corpus done")
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
    return chunks, qs, vectors, qvecs


def _build_faiss(settings, chunks: list, vectors, embedder, meta: dict, out: dict) -> Path:
    """The FAISS generation exactly as `paperqa index` writes it (index._write_generation)."""
    from paperqa.search import index as ix

    stages = out.setdefault("stages_s", {})
    ix.build_faiss = _timed(stages, "faiss", ix.build_faiss)
    ix.write_bm25 = _timed(stages, "bm25", ix.write_bm25)
    t = time.perf_counter()
    gen = ix._new_generation_name()
    out["index_type"] = ix._write_generation(settings.index_dir / gen, chunks, vectors, embedder, meta, t)
    ix._write_current(settings.index_dir, gen)
    return settings.index_dir / gen


def _build_milvus(settings, backend: str, chunks: list, vectors, embedder, meta: dict, out: dict) -> Path:
    """The Milvus generation as `paperqa index --backend milvus` writes it (milvus.build_milvus_index)."""
    from paperqa.search import index as ix
    from paperqa.search import milvus as mv

    stages = out.setdefault("stages_s", {})
    target = mv.parse_index_spec(backend, settings.index_dir)
    gen = ix._new_generation_name()
    col = target.collection(gen)
    kind = _timed(stages, "create", mv._create_generation)(target, col, embedder.dim, len(chunks))
    _timed(stages, "insert", mv._insert_rows)(target, col, chunks, vectors)
    info = {"type": kind, "metric": "inner_product", "ntotal": len(chunks), "collection": col}
    if kind == "HNSW":
        info.update(ef_search=ix.HNSW_EF_SEARCH)
    manifest = ix._manifest_base(chunks, embedder, meta, gen, 0.0, "milvus", info, "milvus")
    mv._write_meta(target, col, manifest)
    mv._switch_alias(target, col, False)
    out["index_type"] = f"milvus-lite {kind}"
    return target.lite_path


def _measure(idx, qs: list[str], qvecs: list, out: dict) -> None:
    """Query latencies: two rounds of every query (the first warms caches), then paper filters."""
    dense_ms, bm25_ms = [], []
    for r in range(2):  # the second round is reported
        dense_ms, bm25_ms = [], []
        for q, v in zip(qs, qvecs, strict=True):
            t = time.perf_counter()
            idx.search_dense(v, 50)
            dense_ms.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            idx.search_bm25(q, 50)
            bm25_ms.append((time.perf_counter() - t) * 1000)
        stage(f"query round {r + 1} done")
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
    )


def worker(backend: str, n: int, work: Path, embedder_name: str) -> dict:
    from paperqa.search import index as ix
    from paperqa.search.embedders import load_embedder
    from paperqa.settings import Settings

    home = work / f"{backend}-{n}"
    if home.exists():
        import shutil

        shutil.rmtree(home)
    settings = Settings(home=home, index=backend)
    settings.index_dir.mkdir(parents=True)
    out: dict = {"backend": backend, "chunks": n}
    embedder = load_embedder(embedder_name)
    chunks, qs, vectors, qvecs = _corpus(n, work, embedder, out)
    meta = {"chunker": {"max_words": 160}, "catalog_hash": "bench", "corpus_hash": "bench"}
    rss0 = rss_mb()
    t = time.perf_counter()
    if backend == "faiss":
        disk = _build_faiss(settings, chunks, vectors, embedder, meta, out)
    else:
        disk = _build_milvus(settings, backend, chunks, vectors, embedder, meta, out)
    out["build_s"] = round(time.perf_counter() - t, 1)
    out["build_rss_growth_mb"] = round(rss_mb() - rss0, 0)
    out["build_peak_rss_mb"] = round(peak_rss_mb(), 0)
    stage("build done")
    del vectors, chunks  # the opened index reads its own copy
    t = time.perf_counter()
    idx = ix.open_index(settings, embedder.name)
    out["open_s"] = round(time.perf_counter() - t, 1)
    stage("open done")
    _measure(idx, qs, qvecs, out)
    out.update(rss_mb=round(rss_mb(), 0), peak_rss_mb=round(peak_rss_mb(), 0), disk_mb=round(du_mb(disk), 1))
    return out


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and its descendants."""
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total


def run_cell(cmd: list[str], limit: float, max_rss_mb: float, log: Path) -> dict:
    """Run one worker; stop it past `limit` seconds or `max_rss_mb` (the machine is shared: a cell
    must not push others into swap or the OOM killer). Samples the load average meanwhile."""
    t = time.perf_counter()
    loads, trace, peak, why = [], [], 0.0, ""
    with open(log, "w", encoding="utf-8") as err, open(log.with_suffix(".out"), "w+", encoding="utf-8") as so:
        proc = subprocess.Popen(cmd, stdout=so, stderr=err, text=True)
        while proc.poll() is None:
            time.sleep(2)
            loads.append(os.getloadavg()[0])
            now = _tree_rss_mb(proc.pid)
            peak = max(peak, now)
            if len(loads) % 30 == 0:  # once a minute: where the memory grows
                trace.append([round(time.perf_counter() - t), round(now)])
            if why == "" and (time.perf_counter() - t > limit or peak > max_rss_mb):
                why = f"stopped at {time.perf_counter() - t:.0f} s, RSS {peak:.0f} MB"
                proc.kill()
        so.seek(0)
        stdout = so.read()
    tail = [ln for ln in log.read_text(encoding="utf-8").splitlines() if ln.strip()][-3:]
    lines = [ln for ln in stdout.splitlines() if ln.startswith("{")]
    row = (
        json.loads(lines[-1]) if proc.returncode == 0 and lines else {"error": why or tail[-1:], "last": tail}
    )
    row.update(wall_s=round(time.perf_counter() - t, 1), sampled_peak_rss_mb=round(peak, 0), rss_trace=trace)
    if loads:
        row["load1"] = {"min": min(loads), "mean": round(sum(loads) / len(loads), 2), "max": max(loads)}
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--backends", default="faiss,milvus")
    ap.add_argument("--embedder", default="use")
    ap.add_argument("--work", type=Path, default=Path("/tmp/paperqa-bench-scale"))
    ap.add_argument("--limit", type=float, default=3600, help="seconds per cell before it is stopped")
    ap.add_argument("--max-rss-mb", type=float, default=16_000, help="resident MB before a cell is stopped")
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
            log = args.work / f"{backend}-{n}.log"
            row = {"backend": backend, "chunks": n, **run_cell(cmd, args.limit, args.max_rss_mb, log)}
            print(json.dumps(row), flush=True)
            if args.json:
                with open(args.json, "a", encoding="utf-8") as f:
                    f.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
