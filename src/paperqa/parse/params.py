"""The parse stage's thresholds: what cleaning takes for a running header, when a page has no text
layer, how small a section may stand alone, how long a summary chunk is.

Defaults are the shipped values; `ParseParams.load(path)` reads a JSON object of some of these
fields (see `paperqa.params.load_params`). Page texts are stored per parser and PARSER_VERSION
(parse/pdftext.py): after changing a cleaning value, bump it so that stored texts are redone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..params import load_params


@dataclass(frozen=True)
class ParseParams:
    """Thresholds of the parse stage (clean, sections, pdftext, chunking)."""

    # --- cleaning (clean, pdftext) ---
    edge_lines: int = 3  # how many lines at the top and at the bottom of a page may be header/footer
    # a running header recurs on at least this share of the pages (a section title on one
    # page, a figure label on a few, do not) ...
    edge_share: float = 0.4
    edge_all_pages_under: int = 5  # ... and on every page of a paper shorter than this
    min_text_chars: int = 50  # below this over all pages there is no usable text layer
    # --- section headings (sections): a line that only looks like a heading is common (table
    # rows, wrapped sentences); these bound what a heading's line and title may look like ---
    heading_max_chars: int = 100  # a longer line is running text
    title_max_words: int = 12  # a heading title has at most this many words ...
    title_max_chars: int = 90  # ... and characters
    # three listed names may be a heading ("Data, Models, and Results"); more commas are text
    title_max_commas: int = 2
    title_min_letters: float = 0.6  # share of letters among its characters: table rows are digits
    title_free_words: int = 6  # a title this short need not be capitalised ("Related work")
    title_capitalised: float = 0.5  # a longer one capitalises at least this share of its content words
    # --- chunking ---
    min_section_words: int = 12  # a section shorter than this (a bare heading) joins the next one
    summary_chars: int = 400  # body characters of a summary chunk; CJK text: ~1 word piece each

    @classmethod
    def load(cls, path: Path | str | None = None) -> ParseParams:
        """The shipped values, or those of the JSON file `path` (fields it leaves out keep theirs)."""
        return load_params(cls, path) if path is not None else cls()


PARSE_PARAMS = ParseParams()
