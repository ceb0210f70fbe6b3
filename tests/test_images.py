"""The image pipeline: every format, normalised, downscaled to its placed size, bad files."""

from __future__ import annotations

import base64
import io
import os
import random
import struct
import unicodedata
import warnings
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import CliResult, run_main
from PIL import Image, ImageDraw, JpegImagePlugin
from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE
from pptx.presentation import Presentation as PresentationType

from deckgen import images
from deckgen.cli import IMAGE_DPI
from deckgen.errors import Diagnostics
from deckgen.images import (
    DEFAULT_DPI,
    MAX_PIXELS,
    OUTSIDE,
    EncodeJob,
    ImageSource,
    PreparedImage,
    Unreadable,
    decode_data_uri,
    encode_images,
    encode_job,
    inspect_bytes,
    inspect_file,
    looks_like_photo,
    normalise,
    pool_size,
    prepare_image,
    resolve_image_path,
    run_jobs,
    target_pixels,
)
from deckgen.layout import Box, PictureShape
from deckgen.model import Image as ImageRef

EMU_PER_INCH = 914400
#: The line of the picture in `notes_with()`'s Markdown.
PICTURE_LINE = 5
HAS_CAIROSVG = images._cairosvg() is not None


# --- helpers ----------------------------------------------------------------------------------


def notes_with(*sources: str, text: str = "") -> str:
    """Markdown with one slide per picture; the first picture is on line PICTURE_LINE."""
    lines = ["# Pictures", ""]
    for number, src in enumerate(sources, start=1):
        lines += [f"## Slide {number}", "", f"![picture {number}]({src})", ""]
        if text:
            lines += [text, ""]
    return "\n".join(lines)


def build(folder: Path, markdown: str, *extra: str | Path) -> tuple[CliResult, Path]:
    """Write notes.md into `folder`, build it with deckgen.cli.main, return the result."""
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / "notes.md"
    source.write_text(markdown, encoding="utf-8")
    out = folder / "notes.pptx"
    result = run_main("build", source, "-o", out, "--resource-path", folder, *extra)
    assert result.code == 0, result.stderr
    return result, out


def deck_pictures(deck: Path) -> list[Any]:
    """Every picture shape of a deck, slide by slide."""
    prs: PresentationType = Presentation(str(deck))
    return [shape for slide in prs.slides for shape in slide.shapes
            if shape.shape_type == MSO_SHAPE_TYPE.PICTURE]


def deck_placeholders(deck: Path) -> list[Any]:
    """Every picture placeholder (a dashed box naming the picture) of a deck."""
    prs: PresentationType = Presentation(str(deck))
    return [shape for slide in prs.slides for shape in slide.shapes
            if shape.name.endswith("placeholder")]


def embedded(picture: Any) -> Image.Image:
    """The picture a shape embeds, decoded."""
    decoded = Image.open(io.BytesIO(picture.image.blob))
    decoded.load()
    return decoded


def placed_pixels(picture: Any, dpi: int = DEFAULT_DPI) -> tuple[float, float]:
    """The pixels a placed picture needs at `dpi`."""
    return picture.width / EMU_PER_INCH * dpi, picture.height / EMU_PER_INCH * dpi


def media(deck: Path) -> list[zipfile.ZipInfo]:
    with zipfile.ZipFile(deck) as archive:
        return [info for info in archive.infolist() if info.filename.startswith("ppt/media/")]


def warning_at(result: CliResult, source: Path, line: int, *words: str) -> str:
    """The warning printed for `source:line` that holds every word (fails if none)."""
    prefix = f"{source}:{line}: warning: "
    for printed in result.stderr.splitlines():
        if printed.startswith(prefix) and all(word in printed for word in words):
            return printed
    raise AssertionError(f"no warning at {prefix!r} with {words}; got:\n{result.stderr}")


def close(colour: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(colour, expected, strict=False))


def diagram(size: tuple[int, int] = (640, 480), mode: str = "RGB") -> Image.Image:
    """A flat-coloured drawing: white, a red top-left block, a blue disc."""
    background = (255, 255, 255, 0) if mode == "RGBA" else "white"
    picture = Image.new(mode, size, background)
    draw = ImageDraw.Draw(picture)
    width, height = size
    draw.rectangle((0, 0, width // 4, height // 4), fill="red")
    draw.ellipse((width // 2, height // 3, width * 7 // 8, height * 5 // 6), fill="blue")
    return picture


def noise(size: tuple[int, int], seed: int = 1, mode: str = "RGB") -> Image.Image:
    """Random pixels: a photo as far as colour statistics go."""
    bands = len(mode)
    data = random.Random(seed).randbytes(size[0] * size[1] * bands)
    return Image.frombytes(mode, size, data)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def png_bytes(width: int, height: int, bit_depth: int, colour_type: int,
              rows: bytes = b"") -> bytes:
    """A PNG written by hand: any header, any pixel data (or a token IDAT)."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header)
            + png_chunk(b"IDAT", zlib.compress(rows or b"\x00" * 16))
            + png_chunk(b"IEND", b""))


def ref(src: str, line: int = 3) -> ImageRef:
    return ImageRef(src=src, alt="", line=line)


@pytest.fixture(scope="session")
def huge_photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 12000 × 9000 JPEG photo with a red top-left corner, drawn once per session."""
    folder = tmp_path_factory.mktemp("huge")
    gradient = Image.linear_gradient("L")
    small = Image.merge("RGB", (gradient, gradient.rotate(90), noise((256, 256), mode="L")))
    photo = small.resize((12000, 9000), Image.Resampling.NEAREST)
    photo.paste((255, 0, 0), (0, 0, 1500, 1500))
    path = folder / "huge.jpg"
    photo.save(path, quality=90)
    return path


# --- every format -----------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "save", "shown_as"), [
    ("drawing.png", {}, "PNG"),
    ("drawing.jpg", {"quality": 92}, "JPEG"),
    ("drawing.bmp", {}, "PNG"),
    ("drawing.tiff", {"compression": "tiff_lzw"}, "PNG"),
    ("drawing.webp", {"lossless": True}, "PNG"),
    ("lossy.webp", {"quality": 80}, "PNG"),
])
def test_each_format_is_embedded_as_png_or_jpeg(tmp_path: Path, name: str,
                                                save: dict[str, object], shown_as: str) -> None:
    diagram().save(tmp_path / name, **save)
    result, deck = build(tmp_path, notes_with(name))
    assert "warning" not in result.stderr
    [picture] = deck_pictures(deck)
    shown = embedded(picture)
    assert shown.format == shown_as
    assert shown.size == (640, 480)
    assert close(shown.convert("RGB").getpixel((10, 10)), (255, 0, 0))
    assert close(shown.convert("RGB").getpixel((600, 20)), (255, 255, 255))


def test_photo_in_webp_or_tiff_becomes_jpeg(tmp_path: Path) -> None:
    noise((800, 600)).save(tmp_path / "photo.webp", quality=90)
    noise((800, 600), seed=2).save(tmp_path / "photo.tiff")
    _, deck = build(tmp_path, notes_with("photo.webp", "photo.tiff"))
    assert [embedded(picture).format for picture in deck_pictures(deck)] == ["JPEG", "JPEG"]


def test_animated_gif_shows_its_first_frame_as_png(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (320, 240), colour) for colour in ("red", "lime", "blue")]
    frames[0].save(tmp_path / "moving.gif", save_all=True, append_images=frames[1:],
                   duration=100, loop=0)
    _, deck = build(tmp_path, notes_with("moving.gif"))
    [picture] = deck_pictures(deck)
    shown = embedded(picture)
    assert shown.format == "PNG" and shown.size == (320, 240)
    assert not getattr(shown, "is_animated", False)
    assert close(shown.convert("RGB").getpixel((160, 120)), (255, 0, 0), 0)


def test_gif_transparency_is_kept(tmp_path: Path) -> None:
    picture = Image.new("P", (200, 100), 0)
    picture.putpalette([255, 255, 255, 255, 0, 0] + [0] * 762)
    ImageDraw.Draw(picture).rectangle((50, 25, 150, 75), fill=1)
    picture.save(tmp_path / "cut.gif", transparency=0)
    _, deck = build(tmp_path, notes_with("cut.gif"))
    shown = embedded(deck_pictures(deck)[0]).convert("RGBA")
    assert shown.getpixel((5, 5))[3] == 0
    assert shown.getpixel((100, 50)) == (255, 0, 0, 255)


@pytest.mark.skipif(not HAS_CAIROSVG, reason="cairosvg is not installed")
def test_svg_is_rasterised_at_its_placed_size(tmp_path: Path) -> None:
    (tmp_path / "shape.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="400" height="200" '
        'viewBox="0 0 40 20"><rect width="20" height="20" fill="red"/></svg>',
        encoding="utf-8")
    result, deck = build(tmp_path, notes_with("shape.svg"))
    assert "warning" not in result.stderr
    [picture] = deck_pictures(deck)
    shown = embedded(picture)
    assert shown.format == "PNG" and shown.mode == "RGBA"
    assert picture.width == pytest.approx(2 * picture.height, rel=0.01)
    wanted_w, wanted_h = placed_pixels(picture)
    assert abs(shown.width - wanted_w) <= 2 and abs(shown.height - wanted_h) <= 2
    assert shown.getpixel((5, 5)) == (255, 0, 0, 255)
    assert shown.getpixel((shown.width - 5, 5))[3] == 0


@pytest.mark.skipif(not HAS_CAIROSVG, reason="cairosvg is not installed")
def test_svg_fetches_no_outside_file(tmp_path: Path) -> None:
    secret = tmp_path / "elsewhere" / "secret.png"
    secret.parent.mkdir()
    Image.new("RGB", (10, 10), "lime").save(secret)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "sneaky.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" '
        'xmlns:xlink="http://www.w3.org/1999/xlink" width="100" height="100">'
        f'<image xlink:href="file://{secret}" width="100" height="100"/></svg>',
        encoding="utf-8")
    _, deck = build(tmp_path / "notes", notes_with("sneaky.svg"))
    shown = embedded(deck_pictures(deck)[0]).convert("RGBA")
    assert shown.getpixel((50, 50))[3] == 0


def test_svg_without_cairosvg_is_a_placeholder_and_a_warning(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(images, "_cairosvg", lambda: None)
    (tmp_path / "shape.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"/>', encoding="utf-8")
    result, deck = build(tmp_path, notes_with("shape.svg"))
    warning_at(result, tmp_path / "notes.md", PICTURE_LINE, "shape.svg",
               "cairosvg is not installed", "deckgen[svg]")
    assert not deck_pictures(deck)
    assert len(deck_placeholders(deck)) == 1


# --- normalising --------------------------------------------------------------------------------


def test_exif_rotated_jpeg_is_embedded_upright(tmp_path: Path) -> None:
    stored = Image.new("RGB", (400, 200), "white")
    stored.paste((255, 0, 0), (0, 0, 100, 50))  # top left as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # the camera was turned: show rotated 90° clockwise
    stored.save(tmp_path / "turned.jpg", quality=95, exif=exif.tobytes())
    _, deck = build(tmp_path, notes_with("turned.jpg"))
    [picture] = deck_pictures(deck)
    assert picture.height > picture.width
    shown = embedded(picture).convert("RGB")
    assert shown.size == (200, 400)
    assert close(shown.getpixel((190, 10)), (255, 0, 0))  # now top right
    assert close(shown.getpixel((10, 10)), (255, 255, 255))
    assert embedded(picture).getexif().get(0x0112, 1) == 1


def test_cmyk_jpeg_is_embedded_as_rgb(tmp_path: Path) -> None:
    Image.new("CMYK", (300, 200), (0, 255, 255, 0)).save(tmp_path / "print.jpg", quality=95)
    _, deck = build(tmp_path, notes_with("print.jpg"))
    shown = embedded(deck_pictures(deck)[0])
    assert shown.format == "JPEG" and shown.mode == "RGB"
    assert close(shown.getpixel((150, 100)), (255, 0, 0), 50)


def test_16_bit_grey_png_becomes_8_bit(tmp_path: Path) -> None:
    values = b"".join(struct.pack("<H", column * 257) for column in range(256)) * 64
    Image.frombytes("I;16", (256, 64), values).save(tmp_path / "deep.png")
    assert (tmp_path / "deep.png").read_bytes()[24] == 16
    _, deck = build(tmp_path, notes_with("deep.png"))
    [picture] = deck_pictures(deck)
    assert picture.image.blob[24] == 8
    shown = embedded(picture)
    assert shown.mode in ("L", "P")
    assert abs(shown.convert("L").getpixel((200, 30)) - 200) <= 1


def test_16_bit_rgb_png_becomes_8_bit(tmp_path: Path) -> None:
    pixel = struct.pack(">HHH", 0xFFFF, 0x8000, 0)
    rows = b"".join(b"\x00" + pixel * 64 for _ in range(32))
    (tmp_path / "deep.png").write_bytes(png_bytes(64, 32, 16, 2, rows))
    _, deck = build(tmp_path, notes_with("deep.png"))
    [picture] = deck_pictures(deck)
    assert picture.image.blob[24] == 8
    assert close(embedded(picture).convert("RGB").getpixel((10, 10)), (255, 128, 0), 1)


def test_rgba_png_keeps_its_alpha(tmp_path: Path) -> None:
    diagram(mode="RGBA").save(tmp_path / "cut.png")
    _, deck = build(tmp_path, notes_with("cut.png"))
    shown = embedded(deck_pictures(deck)[0])
    assert shown.format == "PNG" and shown.mode == "RGBA"
    assert shown.getpixel((600, 20))[3] == 0
    assert shown.getpixel((10, 10)) == (255, 0, 0, 255)


def test_rgba_kept_when_converted_and_downscaled(tmp_path: Path) -> None:
    big = noise((3000, 2000), mode="RGBA")
    big.putalpha(Image.linear_gradient("L").resize((3000, 2000)))
    big.save(tmp_path / "cut.tiff")
    _, deck = build(tmp_path, notes_with("cut.tiff"))
    [picture] = deck_pictures(deck)
    shown = embedded(picture)
    assert shown.format == "PNG" and shown.mode == "RGBA"
    assert shown.width < 3000
    assert shown.getpixel((10, 2))[3] < 10 and shown.getpixel((10, shown.height - 2))[3] > 245


# --- downscaling ----------------------------------------------------------------------------


def test_huge_photo_is_downscaled_to_its_placed_size(tmp_path: Path, huge_photo: Path) -> None:
    result, deck = build(tmp_path, notes_with(str(huge_photo)), "--resource-path",
                         huge_photo.parent)
    assert "warning" not in result.stderr
    [picture] = deck_pictures(deck)
    shown = embedded(picture)
    wanted_w, wanted_h = placed_pixels(picture)
    assert shown.format == "JPEG"
    assert abs(shown.width - wanted_w) <= 2 and abs(shown.height - wanted_h) <= 2
    assert shown.width < 3000
    assert close(shown.getpixel((5, 5)), (255, 0, 0))
    assert deck.stat().st_size < min(1_000_000, huge_photo.stat().st_size / 4)


def test_image_dpi_option_sets_the_embedded_resolution(tmp_path: Path) -> None:
    noise((3000, 2000)).save(tmp_path / "photo.jpg", quality=90)
    _, deck = build(tmp_path, notes_with("photo.jpg"), "--image-dpi", "96")
    [picture] = deck_pictures(deck)
    shown = embedded(picture)
    wanted_w, _ = placed_pixels(picture, 96)
    assert abs(shown.width - wanted_w) <= 2


@pytest.mark.parametrize("value", ["0", "12", "5000", "many"])
def test_image_dpi_out_of_range_is_a_usage_error(tmp_path: Path, value: str) -> None:
    (tmp_path / "notes.md").write_text("# A\n", encoding="utf-8")
    result = run_main("build", tmp_path / "notes.md", "--image-dpi", value)
    assert result.code == 2
    assert "--image-dpi" in result.stderr


def test_cli_default_dpi_is_the_image_default() -> None:
    assert IMAGE_DPI == DEFAULT_DPI == 220


def test_photo_becomes_jpeg_and_screenshot_stays_png(tmp_path: Path) -> None:
    noise((2400, 1600)).save(tmp_path / "photo.png")
    diagram((2400, 1600)).save(tmp_path / "shot.png", compress_level=0)
    _, deck = build(tmp_path, notes_with("photo.png", "shot.png"))
    photo, shot = (embedded(picture) for picture in deck_pictures(deck))
    assert photo.format == "JPEG" and photo.width < 2400
    assert shot.format == "PNG" and shot.width < 2400


def test_small_portable_picture_keeps_its_bytes(tmp_path: Path) -> None:
    diagram().save(tmp_path / "small.png")
    _, deck = build(tmp_path, notes_with("small.png"))
    assert deck_pictures(deck)[0].image.blob == (tmp_path / "small.png").read_bytes()


def test_same_picture_twice_is_stored_once(tmp_path: Path) -> None:
    noise((3000, 2000)).save(tmp_path / "photo.jpg", quality=90)
    _, deck = build(tmp_path, notes_with("photo.jpg", "./photo.jpg", "photo.jpg",
                                         text="Some words beside it."))
    assert len(deck_pictures(deck)) == 3
    assert len(media(deck)) == 1


# --- bad files --------------------------------------------------------------------------------


@pytest.mark.parametrize(("width", "height"), [(100_000, 100_000), (12_000, 11_000)])
def test_decompression_bomb_is_refused(tmp_path: Path, width: int, height: int) -> None:
    (tmp_path / "bomb.png").write_bytes(png_bytes(width, height, 8, 2))
    result, deck = build(tmp_path, notes_with("bomb.png"))
    warning_at(result, tmp_path / "notes.md", PICTURE_LINE, "bomb.png", "refused",
               f"{MAX_PIXELS:,}")
    assert not deck_pictures(deck) and len(deck_placeholders(deck)) == 1


def test_truncated_png_is_a_placeholder(tmp_path: Path) -> None:
    noise((300, 200)).save(tmp_path / "cut.png")
    data = (tmp_path / "cut.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    result, deck = build(tmp_path, notes_with("cut.png"))
    warning_at(result, tmp_path / "notes.md", PICTURE_LINE, "cut.png", "cannot be read")
    assert not deck_pictures(deck) and len(deck_placeholders(deck)) == 1


@pytest.mark.parametrize("size", [(600, 400), (3000, 2000)])
def test_truncated_jpeg_is_a_placeholder(tmp_path: Path, size: tuple[int, int]) -> None:
    noise(size).save(tmp_path / "cut.jpg", quality=90)
    data = (tmp_path / "cut.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    result, deck = build(tmp_path, notes_with("cut.jpg"))
    warning_at(result, tmp_path / "notes.md", PICTURE_LINE, "cut.jpg", "truncated")
    assert not deck_pictures(deck)
    [placeholder] = deck_placeholders(deck)
    assert "cut.jpg" in placeholder.text_frame.text


def test_garbage_file_is_a_placeholder(tmp_path: Path) -> None:
    (tmp_path / "fake.png").write_bytes(b"this is not a picture at all")
    result, deck = build(tmp_path, notes_with("fake.png"))
    warning_at(result, tmp_path / "notes.md", PICTURE_LINE, "fake.png",
               "cannot be read (not a picture deckgen recognises, such as PNG, JPEG,")
    assert len(deck_placeholders(deck)) == 1


def test_a_png_of_no_width_is_a_placeholder(tmp_path: Path) -> None:
    """Its header is read without Pillow, which refuses such a file: so must the header."""
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(out, "PNG")
    data = out.getvalue()
    header = b"IHDR" + struct.pack(">IIBBBBB", 0, 30, 8, 2, 0, 0, 0)
    data = (data[:8] + struct.pack(">I", 13) + header
            + struct.pack(">I", zlib.crc32(header) & 0xFFFFFFFF) + data[33:])
    (tmp_path / "flat.png").write_bytes(data)
    result, deck = build(tmp_path, notes_with("flat.png"))
    warning_at(result, tmp_path / "notes.md", PICTURE_LINE, "flat.png", "cannot be read")
    assert len(deck_placeholders(deck)) == 1


def test_pillow_warnings_are_said_at_the_picture_line(tmp_path: Path) -> None:
    """Pillow warns of an APNG without frames, and keeps its default picture: the warning
    comes as deckgen's own, at the picture's line, not as a Python warning."""
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(out, "PNG")
    data = out.getvalue()
    control = b"acTL" + struct.pack(">II", 0, 0)
    data = (data[:33] + struct.pack(">I", 8) + control
            + struct.pack(">I", zlib.crc32(control) & 0xFFFFFFFF) + data[33:])
    (tmp_path / "frames.png").write_bytes(data)
    with warnings.catch_warnings(record=True) as escaped:
        warnings.simplefilter("always")
        result, deck = build(tmp_path, notes_with("frames.png"))
    warning_at(result, tmp_path / "notes.md", PICTURE_LINE, "frames.png",
               "Invalid APNG, will use default PNG image if possible")
    assert not [warning for warning in escaped if "APNG" in str(warning.message)]
    assert len(deck_pictures(deck)) == 1


def test_warnings_while_encoding_are_kept_with_the_outcome(
        monkeypatch: pytest.MonkeyPatch) -> None:
    source = images.ImageSource(None, b"", "PNG", "RGB", (10, 10), warnings=("known",))

    def warning_encoder(found: images.ImageSource, target: tuple[int, int]) -> images.Encoded:
        warnings.warn("known", UserWarning, stacklevel=1)
        warnings.warn("Corrupt   EXIF\ndata", UserWarning, stacklevel=1)
        return images.Encoded(b"x", "png", (10, 10))

    monkeypatch.setattr(images, "_encode", warning_encoder)
    outcome = images.encode_job(images.EncodeJob(source, (10, 10)))
    assert outcome.warnings == ("Corrupt EXIF data",)  # one line; the header's not again


def test_garbage_in_a_data_uri_is_named_without_python_objects() -> None:
    with pytest.raises(Unreadable) as refused:
        inspect_bytes(b"hello world")
    assert str(refused.value).startswith("cannot be read (not a picture deckgen recognises")
    assert "0x" not in str(refused.value) and "BytesIO" not in str(refused.value)


def test_directory_named_like_a_picture_is_a_placeholder(tmp_path: Path) -> None:
    (tmp_path / "x.png").mkdir()
    result, deck = build(tmp_path, notes_with("x.png"))
    warning_at(result, tmp_path / "notes.md", PICTURE_LINE, "x.png", "directory")
    assert len(deck_placeholders(deck)) == 1


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root reads every file")
def test_unreadable_file_is_a_placeholder(tmp_path: Path) -> None:
    diagram().save(tmp_path / "locked.png")
    (tmp_path / "locked.png").chmod(0)
    try:
        result, deck = build(tmp_path, notes_with("locked.png"))
    finally:
        (tmp_path / "locked.png").chmod(0o644)
    warning_at(result, tmp_path / "notes.md", PICTURE_LINE, "locked.png", "cannot be read")
    assert len(deck_placeholders(deck)) == 1


def test_file_that_refuses_to_open_is_a_placeholder(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    diagram().save(tmp_path / "locked.png")
    real_open = Path.open

    def refusing_open(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self.name == "locked.png":
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refusing_open)
    result, deck = build(tmp_path, notes_with("locked.png"))
    warning_at(result, tmp_path / "notes.md", PICTURE_LINE, "locked.png", "Permission denied")
    assert len(deck_placeholders(deck)) == 1


def test_every_bad_picture_at_once_still_builds(tmp_path: Path) -> None:
    (tmp_path / "dir.png").mkdir()
    (tmp_path / "bomb.png").write_bytes(png_bytes(100_000, 100_000, 8, 2))
    (tmp_path / "junk.jpg").write_bytes(b"\xff\xd8\xff\xe0 junk")
    good = "data:image/png;base64," + base64.b64encode(png_bytes(1, 1, 8, 0)).decode()
    result, deck = build(tmp_path, notes_with("dir.png", "bomb.png", "junk.jpg", "missing.png",
                                              "https://example.com/a.png", "../../x.png", good))
    assert result.stderr.count("warning:") >= 6
    assert len(deck_placeholders(deck)) == 6
    assert len(deck_pictures(deck)) == 1


# --- paths --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("on_disk", "in_notes"), [
    (unicodedata.normalize("NFD", "가상화.png"), unicodedata.normalize("NFC", "가상화.png")),
    (unicodedata.normalize("NFC", "가상화.png"), unicodedata.normalize("NFD", "가상화.png")),
    (unicodedata.normalize("NFD", "그림/가.png"), unicodedata.normalize("NFC", "그림/가.png")),
    ("my picture.png", "my%20picture.png"),
    ("가.png", "%EA%B0%80.png"),
    ("가 나.png", unicodedata.normalize("NFD", "가%20나.png")),
])
def test_file_names_match_across_normalisation_and_url_encoding(
        tmp_path: Path, on_disk: str, in_notes: str) -> None:
    path = tmp_path / on_disk
    path.parent.mkdir(parents=True, exist_ok=True)
    diagram().save(path, format="PNG")
    result, deck = build(tmp_path, notes_with(f"<{in_notes}>" if " " in in_notes
                                              else in_notes))
    assert "warning" not in result.stderr
    assert len(deck_pictures(deck)) == 1


@pytest.mark.parametrize("reference", ["../elsewhere/secret.png", "ABSOLUTE",
                                       "../" * 30 + "etc/passwd", "../../../../etc/passwd"])
def test_paths_outside_the_notes_are_refused(tmp_path: Path, reference: str) -> None:
    secret = tmp_path / "elsewhere" / "secret.png"
    secret.parent.mkdir()
    diagram().save(secret)
    if reference == "ABSOLUTE":
        reference = str(secret)
    notes = tmp_path / "notes"
    result, deck = build(notes, notes_with(reference))
    printed = warning_at(result, notes / "notes.md", PICTURE_LINE)
    assert "outside" in printed or "not found" in printed
    assert "outside" in printed or reference == "../../../../etc/passwd"
    assert not deck_pictures(deck) and len(deck_placeholders(deck)) == 1


def test_remote_picture_is_a_linked_placeholder(tmp_path: Path) -> None:
    url = "https://example.com/figure.png"
    result, deck = build(tmp_path, notes_with(url))
    warning_at(result, tmp_path / "notes.md", PICTURE_LINE, url, "not fetched")
    assert not deck_pictures(deck)
    [placeholder] = deck_placeholders(deck)
    assert url in placeholder.text_frame.text
    links = {placeholder.click_action.hyperlink.address}
    links |= {run.hyperlink.address for paragraph in placeholder.text_frame.paragraphs
              for run in paragraph.runs}
    assert url in links


def test_data_uri_picture_is_decoded(tmp_path: Path) -> None:
    data = io.BytesIO()
    diagram((120, 60)).save(data, "PNG")
    uri = "data:image/png;base64," + base64.b64encode(data.getvalue()).decode()
    result, deck = build(tmp_path, notes_with(uri))
    assert "warning" not in result.stderr
    shown = embedded(deck_pictures(deck)[0])
    assert shown.size == (120, 60)


@pytest.mark.skipif(not HAS_CAIROSVG, reason="cairosvg is not installed")
def test_url_encoded_svg_data_uri_is_rasterised(tmp_path: Path) -> None:
    uri = ("data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='80' "
           "height='40'%3E%3Crect width='80' height='40' fill='blue'/%3E%3C/svg%3E")
    markdown = notes_with("a.png").replace("![picture 1](a.png)", f'<img src="{uri}">')
    result, deck = build(tmp_path, markdown)  # markdown-it refuses svg data: links in ![]()
    assert "warning" not in result.stderr
    shown = embedded(deck_pictures(deck)[0]).convert("RGB")
    assert shown.getpixel((5, 5)) == (0, 0, 255)


def test_broken_data_uri_is_a_placeholder(tmp_path: Path) -> None:
    result, deck = build(tmp_path, notes_with("data:image/png;base64,@@@@"))
    warning_at(result, tmp_path / "notes.md", PICTURE_LINE, "data: URI")
    assert len(deck_placeholders(deck)) == 1


# --- the functions themselves ---------------------------------------------------------------


def test_target_pixels() -> None:
    assert target_pixels(EMU_PER_INCH, EMU_PER_INCH // 2, 220) == (220, 110)
    assert target_pixels(EMU_PER_INCH + 1, 1, 96) == (97, 1)


def test_resolve_image_path(tmp_path: Path) -> None:
    notes, assets, outside = tmp_path / "notes", tmp_path / "assets", tmp_path / "outside"
    for folder in (notes, assets, outside):
        folder.mkdir()
    (notes / "a.png").touch()
    (assets / "b.png").touch()
    (outside / "c.png").touch()
    (notes / unicodedata.normalize("NFD", "한글.png")).touch()
    roots = [notes, assets]
    assert resolve_image_path("a.png", roots) == (notes / "a.png").resolve()
    assert resolve_image_path("./b.png", roots) == (assets / "b.png").resolve()
    assert resolve_image_path("한글.png", roots) is not None
    assert resolve_image_path("%ED%95%9C%EA%B8%80.png", roots) is not None
    assert resolve_image_path("../outside/c.png", roots) == OUTSIDE
    assert resolve_image_path(str(outside / "c.png"), roots) == OUTSIDE
    assert resolve_image_path(f"file://{outside / 'c.png'}", roots) == OUTSIDE
    assert resolve_image_path(str(notes / "a.png"), roots) == (notes / "a.png").resolve()
    assert resolve_image_path("missing.png", roots) is None


@pytest.mark.parametrize("src", ["a" * 300 + ".png", "a\x00b.png", "loop.png"])
def test_impossible_paths_are_not_found(tmp_path: Path, src: str) -> None:
    (tmp_path / "loop.png").symlink_to(tmp_path / "loop.png")
    assert resolve_image_path(src, [tmp_path]) is None


def test_symlink_out_of_the_notes_is_refused(tmp_path: Path) -> None:
    (tmp_path / "outside").mkdir()
    (tmp_path / "notes").mkdir()
    diagram().save(tmp_path / "outside" / "c.png")
    (tmp_path / "notes" / "link.png").symlink_to(tmp_path / "outside" / "c.png")
    assert resolve_image_path("link.png", [tmp_path / "notes"]) == OUTSIDE


def test_decode_data_uri() -> None:
    assert decode_data_uri("data:image/png;base64,aGVs bG8=") == b"hello"
    assert decode_data_uri("data:image/svg+xml,%3Csvg%3E") == b"<svg>"
    assert decode_data_uri("data:image/svg+xml;utf8,<svg>가</svg>") == "<svg>가</svg>".encode()
    with pytest.raises(Unreadable):
        decode_data_uri("data:image/png;base64,###")
    with pytest.raises(Unreadable):
        decode_data_uri("data:image/png;base64")


def test_inspect_reads_only_the_header(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 8
    noise((300, 200)).save(tmp_path / "a.jpg", exif=exif.tobytes())
    found = inspect_file(tmp_path / "a.jpg")
    assert (found.kind, found.mode, found.stored_size, found.orientation) == (
        "JPEG", "RGB", (300, 200), 8)
    assert found.upright_size == (200, 300)
    assert not found.embeddable_as_is
    assert found.byte_size == (tmp_path / "a.jpg").stat().st_size


@pytest.mark.parametrize(("data", "problem"), [
    (b"", "cannot be read"),
    (b"GIF89a\x01", "cannot be read"),
    (png_bytes(100_000, 100_000, 8, 2), "decompression bomb"),
    (png_bytes(11_000, 11_000, 8, 0), "11000×11000"),
])
def test_inspect_refuses_bad_bytes(data: bytes, problem: str) -> None:
    with pytest.raises(Unreadable, match=problem):
        inspect_bytes(data)


def test_inspect_refuses_a_directory(tmp_path: Path) -> None:
    with pytest.raises(Unreadable, match="directory"):
        inspect_file(tmp_path)


def test_inspect_flags_16_bit_png() -> None:
    pixel = struct.pack(">HHH", 1, 2, 3)
    found = inspect_bytes(png_bytes(4, 2, 16, 2, (b"\x00" + pixel * 4) * 2))
    assert found.deep and not found.embeddable_as_is


def test_prepare_image_keeps_pixels_for_later(tmp_path: Path) -> None:
    diagram().save(tmp_path / "a.png")
    diagnostics = Diagnostics()
    prepared = prepare_image(ref("a.png"), tmp_path / "n.md", [], diagnostics)
    assert prepared.ok and not prepared.data and prepared.source is not None
    assert (prepared.width_px, prepared.height_px) == (640, 480)
    assert prepared.aspect == pytest.approx(4 / 3)
    assert not diagnostics.items


def test_looks_like_photo() -> None:
    assert looks_like_photo(noise((800, 600)))
    assert not looks_like_photo(diagram((800, 600)))
    assert not looks_like_photo(noise((800, 600), mode="RGBA"))
    screenshot = diagram((1600, 1000))
    screenshot.paste(noise((300, 200)), (1200, 700))  # a photo inside a screenshot
    assert not looks_like_photo(screenshot)


def test_normalise_modes() -> None:
    deep = Image.frombytes("I;16", (2, 1), struct.pack("<HH", 0, 65535))
    assert [normalise(deep).getpixel((x, 0)) for x in (0, 1)] == [0, 255]
    assert normalise(Image.new("CMYK", (2, 2), (0, 0, 0, 0))).getpixel((0, 0)) == (
        255, 255, 255)
    opaque = Image.new("RGBA", (2, 2), (1, 2, 3, 255))
    assert normalise(opaque).mode == "RGB"
    seethrough = Image.new("RGBA", (2, 2), (1, 2, 3, 0))
    assert normalise(seethrough).mode == "RGBA"
    bilevel = Image.new("1", (2, 2), 1)
    assert normalise(bilevel).mode == "L"


def jpeg_source(path: Path, picture: Image.Image, **save: object) -> ImageSource:
    picture.save(path, "JPEG", **save)
    return inspect_file(path)


def test_encoding_is_deterministic_serial_or_in_a_pool(tmp_path: Path) -> None:
    jobs = [EncodeJob(jpeg_source(tmp_path / f"{seed}.jpg", noise((1200, 800), seed),
                                  quality=90), (500, 334)) for seed in range(3)]
    serial = run_jobs(jobs, workers=1)
    pooled = run_jobs(jobs, workers=2)
    assert [encoded.data for encoded in serial] == [encoded.data for encoded in pooled]
    assert serial[0].data == encode_job(jobs[0]).data
    assert all(encoded.size == (500, 333) or encoded.size == (501, 334) for encoded in serial)


def test_pool_only_for_several_large_pictures(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(images, "_cores", lambda: 8)
    small = jpeg_source(tmp_path / "s.jpg", noise((100, 100)))
    large = ImageSource(None, b"", "JPEG", "RGB", (3000, 2000))
    assert pool_size([EncodeJob(small, (50, 50))] * 10) == 1
    assert pool_size([EncodeJob(large, (50, 50))] * 3) == 1
    assert pool_size([EncodeJob(large, (50, 50))] * 6) == 6
    assert pool_size([EncodeJob(large, (50, 50))] * 20) == 8


def test_large_jpeg_is_decoded_at_reduced_size(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    source = jpeg_source(tmp_path / "big.jpg", noise((4000, 3000)), quality=90)
    requested: list[tuple[int, int]] = []
    real_draft = JpegImagePlugin.JpegImageFile.draft

    def spy(self: JpegImagePlugin.JpegImageFile, mode: str | None,
            size: tuple[int, int] | None) -> object:
        assert size is not None
        requested.append(size)
        return real_draft(self, mode, size)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    encoded = encode_job(EncodeJob(source, (400, 300)))
    assert requested == [(400, 300)]
    assert encoded.size == (400, 300) and encoded.extension == "jpg"


def test_busy_photo_gets_a_lower_quality_within_a_floor(tmp_path: Path) -> None:
    source = jpeg_source(tmp_path / "busy.jpg", noise((1000, 800)), quality=95)
    encoded = encode_job(EncodeJob(source, (1000, 800)))
    quality_85 = io.BytesIO()
    noise((1000, 800)).save(quality_85, "JPEG", quality=85, optimize=True)
    assert len(encoded.data) < quality_85.tell()


def test_encode_failure_is_reported_not_raised(tmp_path: Path) -> None:
    path = tmp_path / "gone.jpg"
    source = jpeg_source(path, noise((100, 100)))
    path.unlink()
    encoded = encode_job(EncodeJob(source, (50, 50)))
    assert not encoded.data and "cannot be read" in encoded.problem


def placements(*pairs: tuple[PreparedImage, int]) -> Iterator[PictureShape]:
    for number, (prepared, width_in_px) in enumerate(pairs, start=1):
        width = width_in_px * EMU_PER_INCH // DEFAULT_DPI
        box = Box(0, 0, width, round(width / prepared.aspect))
        yield PictureShape(f"Picture {number}", box, prepared)


def test_one_source_is_encoded_once_at_its_largest_placement(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    noise((3000, 2000)).save(tmp_path / "p.jpg", quality=90)
    note, diagnostics = tmp_path / "n.md", Diagnostics()
    first = prepare_image(ref("p.jpg", 3), note, [], diagnostics)
    second = prepare_image(ref("./p.jpg", 9), note, [], diagnostics)
    seen: list[EncodeJob] = []
    real_encode = images.encode_job

    def counting(job: EncodeJob) -> images.Encoded:
        seen.append(job)
        return real_encode(job)

    monkeypatch.setattr(images, "encode_job", counting)
    encoded = encode_images(placements((first, 600), (second, 1200), (first, 300)),
                            DEFAULT_DPI, note, diagnostics)
    assert len(seen) == 1
    assert encoded[first].data == encoded[second].data
    assert abs(encoded[first].embedded_size[0] - 1200) <= 2
    assert encoded[first].source is None and encoded[first].ok
    assert not diagnostics.items


def test_late_decode_failure_warns_at_the_picture_line(tmp_path: Path) -> None:
    noise((600, 400)).save(tmp_path / "p.jpg", quality=90)
    note, diagnostics = tmp_path / "n.md", Diagnostics()
    prepared = prepare_image(ref("p.jpg", 7), note, [], diagnostics)
    data = (tmp_path / "p.jpg").read_bytes()
    (tmp_path / "p.jpg").write_bytes(data[: len(data) // 3])
    encoded = encode_images(placements((prepared, 300)), DEFAULT_DPI, note, diagnostics)
    assert not encoded[prepared].ok
    [warning] = diagnostics.items
    assert (warning.file, warning.line) == (note, 7) and "truncated" in warning.message


def test_late_failure_of_a_theme_picture_names_its_file(tmp_path: Path) -> None:
    logo = tmp_path / "logo.jpg"
    noise((600, 400)).save(logo, quality=90)
    diagnostics = Diagnostics()
    prepared = prepare_image(ImageRef("logo.jpg", "logo", 0), logo, [tmp_path], diagnostics)
    logo.write_bytes(logo.read_bytes()[:5000])
    encoded = encode_images(placements((prepared, 100)), DEFAULT_DPI, tmp_path / "n.md",
                            diagnostics)
    assert not encoded[prepared].ok
    [warning] = diagnostics.items
    assert warning.file == logo.resolve() and not warning.line
    assert "left out" in warning.message


def test_a_picture_that_is_a_named_pipe_is_refused_not_waited_on(tmp_path: Path) -> None:
    """Opening a FIFO for reading blocks until a writer comes: the build must not hang."""
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    with pytest.raises(images.Unreadable, match="not a regular file"):
        images.inspect_file(fifo)
