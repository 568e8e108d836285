"""The web chat end to end: a real server over a real index, driven by headless Chromium.

The index is built in a temporary data root from the summary entries and titles of all 111
papers with the default embedder (no PDFs needed). If PAPERQA_TEST_PDFS names a folder of
real PDFs, QLoRA's PDF (2305.14314.pdf) is added first so its pages are cited too.
Screenshots go to tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
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

if not CHROMIUM.exists():
    pytest.skip(
        f"{CHROMIUM} not found: install Debian's chromium and fonts-noto-cjk (`make browser`) "
        "to run the browser test",
        allow_module_level=True,
    )
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')"
)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def ui() -> ModuleType:
    from paperqa.webapp import load_app_module

    return load_app_module()


@pytest.fixture(scope="module")
def served(ui: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A Library on a fresh data root with a built index, served on a free local port."""
    from paperqa.library import Library
    from paperqa.settings import Settings

    home = tmp_path_factory.mktemp("paperqa-home")
    lib = Library(Settings.load(home=home))
    pdfs = os.environ.get("PAPERQA_TEST_PDFS")
    with_pdf = bool(pdfs) and (Path(pdfs) / f"{QLORA}.pdf").is_file()
    if with_pdf:
        lib.add([Path(pdfs) / f"{QLORA}.pdf"])
    lib.build_index(progress=False)
    server = ui.start(lib, host="127.0.0.1", port=_free_port())
    try:
        yield {"lib": lib, "url": server.url, "home": home, "with_pdf": with_pdf, "server": server}
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


def test_english_question_cites_qlora_with_its_summary_entry(page: Any, served: dict[str, Any]) -> None:
    _ask(page, "How does QLoRA save memory?")
    _wait_for_answer(page)
    text = _check_qlora_answer(page)
    first_card = page.locator("#pqa-chat .pqa-card").first
    assert first_card.get_attribute("open") is not None  # the top source is open for reading
    if served["with_pdf"]:
        assert "p. " in text
        href = page.locator(f"#pqa-chat .pqa-card.{QLORA_CLASS} a.pqa-pdf").first.get_attribute("href")
        assert href and href.startswith(f"/paperqa/pdf/{QLORA}#page=")
        import httpx

        r = httpx.get(served["url"] + href.split("#")[0], timeout=30)
        assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    _shoot(page, "chat_en")


def test_chinese_example_cites_qlora_and_renders_chinese(page: Any) -> None:
    page.get_by_text("QLoRA是如何节省显存的？", exact=True).first.click()  # an example: asks at once
    _wait_for_answer(page)
    _check_qlora_answer(page)
    user = page.locator("#pqa-chat").get_by_text("QLoRA是如何节省显存的？").first
    assert user.is_visible()
    # Chinese is drawn with a CJK font, not fallback boxes: measure the glyphs that have a font
    has_cjk_font = page.evaluate("() => document.fonts.check('16px \"Noto Sans CJK SC\"', '显存')")
    assert has_cjk_font, "no CJK font available to the browser (install fonts-noto-cjk)"
    _shoot(page, "chat_zh")


def test_papers_tab_lists_111_papers(page: Any) -> None:
    page.get_by_role("tab", name="Papers").click()
    rows = page.locator("#pqa-catalog .pqa-paper.pqa-kind-paper")
    rows.nth(110).wait_for(state="attached", timeout=60_000)
    assert rows.count() == 111
    assert "111 papers" in page.locator("#pqa-catalog .pqa-papers-head").first.inner_text()
    page.screenshot(path=str(ARTIFACTS / "papers.png"))
    qlora = page.locator(f"#pqa-catalog .pqa-paper.{QLORA_CLASS}")
    qlora.locator("summary").click()
    body = qlora.inner_text()
    assert "University of Washington" in body and "4-bit NormalFloat" in body and "indexed" in body
    page.screenshot(path=str(ARTIFACTS / "papers_qlora.png"))
    page.locator("#pqa-catalog").screenshot(path=str(ARTIFACTS / "papers_list.png"))


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
        f"/paperqa/pdf/{QLORA}" if not served["with_pdf"] else "/paperqa/pdf/not-a-paper",
    ):
        r = httpx.get(url + path, timeout=30)
        assert r.status_code in (400, 403, 404), (path, r.status_code)
        assert "do not serve" not in r.text and "root:" not in r.text
    assert httpx.get(url + "/", timeout=30).status_code == 200


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
