"""The picture pipeline's cheap paths: PNG checks without decoding, the photo quality chosen
from a sample, and pictures encoded while the slides that need them are rendered."""

from __future__ import annotations

import io
import multiprocessing
import random
import re
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
    assert check_png(data) == images.PngLayout((320, 200), late_metadata=False,
                                               plain_mode="RGB")
    late = with_chunk_before_iend(data, b"tEXt", b"Comment\x00after the pixels")
    assert check_png(late).late_metadata


def with_header(data: bytes, depth: int, colour: int, *, compression: int = 0,
                filtering: int = 0, interlace: int = 0) -> bytes:
    """The PNG with its IHDR rewritten (its pixel data no longer matches: only the header
    is read)."""
    width, height = struct.unpack_from(">II", data, 16)
    header = struct.pack(">IIBBBBB", width, height, depth, colour, compression, filtering,
                         interlace)
    return data[:8] + chunk(b"IHDR", header) + data[33:]


def png_variants() -> dict[str, bytes]:
    """PNGs of every mode and the chunks that decide whether the header is enough."""
    rgb = diagram((160, 120))
    variants = {mode: png_data(rgb.convert(mode)) for mode in ("1", "L", "LA", "P", "RGB",
                                                                "RGBA", "I;16")}
    for bits in (1, 2, 4):
        variants[f"P{bits}"] = png_data(rgb.convert("P", colors=2 ** bits), bits=bits)
    variants["L+tRNS"] = png_data(rgb.convert("L"), transparency=255)
    variants["RGB+tRNS"] = png_data(rgb, transparency=(255, 255, 255))
    variants["P+tRNS"] = png_data(rgb.convert("P"), transparency=0)
    text = PngImagePlugin.PngInfo()
    text.add_text("Software", "a drawing program")
    variants["tEXt"] = png_data(rgb, pnginfo=text)
    raw_exif = PngImagePlugin.PngInfo()
    hexed = exif_orientation(EXIF_ROTATED).hex()
    raw_exif.add_text("Raw profile type exif", f"\nexif\n{len(hexed) // 2}\n{hexed}")
    variants["raw profile exif"] = png_data(rgb, pnginfo=raw_exif)
    xmp = PngImagePlugin.PngInfo()
    xmp.add_itxt("XML:com.adobe.xmp", '<x:xmpmeta><rdf:Description tiff:Orientation="8"/>'
                 "</x:xmpmeta>")
    variants["XMP"] = png_data(rgb, pnginfo=xmp)
    compressed = PngImagePlugin.PngInfo()
    compressed.add_text("Comment", "squeezed", zip=True)
    variants["zTXt"] = png_data(rgb, pnginfo=compressed)
    variants["eXIf"] = png_data(rgb, exif=exif_orientation(EXIF_ROTATED))
    variants["late eXIf"] = with_chunk_before_iend(png_data(rgb), b"eXIf",
                                                   exif_orientation(EXIF_ROTATED))
    frames = io.BytesIO()
    rgb.save(frames, "PNG", save_all=True, append_images=[rgb.rotate(90)], duration=100)
    variants["APNG"] = frames.getvalue()
    plain = png_data(rgb)
    for depth, colour in ((16, 2), (16, 4), (16, 6), (8, 4), (2, 0), (4, 3), (3, 0),
                          (16, 3), (8, 1), (8, 5)):
        variants[f"header {depth}/{colour}"] = with_header(plain, depth, colour)
    variants["interlaced"] = with_header(plain, 8, 2, interlace=1)
    width, height = struct.unpack_from(">II", plain, 16)
    variants["no width"] = plain[:8] + chunk(b"IHDR", struct.pack(">IIBBBBB", 0, height, 8, 2,
                                                                  0, 0, 0)) + plain[33:]
    variants["no height"] = plain[:8] + chunk(b"IHDR", struct.pack(">IIBBBBB", width, 0, 8, 2,
                                                                   0, 0, 0)) + plain[33:]
    small = with_header(plain, 8, 0)
    variants["two headers"] = plain[:33] + small[8:33] + plain[33:]
    for kind, body in ((b"gAMA", b"\x00\x01"), (b"pHYs", b"\x00"), (b"sRGB", b""),
                       (b"iCCP", b"profile\x00\x01not deflated"), (b"prVt", b"private"),
                       (b"tRNS", b"\x00")):
        variants[f"{kind.decode()} first"] = plain[:33] + chunk(kind, body) + plain[33:]
    for keyword, value in ((b"exif", exif_orientation(EXIF_ROTATED)),
                           (b"xmp", b'<rdf:Description tiff:Orientation="6"/>')):
        before = plain[:33] + chunk(b"tEXt", keyword + b"\x00" + value) + plain[33:]
        variants[f"tEXt {keyword.decode()}"] = before
        variants[f"late tEXt {keyword.decode()}"] = with_chunk_before_iend(
            plain, b"tEXt", keyword + b"\x00" + value)
    variants["late zTXt"] = with_chunk_before_iend(plain, b"zTXt", b"Comment\x00\x00x")
    variants["filter 1"] = with_header(plain, 8, 2, filtering=1)
    variants["compression 1"] = with_header(plain, 8, 2, compression=1)
    return variants


def inspected(data: bytes) -> object:
    try:
        return inspect_bytes(data)
    except Unreadable as error:  # the same error, but for the address of Pillow's stream
        return "Unreadable: " + re.sub(r" at 0x[0-9a-f]+", "", str(error))


def test_a_png_read_from_its_header_is_what_pillow_reads(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Format, size, mode, orientation and animation of a PNG without EXIF, XMP, compressed
    text or animation come from its header alone, exactly as Pillow would give them."""
    variants = png_variants()
    from_header = {name: inspected(data) for name, data in variants.items()}
    plain = {name for name, data in variants.items() if check_png(data).plain_mode}
    assert plain == {"1", "L", "LA", "P", "RGB", "RGBA", "I;16", "P1", "P2", "P4", "tEXt",
                     "header 16/2", "header 16/4", "header 16/6", "header 8/4", "header 2/0",
                     "header 4/3", "interlaced", "late zTXt"}
    monkeypatch.setattr(images, "PNG_MODES", {})  # every PNG read by Pillow
    assert not any(check_png(data).plain_mode for data in variants.values())
    from_pillow = {name: inspected(data) for name, data in variants.items()}
    assert from_header == from_pillow
    assert from_pillow["raw profile exif"].orientation == EXIF_ROTATED  # type: ignore[union-attr]
    assert from_pillow["XMP"].orientation == 8  # type: ignore[union-attr]
    assert from_pillow["APNG"].animated  # type: ignore[union-attr]
    assert str(from_pillow["header 3/0"]).startswith("Unreadable")
    assert str(from_pillow["no width"]).startswith("Unreadable")
    assert from_pillow["tEXt exif"].orientation == EXIF_ROTATED  # type: ignore[union-attr]
    assert from_pillow["late tEXt exif"].orientation == EXIF_ROTATED  # type: ignore[union-attr]


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
