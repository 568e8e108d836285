#!/usr/bin/env python
"""Answer benchmark: every engine over the question file, on one data root, in one table.

For each engine: hit@1 of the cited papers (the first paper the answer cites is an expected
one), the share of unanswerable questions declined and of answerable ones wrongly declined,
the share of quotes found verbatim on their page (must be 100%), and time to first token and
total time per answer (p50 and max) on this machine. (Per-question confidence and the decline
threshold that separates the two kinds of question: scripts/calibrate_decline.py.)

Engines: `extractive`; `llama` (llama-cpp-python with the GGUF of PAPERQA_LLM_MODEL or the
shipped Qwen2.5-Coder-1.5B); `openai` (a real llama.cpp OpenAI-compatible server that this
script starts on 127.0.0.1 with the same GGUF, stopped at the end).

    python scripts/bench_answers.py [--home DIR] [--engines extractive,llama,openai] [--questions FILE]
"""

from __future__ import annotations

import argparse
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
    args = ap.parse_args()

    from paperqa import Library, Settings
    from paperqa.answer.gguf import resolve_model

    settings = Settings.load(home=args.home)
    Library(settings).build_index(progress=False)  # incremental: reuses what is there
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
