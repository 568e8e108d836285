"""Import PDFs the user already has, and the title/stamp matching that needs.

A file is matched to a catalog paper by, in order: the arXiv id or slug in its file
name, the arXiv stamp printed in the margin of page 1, the catalog title found on
page 1 (or in the PDF's metadata title). A file that matches nothing is kept as the
user's own extra paper, and so is one whose stamp names an arXiv id the catalog does
not have: a stamp outranks a title that merely occurs on page 1.

`check_identity` and `replacement_problem` are the one check `add` and `download` share:
a file enters as a catalog paper only when page 1 proves it is that paper (stamp and
title), and it replaces a verified copy only when it is at least as complete.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..records import ManifestEntry, Paper
from ..settings import Settings
from .identity import (
    Identity,
    Match,
    check_identity,
    guess_title,
    match_filename,
    match_pdf,
    replacement_problem,
    slugify,
    verified_copy,
    without_running_headers,
)
from .manifest import (
    CorpusWriteError,
    commit_pdf,
    entry_path,
    load_manifest,
    relative_file,
    staged_file,
    staging_run,
)
from .params import CORPUS_PARAMS, CorpusParams
from .pdfcheck import PdfCheckError, PdfInfo, inspect_pdf, sha256_file

# --- add ----------------------------------------------------------------------


@dataclass(frozen=True)
class AddResult:
    file: str  # the path the user gave
    paper_id: str | None  # catalog id; None for the user's own extra paper
    matched_by: str  # filename | stamp | title | none
    status: str  # added | present | failed | skipped
    reason: str = ""
    extra_id: str = ""  # "extra-<slug>" for an extra paper
    title: str = ""
    version: int = 0
    stored: str = ""  # corpus file, relative to the data root
    title_match: bool = True

    def to_json(self) -> dict[str, Any]:
        """Every field, in order; an empty extra_id or stored is null."""
        return asdict(self) | {"extra_id": self.extra_id or None, "stored": self.stored or None}


def collect_pdfs(paths: list[Path]) -> list[Path]:
    """The files to import: each file given, and every *.pdf directly inside each folder given."""
    out: list[Path] = []
    for p in paths:
        p = Path(p).expanduser()
        if p.is_dir():
            out += sorted(q for q in p.iterdir() if q.is_file() and q.suffix.lower() == ".pdf")
        else:
            out.append(p)
    return out


def add_pdfs(
    paths: list[Path], papers: list[Paper], settings: Settings, params: CorpusParams = CORPUS_PARAMS
) -> list[AddResult]:
    """Import PDFs the user has into the corpus; a bad file is reported and the rest go on."""
    results: list[AddResult] = []
    taken: dict[str, str] = {}  # paper key -> file that claimed it in this run
    with staging_run(settings):
        for given in paths:
            files = collect_pdfs([given])
            if not files:
                results.append(
                    AddResult(str(given), None, "none", "failed", f"{given}: the folder holds no *.pdf files")
                )
            for path in files:
                result = _add_one(path, papers, settings, taken, params)
                if result.status in ("added", "present"):
                    taken[result.paper_id or result.extra_id] = str(path)
                results.append(result)
    return results


def _add_one(
    path: Path, papers: list[Paper], settings: Settings, taken: dict[str, str], params: CorpusParams
) -> AddResult:
    shown = str(path)
    if not path.is_file():
        return AddResult(shown, None, "none", "failed", f"{path}: no such file")
    try:
        info = inspect_pdf(path, params)
    except PdfCheckError as exc:
        named = match_filename(path, [p for p in papers if p.kind == "paper"])
        pid = named.paper.paper_id if named and named.paper else None
        reason = f"{path}: {exc.reason}; the file was not imported"
        return AddResult(shown, pid, "filename" if pid else "none", "failed", reason)
    match = match_pdf(path, info, papers, params)
    paper = match.paper
    key, version, dest_name, identity, title = _destination(path, info, match, params)
    pid, extra_id = (paper.paper_id, "") if paper else (None, key)
    base = AddResult(shown, pid, match.matched_by, "failed", extra_id=extra_id, title=title, version=version)
    base = _with(base, title_match=identity.ok)
    if key in taken:
        return _with(base, status="skipped", reason=f"same paper as {taken[key]}, imported just before")
    sha = sha256_file(path)
    old = load_manifest(settings).get(key)
    if old is not None and old.sha256 == sha and entry_path(settings, old).is_file():
        reason = "; ".join(n for n in (match.note, "already in the corpus") if n)
        return _with(base, status="present", reason=reason, stored=old.file)
    if not identity.ok:
        way = _way_out(settings, old, match, key, params)
        return _with(base, reason=f"{path}: not imported: {identity.problem}; {way}")
    problem = replacement_problem(settings, old, info, params)
    if problem:
        return _with(base, reason=f"{path}: not imported: {problem}")
    dest = settings.pdf_dir / dest_name
    entry = ManifestEntry(
        paper_id=key,
        file=relative_file(settings, dest),
        version=version,
        bytes=path.stat().st_size,
        sha256=sha,
        pages=info.pages,
        fetched_at=datetime.now(UTC).isoformat(timespec="seconds"),
        source=str(path.resolve()),
        title=title,
        catalog_title=paper.title if paper else "",
        title_match=True,
        title_score=identity.title_score,
        matched_by=match.matched_by,
        extra=paper is None,
    )
    failure = _copy_in(path, dest, entry, old, settings)
    if failure:
        return _with(base, reason=f"{path}: {failure}")
    notes = [n for n in (match.note,) if n]
    if old is not None and old.file != entry.file:
        notes.append(f"replaced the earlier copy {old.file}")
    return _with(base, status="added", reason="; ".join(notes), stored=entry.file)


def _way_out(
    settings: Settings, old: ManifestEntry | None, match: Match, key: str, params: CorpusParams
) -> str:
    """What to do about a PDF whose pages are not the paper it was matched to."""
    if verified_copy(settings, old, params) is not None and old is not None:
        return f"the verified copy {old.file} is kept"
    if match.matched_by == "filename":
        return f"if it is another paper, rename it so its name does not say {key}"
    return "check that it is the right file"


def _destination(
    path: Path, info: PdfInfo, match: Match, params: CorpusParams
) -> tuple[str, int | None, str, Identity, str]:
    """(key, version, file name, identity check, title) of a matched PDF, or of one of the user's own."""
    paper = match.paper
    if paper is None:
        title = guess_title(without_running_headers(path, info)) or path.stem
        key = "extra-" + (slugify(title) or slugify(path.stem) or sha256_file(path)[:12])
        return key, match.version, f"{key}.pdf", Identity("", 1.0, title), title
    key = paper.paper_id
    version = match.version or paper.version
    dest_name = f"{key}v{version}.pdf" if paper.arxiv_id and version else f"{key}.pdf"
    identity = check_identity(paper, info, params)
    return key, version, dest_name, identity, identity.shown_title or paper.title


def _copy_in(
    path: Path, dest: Path, entry: ManifestEntry, old: ManifestEntry | None, settings: Settings
) -> str:
    """Copy the PDF into the corpus and record it; returns why it failed, or "" when it is in."""
    try:
        with staged_file(dest) as tmp:
            shutil.copyfile(path, tmp)
            if sha256_file(tmp) != entry.sha256:
                raise PdfCheckError(path, "the file changed while it was being copied; try again")
            commit_pdf(settings, tmp, dest, entry, replaces=old)
    except CorpusWriteError as exc:
        return str(exc)
    except (OSError, PdfCheckError) as exc:
        return exc.reason if isinstance(exc, PdfCheckError) else f"cannot copy into {settings.pdf_dir}: {exc}"
    return ""


def _with(r: AddResult, **changes: Any) -> AddResult:
    return replace(r, **changes)
