"""Question and conversation files for evaluation: reading, checking, and what an answer must state."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import PaperqaError

_SHAPE = 'expected one JSON object a line: {"id", "q", "lang", "expect": [paper ids]}'
_DIALOG_SHAPE = 'expected one JSON object a line: {"id", "lang", "turns": [{"q"}, {"q", "expect", ...}]}'
_JSON_TYPES = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "true/false"}


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


def norm_nugget(text: str) -> str:
    """Case and whitespace do not matter when checking that an answer states a fact."""
    return "".join(unicodedata.normalize("NFKC", text).casefold().split())


def nuggets_stated(answer: str, nuggets: tuple[tuple[str, ...], ...]) -> list[bool]:
    """For each nugget, whether any of its surface forms appears in the answer text."""
    said = norm_nugget(answer)
    return [any(norm_nugget(f) and norm_nugget(f) in said for f in forms) for forms in nuggets]


def first_statement(answer: str) -> str:
    """An answer's opening statement: up to its first citation marker ("... [1]"), which every
    answer sentence ends with; the whole text when it cites nothing."""
    m = _MARKER_RE.search(answer)
    return answer[: m.end()] if m else answer


_MARKER_RE = re.compile(r"\[\d+\]")


class QuestionFileError(PaperqaError, ValueError):
    """A question file that cannot be read; names the file and line, like a malformed reading list."""

    def __init__(self, path: Path, line: int, message: str):
        self.path, self.line = path, line
        super().__init__(f"{path}:{line}: {message}")


def _json_lines(path: Path, text: str, shape: str, detailed: bool = False) -> Iterator[tuple[int, Any]]:
    """(line number, parsed value) of each non-blank line; a line that is not JSON raises
    QuestionFileError saying so (`detailed`: with the parser's message and column)."""
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield n, json.loads(line)
        except ValueError as exc:
            detail = f"{exc.msg} at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else exc
            raise QuestionFileError(
                path, n, f"not valid JSON ({detail}); {shape}" if detailed else f"not valid JSON; {shape}"
            ) from exc


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
    for n, row in _json_lines(path, text, _SHAPE, detailed=True):
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


def read_conversations(path: Path) -> list[Dialog]:
    """Parse a JSON-lines conversation file; anything malformed raises QuestionFileError (file:line)."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise QuestionFileError(path, 0, f"cannot read the conversation file: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise QuestionFileError(path, 1, f"not UTF-8 text; {_DIALOG_SHAPE}") from exc
    out = []
    for n, row in _json_lines(path, text, _DIALOG_SHAPE):
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
