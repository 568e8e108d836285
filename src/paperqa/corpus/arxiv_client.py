"""Talking to arXiv and other hosts politely: one request per interval, retries with backoff on
the statuses worth retrying, clear messages when a host cannot be reached, and the metadata
(title, version, authors) of many ids in a few requests.
"""

from __future__ import annotations

import math
import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests

from ..errors import PaperqaError
from ..settings import Settings
from .params import CORPUS_PARAMS, CorpusParams
from .pdfcheck import PdfCheckError, PdfInfo, inspect_pdf

T = TypeVar("T")


RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


MAX_WAIT = 600.0  # a Retry-After longer than this means "come back later", not "wait"


MAX_BACKOFF = 300.0


ID_BATCH = 100  # ids per metadata request; keeps the query URL short


USER_AGENT = "paperqa/0.1 (offline reading-list QA; one request every 3 s)"


class OfflineError(PaperqaError, RuntimeError):
    """The source cannot be reached at all; raised before anything was changed."""


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


class Fetcher:
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
                    f"{what}: {failure.reason}; the server asks to wait {secs(delay)} s, try again later", n
                )
            self.say(f"{what}: {failure.reason}; retrying in {secs(delay)} s (try {n + 1} of {tries})")
            self.limiter.defer(delay)
        if host not in self.session.reached and not self.changed:
            raise OfflineError(self._offline_message(host, failure.reason))
        raise _GiveUp(
            f"{what}: {failure.reason} (gave up after {tries} tries); run `paperqa download` again later",
            tries,
        )

    def _classify(self, exc: Exception, url: str) -> _Failure:
        import arxiv  # late: network client: loaded only for a download

        host = urlsplit(url).netloc
        if isinstance(exc, arxiv.HTTPError):
            return status_failure(exc.status, url, self.session.last_response)
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
            detail = m.group(1) if m else short_reason(exc)
            return _Failure(f"the connection closed mid-transfer from {url} ({detail})", retryable=True)
        raise exc

    def _offline_message(self, host: str, reason: str) -> str:
        name = "arXiv" if host in self.arxiv_hosts else host
        return (
            f"{name} cannot be reached: {reason}; nothing was changed. Check the network connection, "
            "or import PDFs you already have with `paperqa add PATH`."
        )


def status_failure(status: int, url: str, resp: requests.Response | None) -> _Failure:
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
    from urllib3.exceptions import (  # late: network client: loaded only for a download
        NameResolutionError,
        NewConnectionError,
    )

    for e in _causes(exc):
        if isinstance(e, (NameResolutionError, socket.gaierror)):
            return True, f"the name {host.split(':')[0]} cannot be resolved (no DNS / no network)"
        if isinstance(e, ConnectionRefusedError) or "refused" in str(e).lower():
            return True, f"connection to {host} refused"
        if isinstance(e, NewConnectionError):
            return True, f"cannot connect to {host} ({short_reason(e)})"
    return False, short_reason(exc)


def secs(seconds: float) -> str:
    return f"{seconds:.1f}" if seconds < 10 else f"{seconds:.0f}"


def short_reason(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) <= 160 else text[:157] + "..."


@dataclass(frozen=True)
class Meta:
    title: str
    abstract: str
    latest_version: int
    authors: tuple[str, ...] = ()


def fetch_metadata(ids: list[str], fetcher: Fetcher, settings: Settings) -> dict[str, Meta | str]:
    """arXiv metadata per bare id, or the reason it could not be had."""
    import arxiv  # late: network client: loaded only for a download

    out: dict[str, Meta | str] = {}
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
            out[bare] = Meta(" ".join(r.title.split()), " ".join(r.summary.split()), version, names)
        for i in batch:
            out.setdefault(i, f"arXiv has no record of {i}; check the id in papers.toml")
    return out


def get_pdf(fetcher: Fetcher, url: str, tmp: Any, params: CorpusParams = CORPUS_PARAMS) -> PdfInfo:
    """One try: stream the body into the staged file (at most max_pdf_mb), then check it."""
    limit = int(fetcher.settings.max_pdf_mb * 2**20)
    try:
        with fetcher.session.get(url, stream=True) as resp:
            if resp.status_code != 200:
                raise status_failure(resp.status_code, url, resp)
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
        return inspect_pdf(tmp, params)
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
