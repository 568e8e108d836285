"""`add`: importing PDFs the user already has, matched by file name, arXiv stamp or title."""

from __future__ import annotations

import errno
import os
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

import paperqa.corpus.manifest
from fake_arxiv import make_pdf, write_pdf
from paperqa.corpus.identity import find_stamp, guess_title, match_pdf, page_title_score
from paperqa.corpus.localpdf import add_pdfs
from paperqa.corpus.manifest import load_manifest
from paperqa.corpus.pdfcheck import PdfCheckError, PdfInfo, inspect_pdf, sha256_file
from paperqa.records import Paper
from paperqa.settings import Settings
from pdfgen import zero_page_content

QLORA = "QLoRA: Efficient Finetuning of Quantized LLMs"
ATTN = "Attention Is All You Need"
LORA = "LoRA: Low-Rank Adaptation of Large Language Models"
COT = "Chain-of-Thought Prompting Elicits Reasoning in Large Language Models"
GPT1 = "Improving Language Understanding by Generative Pre-Training"
GPT2 = "Language Models are Unsupervised Multitask Learners"
GQA = "GQA: Training Generalized Multi-Query Transformer Models from Multi-Head Checkpoints"
QLORA_STAMP = "arXiv:2305.14314v1  [cs.LG]  23 May 2023"

PAPERS = [
    Paper("2305.14314", QLORA, arxiv_id="2305.14314", version=1, aliases=("QLoRA",)),
    Paper("1706.03762", ATTN, arxiv_id="1706.03762", version=5, aliases=("Transformer",)),
    Paper("2106.09685", LORA, arxiv_id="2106.09685", version=2, aliases=("LoRA",)),
    Paper("2201.11903", COT, arxiv_id="2201.11903", version=6),
    Paper("gpt1", f"GPT-1: {GPT1}", pdf_url="https://example.org/gpt1.pdf"),
    Paper("gpt2", f"GPT-2: {GPT2}", pdf_url="https://example.org/gpt2.pdf"),
    Paper("2305.13245", GQA, arxiv_id="2305.13245", version=1, aliases=("GQA", "Grouped-Query Attention")),
    Paper("blog-post", "A blog post", kind="blog", url="https://example.com/post"),
]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    d = tmp_path / "inbox"
    d.mkdir()
    return d


def by_file(results) -> dict[str, object]:
    return {Path(r.file).name: r for r in results}


def no_leftovers(settings: Settings) -> bool:
    return not [p for p in settings.corpus_dir.rglob("*") if p.name.endswith(".part")]


def test_matches_by_filename_stamp_and_title(settings, inbox):
    write_pdf(inbox / "2305.14314v2.pdf", QLORA)  # version from the name
    write_pdf(inbox / "arXiv-1706.03762.pdf", ATTN)  # no version: the catalog's pin
    write_pdf(inbox / "gpt1.pdf", "Improving Language Understanding\nby Generative Pre-Training")
    write_pdf(inbox / "download (3).pdf", LORA, stamp="arXiv:2106.09685v1  [cs.CL]  17 Jun 2021")
    write_pdf(inbox / "reading.pdf", "Chain-of-Thought Prompting Elicits Reasoning\nin Large Language Models")
    write_pdf(inbox / "openai.pdf", "Some Cover Text", meta_title=GPT2)  # PDF metadata title

    results = by_file(add_pdfs([inbox], PAPERS, settings))

    got = {name: (r.paper_id, r.matched_by, r.version, r.status) for name, r in results.items()}
    assert got == {
        "2305.14314v2.pdf": ("2305.14314", "filename", 2, "added"),
        "arXiv-1706.03762.pdf": ("1706.03762", "filename", 5, "added"),
        "gpt1.pdf": ("gpt1", "filename", 0, "added"),
        "download (3).pdf": ("2106.09685", "stamp", 1, "added"),
        "reading.pdf": ("2201.11903", "title", 6, "added"),
        "openai.pdf": ("gpt2", "title", 0, "added"),
    }
    names = sorted(p.name for p in settings.pdf_dir.iterdir() if not p.name.startswith("."))
    assert names == [
        "1706.03762v5.pdf",
        "2106.09685v1.pdf",
        "2201.11903v6.pdf",
        "2305.14314v2.pdf",
        "gpt1.pdf",
        "gpt2.pdf",
    ]
    manifest = load_manifest(settings)
    e = manifest["2106.09685"]
    assert (e.matched_by, e.version, e.pages, e.extra, e.title_match) == ("stamp", 1, 2, False, True)
    assert e.sha256 == sha256_file(inbox / "download (3).pdf")
    assert e.source == str((inbox / "download (3).pdf").resolve())
    assert results["reading.pdf"].to_json() | {"reason": ""} == {
        "file": str(inbox / "reading.pdf"),
        "paper_id": "2201.11903",
        "matched_by": "title",
        "status": "added",
        "reason": "",
        "extra_id": None,
        "title": COT,
        "version": 6,
        "stored": "corpus/pdfs/2201.11903v6.pdf",
        "title_match": True,
    }
    assert no_leftovers(settings)


def test_unmatched_pdf_becomes_an_extra_paper(settings, inbox):
    write_pdf(inbox / "scan.pdf", "A Study of Tiny Widgets\nin the Wild")
    write_pdf(inbox / "other.pdf", "Cover page", meta_title="Sparse Gadgets Revisited")
    results = by_file(add_pdfs([inbox / "scan.pdf", inbox / "other.pdf"], PAPERS, settings))

    scan = results["scan.pdf"]
    assert (scan.paper_id, scan.matched_by, scan.status) == (None, "none", "added")
    assert scan.extra_id == "extra-a-study-of-tiny-widgets-in-the-wild"
    assert scan.title == "A Study of Tiny Widgets in the Wild"
    assert scan.to_json()["paper_id"] is None
    assert results["other.pdf"].extra_id == "extra-sparse-gadgets-revisited"
    entry = load_manifest(settings)["extra-a-study-of-tiny-widgets-in-the-wild"]
    assert (
        entry.extra
        and entry.matched_by == "none"
        and entry.file == "corpus/pdfs/extra-a-study-of-tiny-widgets-in-the-wild.pdf"
    )


def test_corrupt_files_are_reported_and_the_others_go_on(settings, inbox):
    write_pdf(inbox / "2305.14314.pdf", QLORA)
    (inbox / "1706.03762.pdf").write_bytes(make_pdf(ATTN)[:900])  # truncated
    (inbox / "notes.pdf").write_bytes(b"<!DOCTYPE html><html>sign in to download</html>")
    (inbox / "empty.pdf").write_bytes(b"")
    write_pdf(inbox / "locked.pdf", LORA, password="secret")

    results = by_file(add_pdfs([inbox], PAPERS, settings))

    assert results["2305.14314.pdf"].status == "added"
    failed = {n: r for n, r in results.items() if r.status == "failed"}
    assert set(failed) == {"1706.03762.pdf", "notes.pdf", "empty.pdf", "locked.pdf"}
    assert (
        "truncated" in failed["1706.03762.pdf"].reason and "1706.03762.pdf" in failed["1706.03762.pdf"].reason
    )
    assert failed["1706.03762.pdf"].paper_id == "1706.03762"  # the name still says which paper it was
    assert "HTML" in failed["notes.pdf"].reason
    assert "encrypted" in failed["locked.pdf"].reason
    assert set(load_manifest(settings)) == {"2305.14314"}
    assert sorted(p.name for p in settings.pdf_dir.iterdir() if not p.name.startswith(".")) == [
        "2305.14314v1.pdf"
    ]
    assert no_leftovers(settings)


def test_readding_is_a_no_op_and_a_new_version_replaces_the_old(settings, inbox):
    write_pdf(inbox / "2305.14314v1.pdf", QLORA)
    add_pdfs([inbox], PAPERS, settings)
    [again] = add_pdfs([inbox / "2305.14314v1.pdf"], PAPERS, settings)
    assert again.status == "present"

    write_pdf(inbox / "2305.14314v2.pdf", QLORA, pages=3)
    [newer] = add_pdfs([inbox / "2305.14314v2.pdf"], PAPERS, settings)
    assert newer.status == "added" and "replaced" in newer.reason
    assert [p.name for p in settings.pdf_dir.glob("*.pdf")] == ["2305.14314v2.pdf"]
    assert load_manifest(settings)["2305.14314"].version == 2


def test_two_files_for_one_paper_in_one_run(settings, inbox):
    write_pdf(inbox / "a.pdf", ATTN)
    write_pdf(inbox / "b.pdf", ATTN, pages=3)
    results = by_file(add_pdfs([inbox], PAPERS, settings))
    assert results["a.pdf"].status == "added" and results["b.pdf"].status == "skipped"
    assert "a.pdf" in results["b.pdf"].reason


def test_mislabelled_file_name_is_refused(settings, inbox):
    write_pdf(inbox / "2305.14314.pdf", "A Completely Different Paper About Gardening")
    [r] = add_pdfs([inbox], PAPERS, settings)
    assert (r.paper_id, r.matched_by, r.status, r.title_match) == ("2305.14314", "filename", "failed", False)
    assert "does not show the catalog title" in r.reason and "rename it" in r.reason
    assert r.title == "A Completely Different Paper About Gardening"
    assert load_manifest(settings) == {} and not list(settings.pdf_dir.glob("*.pdf"))


def stored_state(settings: Settings) -> tuple[bytes, dict[str, bytes]]:
    """The manifest and every stored PDF, byte for byte."""
    files = {p.name: p.read_bytes() for p in sorted(settings.pdf_dir.glob("*.pdf"))}
    return settings.manifest_file.read_bytes(), files


def test_a_valid_pdf_of_another_paper_never_replaces_a_verified_one(settings, inbox, tmp_path):
    write_pdf(inbox / "2305.14314.pdf", QLORA, stamp=QLORA_STAMP)
    [good] = add_pdfs([inbox], PAPERS, settings)
    assert good.status == "added"
    before = stored_state(settings)
    other = tmp_path / "downloads"
    other.mkdir()
    write_pdf(other / "2305.14314.pdf", GPT2, pages=12)  # GPT-2 under QLoRA's name: valid, longer

    [r] = add_pdfs([other / "2305.14314.pdf"], PAPERS, settings)

    assert r.status == "failed" and r.title_match is False
    assert str(other / "2305.14314.pdf") in r.reason and "corpus/pdfs/2305.14314v1.pdf" in r.reason
    assert GPT2 in r.reason and "\n" not in r.reason
    assert stored_state(settings) == before and no_leftovers(settings)


def test_a_stamp_of_another_id_is_refused(settings, inbox):
    write_pdf(inbox / "2305.14314.pdf", QLORA, stamp="arXiv:2106.09685v2  [cs.CL]  16 Oct 2021")
    [r] = add_pdfs([inbox], PAPERS, settings)
    assert r.status == "failed" and "page 1 says arXiv:2106.09685" in r.reason
    assert load_manifest(settings) == {}


def test_a_damaged_pdf_never_enters_and_never_replaces(settings, inbox, tmp_path):
    damaged = write_pdf(tmp_path / "gpt1.pdf", GPT1, pages=8)
    zero_page_content(damaged, 6)  # the middle of the file is zeros: page 6 has no text left
    [first] = add_pdfs([damaged], PAPERS, settings)
    assert first.status == "failed" and "page 6" in first.reason and "damaged" in first.reason
    assert load_manifest(settings) == {}

    write_pdf(inbox / "gpt1.pdf", GPT1, pages=8)
    assert [r.status for r in add_pdfs([inbox], PAPERS, settings)] == ["added"]
    before = stored_state(settings)
    [again] = add_pdfs([damaged], PAPERS, settings)
    assert again.status == "failed" and "page 6" in again.reason
    assert stored_state(settings) == before and no_leftovers(settings)


def test_a_less_complete_copy_never_replaces_a_verified_one(settings, inbox, tmp_path):
    write_pdf(inbox / "2305.14314v1.pdf", QLORA, stamp=QLORA_STAMP, pages=3)
    add_pdfs([inbox], PAPERS, settings)
    before = stored_state(settings)
    short = write_pdf(tmp_path / "2305.14314v1.pdf", QLORA, stamp=QLORA_STAMP, pages=2)

    [r] = add_pdfs([short], PAPERS, settings)

    assert r.status == "failed" and "2 pages where the verified copy has 3" in r.reason
    assert str(short) in r.reason and "corpus/pdfs/2305.14314v1.pdf" in r.reason
    assert stored_state(settings) == before


def test_a_stamp_outside_the_catalog_is_never_matched_by_title(settings, inbox):
    # Mistral 7B names grouped-query attention (a GQA alias) on page 1; its stamp says what it is.
    write_pdf(
        inbox / "mistral.pdf",
        "Mistral 7B",
        meta_title="Mistral 7B",
        stamp="arXiv:2310.06825v1  [cs.CL]  10 Oct 2023",
        body="Albert Q. Jiang, Alexandre Sablayrolles\n\nAbstract\nMistral 7B leverages grouped-query "
        "attention (GQA) for faster inference, coupled with sliding window attention.",
    )
    [r] = add_pdfs([inbox], PAPERS, settings)
    assert (r.paper_id, r.matched_by, r.status) == (None, "none", "added")
    assert r.extra_id == "extra-mistral-7b"
    assert set(load_manifest(settings)) == {"extra-mistral-7b"}


def test_disk_full_while_recording_keeps_the_previous_copy(settings, inbox, tmp_path, monkeypatch):
    write_pdf(inbox / "2305.14314v1.pdf", QLORA, stamp=QLORA_STAMP)
    add_pdfs([inbox], PAPERS, settings)
    before = stored_state(settings)
    fuller = write_pdf(tmp_path / "2305.14314v1.pdf", QLORA, stamp=QLORA_STAMP, pages=4)  # same file name

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(paperqa.corpus.manifest, "write_manifest_file", disk_full)
    [r] = add_pdfs([fuller], PAPERS, settings)

    assert r.status == "failed" and "No space left on device" in r.reason and "\n" not in r.reason
    assert stored_state(settings) == before and no_leftovers(settings)


def test_partial_files_of_killed_runs_are_removed(settings, inbox):
    settings.pdf_dir.mkdir(parents=True)
    debris = [
        settings.pdf_dir / ".2305.14314v1.pdf.x1y2z3.part",
        settings.corpus_dir / ".manifest.json.ab.part",
    ]
    for p in debris:
        p.write_bytes(b"%PDF-1.4 half")  # fresh: a run killed a moment ago
    write_pdf(inbox / "2305.14314.pdf", QLORA)
    add_pdfs([inbox], PAPERS, settings)
    assert not any(p.exists() for p in debris) and no_leftovers(settings)


def test_missing_path_and_empty_folder_are_reported(settings, tmp_path):
    (tmp_path / "empty").mkdir()
    missing, empty = add_pdfs([tmp_path / "nope.pdf", tmp_path / "empty"], PAPERS, settings)
    assert missing.status == "failed" and "no such file" in missing.reason
    assert empty.status == "failed" and "no *.pdf" in empty.reason


def test_stamp_gives_the_version_when_the_name_does_not(settings, inbox):
    write_pdf(inbox / "1706.03762.pdf", ATTN, stamp="arXiv:1706.03762v7  [cs.CL]  2 Aug 2023")
    [r] = add_pdfs([inbox], PAPERS, settings)
    assert (r.matched_by, r.version, r.status) == ("filename", 7, "added")


@pytest.mark.parametrize(
    "text",
    [
        "Title\narXiv:2305.14314v1  [cs.LG]  23 May 2023\nmore",
        "a\nr\nX\ni\nv\n:\n2\n3\n0\n5\n.\n1\n4\n3\n1\n4\nv\n1\n \n[\nc\ns\n.\nL\nG\n]",  # one glyph a line
        "body 3202 yaM 32  ]GL.sc[  1v41341.5032:viXra tail",  # reversed
    ],
)
def test_stamp_survives_odd_extraction(text):
    assert find_stamp(text) == ("2305.14314", 1)


def test_cited_arxiv_ids_are_not_stamps():
    assert find_stamp("as shown by Smith et al. (arXiv:2001.08361) the loss falls") is None


def test_inspect_pdf_reasons(tmp_path):
    good = write_pdf(tmp_path / "good.pdf", QLORA, pages=3)
    assert inspect_pdf(good).pages == 3
    cases = {
        "html": (b"<html><body>Error</body></html>", "HTML"),
        "junk": (b"hello world" * 100, "no %PDF- header"),
        "tiny": (b"%PDF-1.4\n%%EOF\n", "too small"),
        "cut": (good.read_bytes()[:-200], "truncated"),
        "garbled": (b"%PDF-1.4\n" + os.urandom(4000) + b"\n%%EOF\n", "damaged"),
        # A piece cut from the middle: head and %%EOF intact, the cross-references wrong.
        "holed": (good.read_bytes()[:700] + good.read_bytes()[900:], "damaged"),
    }
    for name, (data, words) in cases.items():
        path = tmp_path / f"{name}.pdf"
        path.write_bytes(data)
        with pytest.raises(PdfCheckError, match=words) as info:
            inspect_pdf(path)
        assert str(path) in str(info.value)


def test_guess_title_joins_a_wrapped_title():
    info = PdfInfo(
        3,
        "Journal of Things 12 (2020)\nImproving Language Understanding\nby Generative Pre-Training\nAlec",
        "",
    )
    assert guess_title(info) == GPT1


# --- real PDFs (optional) --------------------------------------------------------


def _real_pdfs() -> Path:
    folder = os.environ.get("PAPERQA_TEST_PDFS")
    if not folder or not Path(folder).is_dir():
        pytest.skip("PAPERQA_TEST_PDFS is not set to a folder of real PDFs")
    return Path(folder)


def _real_catalog(tmp_path: Path) -> list[Paper]:
    try:
        from paperqa.catalog.catalog import load_catalog

        papers = load_catalog(Settings.load(home=tmp_path)).papers
    except Exception as exc:  # the catalog is another stage; without it there is nothing to match
        pytest.skip(f"the catalog cannot be loaded: {exc}")
    if not papers:
        pytest.skip("the catalog lists no papers yet")
    return papers


def _readme_versions(folder: Path) -> dict[str, tuple[int, int]]:
    """file -> (arXiv version printed on it or 0, pages), from the folder's README table."""
    readme = folder / "README.md"
    out: dict[str, tuple[int, int]] = {}
    if readme.is_file():
        for m in re.finditer(
            r"^\|\s*(\S+\.pdf)\s*\|[^|]*\|\s*([^|]*?)\s*\|\s*(\d+)\s*\|", readme.read_text(), re.M
        ):
            v = re.search(r"v(\d+)$", m.group(2))
            out[m.group(1)] = (int(v.group(1)) if v else 0, int(m.group(3)))
    return out


@pytest.mark.parametrize("neutral_names", [False, True], ids=["by-name", "without-name"])
def test_real_pdfs_match_the_right_paper(tmp_path, neutral_names):
    folder = _real_pdfs()
    papers = _real_catalog(tmp_path / "cat")
    known = {p.paper_id for p in papers}
    pdfs = sorted(p for p in folder.glob("*.pdf") if p.stem in known)
    if not pdfs:
        pytest.skip("none of the real PDFs is in the catalog")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    expected: dict[str, str] = {}
    for n, pdf in enumerate(pdfs, 1):
        name = f"doc{n}.pdf" if neutral_names else pdf.name
        os.symlink(pdf, inbox / name) if hasattr(os, "symlink") else shutil.copy(pdf, inbox / name)
        expected[name] = pdf.stem  # the folder names files <arXiv id>.pdf, gpt1.pdf, gpt2.pdf
    settings = Settings(home=tmp_path / "home")

    results = by_file(add_pdfs([inbox], papers, settings))

    got = {name: r.paper_id for name, r in results.items()}
    assert got == expected
    readme = _readme_versions(folder)
    manifest = load_manifest(settings)
    for name, pid in expected.items():
        original = f"{pid}.pdf"
        if original in readme:  # the version comes from the stamp (the names carry none)
            assert (results[name].version, manifest[pid].pages) == readme[original], name
    for name, r in results.items():
        assert r.status == "added", r.reason
        assert r.title_match, (name, r.reason)
        if neutral_names:
            want = "title" if expected[name] in ("gpt1", "gpt2") else "stamp"
            assert r.matched_by == want, (name, r.matched_by)
        else:
            assert r.matched_by == "filename"


def test_real_pdfs_match_by_title_alone(tmp_path):
    """With the stamp cut out of page 1 and no metadata, the title on real layouts still matches."""
    folder = _real_pdfs()
    papers = _real_catalog(tmp_path)
    known = {p.paper_id for p in papers}
    for pdf in sorted(p for p in folder.glob("*.pdf") if p.stem in known):
        info = inspect_pdf(pdf)
        text = re.sub(r"arXiv:\S+\s+\[[^\]]+\]\s+\d+\s+\w+\s+\d{4}", "", info.first_page_text)
        assert find_stamp(text) is None
        match = match_pdf(Path("doc.pdf"), replace(info, first_page_text=text, meta_title=""), papers)
        assert (match.paper.paper_id if match.paper else None, match.matched_by) == (pdf.stem, "title")


def test_real_pdf_zeroed_in_the_middle_is_refused(tmp_path):
    """GPT-1 with 20 KB zeroed in the middle: page 6 extracts nothing, so it is refused."""
    folder = _real_pdfs()
    if not (folder / "gpt1.pdf").is_file():
        pytest.skip("no gpt1.pdf among the real PDFs")
    data = bytearray((folder / "gpt1.pdf").read_bytes())
    middle = len(data) // 2
    data[middle : middle + 20_000] = bytes(20_000)
    (tmp_path / "gpt1.pdf").write_bytes(bytes(data))
    settings = Settings(home=tmp_path / "home")
    [r] = add_pdfs([tmp_path / "gpt1.pdf"], PAPERS, settings)
    assert r.status == "failed" and "page 6" in r.reason


def test_fuzzy_title_survives_lost_glyphs():
    # pypdf without a ligature map drops "ffi": the title must still be found.
    page = PdfInfo(
        1, "FlashAttention: Fast and Memory-Ecient Exact Attention\nwith IO-Awareness\nTri Dao", ""
    )
    flash = Paper("2205.14135", "FlashAttention: Fast and Memory-Efficient Exact Attention with IO-Awareness")
    score, pos = page_title_score(flash, page)
    assert score >= 0.85 and pos == 0
    resnet = PdfInfo(1, "Deep Residual Learning for Image Recognition", "")
    assert page_title_score(Paper("1706.03762", "Attention Is All You Need"), resnet)[0] < 0.5


def test_render_add_results(settings, inbox):
    import io

    from rich.console import Console

    from paperqa.app.render import render_add_results

    write_pdf(inbox / "2305.14314.pdf", QLORA)
    write_pdf(inbox / "mine.pdf", "A Study of Tiny Widgets\nin the Wild")
    (inbox / "bad.pdf").write_bytes(b"junk" * 300)
    out = io.StringIO()
    render_add_results(add_pdfs([inbox], PAPERS, settings), Console(file=out, width=200))
    text = out.getvalue()
    assert "extra-a-study-of-tiny-widgets-in-the-wild (your own)" in text
    assert "added 2 (1 of your own), already present 0, skipped 0, failed 1" in text
