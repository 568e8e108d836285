"""Evaluation over a question file, in one process (the model loads once).

Question file: JSON lines, `{"id", "q", "lang", "expect": [paper_ids]}`; or `expect_set`
with `kind` "list"/"compare" (all of these papers should come up); `expect: []` means the
reading list does not cover the question (the right answer declines).

Retrieval metrics, per question and overall and per language: hit@1, hit@5 (an expected
paper among the first k distinct papers) and MRR. With answers: the papers the answer
cites, whether it declined, and whether each quote was found verbatim.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..records import Answer, Passage
from ..search.retrieve import ranked_papers
from .questions import (
    Dialog,
    Question,
    first_statement,
    nuggets_stated,
    paper_split,
    read_conversations,
    read_questions,
)


def _rank_of(expected: tuple[str, ...], ranked: list[str]) -> int:
    """1-based rank of the first expected paper among ranked distinct papers (0: absent)."""
    for i, pid in enumerate(ranked, 1):
        if pid in expected:
            return i
    return 0


def _share(hits: int, n: int) -> float | None:
    return round(hits / n, 3) if n else None


def _block(sel: list[dict[str, Any]]) -> dict[str, Any]:
    """Retrieval and (when answers were run) answer metrics over a set of result rows."""
    ans = [r for r in sel if r["expect"]]
    n = len(ans)
    out: dict[str, Any] = {"n": n}
    if n:
        ranks = [r["rank"] for r in ans]
        out["hit@1"] = _share(sum(1 for r in ranks if r == 1), n)
        out["hit@5"] = _share(sum(1 for r in ranks if 1 <= r <= 5), n)
        out["mrr"] = round(sum(1 / r for r in ranks if r) / n, 3)
    if not any("cited" in r for r in sel):
        return out
    if n:
        out["cited_hit@1"] = _share(sum(1 for r in ans if r["cited"][:1] and r["cited"][0] in r["expect"]), n)
        out["wrongly_declined"] = _share(sum(1 for r in ans if r["declined"]), n)
    stated = [s for r in ans for s in r.get("nuggets_stated", [])]
    if stated:
        out["nugget_recall"] = _share(sum(stated), len(stated))
    opened = [r["first_states"] for r in ans if "first_states" in r and not r["declined"]]
    if opened:
        out["answer_first"] = _share(sum(opened), len(opened))
    paged = [r for r in ans if r.get("page_hit") is not None]
    if paged:
        out["page_accuracy"] = _share(sum(1 for r in paged if r["page_hit"]), len(paged))
    unans = [r for r in sel if not r["expect"]]
    declined = [r for r in sel if r["declined"]]
    out["n_unanswerable"] = len(unans)
    if unans:
        out["decline_recall"] = _share(sum(1 for r in unans if r["declined"]), len(unans))
    if declined:
        out["decline_precision"] = _share(sum(1 for r in declined if not r["expect"]), len(declined))
    return out


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    langs = sorted({r["lang"] for r in rows})
    summary: dict[str, Any] = {
        "overall": _block(rows),
        **{lang: _block([r for r in rows if r["lang"] == lang]) for lang in langs},
    }
    splits = sorted({r["split"] for r in rows})
    if len(splits) > 1:
        for half in splits:
            sel = [r for r in rows if r["split"] == half]
            summary[half] = {
                "all": _block(sel),
                **{lang: _block([r for r in sel if r["lang"] == lang]) for lang in langs},
            }
    unans = [r for r in rows if not r["expect"]]
    if unans and any("declined" in r for r in unans):
        summary["unanswerable_declined"] = round(sum(1 for r in unans if r["declined"]) / len(unans), 3)
    quotes = [q for r in rows for q in r.get("quotes", [])]
    if quotes:
        summary["quotes"] = len(quotes)
        summary["verbatim_share"] = round(sum(1 for q in quotes if q["verbatim"]) / len(quotes), 3)
    for key in ("first_token_ms", "answer_ms", "ms"):
        values = sorted(r[key] for r in rows if r.get(key) is not None)
        if values:
            name = "retrieve_ms" if key == "ms" else key
            summary[f"{name}_p50"] = round(values[len(values) // 2], 1)
            summary[f"{name}_p95"] = round(values[min(len(values) - 1, round(0.95 * (len(values) - 1)))], 1)
            summary[f"{name}_max"] = round(values[-1], 1)
    return summary


def page_hit(q: Question, a: Answer) -> bool | None:
    """A quote on a gold page of an expected paper (None when the question has no gold pages)."""
    gold = {(pid, page) for pid, pages in q.pages.items() for page in pages}
    if not gold:
        return None
    return any(c.quote is not None and (c.paper_id, c.quote.page) in gold for c in a.citations)


def run_eval(
    questions: list[Question],
    search: Callable[[str], list[Passage]],
    ask: Callable[[str], Answer] | None = None,
) -> dict[str, Any]:
    """Run every question through `search` (and `ask`); returns {"results": [...], "summary": {...}}."""
    rows: list[dict[str, Any]] = []
    for q in questions:
        t0 = time.perf_counter()
        passages = search(q.q)
        ms = round((time.perf_counter() - t0) * 1000, 1)
        ranked = ranked_papers(passages)
        row: dict[str, Any] = {
            "id": q.id,
            "q": q.q,
            "lang": q.lang,
            "kind": q.kind,
            "expect": list(q.expect),
            "retrieved": ranked,
            "rank": _rank_of(q.expect, ranked),
            "split": q.split,
            "ms": ms,
        }
        if ask is not None:
            a = ask(q.q)
            row["cited"] = list(dict.fromkeys(c.paper_id for c in a.citations))
            row["declined"] = a.declined
            row["quotes"] = [
                {
                    "paper_id": c.paper_id,
                    "page": c.quote.page,
                    "text": c.quote.text,
                    "verbatim": c.quote.verbatim,
                }
                for c in a.citations
                if c.quote is not None
            ]
            row["answer"] = a.answer
            if q.nuggets:
                row["nuggets_stated"] = nuggets_stated(a.answer, q.nuggets)
                # the answer first: does the opening statement already state a key fact?
                row["first_states"] = not a.declined and any(
                    nuggets_stated(first_statement(a.answer), q.nuggets)
                )
            row["page_hit"] = page_hit(q, a)
            row["answer_ms"] = a.timings.get("total_ms")
            row["first_token_ms"] = a.timings.get("first_token_ms")
        rows.append(row)
    return {"results": rows, "summary": _summary(rows)}


# --- conversations -------------------------------------------------------------------------
#
# Conversation file: JSON lines, `{"id", "lang", "turns": [{"q"}, {"q", "expect", "pages",
# "nuggets", "standalone"}, ...]}`. A turn with `expect` is scored (usually a follow-up); its
# `standalone` is the same question said in full, scored alone for comparison: a conversation
# that is read well scores on its follow-ups what the standalone questions score.


def _score(q: Question, a: Answer) -> dict[str, Any]:
    cited = list(dict.fromkeys(c.paper_id for c in a.citations))
    return {
        "cited": cited,
        "hit": bool(cited) and cited[0] in q.expect,
        "declined": a.declined,
        "nuggets_stated": nuggets_stated(a.answer, q.nuggets) if q.nuggets else [],
        "page_hit": page_hit(q, a),
        "answer": a.answer,
    }


def _dialog_block(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Cited hit@1 and nugget recall of the follow-up turns, and of the same questions standalone."""
    out: dict[str, Any] = {"n": len(rows)}
    for side in ("follow_up", "standalone"):
        sel = [r[side] for r in rows if side in r]
        if not sel:
            continue
        stated = [s for r in sel for s in r["nuggets_stated"]]
        out[side] = {
            "n": len(sel),
            "cited_hit@1": _share(sum(1 for r in sel if r["hit"]), len(sel)),
            "nugget_recall": _share(sum(stated), len(stated)),
            "declined": _share(sum(1 for r in sel if r["declined"]), len(sel)),
        }
    if "follow_up" in out and "standalone" in out:
        f, s = out["follow_up"], out["standalone"]
        out["delta"] = {
            k: round((f[k] or 0) - (s[k] or 0), 3)
            for k in ("cited_hit@1", "nugget_recall")
            if s.get(k) is not None
        }
    return out


def run_conversations(
    dialogs: list[Dialog],
    ask: Callable[[str, list[Any]], Answer],
    standalone: bool = True,
) -> dict[str, Any]:
    """Ask each conversation's turns in order with the turns before them (`ask(question, history)`,
    history a list of (question, Answer)); score the turns with `expect`, and (with `standalone`)
    the same questions asked alone. Summary overall, per language and per split (`paper_split` of
    the scored turn's first expected paper)."""
    rows: list[dict[str, Any]] = []
    for d in dialogs:
        history: list[Any] = []
        for t in d.turns:
            a = ask(t.q, history)
            history.append((t.q, a))
            if t.scored is None:
                continue
            row: dict[str, Any] = {
                "id": t.scored.id,
                "lang": d.lang,
                "split": paper_split(t.scored.expect[0]),
                "q": t.q,
                "expect": list(t.scored.expect),
                "follow_up": _score(t.scored, a),
            }
            if standalone and t.standalone:
                row["standalone_q"] = t.standalone
                row["standalone"] = _score(t.scored, ask(t.standalone, []))
            rows.append(row)
    langs = sorted({r["lang"] for r in rows})
    splits = sorted({r["split"] for r in rows})
    summary: dict[str, Any] = {"overall": _dialog_block(rows)}
    summary.update({lang: _dialog_block([r for r in rows if r["lang"] == lang]) for lang in langs})
    summary.update({half: _dialog_block([r for r in rows if r["split"] == half]) for half in splits})
    return {"results": rows, "summary": summary}


def evaluate_files(
    files: Path | list[Path],
    search: Callable[[str], list[Passage]],
    ask: Callable[[str], Answer] | None = None,
) -> dict[str, Any]:
    """`run_eval` over the questions of one or more files (summaries per language and per split)."""
    paths = files if isinstance(files, list | tuple) else [files]
    return run_eval([q for f in paths for q in read_questions(Path(f))], search, ask)


def evaluate_conversation_file(path: Path, ask: Callable[[str, list[Answer]], Answer]) -> dict[str, Any]:
    """`run_conversations` over the dialogs of a conversations file."""
    return run_conversations(read_conversations(Path(path)), ask)
