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

import math
import re
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from .errors import PaperqaError
from .localpdf import TITLE_MATCH, catalog_title_score, check_identity, replacement_problem
from .manifest import (
    CorpusWriteError,
    PdfCheckError,
    PdfInfo,
    commit_pdf,
    inspect_pdf,
    is_verified,
    load_manifest,
    relative_file,
    sha256_file,
    staged_file,
    staging_run,
)
from .records import ManifestEntry, Paper
from .settings import Settings

T = TypeVar("T")

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
MAX_WAIT = 600.0  # a Retry-After longer than this means "come back later", not "wait"
MAX_BACKOFF = 300.0
ID_BATCH = 100  # ids per metadata request; keeps the query URL short
USER_AGENT = "paperqa/0.1 (offline reading-list QA; one request every 3 s)"


class OfflineError(PaperqaError, RuntimeError):
    """The source cannot be reached at all; raised before anything was changed."""


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


# --- rate limit and retries -------------------------------------------------------


class RateLimiter:
    """One request at a time, at least `interval` s after the previous one started and ended."""

    def __init__(self, interval: float, clock: Callable[[], float], sleeper: Callable[[float], None]):
        self.interval = interval
        self.clock = clock
        self.sleeper = sleeper
        self._not_before = -math.inf

    def wait(self) -> None:
        delay = self._not_before - self.clock()
        if delay > 0:
            self.sleeper(delay)

    def mark(self) -> None:
        """Call when a request starts and again when its body is read."""
        self._not_before = max(self._not_before, self.clock() + self.interval)

    def defer(self, seconds: float) -> None:
        """Hold the next request back (Retry-After, backoff)."""
        self._not_before = max(self._not_before, self.clock() + seconds)


class _Failure(Exception):
    """One try failed."""

    def __init__(self, reason: str, *, retryable: bool, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after


class _GiveUp(Exception):
    """A paper cannot be fetched now; the reason says why and what to do."""

    def __init__(self, reason: str, tries: int):
        super().__init__(reason)
        self.reason = reason
        self.tries = tries


class _Session(requests.Session):
    """requests session that waits on the limiter, applies a timeout and remembers hosts that answered."""

    def __init__(self, limiter: RateLimiter, timeout: float):
        super().__init__()
        self.limiter = limiter
        self.timeout = timeout
        self.headers["User-Agent"] = USER_AGENT
        self.reached: set[str] = set()
        self.last_response: requests.Response | None = None

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        self.limiter.wait()
        self.limiter.mark()
        try:
            resp = super().request(method, url, *args, **kwargs)
        finally:
            self.limiter.mark()
        self.reached.add(urlsplit(str(url)).netloc)
        self.last_response = resp
        return resp


class _Fetcher:
    """Runs one request at a time with backoff; tells "offline" apart from "this paper failed"."""

    def __init__(self, settings: Settings, limiter: RateLimiter, say: Callable[[str], None]):
        self.settings = settings
        self.limiter = limiter
        self.say = say
        self.session = _Session(limiter, settings.timeout)
        self.changed = False  # set once anything was written; after that, never OfflineError
        self.arxiv_hosts = {urlsplit(settings.arxiv_api_url).netloc, urlsplit(settings.arxiv_pdf_url).netloc}

    def run(self, what: str, url: str, attempt: Callable[[], T]) -> tuple[T, int]:
        """(result, tries) of `attempt`, retried on 429/5xx, timeouts and dropped connections."""
        host = urlsplit(url).netloc
        tries = self.settings.max_tries
        for n in range(1, tries + 1):
            try:
                return attempt(), n
            except _Failure as exc:
                failure = exc
            except Exception as exc:
                failure = self._classify(exc, url)
            if not failure.retryable:
                raise _GiveUp(f"{what}: {failure.reason}", n)
            if n == tries:
                break
            delay = max(
                failure.retry_after or 0.0, min(MAX_BACKOFF, self.settings.request_interval * 2 ** (n - 1))
            )
            if delay > MAX_WAIT:
                raise _GiveUp(
                    f"{what}: {failure.reason}; the server asks to wait {_secs(delay)} s, try again later", n
                )
            self.say(f"{what}: {failure.reason}; retrying in {_secs(delay)} s (try {n + 1} of {tries})")
            self.limiter.defer(delay)
        if host not in self.session.reached and not self.changed:
            raise OfflineError(self._offline_message(host, failure.reason))
        raise _GiveUp(
            f"{what}: {failure.reason} (gave up after {tries} tries); run `paperqa download` again later",
            tries,
        )

    def _classify(self, exc: Exception, url: str) -> _Failure:
        import arxiv

        host = urlsplit(url).netloc
        if isinstance(exc, arxiv.HTTPError):
            return _status_failure(exc.status, url, self.session.last_response)
        if isinstance(exc, arxiv.UnexpectedEmptyPageError):
            return _Failure(f"arXiv returned an empty page for {url}", retryable=True)
        if isinstance(exc, requests.Timeout):
            return _Failure(f"no answer from {host} within {self.settings.timeout:.0f} s", retryable=True)
        if isinstance(exc, requests.ConnectionError):
            unreachable, reason = _connection_reason(exc, host)
            if unreachable and host not in self.session.reached:
                if not self.changed:
                    raise OfflineError(self._offline_message(host, reason)) from exc
                return _Failure(f"{host} cannot be reached: {reason}", retryable=False)
            return _Failure(f"connection to {host} failed: {reason}", retryable=True)
        if isinstance(exc, requests.RequestException):
            # ChunkedEncodingError and friends: the connection closed mid-body.
            m = re.search(r"IncompleteRead\(([^()]*)\)", str(exc))
            detail = m.group(1) if m else _short(exc)
            return _Failure(f"the connection closed mid-transfer from {url} ({detail})", retryable=True)
        raise exc

    def _offline_message(self, host: str, reason: str) -> str:
        name = "arXiv" if host in self.arxiv_hosts else host
        return (
            f"{name} cannot be reached: {reason}; nothing was changed. Check the network connection, "
            "or import PDFs you already have with `paperqa add PATH`."
        )


def _status_failure(status: int, url: str, resp: requests.Response | None) -> _Failure:
    retry_after = _retry_after(resp.headers.get("Retry-After")) if resp is not None else None
    if status in RETRY_STATUS:
        return _Failure(f"HTTP {status} from {url}", retryable=True, retry_after=retry_after)
    hint = (
        "; check the link (arXiv id and version, or pdf_url) in papers.toml"
        if status in (400, 404, 410)
        else ""
    )
    return _Failure(f"HTTP {status} from {url}{hint}", retryable=False)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _causes(exc: BaseException) -> Iterator[BaseException]:
    stack, seen = [exc], set()
    while stack:
        e = stack.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        stack += [
            x
            for x in (e.__cause__, e.__context__, getattr(e, "reason", None))
            if isinstance(x, BaseException)
        ]
        stack += [a for a in e.args if isinstance(a, BaseException)]


def _connection_reason(exc: BaseException, host: str) -> tuple[bool, str]:
    """(unreachable, reason): DNS failure or refused connection mean the host is not there."""
    from urllib3.exceptions import NameResolutionError, NewConnectionError

    for e in _causes(exc):
        if isinstance(e, (NameResolutionError, socket.gaierror)):
            return True, f"the name {host.split(':')[0]} cannot be resolved (no DNS / no network)"
        if isinstance(e, ConnectionRefusedError) or "refused" in str(e).lower():
            return True, f"connection to {host} refused"
        if isinstance(e, NewConnectionError):
            return True, f"cannot connect to {host} ({_short(e)})"
    return False, _short(exc)


def _secs(seconds: float) -> str:
    return f"{seconds:.1f}" if seconds < 10 else f"{seconds:.0f}"


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) <= 160 else text[:157] + "..."


# --- arXiv metadata ---------------------------------------------------------------


@dataclass(frozen=True)
class _Meta:
    title: str
    abstract: str
    latest_version: int
    authors: tuple[str, ...] = ()


def _fetch_metadata(ids: list[str], fetcher: _Fetcher, settings: Settings) -> dict[str, _Meta | str]:
    """arXiv metadata per bare id, or the reason it could not be had."""
    import arxiv

    out: dict[str, _Meta | str] = {}
    for start in range(0, len(ids), ID_BATCH):
        batch = ids[start : start + ID_BATCH]
        # The arxiv package's own sleeps and retries are off: ours govern every request.
        client = arxiv.Client(page_size=len(batch), delay_seconds=0, num_retries=0)
        client.query_url_format = settings.arxiv_api_url.replace("{", "{{").replace("}", "}}") + "?{}"
        # Client keeps its requests session in `_session`; swapping in ours puts the API
        # calls under the same limiter, timeout and Retry-After handling as the PDFs.
        client._session = fetcher.session
        search = arxiv.Search(id_list=batch, max_results=len(batch))

        def query(c: arxiv.Client = client, s: arxiv.Search = search) -> list[arxiv.Result]:
            found = list(c.results(s))
            if not found:  # arXiv sometimes answers an overloaded request with an empty feed
                raise _Failure(f"arXiv returned no entries for {', '.join(s.id_list)}", retryable=True)
            return found

        try:
            results, _ = fetcher.run("arXiv metadata", settings.arxiv_api_url, query)
        except _GiveUp as exc:
            out.update({i: exc.reason for i in batch})
            continue
        for r in results:
            m = re.fullmatch(r"(.+?)v(\d+)", r.get_short_id())
            bare, version = (m.group(1), int(m.group(2))) if m else (r.get_short_id(), 0)
            names = tuple(" ".join(a.name.split()) for a in r.authors)
            out[bare] = _Meta(" ".join(r.title.split()), " ".join(r.summary.split()), version, names)
        for i in batch:
            out.setdefault(i, f"arXiv has no record of {i}; check the id in papers.toml")
    return out


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
        done.append(
            DownloadResult(
                p.paper_id,
                "present",
                note,
                file=old.file,
                url=old.source,
                version=old.version,
                title=old.title,
                catalog_title=old.catalog_title,
                title_match=old.title_match,
                title_score=old.title_score,
                bytes=old.bytes,
                pages=old.pages,
            )
        )
    return done, jobs


# --- download -------------------------------------------------------------------------


def download(
    papers: list[Paper],
    settings: Settings,
    *,
    only: list[str] | None = None,
    dry_run: bool = False,
    sleeper: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    console: Console | None = None,
    progress: bool = True,
) -> DownloadReport:
    """Fetch what is missing or failed; papers already verified are left alone.

    Raises OfflineError (with nothing changed) when the first request to a host fails
    to connect, UnknownPaperError when `only` names ids the catalog lacks. Ctrl-C is not
    raised: the report comes back with `interrupted=True` and the papers not reached as
    "pending", so the caller can show what was done and exit 130.
    """
    console = console or Console(stderr=True)
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
        _fetch_all(jobs, done, settings, sleeper, clock, console, progress)
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
    console: Console,
    progress: bool,
) -> None:
    """Metadata for every job, then each PDF; results are appended to `done` as they come."""
    limiter = RateLimiter(settings.request_interval, clock, sleeper)
    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not progress,
    )
    with bar:

        def say(msg: str) -> None:
            bar.console.print(f"[yellow]•[/yellow] {escape(msg)}", highlight=False)

        fetcher = _Fetcher(settings, limiter, say)
        task = bar.add_task("arXiv metadata", total=len(jobs))
        ids = [j.paper.arxiv_id for j in jobs if j.paper.arxiv_id]
        metas = _fetch_metadata(ids, fetcher, settings) if ids else {}
        with staging_run(settings):  # first removes the partial files of killed runs
            for job in jobs:
                p = job.paper
                bar.update(task, description=f"{p.paper_id}  {p.title[:48]}")
                meta = metas.get(p.arxiv_id) if p.arxiv_id else None
                done.append(_fetch_one(job, meta, fetcher, settings))
                bar.advance(task)


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


def _fetch_one(job: _Job, meta: _Meta | str | None, fetcher: _Fetcher, settings: Settings) -> DownloadResult:
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
            reason = (
                f"the catalog pins v{version} but arXiv's latest is v{meta.latest_version}; fix papers.toml"
            )
            return replace(base, reason=reason)
    url = _pdf_url(p, version, settings)
    dest = settings.pdf_dir / _file_name(p, version)
    base = replace(base, url=url, file=relative_file(settings, dest))
    try:
        with staged_file(dest) as tmp:
            info, tries = fetcher.run(p.paper_id, url, lambda: _get_pdf(fetcher, url, tmp))
            base = replace(base, tries=tries, pages=info.pages)
            identity = check_identity(p, info)
            if not identity.ok:
                reason = (
                    f"{url} gave another paper: {identity.problem}; nothing was stored. "
                    "Check the link in papers.toml"
                )
                shown = identity.shown_title or base.title
                return replace(
                    base, reason=reason, title=shown, title_match=False, title_score=identity.title_score
                )
            problem = replacement_problem(settings, job.old, info)
            if problem:
                return replace(base, reason=f"{url}: not stored: {problem}")
            entry = ManifestEntry(
                paper_id=p.paper_id,
                file=relative_file(settings, dest),
                version=version,
                bytes=tmp.stat().st_size,
                sha256=sha256_file(tmp),
                pages=info.pages,
                fetched_at=datetime.now(UTC).isoformat(timespec="seconds"),
                source=url,
                title=meta.title if meta is not None else p.title,
                catalog_title=p.title,
                title_match=True,
                title_score=round(identity.title_score, 3),
                abstract=meta.abstract if meta is not None else "",
                authors=meta.authors if meta is not None else (),
            )
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
    if meta is not None and catalog_title_score(meta.title, p) < TITLE_MATCH:
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


def _get_pdf(fetcher: _Fetcher, url: str, tmp: Any) -> PdfInfo:
    """One try: stream the body into the staged file (at most max_pdf_mb), then check it."""
    limit = int(fetcher.settings.max_pdf_mb * 2**20)
    try:
        with fetcher.session.get(url, stream=True) as resp:
            if resp.status_code != 200:
                raise _status_failure(resp.status_code, url, resp)
            length = resp.headers.get("Content-Length", "")
            if length.isdigit() and int(length) > limit:
                raise _too_big(url, f"it is {_mb(int(length))}", fetcher.settings)
            written = 0
            with tmp.open("wb") as f:
                for chunk in resp.iter_content(1 << 16):
                    written += len(chunk)
                    if written > limit:
                        raise _too_big(url, f"more than {_mb(limit)} arrived", fetcher.settings)
                    f.write(chunk)
    finally:
        fetcher.limiter.mark()
    try:
        return inspect_pdf(tmp)
    except PdfCheckError as exc:
        raise _Failure(f"{url} did not give a usable PDF: {exc.reason}", retryable=exc.transient) from exc


def _too_big(url: str, size: str, settings: Settings) -> _Failure:
    return _Failure(
        f"{url} is over the {settings.max_pdf_mb:g} MB limit for a PDF ({size}); nothing was stored. "
        "If the file is right, raise PAPERQA_MAX_PDF_MB",
        retryable=False,
    )


def _mb(n: int) -> str:
    return f"{n / 2**20:.2f} MB"


# --- report ---------------------------------------------------------------------------


def _downloaded_detail(r: DownloadResult) -> str:
    notes = [
        escape(n)
        for n in r.reason.split("; ")
        if n and not n.startswith(("title mismatch", "check the link"))
    ]
    if r.title_match is False:
        notes.append("[yellow]title mismatch (see below)[/yellow]")
    return " ".join([escape(f"{r.file} ({r.pages} pages)"), *notes])


def render_report(report: DownloadReport, console: Console) -> None:
    """A summary table: what was fetched, what was there, what failed and why, wrong titles."""
    if report.dry_run:
        planned = report.of("planned")
        table = Table(title=f"Dry run: would fetch {len(planned)} PDF(s); nothing was written")
        for col in ("paper", "version", "url", "file"):
            table.add_column(col, overflow="fold")
        for r in planned:
            version = f"v{r.version}" if r.version else ("latest" if "<latest>" in r.file else "")
            table.add_row(escape(r.paper_id), version, escape(r.url), escape(r.file))
        if planned:
            console.print(table)
        console.print(f"{len(report.of('present'))} already present, {len(report.of('skipped'))} not PDFs")
        return
    rows = [r for r in report.results if r.status in ("downloaded", "failed", "pending")]
    if rows:
        table = Table(title="Download")
        for col in ("paper", "status", "version", "detail"):
            table.add_column(col, overflow="fold")
        styles = {"downloaded": "green", "failed": "red", "pending": "yellow"}
        for r in rows:
            style = styles[r.status]
            detail = escape(r.reason) if r.status != "downloaded" else _downloaded_detail(r)
            version = f"v{r.version}" if r.version else ""
            table.add_row(escape(r.paper_id), f"[{style}]{r.status}[/{style}]", version, detail)
        console.print(table)
    if report.mismatches:
        table = Table(title="Title mismatches: the link may point at the wrong paper")
        for col in ("paper", "catalog title", "source title", "score"):
            table.add_column(col, overflow="fold")
        for r in report.mismatches:
            score = f"{r.title_score or 0:.2f}"
            table.add_row(escape(r.paper_id), escape(r.catalog_title), escape(r.title or "?"), score)
        console.print(table)
    counts = report.to_dict()["counts"]
    console.print(
        f"downloaded {counts['downloaded']}, already present {counts['present']}, "
        f"failed {counts['failed']}, not PDFs {counts['skipped']}, title mismatches {counts['title_mismatches']}"
    )
    if report.interrupted:
        console.print(
            f"Interrupted: {counts['pending']} paper(s) not fetched; what is listed as downloaded is "
            "kept. Run `paperqa download` again to fetch the rest."
        )
    elif not report.ok:
        console.print("Run `paperqa download` again to retry the failed papers; the others are kept.")
