"""Text: each sample is stored as its UTF-8 bytes, zero-padded to (max_bytes,) uint8.

The text sources write the settings to `DataInfo.extra["text"]` (unit, tokenizer kind, vocab_size,
max_tokens, ...). Tokenisation happens in the input adapter (`TextAdapter`): built on the training split
(a tokenizer trained on its texts, and the TF-IDF map of the raw-input baseline), it turns stored bytes into
int64 token ids (B, max_tokens) = [CLS] tokens [SEP] then PAD (0), remembering each distinct row so later
epochs do not tokenise again. Both fitted parts live in the adapter's extra state, so every checkpoint
carries them and a reopened run tokenises exactly as before. Views work on ids (augment/text.py); the
networks take ids (models/text.py); previews are "token_text": the arrays are ids (as float32, exact), and
`describe_preview` adds readable rows to `Preview.meta["text_rows"]`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ssl_core.data.base import DataInfo, DataSource
from ssl_core.errors import UserError
from ssl_core.modalities.base import Modality, PreviewPayload, ReconstructionHead
from ssl_core.modalities.text_tfidf import TfidfFeatures

# The adapter remembers the ids of at most this many bytes of distinct rows (keys and ids together).
MEMO_BUDGET_BYTES = 256 * 1024 * 1024
_STATE_FORMAT = 1
_UNITS = {"line": "line", "paragraph": "paragraph", "file": "file", "row": "row", "quote": "quote"}


def text_settings(info: DataInfo) -> dict:
    """`info.extra["text"]` (the text sources write it), checked for what tokenising needs."""
    settings = dict((info.extra or {}).get("text") or {})
    missing = [key for key in ("tokenizer", "vocab_size", "max_tokens") if key not in settings]
    if missing:
        raise UserError(
            f"{info.name}: the text settings lack {', '.join(missing)}; open the data again as text.",
            field="data.spec",
        )
    return settings


def _decode_rows(rows: np.ndarray) -> list[str]:
    from ssl_core.data.text_bytes import bytes_to_texts

    return bytes_to_texts(rows)


class TextAdapter(nn.Module):
    """Stored UTF-8 bytes (B, max_bytes) uint8 -> token ids (B, max_tokens) int64 on the batch's device.

    Holds the tokenizer trained on the training split and the TF-IDF map of the raw-input baseline; both
    travel in `get_extra_state`, so `load_state_dict` restores them exactly. Encodings are memoised per
    distinct row (up to MEMO_BUDGET_BYTES), so a training run tokenises each text once.
    """

    def __init__(self, tokenizer, settings: dict, tfidf: TfidfFeatures | None = None):
        super().__init__()
        self.tokenizer = tokenizer
        self.settings = dict(settings)
        self.max_tokens = int(settings["max_tokens"])
        self.vocab_size = int(settings["vocab_size"])  # configured: the rows of every embedding table
        if tokenizer.vocab_size > self.vocab_size:
            raise UserError(
                f"The tokenizer has {tokenizer.vocab_size} tokens but data.vocab_size is {self.vocab_size}; "
                "set data.vocab_size to at least the tokenizer's size.",
                field="data.vocab_size",
            )
        self.tfidf = tfidf if tfidf is not None else TfidfFeatures({}, [])
        self._memo: dict[bytes, np.ndarray] = {}
        self._memo_bytes = 0

    # ---- encoding ----------------------------------------------------------------------------------
    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """int64 (n, max_tokens) ids of the texts, on the CPU (not memoised: any text, e.g. typed)."""
        return self.tokenizer.encode_batch(list(texts), self.max_tokens)

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        if batch.dim() != 2 or batch.dtype != torch.uint8:
            raise ValueError(
                f"TextAdapter expects stored bytes (B, max_bytes) uint8; got {batch.dtype} "
                f"{tuple(batch.shape)}"
            )
        rows = batch.detach().cpu().numpy()
        keys = [row.tobytes() for row in rows]
        misses = list(dict.fromkeys(k for k in keys if k not in self._memo))
        found: dict[bytes, np.ndarray] = {}
        if misses:
            texts = _decode_rows(np.frombuffer(b"".join(misses), np.uint8).reshape(len(misses), -1))
            encoded = self.encode_texts(texts).numpy()
            dtype = np.int16 if self.vocab_size <= np.iinfo(np.int16).max else np.int32
            for key, ids in zip(misses, encoded, strict=True):
                found[key] = ids.astype(dtype)
                self._remember(key, found[key])
        out = (
            np.stack([self._memo.get(k, found.get(k)) for k in keys])
            if keys
            else np.zeros((0, self.max_tokens))
        )
        return torch.from_numpy(out.astype(np.int64)).to(batch.device)

    def _remember(self, key: bytes, ids: np.ndarray) -> None:
        cost = len(key) + ids.nbytes + 100  # the dict entry's own overhead, roughly
        if self._memo_bytes + cost <= MEMO_BUDGET_BYTES:
            self._memo[key] = ids
            self._memo_bytes += cost

    def forget(self) -> None:
        """Drop the memoised encodings (after the tokenizer changed)."""
        self._memo.clear()
        self._memo_bytes = 0

    # ---- reading ids back --------------------------------------------------------------------------
    def decode(self, ids_row) -> str:
        """The text of one row of ids ([MASK] shown; PAD, [CLS], [SEP] left out)."""
        return self.tokenizer.decode(_int_ids(ids_row))

    def token_strings(self, ids_row) -> list[str]:
        return self.tokenizer.token_strings(_int_ids(ids_row))

    def tfidf_features(self, texts: Sequence[str]) -> np.ndarray:
        """(n, F) float32 TF-IDF of the texts, with the map fitted on the training split."""
        return self.tfidf.transform(texts)

    # ---- state -------------------------------------------------------------------------------------
    def get_extra_state(self) -> dict:
        return {
            "format": _STATE_FORMAT,
            "tokenizer": self.tokenizer.to_json(),
            "settings": dict(self.settings),
            "tfidf": self.tfidf.to_dict(),
        }

    def set_extra_state(self, state: dict) -> None:
        from ssl_core.data.tokenizer import TextTokenizer

        if not isinstance(state, dict) or state.get("format") != _STATE_FORMAT:
            raise ValueError("this checkpoint's text adapter state is in an unknown format")
        self.tokenizer = TextTokenizer.from_json(state["tokenizer"])
        self.settings = dict(state["settings"])
        self.max_tokens = int(self.settings["max_tokens"])
        self.vocab_size = int(self.settings["vocab_size"])
        self.tfidf = TfidfFeatures.from_dict(state["tfidf"])
        self.forget()

    def extra_repr(self) -> str:
        return (
            f"tokenizer={self.tokenizer.kind}, vocab_size={self.vocab_size}, max_tokens={self.max_tokens}, "
            f"tfidf_words={self.tfidf.size}"
        )


def _int_ids(ids_row) -> list[int]:
    if isinstance(ids_row, torch.Tensor):
        return [int(round(v)) for v in ids_row.detach().reshape(-1).cpu().tolist()]
    return [int(round(float(v))) for v in np.asarray(ids_row).reshape(-1)]


def text_adapter(adapter: object) -> TextAdapter | None:
    """The TextAdapter behind `adapter`: itself, a method's `input_adapter`, or the adapter of a method
    whose bound `prepare` was passed."""
    if isinstance(adapter, TextAdapter):
        return adapter
    found = getattr(adapter, "input_adapter", None)
    if isinstance(found, TextAdapter):
        return found
    found = getattr(getattr(adapter, "__self__", None), "input_adapter", None)
    return found if isinstance(found, TextAdapter) else None


def training_texts(source: DataSource, train_idx: torch.Tensor) -> list[str]:
    """The training split's texts: exact strings from a text source, else the stored bytes decoded."""
    reader = getattr(source, "texts", None)
    if callable(reader):
        return list(reader(train_idx.tolist()))
    stored, _ = source.read(train_idx)
    return _decode_rows(stored.cpu().numpy())


class TextModality(Modality):
    name = "text"
    title = "Text"
    noun = "text"
    plural = "texts"
    default_backbone = "text_transformer"
    preview_payload = PreviewPayload.TOKEN_TEXT
    raw_title = "TF-IDF"
    size_setting = "data.length"

    def describe(self, info: DataInfo) -> str:
        settings = (info.extra or {}).get("text") or {}
        unit = _UNITS.get(str(settings.get("unit", "")), "text")
        parts = [f"one {unit} per sample" if unit != "text" else "texts"]
        if "max_tokens" in settings:
            parts.append(f"up to {int(settings['max_tokens'])} tokens")
        if "tokenizer" in settings and "vocab_size" in settings:
            parts.append(f"{settings['tokenizer']} vocabulary of {int(settings['vocab_size']):,}")
        return ", ".join(parts)

    def sample_dims(self) -> int:
        return 1

    def input_adapter(self, source: DataSource, train_idx: torch.Tensor, seed: int) -> nn.Module:
        from ssl_core.data.tokenizer import TextTokenizer

        settings = text_settings(source.info)
        texts = training_texts(source, train_idx)
        tokenizer = TextTokenizer.train(
            texts, str(settings["tokenizer"]), int(settings["vocab_size"]), where=source.info.spec
        )
        tfidf = TfidfFeatures.fit(texts, samples=len(source))
        return TextAdapter(tokenizer, settings, tfidf)

    def encoder_stats(self, source, train_idx, seed, adapter):
        return [0.0], [1.0]  # ids are not normalised (the Encoder passes them through)

    def view_pair(self, preset: str, info: DataInfo):
        from ssl_core.augment.text import text_view_pair

        return text_view_pair(preset)

    def reconstruction_head(
        self, feature_dim, info, backbone, width, loss: str = "mse"
    ) -> ReconstructionHead:
        from ssl_core.methods import METHODS

        fitting = [name for name, spec in METHODS.items() if self.name in spec.modalities]
        raise UserError(
            "Texts cannot be rebuilt from a feature vector (there is no text decoder); use a method made for "
            f"text: {', '.join(fitting)}.",
            field="method.name",
        )

    def raw_features(self, batch: torch.Tensor, adapter: nn.Module) -> np.ndarray:
        found = text_adapter(adapter)
        if found is None:
            raise ValueError("the TF-IDF baseline needs the run's TextAdapter (the method or its prepare)")
        return found.tfidf_features(_decode_rows(batch.detach().cpu().numpy()))

    def describe_preview(self, preview, adapter):
        """Readable rows for a "views" preview: the original and each view, decoded ([MASK] shown)."""
        found = text_adapter(adapter)
        if preview.kind != "views" or found is None or "text_rows" in preview.meta:
            return preview
        names = list(preview.images)
        count = min((len(v) for v in preview.images.values()), default=0)
        rows = [
            {"kind": "views", "texts": {name: found.decode(preview.images[name][i]) for name in names}}
            for i in range(count)
        ]
        return dataclasses.replace(preview, meta={**preview.meta, "text_rows": rows})
