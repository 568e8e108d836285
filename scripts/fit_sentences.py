"""Fit the extractive engine's sentence scorer on the TUNING half of the evaluation set.

    python scripts/fit_sentences.py --home /path/with/pdfs/indexed eval/questions_*.jsonl
    python scripts/fit_sentences.py --home ... --dry-run eval/questions_*.jsonl   # measure only

Every candidate sentence the engine would consider for a question is labelled as stating the answer
when it comes from an expected paper and contains one of the question's nuggets. A logistic
regression (scikit-learn, balanced classes) over `sentence_feature_names()` is fitted on the tuning
half and written to `src/paperqa/answer/sentence_params.json`. The table compares, per half, the
share of questions whose best-scored sentence states a nugget (S@1) and nuggets found among the
top three sentences, before (BM25 alone) and after.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from logistic import choose_c, fit_logistic
from paperqa import Library, Settings
from paperqa.answer.citations import make_sources
from paperqa.answer.extractive import ExtractiveEngine
from paperqa.answer.sentences import (
    SentenceParams,
    score_sentences,
    sentence_feature_names,
    sentence_features,
)
from paperqa.answer.text import detect_language
from paperqa.evaluate.questions import norm_nugget, read_questions


def collect(lib: Library, questions, engine: ExtractiveEngine):
    rows = []
    for q in questions:
        if not q.expect or not q.nuggets or q.kind != "single":
            continue
        lang = detect_language(q.q)
        passages = lib.search(q.q, k=lib.k)
        sources = make_sources(engine.select(q.q, lang, passages, lib.catalog), lib.catalog, lib.page_text)
        cands, terms, _ = engine.scored(q.q, lang, sources)
        if not cands:
            continue
        forms = [[norm_nugget(f) for f in nugget if norm_nugget(f)] for nugget in q.nuggets]
        y, hits = [], []
        for c in cands:
            text = norm_nugget(c.text)
            found = {i for i, fs in enumerate(forms) if any(f in text for f in fs)}
            ok = c.source.paper.paper_id in q.expect and bool(found)
            y.append(int(ok))
            hits.append(found if ok else set())
        if not any(y):
            continue  # no candidate sentence states a nugget: retrieval's miss, not the scorer's
        rows.append((q, cands, terms, np.asarray(y), hits))
    return rows


def measure(rows, params: SentenceParams) -> dict[str, float]:
    s1 = top3 = 0.0
    total = 0
    for q, cands, terms, y, hits in rows:
        score_sentences(cands, terms, q.q, params)
        order = sorted(range(len(cands)), key=lambda i: -cands[i].rel)
        s1 += y[order[0]]
        got = set().union(*(hits[i] for i in order[:3]))
        top3 += len(got)
        total += len(q.nuggets)
    n = len(rows) or 1
    return {"n": len(rows), "S@1": round(s1 / n, 3), "nuggets@3": round(top3 / (total or 1), 3)}


def choose_sentences_c(tune, base: SentenceParams, current: SentenceParams) -> float:
    feats = [sentence_features(r[1], r[2], r[0].q, base) for r in tune]

    def held(model: dict[str, object], idx: list[int]) -> float:
        m = measure([tune[i] for i in idx], replace(current, names=sentence_feature_names(), **model))
        return m["S@1"] + m["nuggets@3"]

    return choose_c(feats, [r[3] for r in tune], [r[0].expect[0] for r in tune], held, "S@1 + nuggets@3")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("questions", nargs="+", type=Path)
    ap.add_argument("--home", type=Path, default=None)
    ap.add_argument(
        "--C", type=float, default=None, help="inverse regularisation strength (default: chosen by CV)"
    )
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args()

    lib = Library(Settings.load(home=args.home))
    current = SentenceParams.load()
    base = SentenceParams(k1=current.k1, b=current.b, b_summary=current.b_summary)
    engine = ExtractiveEngine(params=base, neighbours=lib.english_for)
    questions = [q for path in args.questions for q in read_questions(path)]
    rows = collect(lib, questions, engine)
    tune = [r for r in rows if r[0].split == "tune"]
    valid = [r for r in rows if r[0].split == "validation"]
    if args.dry_run:
        fitted = current
    else:
        c = args.C if args.C is not None else choose_sentences_c(tune, base, current)
        x = np.concatenate([sentence_features(r[1], r[2], r[0].q, base) for r in tune])
        y = np.concatenate([r[3] for r in tune])
        model = fit_logistic(x, y, c)
        fitted = replace(
            current,
            names=sentence_feature_names(),
            **model,
            fitted_on={
                "questions": len(tune),
                "sentences": int(len(y)),
                "stating": int(y.sum()),
                "C": c,
            },
        )
        fitted.save()
        print("weights (standardised features):")
        for name, w in sorted(zip(fitted.names, fitted.weights, strict=True), key=lambda t: -abs(t[1])):
            print(f"  {name:14s} {w:+.3f}")
    print(f"{'half':12s} {'scorer':8s} n     S@1    nuggets@3")
    for half, sel in (("tune", tune), ("validation", valid)):
        for label, p in (("bm25", base), ("fitted", fitted)):
            m = measure(sel, p)
            print(f"{half:12s} {label:8s} {m['n']:<5d} {m['S@1']:<6} {m['nuggets@3']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
