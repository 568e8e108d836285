// The in-app reader: PDF.js's viewer on one of the corpus PDFs, opened at the cited page with the
// verified quote highlighted in the text layer. Served by paperqa itself (no CDN) at
// /paperqa/reader?paper=ID&page=N&quote=TEXT&title=TITLE; the chat page embeds it in an iframe and
// calls window.pqaReader.open(...) so a second citation of the same paper needs no reload.

import "/paperqa/assets/vendor/pdfjs/pdf.min.mjs"; // defines globalThis.pdfjsLib for the viewer
import { EventBus, PDFLinkService, PDFViewer } from "/paperqa/assets/vendor/pdfjs/pdf_viewer.mjs";
import { highlightedText, highlightQuote } from "./match.mjs";

const VENDOR = "/paperqa/assets/vendor/pdfjs/";
const PDF_ROUTE = "/paperqa/pdf/";
const MARK = "pqa-hl";
const pdfjsLib = globalThis.pdfjsLib;
pdfjsLib.GlobalWorkerOptions.workerSrc = VENDOR + "pdf.worker.min.mjs";

const $ = (id) => document.getElementById(id);
const container = $("viewerContainer");
const eventBus = new EventBus();
const linkService = new PDFLinkService({ eventBus });
const viewer = new PDFViewer({ container, eventBus, linkService });
linkService.setViewer(viewer);

// What was asked for, and what the page shows (read by the tests through state()).
const want = { paper: "", page: 0, quote: "", title: "" };
const shown = { found: null, highlighted: "", error: "", revealed: false };
let loadingTask = null;
let pagesReady = null;

function say(text, miss = false) {
  const el = $("pqa-state");
  el.textContent = text;
  el.classList.toggle("pqa-miss", miss);
}

function clearMarks() {
  for (const mark of container.querySelectorAll(`.textLayer .${MARK}`)) {
    const parent = mark.parentNode;
    mark.replaceWith(...mark.childNodes);
    parent.normalize();
  }
}

/** Scroll so the quote is in view while the cited page's top stays at or above the view's top. */
function reveal(pageDiv, mark) {
  const box = container.getBoundingClientRect();
  const pageTop = container.scrollTop + pageDiv.getBoundingClientRect().top - box.top;
  const markTop = container.scrollTop + mark.getBoundingClientRect().top - box.top;
  container.scrollTop = Math.max(pageTop, markTop - container.clientHeight / 3);
}

function markPage(pageView) {
  if (!want.quote || pageView.id !== want.page) return;
  const root = pageView.textLayer?.div;
  if (!root || root.querySelector(`.${MARK}`)) return;
  const marks = highlightQuote(root, want.quote, MARK);
  shown.found = marks.length > 0;
  shown.highlighted = shown.found ? highlightedText(root, MARK) : "";
  if (shown.found) {
    if (!shown.revealed) reveal(pageView.div, marks[0]); // once: a zoom re-renders, it must not jump
    shown.revealed = true;
    say(`p. ${want.page}: the quote is highlighted`);
  } else {
    say(`p. ${want.page}: the quote was not found in this page's text layer`, true);
  }
}

eventBus.on("pagesinit", () => {
  viewer.currentScaleValue = "page-width";
});
eventBus.on("pagechanging", ({ pageNumber }) => {
  $("pqa-pageno").value = String(pageNumber);
});
eventBus.on("textlayerrendered", ({ source }) => markPage(source));

async function load(paper) {
  if (loadingTask) {
    const old = loadingTask;
    loadingTask = null;
    viewer.setDocument(null);
    linkService.setDocument(null);
    await old.destroy();
  }
  pagesReady = new Promise((resolve) => eventBus.on("pagesinit", resolve, { once: true }));
  loadingTask = pdfjsLib.getDocument({
    url: PDF_ROUTE + encodeURIComponent(paper),
    isEvalSupported: false,
    enableXfa: false,
    // No standard_fonts/ is vendored: none of the corpus PDFs needs it, and a PDF that uses the
    // 14 standard fonts without embedding them is drawn with the system's fonts (useSystemFonts).
  });
  const doc = await loadingTask.promise;
  viewer.setDocument(doc);
  linkService.setDocument(doc);
  $("pqa-pages").textContent = String(doc.numPages);
  await pagesReady;
  return doc;
}

/** Open `paper` at `page` and highlight `quote` there (the same paper is not loaded again). */
async function open({ paper, page = 1, quote = "", title = "" }) {
  paper = String(paper || "");
  if (!paper) return;
  const again = paper === want.paper && !shown.error && viewer.pdfDocument;
  Object.assign(want, { paper, page: Math.max(1, Number(page) || 1), quote: String(quote || ""), title });
  Object.assign(shown, { found: null, highlighted: "", error: "", revealed: false });
  $("pqa-doc").textContent = title ? `${title} (${paper})` : paper;
  $("pqa-doc").title = $("pqa-doc").textContent;
  const raw = $("pqa-raw");
  raw.href = PDF_ROUTE + encodeURIComponent(paper) + `#page=${want.page}`;
  raw.hidden = false;
  const params = new URLSearchParams({ paper, page: String(want.page) });
  if (want.quote) params.set("quote", want.quote);
  if (title) params.set("title", title);
  history.replaceState(null, "", `${location.pathname}?${params}`);
  say(`Opening p. ${want.page}…`);
  try {
    if (!again) await load(paper);
  } catch (err) {
    shown.error = String(err?.message || err);
    say(`No local PDF for ${paper}: ${shown.error}`, true);
    return;
  }
  clearMarks();
  want.page = Math.min(want.page, viewer.pagesCount);
  viewer.currentPageNumber = want.page;
  $("pqa-pageno").value = String(viewer.currentPageNumber);
  if (!want.quote) {
    shown.found = null;
    say(`p. ${want.page}`);
    return;
  }
  const pageView = viewer.getPageView(want.page - 1);
  if (pageView?.textLayer?.div?.childElementCount) markPage(pageView); // else: textlayerrendered
}

function state() {
  return {
    paper: want.paper,
    wanted: want.page,
    page: viewer.pdfDocument ? viewer.currentPageNumber : 0,
    quote: want.quote,
    found: shown.found,
    highlighted: shown.highlighted,
    error: shown.error,
  };
}

$("pqa-prev").addEventListener("click", () => viewer.previousPage());
$("pqa-next").addEventListener("click", () => viewer.nextPage());
$("pqa-zoomin").addEventListener("click", () => viewer.increaseScale());
$("pqa-zoomout").addEventListener("click", () => viewer.decreaseScale());
$("pqa-fit").addEventListener("click", () => {
  viewer.currentScaleValue = "page-width";
});
$("pqa-pageno").addEventListener("change", (e) => {
  const n = Number(e.target.value);
  if (viewer.pdfDocument && n >= 1 && n <= viewer.pagesCount) viewer.currentPageNumber = n;
});

window.pqaReader = { open, state };
const q = new URLSearchParams(location.search);
if (q.get("paper")) {
  open({ paper: q.get("paper"), page: q.get("page"), quote: q.get("quote") || "", title: q.get("title") || "" });
}
window.dispatchEvent(new Event("pqa-reader-ready"));
