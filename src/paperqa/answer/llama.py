"""Local LLM engine: llama.cpp (llama-cpp-python) with a GGUF, streamed, temperature 0.

The model is loaded once per engine object, on first use (a declined question never loads it),
with the chat template that the GGUF carries. A lock serialises generation: one llama.cpp
context cannot serve two questions at once (the web UI may ask concurrently).

Why the first token comes sooner: every prompt opens with the same fixed instructions (see
`prompt.py`), evaluated once when the model loads; llama.cpp then reuses their KV state for
every question (its context keeps the longest common prefix of the previous prompt). A bounded
`LlamaRAMCache` also keeps the states of recent prompts, so a question asked again restores its
whole prompt instead of re-reading it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..settings import Settings
from .base import EngineError
from .gguf import HOW_TO_GET, resolve_model
from .prompt import PASSAGES_LEAD, PROMPT_PARAMS, SYSTEM, LLMEngine, PromptParams


@dataclass(frozen=True)
class LlamaParams:
    """llama.cpp settings of the engine (threads and context size come from Settings)."""

    n_batch: int = 512  # prompt tokens per decode call: a whole prompt in one or two calls
    cache_bytes: int = 256 << 20  # prompt states kept in RAM (~20 MB each at ~700 tokens)
    warm_prefix: bool = True  # evaluate the fixed instructions at load, not in the first answer


LLAMA_PARAMS = LlamaParams()


def slim_cache(capacity_bytes: int) -> Any:
    """A `LlamaRAMCache` that stores states without their logits buffer and counts real bytes.

    llama-cpp-python's `save_state` copies the (n_batch x vocabulary) logits buffer, ~300 MB for
    Qwen's 152k-token vocabulary, while the cache counts only the KV bytes against its capacity:
    a few answers would hold gigabytes. A restored state is always re-evaluated from its last
    token (`load_state` sets `_requires_eval`), so one row of logits is enough.
    """
    from llama_cpp import LlamaRAMCache, LlamaState  # late: the optional [llm] extra

    class SlimRAMCache(LlamaRAMCache):
        @property
        def cache_size(self) -> int:
            return sum(s.llama_state_size + s.scores.nbytes for s in self.cache_state.values())

        def __setitem__(self, key: Sequence[int], value: LlamaState) -> None:
            slim = LlamaState(
                input_ids=value.input_ids,
                scores=value.scores[-1:].copy(),  # broadcasts over the rows `load_state` fills
                n_tokens=value.n_tokens,
                llama_state=value.llama_state,
                llama_state_size=value.llama_state_size,
                seed=value.seed,
            )
            super().__setitem__(key, slim)

    return SlimRAMCache(capacity_bytes=capacity_bytes)


class LlamaEngine(LLMEngine):
    name = "llama"

    def __init__(
        self, settings: Settings, params: PromptParams = PROMPT_PARAMS, llama: LlamaParams = LLAMA_PARAMS
    ):
        super().__init__(settings, params)
        self.llama_params = llama
        self._llm: Any = None
        self._lock = threading.Lock()
        self.model_path: Path | None = None
        self.load_ms: float | None = None

    def load(self) -> Any:
        """The llama.cpp model, loaded on first call (assembling the shipped GGUF if needed)."""
        if self._llm is not None:
            return self._llm
        try:
            from llama_cpp import Llama  # late: the optional [llm] extra
        except ImportError as exc:
            raise EngineError(
                f"the llama engine needs llama-cpp-python, which is not installed; {HOW_TO_GET}"
            ) from exc

        path = resolve_model(self.settings)
        t0 = time.perf_counter()
        try:
            llm = Llama(
                model_path=str(path),
                n_ctx=self.settings.llm_ctx,
                n_threads=self.settings.llm_threads,
                n_threads_batch=self.settings.llm_threads,
                n_batch=self.llama_params.n_batch,
                verbose=False,
            )
        except (ValueError, RuntimeError) as exc:
            raise EngineError(f"llama.cpp cannot load {path}: {exc}; is it a GGUF model file?") from exc
        if self.llama_params.cache_bytes > 0:
            llm.set_cache(slim_cache(self.llama_params.cache_bytes))
        if self.llama_params.warm_prefix:
            warm(llm)
        self._llm = llm
        self.model_path = path
        self.load_ms = round((time.perf_counter() - t0) * 1000, 1)
        return self._llm

    def complete(self, messages: list[dict[str, str]], max_tokens: int) -> Iterator[str]:
        with self._lock:
            llm = self.load()
            stream = llm.create_chat_completion(
                messages=messages, max_tokens=max_tokens, temperature=0.0, stream=True
            )
            for chunk in stream:
                delta = chunk["choices"][0].get("delta", {}).get("content")
                if delta:
                    yield delta


def warm(llm: Any) -> None:
    """Evaluate the fixed start of every prompt once, so that each answer reads only what varies."""
    fixed = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": PASSAGES_LEAD}]
    for _ in llm.create_chat_completion(messages=fixed, max_tokens=1, temperature=0.0, stream=True):
        pass
