// Find a verified quote in PDF.js's text layer and wrap exactly its characters.
//
// A quote is verbatim page text with whitespace runs collapsed (paperqa checks it against the
// page text in Python). PDF.js splits the same text into spans arbitrarily, and its spacing and
// line ends differ from the text paperqa extracted, so matching ignores whitespace altogether,
// folds typographic variants (ligatures, curly quotes, dashes, case), and only if that fails
// drops hyphens that end a line (the quote has the word joined). Every folded character keeps
// its place (text node, offset) so the match maps back to the spans it came from.

const FOLD = new Map([
  ["\u2018", "'"], ["\u2019", "'"], ["\u201a", "'"], ["\u2032", "'"],
  ["\u201c", '"'], ["\u201d", '"'], ["\u201e", '"'], ["\u2033", '"'],
  ["\u2010", "-"], ["\u2011", "-"], ["\u2012", "-"], ["\u2013", "-"], ["\u2014", "-"], ["\u2212", "-"],
]);
const HYPHENS = new Set(["-", "\u2010", "\u00ad"]);
const SOFT_HYPHEN = "\u00ad";

/** The comparable form of one character: "" for whitespace and soft hyphens. */
export function fold(ch) {
  if (/\s/u.test(ch) || ch === SOFT_HYPHEN) return "";
  const mapped = FOLD.get(ch) ?? ch;
  return mapped.normalize("NFKC").toLowerCase().replace(/\s+/gu, "");
}

/** The quote as the matcher compares it: folded, whitespace gone. */
export function compact(text) {
  let out = "";
  for (const ch of text) out += fold(ch);
  return out;
}

/**
 * Index the text of `pieces` (strings, or null for a line break) character by character.
 * Returns {text, where, lineEndHyphen}: text[i] came from where[i] = [piece, start, end].
 */
export function indexPieces(pieces) {
  let text = "";
  const where = [];
  const lineEndHyphen = new Set();
  let lastReal = -1; // index in `text` of the last character that came from a visible character
  let lastWasHyphen = false;
  pieces.forEach((piece, p) => {
    if (piece === null) {
      if (lastWasHyphen) lineEndHyphen.add(lastReal);
      return;
    }
    let offset = 0;
    for (const ch of piece) {
      const f = fold(ch);
      for (let k = 0; k < f.length; k++) {
        text += f[k]; // one entry per code unit, so indexes into `text` index `where`
        where.push([p, offset, offset + ch.length]);
      }
      if (f) {
        lastReal = text.length - 1;
        lastWasHyphen = HYPHENS.has(ch) || f === "-";
      }
      offset += ch.length;
    }
  });
  return { text, where, lineEndHyphen };
}

/**
 * Where `quote` lies in `pieces`: {start: [piece, offset], end: [piece, offset], dehyphenated}
 * (end exclusive), or null. The first occurrence wins.
 */
export function locate(pieces, quote) {
  const needle = compact(quote);
  if (!needle) return null;
  const { text, where, lineEndHyphen } = indexPieces(pieces);
  let at = text.indexOf(needle);
  if (at >= 0) {
    const first = where[at], last = where[at + needle.length - 1];
    return { start: [first[0], first[1]], end: [last[0], last[2]], dehyphenated: false };
  }
  if (!lineEndHyphen.size) return null;
  // The quote has a word joined that the page breaks with a hyphen at a line end.
  let joined = "";
  const keep = [];
  for (let i = 0; i < text.length; i++) {
    if (lineEndHyphen.has(i)) continue;
    joined += text[i];
    keep.push(i);
  }
  at = joined.indexOf(needle);
  if (at < 0) return null;
  const first = where[keep[at]], last = where[keep[at + needle.length - 1]];
  return { start: [first[0], first[1]], end: [last[0], last[2]], dehyphenated: true };
}

/** The text nodes and line breaks of a text layer, in reading (document) order. */
export function textLayerPieces(root) {
  const nodes = [];
  const pieces = [];
  const walker = root.ownerDocument.createTreeWalker(root, NodeFilter.SHOW_TEXT | NodeFilter.SHOW_ELEMENT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (n.nodeType === Node.TEXT_NODE) {
      nodes.push(n);
      pieces.push(n.data);
    } else if (n.nodeName === "BR") {
      nodes.push(null);
      pieces.push(null);
    }
  }
  return { nodes, pieces };
}

/**
 * Wrap every character of `quote` found in the text layer `root` in <span class="pqa-hl">.
 * Returns the wrapping spans (empty when the quote is not on this page).
 */
export function highlightQuote(root, quote, className = "pqa-hl") {
  const { nodes, pieces } = textLayerPieces(root);
  const hit = locate(pieces, quote);
  if (!hit) return [];
  const [p0, o0] = hit.start;
  const [p1, o1] = hit.end;
  const marks = [];
  for (let p = p0; p <= p1; p++) {
    const node = nodes[p];
    if (!node) continue; // a line break
    const a = p === p0 ? o0 : 0;
    const b = p === p1 ? o1 : node.data.length;
    if (b <= a) continue;
    const range = root.ownerDocument.createRange();
    range.setStart(node, a);
    range.setEnd(node, b);
    const mark = root.ownerDocument.createElement("span");
    mark.className = className;
    range.surroundContents(mark);
    marks.push(mark);
  }
  return marks;
}

/** The highlighted text as a reader sees it: marks in order, a line break read as a space. */
export function highlightedText(root, className = "pqa-hl") {
  const { nodes, pieces } = textLayerPieces(root);
  let out = "";
  let started = false;
  let pendingBreak = false;
  nodes.forEach((node, i) => {
    if (node === null) {
      if (started) pendingBreak = true;
      return;
    }
    if (node.parentElement?.classList.contains(className)) {
      if (pendingBreak) out += " ";
      out += pieces[i];
      started = true;
      pendingBreak = false;
    } else if (started && /\s/u.test(pieces[i])) {
      pendingBreak = true;
    }
  });
  return out.replace(/\s+/gu, " ").trim();
}
