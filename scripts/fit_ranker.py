"""Fit the second-stage passage ranker on the TUNING half of the evaluation set; report both halves.

    python scripts/fit_ranker.py --home /path/with/pdfs/indexed eval/questions_*.jsonl
    python scripts/fit_ranker.py --home ... --dry-run eval/questions_*.jsonl   # measure only

A candidate passage is labelled relevant when it belongs to an expected paper and either lies on a
gold page or states one of the question's nuggets. A logistic regression (scikit-learn, balanced
classes) over `rerank.feature_names()` is fitted on the tuning half only and written to
`src/paperqa/search/ranker_params.json`. The printed table compares, on each half, the fused order with the
re-ranked one: relevant passage first (P@1), expected paper first (hit@1) and MRR of the first
relevant passage.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from logistic import choose_c, fit_logistic
from paperqa import Library, Settings
from paperqa.evaluate.questions import norm_nugget, read_questions
from paperqa.search.rerank import RankerParams, feature_names, rerank


def labels(q, head, chunks) -> list[int]:
    gold = {(pid, p) for pid, pages in q.pages.items() for p in pages}
    forms = [norm_nugget(f) for forms in q.nuggets for f in forms if norm_nugget(f)]
    out = []
    for row, _ in head:
        c = chunks[row]
        if c.paper_id not in q.expect:
            out.append(0)
            continue
        on_page = any((c.paper_id, p) in gold for p in range(c.page_start, c.page_end + 1))
        text = norm_nugget(c.text)
        out.append(int(on_page or any(f in text for f in forms)))
    return out


def collect(lib: Library, questions, depth: int):
    rows = []
    for q in questions:
        if not q.expect or q.kind != "single":
            continue
        cand = lib.candidates(q.q)
        if cand is None:
            continue
        head = cand.fused[:depth]
        y = labels(q, head, lib.index.chunks)
        if not any(y):
            continue  # nothing relevant retrieved: the first stage's miss, not the ranker's
        rows.append((q, cand, head, lib.rank_features(cand, head), np.asarray(y)))
    return rows


def measure(rows, chunks, params: RankerParams | None) -> dict[str, float]:
    p1 = hit1 = mrr = 0.0
    for q, _cand, head, x, y in rows:
        order = rerank(head, x, params) if params is not None else list(head)
        lab = dict(zip([r for r, _ in head], y, strict=True))
        ranked = [lab[r] for r, _ in order]
        p1 += ranked[0]
        hit1 += chunks[order[0][0]].paper_id in q.expect
        first = next((i for i, v in enumerate(ranked, 1) if v), 0)
        mrr += 1 / first if first else 0
    n = len(rows) or 1
    return {"n": len(rows), "P@1": round(p1 / n, 3), "hit@1": round(hit1 / n, 3), "MRR": round(mrr / n, 3)}


def choose_ranker_c(tune, chunks, depth: int) -> float:
    def held(model: dict[str, object], idx: list[int]) -> float:
        m = measure([tune[i] for i in idx], chunks, RankerParams(depth=depth, names=feature_names(), **model))
        return m["P@1"] + m["MRR"]

    return choose_c(
        [r[3] for r in tune], [r[4] for r in tune], [r[0].expect[0] for r in tune], held, "P@1 + MRR"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("questions", nargs="+", type=Path)
    ap.add_argument("--home", type=Path, default=None)
    ap.add_argument("--depth", type=int, default=RankerParams().depth)
    ap.add_argument(
        "--C", type=float, default=None, help="inverse regularisation strength (default: chosen by CV)"
    )
    ap.add_argument("--dry-run", action="store_true", help="measure the current parameters, write nothing")
    args = ap.parse_args()

    lib = Library(Settings.load(home=args.home))
    questions = [q for path in args.questions for q in read_questions(path)]
    rows = collect(lib, questions, args.depth)
    tune = [r for r in rows if r[0].split == "tune"]
    valid = [r for r in rows if r[0].split == "validation"]
    chunks = lib.index.chunks
    if args.dry_run:
        params = RankerParams.load()
    else:
        c = args.C if args.C is not None else choose_ranker_c(tune, chunks, args.depth)
        x = np.concatenate([r[3] for r in tune])
        y = np.concatenate([r[4] for r in tune])
        model = fit_logistic(x, y, c)
        params = RankerParams(
            depth=args.depth,
            k=RankerParams.load().k,  # fitted on the answers (fit_answers.py), kept
            names=feature_names(),
            **model,
            fitted_on={
                "questions": len(tune),
                "candidates": int(len(y)),
                "relevant": int(y.sum()),
                "C": c,
            },
        )
        params.save()
        print("weights (standardised features):")
        for name, w in sorted(zip(params.names, params.weights, strict=True), key=lambda t: -abs(t[1])):
            print(f"  {name:24s} {w:+.3f}")
    print(f"{'half':12s} {'order':10s} n     P@1    hit@1  MRR")
    for half, sel in (("tune", tune), ("validation", valid)):
        for label, p in (("fused", None), ("reranked", params)):
            m = measure(sel, chunks, p)
            print(f"{half:12s} {label:10s} {m['n']:<5d} {m['P@1']:<6} {m['hit@1']:<6} {m['MRR']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
