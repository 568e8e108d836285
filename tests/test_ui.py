"""The web chat's pure helpers: escaping, citation cards, declined answers, input checks, PDF route.

No server and no models: a small fake Library stands in where the chat needs one.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import httpx
import pytest

from paperqa.app.web import WebAppNotFoundError, load_app_module
from paperqa.library import Library
from paperqa.records import Answer, Citation, Correction, Paper, Quote, SummaryEntry
from paperqa.settings import Settings

EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>'

ENTRY = SummaryEntry(
    list_id="llm-classic-papers-quick-read",
    list_title="LLM经典paper傻瓜式速读",
    heading="QLoRA：quantization+Lora <b>bold</b>",
    title_as_listed="《QLoRA》",
    text="阅读重点：4-bit NormalFloat、double quantization\n\n小学生摘要：A & B < C " + EVIL,
    line=721,
)
PAPER = Paper(
    paper_id="2305.14314",
    title="QLoRA: Efficient Finetuning of Quantized LLMs",
    arxiv_id="2305.14314",
    version=1,
    year=2023,
    organisation="University of Washington",
    aliases=("QLoRA",),
    summaries=(ENTRY,),
    corrections=(
        Correction("llm-classic-papers-quick-read", "date", "2023/5/32", "2023-05-23", "arXiv <v1>"),
    ),
)


def citation(**changes: Any) -> Citation:
    base: dict[str, Any] = dict(
        number=1,
        paper_id="2305.14314",
        title="QLoRA: Efficient Finetuning of Quantized LLMs",
        version=1,
        year=2023,
        pages=(4,),
        section="2 Background",
        quote=Quote(text="We introduce 4-bit NormalFloat " + EVIL, page=4, verbatim=True),
        abs_url="https://arxiv.org/abs/2305.14314v1",
        pdf_url="https://arxiv.org/pdf/2305.14314v1#page=4",
        summaries=(ENTRY,),
        kind="paper",
    )
    base.update(changes)
    return Citation(**base)


def answer(**changes: Any) -> Answer:
    base: dict[str, Any] = dict(
        question="How does QLoRA save memory?",
        answer="QLoRA quantizes the frozen model to 4 bits [1].",
        language="en",
        declined=False,
        citations=(citation(),),
        engine="extractive",
        timings={"total_ms": 120.0, "retrieve_ms": 30.0},
    )
    base.update(changes)
    return Answer(**base)


def find(pid: str) -> Paper | None:
    return PAPER if pid in ("2305.14314", "QLoRA") else None


# --- input --------------------------------------------------------------------------------


def test_empty_and_blank_questions_get_a_clear_message(ui: ModuleType) -> None:
    for text in ("", "   \n\t ", None):
        msg = ui.validate_question(text)
        assert msg and "type a question" in msg


def test_question_length_limit_is_2000_characters(ui: ModuleType) -> None:
    assert ui.validate_question("x" * 2000) is None
    assert ui.validate_question("  " + "x" * 2000 + "  ") is None  # surrounding blanks do not count
    msg = ui.validate_question("x" * 2001)
    assert msg and "2,001" in msg and "2,000" in msg and "shorten" in msg


def test_notice_is_escaped(ui: ModuleType) -> None:
    assert "<script>" not in ui.notice_html(EVIL)
    assert ui.notice_html("") == ""


# --- citation cards -------------------------------------------------------------------------


def test_citation_card_escapes_every_text_field(ui: ModuleType) -> None:
    evil = citation(title="T " + EVIL, section="§ " + EVIL)
    card = ui.citation_card_html(evil, paper=PAPER)
    assert "<script" not in card and "<img" not in card and "<b>bold" not in card
    assert "&lt;script&gt;" in card and "&lt;b&gt;bold&lt;/b&gt;" in card
    assert "A &amp; B &lt; C" in card
    # one line of HTML: a blank line would end markdown's HTML block and print the rest as text
    assert "\n" not in card


def test_citation_card_content(ui: ModuleType) -> None:
    card = ui.citation_card_html(citation(), paper=PAPER, open_=True)
    assert card.startswith('<details class="pqa-card pqa-p-2305-14314" open>')
    assert "p. 4" in card and "2 Background" in card and "verbatim" in card
    assert 'href="https://arxiv.org/pdf/2305.14314v1#page=4"' in card
    assert 'href="https://arxiv.org/abs/2305.14314v1"' in card
    assert "LLM经典paper傻瓜式速读" in card and "4-bit NormalFloat" in card and "line 721" in card
    assert "/paperqa/pdf/" not in card and "/paperqa/reader" not in card  # no local copy: no reader link
    assert "no local PDF" in card  # said plainly; the arXiv links and the list's entry stand in


def test_local_pdf_is_linked_through_the_route_never_as_file_url(ui: ModuleType) -> None:
    local = citation(pdf_url="file:///home/me/corpus/pdfs/2305.14314v1.pdf#page=4")
    card = ui.citation_card_html(local, paper=PAPER, local_pdf=True)
    assert "file://" not in card
    assert (
        'class="pqa-read pqa-pdf" href="/paperqa/reader?paper=2305.14314&amp;page=4&amp;quote=We+introduce'
        in card
    )
    assert "no local PDF" not in card
    # the arXiv PDF at the page is offered as well, built from the catalog
    assert 'href="https://arxiv.org/pdf/2305.14314v1#page=4"' in card


def test_reader_link_carries_page_quote_and_title_url_encoded(ui: ModuleType) -> None:
    from urllib.parse import parse_qs, urlsplit

    url = ui.reader_url("2305.14314", 4, 'A "quote" & <b>more</b>, 中文', "QLoRA: T")
    assert url.startswith("/paperqa/reader?") and ui.safe_url(url) == url
    args = parse_qs(urlsplit(url).query)
    assert args == {
        "paper": ["2305.14314"],
        "page": ["4"],
        "quote": ['A "quote" & <b>more</b>, 中文'],
        "title": ["QLoRA: T"],
    }
    assert "quote=" not in ui.reader_url("x", 1, "q" * (ui.MAX_QUOTE_IN_URL + 1))  # too long: page only
    assert ui.reader_url("x") == "/paperqa/reader?paper=x"


def test_reader_link_highlights_only_a_quote_verified_on_that_page(ui: ModuleType) -> None:
    unverified = citation(quote=Quote("We introduce 4-bit NormalFloat", 4, False))
    card = ui.citation_card_html(unverified, paper=PAPER, local_pdf=True)
    assert "/paperqa/reader?paper=2305.14314&amp;page=4&amp;title=" in card and "quote=" not in card
    summary = citation(kind="summary", pages=(), quote=Quote("4-bit NormalFloat", 0, True))
    card = ui.citation_card_html(summary, paper=PAPER, local_pdf=True)
    assert "Read the PDF here" in card and 'href="/paperqa/reader?paper=2305.14314&amp;title=' in card
    assert "quote=" not in card


def test_unsafe_urls_are_never_linked(ui: ModuleType) -> None:
    bad = citation(abs_url="javascript:alert(1)", pdf_url="data:text/html,<script>x</script>")
    card = ui.citation_card_html(bad, paper=None)
    assert "javascript:" not in card and "data:text" not in card
    for url in ("javascript:alert(1)", "file:///etc/passwd", "//evil.example", "/etc/passwd", ""):
        assert ui.safe_url(url) == ""
    assert ui.safe_url("https://arxiv.org/abs/1706.03762") == "https://arxiv.org/abs/1706.03762"


def test_summary_citation_has_no_page_and_says_where_the_quote_is_from(ui: ModuleType) -> None:
    c = citation(
        pages=(),
        section="",
        kind="summary",
        quote=Quote("4-bit NormalFloat", 0, True),
        pdf_url="https://arxiv.org/pdf/2305.14314v1",
    )
    card = ui.citation_card_html(c, paper=PAPER)
    assert "reading-list entry" in card and "reading list" in card
    assert "p. 0" not in card and "#page=" not in card


def test_page_labels(ui: ModuleType) -> None:
    assert ui.page_label([4]) == "p. 4"
    assert ui.page_label([5, 4, 6]) == "pp. 4–6"
    assert ui.page_label([3, 9]) == "pp. 3, 9"
    assert ui.page_label([]) == "" and ui.page_label([0]) == ""


def test_answer_message_has_text_then_cards(ui: ModuleType) -> None:
    md = ui.answer_markdown(answer(answer="Uses <b>NF4</b> & paging [1]."), find, local_pdfs=["2305.14314"])
    text, _, html_block = md.partition("\n\n")
    assert text == "Uses &lt;b&gt;NF4&lt;/b&gt; &amp; paging [1]."
    assert html_block.startswith('<div class="pqa-cards">') and "\n" not in html_block
    assert html_block.count('class="pqa-card ') == 1 and "1 source" in html_block
    assert "/paperqa/reader?paper=2305.14314&amp;page=4&amp;quote=" in html_block
    assert "engine: extractive · 150 ms" in html_block
    assert "pqa-export" not in html_block  # nothing to export given


def test_export_controls_under_the_answer_are_escaped_and_one_line(ui: ModuleType) -> None:
    md = "## Question\n\n<script>x</script> & *QLoRA*\n"
    bib = "@misc{arxiv:2305.14314,\n  title = {{QLoRA}},\n}\n"
    msg = ui.answer_markdown(answer(), find, local_pdfs=["2305.14314"], exports=(md, bib))
    _, _, html_block = msg.partition("\n\n")
    assert "\n" not in html_block  # the HTML block stays one line: newlines are &#10; in the <pre>
    assert "Copy as Markdown" in html_block and "BibTeX" in html_block
    assert "&lt;script&gt;x&lt;/script&gt; &amp; *QLoRA*" in html_block and "<script>" not in html_block
    assert "@misc{arxiv:2305.14314,&#10;  title = {{QLoRA}},&#10;}" in html_block
    assert ui.export_html(("", "")) == "" and ui.export_html(None) == ""


def test_export_texts_come_from_paperqa_export(ui: ModuleType, tmp_path: Path) -> None:
    pytest.importorskip("paperqa.keep.export")
    lib = Library(Settings.load(env={}, home=tmp_path))
    exported = ui.export_texts(lib, answer())
    assert exported is not None
    md, bib = exported
    assert "How does QLoRA save memory?" in md and "4-bit NormalFloat" in md
    assert "2305.14314" in bib and bib.lstrip().startswith("@")


# --- declined -----------------------------------------------------------------------------


def test_declined_answer_says_so_and_offers_closest_papers(ui: ModuleType) -> None:
    declined = answer(
        question="What is the capital of France?",
        answer="The reading list does not cover this.",
        declined=True,
        citations=(),
        closest=("2305.14314", "unknown-id"),
    )
    md = ui.answer_markdown(declined, find)
    assert "The reading list does not cover this." in md
    assert md.count("does not cover") == 1  # the engine's own sentence is not repeated
    assert "Closest papers" in md and "QLoRA: Efficient Finetuning" in md and "(2023)" in md
    assert 'href="https://arxiv.org/abs/2305.14314v1"' in md and "unknown-id" in md
    assert "pqa-card" not in md


def test_declined_chinese_answer_also_says_it_in_chinese(ui: ModuleType) -> None:
    declined = answer(
        question="法国的首都是哪里？",
        answer="阅读清单中的论文没有涉及这个问题。",
        language="zh",
        declined=True,
        citations=(),
        closest=(),
    )
    md = ui.answer_markdown(declined, find)
    assert "does not cover this" in md and "阅读清单中的论文没有涉及这个问题" in md
    assert "Closest papers" not in md


def test_declined_with_model_text_keeps_it(ui: ModuleType) -> None:
    declined = answer(answer="I found nothing about <cats>.", declined=True, citations=(), closest=())
    md = ui.answer_markdown(declined, find)
    assert "does not cover this" in md and "nothing about &lt;cats&gt;" in md


def test_declined_shows_the_engines_own_explanation_whatever_words_it_uses(ui: ModuleType) -> None:
    """`declined` decides; the text is shown unless it is exactly the pipeline's stock sentence."""
    from paperqa.answer import DECLINE, DECLINE_UNKNOWN

    for lang, said in (
        ("en", DECLINE_UNKNOWN["en"].format(names="GPT-7", closest="; closest: QLoRA")),
        ("zh", DECLINE_UNKNOWN["zh"].format(names="GPT-7", closest="；最接近的是：QLoRA")),
        ("en", "The reading list does not cover French geography; Paris only names a dataset."),
        ("zh", "阅读清单没有涉及法国地理，巴黎只是一个数据集的名字。"),
    ):
        declined = answer(answer=said, language=lang, declined=True, citations=(), closest=())
        md = ui.answer_markdown(declined, find)
        assert "pqa-declined-text" in md and said in md, lang
    for lang, stock in DECLINE.items():
        md = ui.answer_markdown(answer(answer=stock, language=lang, declined=True, citations=()), find)
        assert "pqa-declined-text" not in md and md.count(stock) <= 1, lang


# --- the chat handler -----------------------------------------------------------------------


class FakeLibrary:
    """What the chat uses of a Library: ask_stream, pdf_path, catalog.find, settings, k."""

    def __init__(self, home: Path, items: list[Any] | None = None, error: Exception | None = None):
        self.settings = SimpleNamespace(
            home=home, pdf_dir=home / "corpus" / "pdfs", engine="extractive", host="127.0.0.1", port=0
        )
        self.k = 6
        self.catalog = SimpleNamespace(items=(PAPER,), papers=[PAPER], find=find)
        self.items = items if items is not None else ["QLoRA ", "quantizes [1].", answer()]
        self.error = error
        self.calls: list[dict[str, Any]] = []
        self.pdfs: dict[str, Path] = {}

    def ask_stream(self, question: str, engine=None, k=None, papers=None, history=None) -> Iterator[Any]:
        call = {"question": question, "engine": engine, "k": k, "papers": papers}
        self.calls.append(call if history is None else {**call, "history": history})
        if self.error:
            raise self.error
        yield from self.items

    def pdf_path(self, paper_id: str) -> Path | None:
        return self.pdfs.get(paper_id)

    def status(self) -> dict[str, Any]:
        return {"papers": 1, "pdfs": len(self.pdfs), "index": None}


def contents(history: list[dict[str, Any]]) -> list[str]:
    return [m["content"] for m in history]


def test_empty_input_leaves_the_chat_alone_and_shows_the_message(ui: ModuleType, tmp_path: Path) -> None:
    lib = FakeLibrary(tmp_path)
    history = [{"role": "user", "content": "earlier"}]
    out = list(ui.respond(lib, "   ", history, "extractive", 6, []))
    assert len(out) == 1
    chat, _box, notice = out[0]
    assert chat == history and "type a question" in notice
    assert lib.calls == []


def test_overlong_input_is_refused_before_the_library_is_asked(ui: ModuleType, tmp_path: Path) -> None:
    lib = FakeLibrary(tmp_path)
    ((chat, _box, notice),) = list(ui.respond(lib, "q" * 2500, [], "extractive", 6, []))
    assert chat == [] and "2,500 characters" in notice
    assert lib.calls == []


def test_answer_streams_then_becomes_the_cited_answer(ui: ModuleType, tmp_path: Path) -> None:
    lib = FakeLibrary(tmp_path)
    lib.pdfs["2305.14314"] = tmp_path / "x.pdf"
    out = list(ui.respond(lib, "  How does QLoRA save memory?  ", [], "llama", 3.0, ["2305.14314"]))
    assert lib.calls == [
        {"question": "How does QLoRA save memory?", "engine": "llama", "k": 3, "papers": ["2305.14314"]}
    ]
    first_chat, box, notice = out[0]
    assert box == "" and notice == ""  # the box is cleared and any old notice goes away
    assert contents(first_chat)[0] == "How does QLoRA save memory?"
    assert any("QLoRA quantizes [1]. ▌" in contents(chat)[-1] for chat, *_ in out)
    final = contents(out[-1][0])
    assert (
        len(final) == 2
        and 'class="pqa-card pqa-p-2305-14314"' in final[1]
        and "/paperqa/reader?paper=2305.14314&amp;page=4" in final[1]
    )


def test_user_message_shows_what_was_typed_not_its_html(ui: ModuleType, tmp_path: Path) -> None:
    lib = FakeLibrary(tmp_path)
    typed = "<b>bold</b> What is **LoRA**?\n# not a heading <script>alert(1)</script>\n1. not a list & max_seq_len &amp;"
    out = list(ui.respond(lib, typed, [], "extractive", 6, []))
    assert contents(out[-1][0])[0] == (
        "&lt;b>bold&lt;/b> What is \\*\\*LoRA\\*\\*?\n"
        "\\# not a heading &lt;script>alert(1)&lt;/script>\n"
        "1\\. not a list & max_seq_len &amp;amp;"
    )
    assert lib.calls[0]["question"] == typed  # the library gets the text itself
    for plain in ("How does QLoRA save memory?", "QLoRA是如何节省显存的？", "Is 4-bit NF4 > int8?"):
        assert ui.user_text_markdown(plain) == plain  # nothing to escape: copied back as typed


def test_no_papers_selected_means_the_whole_list(ui: ModuleType, tmp_path: Path) -> None:
    lib = FakeLibrary(tmp_path)
    list(ui.respond(lib, "QLoRA是如何节省显存的？", None, "", 0, []))
    assert lib.calls[0]["papers"] is None and lib.calls[0]["engine"] is None and lib.calls[0]["k"] is None


def test_library_errors_are_shown_in_the_chat_not_raised(ui: ModuleType, tmp_path: Path) -> None:
    lib = FakeLibrary(tmp_path, error=RuntimeError("No index in /x. Build it with `paperqa index` <now>."))
    out = list(ui.respond(lib, "How does QLoRA save memory?", [], "extractive", 6, []))
    last = contents(out[-1][0])[-1]
    assert "pqa-error" in last and "paperqa index" in last and "&lt;now&gt;" in last


def test_a_stream_without_a_final_answer_is_reported(ui: ModuleType, tmp_path: Path) -> None:
    lib = FakeLibrary(tmp_path, items=["partial"])
    out = list(ui.respond(lib, "How does QLoRA save memory?", [], "extractive", 6, []))
    assert "no answer" in contents(out[-1][0])[-1]


# --- PDF route: only manifest PDFs inside corpus/pdfs ------------------------------------------


def test_local_pdf_file_serves_only_pdfs_inside_the_pdf_dir(ui: ModuleType, tmp_path: Path) -> None:
    lib = FakeLibrary(tmp_path)
    pdf_dir = tmp_path / "corpus" / "pdfs"
    pdf_dir.mkdir(parents=True)
    good = pdf_dir / "2305.14314v1.pdf"
    good.write_bytes(b"%PDF-1.4 ...")
    outside = tmp_path / "secret.pdf"
    outside.write_bytes(b"%PDF-1.4 secret")
    link = pdf_dir / "link.pdf"
    os.symlink(outside, link)
    not_pdf = pdf_dir / "notes.txt"
    not_pdf.write_text("x")
    lib.pdfs.update(
        {
            "2305.14314": good,
            "escape": outside,
            "linked": link,
            "txt": not_pdf,
            "gone": pdf_dir / "missing.pdf",
        }
    )
    assert ui.local_pdf_file(lib, "2305.14314") == good.resolve()
    for pid in ("escape", "linked", "txt", "gone", "unknown", "../secret", "..", "", "a/b", "%2e%2e"):
        assert ui.local_pdf_file(lib, pid) is None, pid


# --- papers tab -----------------------------------------------------------------------------


def test_papers_tab_lists_all_111_papers_with_entries_and_corrections(ui: ModuleType, tmp_path: Path) -> None:
    lib = Library(Settings.load(env={}, home=tmp_path))
    items = list(lib.catalog.items)
    st = ui.CorpusStatus(pdf_pages={"2305.14314": 26}, indexed={"2305.14314": {"paper": 3, "summary": 1}})
    page = ui.papers_html(items, st)
    assert page.count("pqa-kind-paper") == 111 and "111 papers" in page
    assert "QLoRA: Efficient Finetuning of Quantized LLMs" in page and "PDF · 26 pp." in page
    assert "indexed: full text" in page and "no index yet" in page
    assert "4-bit NormalFloat" in page  # the list's own entry
    assert "Corrections" in page  # the catalog records the lists' mistakes
    filtered = ui.papers_html(items, st, "qlora")
    assert "pqa-p-2305-14314" in filtered and "of 111 papers" in filtered
    assert filtered.count("pqa-kind-paper") < 111
    # each paper's lists, with its part (list two) or section (list one) there
    qlora = next(p for p in items if p.paper_id == "2305.14314")
    places = ui.places_html(qlora)
    assert "section:" in places and "QLoRA：quantization+Lora" in places
    assert "/paperqa/reader?paper=2305.14314" in ui.paper_row_html(qlora, st)  # has a PDF: read it here
    assert "/paperqa/reader" not in ui.paper_row_html(
        next(p for p in items if p.paper_id != qlora.paper_id), st
    )


def test_papers_tab_filters_by_list_part_year_and_pdf(ui: ModuleType, tmp_path: Path) -> None:
    lib = Library(Settings.load(env={}, home=tmp_path))
    items = list(lib.catalog.items)
    st = ui.CorpusStatus(pdf_pages={"2305.14314": 26})
    parts = ui.part_choices(items)
    assert parts[0] == ("All lists and parts", "")
    part_values = [v for _, v in parts if ui.PART_SEP in v]
    assert len(part_values) == 7 and all("部分" in v for v in part_values)  # list two's seven parts
    whole_lists = [v for _, v in parts[1:] if ui.PART_SEP not in v]
    assert len(whole_lists) == 2
    counts = {v: ui.papers_html(items, st, part=v).count("pqa-kind-paper") for v in part_values}
    assert all(0 < n < 111 for n in counts.values()), counts
    first_part = part_values[0]
    assert all(
        any(s.heading == first_part.split(ui.PART_SEP)[1] for s in p.summaries)
        for p in items
        if ui.paper_class(p.paper_id) in ui.papers_html(items, st, part=first_part)
    )
    years = [v for _, v in ui.year_choices(items)]
    assert years[0] == "" and "2017" in years and years[1:] == sorted(years[1:])
    in_2017 = ui.papers_html(items, st, year="2017")
    assert "pqa-p-1706-03762" in in_2017 and in_2017.count("pqa-kind-paper") == 4
    with_pdf = ui.papers_html(items, st, has_pdf=True)
    assert with_pdf.count("pqa-kind-paper") == 1 and "1 of 111 papers" in with_pdf
    assert ui.papers_html(items, st, "qlora", year="2017").count("pqa-kind-paper") == 0  # combined


def test_paper_choices_cover_the_catalog(ui: ModuleType) -> None:
    choices = ui.paper_choices([PAPER])
    assert choices == [("QLoRA: Efficient Finetuning of Quantized LLMs (2023)", "2305.14314")]


def test_history_tab_lists_past_answers_escaped(ui: ModuleType, tmp_path: Path) -> None:
    lib = FakeLibrary(tmp_path)
    assert "No history" in ui.history_html(lib)  # a Library without history(): said, not raised
    entry = SimpleNamespace(
        asked_at="2026-05-01T10:20:30+00:00",
        question="What is <b>QLoRA</b>?",
        engine="extractive",
        declined=False,
        record=answer(question="What is <b>QLoRA</b>?"),
    )
    seen: list[Any] = []

    def history(query: str | None, limit: int) -> list[Any]:
        seen.append((query, limit))
        return [entry] if query in (None, "QLoRA") else []

    lib.history = history  # type: ignore[attr-defined]
    page = ui.history_html(lib, "  QLoRA ")
    assert seen[-1] == ("QLoRA", ui.HISTORY_LIMIT)
    assert (
        "1 question matching" in page
        and "What is &lt;b&gt;QLoRA&lt;/b&gt;?" in page
        and "<b>QLoRA" not in page
    )
    assert "2026-05-01 10:20 UTC" in page and "1 source" in page and 'class="pqa-card ' in page
    assert "No past question matches." in ui.history_html(lib, "nothing")
    lib.history = lambda q, n: (_ for _ in ()).throw(RuntimeError("history file <broken>"))  # type: ignore[attr-defined]
    assert "pqa-error" in ui.history_html(lib) and "&lt;broken&gt;" in ui.history_html(lib)


def test_corrections_are_escaped(ui: ModuleType) -> None:
    out = ui.corrections_html(PAPER.corrections)
    assert "arXiv &lt;v1&gt;" in out and "2023-05-23" in out


# --- the app and the loader ---------------------------------------------------------------------


def test_build_app_builds_with_a_queue(ui: ModuleType, tmp_path: Path) -> None:
    import gradio as gr

    demo = ui.build_app(FakeLibrary(tmp_path))
    assert isinstance(demo, gr.Blocks)
    assert demo._queue.max_size == ui.QUEUE_SIZE
    config = demo.get_config_file()
    assert config["title"].startswith("paperqa")
    kinds = {c["type"] for c in config["components"]}
    assert {"chatbot", "textbox", "radio", "slider", "dropdown", "html", "checkbox"} <= kinds
    html = " ".join(str(c.get("props", {}).get("value", "")) for c in config["components"])
    assert 'id="pqa-reader-frame"' in html and 'src="/paperqa/reader"' in html  # the reader beside the tabs


def test_loader_finds_ui_app_in_the_checkout(ui: ModuleType) -> None:
    assert callable(ui.build_app) and callable(ui.launch)
    assert load_app_module() is ui  # imported once per process


def test_loader_finds_the_ui_shipped_inside_an_installed_wheel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No checkout: the wheel carries ui/ as paperqa/ui (pyproject's force-include)."""
    import tomllib

    from paperqa.app import web as webapp

    package = tmp_path / "site-packages" / "paperqa"
    (package / "ui").mkdir(parents=True)
    (package / "ui" / "app.py").write_text("def launch(lib):\n    return None\n")
    monkeypatch.setattr(webapp, "checkout_root", lambda: None)
    monkeypatch.setattr(webapp, "PACKAGE_DIR", package)
    assert webapp.app_path() == package / "ui" / "app.py"
    (package / "ui" / "app.py").unlink()
    with pytest.raises(WebAppNotFoundError, match="reinstall"):
        webapp.app_path()
    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    shipped = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert shipped["ui/app.py"] == "paperqa/ui/app.py"
    assert shipped["ui/static"] == "paperqa/ui/static" and shipped["ui/vendor"] == "paperqa/ui/vendor"


def test_loader_says_clearly_when_the_file_is_missing(tmp_path: Path) -> None:
    with pytest.raises(WebAppNotFoundError, match="cannot be imported|not found"):
        load_app_module(tmp_path / "nope.txt")
    with pytest.raises(WebAppNotFoundError, match="not found"):
        load_app_module(tmp_path / "missing.py")


def test_launch_listens_on_localhost_by_default(
    ui: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lib = Library(Settings.load(env={}, home=tmp_path))
    seen: dict[str, Any] = {}

    class FakeServer:
        started = True

        def run(self) -> None:
            seen["ran"] = True

    def fake_server(lib: Any, host: str, port: int) -> FakeServer:
        seen.update(host=host, port=port)
        return FakeServer()

    monkeypatch.setattr(ui, "_server", fake_server)
    monkeypatch.setattr(ui, "_warm_up", lambda lib: None)
    ui.launch(lib)
    assert seen == {"host": "127.0.0.1", "port": 7860, "ran": True}


def test_server_routes_serve_the_chat_and_corpus_pdfs_only(ui: ModuleType, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    lib = FakeLibrary(tmp_path)
    pdf_dir = tmp_path / "corpus" / "pdfs"
    pdf_dir.mkdir(parents=True)
    (pdf_dir / "2305.14314v1.pdf").write_bytes(b"%PDF-1.4 test %%EOF")
    lib.pdfs["2305.14314"] = pdf_dir / "2305.14314v1.pdf"
    secret = tmp_path / "secret.txt"
    secret.write_text("do not serve")
    with TestClient(ui.create_server_app(lib)) as client:
        r = client.get("/paperqa/pdf/2305.14314")
        assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
        assert r.headers["content-disposition"].startswith("inline")
        assert r.content.startswith(b"%PDF")
        for path in (
            "/paperqa/pdf/1706.03762",
            "/paperqa/pdf/..%2Fsecret.txt",
            f"/gradio_api/file={secret}",
            "/paperqa/assets/app.py",
            "/paperqa/assets/static/..%2Fapp.py",
            "/paperqa/assets/vendor/pdfjs/README.md",
            "/paperqa/assets/vendor/pdfjs/pdf.mjs.map",
        ):
            r = client.get(path)
            assert r.status_code in (400, 403, 404), path
            assert "do not serve" not in r.text and "def build_app" not in r.text
        assert client.get("/").status_code == 200
        reader = client.get("/paperqa/reader?paper=2305.14314&page=4&quote=x")
        assert reader.status_code == 200 and reader.headers["content-type"].startswith("text/html")
        csp = reader.headers["content-security-policy"]
        assert "script-src 'self';" in csp and "frame-ancestors 'self'" in csp and "object-src 'none'" in csp
        assert reader.headers["x-frame-options"] == "SAMEORIGIN"
        for path, kind in (
            ("/paperqa/assets/vendor/pdfjs/pdf.min.mjs", "text/javascript"),
            ("/paperqa/assets/vendor/pdfjs/pdf.worker.min.mjs", "text/javascript"),
            ("/paperqa/assets/vendor/pdfjs/pdf_viewer.css", "text/css"),
            ("/paperqa/assets/static/reader.mjs", "text/javascript"),
            ("/paperqa/assets/static/app.mjs", "text/javascript"),
        ):
            r = client.get(path)
            assert r.status_code == 200 and r.headers["content-type"].startswith(kind), path
            assert r.headers["x-content-type-options"] == "nosniff"


def test_only_the_readers_own_files_are_served_from_ui(ui: ModuleType) -> None:
    files = ui.asset_files()
    assert "vendor/pdfjs/pdf.min.mjs" in files and "static/match.mjs" in files
    assert all(name.split("/")[0] in ui.ASSET_DIRS for name in files)
    assert all(Path(f).suffix in ui.ASSET_TYPES for f in files.values())
    assert not any(name.endswith((".py", ".md", ".map")) for name in files)


def test_vendored_pdfjs_is_one_pinned_version_with_its_licence() -> None:
    vendor = Path(__file__).resolve().parents[1] / "ui" / "vendor" / "pdfjs"
    readme = (vendor / "README.md").read_text()
    version = re.search(r"\*\*(\d+\.\d+\.\d+)\*\*", readme)
    assert version, "the README names the pinned pdfjs-dist version"
    for name in ("pdf.min.mjs", "pdf_viewer.mjs"):
        assert f'"{version.group(1)}"' in (vendor / name).read_text(encoding="utf-8")
    assert "Apache License" in (vendor / "LICENSE").read_text()
    total = sum(f.stat().st_size for f in vendor.rglob("*") if f.is_file())
    assert total < 3_000_000, f"vendored PDF.js grew to {total:,} bytes"


# --- Gradio's own surface, over real HTTP against a real server ---------------------------------

EVIL_ORIGIN = "http://evil.example"


@pytest.fixture(scope="module")
def live(
    ui: ModuleType, tmp_path_factory: pytest.TempPathFactory, free_port: Callable[[], int]
) -> Iterator[dict[str, Any]]:
    """The chat served on 127.0.0.1 (a fake Library: these tests never ask a question)."""
    lib = FakeLibrary(tmp_path_factory.mktemp("live"))
    uploads = tmp_path_factory.mktemp("gradio-uploads")  # not the shared /tmp/gradio
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRADIO_TEMP_DIR", str(uploads))
        server = ui.start(lib, host="127.0.0.1", port=free_port())
        try:
            yield {"url": server.url, "lib": lib, "origin": server.url, "uploads": uploads}
        finally:
            server.close()


def _stored(live: dict[str, Any], name: str) -> list[Path]:
    """Files named `name` anywhere in the server's upload folder."""
    return list(Path(live["uploads"]).rglob(name))


def _upload(url: str, name: str, size: int, **headers: str) -> httpx.Response:
    return httpx.post(
        url + "/gradio_api/upload",
        files={"files": (name, b"x" * size, "text/plain")},
        headers=headers,
        timeout=30,
    )


def test_run_history_and_monitoring_are_off(live: dict[str, Any]) -> None:
    url = live["url"]
    for path in ("/gradio_api/runs", "/gradio_api/runs/", "/gradio_api/run-history/records"):
        assert httpx.get(url + path, timeout=30).status_code == 404, path
    assert httpx.get(url + "/monitoring/summary", timeout=30).status_code in (403, 404)
    config = httpx.get(url + "/config", timeout=30).json()
    assert config["run_history"] is False  # the page also deletes runs an older version saved


def test_uploads_are_capped_though_the_app_takes_no_files(ui: ModuleType, live: dict[str, Any]) -> None:
    name = f"pqa-big-{uuid.uuid4().hex}.txt"
    r = _upload(live["url"], name, 200_000, Origin=live["origin"])
    assert r.status_code == 413, r.text
    assert _stored(live, name) == []
    config = httpx.get(live["url"] + "/config", timeout=30).json()
    assert config["max_file_size"] == ui.MAX_FILE_SIZE < 200_000


def test_cross_origin_writes_are_refused(live: dict[str, Any]) -> None:
    url = live["url"]
    name = f"pqa-evil-{uuid.uuid4().hex}.txt"
    for headers in (
        {"Origin": EVIL_ORIGIN},
        {"Origin": "null"},  # a sandboxed iframe or a file:// page
        {"Origin": url.replace("127.0.0.1", "localhost")},  # another origin on this machine
        {"Sec-Fetch-Site": "cross-site"},  # a browser that left Origin out
    ):
        r = _upload(url, name, 10, **headers)
        assert r.status_code == 403, (headers, r.status_code, r.text)
        join = httpx.post(
            url + "/gradio_api/queue/join",
            json={"data": ["How does QLoRA save memory?"], "fn_index": 0, "session_hash": "evil"},
            headers=headers,
            timeout=30,
        )
        assert join.status_code == 403, (headers, join.status_code)
    time.sleep(0.5)  # a background copy into the cache would have landed by now
    assert _stored(live, name) == []
    assert live["lib"].calls == []
    # the page's own requests (same origin) and non-browser clients (no Origin) still work
    for headers in ({"Origin": live["origin"], "Sec-Fetch-Site": "same-origin"}, {}):
        ok = f"pqa-ok-{uuid.uuid4().hex}.txt"
        r = _upload(url, ok, 10, **headers)
        assert r.status_code == 200, (headers, r.text)
        assert r.json()[0].startswith(str(live["uploads"]))  # the folder _stored() searches


def test_no_other_origin_may_read_the_api(live: dict[str, Any]) -> None:
    """Gradio's own CORS echoes any Origin with credentials once the Host is not localhost."""
    url = live["url"]
    lan = {"Host": f"paperqa.lan:{url.rsplit(':', 1)[1]}", "Origin": EVIL_ORIGIN}
    r = httpx.get(url + "/config", headers=lan, timeout=30)
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
    pre = httpx.options(
        url + "/gradio_api/queue/join",
        headers={
            **lan,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
        timeout=30,
    )
    assert "access-control-allow-origin" not in pre.headers
    assert pre.headers.get("access-control-allow-credentials") != "true"


def test_gradio_floor_is_the_newest_release_with_security_fixes() -> None:
    """6.31.0 requires brotli>=1.2.1 (CVE fix); 6.25 respects our CORSMiddleware; 6.20/6.22 harden file routes."""
    import tomllib
    from importlib.metadata import version

    from packaging.requirements import Requirement
    from packaging.version import Version

    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    deps = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    (gradio,) = [Requirement(d) for d in deps if Requirement(d).name == "gradio"]
    floors = [Version(s.version) for s in gradio.specifier if s.operator == ">="]
    assert floors and min(floors) >= Version("6.31.0"), str(gradio.specifier)
    assert Version(version("gradio")) in gradio.specifier


def test_the_chat_keeps_the_conversation_for_follow_ups(ui: ModuleType, tmp_path: Path) -> None:
    """Each answered turn joins the session's conversation; the next question is asked with it."""
    final = answer()
    lib = FakeLibrary(tmp_path, items=["QLoRA ", final])
    turns: list = []
    list(ui.respond(lib, "How does QLoRA save memory?", [], "extractive", 6, [], turns))
    assert turns == [("How does QLoRA save memory?", final)] and "history" not in lib.calls[0]
    list(ui.respond(lib, "How much memory does it need?", [], "extractive", 6, [], turns))
    assert lib.calls[1]["history"] == [("How does QLoRA save memory?", final)]
    assert len(turns) == 2
