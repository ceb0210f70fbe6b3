"""Resolve, read, normalise and downscale the pictures a note references (Pillow)."""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import importlib
import io
import math
import os
import struct
import sys
import time
import unicodedata
import warnings
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import IO, TYPE_CHECKING, Protocol
from urllib.parse import unquote, unquote_to_bytes

from PIL import Image as PILImage
from PIL import UnidentifiedImageError

from deckgen.cache import build_cache
from deckgen.errors import Diagnostics
from deckgen.model import Image

if TYPE_CHECKING:  # imported when needed: a build without a picture pool or colour
    import concurrent.futures  # profile does not pay for them
    import multiprocessing.context

    from PIL import ImageCms

    from deckgen.cache import EncodedKey

#: The resolution a picture is embedded at, in pixels per inch of its placed size.
DEFAULT_DPI = 220
#: The JPEG quality photos are re-encoded at, and the least it is lowered to (in steps of
#: 5) for a busy photo that would take more than `PHOTO_BITS_PER_PIXEL` at the first: its
#: texture hides the difference, at 220 dpi all the more once projected (~144 dpi).
JPEG_QUALITY = 85
MIN_JPEG_QUALITY = 70
PHOTO_BITS_PER_PIXEL = 1.0
#: The quality is chosen by encoding this many bands of 16 rows (one row of JPEG blocks),
#: spread evenly over the photo, instead of the whole photo at each quality: an eighth of
#: the pixels of a 1000-row photo, and an estimate within 6% of the whole encoding (measured
#: on the benchmark photos: standard deviation 2%).
QUALITY_SAMPLE_BANDS = 8
QUALITY_SAMPLE_ROWS = 16
#: Pictures larger than this many pixels are refused (decompression bombs).
MAX_PIXELS = 120_000_000
#: Pictures longer than this many pixels on a side are refused (the largest side a JPEG can
#: have): a 1 × 119,000,000 picture, within `MAX_PIXELS`, took 20 s and 2 GB to downscale.
MAX_SIDE_PIXELS = 65_535
#: Pictures whose decoding would take more than this many bytes of memory, estimated from
#: their header, are refused: pixels × `DECODING_BYTES_PER_PIXEL` (Pillow's bytes per pixel
#: of the mode, twice: the picture and its normalised copy; measured for WebP, whose
#: decoder copies the whole picture twice: a 4 KB lossless WebP of 16383 × 7000 pixels,
#: within `MAX_PIXELS`, took 1.83 GB). A JPEG is checked at the reduced size it is decoded
#: at. A 48-megapixel photo takes 384 MB as a PNG, 768 MB as a WebP.
MAX_DECODING_BYTES = 1_000_000_000
DECODING_BYTES_PER_PIXEL = {"1": 2, "L": 2, "P": 2, "I;16": 10, "I;16B": 10, "I;16L": 10,
                            "I;16N": 10, "I": 10, "F": 10}
DECODING_BYTES_PER_PIXEL_OTHER = 8
DECODING_BYTES_PER_PIXEL_WEBP = 16
#: JPEG frame markers of Huffman-coded pictures (baseline, extended, progressive), whose
#: scan data codes every 8 × 8 block in at least one bit: a JPEG with less data than that
#: for the size its header says is damaged or forged (libjpeg decodes it as grey, silently).
JPEG_HUFFMAN_FRAMES = {0xC0, 0xC1, 0xC2}
#: A JPEG's markers and scan data are read in steps of this many bytes.
JPEG_READ_STEP = 1_048_576
#: A JPEG may hold at most this many scans: each one is a pass over every block of the
#: picture, so a small file of thousands of repeated scans keeps the decoder busy for
#: minutes (progressive encoders write about 10; libjpeg's djpeg offers -maxscans for this).
MAX_JPEG_SCANS = 256
#: SVG files larger than this many bytes are refused; a compressed SVG (.svgz) is counted
#: as it inflates, in steps of `INFLATE_STEP` bytes, and refused as soon as it passes the cap
#: (a 1 MB file may inflate to 1 GB).
MAX_SVG_BYTES = 20_000_000
INFLATE_STEP = 1_000_000
#: An SVG's size is read from its root element, the XML parsed in steps of this many bytes
#: up to there.
SVG_PARSE_STEP = 65_536
#: An SVG's own size (its width and height, else its viewBox) must lie between these many
#: pixels on each side: it is drawn at its placed size, but that size is derived from its
#: own (a viewBox of 1e308 overflowed the layout's arithmetic; a side of 1e-300 makes
#: cairo's scale no number).
MAX_SVG_SIDE = 1_000_000
MIN_SVG_SIDE = 0.01
#: An SVG is drawn in a child process of its own (`deckgen.sandbox`) that may use this many
#: bytes of memory more than the build, this many seconds of processor time, and is stopped
#: after `SVG_WALL_SECONDS`: then a placeholder is shown. (Five levels of `<use>` took 55 s
#: to draw; a 31 KB PNG of 16000 × 16000 pixels embedded in an SVG took 1 GB.) The pictures
#: an SVG embeds are held to `MAX_PIXELS` and `MAX_SIDE_PIXELS` before they are decoded.
SVG_MEMORY_BYTES = 1_000_000_000
SVG_CPU_SECONDS = 10
SVG_WALL_SECONDS = 20
#: All the SVGs of one build are drawn within this many seconds (wall-clock time, one
#: after the other): once they are spent, the SVGs left become placeholders (twenty
#: hostile SVGs would otherwise take 20 × `SVG_WALL_SECONDS`).
SVG_DECK_SECONDS = 60
#: A data: URI picture longer than this many characters is refused before it is decoded,
#: and one that holds more than `MAX_DATA_URI_BYTES` once decoded.
MAX_DATA_URI_CHARS = 30_000_000
MAX_DATA_URI_BYTES = 20_000_000
#: Formats every PowerPoint, Keynote, Google Slides and LibreOffice shows as they are, with
#: the file extension of each.
PORTABLE_FORMATS = {"PNG": "png", "JPEG": "jpg"}
#: Pillow's names of JPEG formats (MPO: a JPEG with more pictures after the first).
JPEG_FORMATS = {"JPEG", "MPO"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: PNG chunks that may say how the picture is oriented (EXIF; XMP or ImageMagick's EXIF in
#: text), which Pillow reads before the pixels only unless it decodes them.
PNG_TEXT_CHUNKS = {b"tEXt", b"zTXt", b"iTXt"}
PNG_METADATA_CHUNKS = PNG_TEXT_CHUNKS | {b"eXIf"}
#: The mode Pillow opens a PNG in, by its header's bit depth and colour type.
PNG_MODES = {(1, 0): "1", (2, 0): "L", (4, 0): "L", (8, 0): "L", (16, 0): "I;16",
             (8, 2): "RGB", (16, 2): "RGB", (1, 3): "P", (2, 3): "P", (4, 3): "P",
             (8, 3): "P", (8, 4): "LA", (16, 4): "RGBA", (8, 6): "RGBA", (16, 6): "RGBA"}
#: Keywords of the PNG text chunks Pillow reads an orientation from (a text chunk's keyword
#: becomes a key of the picture's `info`, which `getexif` looks these up in).
PNG_ORIENTING_TEXT = {b"exif", b"Raw profile type exif", b"XML:com.adobe.xmp", b"xmp"}
#: The chunks that may come before a PNG's pixels and still leave its header all there is
#: to read: Pillow checks or interprets every other one as it opens the file
#: (transparency, colour, a second header, compressed text, EXIF, animation).
PNG_PLAIN_CHUNKS = {b"PLTE", b"tEXt"}
#: Text a PNG may carry and still be read from its header alone (Pillow caps the text it
#: reads).
PNG_PLAIN_TEXT_BYTES = 1_000_000
#: The usual formats of a picture file, named to someone whose file is none of them (Pillow
#: reads more: PPM, TGA, ICO and others).
READABLE_FORMATS = "PNG, JPEG, GIF, WebP, BMP, TIFF or SVG"
#: The pseudo format name of a vector picture, rasterised with cairosvg.
SVG = "SVG"
#: Modes a portable picture may have and still be embedded byte for byte.
PORTABLE_MODES = {"1", "L", "LA", "P", "RGB", "RGBA"}
#: A PNG or JPEG file is embedded as it is, when it needs no conversion and is no larger
#: than this many bytes per pixel shown (2 bits: about what a photo re-encoded at its placed
#: size takes), even when it has more pixels than the placed size needs; a larger one is
#: re-encoded, and kept only if that is not smaller. Such a PNG is not decoded at all (its
#: chunks are checked: `check_png`), such a JPEG only at 1/8 scale, to find a truncation.
KEEP_BYTES_PER_PIXEL = 0.25
#: A JPEG is decoded at the decoder's 1/2, 1/4 or 1/8 scale (two to four times faster than
#: a full decode and a downscale) also when that leaves it up to this fraction short of the
#: pixels its placed size needs (209 instead of 220 dpi): the detail lost (PSNR ~41 dB
#: against a full decode) is less than re-encoding at quality 85 loses anyway (~37 dB).
#: 0 never decodes below the placed size.
DRAFT_SHORTFALL = 0.05
#: A picture of at least this many pixels is worth a worker process of its own.
LARGE_PIXELS = 2_000_000
#: Pictures are prepared in a process pool only from this many large ones on (a pool costs
#: 50-100 ms to start).
POOL_MIN_LARGE = 4
#: A picture is a diagram or a screenshot (kept PNG) when this many of its most frequent
#: colours cover at least `FLAT_COVERAGE` of its pixels; otherwise it is a photo (JPEG).
FLAT_COLOURS = 256
FLAT_COVERAGE = 0.6
#: The number of pixels sampled to tell a photo from a diagram.
COLOUR_SAMPLE = 256 * 256
EMU_PER_INCH = 914400
EXIF_ORIENTATION = 0x0112


@dataclass(frozen=True)
class ImageSource:
    """Where a picture's pixels are, and what they need before every client shows them."""

    path: Path | None
    #: The bytes of a data: URI picture (a file is read again when it is encoded).
    inline: bytes
    #: Pillow's name of the format ("JPEG", "PNG", "GIF", …), or `SVG`.
    kind: str
    #: Pillow's mode of the stored pixels ("RGB", "CMYK", "I;16", …).
    mode: str
    #: The stored pixel size, before the EXIF orientation is applied.
    stored_size: tuple[int, int]
    orientation: int = 1
    #: 16 bits per channel.
    deep: bool = False
    animated: bool = False
    byte_size: int = 0
    #: What Pillow warned of as it read the header ("Invalid APNG, …"), said at the
    #: picture's line instead of as a Python warning.
    warnings: tuple[str, ...] = ()

    @property
    def upright_size(self) -> tuple[int, int]:
        """The pixel size as the picture is seen, with the EXIF orientation applied."""
        width, height = self.stored_size
        return (height, width) if self.orientation in (5, 6, 7, 8) else (width, height)

    @property
    def embeddable_as_is(self) -> bool:
        """Whether the file's own bytes show the same picture in every client."""
        return (self.kind in PORTABLE_FORMATS and self.orientation == 1 and not self.deep
                and not self.animated and self.mode in PORTABLE_MODES)

    def read(self) -> bytes:
        """The source bytes."""
        return self.inline if self.path is None else self.path.read_bytes()


@dataclass(frozen=True)
class PreparedImage:
    """A picture: first its source and upright pixel size (what the layout needs), then
    the bytes to embed at its placed size; `problem` says why a placeholder is shown."""

    ref: Image
    path: Path | None
    #: The bytes to embed; empty until `encode_images` (and for a placeholder).
    data: bytes
    #: The file extension of `data` ("png" or "jpg").
    extension: str
    #: The upright pixel size of the source picture.
    width_px: int
    height_px: int
    problem: str = ""
    #: Where to read the picture from when it is encoded; None once encoded.
    source: ImageSource | None = None
    #: The pixel size of `data`.
    embedded_size: tuple[int, int] = (0, 0)

    @property
    def ok(self) -> bool:
        """Whether there is a picture to embed (else a placeholder is drawn)."""
        return not self.problem and (bool(self.data) or self.source is not None)

    @property
    def aspect(self) -> float:
        """Width divided by height."""
        return self.width_px / self.height_px if self.height_px else 1.0

    @property
    def name(self) -> str:
        """The picture's source as the notes spell it, shortened for a data: URI."""
        return "data: URI image" if self.ref.src.startswith("data:") else self.ref.src

    @property
    def description(self) -> str:
        """The text a screen reader says for the picture: alt text, else the file name."""
        if self.ref.alt:
            return self.ref.alt
        name = unquote(self.ref.src.rsplit("/", 1)[-1]) if self.ref.src else "image"
        return unicodedata.normalize("NFC", name)


class Unreadable(Exception):
    """A picture that cannot be shown; the message says why."""


# --- before the layout: resolve and inspect ----------------------------------------------


def prepare_images(images: Iterable[Image], source: Path, resource_paths: Sequence[Path],
                   diagnostics: Diagnostics) -> dict[Image, PreparedImage]:
    """Every referenced picture, inspected once; problems become warnings with file:line."""
    prepared: dict[Image, PreparedImage] = {}
    for image in images:
        if image not in prepared:
            prepared[image] = prepare_image(image, source, resource_paths, diagnostics)
    return prepared


def prepare_image(image: Image, source: Path, resource_paths: Sequence[Path],
                  diagnostics: Diagnostics) -> PreparedImage:
    """One picture resolved and inspected (size, format, orientation) without decoding
    its pixels; a placeholder and a warning at the picture's line when it cannot be shown."""

    def placeholder(problem: str, path: Path | None = None) -> PreparedImage:
        diagnostics.warn(problem, source, image.line)
        return PreparedImage(image, path, b"", "", 0, 0, problem)

    src = image.src.strip()
    if not src:
        return placeholder("image without a source; a placeholder is shown")
    if src.lower().startswith(("http://", "https://")):
        return placeholder(f"remote image {src} is not fetched; a placeholder links to it")
    name = "data: URI image" if src.lower().startswith("data:") else f"image {src}"
    path: Path | None = None
    try:
        if src.lower().startswith("data:"):
            found = inspect_bytes(decode_data_uri(src), svg_hint=_is_svg_name(src[:40]))
        else:
            roots = [source.parent, *resource_paths]
            resolved = resolve_image_path(src, roots)
            if resolved is None or resolved == OUTSIDE:
                # One message for both: which of them it is would tell whether a file
                # exists anywhere on the disk.
                where = ", ".join(str(root) for root in lookup_roots(roots))
                return placeholder(f"image {src} not found in {searched_places(roots)} "
                                   f"(looked in {where}; "
                                   "pictures outside them are refused); a placeholder is "
                                   "shown — add the file there or fix the path")
            path = resolved
            found = _inspect_file_remembered(path)
    except Unreadable as problem:
        return placeholder(f"{name} {problem}; a placeholder is shown", path)
    for warning in found.warnings:
        diagnostics.warn(f"{name}: {warning}", source, image.line)
    width, height = found.upright_size
    return PreparedImage(image, path, b"", "", width, height, source=found)


#: A marker path for an image that resolves outside the allowed folders.
OUTSIDE = Path("/..outside..")


#: What marks a repository's root folder (a folder in a clone, a file in a worktree).
REPOSITORY_MARK = ".git"
#: How a `.git` file (in a worktree or a submodule) starts.
GITDIR_LINE = b"gitdir:"


def resolve_image_path(src: str, roots: Sequence[Path]) -> Path | None:
    """The file an image source names, looked up in each root in order (the note's folder
    first, then the resource paths), then in the root of the repository holding the note's
    folder; `OUTSIDE` when it exists only outside all of them. A path starting with "/" is
    first taken from the repository's root (as a website's root-relative path), then as it
    is. File names match whatever their Unicode normalisation (NFC or NFD) and
    URL-encoding."""
    variants = _spellings(src)
    site = repository_root(roots[0]) if roots else None
    allowed = lookup_roots(roots, site)
    outside_match = False
    for base in allowed:
        for variant in variants:
            for candidate in _candidates(variant, base, site):
                try:
                    found = _existing(candidate)
                    resolved = found.resolve() if found is not None else None
                except (OSError, ValueError, RuntimeError):  # too long, NUL, a symlink loop
                    continue
                if resolved is None:
                    continue
                if any(resolved.is_relative_to(root) for root in allowed):
                    return resolved
                outside_match = True
    return OUTSIDE if outside_match else None


def searched_places(roots: Sequence[Path]) -> str:
    """What a picture was looked for in, in words: the note's folder (`roots[0]`), its
    repository (when it is in one) and the resource paths (when given)."""
    places = ["the note's folder"]
    if roots and repository_root(roots[0]) is not None:
        places.append("its repository")
    if len(roots) > 1:
        places.append("the resource paths")
    return ", ".join(places[:-1]) + " or " + places[-1] if len(places) > 1 else places[0]


def lookup_roots(roots: Sequence[Path], site: Path | None = None) -> list[Path]:
    """The folders pictures may come from: `roots` (the note's folder first), then the root
    of the repository holding the note's folder (`site`, when known), each once, links
    followed."""
    if site is None and roots:
        site = repository_root(roots[0])
    resolved: list[Path] = []
    for root in (*roots, *([site] if site is not None else [])):
        try:
            folder = root.resolve()
        except (OSError, RuntimeError, ValueError):
            continue
        if folder not in resolved:
            resolved.append(folder)
    return resolved


def repository_root(folder: Path) -> Path | None:
    """The nearest folder from `folder` up that is a git repository's root: it holds a
    `.git` folder with a HEAD file (a clone) or a `.git` file starting with "gitdir:" (a
    worktree, a submodule). The user's home folder and the filesystem's root never are one
    (a dotfiles `~/.git` would make every file of the home folder a note's picture)."""
    try:
        start = folder.resolve()
        refused = {Path(start.anchor), *_home_folders()}
        for candidate in (start, *start.parents):
            if candidate not in refused and _is_repository(candidate):
                return candidate
    except (OSError, RuntimeError, ValueError):
        return None
    return None


def _home_folders() -> list[Path]:
    """The user's home folder, as given and with links followed (none if unknown)."""
    try:
        home = Path.home()
        return [home, home.resolve()]
    except (OSError, RuntimeError, KeyError, ValueError):
        return []


def _is_repository(folder: Path) -> bool:
    """Whether `folder` holds a real git marker (repository_root)."""
    mark = folder / REPOSITORY_MARK
    if mark.is_dir():
        return (mark / "HEAD").is_file()
    if not mark.is_file():
        return False
    try:
        with mark.open("rb") as stream:
            return stream.read(len(GITDIR_LINE)) == GITDIR_LINE
    except OSError:
        return False


def _candidates(variant: str, base: Path, site: Path | None) -> list[Path]:
    """Where one spelling of a source may be: relative to `base`; an absolute one from the
    repository's root `site`, then from `base` (a note kept outside a repository names its
    pictures from its own folder, `/img/x.png`), then as it is."""
    path = Path(variant)
    if not path.is_absolute():
        return [base / variant]
    relative = variant.lstrip("/\\")
    from_site = [site / relative] if site is not None else []
    from_base = [base / relative] if base != site else []
    return [*from_site, *from_base, path]


def _spellings(src: str) -> list[str]:
    """The ways a source may name its file: as written, URL-decoded, a file: URI's path,
    with Windows separators."""
    if src.lower().startswith("file://"):
        src = src[len("file://"):]
    decoded = unquote(src.split("#", 1)[0].split("?", 1)[0])
    spellings: list[str] = []
    for text in (src, decoded, decoded.replace("\\", "/")):
        if text not in spellings:
            spellings.append(text)
    return spellings


def _existing(candidate: Path) -> Path | None:
    """The candidate path if it exists, also when the disk spells a name in another Unicode
    normalisation (NFC, NFD) than the note, folder by folder."""
    if candidate.exists():
        return candidate
    found = Path(candidate.anchor) if candidate.is_absolute() else Path()
    for part in candidate.parts[1 if candidate.is_absolute() else 0:]:
        exact = found / part
        if exact.exists() or part in ("..", "."):
            found = exact
            continue
        wanted = unicodedata.normalize("NFC", part)
        try:
            match = next((entry for entry in found.iterdir()
                          if unicodedata.normalize("NFC", entry.name) == wanted), None)
        except OSError:
            return None
        if match is None:
            return None
        found = match
    return found


def decode_data_uri(src: str) -> bytes:
    """The bytes a data: URI holds (base64 or URL-encoded), refused when it is longer than
    `MAX_DATA_URI_CHARS` or holds more than `MAX_DATA_URI_BYTES`."""
    if len(src) > MAX_DATA_URI_CHARS:
        raise Unreadable(f"is {len(src):,} characters long, more than "
                         f"{MAX_DATA_URI_CHARS:,}; refused")
    header, comma, payload = src.partition(",")
    if not comma:
        raise Unreadable("is not a valid data: URI (no comma)")
    try:
        if header.lower().endswith(";base64"):
            data = base64.b64decode("".join(unquote(payload).split()), validate=True)
        else:
            data = unquote_to_bytes(payload)
    except (binascii.Error, ValueError) as exc:
        raise Unreadable(f"could not be decoded ({exc})") from exc
    if len(data) > MAX_DATA_URI_BYTES:
        raise Unreadable(f"holds {len(data):,} bytes, more than {MAX_DATA_URI_BYTES:,}; "
                         "refused")
    return data


def inspect_file(path: Path) -> ImageSource:
    """What a picture file holds, from its header: format, size, mode and orientation."""
    if path.is_dir():
        raise Unreadable("is a directory")
    if not path.is_file():
        raise Unreadable("is not a regular file (a pipe or a device?)")
    try:
        with path.open("rb") as stream:
            head = stream.read(4096)
            size = os.fstat(stream.fileno()).st_size
            if head.startswith(PNG_SIGNATURE):  # checked whole: see check_png
                head += stream.read()
    except OSError as exc:
        raise Unreadable(f"cannot be read ({exc.strerror or exc})") from exc
    if _is_svg(head, path.name):
        if size > MAX_SVG_BYTES:
            raise Unreadable(f"is an SVG of {size:,} bytes, more than {MAX_SVG_BYTES:,}; "
                             "refused")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise Unreadable(f"cannot be read ({exc.strerror or exc})") from exc
        return _inspect_svg(path, data)
    return _inspect_raster(path, head, size)


def _inspect_file_remembered(path: Path) -> ImageSource:
    """inspect_file, reusing what an earlier build of this process read from the same,
    unchanged file (build --watch)."""
    cache = build_cache()
    if cache is None:
        return inspect_file(path)
    key, known = cache.inspection(path)
    if known is None:
        known = inspect_file(path)
        if key is not None:
            cache.inspected[key] = known
    return known


def inspect_bytes(data: bytes, svg_hint: bool = False) -> ImageSource:
    """What an in-memory picture (a data: URI) holds."""
    if _is_svg(data[:4096], "x.svg" if svg_hint else ""):
        return _inspect_svg(None, data)
    return _inspect_raster(None, data, len(data))


def _inspect_raster(path: Path | None, content: bytes, byte_size: int) -> ImageSource:
    """`_read_header`, with what Pillow warned of kept in the result."""
    with pillow_warnings() as warned:
        found = _read_header(path, content, byte_size)
    return replace(found, warnings=tuple(warned)) if warned else found


@contextlib.contextmanager
def pillow_warnings() -> Iterator[list[str]]:
    """The warnings raised inside, as one-line texts, instead of printed by Python (with
    Pillow's file and source line). Not for threads: Python's warning filters are global."""
    warned: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for quiet in (DeprecationWarning, PendingDeprecationWarning,  # for developers
                      PILImage.DecompressionBombWarning):  # deckgen's own limit says it
            warnings.filterwarnings("ignore", category=quiet)
        yield warned
    for warning in caught:
        text = " ".join(str(warning.message).split())
        if text and text not in warned:
            warned.append(text)


def _read_header(path: Path | None, content: bytes, byte_size: int) -> ImageSource:
    """A raster picture inspected from its header, without decoding its pixels; `content`
    is the picture itself when `path` is None, else the file's first bytes, or the whole
    file for a PNG (whose chunks are all checked)."""
    png = content.startswith(PNG_SIGNATURE)
    try:
        layout = check_png(content) if png else None
        if layout is not None and layout.plain_mode is not None:
            # What Pillow would find, without loading its PNG plugin (~8 ms at start-up).
            width, height = layout.size
            _check_pixels(width, height)
            kind, mode, orientation, animated = "PNG", layout.plain_mode, 1, False
        else:
            with _open(path, content) as opened:  # by name: Pillow imports one plugin
                width, height = opened.size
                _check_pixels(width, height)
                kind, mode = opened.format or "", opened.mode
                if kind not in JPEG_FORMATS:  # checked at the size it is decoded at
                    _check_decoding_memory(opened)
                late_metadata = layout is not None and layout.late_metadata
                orientation = _orientation(opened,
                                           decode_for_metadata=late_metadata or not png)
                animated = bool(getattr(opened, "is_animated", False))
            if kind in JPEG_FORMATS:
                with (path.open("rb") if path is not None else io.BytesIO(content)) as stream:
                    check_jpeg_data(stream, byte_size)
    except Unreadable:
        raise
    except UnidentifiedImageError as exc:  # its message shows Pillow's stream object
        raise Unreadable(f"cannot be read (not a picture deckgen recognises, such as "
                         f"{READABLE_FORMATS}, or a damaged one)") from exc
    except OSError as exc:
        if isinstance(exc, FileNotFoundError | PermissionError | IsADirectoryError):
            raise Unreadable(f"cannot be read ({exc.strerror or exc})") from exc
        raise Unreadable(f"cannot be read ({_describe(exc)})") from exc
    except Exception as exc:  # Pillow's decoders raise many types on broken input
        raise Unreadable(f"cannot be read ({_describe(exc)})") from exc
    deep = mode.startswith("I;16") or mode in ("I", "F") or (
        png and len(content) > 24 and content[24] == 16)
    return ImageSource(path, content if path is None else b"", kind, mode, (width, height),
                       orientation, deep, animated, byte_size)


@dataclass(frozen=True)
class PngLayout:
    """What a PNG's chunk structure says: its stored size, whether metadata that may
    orient it follows its pixels, and the mode Pillow opens it in when its header is all
    there is to read: None when it carries EXIF, XMP, compressed text or animation, or a
    header Pillow may refuse, which Pillow then reads."""

    size: tuple[int, int]
    late_metadata: bool
    plain_mode: str | None = None


def check_png(data: bytes) -> PngLayout:
    """Every chunk of a PNG present, whole and matching its checksum, up to IEND, with
    pixel data: what catches a truncated or damaged file, as Pillow's verify() does but
    without a second open. The pixel data is not decompressed (that costs as much as
    decoding): a deflate stream broken under valid checksums, which only a faulty writer
    makes, is not caught here."""
    view = memoryview(data)
    position = len(PNG_SIGNATURE)
    size: tuple[int, int] | None = None
    pixels = late_metadata = False
    plain_mode: str | None = None
    text_bytes = 0
    while True:
        if position + 8 > len(data):
            raise Unreadable("cannot be read (truncated PNG file: no IEND chunk)")
        length, kind = struct.unpack_from(">I4s", data, position)
        name = kind.decode("latin-1")
        if not kind.isalpha() or not kind.isascii():
            raise Unreadable(f"cannot be read (broken PNG file: chunk {name!r})")
        end = position + 12 + length
        if end > len(data):
            raise Unreadable(f"cannot be read (truncated PNG file: its {name} chunk is cut "
                             "short)")
        body = view[position + 8:end - 4]
        (checksum,) = struct.unpack_from(">I", data, end - 4)
        if zlib.crc32(body, zlib.crc32(kind)) != checksum:
            raise Unreadable(f"cannot be read (broken PNG file: bad checksum in its {name} "
                             "chunk)")
        if size is None:
            if kind != b"IHDR" or length < 8:
                raise Unreadable("cannot be read (broken PNG file: no IHDR chunk first)")
            size = struct.unpack_from(">II", data, position + 8)
            # Pillow refuses a picture without pixels, and a filter method it does not know.
            if length == 13 and min(size) > 0 and body[10] == body[11] == 0:
                plain_mode = PNG_MODES.get((body[8], body[9]))
        elif kind == b"IDAT":
            pixels = True
        elif kind == b"IEND":
            if not pixels:
                raise Unreadable("cannot be read (PNG file without pixel data)")
            return PngLayout(size, late_metadata, plain_mode)
        else:
            late_metadata = late_metadata or (pixels and kind in PNG_METADATA_CHUNKS)
            text_bytes += length if kind in PNG_TEXT_CHUNKS else 0
            orienting = kind == b"eXIf" or (
                kind in PNG_TEXT_CHUNKS
                and bytes(body[:80]).partition(b"\0")[0] in PNG_ORIENTING_TEXT)
            if (orienting or text_bytes > PNG_PLAIN_TEXT_BYTES
                    or not (pixels or kind in PNG_PLAIN_CHUNKS)):
                plain_mode = None
        position = end


def _inspect_svg(path: Path | None, data: bytes) -> ImageSource:
    cairosvg = _cairosvg()
    if cairosvg is None:
        raise Unreadable("is an SVG and cairosvg is not installed (pip install "
                         "'deckgen[svg]')")
    try:
        width, height = svg_size(svg_text(data))
    except Unreadable:
        raise
    except Exception as exc:  # the XML parser and cairosvg raise many types
        raise Unreadable(f"is an SVG that cannot be read ({_describe(exc)})") from exc
    return ImageSource(path, data if path is None else b"", SVG, "RGBA",
                       (math.ceil(width), math.ceil(height)), byte_size=len(data))


def svg_text(data: bytes) -> bytes:
    """An SVG's XML: a compressed one (gzip, .svgz) inflated in steps, refused as soon as
    it passes `MAX_SVG_BYTES` (so that neither zlib nor the XML parser runs unbounded)."""
    if len(data) > MAX_SVG_BYTES:
        raise Unreadable(f"is an SVG of {len(data):,} bytes, more than {MAX_SVG_BYTES:,}; "
                         "refused")
    if not data.startswith(b"\x1f\x8b"):
        return data
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip's header and trailer
    parts: list[bytes] = []
    inflated = 0
    pending = data
    try:
        while not inflater.eof:
            part = inflater.decompress(pending, INFLATE_STEP)
            pending = inflater.unconsumed_tail
            if not part and not pending:
                raise Unreadable("is a compressed SVG that is cut short")
            inflated += len(part)
            if inflated > MAX_SVG_BYTES:
                raise Unreadable(f"is a compressed SVG of more than {MAX_SVG_BYTES:,} bytes "
                                 "once inflated; refused")
            parts.append(part)
    except zlib.error as exc:
        raise Unreadable(f"is a compressed SVG that cannot be inflated ({exc})") from exc
    return b"".join(parts)


def svg_size(data: bytes) -> tuple[float, float]:
    """An SVG's own size in pixels at 96 dpi: its width and height, else its viewBox, as
    cairosvg reads them, from its root element's attributes and style attribute alone (the
    rest of the file is not parsed: a 20 MB SVG of five million empty elements took cairosvg
    3 minutes and 6.8 GB to parse whole)."""
    cairosvg = _cairosvg()
    if cairosvg is None:
        raise Unreadable("cairosvg is not installed")
    helpers = importlib.import_module("cairosvg.helpers")
    css = importlib.import_module("cairosvg.css")
    root = svg_root_attributes(data)
    normal, important = css.parse_declarations(root.get("style", ""))
    root.update((name, value.strip()) for name, value in [*normal, *important])
    width, height, _ = helpers.node_format(_SvgUnits(), root)
    if not (width > 0 and height > 0):
        raise Unreadable("is an SVG without a size (no width and height, no viewBox)")
    if not (math.isfinite(width) and math.isfinite(height)):
        raise Unreadable(f"is an SVG whose size ({width}×{height}) is not a number of "
                         "pixels")
    if max(width, height) > MAX_SVG_SIDE:
        raise Unreadable(f"is an SVG whose size ({width:g}×{height:g} pixels) is more than "
                         f"{MAX_SVG_SIDE:,} pixels on a side; refused")
    if min(width, height) < MIN_SVG_SIDE:
        raise Unreadable(f"is an SVG whose size ({width:g}×{height:g} pixels) is less than "
                         f"{MIN_SVG_SIDE:g} pixel on a side; refused")
    return float(width), float(height)


class _RootElement(Exception):
    """The root element of an XML document was read: stops the parser there."""

    def __init__(self, attributes: dict[str, str]) -> None:
        super().__init__()
        self.attributes = attributes


def svg_root_attributes(data: bytes) -> dict[str, str]:
    """The attributes of an SVG's root element without a namespace, read by expat in
    steps up to that element only; a document that declares entities is refused (as
    cairosvg's own parser refuses it)."""
    from xml.parsers import expat

    def root(tag: str, attributes: dict[str, str]) -> None:
        raise _RootElement({name: value for name, value in attributes.items()
                            if " " not in name})  # no namespace: not x:width

    def entity(*declaration: object) -> None:
        raise Unreadable("is an SVG that declares XML entities; refused")

    parser = expat.ParserCreate(namespace_separator=" ")
    parser.StartElementHandler = root
    parser.EntityDeclHandler = entity
    try:
        for start in range(0, len(data), SVG_PARSE_STEP):
            parser.Parse(data[start:start + SVG_PARSE_STEP], False)
        parser.Parse(b"", True)
    except _RootElement as found:
        return found.attributes
    except expat.ExpatError as exc:
        raise Unreadable(f"is an SVG that cannot be read ({exc})") from exc
    raise Unreadable("is an SVG that cannot be read (no element)")


@dataclass(frozen=True)
class _SvgUnits:
    """What cairosvg needs to turn an SVG's lengths into pixels, without a surface."""

    dpi: float = 96.0
    font_size: float = 16.0
    context_width: float | None = None
    context_height: float | None = None


def _cairosvg() -> ModuleType | None:
    try:
        return importlib.import_module("cairosvg")
    except (ImportError, OSError):  # OSError: the cairo library itself is missing
        return None


def _orientation(opened: PILImage.Image, decode_for_metadata: bool = True) -> int:
    """The EXIF orientation (1-8); 1 when there is none or the EXIF data is broken. Pillow
    decodes a PNG to look for EXIF after its pixels: `decode_for_metadata` False reads only
    the metadata before them (all there is when check_png found none after them)."""
    try:
        exif = (opened.getexif() if decode_for_metadata
                else PILImage.Image.getexif(opened))
        value = exif.get(EXIF_ORIENTATION, 1)
    except Exception:  # broken EXIF must not cost the picture
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _is_svg(head: bytes, name: str) -> bool:
    if head[:2] == b"\x1f\x8b":
        return name.lower().endswith((".svgz", ".svg"))
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return text.startswith((b"<?xml", b"<svg", b"<!doctype svg", b"<!--")) and b"<svg" in text


def _is_svg_name(src: str) -> bool:
    return src.lower().startswith("data:image/svg")


def _check_decoding_memory(opened: PILImage.Image) -> None:
    """`Unreadable` when decoding the picture (at its size now: a JPEG's after `draft`)
    would take more than `MAX_DECODING_BYTES` (see there)."""
    per_pixel = (DECODING_BYTES_PER_PIXEL_WEBP if opened.format == "WEBP" else
                 DECODING_BYTES_PER_PIXEL.get(opened.mode, DECODING_BYTES_PER_PIXEL_OTHER))
    needed = opened.width * opened.height * per_pixel
    if needed > MAX_DECODING_BYTES:
        raise Unreadable(f"is {opened.width}×{opened.height} pixels, which would take "
                         f"about {needed / 1e6:,.0f} MB of memory to decode, more than "
                         f"{MAX_DECODING_BYTES / 1e6:,.0f} MB; refused")


def _check_pixels(width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise Unreadable(f"is {width}×{height} pixels, more than {MAX_PIXELS:,} "
                         "(a decompression bomb?); refused")
    if max(width, height) > MAX_SIDE_PIXELS:
        raise Unreadable(f"is {width}×{height} pixels, more than {MAX_SIDE_PIXELS:,} on a "
                         "side; refused")


def check_jpeg_data(stream: IO[bytes], byte_size: int) -> None:
    """A Huffman-coded JPEG holds at least one bit for every 8 × 8 block of its largest
    component after its first scan header, else `Unreadable`: what catches a header that
    claims more pixels than the file holds (libjpeg draws the rest grey, with no error) by
    reading the markers only. Anything else is left to Pillow."""
    if stream.read(2) != b"\xff\xd8":
        return
    scans = _count_scans(stream)
    if scans > MAX_JPEG_SCANS:
        raise Unreadable(f"cannot be read (a JPEG of more than {MAX_JPEG_SCANS} scans, "
                         "each one a pass over the whole picture; save it again as a baseline "
                         "or plain progressive JPEG)")
    stream.seek(2)
    frame: tuple[int, int, list[tuple[int, int]]] | None = None
    while True:
        marker = _next_marker(stream)
        if len(marker) < 2 or marker[0] != 0xFF:
            return
        code = marker[1]
        if code == 0x01 or 0xD0 <= code <= 0xD8:  # no length follows
            continue
        header = stream.read(2)
        if len(header) < 2:
            return
        (length,) = struct.unpack(">H", header)
        if length < 2:
            return
        if code == 0xDA:  # start of scan: its data follows its header
            scan_start = stream.tell() + length - 2
            break
        body = stream.read(length - 2)
        if code in JPEG_HUFFMAN_FRAMES and len(body) >= 6:
            height, width, count = struct.unpack_from(">HHB", body, 1)
            sampling = [(body[7 + 3 * index] >> 4, body[7 + 3 * index] & 15)
                        for index in range(count) if 8 + 3 * index <= len(body)]
            frame = (width, height, sampling)
        elif 0xC3 <= code <= 0xCF and code not in (0xC4, 0xC8, 0xCC):
            return  # lossless, hierarchical or arithmetic-coded: no bound known
    if frame is None or not frame[2] or 0 in frame[:2]:
        return
    width, height, sampling = frame
    most_h = max(h for h, _ in sampling) or 1
    most_v = max(v for _, v in sampling) or 1
    blocks = max(math.ceil(math.ceil(width * h / most_h) / 8)
                 * math.ceil(math.ceil(height * v / most_v) / 8) for h, v in sampling)
    needed = math.ceil(blocks / 8)
    held = _scan_bytes(stream, scan_start, needed) if byte_size - scan_start >= needed \
        else max(0, byte_size - scan_start)
    if held < needed:
        raise Unreadable(f"cannot be read (a JPEG whose header says {width}×{height} "
                         f"pixels but which holds {held:,} bytes of picture data, too few "
                         "for that: damaged or forged)")


def _count_scans(stream: IO[bytes]) -> int:
    """How many start-of-scan markers (FF DA) a JPEG holds, counted up to one past the cap
    (inside scan data a 0xFF byte is always followed by 0x00 or a restart marker, so FF DA
    is only ever a marker)."""
    count = 0
    tail = b""
    while count <= MAX_JPEG_SCANS:
        part = stream.read(JPEG_READ_STEP)
        if not part:
            break
        count += (tail + part).count(b"\xff\xda")
        tail = part[-1:]
    return count


def _next_marker(stream: IO[bytes]) -> bytes:
    """The next two bytes of a JPEG's marker segment, fill bytes (any number of 0xFF
    before a marker) skipped in bulk."""
    marker = stream.read(2)
    while marker == b"\xff\xff":
        start = stream.tell()
        run = stream.read(JPEG_READ_STEP)
        rest = run.lstrip(b"\xff")
        if rest:
            stream.seek(start + len(run) - len(rest) + 1)
            return b"\xff" + rest[:1]
        if len(run) < JPEG_READ_STEP:
            return b""
    return marker


def _scan_bytes(stream: IO[bytes], scan_start: int, needed: int) -> int:
    """The bytes from `scan_start` up to the end-of-image marker (what follows it is
    padding, not picture data), counted up to `needed`: scan data, and the markers of
    later scans skipped by their length."""
    position = scan_start
    while position - scan_start < needed:
        stream.seek(position)
        part = stream.read(JPEG_READ_STEP)
        if len(part) < 2:
            return position - scan_start + len(part)
        found = part.find(b"\xff", 0, len(part) - 1)
        while found >= 0:
            code = part[found + 1]
            if code == 0xD9:  # end of image
                return position + found - scan_start
            if code not in (0x00, 0xFF) and not 0xD0 <= code <= 0xD7:  # a segment
                break
            found = part.find(b"\xff", found + 1, len(part) - 1)
        if found < 0:
            position += len(part) - 1
            continue
        header = part[found + 2:found + 4]
        if len(header) < 2:
            stream.seek(position + found + 2)
            header = stream.read(2)
            if len(header) < 2:
                return position + found - scan_start
        position += found + 2 + struct.unpack(">H", header)[0]
    return position - scan_start


def _open(path: Path | None, data: bytes) -> PILImage.Image:
    """A picture opened lazily (header only), inside `pillow_warnings`, which silences
    Pillow's decompression-bomb warning: our own pixel cap replaces it. Pillow's error
    (twice its limit) stays as a backstop."""
    try:
        return PILImage.open(path if path is not None else io.BytesIO(data))
    except PILImage.DecompressionBombError as exc:
        raise Unreadable(f"has more pixels than {MAX_PIXELS:,} (a decompression "
                         "bomb?); refused") from exc


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# --- after the layout: encode at the placed size ------------------------------------------


def target_pixels(width_emu: int, height_emu: int, dpi: int) -> tuple[int, int]:
    """The pixels a box of this size needs at `dpi` pixels per inch."""
    return (max(1, math.ceil(width_emu / EMU_PER_INCH * dpi)),
            max(1, math.ceil(height_emu / EMU_PER_INCH * dpi)))


@dataclass(frozen=True)
class EncodeJob:
    """One picture to encode: its source and the pixel size its largest placement needs."""

    source: ImageSource
    target: tuple[int, int]
    #: The most seconds an SVG may take to draw (`SVG_WALL_SECONDS` when None): less once
    #: the build's `SVG_DECK_SECONDS` are nearly spent.
    svg_seconds: float | None = None


@dataclass(frozen=True)
class Encoded:
    """The bytes to embed, or why there are none."""

    data: bytes = b""
    extension: str = ""
    size: tuple[int, int] = (0, 0)
    problem: str = ""
    #: What Pillow warned of as it decoded the picture.
    warnings: tuple[str, ...] = ()


class Placement(Protocol):
    """A placed picture: the prepared image and its box in EMU."""

    @property
    def image(self) -> PreparedImage: ...

    @property
    def box(self) -> _Sized: ...


class _Sized(Protocol):
    @property
    def w(self) -> int: ...

    @property
    def h(self) -> int: ...


def encode_images(placements: Iterable[Placement], dpi: int, note: Path,
                  diagnostics: Diagnostics, workers: int | None = None
                  ) -> dict[PreparedImage, PreparedImage]:
    """Each placed picture's bytes at its placed size × `dpi` (see `Encoding`), waited for:
    maps each prepared image to its encoded one; a picture that fails to decode gets a
    `problem` and a warning."""
    placed = list(placements)
    with Encoding(placed, dpi, workers) as encoding:
        return {placement.image: encoding.encoded(placement.image, note, diagnostics)
                for placement in placed}


class Encoding:
    """The placed pictures being encoded at their placed size × `dpi`: decoded and encoded
    once per source (at the largest size it is placed at, so every placement shares the
    bytes), all started at once in a process pool when there are several large pictures;
    each is waited for only when it is asked for, so that whatever needs the first pictures
    goes on while the pool encodes the next. Pictures an earlier build of this process
    encoded from the same bytes for the same size are reused (build --watch)."""

    def __init__(self, placements: Iterable[Placement], dpi: int,
                 workers: int | None = None) -> None:
        targets: dict[ImageSource, tuple[int, int]] = {}
        for placement in placements:
            source = placement.image.source
            if source is None or placement.image.data:
                continue
            width, height = target_pixels(placement.box.w, placement.box.h, dpi)
            before = targets.get(source, (0, 0))
            targets[source] = (max(before[0], width), max(before[1], height))
        self._cache = build_cache()
        self._keys: dict[ImageSource, EncodedKey] = {}
        self._outcomes: dict[ImageSource, Encoded] = {}
        fresh: list[EncodeJob] = []
        for source, target in targets.items():
            digest = self._cache.digest(source) if self._cache is not None else None
            if self._cache is not None and digest is not None:
                key = self._keys[source] = (digest, target)
                known = self._cache.encoded_for(key)
                if known is not None:
                    self._outcomes[source] = known
                    continue
            fresh.append(EncodeJob(source, target))
        self._job_of = {job.source: index for index, job in enumerate(fresh)}
        self._runner = JobRunner(fresh, workers)
        self._encoded: dict[PreparedImage, PreparedImage] = {}

    def encoded(self, image: PreparedImage, note: Path,
                diagnostics: Diagnostics) -> PreparedImage:
        """The image with its bytes (waiting for them), or with a `problem` and, the first
        time it is asked for, a warning: at its line in the note, or naming the file of a
        theme's picture (which is left out)."""
        done = self._encoded.get(image)
        if done is not None:
            return done
        if image.source is None or image.data:
            return image
        outcome = self._outcome(image.source)
        in_note = bool(image.ref.line)  # else a theme's picture, named by its file
        where = (note, image.ref.line) if in_note else (image.path, None)
        for warning in outcome.warnings:
            diagnostics.warn(f"image {image.name}: {warning}", *where)
        if outcome.problem:
            outcome_text = "a placeholder is shown" if in_note else "left out"
            problem = f"image {image.name} {outcome.problem}; {outcome_text}"
            diagnostics.warn(problem, *where)
            done = replace(image, problem=problem)
        else:
            done = replace(image, data=outcome.data, extension=outcome.extension,
                           embedded_size=outcome.size, source=None)
        self._encoded[image] = done
        return done

    def _outcome(self, source: ImageSource) -> Encoded:
        known = self._outcomes.get(source)
        if known is None:
            known = self._outcomes[source] = self._runner.result(self._job_of[source])
            key = self._keys.get(source)
            if self._cache is not None and key is not None and not known.problem:
                self._cache.remember(key, known)  # a failure may be the file system's
        return known

    def close(self) -> None:
        """Stop the pool: pictures not yet encoded are dropped."""
        self._runner.close()

    def __enter__(self) -> Encoding:
        return self

    def __exit__(self, *exception: object) -> None:
        self.close()


class JobRunner:
    """Encode jobs: all submitted at once, in order, to a process pool when there are
    several large pictures (`workers` forces a pool of that size; 1 forces serial), else
    each encoded here when its result is asked for. The pool stops once every result has
    been collected. SVGs are drawn here, each in a limited child process of its own, one
    after the other, all within `SVG_DECK_SECONDS`."""

    def __init__(self, jobs: Sequence[EncodeJob], workers: int | None = None) -> None:
        self.jobs = list(jobs)
        self._results: dict[int, Encoded] = {}
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._futures: dict[int, concurrent.futures.Future[Encoded]] = {}
        self._svg_budget = float(SVG_DECK_SECONDS)
        self._svg_seconds_left = self._svg_budget
        rasters = {index: job for index, job in enumerate(self.jobs) if job.source.kind != SVG}
        count = (pool_size(list(rasters.values())) if workers is None
                 else min(workers, len(rasters)))
        if count <= 1:
            return
        from concurrent.futures import ProcessPoolExecutor  # only a build with a pool

        try:
            from deckgen.sandbox import end_with_parent

            self._pool = ProcessPoolExecutor(max_workers=count, mp_context=_pool_context(),
                                             initializer=end_with_parent,
                                             initargs=(os.getpid(),))
            self._futures = {index: self._pool.submit(encode_job, job)
                             for index, job in rasters.items()}
        except (OSError, ImportError, NotImplementedError, RuntimeError):
            self.close()  # no pool here (no semaphores, too many processes): serially

    def result(self, index: int) -> Encoded:
        """The result of the job at `index`, waiting for it."""
        found = self._results.get(index)
        if found is None:
            found = self._results[index] = self._collect(index)
            if len(self._results) == len(self.jobs):
                self.close()
        return found

    def _collect(self, index: int) -> Encoded:
        if self.jobs[index].source.kind == SVG:
            return self._draw(self.jobs[index])
        if index in self._futures:
            from concurrent.futures import CancelledError
            from concurrent.futures.process import BrokenProcessPool

            try:
                return self._futures[index].result()
            except (OSError, BrokenProcessPool, CancelledError):
                pass  # a worker died or the pool was stopped: encode it here
        return encode_job(self.jobs[index])

    def _draw(self, job: EncodeJob) -> Encoded:
        """An SVG drawn within what is left of the build's `SVG_DECK_SECONDS`, else why
        it is not."""
        spent = (f"is an SVG not drawn: the deck's SVGs took {self._svg_budget:g} s to draw "
                 "altogether, the most a build gives them; refused")
        if self._svg_seconds_left <= 0:
            return Encoded(problem=spent)
        seconds = min(float(SVG_WALL_SECONDS), self._svg_seconds_left)
        started = time.monotonic()
        outcome = encode_job(replace(job, svg_seconds=seconds))
        self._svg_seconds_left -= time.monotonic() - started
        if outcome.problem and self._svg_seconds_left <= 0 and seconds < SVG_WALL_SECONDS:
            return replace(outcome, problem=spent)  # stopped by the deck's limit, not its own
        return outcome

    def close(self) -> None:
        """Stop the pool, dropping the jobs it has not started."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def run_jobs(jobs: Sequence[EncodeJob], workers: int | None = None) -> list[Encoded]:
    """Encode pictures in order (see `JobRunner`) and wait for all of them."""
    runner = JobRunner(jobs, workers)
    try:
        return [runner.result(index) for index in range(len(runner.jobs))]
    finally:
        runner.close()


def pool_size(jobs: Sequence[EncodeJob]) -> int:
    """How many worker processes are worth starting: one per core, only when at least
    `POOL_MIN_LARGE` pictures are large (a pool costs more than it saves otherwise)."""
    large = sum(1 for job in jobs if _pixels(job.source.stored_size) >= LARGE_PIXELS)
    if large < POOL_MIN_LARGE:
        return 1
    return min(_cores(), len(jobs))


def _cores() -> int:
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1


def _pool_context() -> multiprocessing.context.BaseContext:
    """fork on Linux (workers start in milliseconds); the platform's default elsewhere."""
    import multiprocessing

    if sys.platform == "linux":
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


def _pixels(size: tuple[int, int]) -> int:
    return size[0] * size[1]


def encode_job(job: EncodeJob) -> Encoded:
    """One picture decoded (at reduced size when that is enough), normalised, downscaled
    to the target and encoded, with what Pillow warned of that reading its header did not
    already; never raises."""
    with pillow_warnings() as warned:
        outcome = _encode_or_say_why(job)
    fresh = tuple(text for text in warned if text not in job.source.warnings)
    return replace(outcome, warnings=fresh) if fresh else outcome


def _encode_or_say_why(job: EncodeJob) -> Encoded:
    try:
        if job.svg_seconds is None:
            return _encode(job.source, job.target)
        return _encode(job.source, job.target, job.svg_seconds)
    except Unreadable as problem:
        return Encoded(problem=str(problem))
    except MemoryError:
        return Encoded(problem="is too large for the memory available")
    except OSError as exc:
        if isinstance(exc, FileNotFoundError | PermissionError | IsADirectoryError):
            return Encoded(problem=f"cannot be read ({exc.strerror or exc})")
        return Encoded(problem=f"cannot be read ({_describe(exc)})")
    except Exception as exc:  # Pillow's decoders raise many types on broken input
        return Encoded(problem=f"cannot be read ({_describe(exc)})")


def _encode(source: ImageSource, target: tuple[int, int],
            svg_seconds: float | None = None) -> Encoded:
    if source.kind == SVG:
        picture = rasterise_svg(source.read(), target, svg_seconds)
        return _encoded(picture, photo=False, icc=None, palette=False)
    upright = source.upright_size
    shown_pixels = min(_pixels(upright), _pixels(target))
    keep = source.embeddable_as_is and source.byte_size <= KEEP_BYTES_PER_PIXEL * shown_pixels
    if keep and source.kind == "PNG":
        data = source.read()
        if check_png(data).size != source.stored_size:
            raise Unreadable("changed while the deck was built; build again")
        return Encoded(data, "png", upright)
    jpeg = source.kind in JPEG_FORMATS  # also MPO (phones, 3D)
    with _open(source.path, source.inline) as opened:
        _check_pixels(*opened.size)
        if keep:
            _verify_decodes(opened)
            return Encoded(source.read(), PORTABLE_FORMATS[source.kind], upright)
        if jpeg:
            stored_target = target if upright == source.stored_size else target[::-1]
            opened.draft(opened.mode, draft_request(opened.size, stored_target))
        _check_decoding_memory(opened)
        opened.seek(0)
        opened.load()
        icc = opened.info.get("icc_profile")
        picture = downscale(normalise(opened), target, photo=jpeg)
    photo = jpeg or (source.mode not in ("P", "PA") and looks_like_photo(picture))
    encoded = _encoded(picture, photo, icc if isinstance(icc, bytes) else None,
                       palette=source.mode in ("P", "PA"))
    if source.embeddable_as_is and source.byte_size <= len(encoded.data):
        return Encoded(source.read(), PORTABLE_FORMATS[source.kind], upright)
    return encoded


def _verify_decodes(opened: PILImage.Image) -> None:
    """Decode a picture we embed as it is (a JPEG; a PNG's chunks are checked instead), at
    the smallest size its format allows, so a truncated or corrupt file is caught rather
    than shipped."""
    if opened.format in JPEG_FORMATS:
        opened.draft(opened.mode, (max(1, opened.width // 8), max(1, opened.height // 8)))
    opened.load()


def normalise(opened: PILImage.Image) -> PILImage.Image:
    """A decoded picture upright (EXIF orientation), 8 bits per channel, in RGB, RGBA, L
    or LA; CMYK and palettes to RGB; transparency kept only where some pixel uses it."""
    picture = opened
    if _orientation(opened) != 1:
        from PIL import ImageOps  # only for a turned picture

        picture = ImageOps.exif_transpose(opened) or opened
    mode = picture.mode
    if mode.startswith("I;16") or mode == "I":
        picture = picture.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    elif mode == "F":
        picture = picture.convert("L")
    elif mode in ("P", "PA"):
        transparent = mode == "PA" or "transparency" in picture.info
        picture = picture.convert("RGBA" if transparent else "RGB")
    elif mode == "1":
        picture = picture.convert("L")
    elif mode == "La":
        picture = picture.convert("LA")
    elif mode == "RGBa":
        picture = picture.convert("RGBA")
    elif mode == "CMYK":
        picture = _cmyk_to_rgb(picture)
    elif mode not in ("L", "LA", "RGB", "RGBA"):
        picture = picture.convert("RGBA" if "A" in mode else "RGB")
    if picture.mode in ("RGBA", "LA"):
        alpha = picture.getchannel("A")
        if alpha.getextrema() == (255, 255):
            picture = picture.convert(picture.mode[:-1])
    return picture


def _cmyk_to_rgb(picture: PILImage.Image) -> PILImage.Image:
    """CMYK through its own ICC profile when it has one (colours as printed), else
    Pillow's plain conversion."""
    icc = picture.info.get("icc_profile")
    if isinstance(icc, bytes):
        from PIL import ImageCms  # littleCMS, loaded when a picture first has a profile

        try:
            converted = ImageCms.profileToProfile(
                picture, ImageCms.ImageCmsProfile(io.BytesIO(icc)), _srgb(), outputMode="RGB")
            if converted is not None:
                return converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass
    return picture.convert("RGB")


@functools.cache
def _srgb() -> ImageCms.ImageCmsProfile:
    """The sRGB profile every picture is converted to."""
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def draft_request(stored: tuple[int, int], target: tuple[int, int]) -> tuple[int, int]:
    """The size to ask the JPEG decoder for: the target, or up to `DRAFT_SHORTFALL` less
    when that lets it decode at a smaller scale (the picture is then embedded that much
    smaller)."""
    relaxed = (max(1, math.ceil(target[0] * (1 - DRAFT_SHORTFALL))),
               max(1, math.ceil(target[1] * (1 - DRAFT_SHORTFALL))))
    return relaxed if _decoder_scale(stored, relaxed) > _decoder_scale(stored, target) \
        else target


def _decoder_scale(stored: tuple[int, int], request: tuple[int, int]) -> int:
    """The scale divisor Pillow's JPEG draft picks for a requested size."""
    fits = min(stored[0] // request[0], stored[1] // request[1])
    return next(scale for scale in (8, 4, 2, 1) if fits >= scale or scale == 1)


def downscale(picture: PILImage.Image, target: tuple[int, int],
              photo: bool = False) -> PILImage.Image:
    """The picture no larger than it needs to be to cover `target` (never enlarged): a
    photo re-encoded as JPEG with the bicubic filter, a quarter faster than Lanczos, which
    keeps the sharpness of a diagram's edges and text. (Measured on the benchmark photos,
    decoded at half size and downscaled to 1200 and 800 pixels wide: 0.05 to 0.14 dB less
    PSNR after encoding at quality 70 to 85, against 35 to 37 dB that the encoding leaves.)"""
    scale = max(target[0] / picture.width, target[1] / picture.height)
    if scale >= 1:
        return picture
    size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
    resampling = PILImage.Resampling.BICUBIC if photo else PILImage.Resampling.LANCZOS
    return picture.resize(size, resampling)


def looks_like_photo(picture: PILImage.Image) -> bool:
    """Whether a picture is a photo (many colours, none dominant) rather than a diagram
    or a screenshot (a few flat colours cover most of it); pictures with alpha are not."""
    if picture.mode in ("RGBA", "LA"):
        return False
    sample = picture
    if picture.width * picture.height > COLOUR_SAMPLE:
        scale = math.sqrt(COLOUR_SAMPLE / (picture.width * picture.height))
        sample = picture.resize((max(1, round(picture.width * scale)),
                                 max(1, round(picture.height * scale))),
                                PILImage.Resampling.NEAREST)
    total = sample.width * sample.height
    colours = sample.getcolors(maxcolors=total)
    if colours is None:
        return True
    counts = sorted((count for count, _ in colours), reverse=True)
    return sum(counts[:FLAT_COLOURS]) < FLAT_COVERAGE * total


def _encoded(picture: PILImage.Image, photo: bool, icc: bytes | None,
             palette: bool) -> Encoded:
    """A photo as JPEG (quality 85, lower for a busy one), anything else as PNG; a picture
    whose source had a palette (a GIF, a PNG-8) back to a palette of 256 colours after
    downscaling (a third of the bytes). The JPEG's Huffman tables are the standard ones:
    optimising them would save 2.5% of its bytes for twice the time of the encoding."""
    picture = _to_srgb(picture, icc)
    size = picture.size
    out = io.BytesIO()
    if photo and picture.mode in ("RGB", "L"):
        quality = photo_quality(picture, PHOTO_BITS_PER_PIXEL / 8 * _pixels(size))
        picture.save(out, "JPEG", quality=quality)
        return Encoded(out.getvalue(), "jpg", size)
    if palette and picture.mode in ("RGB", "RGBA"):
        picture = picture.quantize(256, method=PILImage.Quantize.FASTOCTREE,
                                   dither=PILImage.Dither.NONE)
    picture.save(out, "PNG", optimize=True)
    return Encoded(out.getvalue(), "png", size)


def photo_quality(picture: PILImage.Image, budget: float) -> int:
    """The highest JPEG quality, from `JPEG_QUALITY` down to `MIN_JPEG_QUALITY` in steps
    of 5, whose encoding of the picture is estimated to take at most `budget` bytes."""
    sample = _quality_sample(picture)
    scale = picture.height / sample.height
    quality = JPEG_QUALITY
    while quality > MIN_JPEG_QUALITY and _estimated_jpeg_bytes(sample, scale, quality) > budget:
        quality -= 5
    return quality


def _quality_sample(picture: PILImage.Image) -> PILImage.Image:
    """`QUALITY_SAMPLE_BANDS` bands of rows spread evenly over the picture, one below the
    other, each starting at a row of JPEG blocks (so that its blocks are the picture's own);
    the picture itself when it is too small to be worth sampling."""
    band = QUALITY_SAMPLE_ROWS
    spacing = picture.height // QUALITY_SAMPLE_BANDS // band * band
    if spacing < 2 * band:
        return picture
    sample = PILImage.new(picture.mode, (picture.width, band * QUALITY_SAMPLE_BANDS))
    for index in range(QUALITY_SAMPLE_BANDS):
        top = index * spacing + spacing // 2 // band * band
        sample.paste(picture.crop((0, top, picture.width, top + band)), (0, index * band))
    return sample


def _estimated_jpeg_bytes(sample: PILImage.Image, scale: float, quality: int) -> float:
    """The bytes a picture `scale` times as tall as its sample would take at `quality`: the
    sample's scan data scaled, its tables (written once whatever the size) not."""
    out = io.BytesIO()
    sample.save(out, "JPEG", quality=quality)
    encoded = out.getvalue()
    tables = _jpeg_tables_length(encoded)
    return tables + (len(encoded) - tables) * scale


def _jpeg_tables_length(encoded: bytes) -> int:
    """The length of a JPEG's markers before its first scan's data (its tables)."""
    position = 2  # after the start-of-image marker
    while position + 4 <= len(encoded) and encoded[position] == 0xFF:
        marker = encoded[position + 1]
        (length,) = struct.unpack_from(">H", encoded, position + 2)
        position += 2 + length
        if marker == 0xDA:  # start of scan: its header is the last of the tables
            break
    return position


def _to_srgb(picture: PILImage.Image, icc: bytes | None) -> PILImage.Image:
    """Colours in sRGB, which every client assumes (a phone's Display P3, say, would look
    dull or wrong where the profile is ignored)."""
    if icc is None or picture.mode not in ("RGB", "RGBA"):
        return picture
    from PIL import ImageCms

    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if ImageCms.getProfileDescription(profile).strip().lower().startswith("srgb"):
            return picture
        converted = ImageCms.profileToProfile(picture, profile, _srgb(),
                                              outputMode=picture.mode)
    except (ImageCms.PyCMSError, OSError, ValueError):
        return picture
    if converted is None:
        return picture
    # sRGB is what every client assumes: no profile is embedded (the one LittleCMS makes
    # holds the time it was made, so the same notes would not give the same bytes).
    converted.info.pop("icc_profile", None)
    return converted


def rasterise_svg(data: bytes, target: tuple[int, int],
                  seconds: float | None = None) -> PILImage.Image:
    """An SVG drawn at the target size with cairosvg (no external files or URLs fetched),
    in a child process limited in memory and time (see `SVG_MEMORY_BYTES`; `seconds`
    instead of `SVG_WALL_SECONDS` when given)."""
    cairosvg = _cairosvg()
    if cairosvg is None:
        raise Unreadable("is an SVG and cairosvg is not installed (pip install "
                         "'deckgen[svg]')")
    _check_pixels(*target)
    from deckgen import sandbox

    if sys.platform == "linux":
        _prepare_svg_drawing()
    try:
        wall = SVG_WALL_SECONDS if seconds is None else seconds
        png = sandbox.run_limited(draw_svg, (svg_text(data), target), SVG_MEMORY_BYTES,
                                  min(SVG_CPU_SECONDS, max(1, math.ceil(wall))), wall)
    except sandbox.Stopped as stopped:
        raise Unreadable(f"is an SVG whose drawing {stopped}") from stopped
    except MemoryError as exc:
        raise Unreadable(f"is an SVG that needs more than {SVG_MEMORY_BYTES:,} bytes of "
                         "memory to draw; refused") from exc
    except RecursionError as exc:
        raise Unreadable("is an SVG that refers to itself (an element that uses itself, "
                         "or nests too deep); refused") from exc
    except sandbox.Failed as failed:
        raise Unreadable(f"is an SVG that cannot be drawn ({failed})") from failed
    picture = PILImage.open(io.BytesIO(png))
    picture.load()
    return normalise(picture)


#: A drawing with text, made here once before an SVG is drawn in a forked child process.
SVG_WARM_UP = (b'<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><text y="8" '
               b'font-family="sans-serif">a</text></svg>')


@functools.cache
def _prepare_svg_drawing() -> None:
    """Draw `SVG_WARM_UP` in this process, so that what cairo and fontconfig set up on
    their first drawing (50 ms) is inherited by every forked child instead of done again
    in each: then a child adds ~4 ms to a drawing (measured: 25 ms instead of 75)."""
    with contextlib.suppress(Exception):  # a failure shows when the SVG itself is drawn
        draw_svg(SVG_WARM_UP, (8, 8))


def draw_svg(data: bytes, target: tuple[int, int]) -> bytes:
    """An SVG drawn as a PNG of the target size by cairosvg, which fetches nothing but the
    data: URIs it holds (`_svg_fetch`); run in a limited child process."""
    surface = importlib.import_module("cairosvg.surface")  # svg2png takes no fetcher
    png = surface.PNGSurface.convert(bytestring=data, output_width=target[0],
                                     output_height=target[1], url_fetcher=_svg_fetch)
    return bytes(png)


def _svg_fetch(url: str, resource_type: str) -> bytes:
    """What an SVG being drawn may fetch: a picture, an SVG or a stylesheet in a data: URI
    (anything else is an empty picture, as with cairosvg's own safe fetcher), a compressed
    SVG inflated within `MAX_SVG_BYTES`, a picture's size checked before it is decoded."""
    if not url.startswith("data:"):
        return b'<svg width="1" height="1"></svg>'
    try:
        data = decode_data_uri(url)
    except Unreadable as problem:
        raise Unreadable(f"embeds a picture (a data: URI) that {problem}") from problem
    if resource_type == "text/css":
        return data
    try:
        if data.startswith(b"\x1f\x8b") or _is_svg(data[:4096], ""):
            text = svg_text(data)
            svg_root_attributes(text)  # refuses entities, as cairosvg would less clearly
            return text
        with pillow_warnings(), _open(None, data) as opened:
            _check_pixels(*opened.size)
    except Unreadable as problem:
        raise Unreadable(f"embeds a picture that {problem}") from problem
    except UnidentifiedImageError as exc:  # its message shows Pillow's stream object
        raise Unreadable("embeds a picture (a data: URI) that is not a picture deckgen "
                         f"recognises, such as {READABLE_FORMATS}") from exc
    except Exception:  # a damaged picture: cairosvg says what it makes of it
        pass
    return data
