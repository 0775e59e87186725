"""`text:fortunes`: the fortune-cookie quotations of the Debian package `fortunes`, the category is the label.

The files are read from the installed package every time (they are never copied into the project):
/usr/share/games/fortunes holds one file per category in strfile format, quotes separated by lines that
hold only "%". The index files (.dat), the .u8 links, other links and subfolders (the offensive set, off/)
are left out, and so are categories too small to learn or test from (fewer than MIN_QUOTES quotes).
About 15,000 quotes in 40 categories.
"""

from __future__ import annotations

import re
from pathlib import Path

from ssl_core.data.text_read import MAX_SAMPLE_CHARS, RawTexts, decoded_chunks
from ssl_core.errors import UserError

FORTUNES_DIRS = (Path("/usr/share/games/fortunes"), Path("/usr/share/fortune"), Path("/usr/share/fortunes"))
FORTUNES_NAME = "fortunes"
MIN_QUOTES = 20
_SEPARATOR = re.compile(r"^%[ \t\r]*$", re.MULTILINE)
_INSTALL = "install the Debian package `fortunes` (sudo apt-get install fortunes)"


def fortunes_dir() -> Path:
    """The installed fortunes folder; a UserError saying how to install it when there is none."""
    for folder in FORTUNES_DIRS:
        if folder.is_dir() and any(_category_files(folder)):
            return folder
    raise UserError(
        f"text:{FORTUNES_NAME} reads the fortune-cookie quotations installed by the Debian package `fortunes`, "
        f"and none were found in {FORTUNES_DIRS[0]}; {_INSTALL}.",
        field="data.spec",
    )


def _category_files(folder: Path) -> list[Path]:
    files = []
    for path in sorted(folder.iterdir()):
        if (
            path.is_symlink()
            or not path.is_file()
            or path.suffix in (".dat", ".u8")
            or path.name.startswith(".")
        ):
            continue
        files.append(path)
    return files


def split_quotes(text: str) -> list[str]:
    """The quotes of one strfile-format text (lines of only "%" separate them), stripped, empty ones out."""
    return [q.strip() for q in _SEPARATOR.split(text) if q.strip()]


def read_fortunes() -> RawTexts:
    folder = fortunes_dir()
    texts, labels, small, cut = [], [], [], 0
    for path in _category_files(folder):
        quotes = split_quotes("".join(decoded_chunks(path)))
        if len(quotes) < MIN_QUOTES:
            small.append(f"{path.name} ({len(quotes)})")
            continue
        cut += sum(1 for q in quotes if len(q) > MAX_SAMPLE_CHARS)
        texts += [q[:MAX_SAMPLE_CHARS] for q in quotes]
        labels += [path.name] * len(quotes)
    if not texts:
        raise UserError(f"{folder} holds no fortune files with quotes; {_INSTALL}.", path=str(folder))
    notes = [f"the Debian package `fortunes`, read from {folder}; the category (file name) is the label"]
    if small:
        notes.append(f"left out categories with fewer than {MIN_QUOTES} quotes: {', '.join(small)}")
    return RawTexts(
        texts, labels, str(folder), FORTUNES_NAME, "quote", "fortunes", notes=notes, truncated=cut
    )
