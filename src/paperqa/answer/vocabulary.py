"""What the catalog and the indexed text mention: does the reading list know a name at all?

`confidence.py` declines a question that names something the list never mentions; this module
answers "is this token known?" from the catalog's titles, aliases and organisations and from the
index's own vocabulary.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

from ..catalog.catalog import Catalog
from ..search.backend import IndexBackend
from ..search.keywords import tokenize
from .confidence import DECLINE_PARAMS
from .text import PhraseIndex


class Vocabulary:
    def __init__(self, catalog: Catalog, index: Callable[[], IndexBackend]):
        self.catalog = catalog
        self._index = index  # the live index (a reload swaps it)

    @cached_property
    def _names(self) -> list[str]:
        return [n for p in self.catalog.papers for n in (p.title, p.organisation, *p.aliases)]

    @cached_property
    def _catalog_terms(self) -> frozenset[str]:
        return frozenset(tokenize("\n".join(self._names)))

    @cached_property
    def _phrases(self) -> PhraseIndex:
        return PhraseIndex([*self._names, *(c.text for c in self._index().chunks)])

    def known(self, token: str) -> bool:
        """Is a token (as the index tokenizes it) in a catalog title, alias or organisation, or
        anywhere in the indexed text? A name that is neither is not covered by the list. A name of
        several words ("Tree of Thoughts", "Code Llama") must occur as a phrase: each of its
        words may be common while the thing it names is never mentioned."""
        if " " in token.strip():
            # never written together: still known when one of its words is rare here, since a
            # rare word names something specific the corpus does discuss ("CoNLL-2003 NER")
            rare = DECLINE_PARAMS.rare_word_count
            return self._phrases.mentions(token) or any(
                _name_like(w) and 0 < self._phrases.frequency(w, cap=rare) < rare for w in token.split()
            )
        return token in self._catalog_terms or self._index().has_term(token)


def _name_like(word: str) -> bool:
    """An acronym or a coined name (WSJ, CoNLL-2003), not an ordinary word (Tree, Program)."""
    return (
        any(c.isdigit() for c in word)
        and any(c.isalpha() for c in word)
        or sum(c.isupper() for c in word) >= 2
    )
