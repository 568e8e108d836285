"""Fit the decline model on the TUNING half of the evaluation set; report both halves.

    python scripts/fit_decline.py --home /path/with/pdfs/indexed eval/questions_*.jsonl
    python scripts/fit_decline.py --home ... --dry-run eval/questions_*.jsonl

Each question gives the signals of `answer.confidence.decline_signals` (term coverage, an unknown
name, the ranker's confidence in its best passage, body passages present) and a label: does the
reading list answer it (`expect` not empty)? A logistic regression is fitted on the tuning half;
the decline threshold on its probability is the highest one under which at most `--max-wrong` of
the tuning half's answerable questions would be declined (declining as many near misses as that
allows). Written to `src/paperqa/answer/decline_params.json` (the other fields are kept).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from logistic import fit_logistic
from paperqa import Library, Settings
from paperqa.answer.confidence import (
    DECLINE_FEATURES,
    PARAMS_FILE,
    DeclineParams,
    answerable_probability,
    decline_signals,
    should_decline,
)
from paperqa.answer.text import clean_question
from paperqa.evaluate.questions import read_questions
from paperqa.params import dump_params
from paperqa.search.retrieve import search_query


def collect(lib: Library, questions):
    rows = []
    for q in questions:
        passages = lib.search(q.q, k=lib.k)
        topic = search_query(clean_question(q.q) or q.q)
        sig = decline_signals(
            topic, passages, catalog=lib.catalog, known=lib.known_term, on_topic=lib.on_topic
        )
        rows.append((q, sig))
    return rows


def report(rows, params: DeclineParams) -> dict[str, float]:
    ans = [s for q, s in rows if q.expect]
    unans = [s for q, s in rows if not q.expect]
    wrong = sum(should_decline(s, params) for s in ans)
    right = sum(should_decline(s, params) for s in unans)
    return {
        "answerable": len(ans),
        "wrongly_declined": round(wrong / (len(ans) or 1), 3),
        "unanswerable": len(unans),
        "declined": round(right / (len(unans) or 1), 3),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("questions", nargs="+", type=Path)
    ap.add_argument("--home", type=Path, default=None)
    ap.add_argument("--max-wrong", type=float, default=0.02, help="answerable share that may be declined")
    ap.add_argument("--C", type=float, default=1.0)
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args()

    lib = Library(Settings.load(home=args.home))
    questions = [q for path in args.questions for q in read_questions(path)]
    rows = collect(lib, questions)
    tune = [r for r in rows if r[0].split == "tune"]
    valid = [r for r in rows if r[0].split == "validation"]
    current = DeclineParams.load()
    params = current
    if not args.dry_run:
        x = np.asarray([s.vector() for _, s in tune], dtype=float)
        y = np.asarray([bool(q.expect) for q, _ in tune])
        model = fit_logistic(x, y, args.C)
        params = replace(
            current,
            features=DECLINE_FEATURES,
            **model,
        )
        probs = sorted(answerable_probability(s, params) or 0.0 for q, s in tune if q.expect)
        allowed = int(args.max_wrong * len(probs))
        cut = probs[allowed] if allowed < len(probs) else 1.0  # at most `allowed` fall under it
        params = replace(
            params,
            min_probability=round(float(cut) - 1e-6, 6),
            fitted_on={"questions": len(tune), "answerable": int(y.sum()), "max_wrong": args.max_wrong},
        )
        dump_params(params, PARAMS_FILE)
        print(
            "weights:",
            dict(zip(DECLINE_FEATURES, params.weights, strict=True)),
            "min_probability",
            params.min_probability,
        )
    for half, sel in (("tune", tune), ("validation", valid)):
        print(half, "before", report(sel, current))
        print(half, "after ", report(sel, params))
    return 0


if __name__ == "__main__":
    sys.exit(main())
