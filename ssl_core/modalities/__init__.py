"""The modality registry: one entry per kind of data (images, time series, tables, text, audio).

`modality_of(info)` is how every other part of the engine learns what differs for the loaded data.
See `base.py` for what a modality owns and docs/modalities.md for the recipe to add one.
"""

from __future__ import annotations

from ssl_core.data.base import DataInfo
from ssl_core.modalities.audio import AudioModality
from ssl_core.modalities.base import Modality, PreviewPayload, ReconstructionHead
from ssl_core.modalities.image import ImageModality
from ssl_core.modalities.series import SeriesModality
from ssl_core.modalities.table import TableModality
from ssl_core.modalities.text import TextModality
from ssl_core.registry import Registry

MODALITIES: Registry[Modality] = Registry("modality")
for _modality in (ImageModality(), SeriesModality(), TableModality(), TextModality(), AudioModality()):
    MODALITIES.register(_modality.name, _modality)


def modality_of(what: DataInfo | str) -> Modality:
    """The modality of a DataInfo (or of a modality name)."""
    name = what.modality if isinstance(what, DataInfo) else str(what)
    return MODALITIES.get(name)


__all__ = ["MODALITIES", "Modality", "PreviewPayload", "ReconstructionHead", "modality_of"]
