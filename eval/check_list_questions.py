#!/usr/bin/env python3
"""Check the hand-written eval sets against the raw corpus (not against paperqa).

  questions_list.jsonl   every nugget has >= 1 surface form that occurs verbatim
                         (case/whitespace-insensitive) in the expected paper's entry in
                         the reading lists, or in its papers.toml title/organisation/year;
                         ids exist; schema; counts (papers, languages).
  questions_nearmiss.jsonl  every name in "names" is absent (case-insensitive) from
                         papers.toml, both lists and (if the folder exists) the text of
                         the real PDFs; kinds/schema.
  conversations.jsonl    scored turns: expect ids exist; for papers with a PDF the nugget
                         must occur on the pages given (needs pypdf and the PDF folder,
                         otherwise those turns are skipped); for other papers the nugget
                         must occur in the list entry / catalog fields.

Usage: python eval/check_list_questions.py [--dump ID] [--pdf-dir DIR] [--pdf-cache FILE]
Exit status 1 if any check fails.
"""
import argparse, json, os, re, sys, unicodedata
try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIST1 = os.path.join(ROOT, "corpus/lists/llm-classic-papers-quick-read.md")
LIST2 = os.path.join(ROOT, "corpus/lists/chatgpt-100-papers.md")
TOML = os.path.join(ROOT, "corpus/papers.toml")
EVAL = os.path.join(ROOT, "eval")
PDF_IDS = {"1706.03762", "1810.04805", "1910.10683", "2005.11401", "2106.09685",
           "2201.11903", "2203.02155", "2302.13971", "2305.14314", "gpt1", "gpt2",
           "2205.14135", "1707.06347", "2112.10752"}


def norm(s):
    """Catalog normalisation: NFKC, lowercase, keep a-z, 0-9 and CJK."""
    s = unicodedata.normalize("NFKC", s).lower()
    return "".join(c for c in s if ("a" <= c <= "z") or ("0" <= c <= "9")
                   or "\u4e00" <= c <= "\u9fff")


def squash(s):
    """Grader comparison: case- and whitespace-insensitive."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", s)).lower()


def norm_with_map(text):
    out, idx = [], []
    for i, ch in enumerate(text):
        for c in norm(ch):
            out.append(c)
            idx.append(i)
    return "".join(out), idx


def load_toml():
    with open(TOML, "rb") as f:
        return tomllib.load(f)


def load_catalog():
    return {p["id"]: p for p in load_toml()["paper"]}


def list1_entries(catalog):
    text = open(LIST1, encoding="utf-8").read()
    sections = re.split(r"\n(?=## )", text)[1:]
    entries = {}
    for sec in sections:
        head = norm(sec[:600])  # heading + 论文名称 line
        found = None
        for pid, p in catalog.items():
            names = [p["title"]] + [a for a in p.get("aliases", []) if len(norm(a)) >= 12]
            if any(norm(n) in head for n in names):
                found = pid
                break
        if found is None:
            raise SystemExit("list one: cannot identify section: " + sec[:80])
        entries.setdefault(found, []).append(sec)
    return entries


def list2_entries(catalog, items=()):
    """Segment list two: an entry runs from a title to the next title.

    A catalog title (or [[item]] title, or an alias of 20+ normalised characters, which is
    another spelling of the title) counts wherever it occurs. A short alias counts only
    when it starts a line (or a "- " item, or follows "《") and ends the line or is followed
    by " - ", "(", "论文" or "原始论文" (aliases that are list spellings such as "TRPO论文"
    may also follow " - "), so names mentioned inside a note do not cut it short.
    """
    text = open(LIST2, encoding="utf-8").read()
    ntext, idx = norm_with_map(text)
    anchors = []  # (start_in_text, end_of_title_in_text, pid)
    named = [(pid, p) for pid, p in catalog.items()] + [("item:" + it["id"], it) for it in items]
    after_ok = re.compile(r"[ \t]*(\n|$| - |\(|（|原始论文|论文)")
    for pid, p in named:
        # long aliases are other spellings of the title: they count like titles
        names = [(p["title"], True)] + [(a, len(norm(a)) >= 20) for a in p.get("aliases", [])
                                        if len(norm(a)) >= 3]
        for n, is_title in names:
            nn = norm(n)
            if not nn:
                continue
            for m in re.finditer(re.escape(nn), ntext):
                start, end = idx[m.start()], idx[m.end() - 1] + 1
                if not is_title:
                    j = start - 1
                    while j >= 0 and text[j] in " \t":
                        j -= 1
                    after_dash = text[j] == "-" and j < start - 1 if j >= 0 else False
                    line_start = (j < 0 or text[j] in "\n《"
                                  or (after_dash and (j == 0 or text[j - 1] == "\n")))
                    spelled_as_list = n.endswith("论文") and (line_start or after_dash)
                    if not (spelled_as_list or (line_start and after_ok.match(text, end))):
                        continue
                anchors.append((start, end, pid))
    # at one position keep the longest title; drop titles nested inside another
    anchors.sort(key=lambda a: (a[0], -(a[1] - a[0])))
    clean = []
    for a in anchors:
        if clean and a[0] < clean[-1][1]:
            continue
        clean.append(a)
    entries = {}
    for i, (s, e, pid) in enumerate(clean):
        end = clean[i + 1][0] if i + 1 < len(clean) else len(text)
        seg = text[s:end]
        cut = re.search(r"\n第[一二三四五六七]部分", seg)  # a note never runs into a part heading
        if cut:
            seg = seg[:cut.start()]
        entries.setdefault(pid, []).append(seg)
    return entries


def entry_texts(catalog):
    e1, e2 = list1_entries(catalog), list2_entries(catalog, load_toml().get("item", []))
    out = {}
    for pid, p in catalog.items():
        parts = e1.get(pid, []) + e2.get(pid, [])
        parts += [p["title"], p.get("organisation", ""), str(p.get("year", ""))]
        out[pid] = "\n".join(parts)
    return out, e1, e2


def load_jsonl(path):
    rows = []
    if not os.path.exists(path):
        return rows
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as ex:
                    rows.append({"id": f"<line {n}>", "_error": str(ex)})
    return rows


def load_pdf_pages(pdf_dir, cache):
    if cache and os.path.exists(cache):
        return json.load(open(cache, encoding="utf-8"))
    if not pdf_dir or not os.path.isdir(pdf_dir):
        return None
    try:
        import pypdf
    except ImportError:
        return None
    import logging
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    pages = {}
    for f in sorted(os.listdir(pdf_dir)):
        if f.endswith(".pdf"):
            r = pypdf.PdfReader(os.path.join(pdf_dir, f))
            pages[f[:-4]] = [(pg.extract_text() or "") for pg in r.pages]
    if cache:
        json.dump(pages, open(cache, "w", encoding="utf-8"), ensure_ascii=False)
    return pages


def nugget_ok(nugget, text):
    t = squash(text)
    return any(squash(form) in t for form in nugget)


def check_nuggets(qid, nuggets, expect, entries, errors, pages_field=None, pdf_pages=None):
    if not (1 <= len(nuggets) <= 3):
        errors.append(f"{qid}: needs 1-3 nuggets, has {len(nuggets)}")
    for ng in nuggets:
        if not isinstance(ng, list) or not ng or not all(isinstance(x, str) and x for x in ng):
            errors.append(f"{qid}: bad nugget {ng!r}")
            continue
        sources = []
        for pid in expect:
            if pages_field and pid in pages_field:
                if pdf_pages is None or pid not in pdf_pages:
                    sources = None  # cannot verify here
                    break
                sources += [pdf_pages[pid][p - 1] for p in pages_field[pid]
                            if 1 <= p <= len(pdf_pages[pid])]
            else:
                sources.append(entries.get(pid, ""))
        if sources is None:
            continue
        if not any(nugget_ok(ng, s) for s in sources):
            errors.append(f"{qid}: nugget {ng!r} not found in source text of {expect}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dump", help="print the entry text the checker uses for a catalog id")
    ap.add_argument("--pdf-dir", default=os.environ.get("PAPERQA_PDF_DIR", "/work/shared/pdfs"))
    ap.add_argument("--pdf-cache", default=None, help="JSON {id: [page texts]} to skip pypdf")
    args = ap.parse_args()

    catalog = load_catalog()
    entries, e1, e2 = entry_texts(catalog)
    if args.dump:
        print(entries[args.dump])
        return 0
    errors, warnings = [], []
    ids_seen = set()

    # ---------------- questions_list.jsonl
    lq = load_jsonl(os.path.join(EVAL, "questions_list.jsonl"))
    papers, langs, kinds, tags = set(), {}, {}, {}
    for q in lq:
        qid = q.get("id")
        if "_error" in q:
            errors.append(f"{qid}: {q['_error']}"); continue
        if qid in ids_seen:
            errors.append(f"{qid}: duplicate id")
        ids_seen.add(qid)
        for k in ("id", "q", "lang", "kind", "expect", "pages", "nuggets"):
            if k not in q:
                errors.append(f"{qid}: missing {k}")
        if q.get("lang") not in ("en", "zh"):
            errors.append(f"{qid}: bad lang")
        if q.get("kind") != "single":
            errors.append(f"{qid}: kind should be 'single'")
        langs[q.get("lang")] = langs.get(q.get("lang"), 0) + 1
        is_inj = "injection" in q.get("tags", [])
        for pid in q.get("expect", []):
            if pid not in catalog:
                errors.append(f"{qid}: unknown catalog id {pid}")
            elif pid in PDF_IDS and not is_inj:
                errors.append(f"{qid}: {pid} has a real PDF; list questions are for the others")
            elif not is_inj:
                papers.add(pid)
            if pid not in e1 and pid not in e2:
                errors.append(f"{qid}: {pid} has no entry in either list")
        if not q.get("expect"):
            errors.append(f"{qid}: empty expect")
        tags["injection" if is_inj else "plain"] = tags.get("injection" if is_inj else "plain", 0) + 1
        check_nuggets(qid, q.get("nuggets", []), q.get("expect", []), entries, errors)
    print(f"questions_list.jsonl: {len(lq)} questions, {len(papers)} different non-PDF papers, "
          f"lang {langs}, {tags}")
    if tags.get("plain", 0) < 70: errors.append("questions_list: fewer than 70 plain questions")
    if len(papers) < 45: errors.append("questions_list: fewer than 45 different papers")

    # ---------------- questions_nearmiss.jsonl
    corpus_text = "\n".join([open(LIST1, encoding="utf-8").read(), open(LIST2, encoding="utf-8").read(),
                             open(TOML, encoding="utf-8").read()]).lower()
    pdf_pages = load_pdf_pages(args.pdf_dir, args.pdf_cache)
    pdf_text = {k: "\n".join(v).lower() for k, v in (pdf_pages or {}).items()}
    if pdf_pages is None:
        warnings.append("PDF text unavailable (no folder or no pypdf): PDF checks skipped")
    nq = load_jsonl(os.path.join(EVAL, "questions_nearmiss.jsonl"))
    nl, nn, ne = {}, 0, 0
    for q in nq:
        qid = q.get("id")
        if "_error" in q:
            errors.append(f"{qid}: {q['_error']}"); continue
        if qid in ids_seen:
            errors.append(f"{qid}: duplicate id")
        ids_seen.add(qid)
        for k in ("id", "q", "lang", "kind", "expect", "names"):
            if k not in q:
                errors.append(f"{qid}: missing {k}")
        if q.get("kind") != "unanswerable" or q.get("expect"):
            errors.append(f"{qid}: near-miss questions are kind 'unanswerable' with empty expect")
        nl[q.get("lang")] = nl.get(q.get("lang"), 0) + 1
        if q.get("names"):
            nn += 1
        else:
            ne += 1
        for name in q.get("names", []):
            low = name.lower()
            where = []
            if low in corpus_text:
                where.append("lists/papers.toml")
            for k, t in pdf_text.items():
                if low in t:
                    where.append(f"{k}.pdf")
            if where:
                errors.append(f"{qid}: name {name!r} occurs in {', '.join(where)}")
            if low not in q.get("q", "").lower():
                warnings.append(f"{qid}: name {name!r} not spelled as in the question")
    print(f"questions_nearmiss.jsonl: {len(nq)} questions ({nn} near misses, {ne} everyday), lang {nl}")

    # ---------------- conversations.jsonl
    cq = load_jsonl(os.path.join(EVAL, "conversations.jsonl"))
    cl, nturns, cpapers, skipped = {}, {}, set(), 0
    for c in cq:
        cid = c.get("id")
        if "_error" in c:
            errors.append(f"{cid}: {c['_error']}"); continue
        if cid in ids_seen:
            errors.append(f"{cid}: duplicate id")
        ids_seen.add(cid)
        turns = c.get("turns", [])
        cl[c.get("lang")] = cl.get(c.get("lang"), 0) + 1
        nturns[len(turns)] = nturns.get(len(turns), 0) + 1
        if len(turns) not in (2, 3):
            errors.append(f"{cid}: {len(turns)} turns")
        if any(k in turns[0] for k in ("expect", "nuggets")) if turns else True:
            errors.append(f"{cid}: first turn must be unscored")
        for i, t in enumerate(turns[1:], 2):
            tid = f"{cid}/t{i}"
            for k in ("q", "expect", "pages", "nuggets", "standalone"):
                if k not in t:
                    errors.append(f"{tid}: missing {k}")
            for pid in t.get("expect", []):
                cpapers.add(pid)
                if pid not in catalog:
                    errors.append(f"{tid}: unknown catalog id {pid}")
                if pid in PDF_IDS and pid not in t.get("pages", {}):
                    errors.append(f"{tid}: {pid} has a PDF but no pages given")
            if pdf_pages is None and any(p in PDF_IDS for p in t.get("expect", [])):
                skipped += 1
            check_nuggets(tid, t.get("nuggets", []), t.get("expect", []), entries, errors,
                          pages_field=t.get("pages", {}), pdf_pages=pdf_pages)
    print(f"conversations.jsonl: {len(cq)} conversations, lang {cl}, turns {nturns}, "
          f"{len(cpapers)} papers" + (f", {skipped} PDF turns not verified" if skipped else ""))

    for w in warnings:
        print("WARN", w)
    for e in errors:
        print("FAIL", e)
    print("OK" if not errors else f"{len(errors)} problem(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
