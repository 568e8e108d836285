"""Answers you can keep: Markdown and BibTeX exports, read back by real parsers.

The BibTeX is parsed by `bibtexparser` (with LaTeX decoding, so escaped titles must decode to the
catalog's titles exactly); the Markdown is rendered by markdown-it (the CommonMark parser rich
uses), so every citation must come out as a list item naming its page. Answers come from a real
small index in a data root of the test's own: the shipped corpus, one PDF "downloaded" from a fake
arXiv (so its authors are in the manifest) and one PDF of the user's own, with the hash embedder.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach the hub from tests

import html
import re
import subprocess
import sys
from pathlib import Path

import bibtexparser
import pytest
from bibtexparser.middlewares import LatexDecodingMiddleware
from markdown_it import MarkdownIt
from typer.testing import CliRunner

from fake_arxiv import FakeArxiv, FakePaper
from paperqa import Library, Settings
from paperqa.app.cli import app, run
from paperqa.errors import PaperqaError
from paperqa.keep.export import manifest_authors, to_bibtex, to_markdown
from paperqa.records import Answer, Citation, Paper, Quote
from pdfgen import sample_spec, write_pdf

LORA_ID = "2106.09685"
LORA = "LoRA: Low-Rank Adaptation of Large Language Models"
ZEBRA_Q = "What does the zebra quantizer store in four bits?"
runner = CliRunner()


@pytest.fixture(scope="module")
def lib(tmp_path_factory) -> Library:
    home = tmp_path_factory.mktemp("home")
    with FakeArxiv([FakePaper(LORA_ID, LORA, versions=2)]) as arx:
        settings = Settings.load(
            env={},
            home=home,
            embedder="hash",
            arxiv_api_url=arx.api_url,
            arxiv_pdf_url=arx.pdf_url,
            request_interval=0.0,
        )
        library = Library(settings)
        report = library.download(only=[LORA_ID], sleeper=lambda s: None)
        assert report.ok, report.to_dict()
    pdf = write_pdf(sample_spec(), tmp_path_factory.mktemp("in") / "zebra.pdf")
    assert [r.status for r in library.add([pdf])] == ["added"]
    library.build_index()
    return library


def parse_bibtex(text: str):
    parsed = bibtexparser.parse_string(text, append_middleware=[LatexDecodingMiddleware()])
    assert parsed.failed_blocks == [], [b.error for b in parsed.failed_blocks]
    return parsed


def raw_fields(text: str) -> dict[str, dict[str, str]]:
    """Fields as written (URLs are verbatim, not LaTeX: a LaTeX decoder would eat a `%`)."""
    parsed = bibtexparser.parse_string(text)
    return {e.key: {f.key: f.value for f in e.fields} for e in parsed.entries}


def rendered_items(markdown: str) -> list[str]:
    """The text of each item of the rendered numbered list, tags stripped."""
    page = MarkdownIt("commonmark").render(markdown)
    ol = re.search(r"<ol>(.*?)</ol>", page, re.S)
    assert ol, page
    items = re.findall(r"<li>(.*?)</li>", ol.group(1), re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", i)) for i in items]


def cli(lib: Library, *args: str):
    env = {"PAPERQA_HOME": str(lib.settings.home), "PAPERQA_EMBEDDER": "hash"}
    return runner.invoke(app, list(args), env=env)


# --- Markdown -----------------------------------------------------------------------------


def test_markdown_names_every_citation_with_its_page_and_quote(lib):
    answer = lib.ask(ZEBRA_Q)
    assert not answer.declined and any(c.pages for c in answer.citations)
    md = to_markdown(answer, lib.catalog)
    items = rendered_items(md)
    assert len(items) == len(answer.citations)
    for c, item in zip(answer.citations, items, strict=True):
        assert c.title in item
        if c.kind == "summary":
            assert "reading-list summary" in item and c.summaries[0].list_title in item
        else:
            page = c.quote.page if c.quote and c.quote.page else c.pages[0]
            assert f"p. {page}" in item
        if c.quote is not None:
            assert " ".join(c.quote.text.split()) in item
    assert "zebra" in MarkdownIt("commonmark").render(md).lower()
    assert "file://" not in md  # a local PDF path is useless in a note read elsewhere


def test_markdown_of_a_paper_answer_links_to_the_public_pdf_at_the_page(lib):
    answer = lib.ask("What is LoRA?")
    cited = [c for c in answer.citations if c.paper_id == LORA_ID]
    assert cited, answer
    md = to_markdown(answer, lib.catalog)
    assert f"arXiv:{LORA_ID}v2" in md and f"https://arxiv.org/pdf/{LORA_ID}v2" in md


def test_declined_answer_exports_as_markdown_saying_so_with_the_closest_papers(lib):
    answer = lib.ask("What is the best recipe for chocolate cake?")
    assert answer.declined and answer.closest
    md = to_markdown(answer, lib.catalog)
    assert "**Declined:**" in md and answer.answer in md
    page = MarkdownIt("commonmark").render(md)
    for pid in answer.closest:  # by title; the user's own papers (not in the catalog) by id
        paper = lib.catalog.find(pid)
        assert html.escape(paper.title if paper else pid, quote=False) in page
    assert to_bibtex(answer, lib.catalog) == ""  # nothing cited


def test_markdown_shows_titles_and_quotes_as_written_never_as_markup():
    title = "Learning *fast* with `code`, <b>tags</b> and snake_case_names"
    quote = "We use <script>x</script> and **stars** verbatim."
    cite = Citation(1, "extra-odd", title, 0, 2024, (3,), "2 Method", Quote(quote, 3, True), "", "")
    answer = Answer("Why *this*?", "Because _that_ [1].", "en", False, citations=(cite,))
    md = to_markdown(answer)
    page = MarkdownIt("commonmark").render(md)
    assert page.count("<strong>") == 4  # Question, Answer, Sources and the title: nothing from the text
    assert "<em>" not in page and "<code>" not in page and "<b>" not in page and "<script>" not in page
    [item] = rendered_items(md)
    assert title in item and quote in item and "p. 3" in item


def test_chinese_answer_exports_with_chinese_labels(lib):
    answer = lib.ask("QLoRA是如何节省显存的？")
    md = to_markdown(answer, lib.catalog)
    assert md.startswith("**问题:** QLoRA是如何节省显存的？") and "**来源**" in md


# --- BibTeX -------------------------------------------------------------------------------


def test_bibtex_of_an_answer_parses_with_stable_keys_and_arxiv_authors(lib):
    answer = lib.ask("What is LoRA?")
    text = to_bibtex(answer, lib.catalog, authors=manifest_authors(lib.settings))
    parsed = parse_bibtex(text)
    cited = list(dict.fromkeys(c.paper_id for c in answer.citations))
    keys = [e.key for e in parsed.entries]
    assert len(keys) == len(set(keys)) == len(cited)
    assert f"arxiv:{LORA_ID}" in keys
    lora = next(e for e in parsed.entries if e.key == f"arxiv:{LORA_ID}")
    assert lora["title"] == LORA
    assert lora["author"] == "Alice Author and Bob Writer"  # from the (fake) arXiv metadata
    assert (lora["eprint"], lora["year"]) == (LORA_ID, "2021")
    assert raw_fields(text)[f"arxiv:{LORA_ID}"]["url"] == f"https://arxiv.org/abs/{LORA_ID}v2"
    # the same answer exported again, or without authors: the same keys
    assert [e.key for e in parse_bibtex(to_bibtex(answer, lib.catalog)).entries] == keys


def test_whole_catalog_as_bibtex_parses_and_every_title_decodes_back(lib):
    items = list(lib.catalog.items)
    text = to_bibtex(items, lib.catalog)
    parsed = parse_bibtex(text)
    assert len(parsed.entries) == len(items)
    assert len({e.key for e in parsed.entries}) == len(items)  # unique keys
    by_key = {e.key: e for e in parsed.entries}
    for p in items:
        key = f"arxiv:{p.arxiv_id}" if p.arxiv_id else p.paper_id
        assert by_key[key]["title"] == " ".join(p.title.split()), key
    # ICL_PaperList's underscore is escaped, not a LaTeX subscript
    assert r"{ICL}\_{PaperList}" in text


@pytest.mark.parametrize("pid", ["gpt1", "gpt2"])
def test_papers_not_on_arxiv_are_techreports_with_their_url(lib, pid):
    paper = lib.catalog.get(pid)
    text = to_bibtex([pid], lib.catalog)
    [entry] = parse_bibtex(text).entries
    assert (entry.entry_type, entry.key) == ("techreport", pid)
    assert entry["institution"] == "OpenAI" and entry["title"] == paper.title
    assert raw_fields(text)[pid]["url"] == paper.pdf_url
    assert "eprint" not in entry.fields_dict


def test_users_own_paper_cited_in_an_answer_is_a_misc_entry(lib):
    answer = lib.ask(ZEBRA_Q)
    own = next(c for c in answer.citations if c.paper_id.startswith("extra-"))
    parsed = parse_bibtex(to_bibtex(answer, lib.catalog))
    entry = next(e for e in parsed.entries if e.key == own.paper_id)
    assert entry.entry_type == "misc" and entry["title"] == own.title


def test_titles_and_names_with_braces_and_specials_are_escaped():
    title = r"Braces {and} 100% of $cost & the_thing #1 ~ a\b: GPT-3 vs. LoRA, T5 and 中文 é"
    paper = Paper(
        "extra-odd", title, year=2024, organisation="R&D {Lab}", url="https://example.org/a?x=1&y=2"
    )
    names = {"extra-odd": ["Zoë Ünal", "Ann {Braced} O'Neil_Jr", "Li Wei 李伟"]}
    text = to_bibtex([paper], authors=names)
    [entry] = parse_bibtex(text).entries
    assert entry["title"] == title
    assert entry["author"] == " and ".join(names["extra-odd"])
    assert (entry.entry_type, entry["institution"]) == ("techreport", "R&D {Lab}")
    assert raw_fields(text)["extra-odd"]["url"] == "https://example.org/a?x=1&y=2"
    # acronyms and model names keep their case under sentence-case styles
    assert "{GPT}-3" in text and "{LoRA}" in text and "{T5}" in text
    # a caret is escaped too (pylatexenc decodes \textasciicircum to U+02C6, so checked as written)
    assert r"x\textasciicircum{}2" in to_bibtex([Paper("extra-c", "x^2")])


def test_unknown_paper_id_is_a_user_error(lib):
    with pytest.raises(PaperqaError, match="no paper 'nope'"):
        to_bibtex(["nope"], lib.catalog)


# --- CLI ----------------------------------------------------------------------------------


def test_cli_ask_format_markdown(lib):
    result = cli(lib, "ask", ZEBRA_Q, "--format", "markdown")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"**Question:** {ZEBRA_Q}")
    assert len(rendered_items(result.output)) >= 1 and "p. 3" in result.output


def test_cli_ask_format_bibtex_uses_manifest_authors(lib):
    result = cli(lib, "ask", "What is LoRA?", "--format", "bibtex")
    assert result.exit_code == 0, result.output
    entries = {e.key: e for e in parse_bibtex(result.output).entries}
    assert entries[f"arxiv:{LORA_ID}"]["author"] == "Alice Author and Bob Writer"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "latex"], "unknown --format 'latex'"),
        (["--format", "markdown", "--json"], "--json and --format"),
    ],
)
def test_cli_ask_bad_format_is_a_usage_error(lib, capsys, args, message):
    code = run(["ask", "What is LoRA?", *args, "--home", str(lib.settings.home), "--embedder", "hash"])
    assert code == 2
    assert message in capsys.readouterr().err


@pytest.mark.slow  # real `paperqa` processes, each loading the index and dictionaries
def test_real_paperqa_process_prints_parseable_bibtex(lib):
    exe = Path(sys.executable).parent / "paperqa"
    env = {**os.environ, "PAPERQA_HOME": str(lib.settings.home), "PAPERQA_EMBEDDER": "hash"}
    proc = subprocess.run(
        [str(exe), "ask", "QLoRA是如何节省显存的？", "--format", "bibtex"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    keys = [e.key for e in parse_bibtex(proc.stdout).entries]
    assert "arxiv:2305.14314" in keys
