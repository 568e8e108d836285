"""The corpus stage's thresholds: when a file is a whole PDF, and when it is the paper it claims to be.

Defaults are the shipped values; `CorpusParams.load(path)` reads a JSON object of some of these
fields (see `paperqa.params.load_params`) to try others. `download` and `add_pdfs` take an instance.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..params import load_params


@dataclass(frozen=True)
class CorpusParams:
    """Integrity and identity thresholds of the corpus stage (pdfcheck, identity; download and add)."""

    # --- integrity (pdfcheck) ---
    min_pdf_bytes: int = 512  # smaller than any real paper; catches empty and stub responses
    head_bytes: int = 1024  # the PDF spec allows junk before %PDF- within the first 1 KiB
    tail_bytes: int = 2048  # %%EOF sits at the very end, give or take trailing whitespace
    min_page_words: int = 5  # every page of the 14 real papers extracts more; zeroed bytes leave 0
    # --- identity (identity) ---
    title_match: float = 0.8  # metadata title vs catalog title: below this the link is suspect
    text_match: float = 0.85  # catalog title found in page-1 text (fuzzy) at least this well
    head_chars: int = 2500  # squashed page-1 characters searched: title, authors, abstract start
    min_title_chars: int = 12  # shorter names ("BERT", "T5") occur in too many papers' text
    # share of a title's letter trigrams that must occur on page 1 before the (slow) fuzzy search
    # runs: a title with lost glyphs keeps most of them, another paper's title does not
    fuzzy_gate: float = 0.7
    # --- replacing a verified copy (identity) ---
    full_page_words: int = 50  # a page this full in the verified copy must not come back empty
    min_word_share: float = 0.8  # a replacement extracts at least this share of the verified copy's words

    @classmethod
    def load(cls, path: Path | str | None = None) -> CorpusParams:
        """The shipped values, or those of the JSON file `path` (fields it leaves out keep theirs)."""
        return load_params(cls, path) if path is not None else cls()


CORPUS_PARAMS = CorpusParams()
