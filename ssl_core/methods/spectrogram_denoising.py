"""Spectrogram denoising autoencoder: hear a clip through added noise and rebuild its clean log-mel
spectrogram; the rebuilding error of a clean clip is its anomaly score."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ssl_core.data.base import DataInfo
from ssl_core.methods import _audio
from ssl_core.methods.base import MethodSpec, Preview, SSLMethod, StepContext, StepOutput
from ssl_core.methods.setup_check import SetupFacts, SetupProblem, raise_first
from ssl_core.models.decoders import eval_mode
from ssl_core.models.mel_cnn import MelCNN, SpectrogramDecoder, mel_front
from ssl_core.params import Param, params

_TITLE = "Spectrogram denoising autoencoder"


def snr_problems(hparams: dict[str, Any], facts: SetupFacts) -> list[SetupProblem]:
    """The lowest signal-to-noise ratio may not be above the highest."""
    lo, hi = float(hparams["snr_low"]), float(hparams["snr_high"])
    if lo <= hi:
        return []
    return [
        SetupProblem(
            "snr_low",
            f"The lowest signal-to-noise ratio ({lo:g} dB) is above the highest ({hi:g} dB); set it lower.",
        )
    ]


class SpectrogramDenoising(SSLMethod):
    """Noise goes into the waveform (white Gaussian noise at a signal-to-noise ratio drawn per clip from
    [snr_low, snr_high] dB), the mel CNN reads the noisy clip's log-mel, and a SpectrogramDecoder rebuilds
    the clean clip's log-mel from the CNN's feature maps, scored by mean squared error in log-mel units
    (natural log of power; 1 unit is about 4.3 dB).

    Why the waveform and not the spectrogram: background noise adds to the sound wave, so in a log-mel
    picture it fills the quiet cells and barely touches the loud ones. Undoing that asks the network what a
    clean sound of this kind looks like under the noise, the knowledge a representation should hold; noise
    sprinkled on the spectrogram's pixels would be undone by smoothing alone. Targets stay in absolute
    log-mel units (not each clip's own standardisation), because the clean clip's level cannot be read
    from the noisy one, and because a clip much louder or quieter than the training data is itself unusual.

    Anomaly scores: the mean squared error over (C, M, F) of rebuilding a clean clip (no noise added), like
    the image and series autoencoders' scores: high for clips unlike the training data.
    """

    def __init__(self, backbone: nn.Module, hparams: dict[str, Any], info: DataInfo):
        raise_first(snr_problems(hparams, SetupFacts(info)), "spectrogram_denoising")
        super().__init__(backbone, hparams, info)
        front = mel_front(backbone, _TITLE)
        self.decoder = SpectrogramDecoder(
            front.map_channels, info.channels, front.n_mels, front.frames, int(hparams["decoder_width"])
        )

    @property
    def front(self) -> MelCNN:
        return mel_front(self.backbone, _TITLE)

    @property
    def snr_db(self) -> tuple[float, float]:
        return float(self.hparams["snr_low"]), float(self.hparams["snr_high"])

    def rebuild(self, wave: torch.Tensor) -> torch.Tensor:
        """The clean log-mel (B, C, M, F) as the network rebuilds it from a (noisy or clean) waveform: the
        decoder predicts each band in the units of the backbone's per-band normalisation, scaled back with
        its running statistics, so it starts near the data's typical levels rather than at 0."""
        front = self.front
        mean, std = front.band_stats()
        return self.decoder(front.feature_maps(front.spectrogram(wave))).float() * std + mean

    def training_step(self, images: torch.Tensor, ctx: StepContext) -> StepOutput:
        noisy, _ = _audio.add_noise(images, self.snr_db, ctx.generator)
        with torch.no_grad():
            target = self.front.spectrogram(images)
        return StepOutput((self.rebuild(noisy) - target).pow(2).mean())

    @torch.no_grad()
    def anomaly_scores(self, images: torch.Tensor) -> torch.Tensor:
        """Per-clip mean squared log-mel error of rebuilding the clean clip (B,): high for unusual clips."""
        with eval_mode(self):
            target = self.front.spectrogram(images)
            return (self.rebuild(images) - target).pow(2).flatten(1).mean(dim=1)

    @torch.no_grad()
    def preview(self, images: torch.Tensor, generator: torch.Generator) -> Preview:
        """The clip, the noisy clip the network hears (both playable, with their spectrograms) and the clean
        spectrogram it rebuilds (a spectrogram has no phase, so the rebuild is shown, not played)."""
        noisy, snr = _audio.add_noise(images, self.snr_db, generator)
        with eval_mode(self):
            rebuilt = self.rebuild(noisy)
        arrays = {
            "input": _audio.waveform(images),
            "noisy": _audio.waveform(noisy),
            "spectrogram reconstruction": _audio.spectrogram(rebuilt),
        }
        return self.make_preview("reconstruction", arrays, noisy=[f"{v:.0f} dB SNR" for v in snr.tolist()])


SPEC = MethodSpec(
    name="spectrogram_denoising",
    title=_TITLE,
    family="generative",
    summary="Hear each clip through added noise and rebuild its clean spectrogram.",
    description=(
        "Each clip is played through a burst of hiss: random noise is mixed into the sound, sometimes "
        "faint, sometimes almost as loud as the clip itself. The network hears the noisy clip and has to "
        "draw the clean clip's spectrogram (a picture of which pitches sound when). To take the hiss out "
        "it must know what the sounds in your data look like underneath, such as the steady bands of a "
        "tone or the pattern of a spoken word, and that knowledge becomes the backbone's features. "
        "After training, a clip it rebuilds badly is unlike anything it trained on, so its error is an "
        "anomaly score. The preview plays the clean and the noisy clip and shows the network's repair."
    ),
    params=params(
        Param(
            "snr_low",
            0.0,
            "Lowest signal-to-noise ratio of the added noise, in decibels: at 0 dB the noise is as loud as "
            "the clip (speech-enhancement training sets span about -5 to 20 dB).",
            low=-20.0,
            high=60.0,
            label="Noisiest (dB SNR)",
        ),
        Param(
            "snr_high",
            20.0,
            "Highest signal-to-noise ratio, in decibels: at 20 dB the noise is a hundredth of the clip's "
            "power, faint but audible. Each clip's ratio is drawn evenly between the two.",
            low=-20.0,
            high=60.0,
            label="Cleanest (dB SNR)",
        ),
        Param(
            "decoder_width",
            32,
            "Channels of the decoder's last stage (earlier stages have twice as many). The decoder is "
            "discarded after training, except for anomaly scores.",
            low=8,
            high=512,
            label="Decoder width",
        ),
    ),
    factory=SpectrogramDenoising,
    setup_check=snr_problems,
    optim=_audio.AUDIO_OPTIM,
    preview_kind="reconstruction",
    paper=(
        "Vincent et al., Extracting and Composing Robust Features with Denoising Autoencoders, ICML 2008; "
        "Lu et al., Speech Enhancement Based on Deep Denoising Autoencoder, Interspeech 2013"
    ),
    modalities=("audio",),
    preferred_backbone={"audio": "mel_cnn"},
    backbone_requirement=_audio.mel_cnn_requirement(_TITLE),
)
SpectrogramDenoising.spec = SPEC
