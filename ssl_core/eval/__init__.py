"""Headless evaluation: frozen embeddings, linear probe, kNN, label efficiency, baselines, projections.

Everything here is a plain function or dataclass (no Qt, no threads). Long jobs take
`progress(fraction, message)` and a `cancel` object with `is_set()`, and raise `Cancelled`
(see ssl_core.progress).
"""

from ssl_core.eval.anomaly import anomaly_scores, has_anomaly_scores
from ssl_core.eval.embed import EmbedResult, embed_run, load_embedding
from ssl_core.eval.embeddings import (
    EmbeddingCache,
    Embeddings,
    encode_source,
    extract_embeddings,
    file_digest,
    raw_pixel_features,
)
from ssl_core.eval.evaluate import evaluate_run
from ssl_core.eval.knn import KNNResult, knn_classify, knn_predict
from ssl_core.eval.label_efficiency import label_efficiency, stratified_subsample
from ssl_core.eval.neighbors import CosineIndex, nearest_neighbors
from ssl_core.eval.previews import preview_images
from ssl_core.eval.probe import ProbeResult, choose_solver, linear_probe, standardise
from ssl_core.eval.projection import exact_knn, project_pca, project_umap, trustworthiness
from ssl_core.eval.report import EvalReport, FeatureEval, format_report, read_report
from ssl_core.progress import Cancelled, CancelToken, ProgressFn

__all__ = [
    "CancelToken",
    "Cancelled",
    "CosineIndex",
    "EmbedResult",
    "EmbeddingCache",
    "Embeddings",
    "EvalReport",
    "FeatureEval",
    "KNNResult",
    "ProbeResult",
    "ProgressFn",
    "anomaly_scores",
    "choose_solver",
    "embed_run",
    "encode_source",
    "evaluate_run",
    "exact_knn",
    "extract_embeddings",
    "file_digest",
    "format_report",
    "has_anomaly_scores",
    "knn_classify",
    "knn_predict",
    "label_efficiency",
    "linear_probe",
    "load_embedding",
    "nearest_neighbors",
    "project_pca",
    "preview_images",
    "project_umap",
    "raw_pixel_features",
    "read_report",
    "standardise",
    "stratified_subsample",
    "trustworthiness",
]
