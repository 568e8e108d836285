"""The catalog: every paper the reading lists name, with verified ids and the lists' own words.

Built from two sources: the reading lists (parsed by lists.py into mentions) and the
hand-reviewed `papers.toml`, which pins what a parser cannot know (arXiv id and
version, canonical title, aliases, year, organisation) and records each mistake a list
makes. Mentions of the same paper, within a list and across lists, merge into one
`Paper`. `check()` verifies that the two sources agree, so a mistake in a list is never
inherited silently: a date or link that differs from papers.toml must be recorded
there as a correction, with evidence.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

from ..errors import PaperqaError
from ..records import Correction, Paper, SummaryEntry
from ..settings import Settings
from .lists import DATE_LABELS, ListFormatError, Mention, arxiv_ids_in, normalise_title, read_list
from .params import CATALOG_PARAMS, CatalogParams

ARXIV_ID_RE = re.compile(r"^\d{4}\.\d{4,5}$")
SLUG_RE = re.compile(r"^[a-z][a-z0-9-]{1,63}$")
_DATE_RE = re.compile(r"^(\d{4})(?:[-/.](\d{1,2}))?(?:[-/.](\d{1,2}))?$")


class CatalogError(PaperqaError, ValueError):
    """papers.toml or a list cannot be loaded; the message names the file."""


@dataclass(frozen=True)
class MappedMention:
    mention: Mention
    paper_id: str | None  # None: not mapped to any catalog item
    how: str  # title | alias | arxiv-id | contains | prefix | ""


@dataclass(frozen=True)
class Catalog:
    """Papers and other items (blog, repo, unidentified) with their mentions."""

    items: tuple[Paper, ...]
    mentions: tuple[MappedMention, ...]
    source_hash: str  # sha256 over papers.toml and the list files: changes when either does
    papers_file: Path
    list_files: tuple[Path, ...]

    @property
    def papers(self) -> list[Paper]:
        return [p for p in self.items if p.kind == "paper"]

    def get(self, key: str) -> Paper:
        """Look up by paper_id, versioned arXiv id (2305.14314v1) or alias (QLoRA)."""
        found = self.find(key)
        if found is None:
            raise KeyError(f"no paper '{key}' in the catalog; `paperqa catalog` lists the ids")
        return found

    def find(self, key: str) -> Paper | None:
        key = key.strip()
        bare = re.sub(r"v\d+$", "", key) if ARXIV_ID_RE.match(re.sub(r"v\d+$", "", key)) else key
        return self._by_id.get(key) or self._by_id.get(bare) or self._by_name.get(normalise_title(key))

    @cached_property
    def _by_id(self) -> dict[str, Paper]:
        """Built once: search and answers look papers up per passage."""
        return {p.paper_id: p for p in reversed(self.items)}  # reversed: the first item wins

    @cached_property
    def _by_name(self) -> dict[str, Paper]:
        names: dict[str, Paper] = {}
        for p in self.items:
            for name in (p.title, *p.aliases):
                if key := normalise_title(name):
                    names.setdefault(key, p)
        return names

    def check(self) -> list[str]:
        """Problems that make the catalog untrustworthy; empty means it is sound."""
        return _check(self)


def load_catalog(settings: Settings, params: CatalogParams = CATALOG_PARAMS) -> Catalog:
    papers_file = settings.resolved_papers_file()
    lists_dir = settings.resolved_lists_dir()
    list_files = tuple(sorted(f for f in lists_dir.glob("*.md") if not f.name.lower().startswith("readme")))
    if not list_files:
        raise CatalogError(f"{lists_dir}: no reading lists (*.md) found")
    items = _load_papers_toml(papers_file)
    matcher = _Matcher(items, params)
    mapped: list[MappedMention] = []
    for path in list_files:
        for m in read_list(path, known_titles=matcher.is_known_title):
            pid, how = matcher.match(m)
            mapped.append(MappedMention(m, pid, how))
    by_id: dict[str, list[SummaryEntry]] = {p.paper_id: [] for p in items}
    for mm in mapped:
        if mm.paper_id is not None:
            by_id[mm.paper_id].append(_summary(mm.mention))
    items = tuple(replace(p, summaries=tuple(by_id[p.paper_id])) for p in items)
    digest = hashlib.sha256()
    for f in (papers_file, *list_files):
        digest.update(f.name.encode())
        digest.update(f.read_bytes())
    return Catalog(items, tuple(mapped), digest.hexdigest()[:16], papers_file, list_files)


__all__ = ["Catalog", "CatalogError", "ListFormatError", "MappedMention", "load_catalog"]


_SUMMARY_FIELDS = ("list_id", "list_title", "heading", "text", "line", "link", "fields")  # same names


def _summary(m: Mention) -> SummaryEntry:
    return SummaryEntry(title_as_listed=m.raw_title, **{name: getattr(m, name) for name in _SUMMARY_FIELDS})


# --- papers.toml --------------------------------------------------------------


def _load_papers_toml(path: Path) -> tuple[Paper, ...]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogError(f"{path}: cannot read the curated paper file: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{path}: not valid TOML: {exc}") from exc
    out: list[Paper] = []
    for table, kind in ((data.get("paper", []), "paper"), (data.get("item", []), None)):
        for n, row in enumerate(table, 1):
            if "id" not in row or "title" not in row:
                raise CatalogError(
                    f"{path}: entry #{n} of [[{'paper' if kind else 'item'}]] needs id and title"
                )
            arxiv = str(row.get("arxiv", ""))
            published = str(row.get("published", ""))
            year = int(row.get("year") or (published[:4] if published[:4].isdigit() else 0))
            corrections = tuple(
                Correction(
                    list_id=str(c.get("list", "")),
                    field=str(c.get("field", "")),
                    listed=str(c.get("listed", "")),
                    correct=str(c.get("correct", "")),
                    evidence=str(c.get("evidence", "")),
                )
                for c in row.get("corrections", [])
            )
            out.append(
                Paper(
                    paper_id=str(row["id"]),
                    title=str(row["title"]),
                    kind=kind or str(row.get("kind", "other")),
                    arxiv_id=arxiv,
                    version=int(row.get("version", 1 if arxiv else 0)),
                    pdf_url=str(row.get("pdf_url", "")),
                    url=str(row.get("url", "")),
                    year=year,
                    published=published,
                    organisation=str(row.get("organisation", "")),
                    aliases=tuple(str(a) for a in row.get("aliases", [])),
                    corrections=corrections,
                    note=str(row.get("note", "")),
                )
            )
    return tuple(out)


# --- matching mentions to papers ------------------------------------------------


class _Matcher:
    """Maps a list's title (as written) to a catalog id."""

    def __init__(self, items: tuple[Paper, ...], params: CatalogParams):
        self.params = params
        self.exact: dict[str, str] = {}
        self.by_arxiv = {p.arxiv_id: p.paper_id for p in items if p.arxiv_id}
        self.long: list[tuple[str, str]] = []  # (normalised title/alias, id), for containment
        for p in items:
            for i, name in enumerate((p.title, *p.aliases)):
                key = normalise_title(name)
                if not key:
                    continue
                self.exact.setdefault(key, p.paper_id)
                if i == 0 or len(key) >= params.contains_min_name:
                    self.long.append((key, p.paper_id))
        self.long.sort(key=lambda kv: -len(kv[0]))

    def is_known_title(self, text: str) -> bool:
        return normalise_title(text) in self.exact

    def match(self, m: Mention) -> tuple[str | None, str]:
        for candidate in (m.title, m.raw_title):
            key = normalise_title(candidate)
            if key in self.exact:
                return self.exact[key], "title"
        for aid in arxiv_ids_in(m.raw_title):
            if aid in self.by_arxiv:
                return self.by_arxiv[aid], "arxiv-id"
        key, prm = normalise_title(m.title), self.params
        if len(key) >= prm.contains_min_title:
            for name, pid in self.long:
                if len(name) >= prm.contains_min_name and name in key:
                    return pid, "contains"
        if len(key) >= prm.prefix_min_title:
            for name, pid in self.long:
                if name.startswith(key):
                    return pid, "prefix"
        return None, ""


# --- check ----------------------------------------------------------------------


def _norm_date(value: str) -> tuple[int, ...] | None:
    m = _DATE_RE.match(value.strip())
    if not m:
        return None
    return tuple(int(g) for g in m.groups() if g)


def _dates_agree(listed: str, curated: str) -> bool:
    a, b = _norm_date(listed), _norm_date(curated)
    if a is None or b is None:
        return False
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def _check(cat: Catalog) -> list[str]:
    problems: list[str] = []
    seen: dict[str, int] = {}
    for p in cat.items:
        seen[p.paper_id] = seen.get(p.paper_id, 0) + 1
    problems += [f"{cat.papers_file}: id '{i}' is used {n} times" for i, n in seen.items() if n > 1]

    for p in cat.items:
        where = f"{cat.papers_file}: {p.paper_id}"
        if p.kind == "paper":
            if p.arxiv_id:
                if not ARXIV_ID_RE.match(p.arxiv_id):
                    problems.append(f"{where}: arxiv id '{p.arxiv_id}' is not of the form 2305.14314")
                if p.paper_id != p.arxiv_id:
                    problems.append(f"{where}: paper_id must be the bare arXiv id '{p.arxiv_id}'")
                if p.version < 1:
                    problems.append(f"{where}: pin an arXiv version (version = 1 or later)")
                id_year = 2000 + int(p.arxiv_id[:2]) if p.arxiv_id[:2].isdigit() else 0
                if p.year and id_year and p.year != id_year:
                    problems.append(f"{where}: year {p.year} disagrees with the arXiv id ({id_year})")
            elif not p.pdf_url:
                problems.append(f"{where}: has neither an arXiv id nor a pdf_url")
            elif not SLUG_RE.match(p.paper_id):
                problems.append(f"{where}: a non-arXiv id must be a short slug like 'gpt1'")
            if p.published and _norm_date(p.published) is None:
                problems.append(f"{where}: published '{p.published}' is not YYYY-MM-DD or YYYY-MM")
            if not p.year:
                problems.append(f"{where}: no year")
        if not p.summaries:
            problems.append(f"{where}: named by no reading list (remove it or fix the alias)")
        for c in p.corrections:
            texts = [s.text + "\n" + s.link for s in p.summaries if s.list_id == c.list_id]
            if not any(c.listed in t for t in texts):
                problems.append(
                    f"{where}: correction of {c.field} says list '{c.list_id}' has '{c.listed}', "
                    "but that text is not in its entry for this paper"
                )
            if not c.evidence:
                problems.append(f"{where}: correction of {c.field} gives no evidence")

    for mm in cat.mentions:
        m = mm.mention
        if mm.paper_id is None:
            problems.append(
                f"{m.list_id}.md:{m.line}: entry '{m.title or m.raw_title}' is mapped to no paper; "
                "add it (or an alias) to papers.toml"
            )
            continue
        p = next(x for x in cat.items if x.paper_id == mm.paper_id)
        problems += _check_against_list(p, m)
    return problems


def _recorded(p: Paper, m: Mention, field: str, listed: str) -> bool:
    return any(c.list_id == m.list_id and c.field == field and c.listed in listed for c in p.corrections)


def _check_against_list(p: Paper, m: Mention) -> list[str]:
    """A list's date or link that disagrees with papers.toml must be a recorded correction."""
    out = []
    where = f"{m.list_id}.md:{m.line} ({p.paper_id})"
    fields = dict(m.fields)
    listed_date = next((fields[label] for label in DATE_LABELS if fields.get(label)), "").strip()
    if (
        listed_date
        and p.published
        and not _dates_agree(listed_date, p.published)
        and not _recorded(p, m, "date", listed_date)
    ):
        out.append(
            f"{where}: the list dates it {listed_date} but papers.toml says {p.published}; "
            'record a correction (field = "date") with evidence, or fix papers.toml'
        )
    if m.link:
        ids = arxiv_ids_in(m.link) if "arxiv.org" in m.link else []
        if ids and ids[0] != p.arxiv_id and not _recorded(p, m, "link", m.link):
            out.append(
                f"{where}: the list links arXiv {ids[0]} but the paper is {p.paper_id}; "
                'record a correction (field = "link") with evidence'
            )
        if not ids and p.arxiv_id and m.link.endswith(".pdf") and not _recorded(p, m, "link", m.link):
            out.append(
                f"{where}: the list links {m.link} but the paper is on arXiv as {p.arxiv_id}; record it"
            )
    return out
