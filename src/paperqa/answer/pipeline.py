"""question + ranked passages -> Answer, the same way for every engine.

Order of work: the question cleaned of markup and injected turns, language, the decline (names
the list never mentions, then confidence; before any model is touched), the engine's sources,
the engine's text streamed through the citation mapper, then citations with quotes checked
against the page text. Nothing here is global: the engine object carries the model.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ..records import Answer, Passage
from ..search.retrieve import search_query
from ..settings import Settings
from .base import NO_CONTEXT, AnswerEngine, Context, EngineError, PaperLookup, Source, short_name
from .citations import CitationMapper, build_citations, make_sources
from .confidence import decline_signals, should_decline
from .extractive import ExtractiveEngine
from .llama import LlamaEngine
from .openai_compat import OpenAIEngine
from .text import clean_question, detect_language, stems

FALLBACK_LEAD = {
    "en": "What the retrieved passages say: ",
    "zh": "检索到的段落这样说：",
}
EVIDENCE_LEAD = {
    "en": "From the papers: ",
    "zh": "论文中的依据：",
}
DECLINE = {
    "en": "The reading list does not cover this.",
    "zh": "阅读清单中的论文没有涉及这个问题。",
}
# When the question names things the list never mentions: the names, then the closest papers.
DECLINE_UNKNOWN = {
    "en": "The reading list does not cover {names}{closest}.",
    "zh": "阅读清单中的论文没有涉及 {names}{closest}。",
}
_CLOSEST_LEAD = {"en": "; closest: ", "zh": "；最接近的是："}
_LIST_SEP = {"en": ", ", "zh": "、"}
CLOSEST = 3
# What a model writes when it finds nothing to say (it was told to say the first one).
_REFUSAL_RE = re.compile(
    r"does not cover|do(es)? not (contain|mention|provide|answer)|not (covered|mentioned)|"
    r"没有涉及|未涉及|没有提到|没有提及|无法回答|不包含",
    re.IGNORECASE,
)


ENGINES = ("extractive", "llama", "openai")  # the one list of engine names (CLI, UI, settings)


def load_engine(
    settings: Settings, neighbours: Callable[[str], tuple[str, ...]] | None = None
) -> AnswerEngine:
    """The engine `settings.engine` names. Cheap: a model is loaded on first use, once per object.
    `neighbours`: Chinese terms' English words in the index (the extractive sentence choice, also
    the evidence block under an LLM's answer)."""
    name = settings.engine.strip().lower()
    if name == "extractive":
        return ExtractiveEngine(neighbours=neighbours)
    if name in ("llama", "openai"):
        llm = LlamaEngine(settings) if name == "llama" else OpenAIEngine(settings)
        llm.evidence = ExtractiveEngine(neighbours=neighbours)
        return llm
    names = ", ".join(ENGINES[:-1]) + " or " + ENGINES[-1]
    raise EngineError(f"unknown answer engine '{settings.engine}': use {names}")


def answer(question: str, passages: Sequence[Passage], **options: Any) -> Answer:
    """The whole answer at once (see `answer_stream` for the options)."""
    *_, final = answer_stream(question, passages, **options)
    assert isinstance(final, Answer)
    return final


def answer_stream(
    question: str,
    passages: Sequence[Passage],
    *,
    catalog: PaperLookup,
    settings: Settings,
    page_text: Callable[[str, int], str],
    pdf_path: Callable[[str], Path | None],
    engine: AnswerEngine | None = None,
    min_confidence: float | None = None,
    known: Callable[[str], bool] | None = None,
    on_topic: Callable[[str], float] | None = None,
    language: str | None = None,
    judged: Sequence[Passage] | None = None,
    context: Context = NO_CONTEXT,
) -> Iterator[str | Answer]:
    """Text deltas as they come, then the final `Answer` (whose text the deltas add up to).

    The question is answered as `clean_question` reads it (markup and injected turns gone); the
    Answer keeps it as asked. Declines, without calling any model, as `decline_signals` say
    (`known`: a token -> seen in the catalog or index?; `on_topic`: a text -> near a summary
    entry?) or, with `min_confidence` or settings.min_confidence, by coverage alone. `judged`:
    the passages judged, when not those the answer reads (a follow-up reads its paper's only,
    and leans on `context`, its previous question)."""
    t0 = time.perf_counter()
    asked, question = question, clean_question(question) or question.strip()
    lang = language or detect_language(question)  # a follow-up may ask for another language
    eng = engine if engine is not None else load_engine(settings)
    min_confidence = getattr(settings, "min_confidence", None) if min_confidence is None else min_confidence
    # judged on the question's topic: a "which papers ... are about X" frame says nothing of X
    judged = passages if judged is None else judged
    signals = decline_signals(search_query(question), judged, catalog=catalog, known=known, on_topic=on_topic)
    if not passages or should_decline(signals, min_confidence=min_confidence):
        declined = _declined(asked, lang, judged, eng.name, t0, unknown=signals.unknown, catalog=catalog)
        yield from (declined.answer, declined)
        return
    draft = _Draft(t0)
    sources, order = yield from _engine_answer(
        eng, question, lang, passages, catalog, page_text, draft, context
    )
    if not order and (not draft.text.strip() or _REFUSAL_RE.search(draft.text)) and eng.name != "extractive":
        fallback = load_engine(settings.with_(engine="extractive"))
        sources = make_sources(fallback.select(question, lang, passages, catalog), catalog, page_text)
        order = yield from _fall_back(fallback, question, lang, sources, draft)
    text = draft.text
    if not order:
        if not text.strip() or _REFUSAL_RE.search(text):
            declined = _declined(asked, lang, passages, eng.name, t0, text=text.strip() or None)
            if not text.strip():
                yield declined.answer
            yield declined
            return
        order = _fallback_markers(text, sources)  # source numbers, cited as [1]..[n] in this order
        suffix = ("" if lang == "zh" else " ") + "".join(f"[{i}]" for i in range(1, len(order) + 1))
        text += suffix
        yield suffix
    citations = build_citations(sources, order, text, question, pdf_path)
    total = _ms(t0)
    timings = {"first_token_ms": draft.first_ms if draft.first_ms is not None else total, "total_ms": total}
    yield Answer(asked, text, lang, declined=False, citations=citations, engine=eng.name, timings=timings)


class _Draft:
    """The answer text as it streams, and when its first words came."""

    def __init__(self, t0: float):
        self.t0 = t0
        self.parts: list[str] = []
        self.first_ms: float | None = None

    def add(self, out: str, timed: bool = True) -> str:
        if out:
            if timed and self.first_ms is None:
                self.first_ms = _ms(self.t0)
            self.parts.append(out)
        return out

    @property
    def text(self) -> str:
        return "".join(self.parts)


def _stream(deltas: Iterable[str], mapper: CitationMapper, draft: _Draft, *, first: bool) -> Iterator[str]:
    """An engine's deltas with citation markers mapped to sources. `first`: the answer's opening
    (leading whitespace dropped; the mapper's tail does not count as the first token)."""
    for delta in deltas:
        out = mapper.feed(delta)
        if first and not draft.parts:
            out = out.lstrip()
        if draft.add(out):
            yield out
    tail = mapper.finish()
    if draft.add(tail, timed=not first):
        yield tail


def _engine_answer(
    eng: AnswerEngine,
    question: str,
    lang: str,
    passages: Sequence[Passage],
    catalog: PaperLookup,
    page_text: Callable[[str, int], str],
    draft: _Draft,
    context: Context = NO_CONTEXT,
) -> Generator[str, None, tuple[list[Source], list[int]]]:
    """The engine's text with its citations mapped; a model's answer then gets its evidence block.
    Returns the numbered sources and the cited order."""
    evidence = (getattr(eng, "evidence", None) or ExtractiveEngine()) if eng.name != "extractive" else None
    sources, reads = _sources(eng, evidence, question, lang, passages, catalog, page_text)
    mapper = CitationMapper(len(sources))
    yield from _stream(eng.generate(question, lang, reads, context), mapper, draft, first=True)
    said = draft.text
    if evidence is not None and said.strip() and not _REFUSAL_RE.search(said):
        if not mapper.order:  # the model cited nothing: cite the passages its words come from
            marks = "".join(f"[{n}]" for n in _fallback_markers(said, reads))
            yield from _stream([("" if lang == "zh" else " ") + marks], mapper, draft, first=False)
        yield from _with_evidence(evidence, question, lang, sources, mapper, draft)
    return sources, mapper.order


def _sources(
    eng: AnswerEngine,
    evidence: AnswerEngine | None,
    question: str,
    lang: str,
    passages: Sequence[Passage],
    catalog: PaperLookup,
    page_text: Callable[[str, int], str],
) -> tuple[list[Source], list[Source]]:
    """(all numbered sources, those the engine reads). With an `evidence` engine the sources are
    its selection, in retrieval order (its scoring reads that order), plus any passage the model
    reads that it left out; the model reads its own choice under the same numbers."""
    chosen = eng.select(question, lang, passages, catalog)
    if evidence is None:
        sources = make_sources(chosen, catalog, page_text)
        return sources, sources
    picked = evidence.select(question, lang, passages, catalog)
    have = {p.chunk_id for p in picked}
    sources = make_sources(picked + [p for p in chosen if p.chunk_id not in have], catalog, page_text)
    by_id = {s.passage.chunk_id: s for s in sources}
    return sources, [by_id[p.chunk_id] for p in chosen]


def _with_evidence(
    evidence: AnswerEngine,
    question: str,
    lang: str,
    sources: list[Source],
    mapper: CitationMapper,
    draft: _Draft,
) -> Iterator[str]:
    """A model's answer is followed by the sentences of the papers it rests on, quoted verbatim and
    cited with the same numbering: what a small model leaves out is still stated, and checkable."""
    lead = "\n\n" + EVIDENCE_LEAD[lang]
    draft.parts.append(lead)
    yield lead
    yield from _stream(evidence.generate(question, lang, sources), mapper, draft, first=False)


def _fall_back(
    fallback: AnswerEngine, question: str, lang: str, sources: list[Source], draft: _Draft
) -> Generator[str, None, list[int]]:
    """Retrieval was confident (we are past the threshold), so a small model's refusal is not the
    last word: what the passages say follows, with verified citations. Returns the cited order."""
    mapper = CitationMapper(len(sources))
    lead = ("\n\n" if draft.text.strip() else "") + FALLBACK_LEAD[lang]
    draft.parts.append(lead)
    yield lead
    yield from _stream(fallback.generate(question, lang, sources), mapper, draft, first=False)
    return mapper.order


def _fallback_markers(text: str, sources: Sequence[Source]) -> list[int]:
    """A model that cited nothing still used its context: cite the sources its words come from."""
    said = stems(text)
    overlap = [(len(said & stems(s.passage.text)), s.number) for s in sources]
    overlap.sort(key=lambda x: (-x[0], x[1]))
    best = [n for o, n in overlap[:2] if o > 0 and o >= overlap[0][0] * 0.5]
    return best or [sources[0].number]


def closest_papers(passages: Sequence[Passage], n: int = CLOSEST) -> tuple[str, ...]:
    return tuple(dict.fromkeys(p.paper_id for p in passages))[:n]


def decline_message(lang: str, unknown: Sequence[str] = (), closest: Sequence[str] = ()) -> str:
    """The decline in the question's language; with the names the list lacks and the closest papers."""
    lang = lang if lang in DECLINE else "en"
    if not unknown:
        return DECLINE[lang]
    near = _CLOSEST_LEAD[lang] + _LIST_SEP[lang].join(closest) if closest else ""
    return DECLINE_UNKNOWN[lang].format(names=_LIST_SEP[lang].join(unknown), closest=near)


def _declined(
    question: str,
    lang: str,
    passages: Sequence[Passage],
    engine: str,
    t0: float,
    text: str | None = None,
    unknown: tuple[str, ...] = (),
    catalog: PaperLookup | None = None,
) -> Answer:
    total = _ms(t0)
    closest = closest_papers(passages)
    names = [_paper_name(pid, catalog) for pid in closest]
    return Answer(
        question=question,
        answer=text or decline_message(lang, unknown, names),
        language=lang,
        declined=True,
        closest=closest,
        engine=engine,
        timings={"first_token_ms": total, "total_ms": total},
        unknown=unknown,
    )


def _paper_name(paper_id: str, catalog: PaperLookup | None) -> str:
    paper = catalog.find(paper_id) if catalog is not None else None
    return short_name(paper) if paper is not None else paper_id


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 1)


__all__ = [
    "DECLINE",
    "DECLINE_UNKNOWN",
    "EngineError",
    "decline_message",
    "answer",
    "answer_stream",
    "closest_papers",
    "load_engine",
]
