"""question + ranked passages -> Answer, the same way for every engine.

Order of work: the question cleaned of markup and injected turns, language, the decline (names
the list never mentions, then confidence; before any model is touched), the engine's sources,
the engine's text streamed through the citation mapper, then citations with quotes checked
against the page text. Nothing here is global: the engine object carries the model.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from ..records import Answer, Passage
from ..retrieve import search_query
from ..settings import Settings
from .base import AnswerEngine, EngineError, PaperLookup, Source, short_name
from .citations import CitationMapper, build_citations, make_sources
from .confidence import decline_signals, should_decline
from .text import clean_question, detect_language, stems

FALLBACK_LEAD = {
    "en": "What the retrieved passages say: ",
    "zh": "检索到的段落这样说：",
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


def load_engine(settings: Settings) -> AnswerEngine:
    """The engine `settings.engine` names. Cheap: a model is loaded on first use, once per object."""
    name = settings.engine.strip().lower()
    if name == "extractive":
        from .extractive import ExtractiveEngine

        return ExtractiveEngine()
    if name == "llama":
        from .llama import LlamaEngine

        return LlamaEngine(settings)
    if name == "openai":
        from .openai_compat import OpenAIEngine

        return OpenAIEngine(settings)
    raise EngineError(f"unknown answer engine '{settings.engine}': use extractive, llama or openai")


def answer(
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
    language: str | None = None,
) -> Answer:
    """The whole answer at once (see `answer_stream`)."""
    result: Answer | None = None
    for item in answer_stream(
        question,
        passages,
        catalog=catalog,
        settings=settings,
        page_text=page_text,
        pdf_path=pdf_path,
        engine=engine,
        min_confidence=min_confidence,
        known=known,
        language=language,
    ):
        if isinstance(item, Answer):
            result = item
    assert result is not None
    return result


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
    language: str | None = None,
) -> Iterator[str | Answer]:
    """Text deltas as they come, then the final `Answer` (whose text the deltas add up to).

    The question is answered as `clean_question` reads it (markup and injected turns gone); the
    Answer keeps it as asked. Declines, without calling any model, when the question names
    something `known` (a token -> seen in the catalog or index? test) has never seen, or when
    `confidence(question, passages)` is under `min_confidence` (default: settings.min_confidence
    if it exists, else the fitted DeclineParams threshold).
    """
    t0 = time.perf_counter()
    asked = question
    question = clean_question(question) or question.strip()
    lang = language or detect_language(question)  # a follow-up may ask for another language
    eng = engine if engine is not None else load_engine(settings)
    if min_confidence is None:
        min_confidence = getattr(settings, "min_confidence", None)
    # judged on the question's topic: a "which papers ... are about X" frame says nothing of X
    topic = search_query(question)
    signals = decline_signals(topic, passages, catalog=catalog, known=known)
    if not passages or should_decline(signals, min_confidence=min_confidence):
        unknown = signals.unknown
        declined = _declined(asked, lang, passages, eng.name, t0, unknown=unknown, catalog=catalog)
        yield declined.answer
        yield declined
        return

    sources = make_sources(eng.select(question, lang, passages, catalog), catalog, page_text)
    mapper = CitationMapper(len(sources))
    parts: list[str] = []
    first_ms: float | None = None
    for delta in eng.generate(question, lang, sources):
        out = mapper.feed(delta)
        if not parts:
            out = out.lstrip()
        if out:
            if first_ms is None:
                first_ms = _ms(t0)
            parts.append(out)
            yield out
    tail = mapper.finish()
    if tail:
        parts.append(tail)
        yield tail
    text = "".join(parts)
    order = mapper.order
    if not order and (not text.strip() or _REFUSAL_RE.search(text)) and eng.name != "extractive":
        # Retrieval was confident (we are past the threshold), so a small model's refusal is not
        # the last word: what the passages say follows, with verified citations.
        fallback = load_engine(settings.with_(engine="extractive"))
        sources = make_sources(fallback.select(question, lang, passages, catalog), catalog, page_text)
        mapper = CitationMapper(len(sources))
        lead = ("\n\n" if text.strip() else "") + FALLBACK_LEAD[lang]
        parts.append(lead)
        yield lead
        for delta in [*fallback.generate(question, lang, sources), None]:
            out = mapper.feed(delta) if delta is not None else mapper.finish()
            if out:
                first_ms = first_ms if first_ms is not None else _ms(t0)
                parts.append(out)
                yield out
        text = "".join(parts)
        order = mapper.order
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
    yield Answer(
        question=asked,
        answer=text,
        language=lang,
        declined=False,
        citations=citations,
        engine=eng.name,
        timings={"first_token_ms": first_ms if first_ms is not None else total, "total_ms": total},
    )


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
