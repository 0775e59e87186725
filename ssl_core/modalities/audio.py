"""Audio: float32 (C, T) waveforms in [-1, 1] at the run's sample rate, waveform views, log-mel baselines.

The audio sources write the settings to `DataInfo.extra["audio"]` (sample_rate, clip_seconds, n_mels,
win_ms, hop_ms, ...; see `ssl_core/data/audio_info.py`). The input adapter (`AudioAdapter`) passes the
waveform through as float32 and holds those settings (also in its extra state, so every checkpoint
records the sample rate and log-mel settings it was trained with); the log-mel baseline reads them from
it. Views are waveform ops (`augment/audio.py`); SpecAugment masking belongs to the log-mel backbone's
front end. Previews are "audio": (n, C, T) waveforms, or (n, C, M, F) log-mel spectrograms under names
starting with "spec", with the sample rate and spectrogram settings in `Preview.meta`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ssl_core.data.audio_info import audio_settings
from ssl_core.data.base import DataInfo, DataSource
from ssl_core.errors import UserError
from ssl_core.modalities.base import Modality, PreviewPayload, ReconstructionHead
from ssl_core.wording import spoken_list

# MFCCs in the raw-input baseline (c0 .. c19, the usual speech front end's count).
RAW_N_MFCC = 20
# The baseline computes log-mel spectrograms this many clips at a time (bounded memory on any device).
RAW_CHUNK = 256
# Methods made for audio that rebuild or generate sound (named where a generic decoder is refused).
AUDIO_GENERATIVE_METHODS = ("spectrogram_denoising", "masked_spectrogram", "wavegan")
_STATE_FORMAT = 1


class AudioAdapter(nn.Module):
    """Stored waveforms (B, C, T) -> float32 model input, unchanged in value (already in [-1, 1]).

    Nothing is learned; the module holds the run's audio settings (sample rate, log-mel window, hop and
    bands) in its extra state, so the log-mel baseline and any later reader use the settings the run was
    trained with, and every modality's checkpoint has an input adapter.
    """

    def __init__(self, settings: dict):
        super().__init__()
        self.settings = dict(settings)
        self._mels: dict = {}

    @property
    def sample_rate(self) -> int:
        return int(self.settings["sample_rate"])

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        if batch.dim() != 3:
            raise ValueError(
                f"AudioAdapter expects stored waveforms (B, C, T); got shape {tuple(batch.shape)}"
            )
        return batch.float()

    def log_mel(self, device: torch.device | str = "cpu"):
        """The LogMel front end for these settings on `device` (built once per device)."""
        from ssl_core.models.logmel import LogMel

        key = str(torch.device(device))
        if key not in self._mels:
            s = self.settings
            self._mels[key] = LogMel(s["sample_rate"], s["n_mels"], s["win_ms"], s["hop_ms"]).to(device)
        return self._mels[key]

    def get_extra_state(self) -> dict:
        return {"format": _STATE_FORMAT, "settings": dict(self.settings)}

    def set_extra_state(self, state: dict) -> None:
        if not isinstance(state, dict) or state.get("format") != _STATE_FORMAT:
            raise ValueError("this checkpoint's audio adapter state is in an unknown format")
        self.settings = dict(state["settings"])
        self._mels = {}

    def extra_repr(self) -> str:
        s = self.settings
        return f"sample_rate={s['sample_rate']}, n_mels={s['n_mels']}, win_ms={s['win_ms']}, hop_ms={s['hop_ms']}"


def audio_adapter(adapter: object) -> AudioAdapter | None:
    """The AudioAdapter behind `adapter`: itself, a method's `input_adapter`, or the adapter of a method
    whose bound `prepare` was passed."""
    if isinstance(adapter, AudioAdapter):
        return adapter
    found = getattr(adapter, "input_adapter", None)
    if isinstance(found, AudioAdapter):
        return found
    found = getattr(getattr(adapter, "__self__", None), "input_adapter", None)
    return found if isinstance(found, AudioAdapter) else None


def log_mel_statistics(waves: torch.Tensor, adapter: AudioAdapter, n_mfcc: int = RAW_N_MFCC) -> np.ndarray:
    """(n, C * (2 * n_mels + 2 * min(n_mfcc, n_mels))) float32: per channel, each log-mel band's mean and std
    over the clip's frames, then each MFCC's mean and std (the practitioner's clip-level baseline)."""
    from ssl_core.models.logmel import mfcc

    n = waves.shape[0]
    parts = []
    with torch.no_grad():
        for s in range(0, n, RAW_CHUNK):
            chunk = waves[s : s + RAW_CHUNK].float()
            spec = adapter.log_mel(chunk.device)(chunk)  # (b, C, M, F)
            ceps = mfcc(spec, n_mfcc)
            stats = [spec.mean(-1), spec.std(-1, unbiased=False), ceps.mean(-1), ceps.std(-1, unbiased=False)]
            parts.append(torch.cat(stats, dim=2).flatten(1).cpu())
    if not parts:
        bands = int(adapter.settings["n_mels"])
        return np.zeros((0, waves.shape[1] * 2 * (bands + min(n_mfcc, bands))), dtype=np.float32)
    return np.ascontiguousarray(torch.cat(parts).numpy(), dtype=np.float32)


def _format_seconds(seconds: float) -> str:
    text = f"{seconds:g}"
    return text if ("." in text or "e" in text) else f"{text}.0"


def _format_rate(rate: int) -> str:
    return f"{rate / 1000:g} kHz" if rate >= 1000 else f"{rate} Hz"


class AudioModality(Modality):
    name = "audio"
    title = "Audio"
    noun = "clip"
    plural = "clips"
    default_backbone = "mel_cnn"
    preview_payload = PreviewPayload.AUDIO
    raw_title = "log-mel statistics"
    size_setting = "data.clip_seconds"
    hidden_shown_as = 0.0  # silence

    def describe(self, info: DataInfo) -> str:
        channels = int(info.sample_shape[0])
        s = audio_settings(info)
        return (
            f"{channels} channel{'s' if channels != 1 else ''} x {_format_seconds(s['clip_seconds'])} s at "
            f"{_format_rate(s['sample_rate'])} clips"
        )

    def sample_dims(self) -> int:
        return 2

    def input_adapter(self, source: DataSource, train_idx: torch.Tensor, seed: int) -> nn.Module:
        return AudioAdapter(audio_settings(source.info))

    def encoder_stats(self, source, train_idx, seed, adapter):
        channels = int(source.info.sample_shape[0])
        return [0.0] * channels, [1.0] * channels  # waveforms in [-1, 1] go in as they are

    def view_pair(self, preset: str, info: DataInfo):
        from ssl_core.augment.audio import audio_view_pair

        channels, length = info.sample_shape
        return audio_view_pair(preset, channels, audio_settings(info)["sample_rate"], length)

    def reconstruction_head(
        self, feature_dim, info, backbone, width, loss: str = "mse"
    ) -> ReconstructionHead:
        raise UserError(
            "Clips are not rebuilt from a feature vector by the generic decoder; use a method made for audio: "
            f"{spoken_list(AUDIO_GENERATIVE_METHODS)}.",
            field="method.name",
        )

    def raw_features(self, batch: torch.Tensor, adapter: nn.Module) -> np.ndarray:
        found = audio_adapter(adapter)
        if found is None:
            raise ValueError("the log-mel baseline needs the run's AudioAdapter (the method or its prepare)")
        return log_mel_statistics(found(batch), found)

    def finish_preview(self, x: torch.Tensor) -> torch.Tensor:
        """Waveforms (n, C, T) clamped to [-1, 1] for display and playback; log-mel arrays (n, C, M, F),
        named "spec...", pass through."""
        out = x.detach().float().cpu()
        return out.clamp(-1.0, 1.0) if out.dim() == 3 else out

    def preview_meta(self, info: DataInfo) -> dict:
        s = audio_settings(info)
        return {
            "sample_rate": s["sample_rate"],
            "spectrogram": {"n_mels": s["n_mels"], "win_ms": s["win_ms"], "hop_ms": s["hop_ms"]},
        }
