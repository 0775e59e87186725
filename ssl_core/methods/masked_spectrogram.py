"""Masked spectrogram modelling: hide patches of each clip's log-mel spectrogram and rebuild them."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ssl_core.data.base import DataInfo
from ssl_core.methods import _audio
from ssl_core.methods.base import MethodSpec, Preview, SSLMethod, StepContext, StepOutput
from ssl_core.models.decoders import eval_mode
from ssl_core.models.mel_cnn import MelCNN, SpectrogramDecoder, mel_front
from ssl_core.params import Param, params

_TITLE = "Masked spectrogram modelling"
ANOMALY_SEED, ANOMALY_PASSES = 20220216, 4  # fixed masks for anomaly scores (SSAST's arXiv date)


class MaskedSpectrogram(SSLMethod):
    """The mel CNN's front end makes the log-mel spectrogram (B, C, M, F); a random `mask_ratio` of its
    patches (`patch_mels` x `patch_frames`) are set to the clip's mean level; the CNN's feature maps of
    the masked spectrogram go through a SpectrogramDecoder, scored by the mean squared error on the hidden
    cells only. Targets are each clip's log-mel standardised by its own mean and spread (as MAE's
    normalised-pixel targets), so quiet and loud clips weigh the same. The representation is the
    backbone's pooled features (`encode`)."""

    def __init__(self, backbone: nn.Module, hparams: dict[str, Any], info: DataInfo):
        super().__init__(backbone, hparams, info)
        front = mel_front(backbone, _TITLE)
        self.decoder = SpectrogramDecoder(
            front.map_channels, info.channels, front.n_mels, front.frames, int(hparams["decoder_width"])
        )
        self.patch = (int(hparams["patch_mels"]), int(hparams["patch_frames"]))

    @property
    def front(self) -> MelCNN:
        """The backbone's MelCNN (not a second submodule: its weights are saved once, under backbone)."""
        return mel_front(self.backbone, _TITLE)

    def masked(self, x: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        """(log-mel, standardised target, mask (B, 1, M, F) True where hidden, masked log-mel) of waveforms."""
        spec = self.front.spectrogram(x)
        mean, std = _audio.clip_stats(spec)
        b, _, m, f = spec.shape
        mask = _audio.patch_mask(b, m, f, self.patch, float(self.hparams["mask_ratio"]), generator)
        mask = mask.to(spec.device)
        hidden = torch.where(mask, mean.to(spec.dtype), spec)
        return spec, (spec - mean) / std, mask, hidden

    def predict(self, hidden: torch.Tensor) -> torch.Tensor:
        """The standardised spectrogram rebuilt from a masked log-mel (B, C, M, F)."""
        return self.decoder(self.front.feature_maps(hidden)).float()

    def training_step(self, images: torch.Tensor, ctx: StepContext) -> StepOutput:
        _, target, mask, hidden = self.masked(images, ctx.generator)
        loss = masked_mse(self.predict(hidden), target, mask)
        return StepOutput(loss)

    @torch.no_grad()
    def anomaly_scores(self, images: torch.Tensor) -> torch.Tensor:
        """Mean squared error on the hidden cells (B,), in each clip's standardised log-mel, averaged over
        a few fixed masks shared by every clip, so a clip's score depends neither on the call nor on the
        batch it is scored in: high for clips whose hidden parts the model cannot guess."""
        generator = torch.Generator().manual_seed(ANOMALY_SEED)
        with eval_mode(self):
            spec = self.front.spectrogram(images)
            mean, std = _audio.clip_stats(spec)
            target = (spec - mean) / std
            b, _, m, f = spec.shape
            total = torch.zeros(b, device=spec.device)
            for _ in range(ANOMALY_PASSES):
                mask = _audio.patch_mask(1, m, f, self.patch, float(self.hparams["mask_ratio"]), generator)
                mask = mask.to(spec.device).expand(b, -1, -1, -1)
                guess = self.predict(torch.where(mask, mean.to(spec.dtype), spec))
                weight = mask.expand_as(target).float()
                total += ((guess - target).pow(2) * weight).flatten(1).sum(1) / weight.flatten(1).sum(1)
        return total / ANOMALY_PASSES

    @torch.no_grad()
    def preview(self, images: torch.Tensor, generator: torch.Generator) -> Preview:
        """The clip, its log-mel, the masked log-mel and the rebuilt one (hidden patches filled with the
        model's guess), all in log-mel units."""
        with eval_mode(self):
            spec, _, mask, hidden = self.masked(images, generator)
            mean, std = _audio.clip_stats(spec)
            guess = self.predict(hidden) * std + mean
        rebuilt = torch.where(mask, guess, spec)
        arrays = {
            "input": _audio.waveform(images),
            "spectrogram input": _audio.spectrogram(spec),
            "spectrogram masked": _audio.spectrogram(hidden),
            "spectrogram reconstruction": _audio.spectrogram(rebuilt),
        }
        return self.make_preview("reconstruction", arrays)


def masked_mse(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the hidden cells (mask True, broadcast over channels) only."""
    weight = mask.expand_as(target).float()
    return ((prediction - target).pow(2) * weight).sum() / weight.sum().clamp_min(1.0)


SPEC = MethodSpec(
    name="masked_spectrogram",
    title=_TITLE,
    family="generative",
    summary="Hide patches of each clip's spectrogram and rebuild them from the rest.",
    description=(
        "A spectrogram is a picture of a sound: time runs left to right, pitch bottom to top, and brightness "
        "shows how loud each pitch is at each moment. This method covers up about half of each clip's "
        "spectrogram in small rectangles and asks the network to paint the hidden parts back from what is "
        "still visible. To guess a covered note it must know how sounds carry on: that a tone holds its "
        "pitch, that a drum hit fades, that a voice's harmonics move together. That knowledge ends up in the "
        "backbone's features. The preview shows each clip's spectrogram, the covered version and the "
        "network's repair; the loss counts only the covered parts."
    ),
    params=params(
        Param(
            "mask_ratio",
            0.5,
            "Share of each spectrogram's patches hidden. Transformers on spectrograms hide 75% or more "
            "(MAE-AST, SSAST), because they drop hidden patches and attend across the rest; a small CNN sees "
            "every cell and learns more from half hidden, with enough left to guess from.",
            low=0.05,
            high=0.95,
            label="Share hidden",
        ),
        Param(
            "patch_mels",
            8,
            "Height of each hidden patch in mel bands (of 64 by default): wide enough that a note's band "
            "cannot be read off its immediate neighbours.",
            low=1,
            high=128,
            label="Patch height (mel bands)",
        ),
        Param(
            "patch_frames",
            8,
            "Width of each hidden patch in spectrogram frames (10 ms each by default, so 80 ms): about a "
            "syllable's consonant or a drum hit's attack.",
            low=1,
            high=200,
            label="Patch width (frames)",
        ),
        Param(
            "decoder_width",
            32,
            "Channels of the decoder's last stage (earlier stages have twice as many). The decoder is "
            "discarded after training.",
            low=8,
            high=512,
            label="Decoder width",
        ),
    ),
    factory=MaskedSpectrogram,
    optim=_audio.AUDIO_OPTIM,
    preview_kind="reconstruction",
    paper=(
        "Gong et al., SSAST: Self-Supervised Audio Spectrogram Transformer, AAAI 2022; Baade et al., MAE-AST: "
        "Masked Autoencoding Audio Spectrogram Transformer, Interspeech 2022"
    ),
    modalities=("audio",),
    preferred_backbone={"audio": "mel_cnn"},
    backbone_requirement=_audio.mel_cnn_requirement(_TITLE),
)
MaskedSpectrogram.spec = SPEC
