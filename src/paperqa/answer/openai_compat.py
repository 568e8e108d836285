"""OpenAI-compatible engine: any server with /v1/chat/completions (Ollama, llama.cpp's server, vLLM).

Streamed as server-sent events over httpx (`stream: true`), so the first words show while the
model is still writing. The API key, when a server wants one, comes from the environment
variable that settings.openai_api_key_env names, never from a file or the settings themselves.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import httpx

from ..settings import Settings
from .base import EngineError
from .prompt import LLMEngine


def _how_to_start(settings: Settings) -> str:
    return (
        "start one, e.g. Ollama: `ollama serve` then `ollama pull "
        f"{settings.openai_model}`; or llama.cpp's server: `python -m llama_cpp.server --model <model.gguf> "
        "--host 127.0.0.1 --port 11434`; or point PAPERQA_OPENAI_BASE_URL at a running server "
        "(or use --engine extractive)"
    )


class OpenAIEngine(LLMEngine):
    name = "openai"

    def __init__(self, settings: Settings, transport: httpx.BaseTransport | None = None):
        super().__init__(settings)
        self._transport = transport  # tests hand in httpx.MockTransport

    @property
    def url(self) -> str:
        return self.settings.openai_base_url.rstrip("/") + "/chat/completions"

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "text/event-stream"}
        env = self.settings.openai_api_key_env
        key = os.environ.get(env, "") if env else ""
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def complete(self, messages: list[dict[str, str]], max_tokens: int) -> Iterator[str]:
        payload = {
            "model": self.settings.openai_model,
            "messages": messages,
            "stream": True,
            "temperature": 0,
            "max_tokens": max_tokens,
        }
        timeout = httpx.Timeout(self.settings.timeout, connect=5.0)
        base = self.settings.openai_base_url
        try:
            with (
                httpx.Client(timeout=timeout, transport=self._transport) as client,
                client.stream("POST", self.url, json=payload, headers=self._headers()) as resp,
            ):
                if resp.status_code >= 400:
                    body = resp.read().decode("utf-8", "replace")[:300]
                    raise EngineError(
                        f"the server at {base} answered HTTP {resp.status_code} for model "
                        f"'{self.settings.openai_model}': {body.strip() or resp.reason_phrase}"
                    )
                yield from _sse_deltas(resp.iter_lines(), base)
        except httpx.ConnectError as exc:
            raise EngineError(
                f"cannot reach the OpenAI-compatible server at {base} ({exc}); {_how_to_start(self.settings)}"
            ) from exc
        except httpx.TimeoutException as exc:
            raise EngineError(
                f"the server at {base} did not answer within {self.settings.timeout:.0f} s; "
                "a larger PAPERQA_TIMEOUT helps with slow CPU models"
            ) from exc


def _sse_deltas(lines: Iterator[str], base: str) -> Iterator[str]:
    """Content deltas from an OpenAI chat-completions event stream ("data: {...}" ... "data: [DONE]")."""
    for line in lines:
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            return
        try:
            event = json.loads(data)
        except ValueError:
            continue
        if event.get("error"):
            raise EngineError(f"the server at {base} reported an error: {event['error']}")
        for choice in event.get("choices") or []:
            content = (choice.get("delta") or {}).get("content")
            if content:
                yield content
