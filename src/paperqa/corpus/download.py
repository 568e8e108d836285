"""Fetch the catalog's PDFs: metadata through the `arxiv` package, PDFs by URL.

arXiv's terms allow one request every 3 seconds over one connection, so a single
RateLimiter spaces every request this module makes, metadata and PDFs alike, and
every retry waits on it too. PDF URLs are always built from the id and the pinned
version (arXiv metadata may lack a pdf link, and the latest version is not the one
the catalog cites). A file enters the corpus only verified (whole, every page readable,
and page 1 showing the paper's own arXiv stamp and title: arXiv's metadata title alone
is no proof of the bytes), together with its manifest entry (both or neither), and it
replaces a verified copy only when it is at least as complete. Responses over
`max_pdf_mb` are refused. Ctrl-C ends the run with a report flagged `interrupted`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import PaperqaError
from ..progress import SILENT, Progress
from ..records import ManifestEntry, Paper
from ..settings import Settings
from .arxiv_client import (
    Fetcher,
    Meta,
    RateLimiter,
    _GiveUp,
    fetch_metadata,
    get_pdf,
)
from .identity import catalog_title_score, check_identity, replacement_problem
from .manifest import (
    CorpusWriteError,
    commit_pdf,
    is_verified,
    load_manifest,
    relative_file,
    staged_file,
    staging_run,
)
from .params import CORPUS_PARAMS, CorpusParams
from .pdfcheck import PdfInfo, sha256_file


class UnknownPaperError(PaperqaError, ValueError):
    """`only` names ids the catalog does not have."""


# --- results ----------------------------------------------------------------------


@dataclass(frozen=True)
class DownloadResult:
    paper_id: str
    status: str  # downloaded | present | failed | planned | skipped | pending (not reached: Ctrl-C)
    reason: str = ""
    file: str = ""  # relative to the data root
    url: str = ""
    version: int = 0
    latest_version: int = 0  # from arXiv metadata; 0 when not asked
    title: str = ""  # as the source gives it
    catalog_title: str = ""
    title_match: bool | None = None  # None: not checked
    title_score: float | None = None
    tries: int = 0  # PDF requests made
    bytes: int = 0
    pages: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


STATUSES = ("downloaded", "present", "failed", "planned", "skipped", "pending")


@dataclass(frozen=True)
class DownloadReport:
    """What a run did per paper; `interrupted` means Ctrl-C ended it (the CLI exits 130)."""

    results: tuple[DownloadResult, ...]
    dry_run: bool = False
    interrupted: bool = False

    def of(self, status: str) -> list[DownloadResult]:
        return [r for r in self.results if r.status == status]

    @property
    def mismatches(self) -> list[DownloadResult]:
        return [r for r in self.results if r.title_match is False]

    @property
    def ok(self) -> bool:
        return not self.of("failed") and not self.interrupted

    def to_dict(self) -> dict[str, Any]:
        counts = {s: len(self.of(s)) for s in STATUSES}
        return {
            "ok": self.ok,
            "dry_run": self.dry_run,
            "interrupted": self.interrupted,
            "counts": counts | {"title_mismatches": len(self.mismatches)},
            "results": [r.to_dict() for r in self.results],
        }


# --- planning -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    paper: Paper
    note: str = ""  # why it is fetched again
    old: ManifestEntry | None = None


def _select(papers: list[Paper], only: list[str] | None) -> list[Paper]:
    if not only:
        return list(papers)
    keys: dict[str, Paper] = {}
    for p in papers:
        for k in (p.paper_id, p.arxiv_id, p.versioned_id):
            if k:
                keys[k.lower()] = p
    found = {k: keys.get(k) or keys.get(re.sub(r"v\d+$", "", k)) for k in (x.strip().lower() for x in only)}
    unknown = sorted(k for k, p in found.items() if p is None)
    if unknown:
        raise UnknownPaperError(f"unknown paper id(s): {', '.join(unknown)}; `paperqa catalog` lists the ids")
    chosen = {p.paper_id for p in found.values() if p is not None}
    return [p for p in papers if p.paper_id in chosen]


def _file_name(paper: Paper, version: int) -> str:
    return f"{paper.paper_id}v{version}.pdf" if paper.arxiv_id else f"{paper.paper_id}.pdf"


def _pdf_url(paper: Paper, version: int, settings: Settings) -> str:
    if paper.arxiv_id:
        return f"{settings.arxiv_pdf_url.rstrip('/')}/{paper.arxiv_id}v{version}"
    return paper.pdf_url


def _plan(
    papers: list[Paper], entries: dict[str, ManifestEntry], settings: Settings
) -> tuple[list[DownloadResult], list[_Job]]:
    done: list[DownloadResult] = []
    jobs: list[_Job] = []
    for p in papers:
        if p.kind != "paper" or not (p.arxiv_id or p.pdf_url):
            where = p.url or "no URL"
            done.append(DownloadResult(p.paper_id, "skipped", f"a {p.kind}, not a paper PDF ({where})"))
            continue
        old = entries.get(p.paper_id)
        if old is None:
            jobs.append(_Job(p))
            continue
        if not is_verified(settings, old):
            jobs.append(_Job(p, f"{old.file} is missing or changed since it was verified", old))
            continue
        if p.arxiv_id and p.version and old.version != p.version and not old.matched_by:
            jobs.append(_Job(p, f"the catalog now pins v{p.version}; the corpus has v{old.version}", old))
            continue
        note = ""
        if p.arxiv_id and p.version and old.version != p.version:
            note = f"your copy is v{old.version}; the catalog cites v{p.version}"
        kept = {name: getattr(old, name) for name in _KEPT_FIELDS}
        done.append(DownloadResult(p.paper_id, "present", note, url=old.source, **kept))
    return done, jobs


# what a paper already in the corpus reports of its manifest entry, under the same names
_KEPT_FIELDS = ("file", "version", "title", "catalog_title", "title_match", "title_score", "bytes", "pages")


# --- download -------------------------------------------------------------------------


def download(
    papers: list[Paper],
    settings: Settings,
    *,
    only: list[str] | None = None,
    dry_run: bool = False,
    sleeper: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    progress: Progress = SILENT,
    params: CorpusParams = CORPUS_PARAMS,
) -> DownloadReport:
    """Fetch what is missing or failed; papers already verified are left alone.

    Raises OfflineError (with nothing changed) when the first request to a host fails
    to connect, UnknownPaperError when `only` names ids the catalog lacks. Ctrl-C is not
    raised: the report comes back with `interrupted=True` and the papers not reached as
    "pending", so the caller can show what was done and exit 130.
    """
    selected = _select(papers, only)
    done, jobs = _plan(selected, load_manifest(settings), settings)
    if dry_run:
        planned = [_planned(j, settings) for j in jobs]
        return DownloadReport(_in_order(selected, done + planned), dry_run=True)
    if not jobs:
        if settings.pdf_dir.is_dir():
            with staging_run(settings):  # still clear what killed runs left
                pass
        return DownloadReport(_in_order(selected, done))
    try:
        _fetch_all(jobs, done, settings, sleeper, clock, progress, params)
    except KeyboardInterrupt:  # Ctrl-C: keep what is done, report it, let the caller exit 130
        reached = {r.paper_id for r in done}
        done += [
            DownloadResult(
                j.paper.paper_id, "pending", "not fetched: interrupted", catalog_title=j.paper.title
            )
            for j in jobs
            if j.paper.paper_id not in reached
        ]
        return DownloadReport(_in_order(selected, done), interrupted=True)
    return DownloadReport(_in_order(selected, done))


def _fetch_all(
    jobs: list[_Job],
    done: list[DownloadResult],
    settings: Settings,
    sleeper: Callable[[float], None],
    clock: Callable[[], float],
    progress: Progress,
    params: CorpusParams,
) -> None:
    """Metadata for every job, then each PDF; results are appended to `done` as they come."""
    limiter = RateLimiter(settings.request_interval, clock, sleeper)
    fetcher = Fetcher(settings, limiter, progress.note)
    progress.task("arXiv metadata", total=len(jobs))
    ids = [j.paper.arxiv_id for j in jobs if j.paper.arxiv_id]
    metas = fetch_metadata(ids, fetcher, settings) if ids else {}
    with staging_run(settings):  # first removes the partial files of killed runs
        for job in jobs:
            p = job.paper
            progress.task(f"{p.paper_id}  {p.title[:48]}")
            meta = metas.get(p.arxiv_id) if p.arxiv_id else None
            done.append(_fetch_one(job, meta, fetcher, settings, params))
            progress.advance()


def _in_order(papers: list[Paper], results: list[DownloadResult]) -> tuple[DownloadResult, ...]:
    rank = {p.paper_id: i for i, p in enumerate(papers)}
    return tuple(sorted(results, key=lambda r: rank.get(r.paper_id, len(rank))))


def _planned(job: _Job, settings: Settings) -> DownloadResult:
    p = job.paper
    version = p.version if p.arxiv_id else 0
    name = _file_name(p, version) if version or not p.arxiv_id else f"{p.paper_id}v<latest>.pdf"
    url = (
        _pdf_url(p, version, settings)
        if version or not p.arxiv_id
        else f"{settings.arxiv_pdf_url}/{p.arxiv_id}"
    )
    file = relative_file(settings, settings.pdf_dir / name)
    return DownloadResult(
        p.paper_id, "planned", job.note, file=file, url=url, version=version, catalog_title=p.title
    )


def _fetch_one(
    job: _Job, meta: Meta | str | None, fetcher: Fetcher, settings: Settings, params: CorpusParams
) -> DownloadResult:
    p = job.paper
    base = DownloadResult(p.paper_id, "failed", catalog_title=p.title)
    if isinstance(meta, str):
        return replace(base, reason=meta)
    version = 0
    if p.arxiv_id:
        if meta is None:
            return replace(base, reason=f"no arXiv metadata for {p.arxiv_id}")
        version = p.version or meta.latest_version
        base = replace(base, latest_version=meta.latest_version, version=version, title=meta.title)
        if meta.latest_version and version > meta.latest_version:
            pinned = f"the catalog pins v{version} but arXiv's latest is v{meta.latest_version}"
            return replace(base, reason=f"{pinned}; fix papers.toml")
    url = _pdf_url(p, version, settings)
    dest = settings.pdf_dir / _file_name(p, version)
    base = replace(base, url=url, file=relative_file(settings, dest))
    try:
        with staged_file(dest) as tmp:
            info, tries = fetcher.run(p.paper_id, url, lambda: get_pdf(fetcher, url, tmp, params))
            base = replace(base, tries=tries, pages=info.pages)
            identity = check_identity(p, info, params)
            if not identity.ok:
                reason = (
                    f"{url} gave another paper: {identity.problem}; nothing was stored. "
                    "Check the link in papers.toml"
                )
                shown = identity.shown_title or base.title
                return replace(
                    base, reason=reason, title=shown, title_match=False, title_score=identity.title_score
                )
            problem = replacement_problem(settings, job.old, info, params)
            if problem:
                return replace(base, reason=f"{url}: not stored: {problem}")
            entry = _entry(p, base.file, version, tmp, info, url, meta, identity.title_score)
            commit_pdf(settings, tmp, dest, entry, replaces=job.old)
            fetcher.changed = True
    except _GiveUp as exc:
        return replace(base, reason=exc.reason, tries=exc.tries)
    except CorpusWriteError as exc:
        return replace(base, reason=str(exc))
    except OSError as exc:
        return replace(
            base, reason=f"cannot write {dest}: {exc.strerror or exc}; check the disk and permissions"
        )
    notes = [job.note] if job.note else []
    if meta is not None and catalog_title_score(meta.title, p) < params.title_match:
        notes.append(f"arXiv's metadata title is '{meta.title}'; the PDF itself shows the catalog title")
    return replace(
        base,
        status="downloaded",
        reason="; ".join(notes),
        title=entry.title,
        title_match=True,
        title_score=entry.title_score,
        bytes=entry.bytes,
    )


def _entry(
    p: Paper, file: str, version: int, tmp: Path, info: PdfInfo, url: str, meta: Meta | None, score: float
) -> ManifestEntry:
    """The manifest entry of a fetched PDF that passed the identity check."""
    return ManifestEntry(
        paper_id=p.paper_id,
        file=file,
        version=version,
        bytes=tmp.stat().st_size,
        sha256=sha256_file(tmp),
        pages=info.pages,
        fetched_at=datetime.now(UTC).isoformat(timespec="seconds"),
        source=url,
        title=meta.title if meta is not None else p.title,
        catalog_title=p.title,
        title_match=True,
        title_score=round(score, 3),
        abstract=meta.abstract if meta is not None else "",
        authors=meta.authors if meta is not None else (),
    )
