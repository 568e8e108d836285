"""Evaluation over a question file, in one process (the model loads once).

Question file: JSON lines, `{"id", "q", "lang", "expect": [paper_ids]}`; or `expect_set`
with `kind` "list"/"compare" (all of these papers should come up); `expect: []` means the
reading list does not cover the question (the right answer declines).

Retrieval metrics, per question and overall and per language: hit@1, hit@5 (an expected
paper among the first k distinct papers) and MRR. With answers: the papers the answer
cites, whether it declined, and whether each quote was found verbatim.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .records import Answer, Passage
from .retrieve import ranked_papers


@dataclass(frozen=True)
class Question:
    id: str
    q: str
    lang: str
    expect: tuple[str, ...]
    kind: str = "single"  # single | list | compare | unanswerable

    @property
    def answerable(self) -> bool:
        return bool(self.expect)


def read_questions(path: Path) -> list[Question]:
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            expect = tuple(row.get("expect_set") or row.get("expect") or ())
            kind = row.get("kind") or ("single" if expect else "unanswerable")
            out.append(Question(str(row["id"]), str(row["q"]), str(row.get("lang", "en")), expect, kind))
        except (ValueError, KeyError) as exc:
            raise ValueError(
                f'{path}:{n}: not a question line ({exc}); expected {{"id", "q", "expect"}}'
            ) from exc
    return out


def _rank_of(expected: tuple[str, ...], ranked: list[str]) -> int:
    """1-based rank of the first expected paper among ranked distinct papers (0: absent)."""
    for i, pid in enumerate(ranked, 1):
        if pid in expected:
            return i
    return 0


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def block(sel: list[dict[str, Any]]) -> dict[str, Any]:
        ans = [r for r in sel if r["expect"]]
        n = len(ans)
        if not n:
            return {"n": 0}
        ranks = [r["rank"] for r in ans]
        out: dict[str, Any] = {
            "n": n,
            "hit@1": round(sum(1 for r in ranks if r == 1) / n, 3),
            "hit@5": round(sum(1 for r in ranks if 1 <= r <= 5) / n, 3),
            "mrr": round(sum(1 / r for r in ranks if r) / n, 3),
        }
        if any("cited" in r for r in ans):
            out["cited_hit@1"] = round(
                sum(1 for r in ans if r["cited"][:1] and r["cited"][0] in r["expect"]) / n, 3
            )
            out["wrongly_declined"] = round(sum(1 for r in ans if r["declined"]) / n, 3)
        return out

    langs = sorted({r["lang"] for r in rows})
    summary: dict[str, Any] = {
        "overall": block(rows),
        **{lang: block([r for r in rows if r["lang"] == lang]) for lang in langs},
    }
    unans = [r for r in rows if not r["expect"]]
    if unans and any("declined" in r for r in unans):
        summary["unanswerable_declined"] = round(sum(1 for r in unans if r["declined"]) / len(unans), 3)
    quotes = [q for r in rows for q in r.get("quotes", [])]
    if quotes:
        summary["quotes"] = len(quotes)
        summary["verbatim_share"] = round(sum(1 for q in quotes if q["verbatim"]) / len(quotes), 3)
    for key in ("first_token_ms", "answer_ms"):
        values = sorted(r[key] for r in rows if r.get(key) is not None)
        if values:
            summary[f"{key}_p50"] = round(values[len(values) // 2], 1)
            summary[f"{key}_max"] = round(values[-1], 1)
    if rows and "ms" in rows[0]:
        times = sorted(r["ms"] for r in rows)
        summary["ms_p50"] = times[len(times) // 2]
        summary["ms_p95"] = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
    return summary


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
            row["answer_ms"] = a.timings.get("total_ms")
            row["first_token_ms"] = a.timings.get("first_token_ms")
        rows.append(row)
    return {"results": rows, "summary": _summary(rows)}
