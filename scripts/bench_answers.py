#!/usr/bin/env python
"""Answer benchmark: every engine over the question file, on one data root, in one table.

For each engine: hit@1 of the cited papers (the first paper the answer cites is an expected
one), the share of unanswerable questions declined and of answerable ones wrongly declined,
the share of quotes found verbatim on their page (must be 100%), and time to first token and
total time per answer (p50 and max) on this machine. (Per-question confidence and the decline
model that separates the two kinds of question: scripts/fit_decline.py.)

Engines: `extractive`; `llama` (llama-cpp-python with the GGUF of PAPERQA_LLM_MODEL or the
shipped Qwen2.5-Coder-1.5B); `openai` (a real llama.cpp OpenAI-compatible server that this
script starts on 127.0.0.1 with the same GGUF, stopped at the end).

    python scripts/bench_answers.py [--home DIR] [--engines extractive,llama,openai] [--questions FILE]

`--llama-before-after N`: the llama engine's first-token time, before and after the prompt
changes of issue 12, side by side in one run on the same N questions (answerable, with nuggets,
the validation half of eval/questions_pdf.jsonl and questions_list.jsonl, English and Chinese
alternating): "before" is the previous prompt (per-language instructions, the first 4 passages
of ~170 words, no prompt cache), "after" the shipped one (fixed instructions evaluated once and
reused, the passages the ranking keeps within a token budget). The two engines answer each
question in turn, alternating which goes first, so a machine shared with other work slows both
alike. Prints first-token p50/p95, total p50, nugget recall and cited hit@1.

    python scripts/bench_answers.py --home /work/evalhome --llama-before-after 12
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_Q = ROOT.parent / "shared" / "eval" / "dev_questions.jsonl"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(gguf: Path, threads: int, ctx: int) -> tuple[subprocess.Popen, str]:
    """llama.cpp's own OpenAI-compatible server, on loopback, for the `openai` engine."""
    port = free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--n_ctx", str(ctx), "--n_threads", str(threads), "--model_alias", "local"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("llama.cpp server did not start")


def row_for(engine: str, report: dict) -> dict:
    s = report["summary"]
    return {
        "engine": engine,
        "cited_hit@1": s["overall"].get("cited_hit@1"),
        "cited_hit@1_en": s.get("en", {}).get("cited_hit@1"),
        "cited_hit@1_zh": s.get("zh", {}).get("cited_hit@1"),
        "unanswerable_declined": s.get("unanswerable_declined"),
        "wrongly_declined": s["overall"].get("wrongly_declined"),
        "verbatim_share": s.get("verbatim_share"),
        "quotes": s.get("quotes"),
        "first_token_ms_p50": s.get("first_token_ms_p50"),
        "answer_ms_p50": s.get("answer_ms_p50"),
        "answer_ms_max": s.get("answer_ms_max"),
        "misses": [
            {"id": r["id"], "cited": r["cited"][:3], "declined": r["declined"]}
            for r in report["results"]
            if (r["expect"] and (not r["cited"] or r["cited"][0] not in r["expect"]))
            or (not r["expect"] and not r["declined"])
        ],
    }


# The llama engine's prompt before issue 12, verbatim, for the before/after comparison.
BEFORE_SYSTEM = {
    "en": (
        "You answer questions about research papers using only the numbered passages the user gives. "
        "Write a short answer of 2 to 4 sentences in English. After each sentence put the number of the "
        "passage it comes from in square brackets, like [1] or [2][3]. Cite only the numbers of the given "
        "passages. If the passages do not answer the question, reply exactly: "
        "The reading list does not cover this."
    ),
    "zh": (
        "你只根据用户给出的带编号的论文段落回答问题。用简体中文写2到4句话的简短回答。"
        "每句话后用方括号标注它所依据的段落编号，例如 [1] 或 [2][3]。只能引用给出的段落编号。"
        "如果这些段落不能回答问题，只回答：阅读清单中的论文没有涉及这个问题。"
    ),
}
BEFORE_ASK = {
    "en": "Question: {q}\nAnswer in English and cite the passages by number, like [1].",
    "zh": "问题：{q}\n请用中文回答，并用 [1] 这样的编号引用段落。",
}


def before_engine(settings):
    """The llama engine as it was: 4 passages of ~170 words under 1200 tokens, no prompt cache."""
    from paperqa.answer.base import paper_for
    from paperqa.answer.llama import LlamaEngine, LlamaParams
    from paperqa.answer.prompt import _header, trim_passage
    from paperqa.answer.text import estimate_tokens

    class BeforeEngine(LlamaEngine):
        def select(self, question, lang, passages, catalog):
            used = estimate_tokens(BEFORE_SYSTEM[lang] + BEFORE_ASK[lang] + question) + 40
            chosen = []
            for p in passages:
                if p.zone == "references":
                    continue
                paper = paper_for(p, catalog)
                cost = estimate_tokens(trim_passage(p.text, question, 170) + paper.title) + 12
                if chosen and used + cost > 1200:
                    continue
                chosen.append(p)
                used += cost
                if len(chosen) >= 4:
                    break
            return chosen or list(passages[:1])

        def messages(self, question, lang, sources):
            blocks = [f"{_header(s)}\n{trim_passage(s.passage.text, question, 170)}" for s in sources]
            user = (
                "Passages:\n\n" + "\n\n".join(blocks) + "\n\n" + BEFORE_ASK[lang].format(q=question.strip())
            )
            return [{"role": "system", "content": BEFORE_SYSTEM[lang]}, {"role": "user", "content": user}]

    return BeforeEngine(settings, llama=LlamaParams(cache_bytes=0, warm_prefix=False))


def pick_questions(n: int) -> list:
    """n answerable validation questions with nuggets, English and Chinese alternating, fixed order."""
    from paperqa.evaluate.questions import read_questions

    pool = [
        q
        for name in ("questions_pdf.jsonl", "questions_list.jsonl")
        for q in read_questions(ROOT / "eval" / name)
        if q.split == "validation" and q.answerable and q.nuggets
    ]
    pool.sort(key=lambda q: hashlib.sha256(q.id.encode()).hexdigest())  # a fixed shuffle
    en = [q for q in pool if q.lang == "en"]
    zh = [q for q in pool if q.lang != "en"]
    mixed = [q for pair in zip(en, zh, strict=False) for q in pair]
    return mixed[:n]


def _pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return round(s[min(len(s) - 1, round(p * (len(s) - 1)))], 1)


def llama_before_after(home: Path, n: int) -> list[dict]:
    """Both prompt configurations of the llama engine on the same questions, interleaved."""
    from paperqa import Library, Settings
    from paperqa.answer import answer
    from paperqa.answer.llama import LlamaEngine
    from paperqa.evaluate.questions import nuggets_stated

    settings = Settings.load(home=home).with_(engine="llama")
    lib = Library(settings)  # the index must exist: this mode never builds or changes it
    engines = {"before": before_engine(settings), "after": LlamaEngine(settings)}
    rows: dict[str, list[dict]] = {name: [] for name in engines}
    questions = pick_questions(n)
    for i, q in enumerate(questions):
        passages = lib.search(q.q, k=lib.k)
        order = list(engines) if i % 2 == 0 else list(reversed(engines))
        for name in order:
            a = answer(
                q.q,
                passages,
                catalog=lib.catalog,
                settings=settings,
                page_text=lib.page_text,
                pdf_path=lib.pdf_path,
                engine=engines[name],
                known=lib.known_term,
                on_topic=lib.on_topic,
            )
            cited = [c.paper_id for c in a.citations]
            stated = nuggets_stated(a.answer, q.nuggets)
            rows[name].append(
                {
                    "id": q.id,
                    "lang": q.lang,
                    "first_token_ms": a.timings["first_token_ms"],
                    "total_ms": a.timings["total_ms"],
                    "stated": stated,
                    "cited_hit": bool(cited) and cited[0] in q.expect,
                    "declined": a.declined,
                    "answer": a.answer,
                }
            )
            print(
                f"… {i + 1}/{len(questions)} {name:6} {q.id} first {a.timings['first_token_ms'] / 1000:.1f} s "
                f"total {a.timings['total_ms'] / 1000:.1f} s nuggets {sum(stated)}/{len(stated)}",
                file=sys.stderr,
                flush=True,
            )
    table = []
    for name, rs in rows.items():
        first = [r["first_token_ms"] for r in rs]
        stated = [s for r in rs for s in r["stated"]]
        table.append(
            {
                "config": name,
                "n": len(rs),
                "first_token_ms_p50": _pct(first, 0.5),
                "first_token_ms_p95": _pct(first, 0.95),
                "total_ms_p50": _pct([r["total_ms"] for r in rs], 0.5),
                "nugget_recall": round(sum(stated) / len(stated), 3) if stated else None,
                "cited_hit@1": round(sum(r["cited_hit"] for r in rs) / len(rs), 3) if rs else None,
                "declined": sum(r["declined"] for r in rs),
                "answers": rs,
            }
        )
    print(
        "| llama prompt | n | first token p50 ms | first token p95 ms | total p50 ms | nugget recall | cited hit@1 | declined |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in table:
        print(
            f"| {r['config']} | {r['n']} | {r['first_token_ms_p50']} | {r['first_token_ms_p95']} | "
            f"{r['total_ms_p50']} | {r['nugget_recall']} | {r['cited_hit@1']} | {r['declined']} |"
        )
    before, after = table
    print(f"\nfirst-token p50 {before['first_token_ms_p50'] / after['first_token_ms_p50']:.2f}x lower after")
    return table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--home", type=Path, default=Path(os.environ.get("PAPERQA_HOME", "/tmp/paperqa-bench/shipped-pdfs"))
    )
    ap.add_argument("--engines", default="extractive,llama,openai")
    ap.add_argument(
        "--questions", type=Path, default=Path(os.environ.get("PAPERQA_DEV_QUESTIONS", DEFAULT_Q))
    )
    ap.add_argument("--json", type=Path)
    ap.add_argument("--llama-before-after", type=int, metavar="N", help="see above; N questions")
    args = ap.parse_args()
    if args.llama_before_after:
        table = llama_before_after(args.home, args.llama_before_after)
        if args.json:
            args.json.write_text(json.dumps(table, indent=2, ensure_ascii=False))
        return

    from paperqa import Library, Settings
    from paperqa.answer.gguf import resolve_model

    settings = Settings.load(home=args.home)
    Library(settings).build_index()  # incremental: reuses what is there
    rows, server = [], None
    try:
        for engine in args.engines.split(","):
            lib = Library(settings)
            if engine == "openai":
                server, base = start_server(resolve_model(settings), settings.llm_threads, settings.llm_ctx)
                lib = Library(settings.with_(openai_base_url=base, openai_model="local"))
            print(f"… {engine}", file=sys.stderr, flush=True)
            rows.append(row_for(engine, lib.evaluate(args.questions, answers=True, engine=engine)))
            if server is not None:
                server.terminate()
                server.wait(timeout=30)
                server = None
    finally:
        if server is not None:
            server.kill()
    print(
        "| engine | cited hit@1 | EN | ZH | unanswerable declined | answerable wrongly declined | quotes verbatim "
        "| first token p50 ms | total p50 ms | total max ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['engine']} | {r['cited_hit@1']} | {r['cited_hit@1_en']} | {r['cited_hit@1_zh']} | "
            f"{r['unanswerable_declined']} | {r['wrongly_declined']} | {r['verbatim_share']} ({r['quotes']}) | "
            f"{r['first_token_ms_p50']} | {r['answer_ms_p50']} | {r['answer_ms_max']} |"
        )
    for r in rows:
        if r["misses"]:
            print(f"\n{r['engine']} misses: {r['misses']}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
