"""The text modality: its registry entry and description, the adapter that tokenises stored bytes (trained on
the training split, memoised, restored exactly from a checkpoint), the TF-IDF baseline, the views preview
read back as words, and the refusals (no text decoder; generative methods stay off text)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ssl_core.data.base import DataInfo, TensorSource
from ssl_core.data.text_bytes import texts_to_bytes
from ssl_core.data.tokenizer import CLS_ID, MASK_ID, PAD_ID, SEP_ID
from ssl_core.errors import UserError
from ssl_core.methods import METHODS
from ssl_core.methods.base import Preview
from ssl_core.modalities import MODALITIES, PreviewPayload, modality_of
from ssl_core.modalities.text import TextAdapter, TextModality, text_adapter

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ANIMALS = ["cat", "dog", "bird", "fish", "horse", "mouse", "cow", "sheep", "goat", "duck"]
COLOURS = ["red", "blue", "green", "yellow", "black", "white", "pink", "brown", "grey", "gold"]
FILLER = ["the", "a", "sat", "ran", "on", "under", "near", "with", "big", "small"]
MAX_BYTES, MAX_TOKENS = 96, 16


def corpus(n: int = 200, seed: int = 0) -> tuple[list[str], list[int]]:
    """Short lines about animals (label 0) or colours (label 1), mixed with shared filler words."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i in range(n):
        label = i % 2
        topic = ANIMALS if label == 0 else COLOURS
        words = [str(rng.choice(topic if rng.random() < 0.5 else FILLER)) for _ in range(rng.integers(3, 9))]
        texts.append(" ".join(words))
        labels.append(label)
    return texts, labels


def text_info(n: int, tokenizer: str = "char", vocab: int = 48, tokens: int = MAX_TOKENS) -> DataInfo:
    return DataInfo(
        spec="text:test",
        name="lines",
        size=n,
        channels=1,
        height=0,
        width=0,
        has_labels=True,
        class_names=["animals", "colours"],
        modality="text",
        sample_shape=(MAX_BYTES,),
        sample_dtype="uint8",
        extra={
            "text": {"unit": "line", "tokenizer": tokenizer, "vocab_size": vocab, "max_tokens": tokens},
        },
    )


def text_source(n: int = 200, seed: int = 0, **settings) -> TensorSource:
    """Stored bytes of a generated corpus (a plain TensorSource: the adapter decodes the bytes itself)."""
    texts, labels = corpus(n, seed)
    stored = torch.from_numpy(np.asarray(texts_to_bytes(texts, MAX_BYTES)))
    return TensorSource(stored, torch.tensor(labels), text_info(n, **settings))


def adapter_for(source: TensorSource, train: int = 150) -> TextAdapter:
    return modality_of("text").input_adapter(source, torch.arange(train), seed=0)


def test_the_text_modality_is_registered_with_its_backbones_and_payload():
    text = modality_of("text")
    assert isinstance(text, TextModality) and "text" in MODALITIES.names()
    assert (text.name, text.title, text.noun, text.plural) == ("text", "Text", "text", "texts")
    assert text.default_backbone == "text_transformer" and text.raw_title == "TF-IDF"
    assert text.preview_payload == PreviewPayload.TOKEN_TEXT == "token_text"
    assert text.size_setting == "data.length" and text.sample_dims() == 1
    assert set(text.backbones()) == {"text_transformer", "text_gpt", "text_gru", "text_lstm", "word2vec"}
    assert text.describe(text_info(5)) == "one line per sample, up to 16 tokens, char vocabulary of 48"
    assert text.preview_meta(text_info(5)) == {}
    joint = {"simclr", "moco", "byol", "simsiam", "barlow_twins", "vicreg"}
    assert joint <= {name for name, spec in METHODS.items() if "text" in spec.modalities}
    for name in ("autoencoder", "denoising_autoencoder", "masked_reconstruction"):
        assert "text" not in METHODS.get(name).modalities
        assert METHODS.get(name).unavailable_reason(text_info(5))


def test_the_adapter_tokenises_stored_bytes_on_the_batch_device_and_remembers_rows():
    source = text_source()
    adapter = adapter_for(source)
    stored, _ = source.read(torch.arange(8))
    ids = adapter(stored)
    assert ids.dtype == torch.int64 and ids.shape == (8, MAX_TOKENS) and ids.device == stored.device
    assert (ids[:, 0] == CLS_ID).all() and ((ids == SEP_ID).sum(dim=1) == 1).all()
    texts, _ = corpus()
    assert torch.equal(ids, adapter.encode_texts(texts[:8]))
    assert [adapter.decode(row) for row in ids[:2]] == [t[: MAX_TOKENS - 2] for t in texts[:2]]
    assert adapter.token_strings(ids[0])[0] == "[CLS]" and len(adapter._memo) == 8
    adapter.encode_texts = None  # a second pass must not tokenise again
    assert torch.equal(adapter(stored), ids)
    assert torch.equal(adapter(stored.float().to(torch.uint8)), ids)
    with pytest.raises(ValueError, match="uint8"):
        adapter(stored.float())
    assert modality_of("text").encoder_stats(source, torch.arange(150), 0, adapter) == ([0.0], [1.0])


def test_the_adapter_state_restores_tokenizer_and_tfidf_exactly():
    source = text_source()
    adapter = adapter_for(source)
    other = adapter_for(text_source(n=60, seed=5, vocab=12), train=60)  # 7 characters: other ids
    stored, _ = source.read(torch.arange(40))
    assert not torch.equal(other(stored), adapter(stored))
    state = adapter.state_dict()
    assert set(state) == {"_extra_state"}
    other.load_state_dict(state)
    assert torch.equal(other(stored), adapter(stored))
    assert (other.max_tokens, other.vocab_size) == (MAX_TOKENS, 48)
    raw = modality_of("text").raw_features(stored, adapter)
    assert np.array_equal(modality_of("text").raw_features(stored, other), raw)
    torch.save(state, buffer := __import__("io").BytesIO())  # a checkpoint holds plain data only
    buffer.seek(0)
    again = torch.load(buffer, weights_only=True)
    other.load_state_dict(again)
    assert torch.equal(other(stored), adapter(stored))


def test_tfidf_is_fitted_on_training_texts_and_matches_scikit_learn():
    from sklearn.feature_extraction.text import TfidfVectorizer

    source = text_source()
    adapter = adapter_for(source, train=100)
    texts, _ = corpus()
    raw = modality_of("text").raw_features(source.read(torch.arange(200))[0], adapter)
    assert raw.dtype == np.float32 and raw.shape == (200, adapter.tfidf.size)
    reference = TfidfVectorizer(sublinear_tf=True, token_pattern=r"(?u)\b\w+\b").fit(texts[:100])
    assert np.allclose(raw, reference.transform(texts).toarray(), atol=1e-6)
    assert np.allclose(np.linalg.norm(raw, axis=1), 1.0, atol=1e-5)
    assert adapter.tfidf_features(["zebra"]).sum() == 0  # a word unseen in training adds nothing


def test_text_adapter_is_found_behind_a_method_and_its_prepare():
    from ssl_core.config import RunConfig
    from ssl_core.train.builder import build_components

    config = RunConfig()
    config.method.name = "simclr"
    config.method.backbone_params = {"width": 32, "layers": 1}
    parts = build_components(config, source=text_source())
    method = parts.method
    assert parts.backbone_name == "text_transformer"
    assert text_adapter(method) is method.input_adapter is text_adapter(method.prepare)
    assert text_adapter(torch.nn.Identity()) is None


def test_views_previews_are_read_back_as_words():
    source = text_source()
    adapter = adapter_for(source)
    ids = adapter(source.read(torch.arange(3))[0])
    view = ids.clone()
    view[:, 1] = MASK_ID
    preview = Preview("views", {"original": ids.float(), "view 1": view.float()}, payload="token_text")
    described = modality_of("text").describe_preview(preview, adapter)
    rows = described.meta["text_rows"]
    texts, _ = corpus()
    assert [row["kind"] for row in rows] == ["views"] * 3
    assert rows[0]["texts"]["original"] == texts[0][: MAX_TOKENS - 2]
    assert rows[0]["texts"]["view 1"].startswith("[MASK]")
    other = Preview("reconstruction", {"x": ids.float()})
    assert modality_of("text").describe_preview(other, adapter) is other
    assert modality_of("image").describe_preview(preview, adapter) is preview
    assert torch.equal(modality_of("text").finish_preview(ids).long(), ids)
    assert PAD_ID == 0


def test_text_has_no_decoder_and_says_which_methods_work():
    with pytest.raises(UserError, match="no text decoder.*simclr") as err:
        modality_of("text").reconstruction_head(32, text_info(5), None, 32)
    assert err.value.field == "method.name"
