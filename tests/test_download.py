"""The downloader against a real HTTP server on 127.0.0.1 that plays arXiv (tests/fake_arxiv.py).

Time is a fake clock shared by the downloader (through its sleeper) and the server (which
stamps each request with it), so spacing and Retry-After are checked exactly and fast.
"""

from __future__ import annotations

import errno
import io
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from rich.console import Console

import paperqa.corpus.manifest
from fake_arxiv import FakeArxiv, FakePaper, make_pdf
from paperqa.app.progress import rich_progress
from paperqa.app.render import render_report
from paperqa.corpus.arxiv_client import OfflineError
from paperqa.corpus.download import UnknownPaperError, download
from paperqa.corpus.manifest import load_manifest, staging_run
from paperqa.corpus.pdfcheck import sha256_file
from paperqa.records import Paper
from paperqa.settings import Settings

INTERVAL = 3.0

QLORA = "QLoRA: Efficient Finetuning of Quantized LLMs"
ATTN = "Attention Is All You Need"
LORA = "LoRA: Low-Rank Adaptation of Large Language Models"
COT = "Chain-of-Thought Prompting Elicits Reasoning in Large Language Models"
GPT1 = "Improving Language Understanding by Generative Pre-Training"


class FakeClock:
    """Monotonic time that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def arx(clock: FakeClock):
    papers = [
        FakePaper("2305.14314", QLORA),
        FakePaper("1706.03762", ATTN, versions=7),
        FakePaper("2106.09685", LORA, versions=2, pdf_link=False),  # Result.pdf_url is None
        # A wrong link: the catalog's id for CoT points at some other paper.
        FakePaper("2201.11903", "Graph Neural Networks for Molecular Widgets"),
    ]
    gpt1 = make_pdf("Improving Language Understanding\nby Generative Pre-Training")
    with FakeArxiv(papers, direct={"gpt1.pdf": gpt1}, clock=clock) as server:
        yield server


def catalog(arx: FakeArxiv) -> list[Paper]:
    return [
        Paper("2305.14314", QLORA, arxiv_id="2305.14314", version=1, aliases=("QLoRA",)),
        Paper("1706.03762", ATTN, arxiv_id="1706.03762", version=5),
        Paper("2106.09685", LORA, arxiv_id="2106.09685", version=2),
        Paper("2201.11903", COT, arxiv_id="2201.11903", version=1),
        Paper("gpt1", f"GPT-1: {GPT1}", pdf_url=arx.direct_url("gpt1.pdf")),
        Paper("blog-post", "A blog post", kind="blog", url="https://example.com/post"),
    ]


def settings_for(tmp_path: Path, arx: FakeArxiv, **kw) -> Settings:
    base = dict(arxiv_api_url=arx.api_url, arxiv_pdf_url=arx.pdf_url, request_interval=INTERVAL, max_tries=4)
    return Settings(home=tmp_path, **(base | kw))


def run(papers, settings, clock: FakeClock, **kw):
    return download(papers, settings, sleeper=clock.sleep, clock=clock, **kw)


def leftovers(settings: Settings) -> list[Path]:
    """Anything half-done: staged temp files anywhere under the corpus folder."""
    return [p for p in settings.corpus_dir.rglob("*") if p.name.endswith(".part")]


def assert_spaced(arx: FakeArxiv, interval: float = INTERVAL) -> None:
    times = [h.time for h in arx.hits()]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert all(g >= interval - 1e-9 for g in gaps), gaps


def test_downloads_verified_files_into_place(tmp_path, arx, clock):
    s = settings_for(tmp_path, arx)
    report = run(catalog(arx), s, clock)

    status = {r.paper_id: r.status for r in report.results}
    assert status == {
        "2305.14314": "downloaded",
        "1706.03762": "downloaded",
        "2106.09685": "downloaded",
        "2201.11903": "failed",  # the wrong link: its PDF is another paper (see below)
        "gpt1": "downloaded",
        "blog-post": "skipped",
    }
    names = sorted(p.name for p in s.pdf_dir.glob("*.pdf"))
    assert names == ["1706.03762v5.pdf", "2106.09685v2.pdf", "2305.14314v1.pdf", "gpt1.pdf"]
    assert leftovers(s) == []

    # One metadata request for all ids, with max_results set; PDFs from id + pinned version.
    api = arx.hits("/api/query")
    assert len(api) == 1
    assert api[0].query["id_list"] == ["2305.14314,1706.03762,2106.09685,2201.11903"]
    assert api[0].query["max_results"] == ["4"]
    assert [h.path for h in arx.hits("/pdf/")] == [
        "/pdf/2305.14314v1",
        "/pdf/1706.03762v5",  # pinned v5, although arXiv's latest is v7
        "/pdf/2106.09685v2",  # the feed gave no pdf link for this one
        "/pdf/2201.11903v1",
    ]
    assert_spaced(arx)

    manifest = load_manifest(s)
    e = manifest["1706.03762"]
    assert (e.version, e.pages, e.title, e.title_match) == (5, 2, ATTN, True)
    assert e.sha256 == sha256_file(s.home / e.file) and e.bytes == (s.home / e.file).stat().st_size
    assert e.abstract.startswith("We propose") and e.source.endswith("/pdf/1706.03762v5")
    assert e.fetched_at.endswith("+00:00")
    by_id = {r.paper_id: r for r in report.results}
    assert by_id["1706.03762"].latest_version == 7
    # gpt1 is not on arXiv: its title is checked against page 1 of the PDF.
    assert manifest["gpt1"].title_match is True and manifest["gpt1"].version == 0
    assert json.loads(s.manifest_file.read_text())["gpt1"]["file"] == "corpus/pdfs/gpt1.pdf"


def test_wrong_link_is_flagged_not_hidden(tmp_path, arx, clock):
    s = settings_for(tmp_path, arx)
    report = run(catalog(arx), s, clock)
    [bad] = report.mismatches
    assert bad.paper_id == "2201.11903" and bad.title.startswith("Graph Neural") and bad.title_score < 0.5
    assert bad.status == "failed" and "papers.toml" in bad.reason
    assert "2201.11903" not in load_manifest(s) and not (s.pdf_dir / "2201.11903v1.pdf").exists()
    out = io.StringIO()
    render_report(report, Console(file=out, width=200))
    text = out.getvalue()
    assert "Title mismatches" in text and "Graph Neural Networks" in text and "title mismatches 1" in text


@pytest.mark.parametrize(
    ("served", "why"),
    [
        pytest.param(
            make_pdf(ATTN, stamp="arXiv:1706.03762v5  [cs.CL]  6 Dec 2017"),
            "page 1 says arXiv:1706.03762",
            id="other-stamp",
        ),
        pytest.param(make_pdf(COT), "does not show the catalog title", id="other-title"),
    ],
)
def test_wrong_bytes_behind_the_right_metadata_are_refused(tmp_path, arx, clock, served, why):
    s = settings_for(tmp_path, arx)
    arx.misbehave("/pdf/2106.09685v2", ("body", served))  # arXiv's title for the id is right
    [r] = run(catalog(arx)[2:3], s, clock).results
    assert r.status == "failed" and r.title_match is False and r.tries == 1
    assert why in r.reason and "nothing was stored" in r.reason
    assert load_manifest(s) == {} and list(s.pdf_dir.glob("*.pdf")) == [] and leftovers(s) == []


def stored_state(s: Settings) -> tuple[bytes, dict[str, bytes]]:
    return s.manifest_file.read_bytes(), {p.name: p.read_bytes() for p in sorted(s.pdf_dir.glob("*.pdf"))}


def test_a_less_complete_new_version_keeps_the_verified_copy(tmp_path, arx, clock):
    s = settings_for(tmp_path, arx)
    arx.state.papers["2305.14314"].versions = 2
    papers = [Paper("2305.14314", QLORA, arxiv_id="2305.14314", version=1)]
    run(papers, s, clock)
    before = stored_state(s)
    short = make_pdf(QLORA, stamp="arXiv:2305.14314v2  [cs.LG]  1 Jun 2023", pages=1)
    arx.misbehave("/pdf/2305.14314v2", ("body", short))

    [r] = run([Paper("2305.14314", QLORA, arxiv_id="2305.14314", version=2)], s, clock).results

    assert r.status == "failed" and "1 page where the verified copy has 2" in r.reason
    assert "corpus/pdfs/2305.14314v1.pdf" in r.reason and "/pdf/2305.14314v2" in r.reason
    assert stored_state(s) == before and leftovers(s) == []


def test_disk_full_while_recording_leaves_no_orphan(tmp_path, arx, clock, monkeypatch):
    s = settings_for(tmp_path, arx)
    arx.state.papers["2305.14314"].versions = 2
    run([Paper("2305.14314", QLORA, arxiv_id="2305.14314", version=1)], s, clock)
    before = stored_state(s)

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(paperqa.corpus.manifest, "write_manifest_file", disk_full)
    report = run([Paper("2305.14314", QLORA, arxiv_id="2305.14314", version=2)], s, clock)

    [r] = report.results
    assert r.status == "failed" and not report.ok
    assert "No space left on device" in r.reason and "\n" not in r.reason
    assert stored_state(s) == before and leftovers(s) == []  # no v2 without its entry


def test_retries_honour_retry_after_and_backoff(tmp_path, arx, clock):
    s = settings_for(tmp_path, arx)
    arx.misbehave("/pdf/2305.14314v1", ("status", 429, {"Retry-After": "17"}), ("status", 503))
    report = run(catalog(arx)[:1], s, clock)

    [r] = report.results
    assert r.status == "downloaded" and r.tries == 3
    hits = arx.hits("/pdf/2305.14314v1")
    assert [h.action for h in hits] == ["status", "status", ""]
    assert hits[1].time - hits[0].time >= 17  # Retry-After honoured
    assert hits[2].time - hits[1].time >= 2 * INTERVAL  # exponential backoff: 3 s, then 6 s
    assert_spaced(arx)
    assert any(x >= 17 - INTERVAL for x in clock.sleeps)


def test_metadata_request_is_retried_too(tmp_path, arx, clock):
    s = settings_for(tmp_path, arx)
    arx.misbehave("/api/query", ("status", 503, {"Retry-After": "9"}))
    report = run(catalog(arx)[:2], s, clock)
    assert [r.status for r in report.results] == ["downloaded", "downloaded"]
    api = arx.hits("/api/query")
    assert len(api) == 2 and api[1].time - api[0].time >= 9
    assert_spaced(arx)


@pytest.mark.parametrize("damage", ["drop", "truncate", "html"])
def test_damaged_transfers_are_retried_and_never_left_behind(tmp_path, arx, clock, damage):
    s = settings_for(tmp_path, arx)
    arx.misbehave("/pdf/2305.14314v1", damage, damage)
    report = run(catalog(arx)[:1], s, clock)
    [r] = report.results
    assert r.status == "downloaded" and r.tries == 3
    assert [h.action for h in arx.hits("/pdf/")] == [damage, damage, ""]
    assert leftovers(s) == []
    assert (s.pdf_dir / "2305.14314v1.pdf").read_bytes() == arx.pdf_bytes("2305.14314", 1)


def test_ctrl_c_reports_what_was_done_and_leaves_nothing_behind(tmp_path, arx, clock):
    s = settings_for(tmp_path, arx)
    arx.misbehave("/pdf/1706.03762v5", "drop")

    def sleeper(seconds: float) -> None:
        if arx.hits("/pdf/1706"):  # the second paper's first try broke off; Ctrl-C while we wait
            assert [p.name for p in s.pdf_dir.iterdir() if p.name.endswith(".part")]  # staged, not in place
            raise KeyboardInterrupt
        clock.sleep(seconds)

    report = download(catalog(arx)[:3], s, sleeper=sleeper, clock=clock)

    assert report.interrupted and not report.ok and report.to_dict()["interrupted"] is True
    status = {r.paper_id: r.status for r in report.results}
    assert status == {"2305.14314": "downloaded", "1706.03762": "pending", "2106.09685": "pending"}
    assert leftovers(s) == [] and not (s.pdf_dir / "1706.03762v5.pdf").exists()
    assert set(load_manifest(s)) == {"2305.14314"}
    out = io.StringIO()
    render_report(report, Console(file=out, width=200))
    text = out.getvalue()
    assert "downloaded 1" in text and "Interrupted: 2 paper(s) not fetched" in text


def _start_download(home: Path, arx: FakeArxiv) -> subprocess.Popen[bytes]:
    """`download` of QLoRA in another process, with the settings that point it at `arx`."""
    code = textwrap.dedent(
        f"""
        from pathlib import Path
        from paperqa.corpus.download import download
        from paperqa.records import Paper
        from paperqa.settings import Settings
        s = Settings(home=Path({str(home)!r}), arxiv_api_url={arx.api_url!r},
                     arxiv_pdf_url={arx.pdf_url!r}, request_interval=0.0, timeout=60.0)
        download([Paper("2305.14314", {QLORA!r}, arxiv_id="2305.14314", version=1)], s)
        """
    )
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_killed_runs_partial_file_is_removed_by_the_next_run(tmp_path, arx, clock, sig):
    s = settings_for(tmp_path, arx)
    arx.misbehave("/pdf/2305.14314v1", ("slow", 8))  # the killed run waits for its PDF
    proc = _start_download(tmp_path, arx)
    try:
        deadline = time.monotonic() + 60
        while not leftovers(s) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert leftovers(s), proc.stderr.read().decode() if proc.poll() is not None else "no .part"
    finally:
        proc.send_signal(sig)
        proc.wait(30)
    assert leftovers(s)  # what the killed run left

    report = run(catalog(arx)[:1], s, clock)

    assert [r.status for r in report.results] == ["downloaded"]
    assert leftovers(s) == []


def test_a_live_runs_partial_files_are_kept(tmp_path, arx, clock):
    s = settings_for(tmp_path, arx)
    with staging_run(s):  # another download is writing this file right now
        live = s.pdf_dir / ".1706.03762v5.pdf.k2j3.part"
        live.write_bytes(b"%PDF-1.4 arriving")
        report = run(catalog(arx)[:1], s, clock)
        assert [r.status for r in report.results] == ["downloaded"]
        assert live.exists()


@pytest.mark.parametrize("action", ["body", "stream"], ids=["content-length", "no-content-length"])
def test_an_oversized_pdf_is_refused(tmp_path, arx, clock, action):
    assert Settings.load(env={"PAPERQA_MAX_PDF_MB": "7.5"}).max_pdf_mb == 7.5
    assert Settings().max_pdf_mb == 100
    s = settings_for(tmp_path, arx, max_pdf_mb=0.05)
    arx.misbehave("/pdf/2305.14314v1", (action, b"%PDF-1.4\n" + bytes(200_000)))
    [r] = run(catalog(arx)[:1], s, clock).results
    assert r.status == "failed" and "over the 0.05 MB limit" in r.reason and "PAPERQA_MAX_PDF_MB" in r.reason
    assert len(arx.hits("/pdf/")) == 1  # refused, not retried
    assert leftovers(s) == [] and load_manifest(s) == {} and list(s.pdf_dir.glob("*.pdf")) == []


def test_gives_up_after_max_tries_and_the_others_still_arrive(tmp_path, arx, clock):
    s = settings_for(tmp_path, arx, max_tries=3)
    arx.always("/pdf/1706.03762v5", ("status", 503))
    arx.always("/pdf/2106.09685v2", "drop")
    report = run(catalog(arx), s, clock)

    failed = {r.paper_id: r for r in report.of("failed")}
    assert set(failed) == {"1706.03762", "2106.09685", "2201.11903"}  # the last: the wrong link
    assert (
        "HTTP 503" in failed["1706.03762"].reason and "gave up after 3 tries" in failed["1706.03762"].reason
    )
    assert "mid-transfer" in failed["2106.09685"].reason
    assert len(arx.hits("/pdf/1706.03762v5")) == 3 and len(arx.hits("/pdf/2106.09685v2")) == 3
    assert {r.paper_id for r in report.of("downloaded")} == {"2305.14314", "gpt1"}
    assert not (s.pdf_dir / "1706.03762v5.pdf").exists() and not (s.pdf_dir / "2106.09685v2.pdf").exists()
    assert leftovers(s) == []
    assert set(load_manifest(s)) == {"2305.14314", "gpt1"}
    assert not report.ok
    out = io.StringIO()
    render_report(report, Console(file=out, width=200))
    assert "failed 3" in out.getvalue() and "again to retry" in out.getvalue()

    # The re-run fetches only what failed.
    arx.state.actions.clear()
    before = len(arx.hits("/pdf/"))
    report2 = run(catalog(arx), s, clock)
    assert {r.paper_id for r in report2.of("downloaded")} == {"1706.03762", "2106.09685"}
    assert sorted(h.path for h in arx.hits("/pdf/")[before:]) == [
        "/pdf/1706.03762v5",
        "/pdf/2106.09685v2",
        "/pdf/2201.11903v1",
    ]


def test_not_found_is_not_retried(tmp_path, arx, clock):
    papers = [Paper("2305.14314", QLORA, arxiv_id="2305.14314", version=1)]
    s = settings_for(tmp_path, arx)
    arx.misbehave("/pdf/2305.14314v1", ("status", 404))
    [r] = run(papers, s, clock).results
    assert r.status == "failed" and "HTTP 404" in r.reason and "papers.toml" in r.reason
    assert len(arx.hits("/pdf/")) == 1


def test_pin_newer_than_arxiv_fails_clearly(tmp_path, arx, clock):
    papers = [Paper("2305.14314", QLORA, arxiv_id="2305.14314", version=3)]
    [r] = run(papers, settings_for(tmp_path, arx), clock).results
    assert r.status == "failed" and "pins v3" in r.reason and "latest is v1" in r.reason
    assert arx.hits("/pdf/") == []


def test_unknown_arxiv_id_fails_that_paper_only(tmp_path, arx, clock):
    papers = [*catalog(arx)[:1], Paper("2399.00001", "Nonexistent", arxiv_id="2399.00001", version=1)]
    report = run(papers, settings_for(tmp_path, arx), clock)
    assert [r.status for r in report.results] == ["downloaded", "failed"]
    assert "no record of 2399.00001" in report.results[1].reason


def test_timeouts_are_retried(tmp_path, arx, clock):
    s = settings_for(tmp_path, arx, timeout=0.2)
    arx.misbehave("/pdf/2305.14314v1", ("slow", 1.0))
    [r] = run(catalog(arx)[:1], s, clock).results
    assert r.status == "downloaded" and r.tries == 2


def test_rerun_does_nothing_and_repairs_what_changed(tmp_path, arx, clock):
    s = settings_for(tmp_path, arx)
    papers = [p for p in catalog(arx) if p.paper_id != "2201.11903"]  # without the wrong link
    run(papers, s, clock)
    manifest_before = s.manifest_file.read_bytes()
    n_hits = len(arx.hits())

    report = run(papers, s, clock)
    assert {r.status for r in report.results} == {"present", "skipped"}
    assert len(arx.hits()) == n_hits  # no request at all, metadata included
    assert s.manifest_file.read_bytes() == manifest_before

    # A deleted file and a damaged file are fetched again; nothing else is.
    (s.pdf_dir / "gpt1.pdf").unlink()
    (s.pdf_dir / "2305.14314v1.pdf").write_bytes(b"%PDF-1.4 scribbled over")
    report = run(papers, s, clock)
    assert {r.paper_id for r in report.of("downloaded")} == {"gpt1", "2305.14314"}
    assert sorted(h.path for h in arx.hits()[n_hits:]) == [
        "/api/query",
        "/direct/gpt1.pdf",
        "/pdf/2305.14314v1",
    ]
    assert arx.hits("/api/query")[-1].query["id_list"] == ["2305.14314"]


def test_dry_run_writes_nothing_and_asks_nothing(tmp_path, arx, clock):
    s = settings_for(tmp_path, arx)
    report = run(catalog(arx), s, clock, dry_run=True)
    planned = {r.paper_id: r for r in report.of("planned")}
    assert set(planned) == {"2305.14314", "1706.03762", "2106.09685", "2201.11903", "gpt1"}
    assert planned["1706.03762"].url == f"{arx.pdf_url}/1706.03762v5"
    assert planned["1706.03762"].file == "corpus/pdfs/1706.03762v5.pdf"
    assert arx.hits() == [] and list(tmp_path.iterdir()) == []
    out = io.StringIO()
    render_report(report, Console(file=out, width=200))
    assert "would fetch 5" in out.getvalue()


def test_only_restricts_and_unknown_ids_are_named(tmp_path, arx, clock):
    s = settings_for(tmp_path, arx)
    report = run(catalog(arx), s, clock, only=["gpt1", "2305.14314v1"])
    assert [(r.paper_id, r.status) for r in report.results] == [
        ("2305.14314", "downloaded"),
        ("gpt1", "downloaded"),
    ]
    with pytest.raises(UnknownPaperError, match="nope"):
        run(catalog(arx), s, clock, only=["nope"])


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_offline_raises_and_changes_nothing(tmp_path, arx, clock):
    dead = f"http://127.0.0.1:{_closed_port()}"
    s = settings_for(tmp_path, arx, arxiv_api_url=f"{dead}/api/query", arxiv_pdf_url=f"{dead}/pdf")
    with pytest.raises(OfflineError, match=r"arXiv cannot be reached: .*refused.*; nothing was changed"):
        run(catalog(arx), s, clock)
    assert list(tmp_path.iterdir()) == []
    assert clock.sleeps == []  # no pointless retries when there is no network


def test_offline_pdf_host_after_metadata_changes_nothing(tmp_path, arx, clock):
    good = settings_for(tmp_path, arx)
    run(catalog(arx), good, clock, only=["gpt1"])
    manifest_before = good.manifest_file.read_bytes()
    s = settings_for(tmp_path, arx, arxiv_pdf_url=f"http://127.0.0.1:{_closed_port()}/pdf")
    with pytest.raises(OfflineError, match="arXiv cannot be reached"):
        run(catalog(arx), s, clock)
    assert good.manifest_file.read_bytes() == manifest_before
    assert sorted(p.name for p in s.pdf_dir.glob("*.pdf")) == ["gpt1.pdf"]


def test_real_clock_spacing(tmp_path):
    """The default clock and sleeper: requests really are spaced on the wall clock."""
    papers = [FakePaper("2305.14314", QLORA), FakePaper("1706.03762", ATTN, versions=5)]
    with FakeArxiv(papers) as arx:
        s = settings_for(tmp_path, arx, request_interval=0.15)
        with rich_progress(Console(file=io.StringIO())) as progress:
            report = download(catalog(arx)[:2], s, progress=progress)
        assert [r.status for r in report.results] == ["downloaded", "downloaded"]
        assert len(arx.hits()) == 3
        assert_spaced(arx, 0.15)


def test_fake_feed_is_what_the_arxiv_package_reads(arx):
    """The premise of the tests above: the arxiv package parses the fake feed, pdf_url None included."""
    import arxiv

    client = arxiv.Client(delay_seconds=0, num_retries=0)
    client.query_url_format = arx.api_url + "?{}"
    ids = ["2305.14314", "2106.09685"]
    results = {r.get_short_id(): r for r in client.results(arxiv.Search(id_list=ids, max_results=len(ids)))}
    assert set(results) == {"2305.14314v1", "2106.09685v2"}
    assert results["2305.14314v1"].title == QLORA and results["2305.14314v1"].pdf_url is not None
    assert results["2106.09685v2"].pdf_url is None
