"""Answers over a question file: decline calibration, cited papers, verbatim quotes, timings.

    .venv/bin/python scripts/calibrate_decline.py [questions.jsonl] [--engine extractive|llama|openai] [--json]

Prints, per question, the confidence that decides declining, whether the answer declined, the
first cited paper against the expected ones, and time to first token / total. Then the
threshold that best separates answerable from unanswerable questions on this file (set it as
`min_confidence`), so the decline threshold is calibrated on data, not guessed. The questions
default to $PAPERQA_DEV_QUESTIONS; the index must be built (`paperqa index`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

from paperqa.answer import confidence
from paperqa.eval import read_questions
from paperqa.library import Library


def best_threshold(scores: list[tuple[float, bool]]) -> tuple[float, int]:
    """The cut with the fewest mistakes (answerable under it, unanswerable over it); ties: the middle."""
    cuts = sorted({0.0, 1.01, *(s for s, _ in scores)})
    results = []
    for lo, hi in zip(cuts, cuts[1:], strict=False):
        t = (lo + hi) / 2
        errors = sum(1 for s, ok in scores if (s >= t) != ok)
        results.append((errors, t))
    errors = min(e for e, _ in results)
    best = [t for e, t in results if e == errors]
    return round(statistics.median(best), 3), errors


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("questions", nargs="?", default=os.environ.get("PAPERQA_DEV_QUESTIONS"))
    ap.add_argument("--engine", default=None)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if not args.questions:
        sys.exit("give a questions file (JSON lines) or set PAPERQA_DEV_QUESTIONS")
    lib = Library()
    rows = []
    for q in read_questions(Path(args.questions)):
        passages = lib.search(q.q, k=lib.settings.k * 2)
        conf = confidence(q.q, passages, catalog=lib.catalog)
        ans = lib.ask(q.q, engine=args.engine)
        cited = [c.paper_id for c in ans.citations]
        rows.append(
            {
                "id": q.id,
                "q": q.q,
                "answerable": q.answerable,
                "confidence": conf,
                "declined": ans.declined,
                "cited": cited,
                "right": (ans.declined if not q.answerable else bool(cited) and cited[0] in q.expect),
                "quotes_verbatim": all(c.quote.verbatim for c in ans.citations if c.quote),
                "quotes": sum(1 for c in ans.citations if c.quote),
                **{k: round(v) for k, v in ans.timings.items()},
            }
        )
    threshold, errors = best_threshold([(r["confidence"], r["answerable"]) for r in rows])
    summary = {
        "n": len(rows),
        "right": sum(r["right"] for r in rows),
        "wrongly_declined": sum(1 for r in rows if r["answerable"] and r["declined"]),
        "wrongly_answered": sum(1 for r in rows if not r["answerable"] and not r["declined"]),
        "suggested_min_confidence": threshold,
        "errors_at_suggested": errors,
        "median_total_ms": statistics.median(r["total_ms"] for r in rows) if rows else 0,
    }
    if args.json:
        print(json.dumps({"rows": rows, "summary": summary}, ensure_ascii=False, indent=2))
        return 0
    for r in rows:
        mark = "ok " if r["right"] else "BAD"
        first = r["cited"][0] if r["cited"] else ("declined" if r["declined"] else "-")
        print(
            f"{mark} {r['id']:>4} conf={r['confidence']:.2f} {first:<12} "
            f"ttft={r.get('first_token_ms', 0):>6} total={r.get('total_ms', 0):>6}  {r['q']}"
        )
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
