"""Fit how Chinese question terms borrow the papers' English words (search/crosslingual.py) on
the TUNING half of the evaluation set.

    python scripts/fit_crosslingual.py --home /path/with/pdfs/indexed eval/questions_*.jsonl
    python scripts/fit_crosslingual.py --home ... --dry-run eval/questions_*.jsonl   # measure only

For every Chinese question, the candidate sentences are those the extractive engine considers;
each setting of (top, min_cos) re-reads the question's terms and scores the sentences with the
shipped sentence model. The setting with the best S@1 + nuggets@3 on the tuning half (top 0: no
neighbours) is written to `src/paperqa/search/crosslingual_params.json`; both halves are printed.
Refit the sentence scorer afterwards (`scripts/fit_sentences.py`): its features read these terms.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, replace
from pathlib import Path

from fit_sentences import collect, measure
from paperqa import Library, Settings
from paperqa.answer.extractive import ExtractiveEngine
from paperqa.answer.sentences import SentenceParams
from paperqa.answer.text import detect_language, question_terms
from paperqa.evaluate.questions import read_questions
from paperqa.search.crosslingual import PARAMS_FILE, CrossLingualParams, TermNeighbours, corpus_words

TOPS = (0, 1, 2, 3, 4)
MIN_COS = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("questions", nargs="+", type=Path)
    ap.add_argument("--home", type=Path, default=None)
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args()

    lib = Library(Settings.load(home=args.home, history=False))
    current = CrossLingualParams.load()
    words = corpus_words([c.text for c in lib.index.chunks], current)
    base = TermNeighbours(words, lib.embedder, params=current)
    base.vectors  # noqa: B018  (embed the vocabulary once)
    questions = [q for path in args.questions for q in read_questions(path)]
    zh = [q for q in questions if detect_language(q.q) == "zh"]
    rows = collect(lib, zh, ExtractiveEngine(params=SentenceParams.load(), neighbours=lib.english_for))
    sentence_params = SentenceParams.load()

    def score(params: CrossLingualParams, half: str) -> dict[str, float]:
        nb = TermNeighbours(words, lib.embedder, params=params)
        nb._vectors = base.vectors
        expand = nb.english_for if params.top else None
        sel = [(q, c, question_terms(q.q, expand=expand), y, h) for q, c, _, y, h in rows if q.split == half]
        return measure(sel, sentence_params)

    grid = [replace(current, top=t, min_cos=m) for t in TOPS for m in (MIN_COS if t else MIN_COS[:1])]
    results = [(p, score(p, "tune")) for p in grid]
    best, best_m = max(results, key=lambda r: (r[1]["S@1"] + r[1]["nuggets@3"], -r[0].top))
    chosen = current if args.dry_run else best
    print(f"{'top':4s} {'min_cos':8s} tune S@1 nuggets@3")
    for p, m in results:
        print(f"{p.top:<4d} {p.min_cos:<8} {m['S@1']:<8} {m['nuggets@3']}")
    for half in ("tune", "validation"):
        for label, p in (("none", replace(current, top=0)), ("chosen", chosen)):
            m = score(p, half)
            print(
                f"{half:12s} {label:7s} top={p.top} min_cos={p.min_cos} n={m['n']} S@1={m['S@1']} "
                f"nuggets@3={m['nuggets@3']}"
            )
    if not args.dry_run:
        fitted = replace(
            best,
            fitted_on={
                "questions": sum(1 for r in rows if r[0].split == "tune"),
                "objective": "S@1 + nuggets@3, Chinese questions",
                "tune": best_m,
            },
        )
        PARAMS_FILE.write_text(
            json.dumps(asdict(fitted), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        print(f"wrote {PARAMS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
