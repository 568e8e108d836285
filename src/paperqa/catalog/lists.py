"""Parse the reading lists (the user's own Markdown documents) into mentions.

Two shapes are understood:

* **sections** (list one): one `## heading` per paper with labelled fields such as
  `**论文名称**：《...》`, `**发布时间**：2017/06/12`, `**论文链接**：https://...`.
* **parts** (list two): `第一部分 ...` headings, each followed by paper titles and
  free-text notes. Items are separated by a `-` (a line of its own, a leading `- `,
  a trailing ` -`, or an inline ` - ` before a title). Scraping glued some titles to
  the end of the previous note line (`...非常完备word2vec Parameter Learning
  Explained`); those are split off too.

A mention is one list entry: its title as written, the text that goes with it, and
where it stands (file, heading, line). Merging mentions into papers is catalog.py's
job; this module knows nothing of papers except, optionally, a set of known titles
that lets it split two entries that the scrape ran together.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..cjk import CJK_IDEOGRAPHS
from ..errors import PaperqaError


class ListFormatError(PaperqaError, ValueError):
    """A reading list that cannot be read; names the file and line."""

    def __init__(self, path: Path, line: int, message: str):
        self.path, self.line = path, line
        super().__init__(f"{path}:{line}: {message}")


@dataclass(frozen=True)
class Mention:
    """One entry of one reading list."""

    list_id: str
    list_title: str
    heading: str
    title: str  # title as written, cleaned of links and trailing notes
    raw_title: str  # the title line exactly as written
    text: str  # the whole entry (list one: all fields; list two: title + notes)
    line: int  # 1-based
    link: str = ""
    fields: tuple[tuple[str, str], ...] = ()
    ordinal: int = 0  # position in its list, 1-based


LABELS_FILE = Path(__file__).with_name("list_labels.json")
_LABELS = json.loads(LABELS_FILE.read_text(encoding="utf-8"))
TITLE_LABELS: tuple[str, ...] = tuple(_LABELS["title"])  # the field that holds a paper's title
LINK_LABELS: tuple[str, ...] = tuple(_LABELS["link"])  # ... its link
DATE_LABELS: tuple[str, ...] = tuple(_LABELS["date"])  # ... its publication date
META_LABELS: frozenset[str] = frozenset(_LABELS["meta"])  # fields of metadata, not about the work

CJK = CJK_IDEOGRAPHS  # list text: Chinese
_CJK_RE = re.compile(f"[{CJK}]")
_URL_RE = re.compile(r"https?://\S+")
_ARXIV_RE = re.compile(r"(?<![\d.])(\d{4}\.\d{4,5})(?:v\d+)?(?![\d])")


def normalise_title(text: str) -> str:
    """Key for comparing titles: NFKC, lowercase, only a-z, 0-9 and CJK.

    Dropping spaces and punctuation makes scrape damage such as "fromMulti-Head" or
    "Explained- Deriving" compare equal to the real title.
    """
    text = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in text if ch.isascii() and ch.isalnum() or _CJK_RE.match(ch))


def arxiv_ids_in(text: str) -> list[str]:
    return _ARXIV_RE.findall(text)


def read_list(path: Path, known_titles: Callable[[str], bool] | None = None) -> list[Mention]:
    """Parse one list file, whichever of the two shapes it has."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ListFormatError(path, 0, f"cannot read the list: {exc.strerror}") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ListFormatError(path, line, "not UTF-8 text; save the list as UTF-8") from exc
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise ListFormatError(path, 1, "the list is empty")
    if any(line.startswith("## ") for line in lines):
        return _read_sections(path, lines)
    if any(_PART_RE.match(line) for line in lines):
        return _read_parts(path, lines, known_titles or (lambda _t: False))
    raise ListFormatError(
        path,
        1,
        "not a reading list in a known shape: expected '## ' sections with **论文名称** fields, "
        "or '第一部分 ...' part headings followed by titles",
    )


# --- list one: sections with labelled fields --------------------------------

_FIELD_RE = re.compile(r"^\*\*\s*([^*：:]+?)\s*[：:]?\s*\*\*\s*[：:]?\s*(.*)$")
_SHORTCODE_RE = re.compile(r"\{\{<.*?>\}\}")


def _read_sections(path: Path, lines: list[str]) -> list[Mention]:
    list_id = path.stem
    start, list_title = _front_matter(path, lines)
    mentions: list[Mention] = []
    heading, heading_line, body = "", 0, []

    def flush() -> None:
        if heading:
            mentions.append(
                _section_mention(path, list_id, list_title, heading, heading_line, body, len(mentions) + 1)
            )

    for i in range(start, len(lines)):
        line = lines[i]
        if line.startswith("## "):
            flush()
            heading, heading_line, body = line[3:].strip(), i + 1, []
            if not heading:
                raise ListFormatError(path, i + 1, "a '## ' heading with no text")
        elif heading:
            body.append((i + 1, line))
    flush()
    return mentions


def _front_matter(path: Path, lines: list[str]) -> tuple[int, str]:
    """Skip YAML front matter; its `title:` names the list."""
    if not lines or lines[0].strip() != "---":
        return 0, path.stem
    for i in range(1, len(lines)):
        if lines[i].strip() == "---":
            title = next(
                (ln.split(":", 1)[1].strip() for ln in lines[1:i] if ln.startswith("title:")), path.stem
            )
            return i + 1, title
    raise ListFormatError(path, 1, "front matter opened with '---' is never closed")


def _section_mention(
    path: Path,
    list_id: str,
    list_title: str,
    heading: str,
    heading_line: int,
    body: list[tuple[int, str]],
    ordinal: int,
) -> Mention:
    fields: list[tuple[str, str]] = []
    for lineno, line in body:
        clean = _SHORTCODE_RE.sub("", line).rstrip()
        m = _FIELD_RE.match(clean.strip())
        if m:
            fields.append((m.group(1).strip(), m.group(2).strip()))
        elif clean.strip() and fields:
            label, value = fields[-1]
            fields[-1] = (label, f"{value}\n{clean.strip()}" if value else clean.strip())
        elif clean.strip():
            raise ListFormatError(path, lineno, f"text before the first **field** in section '{heading}'")
    values = dict(fields)
    title = next((values[label] for label in TITLE_LABELS if values.get(label)), "")
    if not title:
        raise ListFormatError(
            path, heading_line, f"section '{heading}' has no **{TITLE_LABELS[0]}** (paper title) field"
        )
    link = next((values[label] for label in LINK_LABELS if values.get(label)), "")
    url = _URL_RE.search(link)
    text = "\n".join([heading] + [f"{label}：{value}" for label, value in fields])
    return Mention(
        list_id=list_id,
        list_title=list_title,
        heading=heading,
        title=_clean_title(title),
        raw_title=title,
        text=text,
        line=heading_line,
        link=url.group(0) if url else link,
        fields=tuple(fields),
        ordinal=ordinal,
    )


# --- list two: parts with titles and notes ----------------------------------

_PART_RE = re.compile(r"^第[一二三四五六七八九十百\d]+部分\s*(.*)$")
_SEP_INLINE = re.compile(rf"(?:(?<=\S) - |(?<=[{CJK}])- )")
_GLUE_RE = re.compile(rf"[{CJK}]\s?([A-Za-z][A-Za-z0-9.'’\-]*(?:\s+[A-Za-z0-9][\w.'’:\-()]*){{3,}})\s*$")
_CAMEL_GLUE = re.compile(r"^[A-Za-z0-9]*?[a-z0-9]([A-Z][a-z].*)$")
_TRAILING_NOTE = re.compile(rf"\s*(?:[,，(（][^\n]*[{CJK}][^\n]*|~\s*https?://\S*)$")
_CJK_LABEL = re.compile(rf"^[A-Za-z0-9 .\-]*[{CJK}]{{0,6}}(?:论文|综述)$")


def _read_parts(path: Path, lines: list[str], known_title: Callable[[str], bool]) -> list[Mention]:
    """Split each part into entries; the first line of an entry is its title."""
    list_id = path.stem
    list_title = path.stem
    # a table of contents is a run of part headings directly under a line such as 目录
    body_start = 0
    for i, line in enumerate(lines):
        if _PART_RE.match(line) and i + 1 < len(lines) and not _PART_RE.match(lines[i + 1]):
            if i > 0 and _PART_RE.match(lines[i - 1]):
                continue  # last line of the table of contents
            body_start = i
            break
    else:
        raise ListFormatError(path, 1, "part headings but no entries under them")
    if body_start > 0 and lines[0].strip() and not _PART_RE.match(lines[0]):
        list_title = lines[0].strip() if lines[0].strip() != "目录" else path.stem

    mentions: list[Mention] = []
    heading, heading_line = "", 0
    chunk: list[tuple[int, str]] = []  # (lineno, text) pieces of the current part

    def flush_part() -> None:
        if not heading:
            return
        entries = _split_entries(chunk, known_title)
        if not entries:
            raise ListFormatError(path, heading_line, f"part '{heading}' has no entries")
        for lineno, entry_lines in entries:
            mentions.append(
                _part_mention(list_id, list_title, heading, lineno, entry_lines, len(mentions) + 1)
            )

    for i in range(body_start, len(lines)):
        m = _PART_RE.match(lines[i])
        if m:
            flush_part()
            heading = re.sub(r"\s*[(（][^()（）]*篇[^()（）]*[)）]\s*$", "", lines[i].strip())
            heading_line, chunk = i + 1, []
        else:
            chunk.append((i + 1, lines[i]))
    flush_part()
    return mentions


def _is_title_like(text: str) -> bool:
    """Does the text after an inline ' - ' start a new title (vs. a note with a dash)?"""
    core = _TRAILING_NOTE.sub("", text).strip()
    tail = text[len(core) :] if text.startswith(core) else ""
    if len(_CJK_RE.findall(tail)) > 12:
        return False
    if core.startswith("《"):
        return True
    if _CJK_LABEL.match(core):
        return True
    if _CJK_RE.search(core):
        return False
    return len(re.findall(r"[A-Za-z][\w\-]*", core)) >= 2


def _split_entries(
    chunk: list[tuple[int, str]], known_title: Callable[[str], bool]
) -> list[tuple[int, list[str]]]:
    """Cut a part's lines into entries at the separators; returns (line, entry lines)."""
    pieces: list[tuple[int, str, bool]] = []  # (lineno, text, starts a new entry)
    for lineno, line in chunk:
        stripped = line.strip()
        if not stripped:
            continue
        if stripped == "-":
            pieces.append((lineno, "", True))
            continue
        new = False
        if stripped.startswith("- "):
            stripped, new = stripped[2:].strip(), True
        trailing = stripped.endswith(" -")
        if trailing:
            stripped = stripped[:-2].rstrip()
        parts = _split_inline(stripped)
        for j, part in enumerate(parts):
            pieces.append((lineno, part, new if j == 0 else True))
        if trailing:
            pieces.append((lineno, "", True))

    entries: list[tuple[int, list[str]]] = []
    pending_new = True
    for lineno, text, new in pieces:
        if new:
            pending_new = True
        if not text:
            continue
        glued = _glued_title(text) if not pending_new else None
        if glued and entries:
            before, title = glued
            if before:
                entries[-1][1].append(before)
            entries.append((lineno, [title]))
            pending_new = False
            continue
        if pending_new or not entries:
            entries.append((lineno, [text]))
            pending_new = False
        elif known_title(text) and not known_title(entries[-1][1][0]) and len(entries[-1][1]) == 1:
            # the scrape put a note line before the real title
            # ("Vicuna tackle ... / Training Deep Nets with Sublinear Memory Cost")
            entries[-1][1].insert(0, text)
        elif known_title(text) and _is_title_like(text):
            entries.append((lineno, [text]))  # two entries run together without a separator
        else:
            entries[-1][1].append(text)
    return entries


def _split_inline(line: str) -> list[str]:
    """Split 'note - Next Title' pieces of one line, leaving dashes inside notes alone."""
    out: list[str] = []
    rest = line
    while True:
        cut = None
        for m in _SEP_INLINE.finditer(rest):
            if _is_title_like(rest[m.end() :]):
                cut = m
                break
        if cut is None:
            out.append(rest.strip())
            return [p for p in out if p]
        out.append(rest[: cut.start()].strip())
        rest = rest[cut.end() :]


def _glued_title(text: str) -> tuple[str, str] | None:
    """A title glued to the end of a Chinese note line by the scrape, split off."""
    m = _GLUE_RE.search(text)
    if not m:
        return None
    title = m.group(1)
    first, _, others = title.partition(" ")
    camel = _CAMEL_GLUE.match(first)
    before_extra = ""
    if camel:  # "Word2vecEfficient estimation ..." -> "Efficient estimation ..."
        before_extra = first[: len(first) - len(camel.group(1))]
        title = f"{camel.group(1)} {others}".strip()
    before = text[: m.start(1)] + before_extra
    return before.rstrip(), title


def _part_mention(
    list_id: str, list_title: str, heading: str, lineno: int, entry_lines: list[str], ordinal: int
) -> Mention:
    raw_title = entry_lines[0]
    return Mention(
        list_id=list_id,
        list_title=list_title,
        heading=heading,
        title=_clean_title(raw_title),
        raw_title=raw_title,
        text="\n".join(entry_lines),
        line=lineno,
        link=(_URL_RE.search(raw_title).group(0) if _URL_RE.search(raw_title) else ""),
        ordinal=ordinal,
    )


def _clean_title(title: str) -> str:
    """Strip 《》, trailing links, citation tails and short Chinese annotations."""
    t = title.strip().strip("《》").strip()
    if _URL_RE.fullmatch(t):
        return t  # an entry that is only a link (a repository)
    t = re.sub(r"\s*~?\s*:?https?://\S+$", "", t)
    t = re.sub(r"\.\s*(?:arXiv preprint.*|\d{4})\s*$", "", t)
    t = re.sub(rf"\s*[,，]\s*[{CJK}].*$", "", t)
    t = re.sub(rf"\s*[(（][^)）]*[{CJK}][^)）]*[)）]\s*$", "", t)
    return t.strip().strip("《》").strip()
