"""What LLM engines share: which passages the model reads, trimmed how, and the messages.

Why so lean: on 2 CPU cores the 1.5B model reads ~60-100 prompt tokens/s, so every passage
token is time before the first word. Two things keep that time down:

- the fixed instructions come first and are byte-identical for every question (one text for
  English and Chinese), so llama.cpp evaluates them once and reuses their KV state (its prompt
  prefix match, and `LlamaRAMCache` in `llama.py`); an OpenAI-compatible server with a prompt
  cache (llama.cpp's, vLLM's) reuses them the same way;
- the model reads only the passages the second-stage ranking keeps: the few best by its fitted
  probability (`Passage.score`), within a token budget, each cut to the words around its
  best-matching sentence, bibliography markers removed so that "[28]" is not copied as a citation.

The numbers are in `PromptParams`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from ..records import Passage
from ..settings import Settings
from .base import NO_CONTEXT, AnswerEngine, Context, PaperLookup, Source, paper_for
from .text import estimate_tokens, question_terms, sentence_spans, stems, term_matches, tidy


@dataclass(frozen=True)
class PromptParams:
    """How much the LLM reads (measured with scripts/bench_answers.py: first-token time and
    nugget recall on the evaluation questions, Qwen2.5-1.5B on 2 threads)."""

    max_passages: int = 4  # more short passages keep more of the facts than fewer long ones
    passage_tokens: int = 480  # budget for the numbered passages, headers included (~1 s per 80)
    passage_words: int = 100  # a passage is cut to this many words around its best sentence
    relative_score: float = 0.3  # a passage the ranking scores under 30% of the best is noise
    header_tokens: int = 12  # the "[n] Title, year (p. 4)" line's overhead beyond the title


PROMPT_PARAMS = PromptParams()

# The fixed part of every prompt: the same bytes for every question and language, first, so that
# its evaluated KV state is reused across questions. Everything that varies comes after it.
SYSTEM = (
    "You answer questions about research papers using only the numbered passages given with the "
    "question.\n"
    "- Answer the question directly: the first sentence states the answer itself, with no preamble "
    "and without repeating the question.\n"
    "- State the specific facts the passages give (names, numbers, methods); name the paper, not "
    '"the passage".\n'
    "- Write 2 to 4 short sentences in the language of the question: English for an English question, "
    "简体中文 for a Chinese question (中文问题用中文回答，英文术语可保留原文).\n"
    "- After each sentence put the number of the passage it comes from in square brackets, like [1] or "
    "[2][3]. Cite only the numbers of the given passages.\n"
    "- If the passages do not answer the question, reply exactly: The reading list does not cover this. "
    "(in Chinese: 阅读清单中的论文没有涉及这个问题。)\n\n"
    "Example passage:\n[1] Sparse Expert Models, 2021 (p. 3)\n"
    "Each token is routed to 2 of the 64 experts, so only about 3% of the parameters are used per token.\n"
    "Question: How many experts does each token use in Sparse Expert Models?\n"
    "Answer: Each token uses 2 of the 64 experts, so only about 3% of the parameters are active for it [1].\n"
    "问题：Sparse Expert Models 中每个词元用到几个专家？\n"
    "回答：每个词元只用到 64 个专家中的 2 个（2 of 64 experts），约占参数的 3% [1]。"
)
PASSAGES_LEAD = "Passages:\n\n"  # the user turn opens with fixed text too
_ASK = {
    "en": "Question: {q}\nAnswer in English with the specific facts of the passages, citing them like [1].",
    "zh": "问题：{q}\n请用中文回答，写出段落中的具体事实，并用 [1] 这样的编号引用段落。",
}


def trim_passage(text: str, question: str, max_words: int = 170) -> str:
    """The passage, or the ~max_words around its sentence that best matches the question."""
    text = tidy(text)
    spans = sentence_spans(text)
    size = [_words(text[a:b]) for a, b in spans]
    if sum(size) <= max_words or not spans:
        return text
    terms = question_terms(question)
    hits = [sum(t.weight for t in terms if term_matches(t, stems(text[a:b]))) for a, b in spans]
    lo = hi = max(range(len(spans)), key=lambda i: (hits[i], -i))
    total = size[lo]
    grew = True
    while grew:  # widen around the best sentence, after it first, while the words last
        grew = False
        if hi + 1 < len(spans) and total + size[hi + 1] <= max_words:
            hi += 1
            total += size[hi]
            grew = True
        if lo > 0 and total + size[lo - 1] <= max_words:
            lo -= 1
            total += size[lo]
            grew = True
    out = text[spans[lo][0] : spans[hi][1]]
    return out if total <= max_words else " ".join(out.split()[:max_words])


def _words(text: str) -> int:
    cjk = sum(1 for c in text if "\u4e00" <= c <= "\u9fff")
    return len(text.split()) + cjk // 2


def _header(src: Source) -> str:
    p, paper = src.passage, src.paper
    year = f", {paper.year}" if paper.year else ""
    if p.kind == "summary":
        where = "reading-list summary"
    elif p.page_start:
        where = f"p. {p.page_start}" + (f"-{p.page_end}" if p.page_end > p.page_start else "")
    else:
        where = "abstract"
    return f"[{src.number}] {paper.title}{year} ({where})"


def keep_ranked(passages: Sequence[Passage], relative_score: float) -> list[Passage]:
    """The passages the ranking keeps: within `relative_score` of the best score, in rank order.

    Relative, not absolute: `Passage.score` is the second stage's probability in the product but
    a fusion score (~0.02) without it, and a relative cut means the same on both scales.
    """
    best = max((p.score for p in passages), default=0.0)
    if best <= 0:
        return list(passages)
    return [p for p in passages if p.score >= relative_score * best]


class LLMEngine:
    """Base of the llama.cpp and OpenAI-compatible engines; subclasses only implement `complete`."""

    name = "llm"

    def __init__(self, settings: Settings, params: PromptParams = PROMPT_PARAMS):
        self.settings = settings
        self.params = params
        # the engine whose verbatim sentences follow the model's answer ("From the papers:");
        # load_engine gives it the index's cross-lingual words, else a plain extractive engine is used
        self.evidence: AnswerEngine | None = None

    @property
    def max_passages(self) -> int:
        return self.params.max_passages

    @property
    def prompt_budget(self) -> int:
        """Tokens of the whole prompt at most (the fixed part, the passages, the question)."""
        return estimate_tokens(SYSTEM + PASSAGES_LEAD + _ASK["en"]) + 40 + self.params.passage_tokens + 60

    def select(
        self, question: str, lang: str, passages: Sequence[Passage], catalog: PaperLookup
    ) -> list[Passage]:
        """The best passages the ranking keeps, in rank order, while they fit the token budget."""
        ranked = [p for p in passages if p.zone != "references"]
        used, chosen = 0, []
        for p in keep_ranked(ranked, self.params.relative_score):
            paper = paper_for(p, catalog)
            text = trim_passage(p.text, question, self.params.passage_words)
            cost = estimate_tokens(text + paper.title) + self.params.header_tokens
            if chosen and used + cost > self.params.passage_tokens:
                continue
            chosen.append(p)
            used += cost
            if len(chosen) >= self.params.max_passages:
                break
        return chosen or list((ranked or passages)[:1])

    def messages(self, question: str, lang: str, sources: Sequence[Source]) -> list[dict[str, str]]:
        """System: the fixed instructions; user: the passages, then the question (what varies, last)."""
        blocks = [
            f"{_header(s)}\n{trim_passage(s.passage.text, question, self.params.passage_words)}"
            for s in sources
        ]
        ask = _ASK.get(lang, _ASK["en"]).format(q=question.strip())
        user = PASSAGES_LEAD + "\n\n".join(blocks) + "\n\n" + ask
        return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]

    def generate(
        self, question: str, lang: str, sources: Sequence[Source], context: Context = NO_CONTEXT
    ) -> Iterator[str]:
        yield from without_repeats(
            self.complete(self.messages(question, lang, sources), self.settings.max_tokens),
            question=question,
        )

    def complete(self, messages: list[dict[str, str]], max_tokens: int) -> Iterator[str]:
        """Stream the model's reply to `messages` as text deltas."""
        raise NotImplementedError


_SENTENCE_END = "。！？!?\n"
_MARKER_RE = re.compile(r"\[\d+\]|\[\d*$|\s+")  # a citation marker, also half-written


def without_repeats(deltas: Iterable[str], min_chars: int = 12, question: str = "") -> Iterator[str]:
    """The model's stream, cut where it starts a sentence it has already written, and without
    the question said back.

    A small model at temperature 0 can fall into a loop ("BERT 和 OpenAI GPT 都是…" again and
    again until the token limit), or copy the question as its answer ("LoRA 的秩 r 取多小就够了？
    [1]"). Text streams on as written; only while the sentence being written could still turn out
    a repeat of an earlier one, or of a sentence of `question`, is it held back. A repeat of its
    own ends the answer unwritten; the question's sentence is dropped with the citation markers
    after it, and the answer goes on. Sentences shorter than `min_chars` (markers and spaces
    ignored) may repeat; only a question's shortest (under 4) may be said back.
    """
    asked = {k for k in map(_key, _sentences(question)) if len(k) >= 4}  # "论文怎么解释？" too
    said: set[str] = set()
    sentence = held = ""
    dropping = marker = False  # the markers after a dropped sentence go with it ("? [1][2]")
    for delta in deltas:
        out = ""
        for ch in delta:
            if dropping and (ch.isspace() or ch == "[" or (marker and (ch.isdigit() or ch == "]"))):
                marker = ch == "[" or (marker and ch != "]")
                continue
            dropping = marker = False
            ends = _ends(sentence, ch)
            sentence += ch
            key = _key(sentence)
            if ends:
                if key in asked:
                    held, sentence, dropping = "", "", True
                    continue
                if len(key) >= min_chars and key in said:
                    if out:
                        yield out
                    return
                said.add(key)
                out, held, sentence = out + held + ch, "", ""
            elif any(s.startswith(key) for s in said | asked):
                held += ch
            else:
                out, held = out + held + ch, ""
        if out:
            yield out
    if held and not any(a.startswith(_key(held)) for a in asked):  # a question half said back: no
        yield held


def _key(sentence: str) -> str:
    """A sentence as compared for repeats: markers and spaces out, width and case folded."""
    return _MARKER_RE.sub("", unicodedata.normalize("NFKC", sentence)).lower()


def _sentences(text: str) -> list[str]:
    """`text` cut where `without_repeats` ends a sentence."""
    out, cur = [], ""
    for ch in text:
        ends = _ends(cur, ch)
        cur += ch
        if ends:
            out.append(cur)
            cur = ""
    return [*out, cur] if cur.strip() else out


def _ends(sentence: str, ch: str) -> bool:
    """`ch` ends `sentence`: a sentence mark, or the space after a full stop."""
    return ch in _SENTENCE_END or (ch.isspace() and sentence.rstrip().endswith("."))
