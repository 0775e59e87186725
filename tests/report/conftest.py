"""Tiny runs shared by the report tests (trained once per session), and a strict HTML check."""

import base64
import binascii
import re
from html.parser import HTMLParser
from xml.etree import ElementTree

import pytest

from tests.tiny_runs import train_tiny

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
URL_ATTRIBUTES = {"src", "href", "srcset", "poster", "data", "action"}


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory):
    """Two unevaluated runs: SimCLR (views previews) and a denoising autoencoder (reconstructions)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        runs_dir = tmp_path_factory.mktemp("report-runs")
        simclr = train_tiny(runs_dir)
        denoising = train_tiny(runs_dir, "method.name=denoising_autoencoder", "train.max_steps=6")
    finally:
        torch.set_num_threads(before)
    return simclr, denoising


class StrictHTML(HTMLParser):
    """Fails on what a browser would silently repair: unclosed or mismatched tags, stray end tags,
    bad character references; collects the images and every URL-bearing attribute."""

    def __init__(self):
        super().__init__(convert_charrefs=False)
        self.stack: list[tuple[str, tuple[int, int]]] = []
        self.images: list[str] = []
        self.urls: list[str] = []
        self.doctype = ""
        self.data_keys: dict[str, str] = {}
        self._key: str | None = None
        self._text: list[str] = []
        self._depth = 0

    def handle_decl(self, decl):
        self.doctype = decl

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name, value in attrs.items():
            if name in URL_ATTRIBUTES and value is not None:
                self.urls.append(value)
        if tag == "img":
            assert attrs.get("alt"), f"an image without alt text at {self.getpos()}"
            self.images.append(attrs.get("src") or "")
        if "data-key" in attrs:  # its text is collected until this element closes
            self._key, self._text, self._depth = attrs["data-key"], [], len(self.stack)
        if tag not in VOID:
            self.stack.append((tag, self.getpos()))

    def handle_startendtag(self, tag, attrs):
        assert tag in VOID, f"<{tag}/> is not a void element (line {self.getpos()})"
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        assert tag not in VOID, f"</{tag}> closes a void element at {self.getpos()}"
        assert self.stack, f"stray </{tag}> at {self.getpos()}"
        open_tag, where = self.stack.pop()
        assert open_tag == tag, f"</{tag}> at {self.getpos()} closes <{open_tag}> opened at {where}"
        if self._key is not None and len(self.stack) == self._depth:
            self.data_keys[self._key] = "".join(self._text).strip()
            self._key = None

    def handle_data(self, data):
        if self._key is not None:
            self._text.append(data)

    def handle_entityref(self, name):
        assert name in ("amp", "lt", "gt", "quot", "nbsp"), f"unknown entity &{name}; at {self.getpos()}"
        if self._key is not None:
            self._text.append({"amp": "&", "lt": "<", "gt": ">", "quot": '"', "nbsp": " "}[name])

    def handle_charref(self, name):
        assert re.fullmatch(r"x[0-9a-fA-F]+|[0-9]+", name), f"bad character reference &#{name};"
        if self._key is not None:
            self._text.append(chr(int(name[1:], 16) if name.startswith("x") else int(name)))


def check_html(text: str) -> StrictHTML:
    """Parse a report strictly; check it is one self-contained document whose images are embedded."""
    parser = StrictHTML()
    parser.feed(text)
    parser.close()
    assert parser.doctype.lower() == "doctype html"
    assert not parser.stack, f"unclosed tags: {parser.stack}"
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in text
    assert parser.images, "no images"
    for url in parser.urls:
        assert url.startswith("data:image/"), f"a reference outside the file: {url[:80]}"
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", text), "a network address in the report"
    for src in parser.images:
        head, _, payload = src.partition(";base64,")
        assert head in ("data:image/png", "data:image/svg+xml"), head
        try:
            data = base64.b64decode(payload, validate=True)
        except binascii.Error as exc:
            raise AssertionError(f"an image that is not base64: {exc}") from None
        if head == "data:image/png":
            assert data.startswith(b"\x89PNG\r\n\x1a\n")
        else:
            assert ElementTree.fromstring(data).tag == "{http://www.w3.org/2000/svg}svg"
    return parser
