#!/usr/bin/env python
"""Retrieval benchmark: quality, build time, latency and memory, for every embedder, in one table.

For each corpus (the shipped corpus alone: summary entries and titles of all papers; and
with the real PDFs of ../shared/pdfs added) and each embedder, a worker process builds
the index from cold (embedding cache cleared), runs the question file through dense only,
BM25 only and the fused search (hit@1, hit@5, MRR; English and Chinese apart), times
each query with the model loaded (p50/p95 over 3 rounds), and reports its resident
memory. One process per cell keeps memory and latency honest.

    python scripts/bench_retrieval.py [--embedders minilm,use,e5] [--pdfs DIR] [--questions FILE]
                                      [--work DIR] [--warm] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_Q = ROOT.parent / "shared" / "eval" / "dev_questions.jsonl"
DEFAULT_PDFS = ROOT.parent / "shared" / "pdfs"


def rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(home: Path, embedder: str, questions: Path, warm: bool) -> dict:
    from paperqa import Library
    from paperqa.evaluate.questions import read_questions
    from paperqa.search.vectors import clear_cache
    from paperqa.settings import Settings

    settings = Settings.load(home=home, embedder=embedder)
    lib = Library(settings)
    if not warm:
        clear_cache(settings, lib.embedder.name)
    t0 = time.perf_counter()
    built = lib.build_index(full=True)
    build_s = time.perf_counter() - t0
    chunks = built["index"].get("chunks") or len(lib.index.chunks)
    out: dict = {
        "embedder": lib.embedder.name,
        "chunks": chunks,
        "build_s": round(build_s, 1),
        "build_s_per_1k": round(build_s / max(chunks, 1) * 1000, 1),
        "modes": {},
    }
    for mode in ("dense", "bm25", "fused"):
        report = lib.evaluate(questions, mode=mode)
        out["modes"][mode] = report["summary"]
        if mode == "fused":
            out["misses"] = [
                {"id": r["id"], "rank": r["rank"], "top": r["retrieved"][:3]}
                for r in report["results"]
                if r["expect"] and r["rank"] != 1
            ]
    qs = [q.q for q in read_questions(questions)]
    times = []
    for _ in range(3):
        for q in qs:
            t = time.perf_counter()
            lib.search(q, k=10)
            times.append((time.perf_counter() - t) * 1000)
    times.sort()
    out["latency_ms_p50"] = round(times[len(times) // 2], 1)
    out["latency_ms_p95"] = round(times[int(0.95 * (len(times) - 1))], 1)
    out["rss_mb"] = round(rss_mb(), 0)
    return out


def prepare_corpus(work: Path, name: str, pdfs: Path | None) -> Path:
    """A data root per corpus; PDFs are imported once (paperqa add is idempotent)."""
    home = work / name
    home.mkdir(parents=True, exist_ok=True)
    if pdfs is not None:
        from paperqa import Library
        from paperqa.settings import Settings

        Library(Settings.load(home=home)).add([pdfs])
    return home


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--embedders", default="minilm,use,e5")
    ap.add_argument(
        "--questions", type=Path, default=Path(os.environ.get("PAPERQA_DEV_QUESTIONS", DEFAULT_Q))
    )
    ap.add_argument("--pdfs", type=Path, default=Path(os.environ.get("PAPERQA_TEST_PDFS", DEFAULT_PDFS)))
    ap.add_argument("--work", type=Path, default=Path("/tmp/paperqa-bench"))
    ap.add_argument("--corpora", default="shipped,shipped+pdfs")
    ap.add_argument(
        "--warm", action="store_true", help="reuse cached embeddings (build time is then not cold)"
    )
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--worker", nargs=2, metavar=("HOME", "EMBEDDER"), help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.worker:
        print(json.dumps(worker(Path(args.worker[0]), args.worker[1], args.questions, args.warm)))
        return

    rows = []
    for corpus in args.corpora.split(","):
        pdfs = args.pdfs if corpus.endswith("+pdfs") and args.pdfs.is_dir() else None
        if corpus.endswith("+pdfs") and pdfs is None:
            print(f"skip {corpus}: no PDFs at {args.pdfs}", file=sys.stderr)
            continue
        home = prepare_corpus(args.work, corpus.replace("+", "-"), pdfs)
        for emb in args.embedders.split(","):
            print(f"… {corpus} / {emb}", file=sys.stderr, flush=True)
            cmd = [sys.executable, __file__, "--worker", str(home), emb, "--questions", str(args.questions)]
            if args.warm:
                cmd.append("--warm")
            proc = subprocess.run(
                cmd, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}
            )
            if proc.returncode != 0:
                print(f"  failed: {proc.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
                continue
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            row["corpus"] = corpus
            rows.append(row)
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2, ensure_ascii=False))


def print_table(rows: list[dict]) -> None:
    head = "| corpus | embedder | mode | hit@1 | hit@5 | MRR | EN hit@1 | ZH hit@1 | ZH hit@5 |"
    print(head)
    print("|---" * (head.count("|") - 1) + "|")
    for r in rows:
        for mode, s in r["modes"].items():
            o, en, zh = s.get("overall", {}), s.get("en", {}), s.get("zh", {})
            print(
                f"| {r['corpus']} | {r['embedder']} | {mode} | {o.get('hit@1')} | {o.get('hit@5')} | {o.get('mrr')} | "
                f"{en.get('hit@1')} | {zh.get('hit@1')} | {zh.get('hit@5')} |"
            )
    print()
    print(
        "| corpus | embedder | chunks | cold build s | s / 1k chunks | query p50 ms | query p95 ms | RSS MB |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['corpus']} | {r['embedder']} | {r['chunks']} | {r['build_s']} | {r['build_s_per_1k']} | "
            f"{r['latency_ms_p50']} | {r['latency_ms_p95']} | {r['rss_mb']} |"
        )
    for r in rows:
        if r.get("misses"):
            print(f"\nfused misses ({r['corpus']}, {r['embedder']}): {r['misses']}")


if __name__ == "__main__":
    main()
