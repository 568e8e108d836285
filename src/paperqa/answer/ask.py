"""Asking: a question (and the conversation so far) in, text deltas and then an `Answer` out;
and `Conversation`, a chat session that keeps its turns.

The Library hands over its opened pieces as an `AskContext`; this module only orders the steps:
read a follow-up against the history, search, answer, time it, and keep the answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from ..records import Answer, Passage
from ..settings import Settings
from .base import NO_CONTEXT, AnswerEngine, Context, PaperLookup
from .conversation import ConversationParams, Resolution, Turn
from .pipeline import answer_stream


@dataclass(frozen=True)
class AskContext:
    """What answering one question needs, opened once by the Library."""

    settings: Settings
    catalog: PaperLookup
    search: Callable[[str, int, list[str] | None], list[Passage]]  # (question, k, papers) -> passages
    page_text: Callable[[str, int], str]
    pdf_path: Callable[[str], Path | None]
    engine: AnswerEngine
    known: Callable[[str], bool]
    on_topic: Callable[[str], float]  # closeness in meaning to the lists' summary entries
    resolve: Callable[[str, Sequence[Any]], Resolution]
    keep: Callable[[Answer], None] | None  # records the final answer in the history, when on


def ask_stream(
    ctx: AskContext,
    question: str,
    k: int,
    papers: list[str] | None = None,
    history: Sequence[Any] = (),
) -> Iterator[str | Answer]:
    """Text deltas as they are produced, then the final Answer, built from the `k` passages
    retrieved for the question.

    With `history`, a follow-up is resolved first and the answer opens with how it was read."""
    asked, note, language = question, None, None
    if history:
        resolution = ctx.resolve(question, history)
        question, note, language = resolution.standalone, resolution.note, resolution.language
        if note:
            note += "\n\n"
            yield note
    t0 = time.perf_counter()
    passages = judged = ctx.search(question, k, papers)
    if history and resolution.follow_up and resolution.focus and papers is None:
        # "it" is the paper the conversation is about: the answer reads that paper's passages;
        # whether the list covers the question at all is judged on what it retrieves on its own
        passages = ctx.search(question, k, list(resolution.focus)) or judged
        if resolution.context:  # and the passages that answer it read with the previous question
            leaning = ctx.search(f"{question} {resolution.context}", k, list(resolution.focus))
            passages = _interleaved(passages, leaning, k)
    retrieve_ms = (time.perf_counter() - t0) * 1000
    follow = history and resolution.follow_up
    for item in answer_stream(
        question,
        passages,
        catalog=ctx.catalog,
        settings=ctx.settings,
        page_text=ctx.page_text,
        pdf_path=ctx.pdf_path,
        engine=ctx.engine,
        known=ctx.known,
        on_topic=ctx.on_topic,
        language=language,
        judged=judged,
        context=Context(resolution.context, resolution.context_weight) if follow else NO_CONTEXT,
    ):
        if isinstance(item, str):
            yield item
            continue
        final = replace(item, timings={**item.timings, "retrieve_ms": round(retrieve_ms, 1)})
        if history:  # the record keeps the question as asked, the answer says how it was read
            final = replace(final, question=asked, answer=(note or "") + final.answer)
        if ctx.keep is not None:
            ctx.keep(final)  # before the yield: a caller may stop at the Answer
        yield final


def _interleaved(a: Sequence[Passage], b: Sequence[Passage], k: int) -> list[Passage]:
    """The first `k` of a and b taken in turn, each passage once (a's first)."""
    out: dict[str, Passage] = {}
    for pair in zip(a, b, strict=False):
        for p in pair:
            out.setdefault(p.chunk_id, p)
    for p in [*a, *b]:  # the longer list's tail, when one is short
        out.setdefault(p.chunk_id, p)
    return list(out.values())[:k]


class Asker(Protocol):
    """What a Conversation asks through (a `Library`)."""

    def ask_stream(self, question: str, **options: Any) -> Iterator[str | Answer]: ...


class Conversation:
    """A chat session over a Library: each question is asked with the turns before it.

    chat = Conversation(lib)
    chat.ask("How does QLoRA save memory?")
    chat.ask("How much memory does it need for a 65B model?")  # answered from QLoRA
    chat.reset()                                               # a new conversation
    """

    def __init__(
        self,
        library: Asker,
        engine: str | None = None,
        k: int | None = None,
        papers: list[str] | None = None,
        record: bool = True,
        params: ConversationParams | None = None,
    ):
        self.library = library
        self.engine, self.k, self.papers, self.record = engine, k, papers, record
        self.params = params or ConversationParams.load()
        self._turns: list[Turn] = []

    @property
    def turns(self) -> tuple[Turn, ...]:
        return tuple(self._turns)

    def reset(self) -> None:
        """Forget the turns: the next question starts a new conversation."""
        self._turns.clear()

    def ask_stream(self, question: str) -> Iterator[str | Answer]:
        """Text deltas, then the Answer (as `Library.ask_stream`); the turn is kept."""
        for item in self.library.ask_stream(
            question,
            engine=self.engine,
            k=self.k,
            papers=self.papers,
            record=self.record,
            history=tuple(self._turns),
        ):
            if isinstance(item, Answer):
                self._turns.append(Turn(question, item))
                del self._turns[: -self.params.keep_turns]
            yield item

    def ask(self, question: str) -> Answer:
        *_, final = self.ask_stream(question)
        assert isinstance(final, Answer)
        return final
