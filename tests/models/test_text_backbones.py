"""Text backbones: registry entries and settings, shapes and gradients on token ids, causality of the
language-model networks, padding that changes nothing, and the Encoder passing ids through untouched."""

from __future__ import annotations

import pytest
import torch

from ssl_core.data.base import DataInfo
from ssl_core.errors import UserError
from ssl_core.models.backbones import BACKBONES, build_backbone
from ssl_core.models.text import PAD_ID, TEXT_BACKBONES, mean_of_tokens

pytestmark = pytest.mark.usefixtures("one_torch_thread")

VOCAB, TOKENS = 50, 16
NAMES = ("text_transformer", "text_gpt", "text_gru", "text_lstm", "word2vec")
CAUSAL = ("text_gpt", "text_gru", "text_lstm")
SMALL = {
    "text_transformer": {"width": 32, "layers": 1},
    "text_gpt": {"width": 32, "layers": 1, "positions": "sinusoidal"},
    "text_gru": {"width": 32},
    "text_lstm": {"width": 32, "layers": 2},
    "word2vec": {"dim": 32},
}


def text_info(vocab: int = VOCAB, tokens: int = TOKENS) -> DataInfo:
    return DataInfo(
        spec="text:test",
        name="test",
        size=10,
        channels=1,
        height=0,
        width=0,
        has_labels=False,
        modality="text",
        sample_shape=(64,),
        sample_dtype="uint8",
        extra={"text": {"vocab_size": vocab, "max_tokens": tokens}},
    )


def build(name: str, **params):
    torch.manual_seed(0)
    return build_backbone(name, 1, 64, [0.0], [1.0], modality="text", info=text_info(), params=params)


def token_ids(batch: int = 4, lengths=(16, 9, 5, 2), seed: int = 0) -> torch.Tensor:
    """[CLS] words [SEP] then PAD, as the text adapter gives them (ids 5.. are words)."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.zeros(batch, TOKENS, dtype=torch.long)
    for row, n in enumerate(lengths[:batch]):
        ids[row, :n] = torch.randint(5, VOCAB, (n,), generator=g)
        ids[row, 0], ids[row, n - 1] = 2, 3
    return ids


def test_text_backbones_are_registered_for_text_with_their_settings():
    assert [entry.name for entry in TEXT_BACKBONES] == list(NAMES)
    for name in NAMES:
        spec = BACKBONES.get(name)
        assert spec.modalities == ("text",) and spec.uses_info and len(spec.description) > 60
    assert BACKBONES.get("text_transformer").params.defaults() == {
        "layers": 2,
        "width": 64,
        "heads": 4,
        "positions": "learned",
        "dropout": 0.1,
    }
    assert BACKBONES.get("text_gru").params.names() == ["layers", "width", "dropout"]
    assert BACKBONES.get("word2vec").params.defaults() == {"dim": 64}
    with pytest.raises(UserError, match="multiple of its heads") as err:
        build("text_transformer", width=30, heads=4)
    assert err.value.field == "method.backbone_params.heads"
    with pytest.raises(UserError, match="no text settings"):
        build_backbone("text_gru", 1, 64, modality="text", info=DataInfo("x", "x", 1, 1, 0, 0, False))
    with pytest.raises(UserError, match="works on text data, not image"):
        build_backbone("text_gru", 1, 64, modality="image")


@pytest.mark.parametrize("name", NAMES)
def test_shapes_attributes_and_gradients(name):
    enc = build(name, **SMALL[name])
    ids = token_ids()
    states = enc.forward_sequence(ids)
    features = enc(ids)
    assert states.shape == (4, TOKENS, 32) and features.shape == (4, 32) == (4, enc.feature_dim)
    assert enc.sequence_dim == 32 and enc.downsample == 1 and enc.causal == (name in CAUSAL)
    assert enc.vocab_size == VOCAB and enc.embedding is enc.net.embedding
    assert tuple(enc.embedding.weight.shape) == (VOCAB, 32)
    assert torch.isfinite(features).all()
    features.pow(2).sum().backward()
    grads = [p.grad for p in enc.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)
    assert enc.embedding.weight.grad[ids[0, 1]].abs().sum() > 0  # a used word's vector learns
    assert enc.embedding.weight.grad[PAD_ID].abs().sum() == 0  # PAD's row stays zero


def test_the_encoder_passes_ids_through_and_refuses_floats():
    enc = build("word2vec", dim=32)
    ids = token_ids()
    assert torch.equal(enc(ids), mean_of_tokens(enc.net.embedding(ids), ids))
    with pytest.raises(UserError, match=r"token ids of shape \(B, L\)"):
        enc(ids.float())
    with pytest.raises(UserError, match="token ids"):
        enc(ids.unsqueeze(1))


@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("name", CAUSAL)
def test_causal_networks_do_not_look_ahead(name, training):
    enc = build(name, **SMALL[name], dropout=0.0).train(training)
    ids = token_ids(batch=1, lengths=(16,))
    later = ids.clone()
    later[0, 9:15] = torch.randint(5, VOCAB, (6,), generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        a, b = enc.forward_sequence(ids), enc.forward_sequence(later)
    assert torch.allclose(a[:, :9], b[:, :9], atol=1e-5)
    assert not torch.allclose(a[:, 9:], b[:, 9:], atol=1e-3)


def test_the_encoder_looks_both_ways():
    enc = build("text_transformer", **SMALL["text_transformer"]).eval()
    ids = token_ids(batch=1, lengths=(16,))
    later = ids.clone()
    later[0, 12] = 7 if int(ids[0, 12]) != 7 else 8
    with torch.no_grad():
        assert not torch.allclose(enc.forward_sequence(ids)[:, 1], enc.forward_sequence(later)[:, 1])


@pytest.mark.parametrize("name", NAMES)
def test_padding_changes_nothing(name):
    """A sentence's features do not depend on how much padding follows it (mean over non-PAD tokens, PAD
    masked out of attention)."""
    enc = build(name, **SMALL[name]).eval()
    ids = token_ids()
    with torch.no_grad():
        full = enc(ids)
        short = enc(ids[:, :9])  # rows 1-3 end by token 9; row 0 changes
        alone = enc(ids[2:3])
        blank = enc(torch.zeros(2, TOKENS, dtype=torch.long))
    assert torch.allclose(full[1:], short[1:], atol=1e-5)
    assert torch.allclose(full[2:3], alone, atol=1e-5)
    assert torch.isfinite(blank).all()


def test_learned_positions_refuse_longer_input_and_settings_round_trip():
    enc = build("text_transformer", **SMALL["text_transformer"])
    with pytest.raises(ValueError, match="at most 16 tokens"):
        enc(torch.ones(2, TOKENS + 1, dtype=torch.long))
    again = build("text_transformer", **SMALL["text_transformer"])
    again.load_state_dict(enc.state_dict())
    ids = token_ids()
    enc.eval(), again.eval()
    with torch.no_grad():
        assert torch.equal(enc(ids), again(ids))
