"""Small text tools the answer engines share: language, sentences, verbatim checks, question terms.

Verbatim, as this package means it: a quote stands verbatim in a page when, after collapsing
every run of whitespace (spaces, tabs, newlines) to one space and stripping both ends, the quote
is an exact substring of the page text treated the same way. Nothing else is forgiven: not case,
not hyphenation, not Unicode variants, not ligatures. Whitespace alone differs between a chunk
and its page (line breaks become spaces when chunks are joined), so only whitespace is normalised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..keywords import EN_STOPWORDS, tokenize
from .glossary import chinese_for, english_for

_CJK_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_LETTER_RE = re.compile(r"[A-Za-z]")
_WS_RE = re.compile(r"\s+")
# Bibliography markers inside paper text ("[28]", "[40, 62, 43]", "[3-5]"): noise in an answer,
# and dangerous next to our own [n] citation markers.
BIB_REF_RE = re.compile(r"\s*\[\d{1,3}(?:\s*[,;–-]\s*\d{1,3})*\]")


def word_set(words: str) -> frozenset[str]:
    """A set of words written as one whitespace-separated string (easier to read and edit)."""
    return frozenset(words.split())


def detect_language(text: str) -> str:
    """ "zh" when the text is written in Chinese (even with English terms in it), else "en"."""
    cjk = len(_CJK_RE.findall(text))
    latin = len(_LATIN_LETTER_RE.findall(text))
    return "zh" if cjk >= 2 and cjk * 6 >= latin else "en"


def collapse_ws(text: str) -> str:
    """Whitespace runs to one space, ends stripped: the normal form for verbatim checks."""
    return _WS_RE.sub(" ", text).strip()


def verbatim_in(quote: str, page: str) -> bool:
    """True when `quote` is an exact substring of `page` up to whitespace (see module doc)."""
    q = collapse_ws(quote)
    return bool(q) and q in collapse_ws(page)


# --- sentences ------------------------------------------------------------------

_ABBREV = word_set(
    """e.g i.e al fig figs eq eqs sec secs vs cf resp approx no nos tab tabs ref refs etc
    appx app alg ch dr mr ms inc st def thm lemma prop"""
)
_EN_BOUNDARY_RE = re.compile(r"[.!?][\"”’')\]]*(?=\s+[\"“'(\[A-Z0-9\u4e00-\u9fff])")
_ZH_BOUNDARY_RE = re.compile(r"[。！？；]+[”’\"')）]*")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) spans of the sentences in `text`, English or Chinese, as exact slices.

    Spans rather than strings so that every sentence is a true substring of the passage.
    Abbreviations (e.g., et al., Fig.) and initials do not end a sentence; blank lines and
    Chinese full stops do. In text with Chinese in it (the reading-list entries, one field or
    list item a line) a line break ends a sentence; in PDF text it does not.
    """
    cuts: set[int] = set()
    for m in _EN_BOUNDARY_RE.finditer(text):
        head = text[: m.start()]
        parts = head.rsplit(None, 1)
        word = parts[-1].lower().lstrip('(["“') if parts else ""
        line_start = head[: len(head) - len(word)].rstrip(" \t").endswith("\n") or len(word) == len(head)
        if word in _ABBREV or word.endswith(("e.g", "i.e")) or (len(word) == 1 and word.isalpha()):
            continue
        if word.isdigit() and len(word) <= 2 and line_start:
            continue  # "1. 4位 NormalFloat": a list item's number, not a sentence end
        cuts.add(m.end())
    for m in _ZH_BOUNDARY_RE.finditer(text):
        cuts.add(m.end())
    if _CJK_RE.search(text):  # reading-list entries: one field or list item a line
        cuts.update(m.start() for m in re.finditer(r"\n", text))
    for m in re.finditer(r"\n\s*\n", text):
        cuts.add(m.start())
    spans = []
    start = 0
    for cut in sorted(cuts) + [len(text)]:
        if cut <= start:
            continue
        s, e = start, cut
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            spans.append((s, e))
        start = cut
    return spans


_HEADING_LINE_RE = re.compile(r"^\s*(?:\d+(?:\.\d+)*|[A-Z](?:\.\d+)+)\.?\s+[A-Z][^\n]{0,80}(?<![.,;:])\n")


def drop_heading(sentence: str) -> str:
    """ "4.1 LOW-RANK UPDATES\nA neural network ..." -> "A neural network ...": a section
    heading glued to the first sentence under it (still an exact substring)."""
    m = _HEADING_LINE_RE.match(sentence)
    return sentence[m.end() :].lstrip() if m and sentence[m.end() :].strip() else sentence


def split_sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]


def clip_quote(sentence: str, limit: int = 320) -> str:
    """A long sentence cut at a clause boundary: still an exact substring, so still verbatim."""
    if len(sentence) <= limit:
        return sentence
    head = sentence[:limit]
    for sep in ("; ", ", ", " "):
        cut = head.rfind(sep)
        if cut > limit // 2:
            return head[:cut].rstrip(" ,;")
    return head


def strip_bib_refs(text: str) -> str:
    return BIB_REF_RE.sub("", text)


def tidy(text: str) -> str:
    """Text as a reader (or a model) should see it: whitespace collapsed, [28]-style references
    gone, line-end hyphenation undone ("us- age" -> "usage"). Never used for quotes."""
    text = collapse_ws(strip_bib_refs(text))
    return re.sub(r"(?<=[a-z])- (?!(?:and|or|to|as)\b)(?=[a-z])", "", text)


def estimate_tokens(text: str) -> int:
    """Rough LLM token count without a tokenizer: ~1.3 per English word, ~0.8 per Chinese character."""
    cjk = len(_CJK_RE.findall(text))
    words = len(re.findall(r"[A-Za-z0-9]+", text))
    other = len(re.findall(r"[^\sA-Za-z0-9\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]", text))
    return int(words * 1.3 + cjk * 0.8 + other * 0.5) + 1


# --- question terms -----------------------------------------------------------------

# Words that every question in this corpus shares: kept, but they count little.
GENERIC_TERMS = word_set(
    """paper papers list reading model models language large llm llms method methods approach work
    works use used using best good new way ways kind type types main key example examples difference
    differ compare comparison explain describe mean means idea ideas propose proposed introduce
    introduced author authors result results make makes get like well help one two three first
    模型 论文 方法 什么 区别 作用 原理 介绍 哪里 哪些 这篇 主要 一下 好 大 小 新"""
)
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-+_]*(?:\(\))?")
_SUFFIXES = ("ations", "ation", "ings", "ing", "ed", "es", "e", "s", "ly")


def lite_stem(token: str) -> str:
    """A crude stem so that save/saves/saving and quantize/quantization meet; Chinese untouched."""
    if not token.isascii() or not token.isalpha():
        return token
    for suf in _SUFFIXES:
        if token.endswith(suf) and len(token) - len(suf) >= 3:
            return token[: -len(suf)]
    return token


@dataclass(frozen=True)
class Term:
    """One question term with its weight and the stems that count as a match (Chinese->English too)."""

    token: str
    weight: float
    alts: tuple[str, ...]
    named: bool = False


def question_terms(question: str) -> list[Term]:
    """Content terms of a question. Names (QLoRA, GPT-3, Kimi) weigh most: an answer that never
    mentions the thing asked about is not an answer; generic words (paper, model) weigh least."""
    named: set[str] = set()
    lang = detect_language(question)
    for i, m in enumerate(_NAME_RE.finditer(question)):
        word = m.group()
        inner_upper = any(c.isupper() for c in word[1:])
        titled = word[:1].isupper() and i > 0 and word.lower() not in EN_STOPWORDS
        if inner_upper or any(c.isdigit() for c in word) or titled or (lang == "zh" and len(word) > 1):
            named.update(tokenize(word))
    tokens = list(dict.fromkeys(tokenize(question)))
    cjk_tokens = [t for t in tokens if _CJK_RE.search(t)]
    terms = []
    for tok in tokens:
        if _CJK_RE.search(tok) and any(o != tok and len(o) >= 2 and o in tok for o in cjk_tokens):
            continue  # jieba's search mode gives 查资料 and 资料: keep the parts only
        if tok in named:
            weight = 2.5
        elif tok in GENERIC_TERMS or tok.isdigit() or (_CJK_RE.search(tok) and len(tok) == 1):
            weight = 0.3
        else:
            weight = 1.0
        alts = {lite_stem(tok)}
        for english in english_for(tok):
            joined = tokenize(english)[:1]  # "fine-tuning" -> "finetuning", as in a passage
            alts.update(lite_stem(t) for t in joined)
        alts.update(chinese_for(tok))  # and the other way, for the Chinese reading-list entries
        terms.append(Term(tok, weight, tuple(sorted(alts)), tok in named))
    return terms


def stems(text: str) -> set[str]:
    """Stems of a text for matching question terms, plus joined neighbours (Graph RAG -> graphrag)."""
    toks = tokenize(text)
    out = {lite_stem(t) for t in toks}
    out.update(a + b for a, b in zip(toks, toks[1:], strict=False) if a.isascii() and b.isascii())
    return out


def term_matches(term: Term, stem_set: set[str]) -> bool:
    return any(a in stem_set for a in term.alts)
