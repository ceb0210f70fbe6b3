"""Resolve, read and normalise the pictures a note references (Pillow)."""

from __future__ import annotations

import base64
import binascii
import io
import unicodedata
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote

from PIL import Image as PILImage
from PIL import ImageOps, UnidentifiedImageError

from deckgen.errors import Diagnostics
from deckgen.model import Image

#: Formats every PowerPoint, Keynote, Google Slides and LibreOffice shows as they are.
PORTABLE_FORMATS = {"PNG": "png", "JPEG": "jpg", "GIF": "gif"}
#: Pictures larger than this many pixels are refused (decompression bombs).
MAX_PIXELS = 120_000_000


@dataclass(frozen=True)
class PreparedImage:
    """A picture ready to embed, or the reason it cannot be shown (`data` is then empty)."""

    ref: Image
    path: Path | None
    data: bytes
    extension: str
    width_px: int
    height_px: int
    problem: str = ""

    @property
    def ok(self) -> bool:
        """Whether there is a picture to embed (else a placeholder is drawn)."""
        return bool(self.data)

    @property
    def aspect(self) -> float:
        """Width divided by height."""
        return self.width_px / self.height_px if self.height_px else 1.0

    @property
    def description(self) -> str:
        """The text a screen reader says for the picture: alt text, else the file name."""
        if self.ref.alt:
            return self.ref.alt
        name = unquote(self.ref.src.rsplit("/", 1)[-1]) if self.ref.src else "image"
        return unicodedata.normalize("NFC", name)


def prepare_images(images: Iterable[Image], source: Path, resource_paths: Sequence[Path],
                   diagnostics: Diagnostics) -> dict[Image, PreparedImage]:
    """Every referenced picture, prepared once; problems become warnings with file:line."""
    prepared: dict[Image, PreparedImage] = {}
    for image in images:
        if image not in prepared:
            prepared[image] = prepare_image(image, source, resource_paths, diagnostics)
    return prepared


def prepare_image(image: Image, source: Path, resource_paths: Sequence[Path],
                  diagnostics: Diagnostics) -> PreparedImage:
    """One picture: resolved, read, oriented and converted to a portable format."""

    def placeholder(problem: str, path: Path | None = None) -> PreparedImage:
        diagnostics.warn(problem, source, image.line)
        return PreparedImage(image, path, b"", "", 0, 0, problem)

    src = image.src.strip()
    if not src:
        return placeholder("image without a source; a placeholder is shown")
    if src.lower().startswith(("http://", "https://")):
        return placeholder(f"remote image {src} is not fetched; a placeholder links to it")
    if src.lower().startswith("data:"):
        data = _data_uri(src)
        if data is None:
            return placeholder("data: URI image could not be decoded; a placeholder is shown")
        return _from_bytes(image, None, data, placeholder)
    roots = [source.parent, *resource_paths]
    path = resolve_image_path(src, roots)
    if path is None:
        where = ", ".join(str(root) for root in roots)
        return placeholder(f"image {src} not found (looked in {where}); a placeholder is "
                           "shown — add the file or fix the path")
    if path == OUTSIDE:
        return placeholder(f"image {src} is outside the note's folder and the resource "
                           "paths; refused (add its folder with --resource-path)")
    if path.is_dir():
        return placeholder(f"image {src} is a directory; a placeholder is shown", path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        return placeholder(f"image {src} cannot be read ({exc.strerror}); a placeholder is "
                           "shown", path)
    return _from_bytes(image, path, data, placeholder)


#: A marker path for an image that resolves outside the allowed folders.
OUTSIDE = Path("/..outside..")


def resolve_image_path(src: str, roots: Sequence[Path]) -> Path | None:
    """The file an image source names, looked up in each root in order; `OUTSIDE` when it
    exists only outside every root. File names match whatever their Unicode normalisation
    (NFC or NFD) and URL-encoding."""
    variants = _spellings(src)
    outside_match = False
    for root in roots:
        base = root.resolve()
        for variant in variants:
            candidate = Path(variant) if Path(variant).is_absolute() else base / variant
            found = _existing(candidate)
            if found is None:
                continue
            resolved = found.resolve()
            if any(resolved.is_relative_to(allowed.resolve()) for allowed in roots):
                return resolved
            outside_match = True
    return OUTSIDE if outside_match else None


def _spellings(src: str) -> list[str]:
    decoded = unquote(src.split("#", 1)[0].split("?", 1)[0])
    spellings: list[str] = []
    for text in (src, decoded):
        for form in ("NFC", "NFD"):
            variant = unicodedata.normalize(form, text)
            if variant not in spellings:
                spellings.append(variant)
    return spellings


def _existing(candidate: Path) -> Path | None:
    """The candidate path if it exists, also when the disk spells a name in another Unicode
    normalisation than the note."""
    if candidate.exists():
        return candidate
    parent = candidate.parent
    if not parent.is_dir():
        return None
    wanted = unicodedata.normalize("NFC", candidate.name)
    try:
        for entry in parent.iterdir():
            if unicodedata.normalize("NFC", entry.name) == wanted:
                return entry
    except OSError:
        return None
    return None


def _data_uri(src: str) -> bytes | None:
    header, _, payload = src.partition(",")
    try:
        if header.endswith(";base64"):
            return base64.b64decode(payload, validate=False)
        return unquote(payload).encode("latin-1")
    except (binascii.Error, ValueError):
        return None


def _from_bytes(image: Image, path: Path | None, data: bytes,
                placeholder: _Placeholder) -> PreparedImage:
    name = image.src if not image.src.startswith("data:") else "data: URI image"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            with PILImage.open(io.BytesIO(data)) as checked:
                checked.verify()
            with PILImage.open(io.BytesIO(data)) as opened:
                width, height = opened.size
                if width * height > MAX_PIXELS:
                    return placeholder(f"image {name} is {width}×{height} pixels, more than "
                                       f"{MAX_PIXELS:,}; refused", path)
                fmt = opened.format or ""
                orientation = opened.getexif().get(0x0112, 1)
                if fmt in PORTABLE_FORMATS and orientation in (1, None) \
                        and opened.mode not in ("CMYK", "I;16", "I", "F"):
                    return PreparedImage(image, path, data, PORTABLE_FORMATS[fmt], width,
                                         height)
                opened.load()
                converted = _portable(opened)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError,
            PILImage.DecompressionBombError, PILImage.DecompressionBombWarning) as exc:
        return placeholder(f"image {name} cannot be read ({type(exc).__name__}: {exc}); a "
                           "placeholder is shown", path)
    out = io.BytesIO()
    extension = "png"
    if converted.mode == "RGB" and (fmt == "JPEG" or _is_photo(converted)):
        converted.save(out, "JPEG", quality=85, optimize=True)
        extension = "jpg"
    else:
        converted.save(out, "PNG", optimize=True)
    return PreparedImage(image, path, out.getvalue(), extension, converted.width,
                         converted.height)


def _portable(opened: PILImage.Image) -> PILImage.Image:
    """The picture upright and in a mode PNG or JPEG can hold."""
    upright = ImageOps.exif_transpose(opened) or opened
    if upright.mode in ("RGBA", "LA") or (upright.mode == "P"
                                           and "transparency" in upright.info):
        return upright.convert("RGBA")
    if upright.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return upright.point(lambda value: value / 256).convert("L")
    if upright.mode not in ("RGB", "L"):
        return upright.convert("RGB")
    return upright


def _is_photo(picture: PILImage.Image) -> bool:
    colours = picture.getcolors(maxcolors=4096)
    return colours is None


class _Placeholder(Protocol):
    """The callback that records a problem and returns a placeholder image."""

    def __call__(self, problem: str, path: Path | None = None) -> PreparedImage: ...
