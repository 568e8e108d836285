"""A small Chinese -> English glossary of the field's terms.

Why: a Chinese question ("QLoRA是如何节省显存的？") must find and rank English sentences from the
papers ("... to save memory ..."). Retrieval bridges the languages with embeddings; sentence
picking and the confidence check are lexical, so they need these few hundred bytes of bridge.
English words are given as `keywords.tokenize` would produce them (lowercase, plural stripped).
The table is read both ways: an English question also matches the Chinese reading-list entries.
"""

from __future__ import annotations

ZH_EN: dict[str, tuple[str, ...]] = {
    "显存": ("memory", "gpu"),
    "内存": ("memory",),
    "节省": ("save", "saving", "reduce", "reduction"),
    "减少": ("reduce", "reduction"),
    "降低": ("reduce", "lower"),
    "量化": ("quantization", "quantized", "quantize"),
    "微调": ("finetuning", "fine-tuning", "finetune"),
    "指令": ("instruction",),
    "参数": ("parameter",),
    "训练": ("training", "train", "trained"),
    "预训练": ("pretraining", "pre-training", "pretrained"),
    "推理": ("inference", "reasoning"),
    "架构": ("architecture",),
    "结构": ("architecture", "structure"),
    "注意力": ("attention",),
    "自注意力": ("self-attention", "attention"),
    "多头": ("multi-head", "head"),
    "双向": ("bidirectional",),
    "掩码": ("masked", "mask"),
    "编码器": ("encoder",),
    "解码器": ("decoder",),
    "低秩": ("low-rank", "rank"),
    "适配器": ("adapter",),
    "权重": ("weight",),
    "矩阵": ("matrix",),
    "梯度": ("gradient",),
    "优化器": ("optimizer",),
    "分页": ("paged",),
    "精度": ("precision",),
    "浮点": ("float", "floating"),
    "奖励": ("reward",),
    "奖励模型": ("reward",),
    "人类反馈": ("human", "feedback"),
    "反馈": ("feedback",),
    "强化学习": ("reinforcement",),
    "对齐": ("alignment", "align"),
    "偏好": ("preference",),
    "策略": ("policy",),
    "裁剪": ("clipping", "clip", "clipped"),
    "检索": ("retrieval", "retriever", "retrieve"),
    "生成": ("generation", "generator", "generate"),
    "增强": ("augmented", "augment"),
    "思维链": ("chain-of-thought", "chain", "thought"),
    "提示": ("prompting", "prompt"),
    "上下文": ("context", "in-context"),
    "零样本": ("zero-shot",),
    "少样本": ("few-shot",),
    "示例": ("example", "demonstration"),
    "数据": ("data", "dataset"),
    "数据集": ("dataset", "data"),
    "公开": ("public", "publicly"),
    "扩散": ("diffusion",),
    "潜在": ("latent",),
    "潜空间": ("latent",),
    "像素": ("pixel",),
    "专家": ("expert", "experts"),
    "混合专家": ("mixture-of-experts", "expert"),
    "计算": ("compute", "computation"),
    "工具": ("tool",),
    "计算器": ("calculator",),
    "接口": ("api",),
    "上网": ("web", "browsing", "browser", "search"),
    "网页": ("web", "page"),
    "搜索": ("search",),
    "资料": ("information", "document"),
    "浏览": ("browsing", "browser"),
    "长度": ("length",),
    "序列": ("sequence",),
    "速度": ("speed", "faster", "fast"),
    "加速": ("speedup", "faster", "speed"),
    "效率": ("efficient", "efficiency"),
    "高效": ("efficient",),
    "损失": ("loss",),
    "目标": ("objective",),
    "任务": ("task",),
    "迁移": ("transfer",),
    "文本": ("text",),
    "翻译": ("translation",),
    "消费级": ("consumer",),
    "显卡": ("gpu",),
    "单卡": ("gpu", "single"),
    "运行": ("run", "running", "inference"),
    "评估": ("evaluation", "evaluate"),
    "基准": ("benchmark",),
    "对话": ("dialog", "dialogue", "chat", "chatbot"),
    "聊天": ("chat", "chatbot"),
    "规模": ("scale", "scaling", "size"),
    "缩放": ("scaling",),
    "涌现": ("emergent",),
    "能力": ("ability", "capability"),
    "词嵌入": ("embedding",),
    "嵌入": ("embedding",),
    "位置编码": ("positional", "position", "encoding"),
    "分词": ("tokenizer", "tokenization"),
    "循环": ("recurrence", "recurrent"),
    "卷积": ("convolution", "convolutional"),
    "并行": ("parallel", "parallelization"),
    "稀疏": ("sparse",),
    "蒸馏": ("distillation",),
    "幻觉": ("hallucination",),
}


def english_for(term: str) -> tuple[str, ...]:
    """English tokens for a Chinese term ('' -> ()); longest glossary key contained wins too."""
    if term in ZH_EN:
        return ZH_EN[term]
    found: list[str] = []
    for key, words in ZH_EN.items():
        if len(key) >= 2 and key in term:
            found.extend(words)
    return tuple(dict.fromkeys(found))


def _reverse() -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for zh, words in ZH_EN.items():
        for w in words:
            out.setdefault(w, []).append(zh)
    return {w: tuple(zhs) for w, zhs in out.items()}


EN_ZH: dict[str, tuple[str, ...]] = _reverse()


def chinese_for(word: str) -> tuple[str, ...]:
    """Chinese terms for an English token (as tokenized: "memory" -> 显存, 内存)."""
    return EN_ZH.get(word, ())
