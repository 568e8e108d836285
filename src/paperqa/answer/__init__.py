"""Answers with citations you can check: extractive (default), llama.cpp, or an OpenAI-compatible server.

answer(question, passages, catalog=..., settings=..., page_text=..., pdf_path=...) -> Answer
answer_stream(...same...) -> Iterator[str | Answer]   # text deltas, then the Answer
load_engine(settings) -> AnswerEngine                  # settings.engine: extractive | llama | openai
confidence(question, passages) -> float                # under min_confidence: declined
clean_question(text) -> str                            # markup and injected chat turns removed
"""

from __future__ import annotations

from .base import AnswerEngine, EngineError
from .citations import map_citations
from .confidence import DEFAULT_MIN_CONFIDENCE, DeclineParams, confidence, unknown_names
from .pipeline import (
    DECLINE,
    DECLINE_UNKNOWN,
    ENGINES,
    answer,
    answer_stream,
    closest_papers,
    decline_message,
    load_engine,
)
from .text import clean_question, detect_language, verbatim_in

__all__ = [
    "DECLINE",
    "DECLINE_UNKNOWN",
    "DEFAULT_MIN_CONFIDENCE",
    "ENGINES",
    "AnswerEngine",
    "DeclineParams",
    "EngineError",
    "answer",
    "answer_stream",
    "clean_question",
    "closest_papers",
    "confidence",
    "decline_message",
    "detect_language",
    "load_engine",
    "map_citations",
    "unknown_names",
    "verbatim_in",
]
