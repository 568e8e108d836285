"""Shared test data for the answer engines: two real papers, real page text, retrieval-like passages.

The page texts are the real text of QLoRA (arXiv 2305.14314v1) pages 1, 2 and 5 and LoRA
(2106.09685v2) page 4, as a PDF text extractor gives them (line breaks, hyphenation, [13]-style
references). Passages are cut from them as a chunker would, with whitespace changed (line breaks
joined), which is exactly what the verbatim check must forgive, and nothing more.
"""

from __future__ import annotations

from pathlib import Path

from paperqa.catalog.catalog import Catalog
from paperqa.records import Paper, Passage, SummaryEntry

QLORA_ID = "2305.14314"
LORA_ID = "2106.09685"

QLORA_P1 = """QLORA: Efficient Finetuning of Quantized LLMs
Tim Dettmers∗ Artidoro Pagnoni∗ Ari Holtzman
Luke Zettlemoyer
University of Washington
Abstract
We present QLORA, an efficient finetuning approach that reduces memory us-
age enough to finetune a 65B parameter model on a single 48GB GPU while
preserving full 16-bit finetuning task performance. QLORA backpropagates gradi-
ents through a frozen, 4-bit quantized pretrained language model into Low Rank
Adapters (LoRA). Our best model family, which we name Guanaco, outperforms
all previous openly released models on the Vicuna benchmark, reaching 99.3%
of the performance level of ChatGPT while only requiring 24 hours of finetuning
on a single GPU. QLORA introduces a number of innovations to save memory
without sacrificing performance: (a) 4-bit NormalFloat (NF4), a new data type that
is information theoretically optimal for normally distributed weights (b) Double
Quantization to reduce the average memory footprint by quantizing the quantization
constants, and (c) Paged Optimizers to manage memory spikes. We use QLORA
to finetune more than 1,000 models, providing a detailed analysis of instruction
following and chatbot performance across 8 instruction datasets, multiple model
types (LLaMA, T5), and model scales that would be infeasible to run with regular
finetuning (e.g. 33B and 65B parameter models).
1 Introduction
Finetuning large language models (LLMs) is a highly effective way to improve their performance,
[40, 62, 43, 61, 59, 37] and to add desirable or remove undesirable behaviors [43, 2, 4]. However,
finetuning very large models is prohibitively expensive; regular 16-bit finetuning of a LLaMA 65B
parameter model [57] requires more than 780 GB of GPU memory. While recent quantization
methods can reduce the memory footprint of LLMs [14, 13, 18, 66], such techniques only work for
inference and break down during training [65].
"""

QLORA_P2 = """QLORA reduces the average memory requirements
of finetuning a 65B parameter model from >780GB
of GPU memory to <48GB without degrading the
runtime or predictive performance compared to a 16-
bit fully finetuned baseline. This marks a significant
shift in accessibility of LLM finetuning: now the
largest publicly available models to date finetunable
on a single GPU.
QLORA introduces multiple innovations designed to reduce memory use without sacrificing per-
formance: (1) 4-bit NormalFloat, an information theoretically optimal quantization data type for
normally distributed data that yields better empirical results than 4-bit Integers and 4-bit Floats.
(2) Double Quantization, a method that quantizes the quantization constants, saving an average
of about 0.37 bits per parameter (approximately 3 GB for a 65B model). (3) Paged Optimizers,
using NVIDIA unified memory to avoid the gradient checkpointing memory spikes that occur when
processing a mini-batch with a long sequence length.
"""

QLORA_P5 = """Double Quantization We introduce Double Quantization (DQ), the process of quantizing the
quantization constants for additional memory savings. While a small blocksize is required for precise
4-bit quantization [13], it also has a considerable memory overhead. For example, using 32-bit
constants and a blocksize of 64 for W, quantization constants add 32/64 = 0.5 bits per parameter on
average. Double Quantization helps reduce the memory footprint of quantization constants.
Paged Optimizers use the NVIDIA unified memory 3 feature wich does automatic page-to-page
transfers between the CPU and GPU for error-free GPU processing in the scenario where the GPU
occasionally runs out-of-memory. The feature works like regular memory paging between CPU RAM
and the disk. We use this feature to allocate paged memory for the optimizer states which are then
automatically evicted to CPU RAM when the GPU runs out-of-memory and paged back into GPU
memory when the memory is needed in the optimizer update step.
"""

LORA_P4 = """4.1 LOW-RANK-PARAMETRIZED UPDATE MATRICES
A neural network contains many dense layers which perform matrix multiplication. The weight
matrices in these layers typically have full-rank. When adapting to a speciﬁc task, Aghajanyan et al.
(2020) shows that the pre-trained language models have a low “instrisic dimension” and can still
learn efﬁciently despite a random projection to a smaller subspace. Inspired by this, we hypothe-
size the updates to the weights also have a low “intrinsic rank” during adaptation. For a pre-trained
weight matrix W0 ∈ Rd×k, we constrain its update by representing the latter with a low-rank de-
composition W0 + ∆W = W0 + BA, where B ∈ Rd×r,A∈ Rr×k, and the rank r ≪ min(d,k).
During training, W0 is frozen and does not receive gradient updates, while A and B contain trainable
parameters.
"""

PAGES = {(QLORA_ID, 1): QLORA_P1, (QLORA_ID, 2): QLORA_P2, (QLORA_ID, 5): QLORA_P5, (LORA_ID, 4): LORA_P4}

QLORA_SUMMARY = SummaryEntry(
    list_id="llm-classic-papers-quick-read",
    list_title="LLM经典paper傻瓜式速读（持续更新）",
    heading="QLoRA：quantization+Lora 让我一张显卡就可 fine-tune LLM",
    title_as_listed="《QLoRA: Efficient Finetuning of Quantized LLMs》",
    text=(
        "QLoRA：quantization+Lora 让我一张显卡就可 fine-tune LLM\n"
        "论文名称：《QLoRA: Efficient Finetuning of Quantized LLMs》\n"
        "发布时间：2023/05/23\n"
        "发布单位：华盛顿大学\n"
        "阅读重点：4-bit NormalFloat、double quantization、paged optimizers\n"
        "小学生摘要：我们提出了 QLoRA，一种有效的微调方法，可以减少内存使用量，让一个65B 参数的模型在一个48GB 的 GPU 上"
        "进行微调，同时保持完整的16位微调任务性能。\n"
        "QLoRA通过一种称为Low Rank Adapters（LoRA）的方法，将梯度反向传播到冻结的4位量化预训练语言模型。\n"
        "QLoRA 引入了几项创新，以节省内存而不影响性能：\n"
        "1. 4位 NormalFloat（NF4），这是一种对于正常分布权重的训息理论最优的新数据类型;\n"
        "2. 双重量化，通过量化量化常数来减少平均内存占用;\n"
        "3. 标签优化器，管理内存峰值。\n"
        "论文链接：https://arxiv.org/pdf/2305.14314.pdf"
    ),
    line=721,
    link="https://arxiv.org/pdf/2305.14314.pdf",
)
LORA_SUMMARY = SummaryEntry(
    list_id="llm-classic-papers-quick-read",
    list_title="LLM经典paper傻瓜式速读（持续更新）",
    heading="LoRA：Fine-tune 不了整个 LLM，那 fine-tune 一点点就好",
    title_as_listed="《LoRA: Low-Rank Adaptation of Large Language Models》",
    text=(
        "LoRA：Fine-tune 不了整个 LLM，那 fine-tune 一点点就好\n"
        "论文名称：《LoRA: Low-Rank Adaptation of Large Language Models》\n"
        "这个方法就像是LoRA(低秩适应)。它不改变原来的大语言模型,而是添加一些小的、可以训练的部分。\n"
        "核心技术：低秩适应（LoRA）"
    ),
    line=358,
)

QLORA = Paper(
    paper_id=QLORA_ID,
    title="QLoRA: Efficient Finetuning of Quantized LLMs",
    arxiv_id=QLORA_ID,
    version=1,
    year=2023,
    aliases=("QLoRA",),
    summaries=(QLORA_SUMMARY,),
)
LORA = Paper(
    paper_id=LORA_ID,
    title="LoRA: Low-Rank Adaptation of Large Language Models",
    arxiv_id=LORA_ID,
    version=2,
    year=2021,
    aliases=("LoRA",),
    summaries=(LORA_SUMMARY,),
)


def catalog() -> Catalog:
    return Catalog(
        items=(QLORA, LORA), mentions=(), source_hash="test", papers_file=Path("papers.toml"), list_files=()
    )


def page_text(paper_id: str, page: int) -> str:
    return PAGES.get((paper_id, page), "")


def no_pdf(paper_id: str) -> Path | None:
    return None


def chunk(paper: Paper, page: int, start: str, end: str, rank: int, section: str = "") -> Passage:
    """A passage cut from a page between two snippets, with line breaks joined as a chunker might."""
    text = PAGES[(paper.paper_id, page)]
    a = text.index(start)
    b = text.index(end, a) + len(end)
    return Passage(
        chunk_id=f"{paper.paper_id}:paper:{page}:{a}",
        paper_id=paper.paper_id,
        title=paper.title,
        kind="paper",
        text=" ".join(text[a:b].split("\n")),
        score=round(0.95 - 0.05 * rank, 3),  # as the fitted ranker scores a relevant passage
        similarity=round(0.5 - 0.02 * rank, 3),  # cosine with an on-topic question
        page_start=page,
        page_end=page,
        section=section,
        dense_rank=rank,
        bm25_rank=rank,
    )


def summary_passage(paper: Paper, rank: int) -> Passage:
    return Passage(
        chunk_id=f"{paper.paper_id}:summary:0",
        paper_id=paper.paper_id,
        title=paper.title,
        kind="summary",
        text=paper.summaries[0].text,
        score=round(0.95 - 0.05 * rank, 3),
        similarity=round(0.5 - 0.02 * rank, 3),
        summary_index=0,
        dense_rank=rank,
        bm25_rank=rank,
    )


def qlora_passages() -> list[Passage]:
    """What retrieval returns for "How does QLoRA save memory?", best first."""
    return [
        chunk(QLORA, 1, "We present QLORA", "(c) Paged Optimizers to manage memory spikes.", 1, "Abstract"),
        chunk(
            QLORA,
            2,
            "QLORA introduces multiple",
            "processing a mini-batch with a long sequence length.",
            2,
            "1 Introduction",
        ),
        chunk(QLORA, 5, "Paged Optimizers use", "in the optimizer update step.", 3, "3 QLoRA Finetuning"),
        chunk(LORA, 4, "4.1 LOW-RANK", "contain trainable\nparameters.", 4, "4 Our Method"),
    ]
