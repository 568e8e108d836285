"""Fit how Chinese question terms borrow the papers' English words (search/crosslingual.py) on
the TUNING half of the evaluation set.

    python scripts/fit_crosslingual.py --home /path/with/pdfs/indexed eval/questions_*.jsonl
    python scripts/fit_crosslingual.py --home ... --dry-run eval/questions_*.jsonl   # measure only

Each setting of (top, min_cos) searches and answers every Chinese question of the tuning half with
the extractive engine (top 0: no borrowed words; the words feed both retrieval and the answer's
sentence choice) and is scored as `scripts/fit_answers.py` scores answer lengths:
nugget recall + cited hit@1 - a price per word. The best is written to
`src/paperqa/search/crosslingual_params.json`; both halves are printed. The sentence scorer reads
the terms these words extend: refit it afterwards (`scripts/fit_sentences.py`, then
`scripts/fit_answers.py`).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, replace
from pathlib import Path

from fit_answers import score
from paperqa import Library, Settings
from paperqa.answer.sentences import SentenceParams
from paperqa.answer.text import clean_question, detect_language
from paperqa.evaluate.questions import read_questions
from paperqa.search import pipeline
from paperqa.search.crosslingual import PARAMS_FILE, CrossLingualParams, TermNeighbours, corpus_words

TOPS = (0, 1, 2, 3)
MIN_COS = (0.5, 0.6, 0.7)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("questions", nargs="+", type=Path)
    ap.add_argument("--home", type=Path, default=None)
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args()

    lib = Library(Settings.load(home=args.home, history=False))
    current = CrossLingualParams.load()
    words = corpus_words([c.text for c in lib.index.chunks], current)
    vectors = TermNeighbours(words, lib.embedder, params=current).vectors  # embedded once
    questions = [
        q
        for path in args.questions
        for q in read_questions(path)
        if q.expect and q.nuggets and q.kind == "single" and detect_language(q.q) == "zh"
    ]
    sentence_params = SentenceParams.load()
    context = lib.search_context()  # the live search; each setting swaps in its own words

    def measure(params: CrossLingualParams, half: str) -> dict[str, float]:
        nb = TermNeighbours(words, lib.embedder, params=params, vectors=vectors)
        expand = nb.english_for if params.top else (lambda term: ())
        # the borrowed words also search (a keyword list of the fusion): retrieve with them
        ctx = replace(context, neighbours=expand)
        rows = [
            (q, pipeline.search(ctx, pipeline.candidates(ctx, clean_question(q.q)), lib.k))
            for q in questions
            if q.split == half
        ]
        return score(lib, rows, sentence_params, lib.k, neighbours=expand)

    grid = [replace(current, top=t, min_cos=m) for t in TOPS for m in (MIN_COS if t else MIN_COS[:1])]
    results = [(p, measure(p, "tune")) for p in grid]
    print(f"{'top':4s} {'min_cos':8s} tune: nugget_recall cited_hit@1 words objective")
    for p, m in results:
        print(
            f"{p.top:<4d} {p.min_cos:<8} {m['nugget_recall']:<13} {m['cited_hit@1']:<11} {m['words']:<5} {m['objective']}"
        )
    best, best_m = max(results, key=lambda r: (r[1]["objective"], -r[0].top))
    chosen = current if args.dry_run else best
    for half in ("tune", "validation"):
        for label, p in (("none", replace(current, top=0)), ("chosen", chosen)):
            print(f"{half:12s} {label:7s} top={p.top} min_cos={p.min_cos} {measure(p, half)}")
    if not args.dry_run:
        fitted = replace(
            best,
            fitted_on={"questions": sum(q.split == "tune" for q in questions), "objective": "fit_answers' objective, Chinese questions",
                       "tune": best_m},
        )  # fmt: skip
        PARAMS_FILE.write_text(
            json.dumps(asdict(fitted), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        print(f"wrote {PARAMS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
