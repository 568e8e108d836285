"""Conversations: a follow-up is read against the turn before it, a new topic starts fresh.

Through `Library.ask(history=...)`, `Conversation`, `paperqa chat` and `paperqa eval
--conversations` on a real (small) index of the shipped corpus: the lists' summary entries and
the catalog's title cards, embedded with the `hash` embedder in a data root of the test's own.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach the hub from tests

import json
import subprocess
import sys
from pathlib import Path

import pytest

from paperqa import Conversation, Library, Settings, Turn
from paperqa.answer.conversation import (
    ConversationParams,
    language_request,
    reference_in,
    resolve,
)

QLORA = "2305.14314"
LORA = "2106.09685"
GPT3 = "2005.14165"
ERNIE = "1905.07129"
MOBILESAM = "2306.14289"
FOLLOW = "How much memory does it need for a 65B model?"


@pytest.fixture(scope="module")
def home(small_index_home) -> Path:
    return small_index_home("conversation")


@pytest.fixture(scope="module")
def lib(home) -> Library:
    return Library(Settings.load(env={}, home=home, embedder="hash", history=False))


def first_cited(answer) -> str | None:
    return answer.citations[0].paper_id if answer.citations else None


# --- the API --------------------------------------------------------------------------------


def test_qlora_follow_up_is_answered_from_qlora_with_its_48gb(lib):
    first = lib.ask("How does QLoRA save memory?")
    assert first_cited(first) == QLORA
    ans = lib.ask(FOLLOW, history=[Turn("How does QLoRA save memory?", first)])
    assert ans.answer.startswith(f"Taking “it” to mean QLoRA ({QLORA}).")
    assert first_cited(ans) == QLORA
    assert "48GB" in ans.answer.replace(" ", "")
    assert ans.question == FOLLOW  # the record keeps what was typed
    alone = lib.ask(FOLLOW)  # no history: nothing to lean on, and no note
    assert "Taking" not in alone.answer


def test_history_may_be_answers_or_pairs(lib):
    first = lib.ask("How does QLoRA save memory?")
    by_answer = lib.ask(FOLLOW, history=[first])
    by_pair = lib.ask(FOLLOW, history=[("How does QLoRA save memory?", first)])
    assert by_answer.answer == by_pair.answer


def test_chinese_follow_up_says_which_paper_it_means(home):
    # which paper is meant, not whether to decline: the hash embedder's cosine says nothing of
    # meaning, and the decline model (fitted with a real embedder's) reads it, so it is off here
    lib = Library(Settings.load(env={}, home=home, embedder="hash", history=False, min_confidence=0.0))
    chat = Conversation(lib, record=False)
    chat.ask("LoRA 的核心思想是什么？")
    ans = chat.ask("它能把可训练参数减少多少？")
    assert ans.answer.startswith("这里的“它”指 LoRA。")
    assert first_cited(ans) == LORA
    third = chat.ask("那显存需求呢？")  # no pronoun, no subject: still LoRA, carried two turns on
    assert first_cited(third) == LORA and "LoRA" in third.answer.split("\n\n")[0]


def test_a_question_naming_its_own_paper_starts_fresh(lib):
    chat = Conversation(lib, record=False)
    chat.ask("How does QLoRA save memory?")
    ans = chat.ask("How many parameters does GPT-3 have?")
    assert first_cited(ans) == GPT3
    assert not ans.answer.startswith("Taking")
    assert lib.resolve("How much smaller is MobileSAM than it?", chat.turns).focus == ()  # name first


def test_a_pronoun_before_a_name_means_the_previous_paper(lib):
    first = lib.ask("What is ERNIE from Tsinghua?")
    res = lib.resolve("What does it add to BERT?", [first])
    assert res.follow_up and res.focus == (ERNIE,) and res.standalone == "What does ERNIE add to BERT?"
    fresh = lib.resolve("换个话题：LoRA 是什么？", [first])
    assert not fresh.follow_up and fresh.note is None


def test_reset_forgets_the_conversation(lib):
    chat = Conversation(lib, record=False)
    chat.ask("How does QLoRA save memory?")
    chat.reset()
    assert chat.turns == ()
    assert not chat.ask(FOLLOW).answer.startswith("Taking")


def test_what_about_in_chinese_asks_the_previous_question_again_in_chinese(lib):
    chat = Conversation(lib, record=False)
    first = chat.ask("How does QLoRA save memory?")
    again = chat.ask("What about in Chinese?")
    assert first.language == "en" and again.language == "zh"
    assert first_cited(again) == QLORA
    assert language_request("用英文回答") == "en" and language_request("What about LoRA?") is None


def test_reference_words_skip_words_that_only_contain_one():
    assert reference_in("其它模型呢？") is None  # 其它 is "other", not "it"
    assert reference_in("它的奖励模型呢？").group() == "它的"
    assert reference_in("What is iterative pruning?") is None
    assert reference_in("Who wrote it?").group() == "it"


# --- with an LLM: the engine condenses the conversation ---------------------------------------------


def test_an_llm_condenses_a_follow_up_and_only_a_follow_up(lib):
    first = lib.ask("How does QLoRA save memory?")
    calls: list[list[dict[str, str]]] = []

    def complete(messages, max_tokens):
        calls.append(messages)
        yield "Standalone question: How much GPU memory does QLoRA need to finetune a 65B model?"

    kw = {"linker": lib.name_linker, "catalog": lib.catalog, "known": lib.known_term, "condense": complete}
    res = resolve(FOLLOW, [first], **kw)
    assert res.standalone == "How much GPU memory does QLoRA need to finetune a 65B model?"
    assert res.note and res.note.startswith("Read as:")
    assert "How does QLoRA save memory?" in calls[0][-1]["content"]  # the model saw the turn
    resolve("How many parameters does GPT-3 have?", [first], **kw)
    assert len(calls) == 1  # a new topic costs no model call

    def rambles(messages, max_tokens):
        yield "x" * (ConversationParams().max_question_chars + 1)

    fallback = resolve(FOLLOW, [first], **{**kw, "condense": rambles})
    assert fallback.standalone == "How much memory does QLoRA need for a 65B model?"


def test_a_follow_up_carries_the_previous_question_at_the_fitted_weight(lib):
    """ "And how long did training take?" leans on the question before it, not only its paper."""
    first = lib.ask("What BLEU score did the Transformer reach?")
    kw = {"linker": lib.name_linker, "catalog": lib.catalog, "known": lib.known_term}
    leaning = resolve(
        "And how long did training take?", [first], **kw, params=ConversationParams(context_weight=0.3)
    )
    assert leaning.follow_up and leaning.context == "What BLEU score did the Transformer reach?"
    assert leaning.context_weight == 0.3
    alone = resolve(
        "And how long did training take?", [first], **kw, params=ConversationParams(context_weight=0.0)
    )
    assert alone.follow_up and (alone.context, alone.context_weight) == ("", 0.0)
    fresh = resolve(
        "How many parameters does GPT-3 have?", [first], **kw, params=ConversationParams(context_weight=0.3)
    )
    assert not fresh.follow_up and fresh.context == ""  # a new topic leans on nothing


def test_params_load_from_json(tmp_path):
    path = tmp_path / "p.json"
    path.write_text('{"condense_turns": 1}')
    assert ConversationParams.load(path).condense_turns == 1
    path.write_text('{"condense_turn": 1}')
    with pytest.raises(ValueError, match="unknown"):
        ConversationParams.load(path)


# --- the CLI ------------------------------------------------------------------------------------


def paperqa(home: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("paperqa")
    cmd = [str(script)] if script.is_file() else [sys.executable, "-m", "paperqa.app.cli"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERQA_")}
    env |= {"HF_HUB_OFFLINE": "1", "PAPERQA_EMBEDDER": "hash", "PAPERQA_HISTORY": "0"}
    return subprocess.run(
        [*cmd, *args, "--home", str(home)], input=stdin, capture_output=True, text=True, env=env, timeout=300
    )


@pytest.mark.slow  # real `paperqa` processes, each loading the index and dictionaries
def test_chat_keeps_the_conversation_until_new_and_exits_0_at_eof(home):
    lines = ["How does QLoRA save memory?", FOLLOW, "/new", FOLLOW, ""]
    done = paperqa(home, "chat", "--json", stdin="\n".join(lines))
    assert done.returncode == 0, done.stderr
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(answers) == 3
    assert answers[1]["answer"].startswith("Taking “it” to mean QLoRA")
    assert answers[1]["citations"][0]["paper_id"] == QLORA
    assert not answers[2]["answer"].startswith("Taking")  # /new: the same words, no history

    text = paperqa(home, "chat", stdin="How does QLoRA save memory?\n" + FOLLOW + "\n")
    assert text.returncode == 0, text.stderr
    assert "Taking “it” to mean QLoRA" in text.stdout
    assert f"[1] QLoRA: Efficient Finetuning of Quantized LLMs ({QLORA}v" in text.stdout  # as `ask` cites


@pytest.mark.slow  # real `paperqa` processes, each loading the index and dictionaries
def test_eval_conversations_scores_follow_ups_against_standalone(home, tmp_path):
    path = tmp_path / "conv.jsonl"
    turns = [
        {"q": "How does QLoRA save memory?"},
        {
            "q": FOLLOW,
            "expect": [QLORA],
            "nuggets": [["48GB", "48 GB"]],
            "standalone": "How much GPU memory does QLoRA need to finetune a 65B model?",
        },
    ]
    path.write_text(json.dumps({"id": "c", "lang": "en", "turns": turns}) + "\n", encoding="utf-8")
    done = paperqa(home, "eval", "--conversations", str(path), "--json")
    assert done.returncode == 0, done.stderr
    overall = json.loads(done.stdout)["summary"]["overall"]
    assert (
        overall["follow_up"]
        == overall["standalone"]
        == {
            "n": 1,
            "cited_hit@1": 1.0,
            "nugget_recall": 1.0,
            "declined": 0.0,
        }
    )
    path.write_text('{"id": "c", "turns": [{"nope": 1}]}\n', encoding="utf-8")
    bad = paperqa(home, "eval", "--conversations", str(path))
    assert bad.returncode == 2 and f"{path}:1:" in bad.stderr


def test_shipped_conversation_set_is_large_enough_and_bilingual():
    from paperqa.evaluate.questions import read_conversations

    dialogs = read_conversations(Path(__file__).parents[1] / "eval" / "conversations.jsonl")
    assert len(dialogs) >= 40 and {d.lang for d in dialogs} == {"en", "zh"}
    scored = [t for d in dialogs for t in d.turns if t.scored]
    assert all(t.standalone for t in scored) and all(2 <= len(d.turns) <= 3 for d in dialogs)


def test_a_follow_up_reads_only_its_papers_passages_but_is_judged_on_its_own(lib):
    """Words of another paper in a follow-up do not pull the answer away from "it"."""
    first = lib.ask("What is LoRA?")
    assert first_cited(first) == LORA
    words = "4-bit NormalFloat, double quantization and paged optimizers"
    follow = f"How does it use {words}?"  # QLoRA's words, about LoRA
    alone = lib.ask(f"How does this method use {words}?")
    assert first_cited(alone) == QLORA  # without the conversation, the words lead to QLoRA
    ans = lib.ask(follow, history=[Turn("What is LoRA?", first)])
    # LoRA's entries may not cover QLoRA's words (then a decline is honest), but the answer
    # never comes from QLoRA, which the same words reach when asked without the conversation
    assert ans.declined or {c.paper_id for c in ans.citations} == {LORA}
    assert QLORA not in {c.paper_id for c in ans.citations}
