"""Hostile pictures: bombs, liars and slow drawings become a placeholder and a warning at the
picture's line, within bounded memory and time; a killed build leaves no worker behind."""

from __future__ import annotations

import base64
import contextlib
import gzip
import io
import os
import signal
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from pathlib import Path

import pytest
from conftest import REPO_ROOT, CliResult, run_main
from PIL import Image
from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE

from deckgen import images, sandbox
from deckgen.images import (
    MAX_DATA_URI_BYTES,
    MAX_DATA_URI_CHARS,
    MAX_SVG_BYTES,
    Unreadable,
    decode_data_uri,
    svg_text,
)

HAS_CAIROSVG = images._cairosvg() is not None
needs_cairosvg = pytest.mark.skipif(not HAS_CAIROSVG, reason="cairosvg is not installed")
#: The line of the picture in `note()`'s Markdown.
PICTURE_LINE = 5
#: The address space a limited build may use: deckgen's own needs (Python, Pillow, cairo,
#: python-pptx) and the pictures it is given room for, far less than the bombs would take.
LIMITED_MEMORY = 1_200_000_000
#: Runs deckgen's command line with the address space and CPU time limited.
LIMITED = """
import resource, sys
memory, seconds = int(sys.argv[1]), int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds))
from deckgen.cli import main
sys.exit(main(sys.argv[3:]))
"""


def note(*sources: str) -> str:
    """Markdown with one slide per picture; the first picture is on line PICTURE_LINE."""
    lines = ["# Pictures", ""]
    for number, src in enumerate(sources, start=1):
        lines += [f"## Slide {number}", "", f"![picture {number}]({src})", ""]
    return "\n".join(lines)


def build(folder: Path, markdown: str) -> tuple[CliResult, Path]:
    """notes.md written into `folder` and built in this process; the build must succeed."""
    source = folder / "notes.md"
    source.write_text(markdown, encoding="utf-8")
    deck = folder / "notes.pptx"
    result = run_main("build", source, "-o", deck, "--resource-path", folder)
    assert result.code == 0, result.stderr
    return result, deck


def build_limited(folder: Path, markdown: str, seconds: int = 30,
                  memory: int = LIMITED_MEMORY) -> tuple[subprocess.CompletedProcess[str],
                                                          Path, float]:
    """notes.md built in a child process limited to `memory` bytes of address space and
    `seconds` of CPU time (and killed after twice that): the result, the deck, the time."""
    source = folder / "notes.md"
    source.write_text(markdown, encoding="utf-8")
    deck = folder / "notes.pptx"
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", LIMITED, str(memory), str(seconds), "build", str(source),
         "-o", str(deck), "--resource-path", str(folder)],
        capture_output=True, text=True, timeout=2 * seconds, cwd=folder,
        env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)))
    return result, deck, time.monotonic() - started


def warning_at(stderr: str, source: Path, line: int, *words: str) -> str:
    """The one warning printed for `source:line` that holds every word (fails if none)."""
    prefix = f"{source}:{line}: warning: "
    for printed in stderr.splitlines():
        if printed.startswith(prefix) and all(word in printed for word in words):
            return printed
    raise AssertionError(f"no warning at {prefix!r} with {words}; got:\n{stderr}")


def pictures_in(deck: Path) -> int:
    """The number of picture shapes in the deck (a placeholder is a text box)."""
    return sum(1 for slide in Presentation(str(deck)).slides for shape in slide.shapes
               if shape.shape_type == MSO_SHAPE_TYPE.PICTURE)


def clean(stderr: str) -> None:
    """No traceback, no internal error, no warning printed by Python itself."""
    for bad in ("Traceback", "internal error", "Warning:", "warnings.warn"):
        assert bad not in stderr, stderr


def placeholder_for_one(stderr: str, deck: Path, folder: Path, bad: str, good: str,
                        *words: str) -> None:
    """`bad` (the first picture of notes.md in `folder`) became a placeholder with one
    warning at its line that says `words`; `good` was embedded without a word; nothing
    printed by Python itself."""
    warning_at(stderr, folder / "notes.md", PICTURE_LINE, bad, *words, "placeholder")
    assert good not in stderr
    clean(stderr)
    assert pictures_in(deck) == 1


def png_bytes(size: tuple[int, int], mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size).save(out, "PNG")
    return out.getvalue()


def gzip_bomb(head: bytes, megabytes: int, tail: bytes) -> bytes:
    """A gzip file of `head`, `megabytes` MB of spaces and `tail`, made without compressing
    them all: one megabyte compressed after a full flush (which forgets what came before)
    is the same bytes each time."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    filler = b" " * 1_000_000
    start = deflate.compress(head) + deflate.flush(zlib.Z_FULL_FLUSH)
    block = deflate.compress(filler) + deflate.flush(zlib.Z_FULL_FLUSH)
    end = deflate.compress(tail) + deflate.flush()
    checksum = zlib.crc32(head)
    for _ in range(megabytes):
        checksum = zlib.crc32(filler, checksum)
    size = len(head) + megabytes * len(filler) + len(tail)
    return (b"\x1f\x8b\x08\0\0\0\0\0\0\xff" + start + block * megabytes + end
            + struct.pack("<II", zlib.crc32(tail, checksum), size % 2**32))


# --- SVG: decompression bombs, sizes that are no number ----------------------------------------


@needs_cairosvg
def test_an_svgz_bomb_is_refused_as_it_inflates(tmp_path: Path) -> None:
    """1 GB of XML in a 1 MB .svgz: inflated only up to the cap, quickly and in bounded
    memory; a placeholder and a warning at its line, and the build succeeds."""
    bomb = gzip_bomb(b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">',
                     1000, b"</svg>")
    assert len(bomb) < 2_000_000
    (tmp_path / "bomb.svgz").write_bytes(bomb)
    result, deck, seconds = build_limited(tmp_path, note("bomb.svgz"))
    assert result.returncode == 0, result.stderr
    warning_at(result.stderr, tmp_path / "notes.md", PICTURE_LINE, "bomb.svgz",
               f"more than {MAX_SVG_BYTES:,} bytes once inflated", "placeholder")
    clean(result.stderr)
    assert pictures_in(deck) == 0
    assert seconds < 20


def test_svg_text_stops_inflating_at_the_cap() -> None:
    plain = b"<svg/>" + b" " * (MAX_SVG_BYTES - 6)
    assert svg_text(gzip.compress(plain)) == plain  # exactly the cap is kept
    with pytest.raises(Unreadable, match="once inflated; refused"):
        svg_text(gzip.compress(plain + b" "))
    with pytest.raises(Unreadable, match="cut short"):
        svg_text(gzip.compress(plain)[:1000])
    with pytest.raises(Unreadable, match="cannot be inflated"):
        svg_text(b"\x1f\x8b" + b"\0" * 100)


@needs_cairosvg
@pytest.mark.parametrize("size", ['width="1e400" height="10"', 'width="10" height="-1e400"',
                                  'viewBox="0 0 1e999 1"', 'width="nan" height="nan"'])
def test_an_svg_size_that_is_no_number_is_a_placeholder(tmp_path: Path, size: str) -> None:
    (tmp_path / "huge.svg").write_text(f'<svg xmlns="http://www.w3.org/2000/svg" {size}/>',
                                       encoding="utf-8")
    result, deck = build(tmp_path, note("huge.svg"))
    warning_at(result.stderr, tmp_path / "notes.md", PICTURE_LINE, "huge.svg", "placeholder")
    clean(result.stderr)
    assert pictures_in(deck) == 0


@needs_cairosvg
@pytest.mark.parametrize(("size", "words"), [
    ('viewBox="0 0 1e308 1e308"', "more than 1,000,000 pixels on a side"),
    ('width="1e300" height="1e300"', "more than 1,000,000 pixels on a side"),
    ('width="2000000" height="10"', "more than 1,000,000 pixels on a side"),
    ('width="1e-300" height="10"', "less than 0.01 pixel on a side")])
def test_an_svg_size_out_of_bounds_is_a_placeholder(tmp_path: Path, size: str,
                                                    words: str) -> None:
    """A finite but absurd size (it overflowed the layout's arithmetic: "internal error")."""
    (tmp_path / "huge.svg").write_text(
        f'<svg xmlns="http://www.w3.org/2000/svg" {size}><rect width="10" height="10"/></svg>',
        encoding="utf-8")
    (tmp_path / "fine.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="999999" height="0.02"/>',
        encoding="utf-8")
    result, deck = build(tmp_path, note("huge.svg", "fine.svg"))
    placeholder_for_one(result.stderr, deck, tmp_path, "huge.svg", "fine.svg", words)


@needs_cairosvg
def test_an_svg_of_millions_of_elements_is_sized_from_its_root(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its size is read from the root element without parsing the rest (cairosvg took 3
    minutes and 6.8 GB for 5 million elements), and its drawing is stopped at the limit."""
    monkeypatch.setattr(images, "SVG_CPU_SECONDS", 1)
    monkeypatch.setattr(images, "SVG_WALL_SECONDS", 3)
    (tmp_path / "many.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20">' + "<g/>" * 2_000_000
        + "</svg>", encoding="utf-8")
    started = time.monotonic()
    found = images.inspect_file(tmp_path / "many.svg")
    assert found.stored_size == (40, 20)
    assert time.monotonic() - started < 1
    result, deck = build(tmp_path, note("many.svg"))
    assert time.monotonic() - started < 8
    warning_at(result.stderr, tmp_path / "notes.md", PICTURE_LINE, "many.svg",
               "took more than", "placeholder")
    assert pictures_in(deck) == 0


@needs_cairosvg
@pytest.mark.parametrize(("svg", "size"), [
    ('<svg xmlns="http://www.w3.org/2000/svg" width="4cm" height="2cm"/>', (152, 76)),
    ('<?xml version="1.0"?><!-- a drawing --><svg viewBox="0 0 40 20"/>', (40, 20)),
    ('<svg:svg xmlns:svg="http://www.w3.org/2000/svg" width="10" height="5"/>', (10, 5)),
    ('<svg xmlns="http://www.w3.org/2000/svg" style="width: 30px; height:15px"/>', (30, 15)),
])
def test_an_svg_size_is_read_as_cairosvg_reads_it(svg: str, size: tuple[int, int]) -> None:
    assert images.inspect_bytes(svg.encode(), svg_hint=True).stored_size == size


@needs_cairosvg
def test_an_svg_that_declares_entities_is_refused() -> None:
    with pytest.raises(Unreadable, match="declares XML entities"):
        images.inspect_bytes(b'<!DOCTYPE svg [<!ENTITY a "1">]><svg width="&a;0" '
                             b'height="10"/>', svg_hint=True)


# --- data: URIs --------------------------------------------------------------------------------


def test_data_uris_are_capped_before_and_after_decoding() -> None:
    with pytest.raises(Unreadable, match=f"more than {MAX_DATA_URI_CHARS:,}; refused"):
        decode_data_uri("data:image/png;base64," + "A" * MAX_DATA_URI_CHARS)
    with pytest.raises(Unreadable, match=f"more than {MAX_DATA_URI_BYTES:,}; refused"):
        decode_data_uri("data:image/png," + "A" * (MAX_DATA_URI_BYTES + 1))
    assert decode_data_uri("data:image/png," + "A" * 10) == b"A" * 10


@needs_cairosvg
def test_an_svg_data_uri_over_the_cap_is_refused(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """(A note is at most 8 MB: the cap is lowered to be reached from one.)"""
    monkeypatch.setattr(images, "MAX_DATA_URI_BYTES", 1_000_000)
    svg = (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
           + b" " * 2_000_000 + b"</svg>")
    uri = "data:image/svg+xml;base64," + base64.b64encode(svg).decode()
    assert len(uri) < MAX_DATA_URI_CHARS  # refused for what it holds
    markdown = note("a.png").replace("![picture 1](a.png)", f'<img src="{uri}">')
    result, deck = build(tmp_path, markdown)
    warning_at(result.stderr, tmp_path / "notes.md", PICTURE_LINE, "data: URI image",
               "refused")
    assert pictures_in(deck) == 0


# --- rasters: headers that lie, absurd shapes --------------------------------------------------


def forged_jpeg(size: tuple[int, int], claimed: tuple[int, int], **options: object) -> bytes:
    """A JPEG of `size` pixels whose frame header says `claimed`."""
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "JPEG", **options)
    data = bytearray(out.getvalue())
    frame = max(data.find(b"\xff\xc0"), data.find(b"\xff\xc2"))
    struct.pack_into(">HH", data, frame + 5, claimed[1], claimed[0])
    return bytes(data)


@pytest.mark.parametrize("options", [{}, {"progressive": True, "optimize": True}],
                         ids=["baseline", "progressive"])
def test_a_jpeg_whose_header_claims_more_pixels_than_it_holds(tmp_path: Path,
                                                               options: dict[str, bool]
                                                               ) -> None:
    """16 × 16 pixels of data under a 10000 × 10000 header: small enough to be embedded as
    it is, which libjpeg would decode as grey without an error."""
    (tmp_path / "liar.jpg").write_bytes(forged_jpeg((16, 16), (10000, 10000), **options))
    (tmp_path / "honest.jpg").write_bytes(forged_jpeg((16, 16), (16, 16), **options))
    result, deck = build(tmp_path, note("liar.jpg", "honest.jpg"))
    placeholder_for_one(result.stderr, deck, tmp_path, "liar.jpg", "honest.jpg", "10000×10000")


@pytest.mark.parametrize("options", [{}, {"progressive": True, "optimize": True}],
                         ids=["baseline", "progressive"])
def test_padding_after_the_end_of_a_jpeg_is_no_picture_data(tmp_path: Path,
                                                             options: dict[str, bool]
                                                             ) -> None:
    """2 MB of zeros after the end-of-image marker passed the check of the data's length
    and shipped a flat grey picture."""
    (tmp_path / "padded.jpg").write_bytes(
        forged_jpeg((16, 16), (10000, 10000), **options) + b"\0" * 2_000_000)
    (tmp_path / "honest.jpg").write_bytes(
        forged_jpeg((16, 16), (16, 16), **options) + b"\0" * 2_000_000)
    result, deck = build(tmp_path, note("padded.jpg", "honest.jpg"))
    placeholder_for_one(result.stderr, deck, tmp_path, "padded.jpg", "honest.jpg", "10000×10000")


def test_fill_bytes_before_a_jpeg_marker_are_skipped_quickly() -> None:
    """15 MB of 0xFF fill bytes (allowed before any marker) took 3.9 s, a byte at a time;
    they are still skipped, so a forged header behind them is caught."""
    fill = b"\xff" * 15_000_000
    for jpeg, honest in ((forged_jpeg((16, 16), (16, 16)), True),
                         (forged_jpeg((16, 16), (10000, 10000)), False)):
        data = jpeg[:2] + fill + jpeg[2:]
        started = time.process_time()
        with contextlib.nullcontext() if honest else pytest.raises(Unreadable,
                                                                   match="10000×10000"):
            images.check_jpeg_data(io.BytesIO(data), len(data))
        assert time.process_time() - started < 0.5


def test_a_jpeg_inside_a_data_uri_is_checked_too(tmp_path: Path) -> None:
    uri = "data:image/jpeg;base64," + base64.b64encode(
        forged_jpeg((16, 16), (8000, 6000))).decode()
    result, deck = build(tmp_path, note(uri))
    warning_at(result.stderr, tmp_path / "notes.md", PICTURE_LINE, "data: URI image",
               "8000×6000", "placeholder")
    assert pictures_in(deck) == 0


@pytest.mark.parametrize("quality", [1, 95])
@pytest.mark.parametrize("options", [{}, {"optimize": True}, {"progressive": True},
                                     {"subsampling": 0}], ids=str)
def test_flat_jpegs_hold_enough_data(quality: int, options: dict[str, object]) -> None:
    """The least data an honest encoder writes is well above the bound."""
    for mode in ("L", "RGB", "CMYK"):
        out = io.BytesIO()
        Image.new(mode, (2000, 1000)).save(out, "JPEG", quality=quality, **options)
        images.check_jpeg_data(io.BytesIO(out.getvalue()), len(out.getvalue()))


def test_a_picture_1_pixel_high_and_119_million_wide(tmp_path: Path) -> None:
    """Within the pixel cap, but refused for its side, from its header: quickly and in
    bounded memory (it took 20 s and 2.15 GB to downscale)."""
    width = 119_000_000
    (tmp_path / "line.png").write_bytes(png_bytes((width, 1), "1"))
    (tmp_path / "thin.png").write_bytes(png_bytes((2000, 1), "1"))  # a rule is kept
    result, deck, seconds = build_limited(tmp_path, note("line.png", "thin.png"))
    assert result.returncode == 0, result.stderr
    placeholder_for_one(result.stderr, deck, tmp_path, "line.png", "thin.png",
                        f"{width}×1 pixels", f"more than {images.MAX_SIDE_PIXELS:,} on a side")
    assert seconds < 20


def encoded(data: bytes, target: tuple[int, int]) -> images.Encoded:
    return images.encode_job(images.EncodeJob(images.inspect_bytes(data), target))


def test_a_picture_that_needs_too_much_memory_to_decode(tmp_path: Path) -> None:
    """A 4 KB lossless WebP of 16383 × 7000 pixels, within the pixel cap, took 1.83 GB to
    decode: refused from its header, in a build limited in memory."""
    out = io.BytesIO()
    Image.new("RGB", (16383, 7000), (10, 20, 30)).save(out, "WEBP", lossless=True)
    assert len(out.getvalue()) < 10_000
    (tmp_path / "wide.webp").write_bytes(out.getvalue())
    (tmp_path / "small.png").write_bytes(png_bytes((20, 10)))
    result, deck, _ = build_limited(tmp_path, note("wide.webp", "small.png"))
    assert result.returncode == 0, result.stderr
    placeholder_for_one(result.stderr, deck, tmp_path, "wide.webp", "small.png",
                        "16383×7000", "MB of memory to decode")


def test_a_48_megapixel_photo_is_within_the_decoding_memory() -> None:
    """8000 × 6000 pixels pass as a WebP, a PNG and a JPEG (decoded at reduced size)."""
    for kind in ("WEBP", "PNG"):
        out = io.BytesIO()
        Image.new("RGB", (8000, 6000), (10, 20, 30)).save(out, kind, lossless=True)
        assert images.inspect_bytes(out.getvalue()).stored_size == (8000, 6000)
    out = io.BytesIO()
    Image.new("RGB", (8000, 6000), (10, 20, 30)).save(out, "JPEG", quality=20)
    outcome = encoded(out.getvalue() + b"\0" * 7_000_000, (2934, 1650))  # re-encoded
    assert not outcome.problem and outcome.extension == "jpg"
    assert images._pixels(outcome.size) < 8000 * 6000


# --- SVG drawing: bounded in pixels, memory and time ----------------------------------------

SVG_HEAD = ('<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
            'width="200" height="100">')


def svg_embedding(picture: bytes, mime: str = "image/png") -> str:
    uri = f"data:{mime};base64,{base64.b64encode(picture).decode()}"
    return f'{SVG_HEAD}<image width="200" height="100" xlink:href="{uri}"/></svg>'


def nested_uses(levels: int, fan: int = 10) -> str:
    """`fan` ** `levels` copies of a path, drawn through `levels` levels of <use>."""
    groups = ['<path id="l0" d="M0 0 L200 100 L0 100Z" fill="red"/>']
    for level in range(1, levels + 1):
        uses = "".join(f'<use xlink:href="#l{level - 1}"/>' for _ in range(fan))
        groups.append(f'<g id="l{level}">{uses}</g>')
    return f'{SVG_HEAD}<defs>{"".join(groups)}</defs><use xlink:href="#l{levels}"/></svg>'


@needs_cairosvg
def test_an_svg_that_draws_too_long_is_stopped(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Five levels of <use> (55 s to draw) are stopped at the limit of processor time; the
    other SVG of the deck is drawn."""
    monkeypatch.setattr(images, "SVG_CPU_SECONDS", 1)
    monkeypatch.setattr(images, "SVG_WALL_SECONDS", 4)
    (tmp_path / "slow.svg").write_text(nested_uses(5), encoding="utf-8")
    (tmp_path / "quick.svg").write_text(nested_uses(1), encoding="utf-8")
    started = time.monotonic()
    result, deck = build(tmp_path, note("slow.svg", "quick.svg"))
    assert time.monotonic() - started < 8
    placeholder_for_one(result.stderr, deck, tmp_path, "slow.svg", "quick.svg", "took more than")


@needs_cairosvg
def test_an_svg_that_draws_too_long_in_wall_clock_time_is_stopped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(images, "SVG_WALL_SECONDS", 1)
    (tmp_path / "slow.svg").write_text(nested_uses(5), encoding="utf-8")
    started = time.monotonic()
    result, _ = build(tmp_path, note("slow.svg"))
    assert time.monotonic() - started < 6
    warning_at(result.stderr, tmp_path / "notes.md", PICTURE_LINE, "slow.svg",
               "took more than 1 s; stopped", "placeholder")


@needs_cairosvg
def test_the_svgs_of_a_deck_share_one_drawing_budget(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Each hostile SVG took its own limit, so N of them took N times it: once the deck's
    budget is spent, the SVGs left are placeholders that say why, without being drawn."""
    monkeypatch.setattr(images, "SVG_WALL_SECONDS", 1)
    monkeypatch.setattr(images, "SVG_DECK_SECONDS", 1.5)
    (tmp_path / "quick.svg").write_text(nested_uses(1), encoding="utf-8")
    for number in range(1, 5):
        (tmp_path / f"slow{number}.svg").write_text(nested_uses(5) + " " * number,
                                                    encoding="utf-8")
    started = time.monotonic()
    result, deck = build(tmp_path, note("quick.svg", *(f"slow{n}.svg" for n in range(1, 5))))
    assert time.monotonic() - started < 6
    source = tmp_path / "notes.md"
    assert "quick.svg" not in result.stderr
    warning_at(result.stderr, source, PICTURE_LINE + 4, "slow1.svg", "took more than 1 s",
               "placeholder")
    for number in range(2, 5):
        warning_at(result.stderr, source, PICTURE_LINE + 4 * number, f"slow{number}.svg",
                   "the deck's SVGs took 1.5 s to draw altogether", "placeholder")
    clean(result.stderr)
    assert pictures_in(deck) == 1


@needs_cairosvg
def test_a_picture_inside_an_svg_is_held_to_the_pixel_cap(tmp_path: Path) -> None:
    """A 31 KB PNG of 16000 × 16000 pixels (1 GB decoded) inside an SVG is refused from
    its header, in a build limited in memory; a small one is drawn."""
    bomb = png_bytes((16000, 16000), "1")
    assert len(bomb) < 100_000
    (tmp_path / "bomb.svg").write_text(svg_embedding(bomb), encoding="utf-8")
    (tmp_path / "small.svg").write_text(svg_embedding(png_bytes((20, 10))), encoding="utf-8")
    result, deck, _ = build_limited(tmp_path, note("bomb.svg", "small.svg"))
    assert result.returncode == 0, result.stderr
    placeholder_for_one(result.stderr, deck, tmp_path, "bomb.svg", "small.svg",
                        "embeds a picture that", f"{images.MAX_PIXELS:,}")


@needs_cairosvg
def test_an_svg_inside_an_svg_is_inflated_within_the_cap(tmp_path: Path) -> None:
    inner = gzip_bomb(b'<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1">', 200,
                      b"</svg>")
    (tmp_path / "nested.svg").write_text(svg_embedding(inner, "image/svg+xml"),
                                         encoding="utf-8")
    result, deck = build(tmp_path, note("nested.svg"))
    warning_at(result.stderr, tmp_path / "notes.md", PICTURE_LINE, "nested.svg",
               "once inflated; refused", "placeholder")
    assert pictures_in(deck) == 0


@needs_cairosvg
def test_an_svg_that_needs_more_memory_than_allowed(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A picture within the pixel cap that needs more memory to draw than the child
    process drawing the SVG may use."""
    monkeypatch.setattr(images, "SVG_MEMORY_BYTES", 20_000_000)
    (tmp_path / "big.svg").write_text(svg_embedding(png_bytes((10000, 10000), "1")),
                                      encoding="utf-8")
    result, deck = build(tmp_path, note("big.svg"))
    warning_at(result.stderr, tmp_path / "notes.md", PICTURE_LINE, "big.svg", "memory",
               "placeholder")
    clean(result.stderr)
    assert pictures_in(deck) == 0


# --- the picture pool: workers end with the build ----------------------------------------------


def children_of(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux's /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """Whether the process runs (a zombie waiting to be reaped does not)."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] \
            != "Z"
    except OSError:
        return False


def descendants_of(pid: int) -> list[int]:
    """The children of `pid`, their children and so on."""
    found = children_of(pid)
    for child in list(found):
        found += descendants_of(child)
    return found


@needs_cairosvg
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux's /proc")
@pytest.mark.skipif(images._cores() < 2, reason="a pool needs two cores")
def test_pool_workers_end_when_the_build_is_killed(tmp_path: Path) -> None:
    """kill -9 of a build while its picture pool works (four large photos make a pool, and
    an SVG that takes a minute to draw keeps a worker busy): the workers and the process
    drawing the SVG are gone within a few seconds (they lived on for a minute)."""
    noise = Image.frombytes("RGB", (1800, 1200), os.urandom(1800 * 1200 * 3))
    out = io.BytesIO()
    noise.save(out, "JPEG", quality=95)  # large pictures, re-encoded
    names = [f"photo{number}.jpg" for number in range(4)]
    for name in names:
        (tmp_path / name).write_bytes(out.getvalue())
    (tmp_path / "slow.svg").write_text(nested_uses(5), encoding="utf-8")
    source = tmp_path / "notes.md"
    source.write_text(note("slow.svg", *names), encoding="utf-8")
    build = subprocess.Popen(
        [sys.executable, "-m", "deckgen", "build", str(source), "-o", str(tmp_path / "n.pptx"),
         "-q"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)))
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 30
        while not children_of(build.pid) and time.monotonic() < deadline:
            assert build.poll() is None, "the build ended before its pool started"
            time.sleep(0.02)
        time.sleep(1.5)  # the workers take their jobs; one draws the SVG
        assert build.poll() is None, "the build ended before it was killed"
        workers = [pid for pid in descendants_of(build.pid) if forked(pid, build.pid)]
        assert len(workers) >= 2, workers  # not the font listing, a program of its own
        build.kill()
        build.wait(10)
        deadline = time.monotonic() + 5
        while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [pid for pid in workers if alive(pid)]
    finally:
        if build.poll() is None:
            build.kill()
            build.wait()
        for pid in workers:  # what a failure left behind
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def forked(pid: int, parent: int) -> bool:
    """Whether `pid` is a fork of `parent` (the same command line), not a program it runs
    (such as the font listing)."""
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes() \
            == (Path("/proc") / str(parent) / "cmdline").read_bytes()
    except OSError:
        return False


@needs_cairosvg
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux's /proc")
@pytest.mark.parametrize(("kill", "code", "word"),
                         [(signal.SIGTERM, 143, "terminated"),
                          (signal.SIGINT, 130, "interrupted")], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_a_build_that_draws_an_svg(tmp_path: Path, kill: signal.Signals,
                                                  code: int, word: str) -> None:
    """SIGTERM or Ctrl-C while an SVG is drawn: the build stops at once, as always, and
    the process drawing it is gone."""
    (tmp_path / "slow.svg").write_text(nested_uses(5), encoding="utf-8")
    source = tmp_path / "notes.md"
    source.write_text(note("slow.svg"), encoding="utf-8")
    build = subprocess.Popen(
        [sys.executable, "-m", "deckgen", "build", str(source), "-o", str(tmp_path / "n.pptx")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)))
    drawing: list[int] = []
    try:
        deadline = time.monotonic() + 30
        while not drawing and time.monotonic() < deadline:
            assert build.poll() is None, "the build ended before it drew the SVG"
            time.sleep(0.02)
            drawing = [pid for pid in children_of(build.pid) if forked(pid, build.pid)]
        assert drawing, "no process draws the SVG"
        started = time.monotonic()
        build.send_signal(kill)
        _, stderr = build.communicate(timeout=10)
        assert time.monotonic() - started < 3
        assert build.returncode == code, stderr
        assert stderr.splitlines()[-1] == f"deckgen: {word}; nothing was written", stderr
        clean(stderr)
        assert not [pid for pid in drawing if alive(pid)]
        assert not (tmp_path / "n.pptx").exists()
    finally:
        if build.poll() is None:
            build.kill()
            build.communicate()
        for pid in drawing:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


# --- deckgen.sandbox ----------------------------------------------------------------------------


def _allocate(size: int) -> int:
    return len(bytearray(size))


def _spin() -> None:
    while True:
        pass


def _refuse() -> None:
    raise Unreadable("is refused in the child")


class _StatusError(Exception):
    """An exception that cannot be unpickled as itself (as cairocffi's CairoError)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _raise_status() -> None:
    raise _StatusError("cairo returned CAIRO_STATUS_INVALID_MATRIX", 5)


def _unreadable_back() -> None:
    raise ValueError("cannot be read back")


class _Poisoned:
    """A value that pickles, and raises as it is unpickled."""

    def __reduce__(self) -> tuple[object, tuple[()]]:
        return (_unreadable_back, ())


def _poisoned() -> _Poisoned:
    return _Poisoned()


@pytest.mark.skipif(sys.platform != "linux", reason="limits are set by Linux")
def test_run_limited_sends_what_cannot_be_unpickled_as_text() -> None:
    """An exception whose class takes more arguments reached the user as "TypeError:
    __init__() missing 1 required positional argument"."""
    with pytest.raises(sandbox.Failed) as raised:
        sandbox.run_limited(_raise_status, (), 100_000_000, 5, 10)
    assert str(raised.value) == "_StatusError: cairo returned CAIRO_STATUS_INVALID_MATRIX"
    with pytest.raises(sandbox.Failed, match="its answer could not be read "
                                             r"\(ValueError: cannot be read back\)"):
        sandbox.run_limited(_poisoned, (), 100_000_000, 5, 10)


@needs_cairosvg
@pytest.mark.parametrize(("inner", "words"), [
    (b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaa">]><svg '
     b'xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text>&a;</text></svg>',
     "embeds a picture that is an SVG that declares XML entities; refused"),
    (zlib.compress(b"x" * 1000), "embeds a picture (a data: URI) that is not a picture "
                                 "deckgen recognises"),
    (gzip_bomb(b'<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1">', 30,
               b"</svg>"), "embeds a picture that is a compressed SVG of more than")],
    ids=["entities", "zlib", "svgz-bomb"])
def test_what_an_svg_embeds_is_named_as_embedded(tmp_path: Path, inner: bytes,
                                                  words: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(images, "MAX_SVG_BYTES", 20_000_000)
    mime = "image/png" if inner.startswith(b"x") else "image/svg+xml"
    (tmp_path / "outer.svg").write_text(svg_embedding(inner, mime), encoding="utf-8")
    result, deck = build(tmp_path, note("outer.svg"))
    warning = warning_at(result.stderr, tmp_path / "notes.md", PICTURE_LINE, "outer.svg",
                         words, "placeholder")
    assert "TypeError" not in warning and "object at 0x" not in warning
    clean(result.stderr)
    assert pictures_in(deck) == 0


@needs_cairosvg
def test_an_svg_that_uses_itself_says_so(tmp_path: Path) -> None:
    (tmp_path / "loop.svg").write_text(
        f'{SVG_HEAD}<defs><g id="g"><use xlink:href="#g"/></g></defs><use xlink:href="#g"/>'
        "</svg>", encoding="utf-8")
    result, deck = build(tmp_path, note("loop.svg"))
    warning = warning_at(result.stderr, tmp_path / "notes.md", PICTURE_LINE, "loop.svg",
                         "refers to itself", "placeholder")
    assert "RecursionError" not in warning
    clean(result.stderr)
    assert pictures_in(deck) == 0


@needs_cairosvg
def test_only_unprefixed_root_attributes_size_an_svg() -> None:
    attributes = images.svg_root_attributes(
        b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:x="urn:x" x:width="10" '
        b'x:height="20" height="5"/>')
    assert attributes == {"height": "5"}


@pytest.mark.skipif(sys.platform != "linux", reason="limits are set by Linux")
def test_run_limited_returns_raises_and_stops() -> None:
    assert sandbox.run_limited(_allocate, (1_000_000,), 100_000_000, 5, 10) == 1_000_000
    with pytest.raises(MemoryError):
        sandbox.run_limited(_allocate, (500_000_000,), 100_000_000, 5, 10)
    with pytest.raises(Unreadable, match="is refused in the child"):
        sandbox.run_limited(_refuse, (), 100_000_000, 5, 10)
    started = time.monotonic()
    with pytest.raises(sandbox.Stopped, match="more than 1 s of processor time"):
        sandbox.run_limited(_spin, (), 100_000_000, 1, 10)
    with pytest.raises(sandbox.Stopped, match=r"took more than 0.5 s; stopped"):
        sandbox.run_limited(time.sleep, (30,), 100_000_000, 5, 0.5)
    assert time.monotonic() - started < 5


def test_a_jpeg_of_thousands_of_scans_is_refused_before_it_is_decoded(tmp_path: Path) -> None:
    """Each scan is a pass over the whole picture: a small file that repeats one thousands
    of times keeps the decoder busy for minutes, so it becomes a placeholder at once."""
    out = io.BytesIO()
    Image.new("RGB", (64, 48), "#0F766E").save(out, "JPEG", progressive=True)
    honest = out.getvalue()
    last_scan = honest.rindex(b"\xff\xda")
    scan = honest[last_scan:honest.rindex(b"\xff\xd9")]
    repeated = honest[:last_scan] + scan * (images.MAX_JPEG_SCANS + 50) + b"\xff\xd9"
    (tmp_path / "scans.jpg").write_bytes(repeated)
    (tmp_path / "honest.jpg").write_bytes(honest)
    result, deck = build(tmp_path, note("scans.jpg", "honest.jpg"))
    placeholder_for_one(result.stderr, deck, tmp_path, "scans.jpg", "honest.jpg",
                        f"more than {images.MAX_JPEG_SCANS} scans")


def test_a_picture_with_a_colour_profile_gives_the_same_bytes_every_build(
        tmp_path: Path) -> None:
    """Converted to sRGB, a picture carries no profile: the one LittleCMS makes holds the
    time it was made, which changed the deck's bytes from one build to the next."""
    from PIL import ImageCms

    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    other = srgb.replace("sRGB".encode("utf-16-be"), "xRGB".encode("utf-16-be"), 1)
    assert other != srgb  # a profile by another name, so that it is converted
    noise = Image.effect_noise((1600, 1200), 60).convert("RGB")  # more than placed: encoded
    noise.save(tmp_path / "profiled.png", icc_profile=other)
    decks = []
    for run in range(2):
        folder = tmp_path / f"run{run}"
        folder.mkdir()
        (folder / "profiled.png").write_bytes((tmp_path / "profiled.png").read_bytes())
        result, deck = build(folder, note("profiled.png"))
        clean(result.stderr)
        decks.append(deck)
        time.sleep(1.05 if run == 0 else 0)  # the profile's time is counted in seconds
    with zipfile.ZipFile(decks[0]) as first, zipfile.ZipFile(decks[1]) as second:
        media = [name for name in first.namelist() if name.startswith("ppt/media/")]
        assert media and all(first.read(name) == second.read(name) for name in media)
        assert all(b"iCCP" not in first.read(name) and b"ICC_PROFILE" not in first.read(name)
                   for name in media)
