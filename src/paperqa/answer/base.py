"""What every answer engine is and gets: numbered sources in, text with [n] markers out.

One contract for all engines (extractive, llama.cpp, OpenAI-compatible) so that citations are
built, checked and renumbered by the same code whoever wrote the text: an engine only ever
writes "[n]" for the n-th source it was handed, and `citations.py` does the rest.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..errors import PaperqaError
from ..records import Paper, Passage, SummaryEntry


class EngineError(PaperqaError, RuntimeError):
    """An engine cannot run (no model, server unreachable); the message says how to fix it."""


@dataclass(frozen=True)
class Sentence:
    """A sentence of a source; `page` is where it stands verbatim: >= 1 a PDF page,
    0 the summary entry (or abstract) text, None nowhere we can check (never quoted);
    `example`: printed under an example label (a prompt, a model's completion): not a claim."""

    text: str
    page: int | None
    example: bool = False


@dataclass(frozen=True)
class Source:
    """A passage as handed to an engine under its number (1-based)."""

    number: int
    passage: Passage
    paper: Paper
    sentences: tuple[Sentence, ...]
    summary: SummaryEntry | None = None  # the reading-list entry a "summary" passage comes from
    paper_rank: int = -1  # the number of its paper's first source: where retrieval put the paper

    @property
    def kind(self) -> str:
        return self.passage.kind


@dataclass(frozen=True)
class Context:
    """What a follow-up leans on: the previous question, its words counted at `weight`."""

    text: str = ""
    weight: float = 0.0


NO_CONTEXT = Context()


class PaperLookup(Protocol):
    """The part of `Catalog` the engines use (a test may hand in anything with `find`)."""

    def find(self, key: str) -> Paper | None: ...


class AnswerEngine(Protocol):
    name: str

    def select(
        self, question: str, lang: str, passages: Sequence[Passage], catalog: PaperLookup
    ) -> list[Passage]:
        """The passages this engine wants numbered as its sources (may add summary entries)."""
        ...

    def generate(
        self, question: str, lang: str, sources: Sequence[Source], context: Context = NO_CONTEXT
    ) -> Iterator[str]:
        """Text deltas of the answer, citing sources as [n]; unknown numbers are dropped later.
        `context`: what a follow-up leans on (an LLM engine reads a condensed question instead
        and may ignore it)."""
        ...


def paper_for(passage: Passage, catalog: PaperLookup | None) -> Paper:
    """The catalog's paper for a passage; a bare record for the user's own (extra) papers."""
    paper = catalog.find(passage.paper_id) if catalog is not None else None
    if paper is not None and paper.paper_id == passage.paper_id:
        return paper
    return Paper(paper_id=passage.paper_id, title=passage.title or passage.paper_id)


def short_name(paper: Paper) -> str:
    """How an answer names a paper: a short alias (QLoRA) or the title before its colon."""
    for alias in paper.aliases:
        if 2 <= len(alias) <= 24 and not alias.replace(".", "").isdigit():
            return alias
    head = paper.title.split(":", 1)[0].strip()
    return head if 2 <= len(head) <= 40 else paper.title
