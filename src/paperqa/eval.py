"""Evaluation over a question file, in one process (the model loads once).

Question file: JSON lines, `{"id", "q", "lang", "expect": [paper_ids]}`; or `expect_set`
with `kind` "list"/"compare" (all of these papers should come up); `expect: []` means the
reading list does not cover the question (the right answer declines).

Retrieval metrics, per question and overall and per language: hit@1, hit@5 (an expected
paper among the first k distinct papers) and MRR. With answers: the papers the answer
cites, whether it declined, and whether each quote was found verbatim.
"""

from __future__ import annotations

import hashlib
import json
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import PaperqaError
from .records import Answer, Passage
from .retrieve import ranked_papers


@dataclass(frozen=True)
class Question:
    id: str
    q: str
    lang: str
    expect: tuple[str, ...]
    kind: str = "single"  # single | list | compare | unanswerable
    # gold pages per paper (1-based PDF pages) and the key facts an answer must state, each
    # as alternative surface forms (English and Chinese)
    pages: dict[str, tuple[int, ...]] = field(default_factory=dict)
    nuggets: tuple[tuple[str, ...], ...] = ()

    @property
    def answerable(self) -> bool:
        return bool(self.expect)

    @property
    def split(self) -> str:
        """ "tune" or "validation", by paper (see `paper_split`): a question is validation only
        when every paper it expects is; one that spans both halves counts as tuning, so nothing
        fitted on the tuning half is ever scored as held out. Unanswerable ones split by id."""
        if not self.expect:
            return paper_split(self.id)
        halves = {paper_split(p) for p in self.expect}
        return "validation" if halves == {"validation"} else "tune"


def paper_split(key: str) -> str:
    """A fixed rule, chosen before any result was seen: the parity of sha256(paper id)."""
    return "validation" if int(hashlib.sha256(key.encode()).hexdigest(), 16) % 2 else "tune"


def _norm_nugget(text: str) -> str:
    """Case and whitespace do not matter when checking that an answer states a fact."""
    return "".join(unicodedata.normalize("NFKC", text).casefold().split())


def nuggets_stated(answer: str, nuggets: tuple[tuple[str, ...], ...]) -> list[bool]:
    """For each nugget, whether any of its surface forms appears in the answer text."""
    said = _norm_nugget(answer)
    return [any(_norm_nugget(f) and _norm_nugget(f) in said for f in forms) for forms in nuggets]


class QuestionFileError(PaperqaError, ValueError):
    """A question file that cannot be read; names the file and line, like a malformed reading list."""

    def __init__(self, path: Path, line: int, message: str):
        self.path, self.line = path, line
        super().__init__(f"{path}:{line}: {message}")


_SHAPE = 'expected one JSON object a line: {"id", "q", "lang", "expect": [paper ids]}'
_JSON_TYPES = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "true/false"}


def read_questions(path: Path) -> list[Question]:
    """Parse a JSON-lines question file.

    Anything malformed (unreadable, not UTF-8, a line that is not a JSON object with `id` and
    `q`) raises QuestionFileError naming `file:line`, so the CLI prints one line, not a traceback.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        reason = "it is a folder" if path.is_dir() else exc.strerror
        raise QuestionFileError(path, 0, f"cannot read the question file: {reason}") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise QuestionFileError(path, line, f"not UTF-8 text; {_SHAPE}") from exc
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            detail = f"{exc.msg} at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else exc
            raise QuestionFileError(path, n, f"not valid JSON ({detail}); {_SHAPE}") from exc
        if not isinstance(row, dict):
            kind = "null" if row is None else _JSON_TYPES.get(type(row), type(row).__name__)
            raise QuestionFileError(path, n, f"{kind}, not a JSON object; {_SHAPE}")
        missing = [key for key in ("id", "q") if key not in row]
        if missing:
            raise QuestionFileError(path, n, f"no {' or '.join(repr(k) for k in missing)} field; {_SHAPE}")
        expect = row.get("expect_set") or row.get("expect") or []
        if not isinstance(expect, list) or not all(isinstance(e, str) for e in expect):
            raise QuestionFileError(path, n, "'expect' must be a list of paper ids, e.g. [\"2305.14314\"]")
        if not str(row["q"]).strip():
            raise QuestionFileError(path, n, "the question 'q' is empty")
        kind = row.get("kind") or ("single" if expect else "unanswerable")
        try:
            pages = {str(k): tuple(int(x) for x in v) for k, v in (row.get("pages") or {}).items()}
            nuggets = tuple(tuple(str(f) for f in forms) for forms in row.get("nuggets") or ())
        except (AttributeError, TypeError, ValueError) as exc:
            raise QuestionFileError(
                path, n, "'pages' must map paper ids to page lists; 'nuggets' must be lists of strings"
            ) from exc
        out.append(
            Question(
                str(row["id"]),
                str(row["q"]),
                str(row.get("lang", "en")),
                tuple(expect),
                kind,
                pages=pages,
                nuggets=nuggets,
            )
        )
    if not out:
        raise QuestionFileError(path, 1, f"no questions in the file; {_SHAPE}")
    return out


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


def _page_hit(q: Question, a: Answer) -> bool | None:
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
            row["page_hit"] = _page_hit(q, a)
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


@dataclass(frozen=True)
class DialogTurn:
    q: str
    scored: Question | None = None  # the turn as a question to score, when it has `expect`
    standalone: str | None = None


@dataclass(frozen=True)
class Dialog:
    id: str
    lang: str
    turns: tuple[DialogTurn, ...]


_DIALOG_SHAPE = 'expected one JSON object a line: {"id", "lang", "turns": [{"q"}, {"q", "expect", ...}]}'


def read_conversations(path: Path) -> list[Dialog]:
    """Parse a JSON-lines conversation file; anything malformed raises QuestionFileError (file:line)."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise QuestionFileError(path, 0, f"cannot read the conversation file: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise QuestionFileError(path, 1, f"not UTF-8 text; {_DIALOG_SHAPE}") from exc
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise QuestionFileError(path, n, f"not valid JSON; {_DIALOG_SHAPE}") from exc
        turns = row.get("turns") if isinstance(row, dict) else None
        if not isinstance(turns, list) or not turns or "id" not in row:
            raise QuestionFileError(path, n, f"no 'id' or no 'turns' list; {_DIALOG_SHAPE}")
        cid, lang = str(row["id"]), str(row.get("lang", "en"))
        parsed = []
        for i, t in enumerate(turns):
            if not isinstance(t, dict) or not str(t.get("q", "")).strip():
                raise QuestionFileError(path, n, f"turn {i + 1} has no question 'q'; {_DIALOG_SHAPE}")
            scored = None
            if t.get("expect"):
                expect = t["expect"]
                if not isinstance(expect, list) or not all(isinstance(e, str) for e in expect):
                    raise QuestionFileError(path, n, f"turn {i + 1}: 'expect' must be a list of paper ids")
                try:
                    pages = {str(k): tuple(int(x) for x in v) for k, v in (t.get("pages") or {}).items()}
                    nuggets = tuple(tuple(str(f) for f in forms) for forms in t.get("nuggets") or ())
                except (AttributeError, TypeError, ValueError) as exc:
                    raise QuestionFileError(
                        path, n, f"turn {i + 1}: 'pages' must map ids to pages; 'nuggets' lists of strings"
                    ) from exc
                scored = Question(
                    f"{cid}/{i + 1}", str(t["q"]), lang, tuple(expect), pages=pages, nuggets=nuggets
                )
            standalone = str(t["standalone"]) if t.get("standalone") else None
            parsed.append(DialogTurn(str(t["q"]), scored, standalone))
        out.append(Dialog(cid, lang, tuple(parsed)))
    if not out:
        raise QuestionFileError(path, 1, f"no conversations in the file; {_DIALOG_SHAPE}")
    return out


def _score(q: Question, a: Answer) -> dict[str, Any]:
    cited = list(dict.fromkeys(c.paper_id for c in a.citations))
    return {
        "cited": cited,
        "hit": bool(cited) and cited[0] in q.expect,
        "declined": a.declined,
        "nuggets_stated": nuggets_stated(a.answer, q.nuggets) if q.nuggets else [],
        "page_hit": _page_hit(q, a),
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
