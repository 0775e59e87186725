"""Bundled demo sound: `audio:sonic-pi` (recorded) and `audio:speech` (synthesised, audio_speech).

`audio:sonic-pi` reads the FLAC samples of the Debian package `sonic-pi-samples` from where the package
installs them (/usr/share/sonic-pi/samples; never copied into the project): 165 recorded sounds (drum hits,
bass, guitar, ambient pads, tabla, loops, ...), 44.1 kHz, mono or stereo, 0.02 to 11 s long. The category is
the file-name prefix (ambi_choir.flac -> "ambient"); each file is a group, so clips of one loop stay on one
side of a split. The decoded clips are cached like a folder's (audio_cache).
"""

from __future__ import annotations

import os
from pathlib import Path

from ssl_core.data.audio_read import ReadSettings
from ssl_core.data.spec import OpenOptions
from ssl_core.errors import UserError

SONIC_PI = "sonic-pi"
SPEECH = "speech"
BUNDLED = (SONIC_PI, SPEECH)
SONIC_PI_DIRS = (
    Path("/usr/share/sonic-pi/samples"),
    Path("/usr/lib/sonic-pi/etc/samples"),
    Path("/opt/sonic-pi/etc/samples"),
)
SONIC_PI_INSTALL = "install the Debian package sonic-pi-samples (sudo apt-get install sonic-pi-samples)"
# The prefixes of the sample names, as words people read.
SONIC_PI_CATEGORIES = {
    "ambi": "ambient",
    "bass": "bass",
    "bd": "bass drum",
    "drum": "drum",
    "elec": "electronic",
    "glitch": "glitch",
    "guit": "guitar",
    "loop": "loop",
    "mehackit": "mehackit",
    "misc": "misc",
    "perc": "percussion",
    "sn": "snare",
    "tabla": "tabla",
    "vinyl": "vinyl",
}


def sonic_pi_dir() -> Path:
    """The installed samples folder; a UserError saying how to install it when there is none."""
    override = os.environ.get("SSL_WORKBENCH_SONIC_PI", "").strip()
    for folder in ((Path(override),) if override else ()) + SONIC_PI_DIRS:
        if folder.is_dir() and any(folder.glob("*.flac")):
            return folder
    raise UserError(
        f"audio:{SONIC_PI} reads the recorded samples of the Debian package sonic-pi-samples, and none were "
        f"found in {SONIC_PI_DIRS[0]}; {SONIC_PI_INSTALL}.",
        field="data.spec",
    )


def sonic_pi_category(name: str) -> str:
    prefix = Path(name).stem.split("_", 1)[0].lower()
    return SONIC_PI_CATEGORIES.get(prefix, prefix)


def open_sonic_pi(spec: str, options: OpenOptions, settings: ReadSettings):
    from ssl_core.data.audio_source import decode_cached, finish_source

    folder = sonic_pi_dir()
    paths = sorted(str(p) for p in folder.glob("*.flac") if p.is_file())
    names = [Path(p).name for p in paths]
    decoded = decode_cached(folder, paths, names, settings, options)
    if not decoded.kept:
        first = decoded.skipped[0]
        raise UserError(
            f"None of the sonic-pi samples in {folder} could be read, e.g. {first.path}: {first.reason}; "
            f"reinstall the package (sudo apt-get install --reinstall sonic-pi-samples).",
            path=str(folder),
        )
    return finish_source(
        spec,
        "Sonic Pi samples",
        decoded,
        settings,
        options,
        file_names=names,
        label_names=[sonic_pi_category(n) for n in names],
        label_from="prefix",
        origin="recorded",
        notes=[
            f"recorded sound: the instrument samples of the Debian package sonic-pi-samples, read from {folder}"
        ],
    )


def open_bundled(spec: str, name: str, options: OpenOptions, settings: ReadSettings):
    if name == SONIC_PI:
        return open_sonic_pi(spec, options, settings)
    from ssl_core.data.audio_speech import open_speech

    return open_speech(spec, options, settings)
