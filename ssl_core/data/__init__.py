"""Data sources: named by a spec string (digits, folder:PATH, npz:PATH, npy:PATH, torchvision:NAME[:ROOT]).

source = open_source("folder:~/pictures", image_size=32)
print(describe(source))
train, val = split_indices(len(source), 0.2, seed=0, labels=source.labels())
pipeline = ssl_core.data.loader.BatchPipeline(source, train, 256, device, memory_budget_bytes=2**31)
"""

from ssl_core.data.base import DataInfo, DataSource, SkippedFile, TensorSource
from ssl_core.data.sources import DATA_SOURCES, DEFAULT_SPEC, open_source, parse_spec
from ssl_core.data.spec import OpenOptions, SourceKind
from ssl_core.data.split import split_indices
from ssl_core.data.summary import describe

__all__ = [
    "DATA_SOURCES",
    "DEFAULT_SPEC",
    "DataInfo",
    "DataSource",
    "OpenOptions",
    "SkippedFile",
    "SourceKind",
    "TensorSource",
    "describe",
    "open_source",
    "parse_spec",
    "split_indices",
]
