"""Text measurement with Pillow on real font files: widths, wrapping and line counts."""

from __future__ import annotations

import functools
import itertools
import os
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from PIL import ImageFont

from deckgen.fontlist import font_listing
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

#: How much memory the measurer keeps line counts in, in bytes (about 700 a paragraph and
#: one a character of its text): a `--watch` rebuild finds those of its unchanged paragraphs,
#: and a long session stays bounded, as what was not asked for lately is forgotten beyond
#: this (twice this at most).
KEPT_COUNTS_BYTES = 8_000_000
#: How many (size, width) counts of one paragraph are kept.
KEPT_COUNTS_PER_PARAGRAPH = 64
#: How much text is kept cut into pieces, in characters (about 100 bytes each): the fitter
#: asks about the paragraphs of one slide at many sizes and widths, then moves on.
KEPT_PIECE_CHARS = 50_000
#: How many one-line texts' widths and fitting lengths (markers, table cells, code lines)
#: are kept.
KEPT_LINES = 20_000

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
    out = font_listing()
    if out:
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


Key = TypeVar("Key")
Value = TypeVar("Value")


class _Recent(Generic[Key, Value]):
    """A mapping that keeps what was used lately, in two generations: when the entries of
    the newer one weigh `limit` it becomes the older, and the entries of the older that were
    not used meanwhile are forgotten. Both weigh little more than twice `limit`; a hit costs
    one look-up."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._newer: dict[Key, tuple[Value, int]] = {}
        self._older: dict[Key, tuple[Value, int]] = {}
        self._newer_weight = 0

    def __len__(self) -> int:
        return len(self._newer) + len(self._older)

    def get(self, key: Key) -> Value | None:
        """The value of a key, or None."""
        entry = self._newer.get(key)
        if entry is None:
            entry = self._older.pop(key, None)
            if entry is None:
                return None
            self.put(key, *entry)
        return entry[0]

    def put(self, key: Key, value: Value, weight: int = 1) -> None:
        """Keep a value (whose key is not kept already)."""
        if self._newer_weight >= self.limit:
            self._older = self._newer
            self._newer = {}
            self._newer_weight = 0
        self._newer[key] = (value, weight)
        self._newer_weight += weight


#: What a paragraph's wrapping depends on besides the width available: the text, bold and
#: code flags of each span (tuples of strings hash faster than spans), the role, the code
#: role, whether all is bold and whether inline code is.
ParagraphKey = tuple[tuple[tuple[str, bool, bool], ...], str, str | None, bool, bool]


class Measurer:
    """Measures text of a theme's roles (heading, body, code) in points.

    Everything it measures is remembered for the life of the process (a `--watch` session
    measures the unchanged part of its note only once), within the bounds of the KEPT_
    constants.
    """

    def __init__(self, faces: dict[str, tuple[str, str]]) -> None:
        """`faces` maps a role to its (latin face, east Asian face) names."""
        self._files: dict[tuple[str, bool], FaceFiles] = {}
        for role, (latin, east_asian) in faces.items():
            for bold in (False, True):
                self._files[role, bold] = FaceFiles(
                    measure_file_for(latin, bold, east_asian=False),
                    measure_file_for(east_asian, bold, east_asian=True))
        # Advances by role, weight and character: bounded by the characters there are.
        self._ems: dict[tuple[str, bool], dict[str, float]] = {key: {} for key in self._files}
        self._paragraphs: _Recent[ParagraphKey, MeasuredParagraph] = _Recent(KEPT_COUNTS_BYTES)
        self._pieces: _Recent[ParagraphKey, _Pieces] = _Recent(KEPT_PIECE_CHARS)
        self._line_ems: _Recent[tuple[str, str, bool], float] = _Recent(KEPT_LINES)
        self._fitting: _Recent[tuple[str, str, bool, float, float], int] = _Recent(KEPT_LINES)

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
        known = self._ems[role, bold]
        cached = known.get(char)
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
        known[char] = width
        return width

    def _char_ems(self, text: str, role: str, bold: bool) -> list[float]:
        known = self._ems[role, bold]
        return [known[char] if char in known else self.em(char, role, bold) for char in text]

    def width(self, text: str, role: str, bold: bool, size: float) -> float:
        """The width of text on one line in points, with Asian/Latin autospacing."""
        key = (text, role, bold)
        line_em = self._line_ems.get(key)
        if line_em is None:
            line_em = _em_sum(self._char_ems(text, role, bold), _kinds(text), 0, len(text))
            self._line_ems.put(key, line_em)
        return line_em * size

    def fitting_length(self, text: str, role: str, bold: bool, size: float,
                       width: float) -> int:
        """How many leading characters of text fit on one line `width` points wide, as
        `width()` measures them, in one pass (not one measure per candidate length)."""
        key = (text, role, bold, size, width)
        known = self._fitting.get(key)
        if known is not None:
            return known
        fitting = len(text)
        total = 0.0
        previous = ""
        for index, (em, kind) in enumerate(zip(self._char_ems(text, role, bold), _kinds(text),
                                               strict=True)):
            total += em
            if (previous, kind) in _AUTOSPACED:
                total += ASIAN_LATIN_GAP_EM
            previous = kind
            if total * size > width:
                fitting = index
                break
        self._fitting.put(key, fitting)
        return fitting

    def paragraph(self, spans: Sequence[Span], role: str, code_role: str | None = None,
                  bold: bool = False, code_bold: bool = False) -> MeasuredParagraph:
        """Spans as a paragraph to count the lines of: in `role`, inline code in `code_role`
        if given, else in `role` and bold if `code_bold`; all bold if `bold`."""
        runs = tuple([(span.text, span.bold, span.code) for span in spans])
        key = (runs, role, code_role, bold, code_bold and code_role is None)
        paragraph = self._paragraphs.get(key)
        if paragraph is None:
            paragraph = MeasuredParagraph(self, key)
            self._paragraphs.put(key, paragraph,
                                 700 + sum([len(text) for text, _, _ in runs]))
        return paragraph

    def line_count(self, spans: Sequence[Span], role: str, size: float, width: float,
                   code_role: str | None = None, bold: bool = False) -> int:
        """How many lines spans take in a box `width` points wide, taking the larger count of
        character-wise and word-wise wrapping of East Asian text, so every renderer fits."""
        return self.paragraph(spans, role, code_role, bold).line_count(size, width)

    def wrap(self, spans: Sequence[Span], role: str, size: float, width: float,
             code_role: str | None = None, bold: bool = False) -> list[str]:
        """The text of each wrapped line (word-wise for Hangul), for captions and tests."""
        pieces = self._pieces_of(self.paragraph(spans, role, code_role, bold).key)
        return pieces.lines(width * WIDTH_SAFETY / size)

    def _pieces_of(self, key: ParagraphKey) -> _Pieces:
        """The paragraph cut into pieces, built once while it is in use."""
        pieces = self._pieces.get(key)
        if pieces is None:
            runs, role, code_role, bold, code_bold = key
            texts: list[str] = []
            ems: list[float] = []
            for run_text, run_bold, code in runs:
                run_role = code_role if code and code_role else role
                text = unicodedata.normalize("NFC", run_text)
                texts.append(text)
                ems.extend(self._char_ems(text, run_role, bold or run_bold or (code and code_bold)))
            pieces = _Pieces.of("".join(texts), tuple(ems))
            self._pieces.put(key, pieces, 1 + len(pieces.text))
        return pieces


class MeasuredParagraph:
    """A paragraph whose line count is asked at many sizes and widths: each is counted once
    (a walk over its pieces, cut once) and remembered while the measurer keeps it."""

    def __init__(self, measurer: Measurer, key: ParagraphKey) -> None:
        self.key = key
        self._measurer = measurer
        self._counts: dict[float, int] = {}

    def line_count(self, size: float, width: float) -> int:
        """How many lines the paragraph takes at a size in a box `width` points wide."""
        available = width * WIDTH_SAFETY / size
        count = self._counts.get(available)
        if count is None:
            count = self._measurer._pieces_of(self.key).line_count(available)
            if len(self._counts) < KEPT_COUNTS_PER_PARAGRAPH:
                self._counts[available] = count
        return count


def _em_of(font: FontFile | None, char: str, estimate: float) -> float:
    if font is None:
        return estimate
    if _unshaped_kind(char):
        advance = _unshaped_advance(font, char)
        if advance is not None and advance != _unshaped_notdef_advance(font):
            return advance / 1000.0
    try:
        advance = float(_load(font.path, font.index).getlength(char))
        # A character the face lacks is drawn as .notdef, with .notdef's advance: only a
        # character of that advance needs the slower comparison of the drawn glyphs.
        notdef = _notdef_advance(font)
        if (notdef is None or advance == notdef) and not _has_glyph(font, char):
            return estimate
        return advance / 1000.0
    except (OSError, ValueError, RuntimeError):  # raqm refuses some, e.g. U+2029
        return estimate


#: Letters, digits, punctuation, symbols and spaces have the advance of their own glyph,
#: which FreeType gives without shaping (Pillow's BASIC layout: ~2 µs a character where
#: raqm takes ~20 µs), read at 64 times raqm's size so that it keeps raqm's precision of
#: 1/64 of a unit. On the themes' eight font files the two agree on every character from
#: U+0020 to U+2FFFF but two (U+02DE and U+05C3, whose glyphs the fonts class as marks:
#: raqm gives them no advance, this their glyph's). Marks, format characters and
#: characters a face lacks (measured with .notdef's advance) keep raqm's answer: it draws
#: a mark on a dotted circle, and a lacking character from an equivalent one (a no-break
#: space as a space), as shaping in a viewer does.
UNSHAPED_SCALE = 64


def _unshaped_kind(char: str) -> bool:
    category = unicodedata.category(char)
    return category[0] in "LNPS" or category == "Zs"


def _unshaped_advance(font: FontFile, char: str) -> float | None:
    """The advance of the glyph the face maps `char` to, in units of a 1000-unit em; None
    when FreeType cannot read it (e.g. a face of bitmaps only)."""
    face = _load_unshaped(font.path, font.index)
    if face is None:
        return None
    try:
        return float(face.getlength(char)) / UNSHAPED_SCALE
    except (OSError, ValueError, RuntimeError):
        return None


@functools.cache
def _unshaped_notdef_advance(font: FontFile) -> float | None:
    return _unshaped_advance(font, NOTDEF_PROBE)


@functools.cache
def _load_unshaped(path: Path, index: int) -> ImageFont.FreeTypeFont | None:
    try:
        return ImageFont.truetype(str(path), 1000 * UNSHAPED_SCALE, index=index,
                                  layout_engine=ImageFont.Layout.BASIC)
    except (OSError, ValueError):
        return None


#: A character no font has (plane 16, private use): it is drawn as .notdef.
NOTDEF_PROBE = "\U0010fffd"


@functools.cache
def _load(path: Path, index: int, size: int = 1000) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), size, index=index)


@functools.cache
def _notdef_advance(font: FontFile) -> float | None:
    try:
        return float(_load(font.path, font.index).getlength(NOTDEF_PROBE))
    except (OSError, ValueError, RuntimeError):
        return None


@functools.cache
def _has_glyph(font: FontFile, char: str) -> bool:
    """Whether the font draws the character itself rather than its .notdef box."""
    return _glyph_signature(font, char) != _glyph_signature(font, NOTDEF_PROBE)


@functools.cache
def _glyph_signature(font: FontFile, char: str) -> tuple[float, bytes]:
    small = _load(font.path, font.index, 24)
    try:
        return float(small.getlength(char)), bytes(small.getmask(char))
    except (OSError, ValueError, RuntimeError):
        return 0.0, b""


@functools.cache
def _kind(char: str) -> str:
    """The kind of a character for autospacing: spaces are their own kind."""
    return "space" if char.isspace() else char_class(char)


def _kinds(text: str) -> list[str]:
    return [_kind(char) for char in text]


#: The kinds LibreOffice puts its Asian/Latin gap between: an East Asian character next to
#: any visible non-Asian one (letters, digits, punctuation, emoji), in either order.
_AUTOSPACED = frozenset({pair for kind in ("latin", "neutral", "emoji")
                         for pair in (("ea", kind), (kind, "ea"))})


def _em_sum(ems: Sequence[float], kinds: Sequence[str], start: int, end: int) -> float:
    """The width of characters start to end on one line, in em of the text size, with the
    gap LibreOffice puts between Asian and Latin letters or digits."""
    total = 0.0
    previous = ""
    for index in range(start, end):
        total += ems[index]
        kind = kinds[index]
        if (previous, kind) in _AUTOSPACED:
            total += ASIAN_LATIN_GAP_EM
        previous = kind
    return total


#: An unbreakable piece of a paragraph, ending where a line may break after it: its first
#: and past-the-end character, the autospacing gap before it and its width without and with
#: its trailing spaces (in em).
Piece = tuple[int, int, float, float, float]


@dataclass(frozen=True)
class _Pieces:
    """A paragraph's characters with their widths in em, cut into unbreakable pieces between
    its hard breaks ("\\n"), word-wise and character-wise: what greedy line breaking needs at
    any size and width, so that each size and width costs only a walk over the pieces."""

    text: str
    ems: tuple[float, ...]
    kinds: tuple[str, ...]
    segments: tuple[tuple[int, int], ...]
    word_wise: tuple[tuple[Piece, ...], ...]
    char_wise: tuple[tuple[Piece, ...], ...]

    @classmethod
    def of(cls, text: str, ems: tuple[float, ...]) -> _Pieces:
        """A paragraph of text whose characters have these widths."""
        kinds = tuple(_kinds(text))
        segments = []
        start = 0
        for part in text.split("\n"):
            segments.append((start, start + len(part)))
            start += len(part) + 1
        word_wise = tuple(_pieces(text, ems, kinds, first, end, cjk_per_char=False)
                          for first, end in segments)
        # Only East Asian characters break differently character-wise.
        char_wise = word_wise if "ea" not in kinds else tuple(
            _pieces(text, ems, kinds, first, end, cjk_per_char=True) for first, end in segments)
        return cls(text, ems, kinds, tuple(segments), word_wise, char_wise)

    def line_count(self, available_em: float) -> int:
        """How many lines the paragraph takes `available_em` wide: the larger count of
        character-wise and word-wise breaking of East Asian text."""
        word_wise = sum(self._wrap(pieces, available_em, None) for pieces in self.word_wise)
        if self.char_wise is self.word_wise:
            return word_wise
        return max(sum(self._wrap(pieces, available_em, None) for pieces in self.char_wise),
                   word_wise)

    def lines(self, available_em: float) -> list[str]:
        """The text of each line, broken word-wise, without the spaces at its ends."""
        out: list[str] = []
        for (start, end), pieces in zip(self.segments, self.word_wise, strict=True):
            breaks: list[int] = []
            self._wrap(pieces, available_em, breaks)
            bounds = [start, *breaks, end]
            out.extend(self.text[first:last].strip()
                       for first, last in itertools.pairwise(bounds))
        return out

    def _wrap(self, pieces: tuple[Piece, ...], available_em: float,
              breaks: list[int] | None) -> int:
        """Greedy breaking of one hard line's pieces: how many lines they take; where each
        line after the first begins goes to `breaks` if given."""
        count = 1
        width = 0.0
        placed = False
        for start, end, gap, visible, full in pieces:
            if placed and width + gap + visible > available_em:
                count += 1
                if breaks is not None:
                    breaks.append(start)
                width = gap = 0.0
                placed = False
            if not placed and visible > available_em:
                more, width = self._split(start, end, available_em, breaks)
                count += more
            else:
                width += gap + full
            placed = True
        return count

    def _split(self, start: int, end: int, available_em: float,
               breaks: list[int] | None) -> tuple[int, float]:
        """A piece too wide for any line (a URL, an identifier) broken between characters
        (never before a space): how many lines it adds and the width of its last."""
        ems, kinds = self.ems, self.kinds
        more = 0
        line_start = start
        width = 0.0
        previous = ""
        for index in range(start, end):
            kind = kinds[index]
            advance = ems[index] + (ASIAN_LATIN_GAP_EM if (previous, kind) in _AUTOSPACED
                                    else 0.0)
            if index > start and width + advance > available_em and kind != "space":
                more += 1
                line_start = index
                if breaks is not None:
                    breaks.append(index)
                width = ems[index]
            else:
                width += advance
            previous = kind
        return more, _em_sum(ems, kinds, line_start, end)


def _pieces(text: str, ems: tuple[float, ...], kinds: tuple[str, ...], start: int, end: int,
            cjk_per_char: bool) -> tuple[Piece, ...]:
    """The unbreakable pieces of characters start to end (no hard break among them): a line
    may break after a space, after a hyphen or slash, and, when `cjk_per_char`, after an East
    Asian character unless what follows may not begin a line."""
    pieces: list[Piece] = []
    piece_start = start
    last_kind = ""
    for index in range(start, end):
        char = text[index]
        following = text[index + 1] if index + 1 < end else ""
        # An East Asian space (U+3000) is of kind "space" here, not "ea": a break after it
        # is already allowed whenever a character-wise one would be.
        breaks_after = (
            (char.isspace() and not following.isspace())
            or (char in "-/" and bool(following) and not following.isspace())
            or (cjk_per_char and kinds[index] == "ea" and bool(following)
                and not following.isspace() and following not in NO_LINE_START))
        if not breaks_after and index + 1 < end:
            continue
        piece_end = index + 1
        visible_end = piece_end
        while visible_end > piece_start and kinds[visible_end - 1] == "space":
            visible_end -= 1
        visible = _em_sum(ems, kinds, piece_start, visible_end)
        full = visible + sum(ems[visible_end:piece_end])
        first_kind = kinds[piece_start]
        gap = ASIAN_LATIN_GAP_EM if (last_kind, first_kind) in _AUTOSPACED else 0.0
        pieces.append((piece_start, piece_end, gap, visible, full))
        last_kind = kinds[index]
        piece_start = piece_end
    return tuple(pieces)


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
