"""PDF -> clean page text: exact page content on generated PDFs, junk removed,
sections and zones, refused files; and the same properties on real papers when
PAPERQA_TEST_PDFS points at them."""

from __future__ import annotations

import re
from collections import Counter

import pytest

import pdfgen
from paperqa.errors import UsageError
from paperqa.parse.clean import (
    clean_pages,
    join_hyphenated,
    normalize_chars,
    strip_edges,
    strip_stamp,
    tidy_spacing,
    vocabulary,
)
from paperqa.parse.pdftext import (
    DEFAULT_PARSER,
    PdfError,
    parse_pdf,
    parser_key,
    pdfium_text,
    read_raw_pages,
    section_at,
    sections,
)
from paperqa.parse.sections import parse_heading
from paperqa.settings import Settings

LIGATURE_GLYPHS = re.compile("[\ufb00-\ufb06]")
STAMP_RE = re.compile(r"arXiv:\s*\d{4}\.\d{4,5}v\d+\s*\[[\w.\-]+\]")


# --- generated PDFs -------------------------------------------------------------------


def test_every_page_reads_exactly_as_written(sample):
    """Header, footer, page number and stamp gone; ligatures and hyphenation repaired;
    nothing else lost or added, and every word on its own page."""
    spec, pages = sample
    assert [p.page for p in pages] == list(range(1, len(spec.pages) + 1))
    for p in pages:
        assert pdfgen.words_of(p.text) == pdfgen.page_plain(spec, p.page), f"page {p.page}"


def test_known_sentences_are_on_their_pages(sample):
    _, pages = sample
    for number, sentence in pdfgen.ON_PAGE.items():
        where = [p.page for p in pages if pdfgen.plain(sentence) in p.text]
        assert where == [number], sentence


def test_no_print_junk(sample):
    _, pages = sample
    for p in pages:
        assert not LIGATURE_GLYPHS.search(p.text)
        assert "Workshop on Document Tests" not in p.text
        assert "Author, Writer and Tester" not in p.text
        assert "arXiv:2401.00001" not in p.text and not STAMP_RE.search(p.text)
        assert not re.search(r"(^|\n)\d{1,2}($|\n)", p.text), "a lone page number survived"
        assert "  " not in p.text and " ." not in p.text and " ," not in p.text


def test_hyphenation_repaired(sample):
    _, pages = sample
    text = "\n".join(p.text for p in pages)
    for written, repaired in pdfgen.HYPHENATED.items():
        assert repaired in text, written
    assert "trans-" not in text and "quan-" not in text and "back-" not in text
    assert text.count("pre-trained") == 2 and "pretrained" not in text
    assert "Block-wise" in text  # a real hyphen mid-line stays


def test_sections_and_zones(sample):
    _, pages = sample
    assert {p.page: p.section for p in pages} == pdfgen.SECTIONS_ON_PAGE
    assert {p.page: p.zone for p in pages} == pdfgen.ZONE_ON_PAGE
    spans = sections(pages)
    assert [s.title for s in spans] == [
        "",
        "Abstract",
        "1 Introduction",
        "2 Background",
        "2.1 Block-wise Widgets",
        "3 Method",
        "3.1 Double Widgets",
        "4 Experiments",
        "5 Conclusion",
        "References",
        "A Appendix: Extra Results",
        "B More Details",
    ]
    by_page = {p.page: p for p in pages}
    for s in spans[1:]:
        assert by_page[s.page].text[s.char_start :].startswith(s.title)
    assert [s.zone for s in spans if s.title in ("5 Conclusion", "References", "B More Details")] == [
        "body",
        "references",
        "appendix",
    ]


def test_zone_changes_mid_page(sample):
    """Page 4 holds the end of the body and the start of the references; page 5 the
    end of the references and the start of the appendix."""
    _, pages = sample
    spans = sections(pages)

    def at(page: int, needle: str):
        return section_at(spans, page, pages[page - 1].text.index(needle))

    assert at(4, pdfgen.ON_PAGE[4]).zone == "body"
    assert at(4, pdfgen.REFERENCE_SENTENCE).zone == "references"
    assert at(5, "[3] F. Finder").zone == "references"
    assert at(5, pdfgen.ON_PAGE[5]).title == "A Appendix: Extra Results"
    assert at(5, pdfgen.ON_PAGE[5]).zone == "appendix"


def test_stamp_spelled_one_character_per_run(tmp_path, parser):
    spec = pdfgen.sample_spec(stamp_style="chars")
    pages = parse_pdf(pdfgen.write_pdf(spec, tmp_path / "chars.pdf"), "zebra", parser)
    assert pdfgen.words_of(pages[0].text) == pdfgen.page_plain(spec, 1)


def test_without_header_footer_or_numbers_nothing_is_removed(tmp_path, parser):
    spec = pdfgen.sample_spec(header="", footer="", page_numbers=False, stamp="")
    pages = parse_pdf(pdfgen.write_pdf(spec, tmp_path / "bare.pdf"), "zebra", parser)
    for p in pages:
        assert pdfgen.words_of(p.text) == pdfgen.page_plain(spec, p.page)


# --- the two parsers -----------------------------------------------------------------------


@pytest.mark.parametrize("columns", [1, 2])
def test_both_parsers_give_the_same_clean_pages(tmp_path, columns):
    """PDFium's raw text differs from pypdf's ("\r\n", hyphens as "\x02"/U+FFFE with the
    line break removed, no ligature glyphs); after cleaning the pages must not."""
    path = pdfgen.write_pdf(pdfgen.sample_spec(columns=columns), tmp_path / "zebra.pdf")
    raw = read_raw_pages(path, "pdfium")
    assert not any("\r" in r or "\x02" in r or "\ufffe" in r for r in raw)
    assert parse_pdf(path, "zebra", "pdfium") == parse_pdf(path, "zebra", "pypdf")


def test_pdfium_text_uses_pypdf_conventions():
    raw = "Line one\r\nmemory us\x02age and pre\ufffetrained\rend"
    assert pdfium_text(raw) == "Line one\nmemory us-\nage and pre-\ntrained\nend"
    assert clean_pages([pdfium_text(raw)]) == ["Line one memory usage and pretrained end"]


def test_parser_setting_and_default():
    assert DEFAULT_PARSER == "pdfium" and Settings().parser == DEFAULT_PARSER
    assert Settings.load(env={"PAPERQA_PARSER": "pypdf"}).parser == "pypdf"
    assert parser_key("pdfium") != parser_key("pypdf") and parser_key(None) == parser_key("pdfium")
    with pytest.raises(UsageError, match="pdfium, pypdf"):
        parser_key("pdfminer")


def test_stored_page_texts_are_keyed_by_parser(tmp_path):
    """A page text stored from pypdf is not served when PDFium is asked for, and back."""
    from paperqa.parse.ingest import page_texts
    from paperqa.parse.textstore import save_pages
    from paperqa.records import Page

    pdf = pdfgen.write_pdf(pdfgen.sample_spec(), tmp_path / "zebra.pdf")
    with_pypdf = Settings(home=tmp_path, parser="pypdf")
    with_pdfium = with_pypdf.with_(parser="pdfium")
    stale = [Page(paper_id="zebra", page=1, text="text stored from pypdf")]
    save_pages(with_pypdf, "zebra", stale, f"abc:{parser_key('pypdf')}")
    assert page_texts(with_pypdf, "zebra", pdf, "abc") == (stale, True)
    pages, cached = page_texts(with_pdfium, "zebra", pdf, "abc")
    assert not cached and len(pages) == 6 and "text stored from pypdf" not in pages[0].text
    assert page_texts(with_pdfium, "zebra", pdf, "abc") == (pages, True)
    assert page_texts(with_pdfium, "zebra", pdf, "other-sha")[1] is False  # a changed PDF
    assert page_texts(with_pypdf, "zebra", pdf, "other-sha")[1] is False


# --- refused files ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("writer", "reason"),
    [
        (pdfgen.write_corrupt, "corrupt"),
        (pdfgen.write_encrypted, "encrypted"),
        (pdfgen.write_empty, "empty"),
        (pdfgen.write_image_only, "no text layer"),
        (lambda p: p.write_text("just a text file, not a PDF at all\n" * 5), "corrupt"),
        (lambda p: p.write_bytes(b""), "corrupt"),
    ],
    ids=["corrupt", "encrypted", "empty", "image-only", "not-a-pdf", "zero-bytes"],
)
def test_unusable_pdfs_raise_pdf_error_naming_the_file(tmp_path, parser, writer, reason):
    path = tmp_path / f"bad-{reason.replace(' ', '-')}.pdf"
    writer(path)
    with pytest.raises(PdfError) as err:
        parse_pdf(path, "bad", parser)
    assert path.name in str(err.value) and reason in str(err.value)
    assert isinstance(err.value, ValueError)


def test_truncated_pdf_raises_or_parses(tmp_path, parser):
    """A cut-off download: the parser may rebuild part of it; either way no other error."""
    good = pdfgen.write_pdf(pdfgen.sample_spec(), tmp_path / "good.pdf")
    cut = tmp_path / "cut.pdf"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    try:
        pages = parse_pdf(cut, "cut", parser)
    except PdfError as e:
        assert "cut.pdf" in str(e)
    else:
        assert pages and all(p.paper_id == "cut" for p in pages)


def test_missing_file(tmp_path, parser):
    with pytest.raises(PdfError, match="nothere.pdf: no such file"):
        parse_pdf(tmp_path / "nothere.pdf", "x", parser)


# --- cleaning rules, without PDFs -----------------------------------------------------------


def test_normalize_chars():
    assert normalize_chars("ﬁne ﬂow oﬀ eﬃcient baﬄe") == "fine flow off efficient baffle"
    assert normalize_chars("𝑥 = 𝐵\u00a0+\u2009y") == "x = B + y"
    assert normalize_chars("Schu¨tze ´a") == "Schu¨tze ´a"  # spacing accents stay
    assert normalize_chars("a\x00b\x96c\u00adde") == "abcde"
    assert normalize_chars("x² ½ − –") == "x² ½ − –"


def test_tidy_spacing():
    assert tidy_spacing("  a   b , c ; d ( e ) f .") == "a b, c; d (e) f."
    assert tidy_spacing("from .5 to 1 ... 2") == "from .5 to 1 ... 2"


@pytest.mark.parametrize(
    "lines",
    [
        ["arXiv:2305.14314v1  [cs.LG]  23 May 2023"],
        ["a r X i v : 2 3 0 5 . 1 4 3 1 4 v 1 [ c s . L G ] 2 3 M a y 2 0 2 3"],
        ["3202 yaM 32 ]GL.sc[ 1v41341.5032:viXra"],
        list("arXiv:2305.14314v1[cs.LG]23May2023"),
        ["arXiv:2305.14314v1", "[cs.LG]", "23", "May", "2023"],
        ["2023", "May", "23", "[cs.LG]", "arXiv:2305.14314v1"],
    ],
    ids=["line", "spaced", "reversed", "char-per-line", "word-per-line", "words-reversed"],
)
def test_strip_stamp(lines):
    assert strip_stamp(["before", *lines, "after"]) == ["before", "after"]


def test_stamp_glued_into_a_line_and_references_kept():
    out = strip_stamp(
        ["text arXiv:2305.14314v1 [cs.LG] 23 May 2023 more", "arXiv preprint arXiv:1607.06450, 2016."]
    )
    assert out == ["text more", "arXiv preprint arXiv:1607.06450, 2016."]


def test_strip_edges_headers_with_varying_digits_and_page_numbers():
    words = ["alpha", "beta", "gamma", "delta", "epsilon"]
    body = [[f"The {w} line {k} says something else." for k in "abcdefgh"] for w in words]
    pages = [["Journal of Tests 21 (2020) 1-30", *b, f"Page {i} of 5"] for i, b in enumerate(body, start=1)]
    pages[2].insert(0, "Exploring Odd Pages")  # a header on only one page stays
    out = strip_edges(pages)
    assert out[0] == body[0]
    assert out[2] == ["Exploring Odd Pages", *body[2]]


def test_page_numbers_need_a_consistent_offset():
    words = ["alpha", "beta", "gamma", "delta", "epsilon"]
    pages = [[f"The {w} page has its own text.", str(i + 10)] for i, w in enumerate(words, start=1)]
    assert [len(p) for p in strip_edges(pages)] == [1] * 5
    table = [[f"The {w} table.", n] for w, n in zip(words, ["7", "9", "12", "20", "3"], strict=True)]
    assert [p[-1] for p in strip_edges(table)] == ["7", "9", "12", "20", "3"]


def test_join_hyphenated_rules():
    vocab = vocabulary(
        [["the pre-trained model and a transformer", "a longer one", "range of a question", "able"]]
    )
    assert join_hyphenated("a trans-", "former is", vocab)
    assert not join_hyphenated("the pre-", "trained model", vocab)  # written with a hyphen elsewhere
    assert not join_hyphenated("state-of-the-", "art", vocab)  # a compound
    assert not join_hyphenated("16-", "bit", vocab) and not join_hyphenated("GPT-", "4", vocab)
    assert not join_hyphenated("Pre-", "Training", vocab)
    assert not join_hyphenated("longer-", "range", vocab)  # two words, never written joined
    assert join_hyphenated("question-", "able", vocab)  # a suffix, although "able" is a word
    assert join_hyphenated("gener-", "alizing", vocab)


def test_word_hyphenated_across_a_page_break_is_made_whole_on_the_first_page():
    out = clean_pages(["Models are large Transformer lan-", "guage models. More text follows."])
    assert out == ["Models are large Transformer language", "models. More text follows."]


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("3.2 Double Quantization", "numbered"),
        ("2. Setup", "numbered"),
        ("1 INTRODUCTION", "numbered"),
        ("Abstract", "named"),
        ("REFERENCES", "named"),
        ("Appendix B. Converting WNLI to Our Text-to-Text Format", "lettered"),
        ("A Appendix", "lettered"),
        ("D.1 CoLA", "lettered"),
        ("3 Arithmetic reasoning", "numbered"),
    ],
)
def test_heading_candidates(line, kind):
    h = parse_heading(line)
    assert h is not None and h.kind == kind


@pytest.mark.parametrize(
    "line",
    [
        "2 GB of memory are needed to run the model on a single consumer GPU in this setting, e.g.",
        "A. Radford, K. Narasimhan, T. Salimans, and I. Sutskever.",
        "4 0.5 0.3 0.2 0.1",
        "A: No",
        "1 the model is trained on every task,",
    ],
)
def test_not_headings(line):
    assert parse_heading(line) is None


# --- real PDFs -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_papers(parser):
    folder = pdfgen.real_pdf_folder()
    if folder is None:
        pytest.skip("PAPERQA_TEST_PDFS is not set to a folder of real PDFs")
    return pdfgen.parsed_real_pdfs(folder, parser)


@pytest.mark.slow
def test_real_pdfs_have_no_junk(real_papers):
    assert real_papers
    for paper_id, pages in real_papers.items():
        starts: Counter[str] = Counter()
        for p in pages:
            assert not LIGATURE_GLYPHS.search(p.text), (paper_id, p.page)
            assert not STAMP_RE.search(p.text), (paper_id, p.page)
            lines = p.text.split("\n")
            assert not re.fullmatch(r"\d{1,3}", lines[-1].strip()), (paper_id, p.page, "page number")
            starts.update({re.sub(r"\d+", "#", x) for x in (lines[0], lines[-1]) if x})
        if len(pages) >= 5:  # no line recurs at the top or bottom of most pages
            assert not [k for k, c in starts.items() if c >= 0.5 * len(pages)], paper_id


@pytest.mark.slow
def test_real_running_headers_removed(real_papers):
    for paper_id, header in [
        ("1910.10683", "Raffel, Shazeer, Roberts, Lee, Narang"),
        ("1910.10683", "Exploring the Limits of Transfer Learning\n"),
        ("gpt2", "Language Models are Unsupervised Multitask Learners"),
    ]:
        if paper_id in real_papers:
            assert not [p.page for p in real_papers[paper_id][1:] if header in p.text], header


@pytest.mark.slow
def test_real_qlora_sections_and_pages(real_papers):
    pages = real_papers.get("2305.14314")
    if pages is None:
        pytest.skip("2305.14314.pdf (QLoRA v1) not in PAPERQA_TEST_PDFS")
    where = {p.page for p in pages if "4-bit NormalFloat" in p.text}
    assert where == {1, 2, 4, 5, 6, 7}  # checked by hand against the PDF
    p4 = pages[3]
    assert "4-bit NormalFloat Quantization The NormalFloat (NF) data type builds on Quantile" in p4.text
    assert section_at(sections(pages), 4, p4.text.index("The NormalFloat (NF) data type")).title == (
        "3 QLORA Finetuning"
    )
    assert pages[16].zone == "references" and pages[21].zone == "appendix"
    assert "memory usage enough to finetune" in pages[0].text  # "us-\nage" joined


@pytest.mark.slow
def test_real_attention_sections(real_papers):
    pages = real_papers.get("1706.03762")
    if pages is None:
        pytest.skip("1706.03762.pdf (Attention v5) not in PAPERQA_TEST_PDFS")
    titles = [s.title for s in sections(pages)]
    assert "3.2.1 Scaled Dot-Product Attention" in titles and titles[-1] == "References"
    assert pages[3].section == "3.2 Attention"


def test_pdf_with_only_an_owner_password_opens(tmp_path, parser):
    """Publisher PDFs often restrict printing but open without a password."""
    pages = parse_pdf(pdfgen.write_encrypted(tmp_path / "owner-only.pdf", user_password=""), "o", parser)
    assert "locked behind a password" in pages[0].text
