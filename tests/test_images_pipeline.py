"""The picture pipeline's cheap paths: PNG checks without decoding, the photo quality chosen
from a sample, and pictures encoded while the slides that need them are rendered."""

from __future__ import annotations

import io
import multiprocessing
import random
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFile, PngImagePlugin

from deckgen import images
from deckgen.build import BuildOptions, plan_build, write_deck
from deckgen.errors import Diagnostics
from deckgen.images import (
    JPEG_QUALITY,
    MIN_JPEG_QUALITY,
    EncodeJob,
    Unreadable,
    check_png,
    encode_job,
    inspect_bytes,
    inspect_file,
    photo_quality,
)

EXIF_ROTATED = 6


def diagram(size: tuple[int, int] = (800, 600)) -> Image.Image:
    """Flat colours: a picture kept as PNG."""
    picture = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(picture)
    draw.rectangle((0, 0, size[0] // 4, size[1] // 4), fill="red")
    draw.ellipse((size[0] // 2, size[1] // 3, size[0] - 40, size[1] - 40), fill="blue")
    return picture


def photo(size: tuple[int, int], seed: int, grain: int) -> Image.Image:
    """Smooth shapes under random grain of a given strength: a photo, busy or calm."""
    rng = random.Random(seed)
    coarse = Image.frombytes("RGB", (16, 12), rng.randbytes(16 * 12 * 3))
    smooth = coarse.resize(size, Image.Resampling.BICUBIC)
    noise = Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))
    return Image.blend(smooth, noise, grain / 100)


def png_data(picture: Image.Image, **save: object) -> bytes:
    out = io.BytesIO()
    picture.save(out, "PNG", **save)
    return out.getvalue()


def chunk(kind: bytes, body: bytes) -> bytes:
    return (struct.pack(">I", len(body)) + kind + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))


def with_chunk_before_iend(data: bytes, kind: bytes, body: bytes) -> bytes:
    end = data.rindex(b"IEND") - 4
    return data[:end] + chunk(kind, body) + data[end:]


def exif_orientation(value: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = value
    return exif.tobytes()


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The format of every picture Pillow decodes from now on."""
    decoded: list[str] = []
    real_load = ImageFile.ImageFile.load

    def spy(self: ImageFile.ImageFile) -> object:
        if self.tile:
            decoded.append(self.format or "")
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    return decoded


# --- PNG: checked chunk by chunk, never decoded unless it must change -------------------------


def test_check_png_reads_the_size_and_late_metadata() -> None:
    data = png_data(diagram((320, 200)))
    assert check_png(data) == images.PngLayout((320, 200), late_metadata=False)
    late = with_chunk_before_iend(data, b"tEXt", b"Comment\x00after the pixels")
    assert check_png(late).late_metadata


@pytest.mark.parametrize(("damage", "problem"), [
    (lambda data: data[: len(data) // 2], "truncated PNG file"),
    (lambda data: data[:-12], "truncated PNG file: no IEND"),
    (lambda data: data[:60] + bytes([data[60] ^ 1]) + data[61:], "bad checksum"),
    (lambda data: data[:8] + chunk(b"IEND", b""), "no IHDR"),
    (lambda data: data[:33] + chunk(b"IEND", b""), "without pixel data"),
    (lambda data: data[:37] + b"\x00\x01" + data[39:], "broken PNG file"),
])
def test_check_png_refuses_a_damaged_file(damage: Callable[[bytes], bytes],
                                          problem: str) -> None:
    data = png_data(Image.frombytes("RGB", (64, 64), random.Random(3).randbytes(64 * 64 * 3)))
    with pytest.raises(Unreadable, match=problem):
        check_png(damage(data))


def test_inspecting_a_png_decodes_nothing(tmp_path: Path, loads: list[str]) -> None:
    diagram().save(tmp_path / "a.png")
    found = inspect_file(tmp_path / "a.png")
    assert (found.kind, found.stored_size, found.orientation) == ("PNG", (800, 600), 1)
    assert loads == []


def test_a_png_oriented_after_its_pixels_is_still_turned(tmp_path: Path) -> None:
    data = png_data(diagram())
    tiff = exif_orientation(EXIF_ROTATED).removeprefix(b"Exif\x00\x00")
    (tmp_path / "late.png").write_bytes(with_chunk_before_iend(data, b"eXIf", tiff))
    assert inspect_file(tmp_path / "late.png").orientation == EXIF_ROTATED
    (tmp_path / "early.png").write_bytes(png_data(diagram(), exif=exif_orientation(8)))
    assert inspect_file(tmp_path / "early.png").orientation == 8
    xmp = PngImagePlugin.PngInfo()
    xmp.add_itxt("XML:com.adobe.xmp", '<rdf:Description tiff:Orientation="3"/>')
    assert inspect_bytes(png_data(diagram(), pnginfo=xmp)).orientation == 3


def test_a_small_png_is_embedded_without_decoding(tmp_path: Path, loads: list[str]) -> None:
    diagram().save(tmp_path / "a.png")
    source = inspect_file(tmp_path / "a.png")
    encoded = encode_job(EncodeJob(source, (400, 300)))
    assert encoded.data == (tmp_path / "a.png").read_bytes() and encoded.extension == "png"
    assert loads == []


def test_a_png_damaged_after_inspection_is_not_embedded(tmp_path: Path) -> None:
    diagram().save(tmp_path / "a.png")
    source = inspect_file(tmp_path / "a.png")
    data = (tmp_path / "a.png").read_bytes()
    (tmp_path / "a.png").write_bytes(data[:100] + bytes([data[100] ^ 0xFF]) + data[101:])
    encoded = encode_job(EncodeJob(source, (400, 300)))
    assert not encoded.data and "bad checksum" in encoded.problem


def test_a_png_replaced_after_inspection_is_not_embedded(tmp_path: Path) -> None:
    diagram().save(tmp_path / "a.png")
    source = inspect_file(tmp_path / "a.png")
    diagram((400, 600)).save(tmp_path / "a.png")
    encoded = encode_job(EncodeJob(source, (400, 300)))
    assert not encoded.data and "changed" in encoded.problem


# --- photos: the quality chosen from a sample of rows --------------------------------------


def full_search_quality(picture: Image.Image, budget: float) -> int:
    """The quality encoding the whole picture at each step would choose."""
    quality = JPEG_QUALITY
    while quality > MIN_JPEG_QUALITY:
        out = io.BytesIO()
        picture.save(out, "JPEG", quality=quality)
        if out.tell() <= budget:
            break
        quality -= 5
    return quality


@pytest.mark.parametrize(("grain", "seed"), [(4, 1), (12, 2), (25, 3), (40, 4)])
def test_photo_quality_from_a_sample_matches_encoding_the_whole(grain: int,
                                                                seed: int) -> None:
    picture = photo((1200, 800), seed, grain)
    sizes = {}
    for quality in range(MIN_JPEG_QUALITY, JPEG_QUALITY + 1, 5):
        out = io.BytesIO()
        picture.save(out, "JPEG", quality=quality)
        sizes[quality] = out.tell()
    # halfway between the sizes at two qualities; just above the size at one (the sample's
    # estimate of these uniformly busy photos is within 1.5%); beyond either end
    budgets = [(sizes[quality] + sizes[quality + 5]) / 2
               for quality in range(MIN_JPEG_QUALITY, JPEG_QUALITY, 5)]
    budgets += [size * 1.025 for size in sizes.values()]
    budgets += [sizes[JPEG_QUALITY] * 1.2, sizes[MIN_JPEG_QUALITY] * 0.8]
    for budget in budgets:
        assert photo_quality(picture, budget) == full_search_quality(picture, budget)


def test_photo_quality_encodes_an_eighth_of_a_large_photo(
        monkeypatch: pytest.MonkeyPatch) -> None:
    picture = photo((1500, 1000), 5, 30)
    encoded_rows: list[int] = []
    real_save = Image.Image.save

    def spy(self: Image.Image, *args: object, **kwargs: object) -> None:
        encoded_rows.append(self.height)
        real_save(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Image.Image, "save", spy)
    photo_quality(picture, 0)
    assert len(encoded_rows) == (JPEG_QUALITY - MIN_JPEG_QUALITY) // 5
    assert all(rows <= 1000 / 7 for rows in encoded_rows)


def test_a_small_photo_is_its_own_sample() -> None:
    picture = photo((200, 120), 6, 30)
    assert photo_quality(picture, 1e9) == JPEG_QUALITY
    assert photo_quality(picture, 0) == MIN_JPEG_QUALITY


# --- encoding while the slides are rendered -------------------------------------------------


def photo_note(folder: Path, count: int, truncated: int | None = None) -> Path:
    """A note of `count` slides with a 2400 × 1600 JPEG each; one of them cut short (which
    only decoding finds)."""
    for number in range(count):
        path = folder / f"p{number}.jpg"
        photo((2400, 1600), number, 10).save(path, quality=90)
        if number == truncated:
            path.write_bytes(path.read_bytes()[:20_000])
    lines = ["# Photos", ""]
    for number in range(count):
        lines += [f"## Photo {number}", "", f"![photo {number}](p{number}.jpg)", "",
                  "Some words beside it.", ""]
    note = folder / "notes.md"
    note.write_text("\n".join(lines), encoding="utf-8")
    return note


def test_planning_waits_for_the_pictures_unless_asked_not_to(tmp_path: Path) -> None:
    note = photo_note(tmp_path, 5, truncated=3)
    diagnostics = Diagnostics()
    plan_build(BuildOptions(note, tmp_path / "a.pptx"), diagnostics)
    assert any("truncated" in item.message for item in diagnostics.warnings)

    later = Diagnostics()
    plan = plan_build(BuildOptions(note, tmp_path / "b.pptx"), later,
                      encode_while_rendering=True)
    assert not later.warnings  # the pool is still decoding
    write_deck(plan)
    [warning] = later.warnings
    assert warning.line == 5 + 3 * 6 and "truncated" in warning.message
    assert sum(shape.name.endswith("placeholder") for slide in plan.slides
               for shape in slide.shapes) == 1
    assert not multiprocessing.active_children()


def test_encoding_while_rendering_writes_the_same_deck(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    note = photo_note(tmp_path, 6, truncated=2)
    first = write_deck(plan_build(BuildOptions(note, tmp_path / "a.pptx"), Diagnostics()))
    second = write_deck(plan_build(BuildOptions(note, tmp_path / "b.pptx"), Diagnostics(),
                                   encode_while_rendering=True))
    with zipfile.ZipFile(first.output) as one, zipfile.ZipFile(second.output) as other:
        assert one.namelist() == other.namelist()
        assert all(one.read(name) == other.read(name) for name in one.namelist())


def test_the_pool_starts_before_the_pictures_are_asked_for(tmp_path: Path) -> None:
    note = photo_note(tmp_path, 5)
    plan = plan_build(BuildOptions(note, tmp_path / "a.pptx"), Diagnostics(),
                      encode_while_rendering=True)
    workers = min(5, images._cores())
    try:
        assert len(multiprocessing.active_children()) == (workers if workers > 1 else 0)
    finally:
        plan.pictured.close()
    assert not multiprocessing.active_children()
