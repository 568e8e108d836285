"""The catalog's thresholds: how loosely a title as a list writes it may match a catalog paper.

Defaults are the shipped values (every mention of the shipped lists maps, and none to the wrong
paper: `paperqa catalog check`); `CatalogParams.load(path)` reads a JSON object of some of these
fields (see `paperqa.params.load_params`). `load_catalog` takes an instance.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..params import load_params


@dataclass(frozen=True)
class CatalogParams:
    """How loosely a list's title may match a catalog name (catalog._Matcher)."""

    # a catalog name this long may be found inside a list's title ("... (QLoRA)"); shorter ones
    # ("T5", "BERT") occur inside too many other titles
    contains_min_name: int = 15
    contains_min_title: int = 8  # a list title shorter than this is matched exactly or not at all
    # a list title this long may be the start of a catalog title (the scrape cut it short);
    # a shorter one is the start of too many
    prefix_min_title: int = 20

    @classmethod
    def load(cls, path: Path | str | None = None) -> CatalogParams:
        """The shipped values, or those of the JSON file `path` (fields it leaves out keep theirs)."""
        return load_params(cls, path) if path is not None else cls()


CATALOG_PARAMS = CatalogParams()
