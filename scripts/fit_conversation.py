"""Fit how much a follow-up leans on the previous question (`ConversationParams.context_weight`)
on the TUNING half of the conversations; report both halves.

    python scripts/fit_conversation.py --home /path/with/pdfs/indexed eval/conversations.jsonl
    python scripts/fit_conversation.py --home ... --dry-run eval/conversations.jsonl   # measure only

A follow-up ("And how long did training take?") is answered from the paper the conversation is
about; with a weight above 0 its search also reads the previous question (the two searches'
passages taken in turn) and its sentence choice counts the previous question's words at that
weight. The objective is the follow-up turns' nugget recall plus cited hit@1 on the tuning half
(a turn is tuning or validation by its expected papers, as questions are); ties go to the smaller
weight. Written to `src/paperqa/answer/conversation_params.json` (its other fields kept). Each
setting is tried by writing that file, which every question reads, so the measurement is the
product's own path.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from paperqa import Library, Settings
from paperqa.answer.conversation import PARAMS_FILE, ConversationParams
from paperqa.params import dump_params

GRID = (0.0, 0.15, 0.3, 0.5, 1.0)


def measure(lib: Library, conversations: Path, params: ConversationParams) -> dict[str, dict[str, float]]:
    """Follow-up nugget recall and cited hit@1 per half, with `params` in effect."""
    dump_params(params, PARAMS_FILE)
    summary = lib.evaluate_conversations(conversations)["summary"]
    return {
        half: {m: summary[half]["follow_up"][m] for m in ("n", "nugget_recall", "cited_hit@1")}
        | {"standalone_nuggets": summary[half]["standalone"]["nugget_recall"]}
        for half in ("tune", "validation")
        if half in summary
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", required=True, help="data root with the PDFs indexed")
    ap.add_argument("--dry-run", action="store_true", help="measure the shipped value only")
    ap.add_argument("conversations", type=Path)
    args = ap.parse_args(argv)
    lib = Library(Settings.load(home=Path(args.home), history=False))
    shipped = ConversationParams.load()
    original = PARAMS_FILE.read_text(encoding="utf-8") if PARAMS_FILE.is_file() else None
    grid = (shipped.context_weight,) if args.dry_run else GRID
    results = {}
    try:
        for w in grid:
            results[w] = measure(lib, args.conversations, replace(shipped, context_weight=w))
            for half, m in results[w].items():
                print(f"{half:10s} context_weight={w:<5} {m}", flush=True)
    finally:
        if original is None:
            PARAMS_FILE.unlink(missing_ok=True)
        else:
            PARAMS_FILE.write_text(original, encoding="utf-8")
    if args.dry_run:
        return 0

    def objective(w: float) -> tuple[float, float]:
        tune = results[w]["tune"]
        return (round(tune["nugget_recall"] + tune["cited_hit@1"], 6), -w)

    best = max(results, key=objective)
    dump_params(replace(shipped, context_weight=best), PARAMS_FILE)
    print(f"chosen context_weight={best}; wrote {PARAMS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
