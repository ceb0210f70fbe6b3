"""Text measurement with Pillow on real font files: widths, wrapping and line counts."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import ImageFont

from deckgen.model import Span

#: The open font that has the metrics of a face a theme names (metric-compatible, or for
#: Hangul and code a face at least as wide, so that text measured with it fits).
METRIC_EQUIVALENTS: dict[str, tuple[str, ...]] = {
    "arial": ("Liberation Sans", "Arimo", "Arial"),
    "helvetica": ("Liberation Sans", "Arimo", "Helvetica"),
    "calibri": ("Carlito", "Calibri"),
    "cambria": ("Caladea", "Cambria"),
    "times new roman": ("Liberation Serif", "Tinos", "Times New Roman"),
    "courier new": ("Liberation Mono", "Cousine", "Courier New"),
    "consolas": ("Liberation Mono", "DejaVu Sans Mono", "Consolas"),
    "malgun gothic": ("Noto Sans CJK KR", "Source Han Sans K", "Malgun Gothic"),
    "맑은 고딕": ("Noto Sans CJK KR", "Source Han Sans K", "Malgun Gothic"),
    "apple sd gothic neo": ("Noto Sans CJK KR", "Apple SD Gothic Neo"),
    "nanumgothic": ("NanumGothic", "Noto Sans CJK KR"),
}
#: Used when a face has no equivalent installed: wide faces, so that text still fits.
FALLBACK_LATIN = ("Liberation Sans", "DejaVu Sans")
FALLBACK_EAST_ASIAN = ("Noto Sans CJK KR", "Noto Sans CJK JP", "Source Han Sans K")
#: Widths (in em) used when no font file can be found at all: generous estimates.
ESTIMATE_LATIN_EM = 0.62
ESTIMATE_EAST_ASIAN_EM = 1.0
EMOJI_EM = 1.3
#: LibreOffice inserts extra space between Asian and Latin characters (autospacing).
ASIAN_LATIN_GAP_EM = 0.25
#: Characters that may not begin a line (a break before them is not allowed).
NO_LINE_START = ".,!?:;)]}'\"·」』"
#: Points of each line kept free, for renderers that set text slightly wider than Pillow.
WIDTH_SAFETY = 0.965

FONT_DIRECTORIES = (
    Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), Path.home() / ".fonts",
    Path.home() / ".local/share/fonts", Path("/Library/Fonts"), Path("/System/Library/Fonts"),
    Path.home() / "Library/Fonts", Path(os.environ.get("WINDIR", "C:/Windows")) / "Fonts",
)


@dataclass(frozen=True)
class FontFile:
    """One face of a font file: a path and the index inside a collection (.ttc)."""

    path: Path
    index: int
    family: str


@dataclass(frozen=True)
class FaceFiles:
    """The files text of one role and weight is measured with."""

    latin: FontFile | None
    east_asian: FontFile | None


@functools.cache
def installed_fonts() -> tuple[tuple[str, str, Path, int], ...]:
    """Installed faces as (family, style, path, index), from fontconfig or a folder scan."""
    if shutil.which("fc-list"):
        try:
            out = subprocess.run(
                ["fc-list", "--format", "%{family}\t%{style}\t%{file}\t%{index}\n"],
                capture_output=True, text=True, timeout=20, check=True).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        faces = []
        for line in out.splitlines():
            parts = line.split("\t")
            if len(parts) == 4 and parts[3].isdigit():
                for family in parts[0].split(","):
                    faces.append((family.strip(), parts[1].split(",")[0], Path(parts[2]),
                                  int(parts[3])))
        if faces:
            return tuple(sorted(faces, key=lambda face: (face[0], face[1], str(face[2]))))
    return tuple(_scan_font_directories())


def _scan_font_directories() -> list[tuple[str, str, Path, int]]:
    faces = []
    for directory in FONT_DIRECTORIES:
        if not directory.is_dir():
            continue
        for path in sorted(directory.rglob("*")):
            if path.suffix.lower() not in (".ttf", ".otf", ".ttc"):
                continue
            for index in range(12 if path.suffix.lower() == ".ttc" else 1):
                try:
                    family, style = ImageFont.truetype(str(path), 10, index=index).getname()
                except OSError:
                    break
                faces.append((family or "", style or "", path, index))
    return faces


def find_font(family: str, bold: bool) -> FontFile | None:
    """The installed file of a family in the regular or bold weight, if any."""
    wanted = family.casefold()
    candidates = [face for face in installed_fonts() if face[0].casefold() == wanted]
    if not candidates:
        return None

    def rank(face: tuple[str, str, Path, int]) -> tuple[int, str]:
        style = face[1].casefold()
        italic = "italic" in style or "oblique" in style
        is_bold = "bold" in style and "semi" not in style
        plain = style in ("regular", "book", "normal", "roman", "bold")
        return 2 * italic + 2 * (is_bold != bold) + (not plain), str(face[2])

    best = min(candidates, key=rank)
    return FontFile(best[2], best[3], best[0])


def measure_file_for(face: str, bold: bool, east_asian: bool) -> FontFile | None:
    """The file to measure a named face with: itself or its metric equivalent, else a
    documented wide fallback."""
    names = METRIC_EQUIVALENTS.get(face.casefold(), (face,))
    fallbacks = FALLBACK_EAST_ASIAN if east_asian else FALLBACK_LATIN
    for name in (*names, *fallbacks):
        found = find_font(name, bold)
        if found is not None:
            return found
    return None


def char_class(char: str) -> str:
    """The script class of a character for measuring: "ea", "emoji", "zero", "neutral" or
    "latin"."""
    code = ord(char)
    if code in (0x200B, 0x200C, 0x200D, 0xFE0E, 0xFE0F) or 0x1F3FB <= code <= 0x1F3FF:
        return "zero"
    if (0x1100 <= code <= 0x11FF or 0x2E80 <= code <= 0x2FDF or 0x3000 <= code <= 0x33FF
            or 0x3400 <= code <= 0x4DBF or 0x4E00 <= code <= 0x9FFF or 0xA960 <= code <= 0xA97F
            or 0xAC00 <= code <= 0xD7FF or 0xF900 <= code <= 0xFAFF
            or 0xFE30 <= code <= 0xFE4F or 0xFF00 <= code <= 0xFFEF):
        return "ea"
    if (0x1F000 <= code <= 0x1FAFF or 0x2600 <= code <= 0x27BF or 0x2B00 <= code <= 0x2BFF
            or 0x1FC00 <= code <= 0x1FFFF):
        return "emoji"
    if char.isalpha():
        return "latin"
    return "neutral"


class Measurer:
    """Measures text of a theme's roles (heading, body, code) in points."""

    def __init__(self, faces: dict[str, tuple[str, str]]) -> None:
        """`faces` maps a role to its (latin face, east Asian face) names."""
        self._files: dict[tuple[str, bool], FaceFiles] = {}
        for role, (latin, east_asian) in faces.items():
            for bold in (False, True):
                self._files[role, bold] = FaceFiles(
                    measure_file_for(latin, bold, east_asian=False),
                    measure_file_for(east_asian, bold, east_asian=True))
        self._em_cache: dict[tuple[str, bool, str], float] = {}

    def missing_fonts(self) -> list[str]:
        """Roles whose text is measured with estimates because no font file was found."""
        return sorted({f"{role} ({'latin' if files.latin is None else 'east asian'})"
                       for (role, _), files in self._files.items()
                       if files.latin is None or files.east_asian is None})

    def files(self, role: str, bold: bool) -> FaceFiles:
        """The files a role's text is measured with."""
        return self._files[role, bold]

    def em(self, char: str, role: str, bold: bool) -> float:
        """The advance of one character in em."""
        key = (role, bold, char)
        cached = self._em_cache.get(key)
        if cached is not None:
            return cached
        kind = char_class(char)
        files = self._files[role, bold]
        if kind == "zero":
            width = 0.0
        elif kind == "emoji":
            width = EMOJI_EM
        elif kind == "ea":
            width = _em_of(files.east_asian, char, ESTIMATE_EAST_ASIAN_EM)
        elif kind == "latin":
            width = _em_of(files.latin, char, ESTIMATE_LATIN_EM)
        else:
            width = max(_em_of(files.latin, char, ESTIMATE_LATIN_EM),
                        _em_of(files.east_asian, char, ESTIMATE_LATIN_EM))
        self._em_cache[key] = width
        return width

    def width(self, text: str, role: str, bold: bool, size: float) -> float:
        """The width of text on one line in points, with Asian/Latin autospacing."""
        return line_em(self, [(char, role, bold) for char in text]) * size

    def fitting_length(self, text: str, role: str, bold: bool, size: float,
                       width: float) -> int:
        """How many leading characters of text fit on one line `width` points wide, as
        `width()` measures them, in one pass (not one measure per candidate length)."""
        total = 0.0
        previous = ""
        for index, char in enumerate(text):
            total += self.em(char, role, bold)
            kind = _kind(char)
            if _autospaced(previous, kind):
                total += ASIAN_LATIN_GAP_EM
            previous = kind
            if total * size > width:
                return index
        return len(text)

    def line_count(self, spans: Sequence[Span], role: str, size: float, width: float,
                   code_role: str | None = None, bold: bool = False) -> int:
        """How many lines spans take in a box `width` points wide, taking the larger count of
        character-wise and word-wise wrapping of East Asian text, so every renderer fits."""
        chars = styled_chars(spans, role, code_role, bold)
        if not chars:
            return 1
        available = width * WIDTH_SAFETY / size
        return max(len(wrap_chars(self, chars, available, cjk_per_char=True)),
                   len(wrap_chars(self, chars, available, cjk_per_char=False)))

    def wrap(self, spans: Sequence[Span], role: str, size: float, width: float,
             code_role: str | None = None, bold: bool = False) -> list[str]:
        """The text of each wrapped line (word-wise for Hangul), for captions and tests."""
        chars = styled_chars(spans, role, code_role, bold)
        lines = wrap_chars(self, chars, width * WIDTH_SAFETY / size, cjk_per_char=False)
        return ["".join(char for char, _, _ in line).strip() for line in lines]


StyledChar = tuple[str, str, bool]


def styled_chars(spans: Sequence[Span], role: str, code_role: str | None,
                 bold: bool) -> list[StyledChar]:
    """Each character with the role and weight it is drawn in."""
    chars: list[StyledChar] = []
    for span in spans:
        span_role = code_role if span.code and code_role else role
        for char in unicodedata.normalize("NFC", span.text):
            chars.append((char, span_role, bold or span.bold))
    return chars


def _em_of(font: FontFile | None, char: str, estimate: float) -> float:
    if font is None:
        return estimate
    try:
        if not _has_glyph(font, char):
            return estimate
        return float(_load(font.path, font.index).getlength(char)) / 1000.0
    except (OSError, ValueError, RuntimeError):  # raqm refuses some, e.g. U+2029
        return estimate


@functools.cache
def _load(path: Path, index: int, size: int = 1000) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), size, index=index)


@functools.cache
def _has_glyph(font: FontFile, char: str) -> bool:
    """Whether the font draws the character itself rather than its .notdef box."""
    return _glyph_signature(font, char) != _glyph_signature(font, "\U0010fffd")


@functools.cache
def _glyph_signature(font: FontFile, char: str) -> tuple[float, bytes]:
    small = _load(font.path, font.index, 24)
    try:
        return float(small.getlength(char)), bytes(small.getmask(char))
    except (OSError, ValueError, RuntimeError):
        return 0.0, b""


def line_em(measurer: Measurer, chars: Sequence[StyledChar]) -> float:
    """The width of styled characters on one line, in em of the text size, with the gap
    LibreOffice puts between Asian and Latin letters or digits."""
    total = 0.0
    previous = ""
    for char, role, bold in chars:
        total += measurer.em(char, role, bold)
        kind = _kind(char)
        if _autospaced(previous, kind):
            total += ASIAN_LATIN_GAP_EM
        previous = kind
    return total


def _autospaced(before: str, after: str) -> bool:
    """Whether LibreOffice puts its Asian/Latin gap between characters of these kinds: an
    East Asian character next to any visible non-Asian one (letters, digits, punctuation)."""
    visible = ("latin", "neutral", "emoji")
    return (before == "ea" and after in visible) or (after == "ea" and before in visible)


def wrap_chars(measurer: Measurer, chars: list[StyledChar], available_em: float,
               cjk_per_char: bool) -> list[list[StyledChar]]:
    """Greedy line breaking: at spaces and hyphens, between East Asian characters when
    `cjk_per_char`, and anywhere inside a word too long for a line. Hard breaks ("\\n") end
    a line."""
    lines: list[list[StyledChar]] = []
    for segment in _split_hard_breaks(chars):
        lines.extend(_wrap_segment(measurer, segment, available_em, cjk_per_char))
    return lines or [[]]


def _split_hard_breaks(chars: list[StyledChar]) -> list[list[StyledChar]]:
    segments: list[list[StyledChar]] = [[]]
    for styled in chars:
        if styled[0] == "\n":
            segments.append([])
        else:
            segments[-1].append(styled)
    return segments


def _tokens(chars: list[StyledChar], cjk_per_char: bool) -> list[list[StyledChar]]:
    """Unbreakable pieces, each ending where a line may break after it."""
    tokens: list[list[StyledChar]] = [[]]
    for index, styled in enumerate(chars):
        char = styled[0]
        tokens[-1].append(styled)
        following = chars[index + 1][0] if index + 1 < len(chars) else ""
        breaks_after = (
            (char.isspace() and not following.isspace())
            or (char in "-/" and bool(following) and not following.isspace())
            or (cjk_per_char and char_class(char) == "ea" and bool(following)
                and not following.isspace() and following not in NO_LINE_START))
        if breaks_after:
            tokens.append([])
    return [token for token in tokens if token]


@dataclass(frozen=True)
class _Token:
    """An unbreakable piece of a line with its widths in em."""

    chars: list[StyledChar]
    width: float
    visible: float
    first_kind: str
    last_kind: str


def _token(measurer: Measurer, chars: list[StyledChar]) -> _Token:
    end = len(chars)
    while end and chars[end - 1][0].isspace():
        end -= 1
    visible = line_em(measurer, chars[:end])
    trailing = sum(measurer.em(char, role, bold) for char, role, bold in chars[end:])
    return _Token(chars, visible + trailing, visible, _kind(chars[0][0]), _kind(chars[-1][0]))


def _kind(char: str) -> str:
    """The kind of a character for autospacing: spaces are their own kind."""
    return "space" if char.isspace() else char_class(char)


def _wrap_segment(measurer: Measurer, chars: list[StyledChar], available_em: float,
                  cjk_per_char: bool) -> list[list[StyledChar]]:
    """Greedy wrapping in one pass: each token is measured once."""
    lines: list[list[StyledChar]] = []
    current: list[StyledChar] = []
    width = 0.0
    last_kind = ""
    for token in (_token(measurer, piece) for piece in _tokens(chars, cjk_per_char)):
        gap = ASIAN_LATIN_GAP_EM if _autospaced(last_kind, token.first_kind) else 0.0
        if current and width + gap + token.visible > available_em:
            lines.append(current)
            current, width, gap = [], 0.0, 0.0
        if not current and token.visible > available_em:
            pieces = _split_long_token(measurer, token.chars, available_em)
            lines.extend(pieces[:-1])
            current = pieces[-1]
            width = line_em(measurer, current)
        else:
            current = current + token.chars
            width += gap + token.width
        last_kind = token.last_kind
    lines.append(current)
    return lines


def _split_long_token(measurer: Measurer, chars: list[StyledChar],
                      available_em: float) -> list[list[StyledChar]]:
    """A word too long for any line (a URL, an identifier) broken between characters."""
    pieces: list[list[StyledChar]] = []
    current: list[StyledChar] = []
    width = 0.0
    last_kind = ""
    for styled in chars:
        kind = _kind(styled[0])
        advance = measurer.em(*styled) + (ASIAN_LATIN_GAP_EM
                                          if _autospaced(last_kind, kind) else 0.0)
        if current and width + advance > available_em and not styled[0].isspace():
            pieces.append(current)
            current, width = [], measurer.em(*styled)
        else:
            width += advance
        current.append(styled)
        last_kind = kind
    pieces.append(current)
    return pieces


def measurer_for(faces: dict[str, tuple[str, str]]) -> Measurer:
    """A measurer for a theme's faces, shared across builds in one process."""
    key = tuple(sorted(faces.items()))
    return _measurer_cache(key)


@functools.cache
def _measurer_cache(key: tuple[tuple[str, tuple[str, str]], ...]) -> Measurer:
    return Measurer(dict(key))


def debug_report(measurer: Measurer) -> str:
    """Which files each role is measured with (for `-v`)."""
    lines = []
    for (role, bold), files in sorted(measurer._files.items()):
        latin = files.latin.family if files.latin else "estimate"
        east_asian = files.east_asian.family if files.east_asian else "estimate"
        lines.append(f"{role}{' bold' if bold else ''}: {latin} / {east_asian}")
    return "\n".join(lines)
