"""A run's embeddings for the Embeddings tab, computed on a worker thread: every sample's features
(the saved ones when they match the checkpoint), PCA at once, UMAP on request, and a thumbnail painter
for the samples' own form (app/widgets/sample_thumbnails.py; an audio clip's spectrogram)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.widgets.sample_thumbnails import thumbnail_painter, thumbnail_size

MAX_POINTS = 20_000
NEIGHBOURS = 8
REFERENCE_SAMPLES = 256  # samples a sparkline painter takes its channel scales from


@dataclass
class EmbeddingResult:
    """A run's embeddings (every sample) plus 2-D projections of (a subsample of) them."""

    run_dir: Path
    key: str  # the checkpoint's digest: results of an older checkpoint are never mixed in
    embeddings: np.ndarray  # (N, D) float32, in source order
    labels: np.ndarray | None  # (N,)
    anomaly: np.ndarray | None  # (N,) reconstruction error for generative methods
    class_names: list[str]
    source: Any  # the DataSource, to read thumbnails
    painter: Any = None  # draws the source's samples (app/widgets/sample_thumbnails.py)
    noun: str = "sample"  # the data's words: "image", "series"
    plural: str = "samples"
    projections: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # kind -> (rows, xy)
    points: str = "samples"  # what the points are: the run's "samples", or the "words" of a text run
    _index: dict[str, Any] = field(default_factory=dict, repr=False)  # kind -> CosineIndex of its rows

    def class_text(self, y: int) -> str:
        return self.class_names[y] if 0 <= y < len(self.class_names) else str(y)

    def label_of(self, row: int) -> str:
        return self.class_text(int(self.labels[row])) if self.labels is not None else f"{self.noun} {row}"

    def neighbours(self, kind: str, i: int, k: int = NEIGHBOURS) -> np.ndarray:
        """Positions (within projection `kind`) of the k points most similar to point i, by cosine."""
        from ssl_core.eval.neighbors import CosineIndex

        if kind not in self._index:  # normalised once per projection, then every click is one product
            rows, _ = self.projections[kind]
            self._index[kind] = CosineIndex(self.embeddings[rows])
        positions, _ = self._index[kind].query(i, k)
        return positions

    def samples(self, rows: np.ndarray | list[int]) -> Any:
        """The samples of `rows` as the source stores them."""
        import torch

        rows = np.asarray(rows, dtype=np.int64)
        samples, _ = self.source.read(torch.as_tensor(rows, dtype=torch.long))
        return samples

    @property
    def is_text(self) -> bool:
        """Text samples: the hover shows the text itself, in words, rather than a picture of it."""
        info = getattr(self.source, "info", None)
        return getattr(info, "modality", None) == "text" and hasattr(self.source, "texts")

    @property
    def is_audio(self) -> bool:
        """Audio clips: a click on a point plays the clip."""
        return getattr(getattr(self.source, "info", None), "modality", None) == "audio"

    @property
    def sample_rate(self) -> int:
        """An audio run's sample rate (its DataInfo's extra["audio"]); 0 for other kinds of data."""
        extra = getattr(getattr(self.source, "info", None), "extra", None) or {}
        audio = extra.get("audio") if isinstance(extra.get("audio"), dict) else {}
        return int(audio.get("sample_rate") or 16000) if self.is_audio else 0

    def text_of(self, row: int) -> str | None:
        """A text sample's whole text (the thumbnail may cut it short); None for other kinds of data."""
        if not self.is_text:
            return None
        texts = self.source.texts
        found = texts([int(row)])
        return str(found[0]) if len(found) else ""

    def thumbnails(self, rows: np.ndarray | list[int], height: int) -> list[Any]:
        """QImages of the samples of `rows`, `height` pixels tall, in their own form."""
        if len(rows) == 0:
            return []
        width, height = thumbnail_size(self.painter, height)
        return self.painter.paint(self.samples(rows), width, height)


def make_painter(source: Any) -> Any:
    """The thumbnail painter of the source's modality, scaled by evenly spaced samples when it needs it."""
    import torch

    modality = source.info.modality
    reference = None
    if getattr(thumbnail_painter(modality), "needs_reference", False) and len(source):
        n = len(source)
        idx = np.unique(np.linspace(0, n - 1, num=min(REFERENCE_SAMPLES, n)).round().astype(np.int64))
        reference, _ = source.read(torch.as_tensor(idx, dtype=torch.long))
    return thumbnail_painter(modality, reference, info=source.info)


def _subsample(n: int, max_points: int) -> np.ndarray:
    if n <= max_points:
        return np.arange(n)
    return np.sort(np.random.default_rng(0).choice(n, size=max_points, replace=False))


def compute_embeddings(
    run_dir: Path, max_points: int = MAX_POINTS, progress=None, cancel=None
) -> EmbeddingResult:
    """Embeddings of every sample of a run (saved ones when they match the checkpoint) with PCA at once."""
    from ssl_core.config import RunConfig
    from ssl_core.eval import embed_run, file_digest, load_embedding, project_pca
    from ssl_core.modalities import modality_of
    from ssl_core.runs.store import RunPaths
    from ssl_core.train.builder import open_config_source

    paths = RunPaths(Path(run_dir))
    config = RunConfig.load(paths.config)
    key = file_digest(paths.checkpoint) if paths.checkpoint.is_file() else ""
    saved = load_embedding(run_dir)
    if saved is None or saved.checkpoint_key != key:
        saved = embed_run(run_dir, projection="none", progress=progress, cancel=cancel)
    # embed_run hands back the source it opened; saved embeddings need it opened once, for thumbnails
    source = saved.source or open_config_source(config)
    modality = modality_of(source.info)
    result = EmbeddingResult(
        run_dir=Path(run_dir),
        key=saved.checkpoint_key,
        embeddings=saved.embeddings,
        labels=saved.labels,
        anomaly=saved.anomaly,
        class_names=list(source.info.class_names),
        source=source,
        painter=make_painter(source),
        noun=modality.noun,
        plural=modality.plural,
    )
    rows = _subsample(len(saved.embeddings), max_points)
    result.projections["pca"] = (rows, project_pca(saved.embeddings[rows]))
    if saved.projection_kind == "umap" and saved.projection is not None and saved.indices is not None:
        result.projections["umap"] = (np.asarray(saved.indices), np.asarray(saved.projection))
    return result


def run_umap(
    run_dir: Path, source: Any = None, max_points: int = MAX_POINTS, progress=None, cancel=None
) -> tuple[np.ndarray, np.ndarray]:
    """UMAP of a run's embeddings (saved with the run, so reopening it shows the map at once)."""
    from ssl_core.eval import embed_run

    result = embed_run(
        run_dir, projection="umap", max_points=max_points, progress=progress, cancel=cancel, source=source
    )
    return np.asarray(result.indices), np.asarray(result.projection)


def _word_source(words: list[str]) -> Any:
    """The words as a small text source, so the hover, the neighbours and the thumbnails read them."""
    from ssl_core.data.base import DataInfo
    from ssl_core.data.text_bytes import texts_to_bytes
    from ssl_core.data.text_source import TextSource

    width = max(1, max(len(w.encode("utf-8")) for w in words))
    info = DataInfo(
        spec="words",
        name="words",
        size=len(words),
        channels=1,
        height=0,
        width=0,
        has_labels=False,
        modality="text",
        sample_shape=(width,),
        sample_dtype="uint8",
    )
    return TextSource(texts_to_bytes(words, width), None, info, list(words))


def compute_word_embeddings(run_dir: Path, progress=None, cancel=None) -> EmbeddingResult:
    """A text run's most frequent words as points (their word vectors), with PCA at once."""
    from ssl_core.eval import file_digest, project_pca
    from ssl_core.eval.word_map import word_map
    from ssl_core.runs.store import RunPaths

    paths = RunPaths(Path(run_dir))
    key = file_digest(paths.checkpoint) if paths.checkpoint.is_file() else ""
    found = word_map(run_dir)
    source = _word_source(found.words)
    result = EmbeddingResult(
        run_dir=Path(run_dir),
        key=key,
        embeddings=found.vectors,
        labels=None,
        anomaly=None,
        class_names=[],
        source=source,
        painter=make_painter(source),
        noun="word",
        plural="words",
        points="words",
    )
    rows = np.arange(len(found.vectors))
    result.projections["pca"] = (rows, project_pca(found.vectors))
    return result


def run_word_umap(embeddings: np.ndarray, progress=None, cancel=None) -> tuple[np.ndarray, np.ndarray]:
    """UMAP of a word map's vectors (a few thousand points at most: not saved with the run)."""
    from ssl_core.eval.projection import project_umap

    xy = project_umap(np.asarray(embeddings, dtype=np.float32), progress=progress, cancel=cancel)
    return np.arange(len(embeddings)), np.asarray(xy)
