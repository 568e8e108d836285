"""What LLM engines share: which passages fit the prompt, trimmed how, and the messages.

Why a budget: on 2 CPU cores the 1.5B model reads ~60 prompt tokens/s, so every 600 tokens
of context is 10 s before the first word. The prompt stays under ~1200 tokens: 3-4 passages
cut to the ~170 words around their best-matching sentence, bibliography markers removed so
that the model does not copy "[28]" as if it were a citation.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from ..records import Passage
from ..settings import Settings
from .base import PaperLookup, Source, paper_for
from .text import estimate_tokens, question_terms, sentence_spans, stems, term_matches, tidy

SYSTEM = {
    "en": (
        "You answer questions about research papers using only the numbered passages the user gives. "
        "Write a short answer of 2 to 4 sentences in English. After each sentence put the number of the "
        "passage it comes from in square brackets, like [1] or [2][3]. Cite only the numbers of the given "
        "passages. If the passages do not answer the question, reply exactly: "
        "The reading list does not cover this."
    ),
    "zh": (
        "你只根据用户给出的带编号的论文段落回答问题。用简体中文写2到4句话的简短回答。"
        "每句话后用方括号标注它所依据的段落编号，例如 [1] 或 [2][3]。只能引用给出的段落编号。"
        "如果这些段落不能回答问题，只回答：阅读清单中的论文没有涉及这个问题。"
    ),
}
_ASK = {
    "en": "Question: {q}\nAnswer in English and cite the passages by number, like [1].",
    "zh": "问题：{q}\n请用中文回答，并用 [1] 这样的编号引用段落。",
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


class LLMEngine:
    """Base of the llama.cpp and OpenAI-compatible engines; subclasses only implement `complete`."""

    name = "llm"
    max_passages = 4
    prompt_budget = 1200  # tokens for the whole prompt, chat template included
    passage_words = 170

    def __init__(self, settings: Settings):
        self.settings = settings

    def select(
        self, question: str, lang: str, passages: Sequence[Passage], catalog: PaperLookup
    ) -> list[Passage]:
        """Passages in rank order while they fit the budget (3-4 with ~160-word chunks)."""
        used = estimate_tokens(SYSTEM[lang] + _ASK[lang] + question) + 40  # template overhead
        chosen: list[Passage] = []
        for p in passages:
            if p.zone == "references":
                continue
            paper = paper_for(p, catalog)
            cost = estimate_tokens(trim_passage(p.text, question, self.passage_words) + paper.title) + 12
            if chosen and used + cost > self.prompt_budget:
                continue
            chosen.append(p)
            used += cost
            if len(chosen) >= self.max_passages:
                break
        return chosen or list(passages[:1])

    def messages(self, question: str, lang: str, sources: Sequence[Source]) -> list[dict[str, str]]:
        blocks = [
            f"{_header(s)}\n{trim_passage(s.passage.text, question, self.passage_words)}" for s in sources
        ]
        user = "Passages:\n\n" + "\n\n".join(blocks) + "\n\n" + _ASK[lang].format(q=question.strip())
        return [{"role": "system", "content": SYSTEM[lang]}, {"role": "user", "content": user}]

    def generate(self, question: str, lang: str, sources: Sequence[Source]) -> Iterator[str]:
        yield from self.complete(self.messages(question, lang, sources), self.settings.max_tokens)

    def complete(self, messages: list[dict[str, str]], max_tokens: int) -> Iterator[str]:
        """Stream the model's reply to `messages` as text deltas."""
        raise NotImplementedError
