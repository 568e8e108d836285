"""The web chat end to end: a real server over a real index, driven by headless Chromium.

The index is built in a temporary data root from the summary entries and titles of all 111
papers with the default embedder, plus one generated PDF standing in for QLoRA (2305.14314)
whose every sentence is on a known page, so a citation's page and quote can be checked against
the document itself and followed into the reader (PDF.js), where the quote must be highlighted.
Screenshots go to tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::Warning:gradio.queueing"),  # gradio's own pandas use
]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
QLORA = "2305.14314"
QLORA_CLASS = "pqa-p-2305-14314"  # the card's class naming the paper
# Text the reading list itself says about QLoRA: its heading and its "what to read for" field.
QLORA_LIST_TEXT = ("4-bit NormalFloat", "QLoRA：quantization+Lora")
ANSWER_TIMEOUT_MS = 120_000
READER_TIMEOUT_MS = 60_000

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pdfgen import DocSpec, H, P, page_plain, write_pdf  # noqa: E402

# A short stand-in for QLoRA's PDF: page 1 proves its identity (title and arXiv stamp) to `add`.
QLORA_SPEC = DocSpec(
    pages=(
        (
            P("QLoRA: Efficient Finetuning of Quantized LLMs"),
            P("Tim Dettmers, Artidoro Pagnoni, Ari Holtzman, Luke Zettlemoyer"),
            P("University of Washington"),
            H("Abstract"),
            P(
                "We present QLoRA, an efficient finetuning approach that reduces memory usage enough to "
                "finetune a 65B parameter model on a single 48GB GPU while preserving full 16-bit finetuning "
                "task performance. QLoRA backpropagates gradients through a frozen, 4-bit quantized pretrained "
                "language model into Low Rank Adapters (LoRA). Our best model family, which we name Guanaco, "
                "outperforms all previous openly released models on the Vicuna benchmark."
            ),
        ),
        (
            H("1 Introduction"),
            P(
                "Finetuning large language models is a highly effective way to improve their performance, "
                "but finetuning very large models is prohibitively expensive. Regular 16-bit finetuning of a "
                "LLaMA 65B parameter model requires more than 780 GB of GPU memory. We demonstrate for the "
                "first time that it is possible to finetune a quantized 4-bit model without any performance "
                "degradation."
            ),
        ),
        (
            H("3 QLoRA Finetuning"),
            P(
                "QLoRA achieves high-fidelity 4-bit finetuning via two techniques we propose, 4-bit "
                "NormalFloat quantization and Double Quantization. Additionally, we introduce Paged "
                "Optimizers, to prevent memory spikes during gradient checkpointing from causing "
                "out-of-memory errors. Double Quantization reduces the memory footprint by quantizing the "
                "quantization constants, saving about 0.37 bits per parameter. Paged Optimizers use NVIDIA "
                "unified memory to evict optimizer states to CPU RAM when the GPU runs out of memory."
            ),
        ),
        (
            H("5 Evaluation"),
            P(
                "We evaluate Guanaco against ChatGPT with tournaments judged by human raters and by GPT-4. "
                "The Elo ratings of both judges agree on the ranking of the strongest chatbots."
            ),
        ),
    ),
    header="",
    footer="",
    stamp="arXiv:2305.14314v1 [cs.LG] 23 May 2023",
)
# The test's own reading of a highlight: the highlighted text nodes of one page's text layer in
# document order, a line break (<br>) or skipped blank between two of them read as a space.
HIGHLIGHTED_JS = """(layer) => {
  const walk = document.createTreeWalker(layer, NodeFilter.SHOW_TEXT | NodeFilter.SHOW_ELEMENT);
  let text = "", started = false, gap = false, after = false, contiguous = true;
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    if (n.nodeName === "BR") { if (started) gap = true; continue; }
    if (n.nodeType !== Node.TEXT_NODE) continue;
    if (n.parentElement.closest(".pqa-hl")) {
      if (after) contiguous = false;
      text += (gap ? " " : "") + n.data; started = true; gap = false;
    } else if (started) {
      if (/\\S/.test(n.data)) after = true; else gap = true;
    }
  }
  return {text: text.replace(/\\s+/g, " ").trim(), contiguous,
          marks: layer.querySelectorAll(".pqa-hl").length};
}"""

if not CHROMIUM.exists():
    pytest.skip(
        f"{CHROMIUM} not found: install Debian's chromium and fonts-noto-cjk (`make browser`) "
        "to run the browser test",
        allow_module_level=True,
    )
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')"
)


@pytest.fixture(scope="module")
def served(
    ui: ModuleType, tmp_path_factory: pytest.TempPathFactory, free_port: Callable[[], int]
) -> Iterator[dict[str, Any]]:
    """A Library on a fresh data root (QLoRA's stand-in PDF added) with a built index, served."""
    from paperqa.library import Library
    from paperqa.settings import Settings

    home = tmp_path_factory.mktemp("paperqa-home")
    lib = Library(Settings.load(home=home))
    pdf = write_pdf(QLORA_SPEC, tmp_path_factory.mktemp("pdf-in") / f"{QLORA}.pdf")
    assert [r.status for r in lib.add([pdf])] == ["added"]
    lib.build_index()
    server = ui.start(lib, host="127.0.0.1", port=free_port())
    try:
        yield {"lib": lib, "url": server.url, "home": home, "server": server}
    finally:
        server.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any, served: dict[str, Any]) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, locale="zh-CN")
    p = context.new_page()
    p.goto(served["url"], wait_until="domcontentloaded")
    p.locator("#pqa-input textarea").wait_for(state="visible", timeout=60_000)
    try:
        yield p
    finally:
        context.close()


def _ask(page: Any, question: str) -> None:
    box = page.locator("#pqa-input textarea")
    box.fill(question)
    box.press("Enter")


def _wait_for_answer(page: Any, n: int = 1) -> Any:
    """The n-th finished assistant message (a card, a decline or an error, never the placeholder)."""
    done = page.locator("#pqa-chat .pqa-cards, #pqa-chat .pqa-declined, #pqa-chat .pqa-error")
    done.nth(n - 1).wait_for(state="attached", timeout=ANSWER_TIMEOUT_MS)
    return done.nth(n - 1)


def _shoot(page: Any, name: str) -> None:
    """Screenshots to look at: the chat scrolled to the question, and as the user sees it."""
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    page.evaluate(
        """() => { let e = document.querySelector('#pqa-chat .message-row');
        while (e && !(e.scrollHeight > e.clientHeight + 4 && getComputedStyle(e).overflowY !== 'visible'))
            e = e.parentElement;
        if (e) e.scrollTop = 0; }"""
    )
    page.screenshot(path=str(ARTIFACTS / f"{name}_top.png"))  # full_page would re-scroll the chat


def _check_qlora_answer(page: Any) -> str:
    assert page.locator("#pqa-chat .pqa-error").count() == 0, page.locator(
        "#pqa-chat .pqa-error"
    ).first.inner_text()
    cards = page.locator(f"#pqa-chat .pqa-card.{QLORA_CLASS}")
    assert cards.count() >= 1, "no citation card for QLoRA (2305.14314)"
    text = cards.first.text_content() or ""
    assert "QLoRA" in text
    assert any(t in text for t in QLORA_LIST_TEXT), (
        f"QLoRA's summary entry is missing from the card: {text[:500]}"
    )
    assert "arxiv.org/abs/2305.14314" in (cards.first.locator("a.pqa-abs").get_attribute("href") or "")
    return text


def _reader_link(page: Any) -> tuple[Any, int, str]:
    """The first source card's "Read p. N here" link that carries a quote: (link, page, quote)."""
    from urllib.parse import parse_qs, urlsplit

    links = page.locator(f"#pqa-chat .pqa-card.{QLORA_CLASS} a.pqa-read")
    assert links.count() >= 1, "no card links QLoRA's local PDF in the reader"
    for i in range(links.count()):
        href = links.nth(i).get_attribute("href") or ""
        assert href.startswith("/paperqa/reader?"), href
        args = {k: v[0] for k, v in parse_qs(urlsplit(href).query).items()}
        if args.get("quote"):
            assert args["paper"] == QLORA
            return links.nth(i), int(args["page"]), args["quote"]
    raise AssertionError("no QLoRA card offers a quote to highlight in the reader")


def _reader_frame(page: Any) -> Any:
    frame = page.locator("#pqa-reader-frame").element_handle().content_frame()
    assert frame is not None
    return frame


def _open_and_check_highlight(page: Any, name: str) -> None:
    """Click the cited page's link; the reader shows that page with exactly the quote highlighted."""
    link, cited, quote = _reader_link(page)
    card = link.locator("xpath=ancestor::details[1]")
    if card.get_attribute("open") is None:
        card.locator("summary").first.click()  # a later source's card starts closed
    card_text = " ".join((card.text_content() or "").split())
    assert " ".join(quote.split()) in card_text  # the link carries the quote the card shows
    assert " ".join(quote.split()) in page_plain(QLORA_SPEC, cited), (cited, quote)  # truly on that page
    link.click()
    frame = _reader_frame(page)
    frame.wait_for_function(
        "(q) => window.pqaReader && window.pqaReader.state().quote === q "
        "&& window.pqaReader.state().found !== null",
        arg=quote,
        timeout=READER_TIMEOUT_MS,
    )
    state = frame.evaluate("() => window.pqaReader.state()")
    assert state["paper"] == QLORA and state["error"] == "" and state["found"] is True, state
    assert state["page"] == cited, state  # the viewer's current page is the cited page
    assert frame.locator("#pqa-pageno").input_value() == str(cited)
    layer = frame.locator(f'.page[data-page-number="{cited}"] .textLayer')
    seen = layer.evaluate(HIGHLIGHTED_JS)
    assert seen["marks"] >= 1 and seen["contiguous"], seen
    assert seen["text"] == " ".join(quote.split()), seen  # highlighted text equals the quote
    assert frame.locator(".textLayer .pqa-hl").count() == seen["marks"]  # nothing else is marked
    first = frame.locator(".textLayer .pqa-hl").first
    box, view = first.bounding_box(), frame.locator("#viewerContainer").bounding_box()
    assert box and view and view["y"] <= box["y"] <= view["y"] + view["height"]  # scrolled into view
    page.wait_for_timeout(300)  # let the canvas finish painting before the picture
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    page.locator("#pqa-reader-frame").screenshot(path=str(ARTIFACTS / f"{name}_reader.png"))


def test_english_question_cites_qlora_and_opens_the_quote_on_its_page(
    page: Any, served: dict[str, Any]
) -> None:
    _ask(page, "How does QLoRA save memory?")
    _wait_for_answer(page)
    text = _check_qlora_answer(page)
    first_card = page.locator("#pqa-chat .pqa-card").first
    assert first_card.get_attribute("open") is not None  # the top source is open for reading
    assert "p. " in text
    export = page.locator("#pqa-chat .pqa-export").first
    assert "QLoRA" in (export.locator(".pqa-exp-md .pqa-exp-text").text_content() or "")
    assert "@" in (export.locator(".pqa-exp-bib .pqa-exp-text").text_content() or "")
    _shoot(page, "chat_en")
    _open_and_check_highlight(page, "reader_en")


def test_a_follow_up_is_read_against_the_previous_turn(page: Any) -> None:
    """ "How much memory does it need for a 65B model?" after a QLoRA question: "it" is QLoRA."""
    _ask(page, "How does QLoRA save memory?")
    _wait_for_answer(page, 1)
    _ask(page, "How much memory does it need for a 65B model?")
    second = _wait_for_answer(page, 2)
    bot = second.locator("xpath=ancestor::*[contains(@class, 'message-row')][1]")
    text = " ".join((bot.text_content() or "").split())
    assert "QLoRA" in text and "48GB" in text.replace(" GB", "GB"), text[:600]
    assert second.locator(f".pqa-card.{QLORA_CLASS}").count() >= 1, "the follow-up does not cite QLoRA"
    _shoot(page, "conversation")
    page.get_by_role("button", name="Settings").click()
    page.get_by_role("button", name="Clear chat").click()  # a cleared chat starts a new conversation
    _ask(page, "How much memory does it need for a 65B model?")
    fresh = _wait_for_answer(page, 1)
    row = fresh.locator("xpath=ancestor::*[contains(@class, 'message-row')][1]")
    assert "Taking" not in (row.text_content() or "")


def test_chinese_question_highlights_the_english_sentence_it_quotes(page: Any) -> None:
    page.get_by_text("QLoRA是如何节省显存的？", exact=True).first.click()  # an example: asks at once
    _wait_for_answer(page)
    _check_qlora_answer(page)
    user = page.locator("#pqa-chat").get_by_text("QLoRA是如何节省显存的？").first
    assert user.is_visible()
    # Chinese is drawn with a CJK font, not fallback boxes: measure the glyphs that have a font
    has_cjk_font = page.evaluate("() => document.fonts.check('16px \"Noto Sans CJK SC\"', '显存')")
    assert has_cjk_font, "no CJK font available to the browser (install fonts-noto-cjk)"
    _shoot(page, "chat_zh")
    _link, _cited, quote = _reader_link(page)
    assert re.search(r"[A-Za-z]{4}", quote) and not re.search(r"[\u4e00-\u9fff]", quote), quote
    _open_and_check_highlight(page, "reader_zh")


def test_a_paper_without_a_pdf_shows_its_summary_entry_and_arxiv_link(page: Any) -> None:
    _ask(page, "What is LoRA?")
    _wait_for_answer(page)
    card = page.locator("#pqa-chat .pqa-card.pqa-p-2106-09685").first
    card.wait_for(state="attached")
    assert card.locator("a.pqa-read").count() == 0 and "no local PDF" in (card.text_content() or "")
    assert "arxiv.org/abs/2106.09685" in (card.locator("a.pqa-abs").get_attribute("href") or "")
    assert "LoRA" in (card.locator(".pqa-entries").text_content() or "")  # the list's summary entry


def test_papers_tab_lists_filters_and_opens_a_paper_in_the_reader(page: Any) -> None:
    page.get_by_role("tab", name="Papers").click()
    rows = page.locator("#pqa-catalog .pqa-paper.pqa-kind-paper")
    rows.nth(110).wait_for(state="attached", timeout=60_000)
    assert rows.count() == 111
    assert "111 papers" in page.locator("#pqa-catalog .pqa-papers-head").first.inner_text()
    page.screenshot(path=str(ARTIFACTS / "papers.png"))
    qlora = page.locator(f"#pqa-catalog .pqa-paper.{QLORA_CLASS}")
    summary = qlora.locator("summary").inner_text()
    assert "LLM经典paper傻瓜式速读" in summary and "section:" in summary  # list and section, unopened
    assert "2023" in summary and "University of Washington" in summary and "PDF · 4 pp." in summary
    qlora.locator("summary").click()
    body = qlora.inner_text()
    assert "4-bit NormalFloat" in body and "indexed" in body
    page.screenshot(path=str(ARTIFACTS / "papers_qlora.png"))
    page.locator("#pqa-catalog").screenshot(path=str(ARTIFACTS / "papers_list.png"))

    page.locator("#pqa-has-pdf input").check()
    page.wait_for_function(
        "() => document.querySelector('#pqa-catalog .pqa-papers-head')?.innerText.startsWith('1 of 111')",
        timeout=30_000,
    )
    assert rows.count() == 1 and rows.first.get_attribute("class").count(QLORA_CLASS) == 1
    page.locator("#pqa-has-pdf input").uncheck()
    _choose(page, "#pqa-year", "2017")
    page.wait_for_function(
        "() => /^[0-9]+ of 111/.test(document.querySelector('#pqa-catalog .pqa-papers-head')?.innerText)",
        timeout=30_000,
    )
    n_2017 = rows.count()
    assert 1 <= n_2017 < 111 and "1706.03762" in page.locator("#pqa-catalog").inner_html()
    _choose(page, "#pqa-year", "Any year")
    _choose(page, "#pqa-part", "第一部分")
    page.wait_for_function(
        "() => /^[0-9]+ of 111/.test(document.querySelector('#pqa-catalog .pqa-papers-head')?.innerText)",
        timeout=30_000,
    )
    assert 1 <= rows.count() < 111 and "第一部分" in rows.first.inner_text()
    page.screenshot(path=str(ARTIFACTS / "papers_filtered.png"))
    _choose(page, "#pqa-part", "All lists and parts")
    qlora.locator("a.pqa-read").click()  # open it in the reader beside the list
    frame = _reader_frame(page)
    frame.wait_for_function(
        "(p) => window.pqaReader && window.pqaReader.state().paper === p && window.pqaReader.state().page === 1",
        arg=QLORA,
        timeout=READER_TIMEOUT_MS,
    )
    frame.locator('.page[data-page-number="1"] .textLayer span').first.wait_for(timeout=READER_TIMEOUT_MS)
    assert (
        "QLoRA: Efficient Finetuning" in frame.locator('.page[data-page-number="1"] .textLayer').inner_text()
    )
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / "papers_reader.png"))


def _choose(page: Any, elem_id: str, label_part: str) -> None:
    """Pick the option of a Gradio dropdown whose label contains `label_part`."""
    page.locator(f"{elem_id} input").click()
    page.locator("[data-testid=dropdown-option]", has_text=label_part).first.click()


def test_history_tab_lists_and_searches_past_questions(page: Any, served: dict[str, Any]) -> None:
    for question in ("How does QLoRA save memory?", "QLoRA是如何节省显存的？"):
        served["lib"].ask(question)  # kept in the history, as the chat keeps what it answers
    page.get_by_role("tab", name="History").click()
    items = page.locator("#pqa-history .pqa-hist")
    items.first.wait_for(state="attached", timeout=30_000)
    questions = [q.strip() for q in page.locator("#pqa-history .pqa-hist-q").all_inner_texts()]
    assert "How does QLoRA save memory?" in questions and "QLoRA是如何节省显存的？" in questions
    page.locator("#pqa-history-search textarea, #pqa-history-search input").first.fill("显存")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#pqa-history .pqa-hist-q')].every(e => e.innerText.includes('显存'))",
        timeout=30_000,
    )
    assert items.count() >= 1
    items.first.locator("summary").first.click()
    assert items.first.locator(".pqa-exp-md").count() == 1
    page.screenshot(path=str(ARTIFACTS / "history.png"))


def test_quote_matching_handles_spans_ligatures_and_line_end_hyphens(page: Any) -> None:
    """match.mjs on text-layer pieces as PDF.js splits them (null = a line break)."""
    out = page.evaluate(
        """async () => {
      const m = await import('/paperqa/assets/static/match.mjs');
      const cut = (pieces, q) => { const h = m.locate(pieces, q); if (!h) return null;
        let s = ''; for (let p = h.start[0]; p <= h.end[0]; p++) { if (pieces[p] === null) { s += ' '; continue; }
          s += pieces[p].slice(p === h.start[0] ? h.start[1] : 0, p === h.end[0] ? h.end[1] : undefined); }
        return [s, h.dehyphenated]; };
      return {
        split: cut(['We intro', 'duce Paged', null, 'Optimizers, to prevent'], 'introduce Paged Optimizers,'),
        spaces: cut(['a  b', null, 'c'], 'a b c'),
        ligature: cut(['an e\ufb03cient \ufb01netuning'], 'an efficient finetuning'),
        quotes: cut(['QLORA\u2019s efficiency'], "QLoRA's efficiency"),
        hyphen: cut(['we use quan-', null, 'tization of weights'], 'use quantization of'),
        keptHyphen: cut(['out-of-', null, 'memory errors'], 'out-of-memory errors'),
        missing: cut(['nothing here'], 'not on this page'),
      };
    }"""
    )
    assert out["split"] == ["introduce Paged Optimizers,", False]
    assert out["spaces"] == ["a  b c", False]
    assert out["ligature"] == ["an e\ufb03cient \ufb01netuning", False]
    assert out["quotes"] == ["QLORA\u2019s efficiency", False]
    assert out["hyphen"] == ["use quan- tization of", True]  # the hyphen is inside the wrapped range
    assert out["keptHyphen"] == ["out-of- memory errors", False]  # the quote has the hyphen: kept
    assert out["missing"] is None


def test_empty_and_overlong_input_get_a_clear_message(page: Any) -> None:
    page.locator("#pqa-send").click()
    notice = page.locator("#pqa-notice .pqa-notice")
    notice.wait_for(state="visible", timeout=30_000)
    assert "Please type a question" in notice.inner_text()
    assert page.locator("#pqa-chat .message").count() == 0  # nothing was asked
    long_question = "Why " + "x" * 2100
    _ask(page, long_question)
    page.wait_for_function(
        "() => (document.querySelector('#pqa-notice .pqa-notice') || {}).innerText?.includes('2,000')",
        timeout=30_000,
    )
    assert page.locator("#pqa-input textarea").input_value() == long_question  # kept for editing
    page.screenshot(path=str(ARTIFACTS / "input_errors.png"), full_page=True)


def test_several_users_at_once_are_queued_not_crashed(browser: Any, served: dict[str, Any]) -> None:
    contexts = [browser.new_context(viewport={"width": 1200, "height": 900}) for _ in range(3)]
    pages = [c.new_page() for c in contexts]
    try:
        for p in pages:
            p.goto(served["url"], wait_until="domcontentloaded")
            p.locator("#pqa-input textarea").wait_for(state="visible", timeout=60_000)
        questions = ["How does QLoRA save memory?", "QLoRA是如何节省显存的？", "What is LoRA?"]
        for p, q in zip(pages, questions, strict=True):
            _ask(p, q)
        for p in pages:
            _wait_for_answer(p)
            assert p.locator("#pqa-chat .pqa-error").count() == 0
        _check_qlora_answer(pages[0])
        _check_qlora_answer(pages[1])
    finally:
        for c in contexts:
            c.close()


def test_server_serves_no_files_beyond_its_own(served: dict[str, Any]) -> None:
    import httpx

    url, home = served["url"], Path(served["home"])
    secret = home / "secret.txt"
    secret.write_text("do not serve")
    outside = Path(shutil.which("python3") or "/etc/hostname")
    for path in (
        f"/gradio_api/file={secret}",
        f"/file={secret}",
        f"/gradio_api/file={outside}",
        "/gradio_api/file=/etc/passwd",
        "/paperqa/pdf/..%2F..%2Fsecret.txt",
        "/paperqa/pdf/%2e%2e",
        "/paperqa/pdf/not-a-paper",
        "/paperqa/pdf/2106.09685",  # in the catalog, but no PDF in the manifest
        "/paperqa/assets/app.py",
        "/paperqa/assets/static/..%2Fapp.py",
        "/paperqa/assets/static/%2e%2e/app.py",
        "/paperqa/assets/vendor/pdfjs/README.md",  # only the types the reader needs
        f"/paperqa/assets/{secret}",
    ):
        r = httpx.get(url + path, timeout=30)
        assert r.status_code in (400, 403, 404), (path, r.status_code)
        assert "do not serve" not in r.text and "root:" not in r.text
    assert httpx.get(url + "/", timeout=30).status_code == 200
    reader = httpx.get(url + "/paperqa/reader", timeout=30)
    assert reader.status_code == 200 and "frame-ancestors 'self'" in reader.headers["content-security-policy"]
    assert "script-src 'self';" in reader.headers["content-security-policy"]  # no inline or eval
    pdfjs = httpx.get(url + "/paperqa/assets/vendor/pdfjs/pdf.min.mjs", timeout=30)
    assert pdfjs.status_code == 200 and pdfjs.headers["content-type"].startswith("text/javascript")


def test_listens_on_localhost_only(served: dict[str, Any]) -> None:
    sockets = [sock for srv in served["server"].server.servers for sock in srv.sockets]
    assert sockets and {sock.getsockname()[0] for sock in sockets} == {"127.0.0.1"}


def test_off_topic_question_is_declined_with_the_closest_papers(page: Any) -> None:
    _ask(page, "What is the capital of France?")
    reply = _wait_for_answer(page)
    assert "pqa-declined" in (reply.get_attribute("class") or "")
    assert "The reading list does not cover this." in reply.inner_text()
    assert page.locator("#pqa-chat .pqa-closest li a").count() >= 1  # closest papers, linked
    _shoot(page, "declined")


def test_user_bubble_shows_the_typed_text_escaped(page: Any) -> None:
    typed = (
        '<b>bold</b> What is **LoRA**? <img src=x onerror="window.__pqaPwned=1">'
        "<script>window.__pqaPwned=2</script> `max_seq_len` [link](https://evil.example)"
    )
    _ask(page, typed)
    _wait_for_answer(page)
    bubble = page.locator("#pqa-chat .user-row").first
    assert bubble.inner_text().strip() == typed  # the literal text, tags and marks and all
    assert bubble.locator("b, strong, em, img, script, code").count() == 0  # none became markup
    links = bubble.locator("a")  # a typed URL may be clickable, but only as itself
    assert [links.nth(i).inner_text() for i in range(links.count())] in ([], ["https://evil.example"])
    assert page.evaluate("() => window.__pqaPwned") is None
    _shoot(page, "user_text")
