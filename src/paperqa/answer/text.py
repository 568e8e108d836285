"""Small text tools the answer engines share: language, sentences, verbatim checks, question terms.

Verbatim, as this package means it: a quote stands verbatim in a page when, after collapsing
every run of whitespace (spaces, tabs, newlines) to one space and stripping both ends, the quote
is an exact substring of the page text treated the same way. Nothing else is forgiven: not case,
not hyphenation, not Unicode variants, not ligatures. Whitespace alone differs between a chunk
and its page (line breaks become spaces when chunks are joined), so only whitespace is normalised.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..cjk import CJK_IDEOGRAPHS
from ..search.dictionary import chinese_for, english_for, has_entry
from ..search.keywords import EN_STOPWORDS, tokenize

_CJK_RE = re.compile(f"[{CJK_IDEOGRAPHS}]")
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
_EN_BOUNDARY_RE = re.compile(rf"[.!?][\"”’')\]]*(?=\s+[\"“'(\[A-Z0-9{CJK_IDEOGRAPHS}])")
_BULLET_RE = re.compile(r"(?:^|(?<=\s))[•●▪◦∙]\s*")
_ZH_BOUNDARY_RE = re.compile(r"[。！？；]+[”’\"')）]*")


_LABEL_WORDS = word_set("appendix section table figure part")


def _labels(head: str) -> bool:
    """Does `head` end in a letter that labels a part ("... found in Appendix E"), not an initial?"""
    words = head.rsplit(None, 2)
    return len(words) >= 2 and words[-2].lower() in _LABEL_WORDS and words[-1].isupper()


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
        initial = len(word) == 1 and word.isalpha() and not _labels(head)
        if word in _ABBREV or word.endswith(("e.g", "i.e")) or initial:
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
    for m in _BULLET_RE.finditer(text):  # a bulleted item is a sentence of its own, without its bullet
        cuts.update((m.start(), m.end()))
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
    other = len(re.findall(rf"[^\sA-Za-z0-9{CJK_IDEOGRAPHS}]", text))
    return int(words * 1.3 + cjk * 0.8 + other * 0.5) + 1


# --- question terms -----------------------------------------------------------------

QUESTION_WORDS_FILE = Path(__file__).with_name("question_words.json")


@cache
def _question_words() -> dict:
    return json.loads(QUESTION_WORDS_FILE.read_text(encoding="utf-8"))


@cache
def generic_terms() -> frozenset[str]:
    """Frame words any question may use (paper, explain, 介绍), as `tokenize` writes them."""
    words = _question_words()["generic"]
    return frozenset(t for lang in ("en", "zh") for t in tokenize(words[lang], stopwords=False))


_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-+_]*(?:\(\))?")
# A short word inside a multi-word name: "Tree of Thoughts", "Retrieval for the Masses"
_SIZE_RE = re.compile(r"\d+(?:\.\d+)?[x×]\d+(?:\.\d+)?", re.IGNORECASE)
CONNECTOR_RE = re.compile(r"\s+(?:of|the|for|in|on|with)\s+", re.IGNORECASE)
_PHRASE_NORM_RE = re.compile(r"[\s\-_‐‑–—/]+")


def _phrase_norm(text: str) -> str:
    return " " + _PHRASE_NORM_RE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip() + " "


class PhraseIndex:
    """Whether a multi-word name occurs anywhere in a body of text, as whole words, with case,
    hyphens and line breaks forgiven ("chain-of-thought" is "Chain of Thought")."""

    def __init__(self, texts: list[str]):
        self._text = "\n".join(_phrase_norm(t) for t in texts)

    def frequency(self, word: str, cap: int = 1000) -> int:
        """How often a word occurs (whole word, case forgiven), counted up to `cap`."""
        key = _phrase_norm(word).strip()
        if not key:
            return 0
        n = 0
        for _ in re.finditer(r"(?<![\w])" + re.escape(key) + r"(?![\w])", self._text):
            n += 1
            if n >= cap:
                break
        return n

    def mentions(self, phrase: str) -> bool:
        """The phrase, or its plural ("bounding box" in "bounding boxes"), as whole words."""
        key = _phrase_norm(phrase).strip()
        return (
            key != ""
            and re.search(r"(?<![\w])" + re.escape(key) + r"(?:e?s)?(?![\w])", self._text) is not None
        )


_SENTENCE_START_RE = re.compile(r"(?:^|[.!?:;。！？：；\n])[\s\"'“”‘’(\[（]*$")
_SUFFIXES = ("ations", "ation", "ings", "ing", "ed", "es", "e", "s", "ly")


def lite_stem(token: str) -> str:
    """A crude stem so that save/saves/saving and quantize/quantization meet; Chinese untouched."""
    if not token.isascii() or not token.isalpha():
        return token
    for suf in _SUFFIXES:
        if token.endswith(suf) and len(token) - len(suf) >= 3:
            return token[: -len(suf)]
    return token


def named_phrases(question: str) -> list[str]:
    """What a question names (QLoRA, Phi-3, DPO, Kimi K2, Orca in "What is Orca?"), as written.

    A word names something when it has a capital inside (QLoRA), a digit and a letter (GPT-4),
    is an acronym (DPO), is capitalised but not at a sentence start (Orca), or is a Latin word
    inside a Chinese question. Stop words never do. Adjacent names make one phrase (Kimi K2).
    """
    zh = detect_language(question) == "zh"
    generic = generic_terms()
    phrases: list[list[str]] = []
    last_end = label_end = -2
    for m in _NAME_RE.finditer(question):
        word = m.group().rstrip(".-+_")  # "the Transformer." ends a sentence, not the name
        low = word.lower()
        gap = question[last_end : m.start()]
        if _SIZE_RE.fullmatch(word):
            continue  # a size ("256x256") measures something, it is no part of a name
        if low in _LABEL_WORDS and not word.isupper():  # "WSJ Section 23", "Appendix B": a part of a text
            last_end, label_end = -2, m.end()
            continue
        if m.start() - label_end <= 1 and (word.isdigit() or (len(word) == 1 and word.isupper())):
            continue  # the label's number or letter
        if not any(c.isalpha() for c in word):
            if phrases and gap.strip() == "" and gap:
                phrases[-1].append(word)  # a version: "Llama 2", "Gemini 1.5"
                last_end = m.start() + len(word)
            continue
        if low in EN_STOPWORDS or low in generic:
            continue
        inner_upper = any(c.isupper() for c in word[1:])
        digit = any(c.isdigit() for c in word)
        titled = word[:1].isupper() and not _SENTENCE_START_RE.search(question[: m.start()])
        if not (inner_upper or digit or titled or (zh and len(word) > 1)):
            continue
        if phrases and (gap.strip() == "" or (CONNECTOR_RE.fullmatch(gap) and titled)):
            phrases[-1].extend([gap.strip(), word] if gap.strip() else [word])
        else:
            phrases.append([word])
        last_end = m.start() + len(word)
    return [" ".join(p) for p in phrases]


def _overlapped(tok: str, cjk_tokens: list[str]) -> bool:
    """jieba's search mode gives a word and its parts (注意力 and 注意; 查资料 and 资料): one
    of them is a term. A word the dictionary knows is kept and its parts go (注意力 is
    "attention", 注意 only "to pay attention"); a word it does not know goes for its parts."""
    if any(o != tok and tok in o and has_entry(o) for o in cjk_tokens):
        return True
    return not has_entry(tok) and any(o != tok and len(o) >= 2 and o in tok for o in cjk_tokens)


@dataclass(frozen=True)
class TermWeights:
    """How much each kind of question term counts toward coverage and sentence scores."""

    # A name (QLoRA, Kimi K2): an answer that never mentions the thing asked about is no answer.
    named: float = 2.5
    # An ordinary content word.
    ordinary: float = 1.0
    # A frame word (paper, explain), a number or a single Chinese character: present in any answer.
    generic: float = 0.3


@dataclass(frozen=True)
class Term:
    """One question term with its weight and the stems that count as a match (Chinese->English too)."""

    token: str
    weight: float
    alts: tuple[str, ...]
    named: bool = False
    # the papers' own English words for a Chinese term (search/crosslingual.py): matched in the
    # papers' English sentences only (a Chinese line that mentions "GPU" is not about 显存)
    borrowed: tuple[str, ...] = ()


def question_terms(
    question: str,
    weights: TermWeights = TermWeights(),  # noqa: B008
    expand: Callable[[str], tuple[str, ...]] | None = None,
) -> list[Term]:
    """Content terms of a question, names weighted most and frame words least (see TermWeights).
    Chinese terms also match their English translations (CC-CEDICT) and, with `expand` (the
    index's cross-lingual neighbours, search/crosslingual.py), the papers' own English words for
    them; English terms match their Chinese."""
    named = {t for phrase in named_phrases(question) for t in tokenize(phrase)}
    generic = generic_terms()
    tokens = list(dict.fromkeys(tokenize(question)))
    cjk_tokens = [t for t in tokens if _CJK_RE.search(t)]
    terms = []
    for tok in tokens:
        if _CJK_RE.search(tok) and _overlapped(tok, cjk_tokens):
            continue
        if tok in named:
            weight = weights.named
        elif tok in generic or tok.isdigit() or (_CJK_RE.search(tok) and len(tok) == 1):
            weight = weights.generic
        else:
            weight = weights.ordinary
        alts = {lite_stem(tok)}
        # a translation that is a frame word ("use" for 节省 "to use sparingly") matches any passage
        alts.update(lite_stem(e) for e in english_for(tok) if e not in generic)
        borrowed: set[str] = set()
        if expand is not None and _CJK_RE.search(tok) and tok not in named and weight > weights.generic:
            borrowed = {lite_stem(e) for e in expand(tok) if e not in generic} - alts
        alts.update(chinese_for(tok))  # and the other way, for the Chinese reading-list entries
        terms.append(Term(tok, weight, tuple(sorted(alts)), tok in named, tuple(sorted(borrowed))))
    return terms


# --- the question as asked ---------------------------------------------------------------

_HIDDEN_RE = re.compile(r"<(script|style)\b[^>]*>.*?(?:</\1\s*>|$)", re.IGNORECASE | re.DOTALL)
_TAG_RE = re.compile(r"<!--.*?(?:-->|$)|</?[A-Za-z][A-Za-z0-9:-]*(?:\s[^<>]*)?/?>", re.DOTALL)


@cache
def _role_re() -> re.Pattern[str]:
    roles = _question_words()["roles"]
    names = sorted({*roles["user"], *roles["other"]}, key=len, reverse=True)
    alt = "|".join(re.escape(n) for n in names)
    # a role marker opens the text, a line or a sentence: "SYSTEM: ... USER: ..."
    return re.compile(rf"(?:^|(?<=[\s.!?。！？>]))({alt})\s*[:：]", re.IGNORECASE)


def clean_question(text: str) -> str:
    """The question a user means, without markup or an injected conversation in front of it.

    HTML/XML tags go, and with them the content of script and style elements; where chat role
    markers (SYSTEM:, USER:, Human:, 用户：) split the text into turns, the last user turn is the
    question (with none, the text before the first marker, else the last turn). Whitespace is
    collapsed. A plain question comes back unchanged but for whitespace.
    """
    text = html.unescape(text or "")
    text = _HIDDEN_RE.sub(" ", text)
    text = _TAG_RE.sub(" ", text)
    marks = list(_role_re().finditer(text))
    if marks:
        users = {u.lower() for u in _question_words()["roles"]["user"]}
        turns = [
            (m.group(1).lower(), text[m.end() : marks[i + 1].start() if i + 1 < len(marks) else len(text)])
            for i, m in enumerate(marks)
        ]
        said = [body for role, body in turns if role in users and body.strip()]
        before = text[: marks[0].start()]
        if said:
            text = said[-1]
        elif before.strip():
            text = before
        else:
            text = next((body for _, body in reversed(turns) if body.strip()), "")
    return re.sub(r"\s+(?=[?？.!,，。！])", "", collapse_ws(text))


def stems(text: str) -> set[str]:
    """Stems of a text for matching question terms, plus joined neighbours (Graph RAG -> graphrag)."""
    toks = tokenize(text)
    out = {lite_stem(t) for t in toks}
    out.update(a + b for a, b in zip(toks, toks[1:], strict=False) if a.isascii() and b.isascii())
    return out


def term_matches(term: Term, stem_set: set[str]) -> bool:
    return any(a in stem_set for a in term.alts)
