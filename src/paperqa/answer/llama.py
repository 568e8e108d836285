"""Local LLM engine: llama.cpp (llama-cpp-python) with a GGUF, streamed, temperature 0.

The model is loaded once per engine object, on first use (a declined question never loads it),
with the chat template that the GGUF carries. A lock serialises generation: one llama.cpp
context cannot serve two questions at once (the web UI may ask concurrently).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..settings import Settings
from .base import EngineError
from .gguf import HOW_TO_GET, resolve_model
from .prompt import LLMEngine


class LlamaEngine(LLMEngine):
    name = "llama"

    def __init__(self, settings: Settings):
        super().__init__(settings)
        self._llm: Any = None
        self._lock = threading.Lock()
        self.model_path: Path | None = None
        self.load_ms: float | None = None

    def load(self) -> Any:
        """The llama.cpp model, loaded on first call (assembling the shipped GGUF if needed)."""
        if self._llm is not None:
            return self._llm
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise EngineError(
                f"the llama engine needs llama-cpp-python, which is not installed; {HOW_TO_GET}"
            ) from exc
        import time

        path = resolve_model(self.settings)
        t0 = time.perf_counter()
        try:
            self._llm = Llama(
                model_path=str(path),
                n_ctx=self.settings.llm_ctx,
                n_threads=self.settings.llm_threads,
                n_threads_batch=self.settings.llm_threads,
                n_batch=512,
                verbose=False,
            )
        except (ValueError, RuntimeError) as exc:
            raise EngineError(f"llama.cpp cannot load {path}: {exc}; is it a GGUF model file?") from exc
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
