#!/usr/bin/env python3
"""List-entry check for question files other than the fixed ones check_list_questions.py reads.

Usage: python eval/check_whatis_questions.py [eval/questions_whatis.jsonl ...]

Reuses check_list_questions.py unchanged (same entry segmentation, same nugget test): for every
question whose expected paper has no real PDF, `pages` must be {} and every nugget must have a
form that occurs in the paper's reading-list entry or its catalog title/organisation/year.
Questions on the 14 PDF papers must give pages; their grounding is checked by
check_questions.py. Exit status 1 if any check fails.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_list_questions as clq  # noqa: E402


def main(paths):
    paths = paths or [os.path.join(clq.EVAL, "questions_whatis.jsonl")]
    catalog = clq.load_catalog()
    entries, e1, e2 = clq.entry_texts(catalog)
    errors, seen = [], set()
    for path in paths:
        rows = clq.load_jsonl(path)
        n_pdf, n_list, langs = 0, 0, {}
        for q in rows:
            qid = q.get("id")
            if "_error" in q:
                errors.append(f"{qid}: {q['_error']}")
                continue
            if qid in seen:
                errors.append(f"{qid}: duplicate id")
            seen.add(qid)
            for k in ("id", "q", "lang", "kind", "expect", "pages", "nuggets"):
                if k not in q:
                    errors.append(f"{qid}: missing {k}")
            langs[q.get("lang")] = langs.get(q.get("lang"), 0) + 1
            expect = q.get("expect", [])
            if q.get("kind") != "single" or len(expect) != 1:
                errors.append(f"{qid}: kind 'single' with one expected paper")
                continue
            pid = expect[0]
            if pid not in catalog:
                errors.append(f"{qid}: unknown catalog id {pid}")
                continue
            if pid in clq.PDF_IDS:
                n_pdf += 1
                if not q.get("pages", {}).get(pid):
                    errors.append(f"{qid}: {pid} has a PDF but no pages given")
                continue
            n_list += 1
            if q.get("pages") != {}:
                errors.append(f"{qid}: list question must have pages {{}}")
            if pid not in e1 and pid not in e2:
                errors.append(f"{qid}: {pid} has no entry in either list")
            clq.check_nuggets(qid, q.get("nuggets", []), expect, entries, errors)
        print(f"{os.path.basename(path)}: {len(rows)} questions ({n_pdf} on PDF papers, "
              f"{n_list} answered by list entries), lang {langs}")
    for e in errors:
        print("FAIL", e)
    print("OK" if not errors else f"{len(errors)} problem(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
