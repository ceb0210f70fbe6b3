"""Slides to geometry: boxes in EMU, text sized by measurement, overflow policy applied."""

from __future__ import annotations

import bisect
import collections
import functools
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum

from deckgen import structure
from deckgen.errors import Diagnostic, Diagnostics
from deckgen.images import PreparedImage
from deckgen.measure import MeasuredParagraph, Measurer
from deckgen.model import (
    Block,
    Box,
    Callout,
    Code,
    Deck,
    Image,
    Inline,
    ListBlock,
    Notes,
    Paragraph,
    Point,
    Points,
    Slide,
    SlideBlock,
    SlideKind,
    Span,
    Table,
    plain_text,
    web_address,
)
from deckgen.theme import Theme

EMU_PER_PT = 12700
EMU_PER_INCH = 914400
EMU_PER_PX = 9525
#: The reading width of rendered Markdown that <img width=> hints are relative to.
READING_WIDTH_PX = 800
#: A picture is never shown larger than this many times its size at 96 dpi.
MAX_UPSCALE = 2.0
BLOCK_GAP = round(0.16 * EMU_PER_INCH)
TEXT_INSET = round(0.06 * EMU_PER_INCH)
CALLOUT_BAR = round(0.07 * EMU_PER_INCH)
CALLOUT_PAD = round(0.16 * EMU_PER_INCH)
LEVEL_INDENT = round(0.32 * EMU_PER_INCH)
CODE_WRAP_MARK = "↪ "
#: A paragraph longer than this cannot fit any slide at a legible size, so it is not
#: measured: it counts as this many lines (and moves to the notes).
MAX_MEASURED_CHARS = 6000
#: A table or code block continued on at most this many slides is in the notes of each;
#: one continued on more is in the notes of its first slide only.
MAX_REPEATED_NOTES_PARTS = 20
TOO_MANY_LINES = 10_000
#: The most lines the title slide's title and subtitle take; a longer one is cut with "…".
TITLE_SLIDE_LINES = 3
#: LibreOffice draws a line's glyph box up to this many em below its exact line pitch, so
#: every text box keeps that much room under its last line.
DESCENT_OVERHANG = 0.16


class Overflow(Enum):
    """What to do with slide text that does not fit at the theme's minimum size."""

    NOTES = "notes"
    CONTINUE = "continue"


@dataclass(frozen=True)
class PlacedParagraph:
    """A paragraph ready to draw: its runs, size, colour and spacing (sizes in points)."""

    spans: Inline
    size: float
    color: str
    role: str = "body"
    bold: bool = False
    italic: bool = False
    align: str = "left"
    marker: str = ""
    margin_left: int = 0
    hanging: int = 0
    space_before: float = 0.0
    line_spacing: float = 0.0


@dataclass(frozen=True)
class TextShape:
    """A text box (or a filled shape with text)."""

    name: str
    box: Box
    paragraphs: tuple[PlacedParagraph, ...]
    insets: tuple[int, int, int, int] = (TEXT_INSET, TEXT_INSET, TEXT_INSET, TEXT_INSET)
    anchor: str = "top"
    fill: str | None = None
    border: str | None = None
    dashed: bool = False
    geometry: str = "rect"
    is_title: bool = False
    link: str | None = None


@dataclass(frozen=True)
class PictureShape:
    """A picture, placed at its aspect ratio."""

    name: str
    box: Box
    image: PreparedImage


@dataclass(frozen=True)
class FillShape:
    """A filled shape without text: a bar, a band or a timeline marker."""

    name: str
    box: Box
    fill: str
    geometry: str = "rect"
    border: str | None = None


@dataclass(frozen=True)
class LineShape:
    """A straight line, optionally ending in an arrow."""

    name: str
    x1: int
    y1: int
    x2: int
    y2: int
    color: str
    width_pt: float
    arrow: bool = False


@dataclass(frozen=True)
class TableShape:
    """A native table: column widths, row heights and each cell's paragraphs."""

    name: str
    box: Box
    columns: tuple[int, ...]
    rows: tuple[int, ...]
    cells: tuple[tuple[tuple[PlacedParagraph, ...], ...], ...]
    header_fill: str
    band_fill: str
    border: str
    cell_insets: int


Shape = TextShape | PictureShape | FillShape | LineShape | TableShape


@dataclass(frozen=True)
class PlacedSlide:
    """A slide with every shape positioned: what the renderer draws."""

    kind: SlideKind
    title: str
    line: int
    shapes: tuple[Shape, ...]
    notes: Notes
    background: str


@dataclass
class _Composition:
    """One arrangement of a slide body: the text fitted in its column and the pictures."""

    fit: _Fit
    text_box: Box
    pictures: list[PictureShape | TextShape]
    picture_area: int
    moved: int


@dataclass
class _Fit:
    """The outcome of filling a column: blocks placed with their heights, and the rest."""

    size: float
    placed: list[tuple[SlideBlock, int]] = field(default_factory=list)
    rest: list[SlideBlock] = field(default_factory=list)


def part_start(fit: _Fit) -> int:
    """The source line a continued slide's part starts at: its first block's (0 if empty)."""
    if not fit.placed:
        return 0
    first = fit.placed[0][0]
    if isinstance(first, Points | Callout) and first.items:
        return first.items[0].line
    return first.line


def notes_for_parts(notes: Notes, starts: Sequence[int]) -> list[Notes]:
    """A slide's notes shared among the parts it is continued on (their first source lines,
    in order): each notes block, and each item of a notes list, goes with the part that
    shows the text from its line on, so the notes of "(3/5)" speak of what (3/5) shows, not
    of the whole section again. Notes before the first part's text stay with the first."""
    if len(starts) <= 1:
        return [notes] * len(starts)

    def part_of(line: int) -> int:
        index = max(0, bisect.bisect_right(starts, line) - 1)
        while index and starts[index - 1] == starts[index]:  # a code block or table split
            index -= 1  # over parts that start on its line: its notes go with its first part
        return index

    shared: list[list[Block]] = [[] for _ in starts]
    sharing = collections.Counter(starts)
    for block in notes.blocks:
        if not isinstance(block, ListBlock):
            shared[part_of(block.line)].append(block)
            continue
        first_item = 0
        for index, item in enumerate(block.items):
            last = index + 1 == len(block.items)
            if last or part_of(block.items[index + 1].line) != part_of(item.line):
                items = block.items[first_item:index + 1]
                shared[part_of(item.line)].append(
                    replace(block, items=items, start=block.start + first_item,
                            line=items[0].line))
                first_item = index + 1
    for index, blocks in enumerate(shared):
        if index and not blocks:  # it goes on with a block begun earlier (a long paragraph)
            # (a table or code block continued on more than a few parts goes with its first
            # part only: one continued on a thousand slides is not in the notes 1000 times)
            repeat = sharing[starts[index]] <= MAX_REPEATED_NOTES_PARTS
            blocks.extend(block for block in _notes_block_at(notes, starts[index])
                          if repeat or not isinstance(block, Table | Code))
    return [Notes(tuple(blocks)) for blocks in shared]


def _notes_block_at(notes: Notes, line: int) -> list[Block]:
    """The notes block (or list item) the text at a source line belongs to: the last one
    that starts at or before it."""
    before = [block for block in notes.blocks if block.line <= line]
    if not before:
        return []
    block = before[-1]
    if isinstance(block, ListBlock):
        index = max(i for i, item in enumerate(block.items) if item.line <= line) \
            if block.items[0].line <= line else 0
        return [replace(block, items=block.items[index:index + 1], start=block.start + index,
                        line=block.items[index].line)]
    return [block]


@dataclass(frozen=True)
class _KeptSlide:
    """What a build laid out of one slide, and what that depended on besides the theme."""

    slide: Slide
    pictures: tuple[PreparedImage | None, ...]
    placed: tuple[PlacedSlide, ...]
    warnings: tuple[Diagnostic, ...]


@dataclass
class _KeptLayouts:
    """While a watch runs: the last build's slides, by the identity of their model slide
    (the slide builder hands an unchanged section's slides back as the same objects), for
    one theme, measurer and overflow policy."""

    context: tuple[object, ...]
    last: dict[int, _KeptSlide] = field(default_factory=dict)
    now: dict[int, _KeptSlide] = field(default_factory=dict)


_kept: _KeptLayouts | None = None
_keeping = False


def keep_between_builds(keep: bool = True) -> None:
    """Start (or stop) keeping each build's laid-out slides for the next (`build --watch`),
    which then lays out again only the slides a change made anew."""
    global _kept, _keeping
    _kept, _keeping = None, keep


def _kept_for(layout: DeckLayout) -> _KeptLayouts | None:
    """What the last build kept, if it was laid out in the same context (else nothing)."""
    global _kept
    if not _keeping:
        return None
    context = (layout.theme, layout.measurer, layout.overflow, layout.deck.source)
    if _kept is None or _kept.context != context:
        _kept = _KeptLayouts(context)
    return _kept


class DeckLayout:
    """Lays out the slides of a deck with one theme and one overflow policy."""

    def __init__(self, theme: Theme, measurer: Measurer, images: dict[Image, PreparedImage],
                 overflow: Overflow, diagnostics: Diagnostics, deck: Deck) -> None:
        self.theme = theme
        self.measurer = measurer
        self.images = images
        self.overflow = overflow
        self.diagnostics = diagnostics
        self.deck = deck
        grid = theme.grid
        self.content = Box(grid.margin_left, grid.margin_top,
                           theme.slide_width - grid.margin_left - grid.margin_right,
                           theme.slide_height - grid.margin_top - grid.margin_bottom)
        self.footer_top = self.content.bottom - grid.footer_height
        self._measured: dict[tuple[int, str, bool],
                             tuple[Inline, MeasuredParagraph | None]] = {}
        self._marker_widths: dict[tuple[str, float], int] = {}
        self._shortened: dict[tuple[str, str, float, int, bool, int], str] = {}
        self._code_wraps: dict[tuple[str, float, float], tuple[str, ...]] = {}
        self._cell_ems: dict[tuple[int, bool], tuple[Inline, float]] = {}
        self._made = 0  # slides placed before the one being laid out

    # --- the deck ----------------------------------------------------------------------

    def slides(self) -> list[PlacedSlide]:
        """Every slide of the deck, continuation slides included, numbered in order."""
        placed: list[PlacedSlide] = []
        kept = _kept_for(self)
        for slide in self.deck.slides:
            self._made = len(placed)
            placed.extend(self.slide(slide) if kept is None else self._slide_kept(slide, kept))
            if len(placed) > structure.MAX_SLIDES:
                raise structure.too_many_slides(self.deck.source, slide.line)
        if kept is not None:
            kept.last = kept.now  # this build's slides, and no more: a watch does not grow
            kept.now = {}
        return [self._with_footer(slide, number) for number, slide
                in enumerate(placed, start=1)]

    def _slide_kept(self, slide: Slide, kept: _KeptLayouts) -> list[PlacedSlide]:
        """self.slide(slide), or what the last build laid out of the very same slide object
        (with its warnings said again) when the pictures it shows are unchanged too."""
        if slide.kind in (SlideKind.TITLE, SlideKind.TIMELINE):  # they read the whole deck
            return self.slide(slide)
        pictures = tuple(self.images.get(image) for image in slide.images)
        known = kept.last.get(id(slide))
        if known is not None and known.slide is slide and known.pictures == pictures:
            self.diagnostics.items.extend(known.warnings)
            placed = known.placed
        else:
            before = len(self.diagnostics.items)
            placed = tuple(self.slide(slide))
            known = _KeptSlide(slide, pictures, placed,
                               tuple(self.diagnostics.items[before:]))
        kept.now[id(slide)] = known  # it holds the slide: no other object can take its id
        return list(placed)

    def slide(self, slide: Slide) -> list[PlacedSlide]:
        """One model slide as one or more placed slides."""
        if slide.kind is SlideKind.TITLE:
            return [self.title_slide(slide)]
        if slide.kind is SlideKind.SECTION:
            return [self.section_slide(slide)]
        if slide.kind is SlideKind.TIMELINE:
            return [self.timeline_slide(slide)]
        return self.content_slides(slide)

    def _placed(self, slide: Slide, shapes: list[Shape], title: str | None = None,
                notes: Notes | None = None) -> PlacedSlide:
        return PlacedSlide(slide.kind, title or slide.title, slide.line, tuple(shapes),
                           notes if notes is not None else slide.notes,
                           self.theme.color("background"))

    # --- text helpers ------------------------------------------------------------------

    def lines(self, spans: Inline, role: str, size: float, width: int,
              bold: bool = False) -> int:
        """How many lines spans take at a size in a width (EMU). The measurer remembers the
        count; the paragraph it counts is found here by the identity of the spans (the same
        tuple is asked about at every size), which spares hashing each span. The entry holds
        the spans, so that their identity is not reused while it is kept."""
        entry = self._measured.get((id(spans), role, bold))
        if entry is None:
            entry = self._measured[id(spans), role, bold] = (spans, self._paragraph(spans, role,
                                                                                     bold))
        paragraph = entry[1]
        if paragraph is None:
            return TOO_MANY_LINES
        return paragraph.line_count(size, width / EMU_PER_PT)

    def _paragraph(self, spans: Inline, role: str, bold: bool) -> MeasuredParagraph | None:
        """Spans as the measurer counts them (inline code in its theme style), or None if
        they are too long to measure."""
        length = 0
        for span in spans:
            length += len(span.text)
        if length > MAX_MEASURED_CHARS:
            return None
        theme = self.theme
        if theme.inline_code_monospace:
            return self.measurer.paragraph(spans, role, "code", bold)
        return self.measurer.paragraph(spans, role, None, bold,
                                       code_bold=theme.inline_code_bold)

    def line_height(self, size: float) -> float:
        """The exact line pitch in points for a type size."""
        return size * self.theme.sizes.line_spacing

    def text_height(self, paragraphs: Iterable[tuple[Inline, int, float, str, bool]],
                    width: int, insets: tuple[int, int, int, int]) -> int:
        """The height in EMU of paragraphs (spans, left margin, size, role, bold) in a box of
        `width` with insets; the first paragraph has no space before."""
        height = insets[1] + insets[3]  # of no paragraphs
        for height_so_far in self.text_heights(paragraphs, width, insets):
            height = height_so_far
        return height

    def text_heights(self, paragraphs: Iterable[tuple[Inline, int, float, str, bool]],
                     width: int, insets: tuple[int, int, int, int]) -> Iterator[int]:
        """The text_height of the first paragraph, of the first two, and so on, in one pass
        (each paragraph is measured when its height is asked for)."""
        inner = width - insets[0] - insets[2]
        total = 0.0
        for index, (spans, margin, size, role, bold) in enumerate(paragraphs):
            count = self.lines(spans, role, size, inner - margin, bold)
            total += count * self.line_height(size)
            if index:
                total += size * self.theme.sizes.paragraph_spacing
            yield (math.ceil((total + DESCENT_OVERHANG * size) * EMU_PER_PT)
                   + insets[1] + insets[3])

    def bottom_anchored_insets(self, size: float) -> tuple[int, int, int, int]:
        """Insets of a box whose text sits on its bottom edge: the room LibreOffice draws
        under the last line is inside the bottom inset, not above the text."""
        overhang = round(DESCENT_OVERHANG * size * EMU_PER_PT)
        return (TEXT_INSET, TEXT_INSET, TEXT_INSET, TEXT_INSET + overhang)

    def lines_height(self, lines: int, size: float) -> int:
        """The height in EMU of `lines` lines of one size, with room under the last."""
        return math.ceil((lines * self.line_height(size) + DESCENT_OVERHANG * size)
                         * EMU_PER_PT)

    # --- title, section and footer -------------------------------------------------------

    def title_shapes(self, title: str, kicker: str, width: int) -> tuple[list[Shape], int, str]:
        """The kicker and title boxes, the y below them, and the title actually shown."""
        theme, sizes = self.theme, self.theme.sizes
        shapes: list[Shape] = []
        y = self.content.y
        if kicker:
            kicker = self.shortened(kicker, "body", sizes.kicker, width, True, 1)
            kicker_h = self.text_height([((Span(kicker),), 0, sizes.kicker, "body", True)],
                                        width, (0, 0, 0, 0))
            shapes.append(TextShape("Kicker", Box(self.content.x, y, width, kicker_h),
                                    (PlacedParagraph((Span(kicker),), sizes.kicker,
                                                     theme.color("accent"), "body", True,
                                                     line_spacing=self.line_height(
                                                         sizes.kicker)),),
                                    insets=(0, 0, 0, 0)))
            y += kicker_h
        shown, size, lines = self.fit_title(title, width - 2 * TEXT_INSET)
        band_bottom = self.content.y + theme.grid.title_height
        height = max(band_bottom - y, self.lines_height(lines, size) + 2 * TEXT_INSET)
        paragraph = PlacedParagraph((Span(shown),), size, theme.color("text"), "heading", True,
                                    line_spacing=self.line_height(size))
        shapes.append(TextShape("Title", Box(self.content.x, y, width, height), (paragraph,),
                                insets=self.bottom_anchored_insets(size), anchor="bottom",
                                is_title=True))
        rule_y = y + height + round(0.04 * EMU_PER_INCH)
        shapes.append(FillShape("Title rule", Box(self.content.x, rule_y,
                                                  round(1.1 * EMU_PER_INCH),
                                                  round(0.05 * EMU_PER_INCH)),
                                theme.color("accent")))
        return shapes, rule_y + round(0.05 * EMU_PER_INCH), shown

    def fit_title(self, title: str, width: int) -> tuple[str, float, int]:
        """The title text, size and line count: shrink to the minimum on one line, else wrap
        to two lines, else shorten with an ellipsis."""
        sizes = self.theme.sizes
        spans = (Span(title),)
        size = sizes.title
        while size >= sizes.title_min:
            if self.lines(spans, "heading", size, width, bold=True) == 1:
                return title, size, 1
            size -= 1
        size = sizes.title_min
        return self.shortened(title, "heading", size, width, True, 2), size, 2

    def shortened(self, text: str, role: str, size: float, width: int, bold: bool,
                  max_lines: int) -> str:
        """Text as it fits in `max_lines` lines `width` wide: whole, else cut after the most
        words that fit with " …", else (one long word) after the most characters with "…".
        The cut is found by bisection, so that a heading of a million words is measured
        some twenty times, not a million; remembered, as every slide's footer asks again."""
        key = (text, role, size, width, bold, max_lines)
        known = self._shortened.get(key)
        if known is None:
            known = self._shortened[key] = self._shorten(text, role, size, width, bold,
                                                         max_lines)
        return known

    def _shorten(self, text: str, role: str, size: float, width: int, bold: bool,
                 max_lines: int) -> str:
        def fits(candidate: str) -> bool:
            return self.lines((Span(candidate),), role, size, width, bold) <= max_lines

        if fits(text):
            return text
        words = text.split()
        kept = _most_that_fit(len(words) - 1, lambda count: fits(" ".join(words[:count])
                                                                   + " …"))
        if kept:
            return " ".join(words[:kept]) + " …"
        first = words[0] if words else text
        kept = _most_that_fit(len(first), lambda count: fits(first[:count] + "…"))
        return first[: max(1, kept)] + "…"

    def _with_footer(self, slide: PlacedSlide, number: int) -> PlacedSlide:
        theme = self.theme
        if slide.kind is SlideKind.TITLE or theme.grid.footer_height <= 0:
            return slide
        size = theme.sizes.footer
        box_h = self.lines_height(1, size)
        top = self.content.bottom - box_h
        shapes: list[Shape] = []
        if theme.footer_title:
            shapes.append(self._footer_title)
        if theme.footer_number:
            width = round(1.0 * EMU_PER_INCH)
            shapes.append(TextShape("Slide number", Box(self.content.right - width, top,
                                                        width, box_h),
                                    (PlacedParagraph((Span(str(number)),), size,
                                                     theme.color("muted"), align="right",
                                                     line_spacing=self.line_height(size)),),
                                    insets=(0, 0, 0, 0)))
        return replace(slide, shapes=(*slide.shapes, *shapes))

    @functools.cached_property
    def _footer_title(self) -> TextShape:
        """The deck's title in the footer: the same shape on every slide."""
        size = self.theme.sizes.footer
        box_h = self.lines_height(1, size)
        top = self.content.bottom - box_h
        footer_w = round(self.content.w * 0.45)
        footer = self.shortened(self.deck.meta.title, "body", size, footer_w, False, 1)
        return TextShape("Footer", Box(self.content.x, top, footer_w, box_h),
                         (PlacedParagraph((Span(footer),), size, self.theme.color("muted"),
                                          line_spacing=self.line_height(size)),),
                         insets=(0, 0, 0, 0))

    def title_slide(self, slide: Slide) -> PlacedSlide:
        """Title, subtitle and byline on a coloured band."""
        theme, sizes = self.theme, self.theme.sizes
        width = round(self.content.w * 0.86)
        x = self.content.x + round(0.35 * EMU_PER_INCH)
        shapes: list[Shape] = [
            FillShape("Title band", Box(0, 0, theme.slide_width, theme.slide_height),
                      theme.color("title_fill")),
            FillShape("Accent bar", Box(0, 0, round(0.28 * EMU_PER_INCH), theme.slide_height),
                      theme.color("accent")),
        ]
        text_color = theme.color("title_text")
        size = sizes.title_slide
        title_spans = (Span(slide.title),)
        while size > sizes.title_min and self.lines(title_spans, "heading", size,
                                                    width - 2 * TEXT_INSET, True) > 2:
            size -= 2
        # Each text keeps to a few lines, so that all of them stay on the slide; what is
        # cut is said in full in the notes.
        inner = width - 2 * TEXT_INSET
        cut: list[Block] = []
        blocks: list[tuple[str, Inline, float, bool, str]] = []
        for name, text, text_size, bold, most in (
                ("Title", slide.title, size, True, TITLE_SLIDE_LINES),
                ("Subtitle", slide.subtitle, sizes.subtitle, False, TITLE_SLIDE_LINES),
                ("Byline", slide.byline, max(sizes.body_min, 18), False, 2)):
            if not text and name != "Title":
                continue
            shown = self.shortened(text, "heading" if bold else "body", text_size, inner,
                                   bold, most)
            if shown != text:
                cut.append(Paragraph((Span(text, bold=bold),), slide.line))
            blocks.append((name, (Span(shown),), text_size, bold, text_color))
        notes = Notes((*cut, *slide.notes.blocks)) if cut else slide.notes
        heights = [self.text_height([(spans, 0, s, "heading" if bold else "body", bold)],
                                    width, (TEXT_INSET,) * 4) for _, spans, s, bold, _ in blocks]
        gap = round(0.22 * EMU_PER_INCH)
        total = sum(heights) + gap * (len(blocks) - 1)
        y = max(self.content.y, (theme.slide_height - total) // 2)
        for (name, spans, s, bold, color), height in zip(blocks, heights, strict=True):
            paragraph = PlacedParagraph(spans, s, color, "heading" if bold else "body", bold,
                                        line_spacing=self.line_height(s))
            shapes.append(TextShape(name, Box(x, y, width, height), (paragraph,),
                                    is_title=name == "Title"))
            y += height + gap
            if name == "Title":
                shapes.append(FillShape("Title rule", Box(x + TEXT_INSET, y - gap // 2 - 20000,
                                                          round(1.4 * EMU_PER_INCH), 40000),
                                        theme.color("accent")))
        return self._placed(slide, shapes, notes=notes)

    def section_slide(self, slide: Slide) -> PlacedSlide:
        """A divider: the section title large, in the middle."""
        theme = self.theme
        width = self.content.w
        shown, size, lines = self.fit_title(slide.title, width - 2 * TEXT_INSET)
        size = max(size, min(theme.sizes.title * 1.2, theme.sizes.title_slide)) \
            if lines == 1 and self.lines((Span(shown),), "heading", theme.sizes.title * 1.2,
                                         width - 2 * TEXT_INSET, True) == 1 else size
        height = self.lines_height(lines, size) + 2 * TEXT_INSET
        y = (theme.slide_height - height) // 2
        shapes: list[Shape] = [
            FillShape("Section bar", Box(self.content.x, y - round(0.25 * EMU_PER_INCH),
                                         round(1.1 * EMU_PER_INCH), round(0.07 * EMU_PER_INCH)),
                      theme.color("accent")),
            TextShape("Title", Box(self.content.x, y, width, height),
                      (PlacedParagraph((Span(shown),), size, theme.color("text"), "heading",
                                       True, line_spacing=self.line_height(size)),),
                      is_title=True)]
        return self._placed(slide, shapes)

    # --- content slides ------------------------------------------------------------------

    def content_slides(self, slide: Slide) -> list[PlacedSlide]:
        """A content, era or references slide, continued or trimmed to fit."""
        title_shapes, body_top, shown_title = self.title_shapes(slide.title, slide.kicker,
                                                                 self.content.w)
        notes = slide.notes
        if shown_title != slide.title:
            notes = Notes((Paragraph((Span(slide.title, bold=True),), slide.line),
                           *notes.blocks))
        body = Box(self.content.x, body_top + round(0.2 * EMU_PER_INCH), self.content.w,
                   self.footer_top - round(0.12 * EMU_PER_INCH) - body_top
                   - round(0.2 * EMU_PER_INCH))
        pictures = [self.images[image] for image in slide.images if image in self.images]
        composition = self.compose(body, list(slide.body), pictures)
        fit, text_box = composition.fit, composition.text_box
        shapes: list[Shape] = [*title_shapes, *composition.pictures]
        shapes.extend(self.column_shapes(fit, text_box))
        parts = [(shapes, fit)]
        rest = fit.rest
        if rest and self.overflow is Overflow.CONTINUE:
            cont_box = Box(body.x, body.y, body.w, body.h)
            for cont_fit, left in self.continued(rest, cont_box, fit.size):
                rest = left
                cont_title, _, _ = self.title_shapes(slide.title, slide.kicker,
                                                            self.content.w)
                if self._made + len(parts) >= structure.MAX_SLIDES:
                    raise structure.too_many_slides(self.deck.source, part_start(cont_fit))
                parts.append(([*cont_title, *self.column_shapes(cont_fit, cont_box)],
                              cont_fit))
        if rest:
            self._report_moved(slide, rest)
        total = len(parts)
        part_notes = notes_for_parts(notes, [part_start(fit) for _, fit in parts])
        placed = []
        for index, ((part_shapes, _), notes_of_part) in enumerate(
                zip(parts, part_notes, strict=True), start=1):
            title = slide.title if total == 1 else f"{slide.title} ({index}/{total})"
            if total > 1:
                part_shapes = [self._retitled(shape, title) for shape in part_shapes]
            placed.append(self._placed(slide, part_shapes, title=title, notes=notes_of_part))
        return placed

    def _retitled(self, shape: Shape, title: str) -> Shape:
        if isinstance(shape, TextShape) and shape.is_title:
            shown, size, _ = self.fit_title(title, shape.box.w - 2 * TEXT_INSET)
            paragraph = replace(shape.paragraphs[0], spans=(Span(shown),), size=size,
                                line_spacing=self.line_height(size))
            return replace(shape, paragraphs=(paragraph,))
        return shape

    def _report_moved(self, slide: Slide, rest: list[SlideBlock]) -> None:
        count = sum(len(block.items) if isinstance(block, Points | Callout) else 1
                    for block in rest)
        first = rest[0]
        preview = _block_preview(first)
        how = ("did not fit at the minimum size even on continuation slides"
               if self.overflow is Overflow.CONTINUE else "did not fit at the minimum size")
        self.diagnostics.warn(
            f"slide '{slide.title}': {count} item(s) {how} and are only in the speaker notes, "
            f"from \"{preview}\" on (use --overflow continue to keep them on slides)",
            self.deck.source, first.line)

    def compose(self, body: Box, blocks: list[SlideBlock],
                pictures: list[PreparedImage]) -> _Composition:
        """Text and pictures arranged as a designer would: of the arrangements that fit (the
        pictures beside the text at a few column widths, or below it), the one that keeps the
        most text on the slide, then the one with the largest pictures."""
        candidates = [self._arrangement(body, blocks, pictures, text_box, picture_box)
                      for text_box, picture_box in self.arrangements(body, blocks, pictures)]
        return min(candidates, key=lambda c: (c.moved, -round(c.picture_area / 1e10), -c.fit.size))

    def _arrangement(self, body: Box, blocks: list[SlideBlock], pictures: list[PreparedImage],
                     text_box: Box, picture_box: Box | None) -> _Composition:
        fit = self.fit_column(blocks, text_box) if blocks else _Fit(self.theme.sizes.body)
        if picture_box is not None and text_box.y == body.y and text_box.w == body.w:
            used = sum(h for _, h in fit.placed) + BLOCK_GAP * max(0, len(fit.placed) - 1)
            top = body.y + used + self.theme.grid.gutter
            picture_box = Box(body.x, top, body.w, body.bottom - top)
        drawn = self.picture_grid(pictures, picture_box) if picture_box is not None else []
        area = sum(shape.box.w * shape.box.h for shape in drawn)
        moved = sum(len(block.items) if isinstance(block, Points | Callout) else 1
                    for block in fit.rest)
        return _Composition(fit, text_box, drawn, area, moved)

    def arrangements(self, body: Box, blocks: list[SlideBlock],
                     pictures: list[PreparedImage]) -> list[tuple[Box, Box | None]]:
        """The (text column, picture area) pairs worth trying for a slide body."""
        if not pictures:
            return [(body, None)]
        if not blocks:
            return [(Box(body.x, body.y, 0, body.h), body)]
        gutter = self.theme.grid.gutter
        if len(pictures) == 1:
            picture = pictures[0]
            wanted = min(0.58, max(0.4, self.requested_width(picture, body.w) / body.w))
            hinted = picture.ref.width_px is not None or picture.ref.height_px is not None
            shares = [wanted] if hinted else sorted({min(wanted, share)
                                                      for share in (wanted, 0.5, 0.42)})
        else:
            shares = [0.56]
        options: list[tuple[Box, Box | None]] = []
        for share in shares:
            picture_w = round(body.w * share)
            text_w = body.w - picture_w - gutter
            options.append((Box(body.x, body.y, text_w, body.h),
                            Box(body.x + text_w + gutter, body.y, picture_w, body.h)))
        row_aspect = sum(picture.aspect for picture in pictures)
        if row_aspect >= 1.8:
            text_h = round(body.h * 0.45)
            options.append((Box(body.x, body.y, body.w, text_h), Box(body.x, body.y, body.w, 0)))
        return options

    def requested_width(self, picture: PreparedImage, reference_width: int) -> int:
        """The width a picture asks for: its width hint relative to the Markdown reading
        width, else as large as it may be shown: twice its size at 96 dpi."""
        native = picture.width_px * EMU_PER_PX if picture.ok else reference_width
        hint_w, hint_h = picture.ref.width_px, picture.ref.height_px
        if hint_w:
            wanted = hint_w / READING_WIDTH_PX * reference_width
        elif hint_h and picture.ok:
            wanted = hint_h * picture.aspect / READING_WIDTH_PX * reference_width
        else:
            wanted = native * MAX_UPSCALE
        if picture.ok:
            wanted = min(wanted, native * MAX_UPSCALE)
        return round(wanted)

    def picture_grid(self, pictures: list[PreparedImage],
                     area: Box) -> list[PictureShape | TextShape]:
        """Pictures in one column (1-2) or a grid, each fitted to its cell at its aspect."""
        count = len(pictures)
        if count == 1:
            columns = 1
        elif area.w >= area.h * 2.2:
            columns = count
        elif count == 2:
            columns = 1 if area.h >= area.w * 0.9 else 2
        else:
            columns = 2 if count <= 4 else math.ceil(math.sqrt(count))
        rows = math.ceil(count / columns)
        gap = round(self.theme.grid.gutter * 0.6)
        cell_w = (area.w - gap * (columns - 1)) // columns
        cell_h = (area.h - gap * (rows - 1)) // rows
        shapes: list[PictureShape | TextShape] = []
        for index, picture in enumerate(pictures):
            row, column = divmod(index, columns)
            cell = Box(area.x + column * (cell_w + gap), area.y + row * (cell_h + gap), cell_w,
                       cell_h)
            shapes.append(self.fit_picture(picture, cell, index + 1))
        return shapes

    def fit_picture(self, picture: PreparedImage, cell: Box,
                    number: int) -> PictureShape | TextShape:
        """A picture at its aspect ratio and requested size, centred in its cell; a labelled
        placeholder when it is missing."""
        if not picture.ok:
            return self.placeholder(picture, cell, number)
        aspect = picture.aspect
        if picture.ref.width_px and picture.ref.height_px:
            requested = (picture.ref.width_px / READING_WIDTH_PX * self.content.w,
                         picture.ref.height_px / READING_WIDTH_PX * self.content.w)
            width = min(requested[0], requested[1] * aspect)
        else:
            width = self.requested_width(picture, self.content.w)
        width = min(width, cell.w, cell.h * aspect)
        height = width / aspect
        box = Box(cell.x + round((cell.w - width) / 2), cell.y + round((cell.h - height) / 2),
                  round(width), round(height))
        return PictureShape(f"Picture {number}", box, picture)

    def placeholder(self, picture: PreparedImage, cell: Box, number: int) -> TextShape:
        """A dashed box that names the missing picture (and links a remote one)."""
        theme = self.theme
        height = min(cell.h, round(cell.w / 1.6))
        box = Box(cell.x, cell.y, cell.w, height)
        size = max(theme.sizes.body_min * 0.8, 12)
        src = picture.ref.src if not picture.ref.src.startswith("data:") else "data: URI"
        label = f"그림 없음 · missing image\n{src}"
        spans = (Span(label),)
        insets = (TEXT_INSET * 2,) * 4
        while size > 8 and self.text_height([(spans, 0, size, "body", False)], box.w,
                                            insets) > box.h:
            size -= 1
        link = picture.ref.src if web_address(picture.ref.src) else None  # not mailto:
        return TextShape(f"Picture {number} placeholder", box,
                         (PlacedParagraph((Span(label, link=link),), size, theme.color("muted"),
                                          align="center",
                                          line_spacing=self.line_height(size)),),
                         insets=insets, anchor="middle", fill=theme.color("surface"),
                         border=theme.color("muted"), dashed=True, link=link)

    # --- fitting text in a column -------------------------------------------------------

    def fit_column(self, blocks: list[SlideBlock], box: Box) -> _Fit:
        """The largest size from the theme's body size down to its minimum at which all
        blocks fit the box; at the minimum, as many whole items as fit, in order."""
        sizes = self.theme.sizes
        size = sizes.body
        while size >= sizes.body_min:
            fit = self.fill(blocks, box, size)
            if not fit.rest:
                return fit
            size -= 1
        return self.fill(blocks, box, sizes.body_min)

    def fill(self, blocks: list[SlideBlock], box: Box, size: float) -> _Fit:
        """Blocks placed top-down at one size until the box is full."""
        fit = _Fit(size)
        y = 0
        for index, block in enumerate(blocks):
            gap = BLOCK_GAP if fit.placed else 0
            if self.least_height(block, size) > box.h - y - gap:
                height = box.h + 1  # surely too tall: not worth measuring every item
            else:
                height = self.block_height(block, box.w, size)
            if y + gap + height <= box.h:
                fit.placed.append((block, height))
                y += gap + height
                continue
            head, tail = self.split_block(block, box.w, size, box.h - y - gap)
            if head is not None:
                fit.placed.append((head, self.block_height(head, box.w, size)))
            fit.rest = [*([tail] if tail is not None else []), *blocks[index + 1:]]
            break
        return fit

    def continued(self, rest: list[SlideBlock], box: Box,
                  size: float) -> Iterator[tuple[_Fit, list[SlideBlock]]]:
        """The fills of the continuation slides of `rest` (each with what is left after it,
        empty at the end, or all that is left when a slide could place nothing).

        In time and memory linear in the rest, however long: each slide is filled from a
        window of it no slide can hold whole (a block's next items, code lines or table
        rows, and the next blocks), found with a cursor, so what is left is not copied for
        every slide; the rare window that does fit whole is filled again from all the rest,
        so the slides are exactly those filling all the rest would make."""
        index, offset = 0, 0
        parts: Sequence[object] = ()
        parts_of = -1  # the index of the block `parts` are of
        most_blocks = box.h // BLOCK_GAP + 2
        while index < len(rest):
            if parts_of != index:
                parts, parts_of = _units(rest[index]), index
            limit = self._most_units(rest[index], box.h, size)
            window = [_from_unit(rest[index], parts, offset, limit),
                      *rest[index + 1:index + 1 + most_blocks]]
            fit = self.fill(window, box, size)
            done = len(window) - len(fit.rest)  # window blocks placed whole
            if ((offset + limit < len(parts) and done >= 1)
                    or (not fit.rest and index + len(window) < len(rest))):
                # The window fitted whole: fill from all the rest instead.
                rest = [_from_unit(rest[index], parts, offset, len(parts)), *rest[index + 1:]]
                index, offset, parts, parts_of = 0, 0, _units(rest[0]), 0
                window = rest
                fit = self.fill(window, box, size)
                done = len(window) - len(fit.rest)
            if not fit.placed:
                yield fit, [_from_unit(rest[index], parts, offset, len(parts)),
                            *rest[index + 1:]]
                return
            if fit.rest and fit.rest[0] is not window[done]:  # a head of it was placed
                offset = (offset if done == 0 else 0) + len(_units(fit.placed[-1][0]))
            else:
                offset = offset if done == 0 else 0
            index += done
            yield fit, ([] if index >= len(rest) else fit.rest)

    def _most_units(self, block: SlideBlock, room: int, size: float) -> int:
        """More items, code lines or table rows of a block than `room` can hold at a size
        (each takes at least a line)."""
        if isinstance(block, Points | Callout):
            least = self.line_height(size) * EMU_PER_PT
        elif isinstance(block, Code):
            least = self.line_height(self.theme.sizes.code_min) * EMU_PER_PT
        else:
            least = self.lines_height(1, size) + 2 * TEXT_INSET
        return int(room / max(least, 1.0)) + 2

    def split_block(self, block: SlideBlock, width: int, size: float,
                    room: int) -> tuple[SlideBlock | None, SlideBlock | None]:
        """The longest head of a block (whole items, code lines or table rows) that fits in
        `room`, and the rest."""
        if isinstance(block, Points | Callout):
            items = block.items
            insets = (TEXT_INSET,) * 4 if isinstance(block, Points) else self._callout_insets()
            cut = 0
            for height in self.text_heights(self._point_specs(items, size), width, insets):
                if height > room:
                    break
                cut += 1
            if cut == 0:
                return None, block
            return (replace(block, items=items[:cut]),
                    replace(block, items=items[cut:], line=items[cut].line)
                    if cut < len(items) else None)
        if isinstance(block, Code):
            lines = block.text.split("\n")
            code_size = self._code_size(size)
            inner = self._code_inner(width)
            shown = 0
            cut = 0
            for line in lines:
                shown += len(self._code_line(line.expandtabs(4), inner, code_size))
                if self.lines_height(shown, code_size) + 2 * CALLOUT_PAD > room:
                    break
                cut += 1
            if cut == 0:
                return None, block
            return (replace(block, text="\n".join(lines[:cut])),
                    replace(block, text="\n".join(lines[cut:])) if cut < len(lines) else None)
        rows = block.rows
        cut = 0
        while cut < len(rows) and self.block_height(replace(block, rows=rows[: cut + 1]),
                                                    width, size) <= room:
            cut += 1
        if cut == 0:
            return None, block
        return (replace(block, rows=rows[:cut]),
                replace(block, rows=rows[cut:]) if cut < len(rows) else None)

    def least_height(self, block: SlideBlock, size: float) -> int:
        """A lower bound of block_height, counted without measuring: one line per item,
        code line or table row (a block of a million points is not measured to learn that
        it does not fit)."""
        if isinstance(block, Points | Callout):
            return math.floor(len(block.items) * self.line_height(size) * EMU_PER_PT)
        if isinstance(block, Code):
            return math.floor((block.text.count("\n") + 1)
                              * self.line_height(self.theme.sizes.code_min) * EMU_PER_PT)
        return (len(block.rows) + 1) * (self.lines_height(1, size) + 2 * TEXT_INSET)

    def block_height(self, block: SlideBlock, width: int, size: float) -> int:
        """The height in EMU a block takes at a size in a column `width` wide."""
        if isinstance(block, Points):
            return self.text_height(self._point_specs(block.items, size), width,
                                    (TEXT_INSET,) * 4)
        if isinstance(block, Callout):
            return self.text_height(self._point_specs(block.items, size), width,
                                    self._callout_insets())
        if isinstance(block, Code):
            code_size, lines = self._code_lines(block, width, size)
            return self.lines_height(len(lines), code_size) + 2 * CALLOUT_PAD
        return sum(self._table_geometry(block, width, size)[1])

    def _callout_insets(self) -> tuple[int, int, int, int]:
        return (CALLOUT_BAR + CALLOUT_PAD, CALLOUT_PAD, CALLOUT_PAD, CALLOUT_PAD)

    def _point_specs(self, items: Sequence[Point],
                     size: float) -> Iterator[tuple[Inline, int, float, str, bool]]:
        """The paragraphs of points, each made when it is measured (a split measures only
        the head it keeps)."""
        return ((item.spans, self._margin(item, size), size, "body", False) for item in items)

    def _margin(self, item: Point, size: float) -> int:
        """The left margin of a point's text: its level's indent plus room for its marker."""
        marker = self._marker_width(item.marker, size) if item.marker else 0
        return item.level * LEVEL_INDENT + marker

    def _marker_width(self, marker: str, size: float) -> int:
        known = self._marker_widths.get((marker, size))
        if known is None:
            width = self.measurer.width(marker + "  ", "body", False, size)
            known = self._marker_widths[marker, size] = math.ceil(max(width, size * 0.9)
                                                                  * EMU_PER_PT)
        return known

    def _code_lines(self, block: Code, width: int, size: float) -> tuple[float, list[str]]:
        """The code's size (scaled with the body, never below code_min) and its visual lines,
        long lines wrapped with a visible marker."""
        code_size = self._code_size(size)
        inner = self._code_inner(width)
        out: list[str] = []
        for line in block.text.expandtabs(4).split("\n"):
            out.extend(self._code_line(line, inner, code_size))
        return code_size, out

    def _code_size(self, size: float) -> float:
        sizes = self.theme.sizes
        return max(sizes.code_min, min(sizes.code, size * sizes.code / sizes.body))

    def _code_inner(self, width: int) -> float:
        return (width - 2 * CALLOUT_PAD) / EMU_PER_PT

    def _code_line(self, line: str, inner: float, code_size: float) -> tuple[str, ...]:
        """The visual lines of one line of code (tabs expanded) `inner` points wide;
        remembered, since fitting and splitting ask for the same lines at each size."""
        key = (line, inner, code_size)
        known = self._code_wraps.get(key)
        if known is None:
            known = self._code_wraps[key] = tuple(self._wrap_code_line(line, inner, code_size))
        return known

    def _wrap_code_line(self, line: str, inner: float, code_size: float) -> Iterator[str]:
        if len(line) > MAX_MEASURED_CHARS:
            # Far more than a slide holds (it goes to the notes): cut unmeasured at 1.6 em a
            # character (an emoji and its gap), so never fewer lines than a measured wrap
            # would make.
            step = max(1, int(inner / (code_size * 1.6)))
            yield from (line[start:start + step] for start in range(0, len(line), step))
            return
        remaining = line
        first = True
        while True:
            prefix = "" if first else CODE_WRAP_MARK
            text = prefix + remaining
            fits = self.measurer.fitting_length(text, "code", False, code_size, inner * 0.97)
            if fits == len(text) or len(text) <= len(prefix) + 1:
                yield text
                return
            cut = max(len(prefix) + 1, fits)
            yield text[:cut]
            remaining = text[cut:]
            first = False

    def _table_geometry(self, table: Table, width: int,
                        size: float) -> tuple[list[int], list[int], float]:
        """Column widths (from content), row heights and the table's type size."""
        table_size = size
        rows = [table.header, *table.rows]
        columns = max(len(row) for row in rows) if rows else 1
        natural = [0.0] * columns
        for row_index, row in enumerate(rows):
            for index, cell in enumerate(row):
                natural[index] = max(natural[index],
                                     self._cell_em(cell, row_index == 0) * table_size + 12)
        floor = width / columns * 0.5
        weights = [max(value, floor / EMU_PER_PT) for value in natural]
        total = sum(weights) or 1.0
        widths = [round(width * weight / total) for weight in weights]
        widths[-1] = width - sum(widths[:-1])
        inset = TEXT_INSET
        heights = []
        for row_index, row in enumerate(rows):
            tallest = 1
            for index in range(columns):
                cell = row[index] if index < len(row) else ()
                tallest = max(tallest, self.lines(cell, "body", table_size,
                                                  widths[index] - 2 * inset,
                                                  bold=row_index == 0))
            heights.append(self.lines_height(tallest, table_size) + 2 * inset)
        return widths, heights, table_size

    def _cell_em(self, cell: Inline, bold: bool) -> float:
        """The width of a table cell's text on one line, in em (as Measurer.width measures
        it); remembered by the cell's identity, as each split of a table asks again."""
        entry = self._cell_ems.get((id(cell), bold))
        if entry is None:
            entry = self._cell_ems[id(cell), bold] = (
                cell, self.measurer.width(plain_text(cell), "body", bold, 1.0))
        return entry[1]

    def column_shapes(self, fit: _Fit, box: Box) -> list[Shape]:
        """The shapes of the blocks placed in a column."""
        shapes: list[Shape] = []
        y = box.y
        for index, (block, height) in enumerate(fit.placed, start=1):
            area = Box(box.x, y, box.w, height)
            if isinstance(block, Points):
                shapes.append(TextShape(f"Text {index}", area,
                                        self._paragraphs(block.items, fit.size, "text")))
            elif isinstance(block, Callout):
                shapes.extend(self._callout(block, area, fit.size, index))
            elif isinstance(block, Code):
                shapes.append(self._code(block, area, fit.size, index))
            else:
                shapes.append(self._table(block, area, fit.size, index))
            y += height + BLOCK_GAP
        return shapes

    def _paragraphs(self, items: Sequence[Point], size: float,
                    color: str) -> tuple[PlacedParagraph, ...]:
        paragraphs = []
        rgb = self.theme.color(color)
        space_before = size * self.theme.sizes.paragraph_spacing
        line_spacing = self.line_height(size)
        for index, item in enumerate(items):
            margin = self._margin(item, size)
            hanging = self._marker_width(item.marker, size) if item.marker else 0
            paragraphs.append(PlacedParagraph(
                item.spans, size, rgb, "body", marker=item.marker, margin_left=margin,
                hanging=hanging, space_before=space_before if index else 0.0,
                line_spacing=line_spacing))
        return tuple(paragraphs)

    def _callout(self, block: Callout, area: Box, size: float, index: int) -> list[Shape]:
        theme = self.theme
        return [
            TextShape(f"Callout {index}", area,
                      self._paragraphs(block.items, size, theme.callout_text),
                      insets=self._callout_insets(), fill=theme.color(theme.callout_fill)),
            FillShape(f"Callout {index} bar", Box(area.x, area.y, CALLOUT_BAR, area.h),
                      theme.color(theme.callout_bar)),
        ]

    def _code(self, block: Code, area: Box, size: float, index: int) -> TextShape:
        code_size, lines = self._code_lines(block, area.w, size)
        paragraphs = tuple(PlacedParagraph((Span(line or " "),), code_size,
                                           self.theme.color("code_text"), "code",
                                           line_spacing=self.line_height(code_size))
                           for line in lines)
        return TextShape(f"Code {index}", area, paragraphs, insets=(CALLOUT_PAD,) * 4,
                         fill=self.theme.color("code_fill"))

    def _table(self, block: Table, area: Box, size: float, index: int) -> TableShape:
        widths, heights, table_size = self._table_geometry(block, area.w, size)
        rows = [block.header, *block.rows]
        columns = len(widths)
        cells = []
        for row_index, row in enumerate(rows):
            cells.append(tuple(
                (PlacedParagraph(row[c] if c < len(row) else (), table_size,
                                 self.theme.color("text"), "body", bold=row_index == 0,
                                 align=(block.aligns[c] if c < len(block.aligns) else "")
                                 or "left", line_spacing=self.line_height(table_size)),)
                for c in range(columns)))
        return TableShape(f"Table {index}", Box(area.x, area.y, area.w, sum(heights)),
                          tuple(widths), tuple(heights), tuple(cells),
                          header_fill=self.theme.color("callout_fill"),
                          band_fill=self.theme.color("surface"),
                          border=self.theme.color("rule"), cell_insets=TEXT_INSET)

    # --- timeline ------------------------------------------------------------------------

    def timeline_slide(self, slide: Slide) -> PlacedSlide:
        """The eras of a section on a horizontal line, in chronological order."""
        theme, sizes = self.theme, self.theme.sizes
        shapes, body_top, _ = self.title_shapes(slide.title, slide.kicker, self.content.w)
        entries = slide.timeline
        count = max(1, len(entries))
        body = Box(self.content.x, body_top, self.content.w, self.footer_top - body_top)
        axis_y = body.y + round(body.h * 0.36)
        column_w = max(1, body.w // count)
        # Many eras make narrow columns: the marker and the padding shrink with them, so
        # that no box has a negative width.
        marker = min(round(0.34 * EMU_PER_INCH), column_w * 3 // 4)
        shapes.append(LineShape("Timeline axis", body.x, axis_y, body.right, axis_y,
                                theme.color("rule"), 4.0, arrow=True))
        label_size = min(sizes.title * 0.8, 28)
        pad = min(round(theme.grid.gutter / 2), column_w // 8)
        label_room = axis_y - marker - body.y
        crowded = False
        for index, entry in enumerate(entries):
            center = body.x + column_w * index + column_w // 2
            shapes.append(FillShape(f"Era {index + 1} marker",
                                    Box(center - marker // 2, axis_y - marker // 2, marker,
                                        marker), theme.color("accent"), "ellipse",
                                    border=theme.color("background")))
            label_spans = (Span(entry.era.label),)
            label_w = max(1, column_w - 2 * pad)
            label_h = self.text_height([(label_spans, 0, label_size, "heading", True)],
                                       label_w, (TEXT_INSET,) * 4)
            if label_h > label_room:  # too narrow a column even at the minimum: keep it
                crowded = True        # on the slide and say so below
                label_h = max(1, label_room)
            shapes.append(TextShape(f"Era {index + 1} label",
                                    Box(center - label_w // 2,
                                        axis_y - marker - label_h, label_w, label_h),
                                    (PlacedParagraph(label_spans, label_size,
                                                     theme.color("accent_dark"), "heading",
                                                     True, align="center",
                                                     line_spacing=self.line_height(
                                                         label_size)),)))
            caption_top = axis_y + marker
            room = body.bottom - caption_top - round(0.1 * EMU_PER_INCH)
            caption, size = self.fit_caption(entry.caption, label_w, room)
            if caption:
                height = self.text_height([(caption, 0, size, "body", False)], label_w,
                                          (TEXT_INSET,) * 4)
                shapes.append(TextShape(f"Era {index + 1} caption",
                                        Box(center - label_w // 2, caption_top, label_w,
                                            height),
                                        (PlacedParagraph(caption, size, theme.color("text"),
                                                         align="center",
                                                         line_spacing=self.line_height(size)),
                                         )))
        if crowded:
            self.diagnostics.warn(f"timeline '{slide.title}': {len(entries)} eras are too "
                                  "many to label legibly on one slide; group them under "
                                  "fewer headings", self.deck.source, slide.line)
        return self._placed(slide, shapes)

    def fit_caption(self, spans: Inline, width: int, room: int) -> tuple[Inline, float]:
        """A caption at the largest size that fits, shortened at a word with "…" if it does
        not fit even at the minimum."""
        sizes = self.theme.sizes
        insets = (TEXT_INSET,) * 4

        def fits(candidate: Inline, size: float) -> bool:
            return self.text_height([(candidate, 0, size, "body", False)], width,
                                    insets) <= room

        size = min(sizes.body, 22)
        while size >= sizes.body_min:
            if fits(spans, size):
                return spans, size
            size -= 1
        size = sizes.body_min
        words = plain_text(spans).split()
        kept = _most_that_fit(len(words), lambda count: fits(
            (Span(" ".join(words[:count]) + " …"),), size))
        return ((Span(" ".join(words[:kept]) + " …"),) if kept else ()), size


def _most_that_fit(most: int, fits: Callable[[int], bool]) -> int:
    """The largest count from 1 to `most` that fits (0 if none does), by bisection: a
    longer prefix of a text never takes fewer lines."""
    low, high = 0, most
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low


def _units(block: SlideBlock) -> Sequence[object]:
    """What a block is split between slides by: its items, code lines or table rows."""
    if isinstance(block, Points | Callout):
        return block.items
    if isinstance(block, Code):
        return block.text.split("\n")
    return block.rows


def _from_unit(block: SlideBlock, units: Sequence[object], start: int,
               count: int) -> SlideBlock:
    """The block with `count` of its units (as _units gives them) from `start` on: itself
    if that is all of them, else as split_block would make its tail (and a head of that)."""
    end = min(len(units), start + count)
    if start == 0 and end == len(units):
        return block
    if isinstance(block, Points | Callout):
        items = block.items[start:end]
        return replace(block, items=items, line=items[0].line if start else block.line)
    if isinstance(block, Code):
        return replace(block, text="\n".join(str(line) for line in units[start:end]))
    return replace(block, rows=block.rows[start:end])


def _block_preview(block: SlideBlock) -> str:
    if isinstance(block, Points | Callout):
        text = plain_text(block.items[0].spans) if block.items else ""
    elif isinstance(block, Code):
        text = block.text.split("\n", 1)[0]
    else:
        text = " | ".join(plain_text(cell) for cell in (block.rows[0] if block.rows
                                                        else block.header))
    text = " ".join(text.split())  # a code line's breaks would break the warning's line
    return text if len(text) <= 40 else text[:39] + "…"


def layout_deck(deck: Deck, theme: Theme, measurer: Measurer,
                images: dict[Image, PreparedImage], overflow: Overflow,
                diagnostics: Diagnostics) -> list[PlacedSlide]:
    """Every slide of a deck laid out on the theme's grid."""
    return DeckLayout(theme, measurer, images, overflow, diagnostics, deck).slides()


