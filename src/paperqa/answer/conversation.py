"""Conversations: a follow-up question read against the turn before it.

"How does QLoRA save memory?" then "How much memory does it need for a 65B model?": the second
question alone names nothing, so retrieval would search for "memory" and "65B" anywhere. Here a
follow-up is resolved before retrieval:

- with no LLM (the extractive engine), the previous turn's paper is written into the question
  ("How much memory does QLoRA need for a 65B model?"), which puts its name and topic into
  retrieval (the name linker then lifts that paper), and the answer says which paper "it" was
  taken to mean;
- with an LLM engine, the engine first condenses the conversation into one standalone question
  (a short prompt), and the answer says how it read the question.

What counts as a follow-up (words in `conversation_words.json`): a question that names no paper
of its own (and nothing the list has never heard of), or one where a pronoun or deictic ("it",
"它", "这篇") comes before any paper it names ("What does it add to BERT?" is about the previous
paper; "How much smaller is MobileSAM than it?" is about MobileSAM). A question that names its
own paper first, or opens with "new topic" / "换个话题", starts fresh. "What about in Chinese?"
asks the previous question again, answered in Chinese.

Use: `Library.ask(question, history=turns)`, or a `Conversation` (answer/ask.py) that keeps the turns for you
(the CLI's `paperqa chat` and the web chat use it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..params import load_params
from ..records import Answer
from .base import PaperLookup, short_name
from .confidence import unknown_names
from .text import clean_question, detect_language

if TYPE_CHECKING:
    pass

WORDS_FILE = Path(__file__).with_name("conversation_words.json")
PARAMS_FILE = Path(__file__).with_name("conversation_params.json")


@dataclass(frozen=True)
class ConversationParams:
    """How much of a conversation is carried, and how an LLM condenses it (JSON: PARAMS_FILE)."""

    condense_turns: int = 3  # turns an LLM sees: "it" rarely reaches further back than that
    answer_chars: int = 240  # of each previous answer shown to the LLM: the topic, not the detail
    condense_tokens: int = 64  # one question is never longer; a bound on a model that rambles
    max_question_chars: int = 300  # a longer "question" is the model answering instead: not used
    focus_papers: int = 2  # papers "they"/"它们" may stand for (a comparison names two)
    keep_turns: int = 8  # turns a Conversation keeps; older ones never matter to the next question
    # a follow-up's search and sentence choice also read the previous question, its words at
    # this weight (the question's own count 1); fitted by scripts/fit_conversation.py
    context_weight: float = 0.0

    @classmethod
    def load(cls, path: Path | str | None = None) -> ConversationParams:
        """The shipped values, overridden by `path` (default: PARAMS_FILE when it exists)."""
        path = Path(path) if path is not None else PARAMS_FILE
        return load_params(cls, path) if path.is_file() else cls()


@dataclass(frozen=True)
class Turn:
    """One question of a conversation and the Answer it got."""

    question: str
    answer: Answer


@dataclass(frozen=True)
class Resolution:
    """How a question was read in its conversation.

    `standalone` is what retrieval and the engine see; `focus` the papers the question was taken
    to be about (carried to the next turn); `note` the sentence the answer opens with to say so
    (None for a fresh question); `language` the answer language a follow-up asked for.
    """

    asked: str
    standalone: str
    follow_up: bool = False
    focus: tuple[str, ...] = ()
    reference: str | None = None  # the word that pointed back ("it", "它"), if any
    note: str | None = None
    language: str | None = None
    names: tuple[str, ...] = ()  # how the conversation called the focus papers ("Vision Transformer")
    # the previous question as read, which a follow-up leans on ("And how long did training
    # take?" after "What BLEU score did it reach?"), and how much its words count (0: not at all)
    context: str = ""
    context_weight: float = 0.0


# --- words ---------------------------------------------------------------------------


@cache
def _words() -> dict[str, Any]:
    return json.loads(WORDS_FILE.read_text(encoding="utf-8"))


def _alternation(phrases: Iterable[str]) -> str:
    return "|".join(re.escape(p) for p in sorted(set(phrases), key=len, reverse=True))


@cache
def _refer_re() -> re.Pattern[str]:
    w = _words()["refer"]
    return re.compile(
        rf"(?<![A-Za-z0-9'])(?:{_alternation(w['en'])})(?![A-Za-z0-9])|{_alternation(w['zh'])}", re.I
    )


@cache
def _not_refer_re() -> re.Pattern[str]:
    return re.compile(_alternation(_words()["not_refer"]["zh"]))


def _phrase_re(phrases: Iterable[str]) -> re.Pattern[str]:
    latin = [p for p in phrases if p.isascii()]
    other = [p for p in phrases if not p.isascii()]
    parts = [rf"(?<![A-Za-z0-9])(?:{_alternation(latin)})(?![A-Za-z0-9])"] if latin else []
    if other:
        parts.append(_alternation(other))
    return re.compile("|".join(parts), re.I)


@cache
def _new_topic_re() -> re.Pattern[str]:
    w = _words()["new_topic"]
    return _phrase_re([*w["en"], *w["zh"]])


@cache
def _lead_re() -> re.Pattern[str]:
    w = _words()["lead"]
    return _phrase_re([*w["en"], *w["zh"]])


@cache
def _language_res() -> dict[str, re.Pattern[str]]:
    return {lang: _phrase_re(words) for lang, words in _words()["language"].items()}


_PUNCT_RE = re.compile(r"[\s\W_]+")


def reference_in(question: str) -> re.Match[str] | None:
    """The first pronoun or deictic that points back at the previous turn, if any."""
    masked = _not_refer_re().sub(lambda m: "\0" * len(m.group()), question)
    return _refer_re().search(masked)


def language_request(question: str) -> str | None:
    """ "What about in Chinese?" / "用英文回答": the language asked for, when that is all it asks."""
    for lang, pattern in _language_res().items():
        if pattern.search(question):
            rest = _lead_re().sub(" ", pattern.sub(" ", question))
            if not _PUNCT_RE.sub("", rest):
                return lang
    return None


def starts_new_topic(question: str) -> bool:
    return _new_topic_re().search(question) is not None


# --- resolving ---------------------------------------------------------------------------


def own_subject_at(
    question: str, linker: Callable[[str], frozenset[str]], known: Callable[[str], bool] | None = None
) -> int | None:
    """Where the first thing the question names itself begins: a paper (by the name linker) or a
    name the reading list has never seen (then the question is declined, not carried)."""
    starts = [a for a, _, _ in linker.spans(question)] if hasattr(linker, "spans") else []
    if not starts and linker(question):
        starts.append(0)
    if known is not None:
        for name in unknown_names(question, known):
            at = question.find(name)
            starts.append(at if at >= 0 else 0)
    return min(starts) if starts else None


def _named_in_order(
    question: str, linker: Callable[[str], frozenset[str]]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The papers a question names, first named first, and the words it named them with."""
    if not hasattr(linker, "spans"):
        return tuple(sorted(linker(question))), ()
    first: dict[str, str] = {}
    for a, b, pid in linker.spans(question):
        first.setdefault(pid, question[a:b])
    return tuple(first), tuple(first.values())


def resolve(
    question: str,
    history: Sequence[Turn | Answer | tuple[str, Answer]],
    *,
    linker: Callable[[str], frozenset[str]],
    catalog: PaperLookup,
    known: Callable[[str], bool] | None = None,
    condense: Callable[[list[dict[str, str]], int], Iterator[str]] | None = None,
    params: ConversationParams | None = None,
) -> Resolution:
    """Read `question` against `history` (oldest turn first). `condense`: an LLM's
    `complete(messages, max_tokens)`; with it a follow-up is rewritten by the model."""
    params = params or ConversationParams.load()
    turns = as_turns(history)
    prev: Resolution | None = None
    for turn in turns:  # the previous turns' own readings, cheaply (no model)
        prev = _carry(
            _resolve_rules(turn.question, prev, linker, catalog, known, params), turn.answer, linker
        )
    res = _resolve_rules(question, prev, linker, catalog, known, params)
    if condense is None or not res.follow_up or res.language:
        return res
    condensed = condense_question(question, turns, res, condense, catalog, params)
    if not condensed:
        return res
    lang = detect_language(res.standalone)  # the user's language, whatever the model wrote in
    note = f"理解为：“{condensed}”" if lang == "zh" else f"Read as: “{condensed}”"
    return replace(res, standalone=condensed, note=note, language=lang)


def _carry(res: Resolution, answer: Answer, linker: Callable[[str], frozenset[str]]) -> Resolution:
    """What a finished turn hands on: the papers it was about (named, carried, else cited first)."""
    focus, names = (res.focus, res.names) if res.follow_up else _named_in_order(res.standalone, linker)
    if not focus and not answer.declined:
        focus, names = tuple(dict.fromkeys(c.paper_id for c in answer.citations))[:1], ()
    return replace(res, focus=focus, names=names)


def _resolve_rules(
    question: str,
    prev: Resolution | None,
    linker: Callable[[str], frozenset[str]],
    catalog: PaperLookup,
    known: Callable[[str], bool] | None,
    params: ConversationParams,
) -> Resolution:
    asked = question
    q = clean_question(question) or question.strip()
    fresh = Resolution(asked, q)
    if prev is None or starts_new_topic(q):
        return fresh
    lang = language_request(q)
    if lang is not None:
        again = prev.standalone
        note = f"用中文回答：“{again}”" if lang == "zh" else f"Answering “{again}” in English."
        return Resolution(asked, again, True, prev.focus, None, note, lang, prev.names)
    own = own_subject_at(q, linker, known)
    ref = reference_in(q)
    if own is not None and (ref is None or own < ref.start()):
        return fresh  # it names its own subject first: a new topic, or one said in full
    if not prev.focus:
        return fresh  # nothing to lean on (the previous turn was declined and named nothing)
    word = ref.group() if ref else None
    plural = word is not None and word.lower() in _words()["plural"]
    focus = prev.focus[: params.focus_papers] if plural else prev.focus[:1]
    said = dict(zip(prev.focus, prev.names, strict=False))  # as the user called it, else its short name
    names = [said.get(pid) or _name(pid, catalog) for pid in focus]
    zh = detect_language(q) == "zh"
    name = ("、" if zh else " and ").join(names)
    standalone = _rewrite(q, ref, name)
    shown = (
        "、".join(names) if zh else " and ".join(f"{n} ({pid})" for n, pid in zip(names, focus, strict=True))
    )
    if zh:
        note = f"这里的“{word}”指 {shown}。" if word else f"接着上一个问题，这里说的是 {shown}。"
    else:
        note = f"Taking “{word}” to mean {shown}." if word else f"Taking this to be about {shown}."
    context = prev.standalone if params.context_weight > 0 else ""
    return Resolution(
        asked,
        standalone,
        True,
        focus,
        word,
        note,
        names=tuple(names),
        context=context,
        context_weight=params.context_weight if context else 0.0,
    )


def _name(paper_id: str, catalog: PaperLookup) -> str:
    paper = catalog.find(paper_id)
    return short_name(paper) if paper is not None else paper_id


def _rewrite(question: str, ref: re.Match[str] | None, name: str) -> str:
    """The question with the paper's name where its pronoun was, else in front of it."""
    if ref is not None:
        template = _words()["substitute"].get(ref.group().lower())
        if template is not None:
            return question[: ref.start()] + template.format(name=name) + question[ref.end() :]
    return f"{name} {question}"


# --- LLM condensing ---------------------------------------------------------------------

CONDENSE_SYSTEM = (
    "Rewrite the user's last question as one standalone question that names the paper or method it "
    "refers to, using the conversation. Keep the question's language. Reply with the question only."
)
_LEAD_RE = re.compile(r"^(?:standalone question|question|问题|改写)\s*[:：]\s*", re.I)
_MARKER_RE = re.compile(r"\s*\[\d+\]")


def condense_messages(
    question: str, turns: Sequence[Turn], res: Resolution, catalog: PaperLookup, params: ConversationParams
) -> list[dict[str, str]]:
    """The short prompt: the last few turns (answers cut), the paper the rules took "it" to mean."""
    lines = []
    for t in turns[-params.condense_turns :]:
        said = _MARKER_RE.sub("", " ".join(t.answer.answer.split()))[: params.answer_chars]
        lines += [f"User: {clean_question(t.question)}", f"Assistant: {said}"]
    if res.focus:
        lines.append(f"(The conversation is about: {', '.join(_name(p, catalog) for p in res.focus)}.)")
    lines.append(f"User's last question: {clean_question(res.asked)}")
    lines.append("Standalone question:")
    return [{"role": "system", "content": CONDENSE_SYSTEM}, {"role": "user", "content": "\n".join(lines)}]


def condense_question(
    question: str,
    turns: Sequence[Turn],
    res: Resolution,
    complete: Callable[[list[dict[str, str]], int], Iterator[str]],
    catalog: PaperLookup,
    params: ConversationParams,
) -> str | None:
    """The model's standalone question, or None when what it wrote is not one question."""
    text = "".join(complete(condense_messages(question, turns, res, catalog, params), params.condense_tokens))
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    line = _LEAD_RE.sub("", line).strip().strip("\"'“”‘’`").strip()
    if not line or len(line) > params.max_question_chars:
        return None
    return line


# --- a session ---------------------------------------------------------------------------


def as_turns(history: Iterable[Turn | Answer | tuple[str, Answer]]) -> list[Turn]:
    """History as Turns: Turn records, (question, Answer) pairs, or bare Answers (they keep
    the question as asked)."""
    out = []
    for item in history:
        if isinstance(item, Turn):
            out.append(item)
        elif isinstance(item, Answer):
            out.append(Turn(item.question, item))
        else:
            q, a = item
            out.append(Turn(str(q), a))
    return out


__all__ = [
    "ConversationParams",
    "Resolution",
    "Turn",
    "as_turns",
    "language_request",
    "reference_in",
    "resolve",
    "starts_new_topic",
]
