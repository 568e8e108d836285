// The chat page's side of the reader: a click on a "Read" link (a citation card, a paper row)
// opens that page in the reader beside the chat instead of a new tab. Without this script the
// same link still works: it opens the reader page in a tab of its own.

const READER = "/paperqa/reader";

function frame() {
  return document.getElementById("pqa-reader-frame");
}

function openInReader(url) {
  const f = frame();
  if (!f) return false;
  const panel = document.getElementById("pqa-reader");
  panel?.classList.add("pqa-reading");
  const args = Object.fromEntries(url.searchParams);
  const reader = f.contentWindow?.pqaReader;
  if (reader && f.dataset.loaded === "1") {
    reader.open(args);
  } else {
    f.dataset.loaded = "0";
    f.src = url.pathname + url.search;
  }
  // Bring the reader into view when the click came from far down a long list or chat.
  const box = f.getBoundingClientRect();
  if (box.top < 0 || box.top > window.innerHeight * 0.6) f.scrollIntoView({ block: "start" });
  return true;
}

document.addEventListener(
  "click",
  (event) => {
    if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    const link = event.target instanceof Element ? event.target.closest("a.pqa-read") : null;
    if (!link) return;
    const url = new URL(link.getAttribute("href") || "", location.href);
    if (url.origin !== location.origin || url.pathname !== READER) return;
    if (openInReader(url)) {
      event.preventDefault();
      event.stopPropagation();
    }
  },
  true,
);

// The frame reports when its reader module is ready, so later clicks reuse the loaded viewer.
document.addEventListener(
  "load",
  (event) => {
    const f = event.target;
    if (f instanceof HTMLIFrameElement && f.id === "pqa-reader-frame") {
      const ready = () => {
        f.dataset.loaded = "1";
      };
      if (f.contentWindow?.pqaReader) ready();
      else f.contentWindow?.addEventListener("pqa-reader-ready", ready, { once: true });
    }
  },
  true,
);

// "Copy as Markdown" / "BibTeX" under an answer: the click opens the text and copies it.
document.addEventListener("click", (event) => {
  const summary = event.target instanceof Element ? event.target.closest("summary.pqa-copy") : null;
  const text = summary?.parentElement?.querySelector(".pqa-exp-text")?.textContent;
  if (!summary || !text || !navigator.clipboard) return;
  navigator.clipboard.writeText(text).then(
    () => {
      summary.classList.add("pqa-copied");
      setTimeout(() => summary.classList.remove("pqa-copied"), 2000);
    },
    () => {}, // no clipboard permission: the text is shown, to select by hand
  );
});
