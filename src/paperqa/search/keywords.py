"""Keyword tokens for BM25 that work for Chinese, English and the two mixed.

Why not whitespace: Chinese has no spaces (whitespace BM25 finds nothing for Chinese
questions). Why not jieba for everything: it shreds technical terms (`LLM.int8()`, `GPT-3`,
`4-bit`). So CJK runs go to jieba (search mode, so a query word also matches inside a longer
document word) and Latin runs to a regex that keeps compound terms whole, adds a joined form
(`gpt-3` -> `gpt3`) and their parts, so `GPT-3`, `GPT3` and `GPT 3` all meet. English terms in
a Chinese question (`QLoRA是如何节省显存的`) come out exactly as in an English passage.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..cjk import CJK

# Bump when the tokens change: an index built with other tokens must be rebuilt.
TOKENIZER_VERSION = "kw-2"

CJK_RUN = rf"[{CJK}]+"
_WORD = r"[^\W_" + CJK + r"]+"
# A Latin term: word pieces joined by . - + _ (one at a time): gpt-3, llm.int8, 4-bit, nf4.
_LATIN_TERM = rf"{_WORD}(?:[.\-+_]{_WORD})*"
_TOKEN_RE = re.compile(rf"(?P<cjk>{CJK_RUN})|(?P<latin>{_LATIN_TERM})", re.UNICODE)
# Joiners, except a dot between digits (0.37, 1706.03762 stay whole).
_JOINER_RE = re.compile(r"(?<![0-9])\.|\.(?![0-9])|[\-+_]")


STOPWORDS_FILE = Path(__file__).with_name("stopwords.json")


def _stopwords(language: str) -> frozenset[str]:
    """The function words of one language (en | zh), from STOPWORDS_FILE (shipped with the package)."""
    return frozenset(json.loads(STOPWORDS_FILE.read_text(encoding="utf-8"))[language])


EN_STOPWORDS = _stopwords("en")
ZH_STOPWORDS = _stopwords("zh")


@lru_cache(maxsize=1)
def load_jieba() -> Any:
    """One jieba tokenizer per process, loaded once and without its banner on stderr."""
    import jieba  # late: slow to import (its dictionary): loaded on the first Chinese text

    tok = jieba.Tokenizer()
    log = logging.getLogger("jieba")
    level = log.level
    log.setLevel(logging.WARNING)
    try:
        tok.initialize()
    finally:
        log.setLevel(level)
    return tok


def s_stem(word: str) -> str:
    """Harman's S-stemmer: plurals only (adapters -> adapter, llms -> llm), never damages terms."""
    if len(word) < 4 or not word.isalpha():
        return word
    if word.endswith("ies") and not word.endswith(("eies", "aies")):
        return word[:-3] + "y"
    if word.endswith("es") and not word.endswith(("aes", "ees", "oes")):
        return word[:-1]
    if word.endswith("s") and not word.endswith(("us", "ss")):
        return word[:-1]
    return word


def _latin(term: str, stem: bool, stop: bool) -> list[str]:
    parts = [p for p in _JOINER_RE.split(term) if p]
    if len(parts) == 1:
        return [] if _dropped(term, stop) else [s_stem(term) if stem else term]
    out = [_JOINER_RE.sub("", term)]
    out.extend(s_stem(p) if stem else p for p in parts if not _dropped(p, stop))
    return out


def _dropped(word: str, stop: bool) -> bool:
    """Stopwords, and single letters (e.g. -> e, g) that match everything and mean nothing."""
    return (len(word) == 1 and word.isalpha()) or (stop and word in EN_STOPWORDS)


def _cjk(run: str, stop: bool) -> list[str]:
    out = []
    for w in load_jieba().cut_for_search(run, HMM=True):
        w = w.strip()
        if w and not (stop and w in ZH_STOPWORDS):
            out.append(w)
    return out


def tokenize(text: str, *, stem: bool = True, stopwords: bool = True) -> list[str]:
    """BM25 tokens of `text` (document or query alike), lowercased, in order."""
    norm = unicodedata.normalize("NFKC", text).lower()
    tokens: list[str] = []
    for m in _TOKEN_RE.finditer(norm):
        if m.lastgroup == "cjk":
            tokens.extend(_cjk(m.group(), stopwords))
        else:
            tokens.extend(_latin(m.group(), stem, stopwords))
    return tokens


@lru_cache(maxsize=1)
def _snowball() -> Any:
    """The Snowball English stemmer (PyStemmer, C), loaded once per process."""
    import Stemmer  # late: only the keyword index needs it

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=200_000)
def index_term(token: str) -> str:
    """The keyword-index form of one `tokenize` token: Snowball-stemmed when a plain English word.

    Why: BM25 over plural-stemmed words does not let "quantizing" meet "quantization" or
    "quantized" (4 chunks against 41 in the 14 papers). Chinese words, terms with digits or
    joiners (gpt-3, nf4) and short words (<4 letters: acronyms like dpo, moe) stay as they are.
    """
    if len(token) < 4 or not token.isascii() or not token.isalpha():
        return token
    return _snowball().stemWord(token)


def index_terms(text: str) -> list[str]:
    """BM25 terms of `text`, document or query alike: `tokenize`, then `index_term`."""
    return [index_term(t) for t in tokenize(text)]
