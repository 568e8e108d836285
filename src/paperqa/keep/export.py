"""Answers you can keep: an answer as Markdown, its cited papers as BibTeX.

Both are built from the records alone (an `Answer`, the catalog's `Paper`s), so the CLI, the web
UI's copy buttons and the history all export the same text. Links are public URLs (arXiv or the
catalog's direct PDF), never the local file an answer may link to: an exported note is read on
other machines. BibTeX keys are the catalog ids (`arxiv:2106.09685`, `gpt1`): they never change
when author metadata arrives later, and they are unique because catalog ids are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from ..corpus.manifest import load_manifest
from ..errors import UsageError
from ..records import Answer, Citation, Paper

if TYPE_CHECKING:
    from ..settings import Settings

FORMATS = ("markdown", "bibtex")

_LABELS = {
    "en": {
        "q": "Question",
        "a": "Answer",
        "declined": "Declined",
        "sources": "Sources",
        "closest": "Closest papers",
        "summary": "reading-list summary",
        "abstract": "abstract",
    },
    "zh": {
        "q": "问题",
        "a": "回答",
        "declined": "未回答",
        "sources": "来源",
        "closest": "最接近的论文",
        "summary": "阅读清单摘要",
        "abstract": "摘要",
    },
}


class PaperLookup(Protocol):
    """What export needs of `Catalog` (a test may hand in anything with `find`)."""

    def find(self, key: str) -> Paper | None: ...


# --- Markdown ------------------------------------------------------------------------------


def to_markdown(answer: Answer, catalog: PaperLookup | None = None) -> str:
    """The answer, then numbered citations with page, section, verbatim quote and a link.

    A declined answer says so and lists the closest papers, so a kept note records that the
    reading list was asked and did not cover the question.
    """
    words = _LABELS.get(answer.language, _LABELS["en"])
    lines = [f"**{words['q']}:** {_md(_one_line(answer.question))}", ""]
    if answer.declined:
        lines += [f"**{words['declined']}:** {_md(answer.answer.strip())}", ""]
        if answer.closest:
            lines += [f"**{words['closest']}**", ""]
            for pid in answer.closest:
                paper = _find(catalog, pid) or Paper(paper_id=pid, title=pid)
                lines.append(f"- {_paper_line(paper)}")
            lines.append("")
        return "\n".join(lines)
    lines += [f"**{words['a']}:** {_md(answer.answer.strip())}", ""]
    if answer.citations:
        lines += [f"**{words['sources']}**", ""]
        for c in answer.citations:
            lines += _citation_lines(c, _find(catalog, c.paper_id), words)
        lines.append("")
    return "\n".join(lines)


def _citation_lines(c: Citation, paper: Paper | None, words: Mapping[str, str]) -> list[str]:
    where = _where(c, words)
    ident = _ident(paper) if paper is not None else c.paper_id
    year = f", {c.year}" if c.year else ""
    head = f"{c.number}. **{_md(c.title)}** ({ident}{year})" + (f", {where}" if where else "")
    if c.section:
        head += f", {_md(_one_line(c.section))}"
    out = [head]
    if c.quote is not None:
        page = f" (p. {c.quote.page})" if c.quote.page else ""
        out.append(f"   > “{_md(_one_line(c.quote.text))}”{page}")
    link = _public_link(c, paper)
    if link:
        out.append(f"   <{link}>")
    return out


def _where(c: Citation, words: Mapping[str, str]) -> str:
    """The page a citation points at; a summary entry names its list instead."""
    if c.kind == "summary":
        s = c.summaries[0] if c.summaries else None
        return f"{words['summary']}: {_md(s.list_title)} — {_md(s.heading)}" if s else words["summary"]
    page = c.quote.page if c.quote is not None and c.quote.page else 0
    if page:
        return f"p. {page}"
    if c.pages:
        return f"p. {c.pages[0]}" if len(c.pages) == 1 else f"pp. {c.pages[0]}–{c.pages[-1]}"
    return words["abstract"] if c.kind == "abstract" else ""


def _public_link(c: Citation, paper: Paper | None) -> str:
    page = c.quote.page if c.quote is not None and c.quote.page else (c.pages[0] if c.pages else 0)
    frag = f"#page={page}" if page else ""
    if paper is not None and paper.source_pdf_url:
        return paper.source_pdf_url + frag
    if c.pdf_url.startswith(("https://", "http://")):
        return c.pdf_url
    return c.abs_url if c.abs_url.startswith(("https://", "http://")) else ""


def _paper_line(p: Paper) -> str:
    year = f", {p.year}" if p.year else ""
    link = f" <{p.abs_url}>" if p.abs_url else ""
    return f"**{_md(p.title)}** ({_ident(p)}{year}){link}"


def _ident(p: Paper) -> str:
    return f"arXiv:{p.versioned_id}" if p.arxiv_id else p.paper_id


_MD_SPECIAL = re.compile(r"([\\`*_<>])")


def _md(text: str) -> str:
    """Markdown-active characters escaped: a title or quote shows as written, never as markup."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def _one_line(text: str) -> str:
    return " ".join(text.split())


# --- BibTeX --------------------------------------------------------------------------------


def to_bibtex(
    answer_or_papers: Answer | Iterable[Paper | str],
    catalog: PaperLookup | None = None,
    authors: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """BibTeX entries for an answer's cited papers (in citation order) or for given papers/ids.

    `authors` maps paper_id to author names (from arXiv metadata, `manifest_authors`); a paper
    without them has no author field rather than a guessed one. A declined answer cites nothing
    and gives an empty string.
    """
    papers = _papers(answer_or_papers, catalog)
    authors = authors or {}
    entries = [_entry(p, authors.get(p.paper_id, ())) for p in papers]
    return "\n".join(entries)


def bibtex_key(p: Paper) -> str:
    """Stable and unique: the arXiv id, else the catalog's own id (gpt1, extra-<slug>)."""
    return f"arxiv:{p.arxiv_id}" if p.arxiv_id else re.sub(r"[^A-Za-z0-9_:.\-]", "-", p.paper_id)


def _papers(what: Answer | Iterable[Paper | str], catalog: PaperLookup | None) -> list[Paper]:
    out: dict[str, Paper] = {}
    if isinstance(what, Answer):
        for c in what.citations:
            if c.paper_id not in out:
                out[c.paper_id] = _find(catalog, c.paper_id) or _paper_from_citation(c)
        return list(out.values())
    for item in what:
        if isinstance(item, Paper):
            paper = item
        else:
            found = _find(catalog, item)
            if found is None:
                raise UsageError(f"no paper '{item}' in the catalog; `paperqa catalog` lists the ids")
            paper = found
        out.setdefault(paper.paper_id, paper)
    return list(out.values())


def _paper_from_citation(c: Citation) -> Paper:
    """The user's own (extra) paper is not in the catalog: the citation has what BibTeX needs."""
    url = c.abs_url if c.abs_url.startswith(("https://", "http://")) else ""
    return Paper(paper_id=c.paper_id, title=c.title, year=c.year, url=url, kind=c.kind)


def _entry(p: Paper, names: Sequence[str]) -> str:
    fields: list[tuple[str, str]] = [("title", _title(p.title))]
    if names:
        fields.append(("author", " and ".join(_tex(" ".join(n.split())) for n in names)))
    if p.year:
        fields.append(("year", str(p.year)))
    if p.arxiv_id:
        kind = "misc"
        fields += [
            ("eprint", p.arxiv_id),
            ("archivePrefix", "arXiv"),
            ("url", _url(p.abs_url)),
            ("note", f"arXiv:{p.versioned_id}"),
        ]
    elif p.kind == "paper" and p.organisation:
        kind = "techreport"  # gpt1, gpt2: released by their lab as a PDF, never on arXiv
        fields += [("institution", _tex(p.organisation)), ("url", _url(p.source_pdf_url or p.abs_url))]
    else:
        kind = "misc"
        if p.organisation:
            fields.append(("organization", _tex(p.organisation)))
        if p.abs_url:
            fields.append(("url", _url(p.abs_url)))
    body = "".join(f"  {name} = {{{value}}},\n" for name, value in fields if value)
    return f"@{kind}{{{bibtex_key(p)},\n{body}}}\n"


_TEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_TEX_RE = re.compile("|".join(re.escape(k) for k in _TEX_SPECIAL))


def _tex(text: str) -> str:
    """LaTeX specials escaped in one pass, so braces always balance and nothing is a command."""
    return _TEX_RE.sub(lambda m: _TEX_SPECIAL[m.group(0)], text)


def _title(title: str) -> str:
    """Escaped, with acronyms and mixed-case names braced so sentence-case styles keep them (LoRA, GPT-3)."""

    def protect(m: re.Match[str]) -> str:
        w = m.group(0)
        keep = any(ch.isupper() for ch in w[1:]) or (w[0].isupper() and any(ch.isdigit() for ch in w))
        return f"{{{w}}}" if keep else w

    return re.sub(r"(?<![\\A-Za-z0-9])[A-Za-z0-9]+", protect, _tex(_one_line(title)))


def _url(url: str) -> str:
    """URLs stay verbatim (biblatex reads them so); only what would unbalance the entry is encoded."""
    return url.replace("{", "%7B").replace("}", "%7D").replace(" ", "%20")


# --- helpers -------------------------------------------------------------------------------


def _find(catalog: PaperLookup | None, key: str) -> Paper | None:
    return catalog.find(key) if catalog is not None else None


def manifest_authors(settings: Settings) -> dict[str, tuple[str, ...]]:
    """Author names per paper, from the arXiv metadata stored when the PDF was downloaded."""
    return {pid: e.authors for pid, e in load_manifest(settings).items() if e.authors}


def export(
    answer: Answer, fmt: str, catalog: PaperLookup | None, authors: Mapping[str, Sequence[str]] | None = None
) -> str:
    """One answer in a named format (`FORMATS`); what `paperqa ask --format` prints."""
    if fmt == "markdown":
        return to_markdown(answer, catalog)
    if fmt == "bibtex":
        return to_bibtex(answer, catalog, authors=authors)
    raise UsageError(f"unknown export format '{fmt}'; use one of: {', '.join(FORMATS)}")
