"""Answers with citations you can check: extractive (default), llama.cpp, or an OpenAI-compatible server.

answer(question, passages, catalog=..., settings=..., page_text=..., pdf_path=...) -> Answer
answer_stream(...same...) -> Iterator[str | Answer]   # text deltas, then the Answer
load_engine(settings) -> AnswerEngine                  # settings.engine: extractive | llama | openai
confidence(question, passages) -> float                # under min_confidence: declined
"""

from __future__ import annotations

from .base import AnswerEngine, EngineError
from .citations import map_citations
from .confidence import DEFAULT_MIN_CONFIDENCE, confidence
from .pipeline import DECLINE, answer, answer_stream, closest_papers, load_engine
from .text import detect_language, verbatim_in

__all__ = [
    "DECLINE",
    "DEFAULT_MIN_CONFIDENCE",
    "AnswerEngine",
    "EngineError",
    "answer",
    "answer_stream",
    "closest_papers",
    "confidence",
    "detect_language",
    "load_engine",
    "map_citations",
    "verbatim_in",
]
