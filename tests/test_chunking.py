"""Chunks: sizes, sentence cuts, overlap, exact offsets back into the page text, page
attribution, zones never mixed; summary and abstract chunks."""

from __future__ import annotations

import re

import pytest

import pdfgen
from paperqa.parse.chunking import (
    PAGE_JOIN,
    abstract_chunk,
    chunk_pages,
    is_entry_head,
    sentence_spans,
    span_text,
    summary_chunks,
)
from paperqa.parse.pdftext import section_at, sections
from paperqa.records import Chunk, Page, Paper, SummaryEntry


def chunk_source(pages: list[Page], chunk: Chunk) -> str:
    """The page text a paper chunk was cut from, by the offset convention (equals chunk.text)."""
    return span_text(pages, chunk.page_start, chunk.char_start, chunk.page_end, chunk.char_end)


def locate(pages: list[Page], chunk: Chunk, index: int) -> tuple[int, int]:
    """(page, offset in that page's text) of character `index` of chunk.text, by the offset
    convention: a PAGE_JOIN maps to the end of the page before it."""
    if not 0 <= index < len(chunk.text):
        raise IndexError(index)
    i = next(k for k, p in enumerate(pages) if p.page == chunk.page_start)
    offset = chunk.char_start + index
    while offset > len(pages[i].text) and i + 1 < len(pages):
        offset -= len(pages[i].text) + len(PAGE_JOIN)
        i += 1
    return pages[i].page, offset


LIGATURE_GLYPHS = re.compile("[\ufb00-\ufb06]")


@pytest.fixture(scope="module")
def pages(sample):
    """The sample paper's pages (conftest: each parser, one and two columns)."""
    return sample[1]


@pytest.fixture(scope="module")
def chunks(pages):
    return chunk_pages(pages)


def _explicit(pages: list[Page], c) -> str:
    """The offset convention written out, independent of chunking.span_text."""
    by = {p.page: p.text for p in pages}
    if c.page_start == c.page_end:
        return by[c.page_start][c.char_start : c.char_end]
    middle = [by[n] for n in range(c.page_start + 1, c.page_end)]
    return "\n".join([by[c.page_start][c.char_start :], *middle, by[c.page_end][: c.char_end]])


def test_offsets_reconstruct_the_text(pages, chunks):
    assert chunks
    spanning = 0
    for c in chunks:
        assert chunk_source(pages, c) == c.text == _explicit(pages, c)
        assert c.text == c.text.strip() and c.text
        spanning += c.page_start != c.page_end
    assert spanning, "the sample paper should have a chunk across a page break"
    assert PAGE_JOIN == "\n"


def test_chunk_fields(chunks):
    for c in chunks:
        assert c.paper_id == "zebra" and c.kind == "paper" and c.lang == "en"
        assert c.chunk_id == f"zebra:p{c.page_start}:{c.char_start}"
        assert 1 <= c.page_start <= c.page_end <= 6
        assert c.zone in {"body", "references", "appendix"}
        assert c.summary_index == -1
    assert len({c.chunk_id for c in chunks}) == len(chunks)


def test_deterministic(pages, chunks):
    assert chunk_pages(pages) == chunks


@pytest.mark.parametrize(("max_words", "overlap"), [(160, 30), (40, 10), (12, 0), (25, 24)])
def test_sizes_within_limit(pages, max_words, overlap):
    out = chunk_pages(pages, max_words=max_words, overlap_words=overlap)
    assert all(1 <= len(c.text.split()) <= max_words for c in out)
    assert all(chunk_source(pages, c) == c.text for c in out)


def test_known_sentences_land_on_their_page(pages, chunks):
    """The chunk holding a sentence covers its page, and the offset of the sentence
    inside the chunk maps back to exactly that sentence on that page."""
    for number, sentence in pdfgen.ON_PAGE.items():
        sentence = pdfgen.plain(sentence)
        hits = [c for c in chunks if sentence in c.text]
        assert hits, sentence
        for c in hits:
            assert c.page_start <= number <= c.page_end
            page, offset = locate(pages, c, c.text.index(sentence))
            assert page == number
            assert pages[number - 1].text[offset : offset + len(sentence)] == sentence


def test_locate_across_a_page_join(pages, chunks):
    c = next(c for c in chunks if c.page_end > c.page_start)
    first_len = len(pages[c.page_start - 1].text) - c.char_start
    assert locate(pages, c, first_len - 1) == (c.page_start, len(pages[c.page_start - 1].text) - 1)
    assert locate(pages, c, first_len + 1)[0] == c.page_start + 1
    with pytest.raises(IndexError):
        locate(pages, c, len(c.text))


def test_no_junk_in_chunks(chunks):
    for c in chunks:
        assert not LIGATURE_GLYPHS.search(c.text)
        for junk in ("Workshop on Document Tests", "Author, Writer and Tester", "arXiv:2401", "[cs.CL]"):
            assert junk not in c.text
        assert "trans-" not in c.text


def test_zones_never_mix(pages, chunks):
    spans = sections(pages)
    for c in chunks:
        end_page, end_off = locate(pages, c, len(c.text) - 1)
        assert section_at(spans, c.page_start, c.char_start).zone == c.zone
        assert section_at(spans, end_page, end_off).zone == c.zone
    ref = [c for c in chunks if pdfgen.REFERENCE_SENTENCE in c.text]
    assert ref and all(c.zone == "references" and c.section == "References" for c in ref)
    body = [c for c in chunks if pdfgen.ON_PAGE[4] in c.text]
    assert body and all(c.zone == "body" and "[1] A. Author" not in c.text for c in body)
    appendix = [c for c in chunks if pdfgen.ON_PAGE[5] in c.text]
    assert appendix and all(c.zone == "appendix" and "F. Finder" not in c.text for c in appendix)


def test_sections_tagged_and_headings_kept_with_their_text(chunks):
    by_sentence = {n: next(c for c in chunks if pdfgen.plain(s) in c.text) for n, s in pdfgen.ON_PAGE.items()}
    assert by_sentence[1].section == "Abstract"
    assert by_sentence[3].section == "3 Method"
    assert by_sentence[6].section == "B More Details"
    assert not [c for c in chunks if len(c.text.split()) < 5], "a bare heading became a chunk"


def test_cuts_at_sentence_boundaries_with_whole_sentence_overlap(pages):
    out = chunk_pages(pages, max_words=60, overlap_words=20)
    for a, b in zip(out, out[1:], strict=False):
        assert b.text[0].isupper() or b.text[0] in "[(" or b.text[0].isdigit(), b.text[:40]
        assert a.text[-1] in ".!?" or a.section == "", a.text[-40:]  # "": the title block
        overlap = _overlap_words(a.text, b.text)
        if a.section == b.section:  # b repeats the last whole sentence(s) of a
            assert 0 < overlap <= 20
            assert any(b.text.startswith(a.text[s:e]) for s, e in sentence_spans(a.text))
        else:
            assert overlap == 0


def _overlap_words(a: str, b: str) -> int:
    """Longest suffix of a that is a prefix of b, in words."""
    wa, wb = a.split(), b.split()
    return max((k for k in range(1, min(len(wa), len(wb)) + 1) if wa[-k:] == wb[:k]), default=0)


@pytest.mark.parametrize(
    "text",
    [
        "We use bigger widgets, e.g. Zebra and Okapi, in all runs.",
        "As shown by Smith et al. (2020) and Smith et al. The widgets work.",
        "See Fig. 3 and Eq. 2 for details.",
        "The loss fell by 0.37 points and 2.5 meters. J. R. Smith agreed.",
        "Widgets (i.e. Zebras) win.",
    ],
)
def test_sentence_splitter_keeps_abbreviations(text):
    spans = sentence_spans(text)
    pieces = [text[a:b] for a, b in spans]
    assert not any(p.endswith(("e.g.", "et al.", "Fig.", "Eq.", "0.", "J.", "R.", "i.e.")) for p in pieces), (
        pieces
    )


def test_sentence_splitter_splits():
    text = "First one. Second one! Third one? 4 is a number. (Fifth) one."
    assert [text[a:b] for a, b in sentence_spans(text)] == [
        "First one.",
        "Second one!",
        "Third one?",
        "4 is a number.",
        "(Fifth) one.",
    ]


# --- hand-made pages ---------------------------------------------------------------------


def _pages(*texts: str) -> list[Page]:
    return [Page(paper_id="p", page=i, text=t) for i, t in enumerate(texts, start=1)]


def test_a_sentence_across_a_page_break():
    pages = _pages("Intro text ends here. This sentence starts on page one", "and ends on page two. Next.")
    out = chunk_pages(pages, max_words=12, overlap_words=0)
    hit = next(c for c in out if "starts on page one" in c.text)
    assert hit.text == "This sentence starts on page one\nand ends on page two. Next."
    assert (hit.page_start, hit.page_end, hit.char_start, hit.char_end) == (1, 2, 22, 27)


def test_a_very_long_sentence_is_cut_by_words():
    pages = _pages(" ".join(f"w{i}" for i in range(500)) + ".")
    out = chunk_pages(pages, max_words=160, overlap_words=30)
    assert len(out) == 4 and all(len(c.text.split()) <= 160 for c in out)
    assert " ".join(c.text for c in out).split() == pages[0].text.split()


def test_empty_pages_and_inputs():
    assert chunk_pages([]) == []
    out = chunk_pages(_pages("", "Only page two has text. It has two sentences.", ""))
    assert [(c.page_start, c.char_start) for c in out] == [(2, 0)]
    with pytest.raises(ValueError):
        chunk_pages(_pages("a") + [Page(paper_id="other", page=2, text="b")])
    with pytest.raises(ValueError):
        chunk_pages(list(reversed(_pages("a", "b"))))


# --- summary and abstract chunks ------------------------------------------------------------


def _paper(**kw) -> Paper:
    entries = (
        SummaryEntry(
            list_id="quick",
            list_title="Quick read",
            heading="QLoRA：量化微调",
            title_as_listed="《QLoRA: Efficient Finetuning of Quantized LLMs》",
            text="long",
            line=10,
            fields=(
                ("论文名称", "《QLoRA: Efficient Finetuning of Quantized LLMs》"),
                ("发布时间", "2023/05/23"),
                ("论文链接", "https://arxiv.org/pdf/2305.14314.pdf"),
                ("小学生概括", "这是一个很长的概括。" * 80),
            ),
        ),
        SummaryEntry(
            list_id="hundred",
            list_title="100 papers",
            heading="第三部分",
            title_as_listed="QLoRA",
            text="QLoRA 用 4 位量化微调大模型。" * 5,
            line=99,
        ),
    )
    base = dict(
        paper_id="2305.14314", title="QLoRA: Efficient Finetuning of Quantized LLMs", summaries=entries
    )
    base.update(kw)
    return Paper(**base)


def test_summary_chunks():
    paper = _paper()
    out = summary_chunks(paper)
    heads = [c for c in out if is_entry_head(c)]
    assert [c.chunk_id for c in heads] == ["2305.14314:summary:0", "2305.14314:summary:1"]
    for i, c in enumerate(heads):
        assert (c.kind, c.lang, c.summary_index, c.paper_id) == ("summary", "zh", i, "2305.14314")
        assert c.text.startswith(paper.title + "\n" + paper.summaries[i].heading)
        assert len(c.text) <= len(paper.title) + 120 + 410
    assert "发布时间：2023/05/23" in out[0].text and "https://" not in out[0].text
    assert "小学生概括：这是一个很长的概括。" in out[0].text
    assert heads[1].text.endswith("QLoRA 用 4 位量化微调大模型。")


def test_a_long_summary_entry_goes_on_in_more_chunks_that_cite_the_same_entry():
    paper = _paper()
    first = [c for c in summary_chunks(paper) if c.summary_index == 0]
    assert [c.chunk_id for c in first][:2] == ["2305.14314:summary:0", "2305.14314:summary:0:2"]
    assert all(c.kind == "summary" and not is_entry_head(c) for c in first[1:])
    assert all(c.text.startswith(paper.title + "\n这是") for c in first[1:])  # title, then the entry
    told = "".join(c.text.removeprefix(paper.title).replace("\n", "") for c in first[1:])
    assert told.count("这是一个很长的概括。") + first[0].text.count("这是一个很长的概括。") == 80


def test_abstract_chunk():
    paper = _paper(aliases=("QLoRA", "Guanaco"))
    c = abstract_chunk(paper, "We present QLoRA,\nan efficient finetuning approach.")
    assert (c.chunk_id, c.kind, c.lang) == ("2305.14314:abstract", "abstract", "en")
    assert c.text == f"{paper.title}\nQLoRA; Guanaco\nWe present QLoRA, an efficient finetuning approach."
    assert abstract_chunk(paper, "").text == f"{paper.title}\nQLoRA; Guanaco"
    assert abstract_chunk(_paper(), "  ").text == paper.title


# --- real PDFs ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_chunks(parser):
    folder = pdfgen.real_pdf_folder()
    if folder is None:
        pytest.skip("PAPERQA_TEST_PDFS is not set to a folder of real PDFs")
    return {k: (pages, chunk_pages(pages)) for k, pages in pdfgen.parsed_real_pdfs(folder, parser).items()}


@pytest.mark.slow
def test_real_chunks_are_clean_and_exact(real_chunks):
    assert real_chunks
    for paper_id, (pages, chunks) in real_chunks.items():
        assert chunks, paper_id
        for c in chunks:
            assert len(c.text.split()) <= 160, (paper_id, c.chunk_id)
            assert chunk_source(pages, c) == c.text, (paper_id, c.chunk_id)
            assert not LIGATURE_GLYPHS.search(c.text), (paper_id, c.chunk_id)
            assert not re.search(r"arXiv:\d{4}\.\d{4,5}v\d+\s*\[", c.text), (paper_id, c.chunk_id)
        assert len({c.chunk_id for c in chunks}) == len(chunks)


@pytest.mark.slow
def test_real_qlora_normalfloat_pages(real_chunks):
    if "2305.14314" not in real_chunks:
        pytest.skip("2305.14314.pdf (QLoRA v1) not in PAPERQA_TEST_PDFS")
    pages, chunks = real_chunks["2305.14314"]
    found = set()
    for c in chunks:
        for m in re.finditer("4-bit NormalFloat", c.text):
            found.add(locate(pages, c, m.start())[0])
    assert found == {1, 2, 4, 5, 6, 7}  # pages checked by hand in the PDF
    nf = [c for c in chunks if "The NormalFloat (NF) data type builds on Quantile" in c.text]
    assert nf and all(c.page_start == 4 and c.section == "3 QLORA Finetuning" for c in nf)
    appendix = [c for c in chunks if "The exact values of the NF4 data type" in c.text]
    assert appendix and all(c.page_start == 24 and c.zone == "appendix" for c in appendix)
    assert not [c for c in chunks if c.zone == "body" and "Advances in Neural Information" in c.text]
