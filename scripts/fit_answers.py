"""Fit how much the extractive engine reads and says (passages per question, sentences per answer,
second papers, MMR thresholds) on the TUNING half of the evaluation set, by coordinate search; report both halves.

    python scripts/fit_answers.py --home /path/with/pdfs/indexed eval/questions_*.jsonl
    python scripts/fit_answers.py --home ... --dry-run eval/questions_*.jsonl

The objective is nugget recall plus cited hit@1 plus page accuracy (a quote on a page that holds
the answer, over the questions that have gold pages) on the tuning half, minus a small price per
word of answer, so that a longer answer must state more to win (a reader wants the answer, not a
page).
Retrieval runs once per question (for the most passages tried; a search for fewer returns the first
of them); only the answer stage is re-run per setting. The fitted values are written into
`src/paperqa/answer/sentence_params.json`, and the passages read into `search/ranker_params.json`
as "k" (the other fields of both are kept).
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import replace
from pathlib import Path

from paperqa import Library, Settings
from paperqa.answer import answer
from paperqa.answer.extractive import ExtractiveEngine, SentenceParams
from paperqa.cjk import CJK_IDEOGRAPHS
from paperqa.evaluate.questions import nuggets_stated, read_questions
from paperqa.evaluate.run import page_hit
from paperqa.search.rerank import RankerParams

GRID: dict[str, tuple[float, ...]] = {
    "en_sentences": (2, 3, 4, 5, 6, 7, 8, 10),  # a paragraph at most: 12 reads as a page
    "zh_paper_sentences": (1, 2, 3, 4, 5, 6, 8, 10),  # the same cap as English: 10 of the paper's sentences
    "zh_summary_sentences": (1, 2, 3),
    "en_summary_sentences": (1, 2, 3, 4, 6, 10),  # list lines in an English answer
    "zh_summary_min_share": (0.4, 0.6, 0.8),
    "second_paper_share": (0.0, 0.5, 0.8, 1.01),
    "min_rel": (0.05, 0.15, 0.3),
    "min_rel_third": (0.15, 0.3, 0.5),
    "max_overlap": (0.35, 0.45, 0.6),
    "novelty": (0.0, 0.1, 0.2, 0.4, 0.8),
}
K_GRID = (8, 10, 12, 14, 16, 20, 24)  # passages an answer reads (RankerParams.k)
CJK_RE = re.compile(f"[{CJK_IDEOGRAPHS}]")
WORD_PRICE = 0.0005  # objective points per answer word (100 words cost 0.05)


def answer_words(text: str) -> float:
    """Words a reader reads: English words, and Chinese at two characters a word (a Chinese
    answer quotes the paper in English, which must not cost three times as much)."""
    cjk = len(CJK_RE.findall(text))
    return len(CJK_RE.sub(" ", text).split()) + cjk / 2


def score(lib: Library, rows, params: SentenceParams, k: int, neighbours=None) -> dict[str, float]:
    """Nugget recall, cited hit@1, page accuracy and words of the answers to `rows` ((question, passages) pairs)
    from each question's first `k` passages; `neighbours`: the Chinese terms' English words (default:
    the index's, as the product uses)."""
    engine = ExtractiveEngine(params=params, neighbours=neighbours or lib.english_for)
    stated = total = hit = words = n = paged = on_page = 0
    for q, passages in rows:
        a = answer(
            q.q,
            passages[:k],
            catalog=lib.catalog,
            settings=lib.settings,
            page_text=lib.page_text,
            pdf_path=lib.pdf_path,
            engine=engine,
            known=lib.known_term,
            on_topic=lib.on_topic,
        )
        n += 1
        flags = nuggets_stated(a.answer, q.nuggets)
        stated += sum(flags)
        total += len(flags)
        cited = [c.paper_id for c in a.citations]
        hit += bool(cited) and cited[0] in q.expect
        words += answer_words(a.answer)
        found = page_hit(q, a)
        if found is not None:
            paged += 1
            on_page += found
    recall = stated / (total or 1)
    hit1 = hit / (n or 1)
    mean_words = words / (n or 1)
    page = on_page / (paged or 1)
    return {
        "n": n,
        "nugget_recall": round(recall, 3),
        "cited_hit@1": round(hit1, 3),
        "page_accuracy": round(page, 3),
        "words": round(mean_words, 1),
        "objective": round(recall + hit1 + page - WORD_PRICE * mean_words, 4),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("questions", nargs="+", type=Path)
    ap.add_argument("--home", type=Path, default=None)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args()
    lib = Library(Settings.load(home=args.home))
    questions = [
        q
        for path in args.questions
        for q in read_questions(path)
        if q.expect and q.nuggets and q.kind == "single"
    ]
    rows = [(q, lib.search(q.q, k=max(K_GRID))) for q in questions]
    tune = [r for r in rows if r[0].split == "tune"]
    valid = [r for r in rows if r[0].split == "validation"]
    start, start_k = SentenceParams.load(), lib.k
    best, best_k = start, start_k
    if not args.dry_run:
        best_obj = score(lib, tune, best, best_k)["objective"]
        for _ in range(args.rounds):
            for k in K_GRID:
                obj = score(lib, tune, best, k)["objective"]
                if obj > best_obj + 1e-4:
                    best_k, best_obj = k, obj
                    print(f"  k = {k}: objective {obj}")
            for name, values in GRID.items():
                for v in values:
                    trial = replace(best, **{name: type(getattr(best, name))(v)})
                    obj = score(lib, tune, trial, best_k)["objective"]
                    if obj > best_obj + 1e-4:
                        best, best_obj = trial, obj
                        print(f"  {name} = {v}: objective {obj}")
        best = replace(best, fitted_on={**best.fitted_on, "answers_on": len(tune), "word_price": WORD_PRICE})
        best.save()
        ranker = RankerParams.load()
        replace(ranker, k=best_k, fitted_on={**ranker.fitted_on, "k_answers_on": len(tune)}).save()
    for half, sel in (("tune", tune), ("validation", valid)):
        for label, p, k in (("before", start, start_k), ("after", best, best_k)):
            print(half, label, score(lib, sel, p, k))
    print({"k": best_k, **{name: getattr(best, name) for name in GRID}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
