"""How an answer names a paper: its short name with year and organisation, its title when the
answer quotes nothing of its text, and the catalog's card line for a paper known only by it."""

from __future__ import annotations

from ..records import Paper
from .base import Source, short_name
from .sentences import Cand


def when_and_who(paper: Paper, by_whom: bool = True) -> list[str]:
    """The year and (with `by_whom`) the organisation the catalog gives, as far as it gives them."""
    return [str(paper.year)] * bool(paper.year) + [paper.organisation] * bool(by_whom and paper.organisation)


def card_line(src: Source, lang: str) -> str:
    """What the catalog says of a paper: its title, year, organisation and other names."""
    paper = src.paper
    zh = lang == "zh"
    aliases = [a for a in paper.aliases if a.lower() not in paper.title.lower()][:2]
    text = ("，" if zh else ", ").join(when_and_who(paper))
    if aliases:
        text += f"；又称 {'、'.join(aliases)}" if zh else f"; also known as {', '.join(aliases)}"
    if zh:
        return f"阅读清单收录了《{paper.title}》" + (f"（{text}）" if text else "") + f"[{src.number}]。"
    return f"The reading list has “{paper.title}”" + (f" ({text})" if text else "") + f" [{src.number}]."


def note_zh(paper: Paper) -> str:
    """（2023，University of Washington）: when and by whom, as the catalog has it."""
    parts = when_and_who(paper)
    return f"（{'，'.join(parts)}）" if parts else ""


def named(c: Cand, full: bool = False) -> str:
    """ "QLoRA (2023)"; in full, the first time a paper is named: "QLoRA (2023, University of Washington)"."""
    paper = c.source.paper
    parts = when_and_who(paper, by_whom=full)
    return f"{short_name(paper)} ({', '.join(parts)})" if parts else short_name(paper)


def titled(c: Cand) -> str:
    """ "“Prefix-Tuning: Optimizing Continuous Prompts for Generation” (2021, Stanford University)",
    "GPT-3 (“Language Models are Few-Shot Learners”, 2020, OpenAI)": the title says what a paper
    is about when the answer quotes nothing of its text; its short name stays when the title lacks it."""
    paper = c.source.paper
    note = when_and_who(paper)
    short = short_name(paper)
    if short.lower() in paper.title.lower():
        return f"“{paper.title}”" + (f" ({', '.join(note)})" if note else "")
    return f"{short} ({', '.join([f'“{paper.title}”', *note])})"
