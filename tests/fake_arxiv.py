"""A real HTTP stand-in for arXiv on 127.0.0.1, for download tests without the internet.

Serves an Atom feed at /api/query?id_list=... that the `arxiv` package parses, PDFs at
/pdf/<id>v<N> and direct PDFs at /direct/<name>. Each path can be told to misbehave
for its next requests (429 with Retry-After, 503, a connection dropped mid-body, an
HTML page with status 200, a truncated PDF, a slow answer, other bytes than the
paper's, a body without Content-Length), and every request is
recorded with the time on the clock the test hands in, so tests can check spacing.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from fpdf import FPDF


def make_pdf(
    title: str,
    *,
    stamp: str | None = None,
    pages: int = 2,
    meta_title: str | None = None,
    body: str = "Alice Author, Bob Writer\nExample University\n\nAbstract\nWe study a problem and report results.",
    password: str | None = None,
) -> bytes:
    """A small real PDF whose first page shows `title` (and the arXiv stamp, rotated in the margin)."""
    pdf = FPDF()
    if meta_title is not None:
        pdf.set_title(meta_title)
    pdf.add_page()
    pdf.set_font("Helvetica", style="B", size=16)
    pdf.multi_cell(0, 9, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    pdf.multi_cell(0, 6, body, new_x="LMARGIN", new_y="NEXT")
    if stamp:
        with pdf.rotation(90, x=8, y=220):
            pdf.text(8, 220, stamp)
    for n in range(2, pages + 1):
        pdf.add_page()
        pdf.multi_cell(0, 6, f"Page {n}. More text about the method and the experiments.")
    if password:
        pdf.set_encryption(owner_password=password + "-owner", user_password=password)
    return bytes(pdf.output())


@dataclass
class FakePaper:
    arxiv_id: str
    title: str  # the title arXiv's metadata gives
    versions: int = 1  # the latest version; every version 1..versions is served
    abstract: str = "We propose a method and show that it works."
    pdf_link: bool = True  # False: the Atom entry has no pdf link, so Result.pdf_url is None
    pdf_title: str | None = None  # title printed on page 1 (default: `title`)


@dataclass(frozen=True)
class Hit:
    time: float
    path: str
    query: dict[str, list[str]]
    action: str  # "" when served normally


@dataclass
class _State:
    papers: dict[str, FakePaper]
    direct: dict[str, bytes]
    clock: Callable[[], float]
    actions: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    hits: list[Hit] = field(default_factory=list)
    pdf_cache: dict[str, bytes] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class FakeArxiv:
    """`with FakeArxiv([...]) as arx:` starts the server; `arx.api_url`, `arx.pdf_url` point at it."""

    def __init__(
        self,
        papers: Iterable[FakePaper] = (),
        direct: dict[str, bytes] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.state = _State({p.arxiv_id: p for p in papers}, dict(direct or {}), clock)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle
    def __enter__(self) -> FakeArxiv:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.state = self.state  # type: ignore[attr-defined]
        server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    @property
    def base(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_url(self) -> str:
        return f"{self.base}/api/query"

    @property
    def pdf_url(self) -> str:
        return f"{self.base}/pdf"

    def direct_url(self, name: str) -> str:
        return f"{self.base}/direct/{name}"

    # --- control
    def misbehave(self, path: str, *actions: tuple[Any, ...] | str) -> None:
        """Queue actions for the next requests to `path`, one each, then serve normally.

        ("status", code, {headers}) | "drop" (Content-Length sent, body cut) | "html" |
        "truncate" (a cut PDF with a matching Content-Length) | ("slow", seconds) |
        ("body", bytes) (served instead of the paper, status 200) | ("stream", bytes) (the
        same without Content-Length: the body ends when the connection closes).
        """
        with self.state.lock:
            queue = self.state.actions.setdefault(path, [])
            queue += [a if isinstance(a, tuple) else (a,) for a in actions]

    def always(self, path: str, action: tuple[Any, ...] | str, times: int = 50) -> None:
        self.misbehave(path, *([action] * times))

    def hits(self, prefix: str = "") -> list[Hit]:
        with self.state.lock:
            return [h for h in self.state.hits if h.path.startswith(prefix)]

    def pdf_bytes(self, arxiv_id: str, version: int) -> bytes:
        return _pdf_for(self.state, arxiv_id, version)


def _pdf_for(state: _State, arxiv_id: str, version: int) -> bytes:
    key = f"{arxiv_id}v{version}"
    with state.lock:
        if key not in state.pdf_cache:
            paper = state.papers[arxiv_id]
            stamp = f"arXiv:{key} [cs.CL] 1 Jun 2023"
            state.pdf_cache[key] = make_pdf(paper.pdf_title or paper.title, stamp=stamp)
        return state.pdf_cache[key]


def _feed(state: _State, ids: list[str]) -> bytes:
    entries = []
    for i in ids:
        p = state.papers.get(i.split("v")[0] if "v" in i else i)
        if p is None:
            continue
        vid = f"{p.arxiv_id}v{p.versions}"
        pdf_link = (
            f'<link title="pdf" href="https://arxiv.org/pdf/{vid}" rel="related" type="application/pdf"/>'
            if p.pdf_link
            else ""
        )
        entries.append(
            f"""<entry>
    <id>http://arxiv.org/abs/{vid}</id>
    <updated>2023-06-01T12:00:00Z</updated>
    <published>2023-01-15T12:00:00Z</published>
    <title>{escape(p.title)}</title>
    <summary>  {escape(p.abstract)}
    </summary>
    <author><name>Alice Author</name></author>
    <author><name>Bob Writer</name></author>
    <link href="https://arxiv.org/abs/{vid}" rel="alternate" type="text/html"/>
    {pdf_link}
    <arxiv:primary_category term="cs.CL" scheme="http://arxiv.org/schemas/atom"/>
    <category term="cs.CL" scheme="http://arxiv.org/schemas/atom"/>
  </entry>"""
        )
    body = f"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/"
      xmlns:arxiv="http://arxiv.org/schemas/atom">
  <id>https://arxiv.org/api/fake</id>
  <title>arXiv Query: id_list={escape(",".join(ids))}</title>
  <updated>2023-06-01T12:00:00Z</updated>
  <link href="https://arxiv.org/api/query" rel="self" type="application/atom+xml"/>
  <opensearch:itemsPerPage>{len(ids)}</opensearch:itemsPerPage>
  <opensearch:totalResults>{len(entries)}</opensearch:totalResults>
  <opensearch:startIndex>0</opensearch:startIndex>
  {"".join(entries)}
</feed>
"""
    return body.encode("utf-8")


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakeArxiv/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        state: _State = self.server.state  # type: ignore[attr-defined]
        path, _, query = self.path.partition("?")
        with state.lock:
            queue = state.actions.get(path) or []
            action = queue.pop(0) if queue else ()
            state.hits.append(Hit(state.clock(), path, parse_qs(query), action[0] if action else ""))
        if action and action[0] == "status":
            headers = action[2] if len(action) > 2 else {}
            return self._send(action[1], b"<html><body>busy</body></html>", "text/html", headers)
        if action and action[0] == "slow":
            time.sleep(action[1])
        if action and action[0] == "html":
            return self._send(
                200,
                b"<!DOCTYPE html><html><body>Please wait while we check your browser</body></html>",
                "text/html",
            )
        if action and action[0] == "body":
            return self._send(200, action[1], "application/pdf")
        if action and action[0] == "stream":
            self.send_response(200)
            self.send_header("Content-Type", "application/pdf")
            self.send_header("Connection", "close")
            self.end_headers()
            with contextlib.suppress(OSError):
                for i in range(0, len(action[1]), 1 << 14):
                    self.wfile.write(action[1][i : i + (1 << 14)])
            self.close_connection = True
            return

        body = self._body(state, path, query)
        if body is None:
            return self._send(404, b"not found", "text/plain")
        data, ctype = body
        if action and action[0] == "truncate":
            data = data[: len(data) // 2]
        if action and action[0] == "drop":
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 3])
            self.wfile.flush()
            self.close_connection = True
            return
        self._send(200, data, ctype)

    def _body(self, state: _State, path: str, query: str) -> tuple[bytes, str] | None:
        if path == "/api/query":
            ids = [i for i in ",".join(parse_qs(query).get("id_list", [""])).split(",") if i]
            return _feed(state, ids), "application/atom+xml; charset=utf-8"
        if path.startswith("/pdf/"):
            vid = path.removeprefix("/pdf/")
            arxiv_id, _, version = vid.rpartition("v")
            paper = state.papers.get(arxiv_id)
            if paper is None or not version.isdigit() or not 1 <= int(version) <= paper.versions:
                return None
            return _pdf_for(state, arxiv_id, int(version)), "application/pdf"
        if path.startswith("/direct/"):
            data = state.direct.get(path.removeprefix("/direct/"))
            return (data, "application/pdf") if data is not None else None
        return None

    def _send(self, code: int, data: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(data)


def write_pdf(path: Path, title: str, **kwargs: Any) -> Path:
    path.write_bytes(make_pdf(title, **kwargs))
    return path
