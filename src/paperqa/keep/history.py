"""The local history of questions and answers: one SQLite file under the data root.

Each final answer is one row (one small insert in its own transaction, so a crash leaves either
the whole row or none); the whole `Answer` is kept as JSON so that an old answer can be exported
again exactly as it was shown. Search is a substring match (SQL LIKE) over question and answer:
it needs no tokenizer, so Chinese works as well as English, and a personal history is small.
Reading never creates the file; recording is off with `PAPERQA_HISTORY=0`.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from numbers import Integral
from pathlib import Path
from typing import Any

from ..errors import PaperqaError, UsageError
from ..records import Answer, Citation, Quote, SummaryEntry
from ..settings import Settings

FILE_NAME = "history.sqlite3"
SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    asked_at TEXT NOT NULL,          -- ISO 8601 UTC
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    engine TEXT NOT NULL,
    language TEXT NOT NULL,
    declined INTEGER NOT NULL,
    cited TEXT NOT NULL,             -- JSON list of paper ids, in citation order
    record TEXT NOT NULL             -- the whole Answer as JSON (Answer.to_dict())
)
"""


class HistoryError(PaperqaError, RuntimeError):
    """The history file cannot be read or written; the message names it and the way out."""


@dataclass(frozen=True)
class HistoryEntry:
    """One asked question and its final answer (`record` is the Answer as it was shown)."""

    id: int
    asked_at: str  # ISO 8601 UTC
    question: str
    answer: str
    engine: str
    language: str
    declined: bool
    cited: tuple[str, ...]
    record: Answer

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of `paperqa history --json` (the full record is left to the Python API)."""
        return {
            "id": self.id,
            "asked_at": self.asked_at,
            "question": self.question,
            "answer": self.answer,
            "engine": self.engine,
            "language": self.language,
            "declined": self.declined,
            "cited": list(self.cited),
        }


def history_file(settings: Settings) -> Path:
    return settings.home / FILE_NAME


def record_answer(settings: Settings, answer: Answer, asked_at: datetime | None = None) -> int:
    """Append one final answer; returns its id."""
    when = (asked_at or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
    cited = list(dict.fromkeys(c.paper_id for c in answer.citations))
    row = (
        when,
        answer.question,
        answer.answer,
        answer.engine,
        answer.language,
        int(answer.declined),
        json.dumps(cited),
        json.dumps(answer.to_dict(), ensure_ascii=False),
    )
    path = history_file(settings)
    with _open(path, create=True) as conn, conn:  # the inner `conn`: one transaction
        cur = conn.execute(
            "INSERT INTO answers (asked_at, question, answer, engine, language, declined, cited, record)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            row,
        )
        return int(cur.lastrowid or 0)


def keep_answer(settings: Settings, answer: Answer) -> None:
    """One small insert into the history; a history that cannot be written never costs the answer."""
    try:
        record_answer(settings, answer)
    except PaperqaError as exc:
        logging.getLogger("paperqa").warning("not kept in the history: %s", exc)


def search_history(settings: Settings, query: str | None = None, limit: int = 50) -> list[HistoryEntry]:
    """Entries whose question or answer contains every word of `query`, newest first."""
    if isinstance(limit, bool) or not isinstance(limit, Integral) or limit < 1:
        raise UsageError(f"limit must be a whole number, 1 or more (got {limit!r})")
    path = history_file(settings)
    if not path.is_file():
        return []
    terms = (query or "").split()
    where = " AND ".join("(question LIKE ? ESCAPE '\\' OR answer LIKE ? ESCAPE '\\')" for _ in terms)
    args: list[Any] = [pat for t in terms for pat in (_like(t), _like(t))]
    sql = "SELECT id, asked_at, question, answer, engine, language, declined, cited, record FROM answers"
    sql += f" WHERE {where}" if where else ""
    sql += " ORDER BY id DESC LIMIT ?"
    with _open(path, create=False) as conn:
        try:
            rows = conn.execute(sql, [*args, int(limit)]).fetchall()
        except sqlite3.DatabaseError as exc:
            raise _unreadable(path, exc) from exc
    try:
        return [_entry(row) for row in rows]
    except (ValueError, TypeError, KeyError) as exc:
        raise _unreadable(path, exc) from exc


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _entry(row: tuple[Any, ...]) -> HistoryEntry:
    id_, asked_at, question, answer, engine, language, declined, cited, record = row
    return HistoryEntry(
        id=int(id_),
        asked_at=asked_at,
        question=question,
        answer=answer,
        engine=engine,
        language=language,
        declined=bool(declined),
        cited=tuple(json.loads(cited)),
        record=answer_from_dict(json.loads(record)),
    )


@contextmanager
def _open(path: Path, create: bool) -> Iterator[sqlite3.Connection]:
    """A connection with the schema in place; any SQLite failure becomes a HistoryError."""
    try:
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(path, timeout=10.0)) as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise HistoryError(
                    f"history {path} was written by a newer paperqa (schema {version}); "
                    "upgrade paperqa, or set PAPERQA_HISTORY=0"
                )
            if version < SCHEMA_VERSION:
                with conn:
                    conn.execute(_SCHEMA)
                    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            if create and conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                # another connection may have the file open while this one would switch its mode
                # (answers kept at once into a new history): SQLite does not wait for that; WAL
                # is a speed-up, not a need, and a later writer switches it
                with suppress(sqlite3.OperationalError):
                    conn.execute("PRAGMA journal_mode = WAL")  # readers never block the one writer
            conn.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: durable, one fsync per checkpoint
            yield conn
    except HistoryError:
        raise
    except sqlite3.DatabaseError as exc:
        raise _unreadable(path, exc) from exc
    except OSError as exc:
        raise HistoryError(
            f"cannot write the history {path}: {exc.strerror or exc}; check the disk and permissions, "
            "or set PAPERQA_HISTORY=0"
        ) from exc


def _unreadable(path: Path, exc: Exception) -> HistoryError:
    return HistoryError(
        f"history {path} cannot be read ({exc}); move it aside to start a new one, or set PAPERQA_HISTORY=0"
    )


# --- an Answer back from its JSON ------------------------------------------------------------


def answer_from_dict(d: dict[str, Any]) -> Answer:
    """The inverse of `Answer.to_dict()`; keys it does not know are dropped (a newer writer)."""
    cits = tuple(_citation(c) for c in d.get("citations", ()))
    return Answer(
        **_known(Answer, d, skip={"citations"}),
        citations=cits,
    )


def _citation(d: dict[str, Any]) -> Citation:
    quote = d.get("quote")
    return Citation(
        **_known(Citation, d, skip={"quote", "summaries"}),
        quote=Quote(**_known(Quote, quote)) if quote else None,
        summaries=tuple(
            SummaryEntry(
                **_known(SummaryEntry, s, skip={"fields"}),
                fields=tuple((str(k), str(v)) for k, v in s.get("fields", ())),
            )
            for s in d.get("summaries", ())
        ),
    )


def _known(cls: type, d: dict[str, Any], skip: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:
    names = {f.name for f in fields(cls)} - set(skip)
    return {k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k in names}
