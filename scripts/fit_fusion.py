"""Fit the first stage's fusion (list weights, RRF k, bridge, zone weights, named-paper lift) on the
TUNING half of the evaluation set, by coordinate search; report both halves.

    python scripts/fit_fusion.py --home /path/with/pdfs/indexed eval/questions_*.jsonl
    python scripts/fit_fusion.py --home ... --dry-run eval/questions_*.jsonl   # measure only

The fused list is what the second stage re-scores (its first `RankerParams.depth` candidates) and
one of its features, so the objective is, over the tuning half's questions, the share whose fused
head holds a relevant passage (recall at the ranker's depth) plus the MRR of the first relevant
passage; a passage is relevant as `fit_ranker.labels` says (an expected paper's passage on a gold
page or stating a nugget). Retrieval runs once per question at the deepest depth tried; only the
fusion is re-run per setting. Written to `src/paperqa/search/fusion_params.json`. Refit the ranker
and the stages after it afterwards (eval/README.md gives the order).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from fit_ranker import labels
from paperqa import Library, Settings
from paperqa.answer.text import clean_question
from paperqa.evaluate.questions import read_questions
from paperqa.search import pipeline
from paperqa.search.rerank import RankerParams
from paperqa.search.retrieve import FusionParams, fuse

GRID: dict[str, tuple[float, ...]] = {
    "rrf_k": (20.0, 40.0, 60.0, 100.0),
    "dense_weight": (0.5, 0.75, 1.0, 1.5, 2.0),
    "bm25_weight": (0.5, 0.75, 1.0, 1.5, 2.0),
    "crossing_weight": (0.0, 0.5, 1.0, 1.5),
    "bridge": (0.0, 0.25, 0.5, 1.0),
    "references_weight": (0.1, 0.3, 0.6, 1.0),
    "appendix_weight": (0.5, 0.8, 1.0),
    "named": (0.5, 1.0, 2.0, 3.0, 4.0),
    "depth": (30, 60, 100),
}


def collect(ctx: pipeline.SearchContext, questions):
    """Per answerable question: its first-stage lists (at the depth `ctx.fusion` searches)."""
    rows = []
    for q in questions:
        if not q.expect or q.kind != "single":
            continue
        cand = pipeline.candidates(ctx, clean_question(q.q))
        if cand is not None:
            rows.append((q, cand))
    return rows


def score(rows, chunks, params: FusionParams, depth: int) -> dict[str, float]:
    """Recall of a relevant passage in the fused head of `depth`, and MRR of the first one."""
    found = mrr = 0.0
    n = 0
    for q, cand in rows:
        lists = [lst[: int(params.depth)] for lst in (cand.dense, cand.bm25, cand.crossing)]
        fused = fuse(chunks, lists[0], lists[1], params, cand.named, lists[2], cand.named_spread)
        head = fused[:depth]
        y = labels(q, head, chunks)
        n += 1
        first = next((i for i, v in enumerate(y, 1) if v), 0)
        found += bool(first)
        mrr += 1 / first if first else 0.0
    n = n or 1
    recall, mrr = found / n, mrr / n
    return {"n": n, "recall": round(recall, 3), "MRR": round(mrr, 3), "objective": round(recall + mrr, 4)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("questions", nargs="+", type=Path)
    ap.add_argument("--home", type=Path, default=None)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--dry-run", action="store_true", help="measure the current parameters, write nothing")
    args = ap.parse_args()

    deepest = int(max(GRID["depth"]))
    start = FusionParams.load()
    lib = Library(Settings.load(home=args.home))
    deep = replace(lib.search_context(), fusion=replace(start, depth=deepest))  # retrieve deep once
    questions = [q for path in args.questions for q in read_questions(path)]
    rows = collect(deep, questions)
    tune = [r for r in rows if r[0].split == "tune"]
    valid = [r for r in rows if r[0].split == "validation"]
    chunks = lib.index.chunks
    depth = RankerParams.load().depth
    best = start
    if not args.dry_run:
        best_obj = score(tune, chunks, best, depth)["objective"]
        for _ in range(args.rounds):
            for name, values in GRID.items():
                for v in values:
                    trial = replace(best, **{name: type(getattr(best, name))(v)})
                    obj = score(tune, chunks, trial, depth)["objective"]
                    if obj > best_obj + 1e-4:
                        best, best_obj = trial, obj
                        print(f"  {name} = {v}: objective {obj}")
        best = replace(best, fitted_on={"questions": len(tune), "ranker_depth": depth})
        best.save()
    for half, sel in (("tune", tune), ("validation", valid)):
        for label, p in (("before", start), ("after", best)):
            print(half, label, score(sel, chunks, p, depth))
    print({name: getattr(best, name) for name in GRID})
    return 0


if __name__ == "__main__":
    sys.exit(main())
