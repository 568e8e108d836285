"""The one definition of CJK text in paperqa, as regular-expression character-class ranges.

Every stage that tells Chinese from Latin text (list parsing, tokens, language detection,
sentence splitting, citations) builds its patterns from these two names.
"""

# the unified ideographs: extension A, the main block, the compatibility ideographs
CJK_IDEOGRAPHS = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# and with them the Japanese kana: what the tokenizer and the hash embedder treat as one script
CJK = CJK_IDEOGRAPHS + r"\u3040-\u30ff"
