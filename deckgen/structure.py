"""Document blocks to slides: title, sections, eras and their timeline, references, notes."""

from __future__ import annotations

import bisect
import functools
import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar, cast

from deckgen.errors import DeckgenError, Diagnostics
from deckgen.model import (
    Block,
    Callout,
    Code,
    Deck,
    DeckMeta,
    Document,
    Era,
    Heading,
    Image,
    Inline,
    ListBlock,
    ListItem,
    Notes,
    NotesBlock,
    Paragraph,
    Point,
    Points,
    Quote,
    Slide,
    SlideBlock,
    SlideKind,
    Span,
    Table,
    ThematicBreak,
    TimelineEntry,
    plain_text,
)

Result = TypeVar("Result")

#: Headings of these levels open a slide; deeper ones stay inside the section's body.
SLIDE_HEADING_LEVELS = (1, 2, 3)
#: The most slides a note may make: a term's lectures are a few thousand; each slide costs
#: about 1 ms and 45 KB while the deck is built, so this bounds a build to about half a
#: minute and a gigabyte.
MAX_SLIDES = 20_000

MONTHS = {name: number for number, names in enumerate((
    ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"),
    ("may",), ("june", "jun"), ("july", "jul"), ("august", "aug"),
    ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
    ("december", "dec")), start=1) for name in names}
_MONTH_NAMES = "|".join(sorted(MONTHS, key=len, reverse=True))
#: Where in its decade an "early", "mid" or "late" decade falls, in years.
_QUALIFIER = {"early": 1, "mid": 5, "late": 8, "초": 1, "초반": 1, "중반": 5, "말": 8, "후반": 8}

#: Patterns of headings that name a time, most specific first; each gives year and month.
ERA_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?<!\d)(\d{4})\s*년\s*(\d{1,2})\s*월"), "year-month"),
    (re.compile(r"(?<!\d)(\d{4})-(0[1-9]|1[0-2])(?!\d)"), "year-month"),
    (re.compile(rf"\b({_MONTH_NAMES})\.?\s+(\d{{4}})\b", re.I), "month-year"),
    (re.compile(r"(?<!\d)(\d{4})\s*년대\s*(초반|중반|후반|초|말)?"), "decade-ko"),
    (re.compile(r"\b(?:(early|mid|late)[\s-]+)?(\d{3}0)'?s\b", re.I), "decade-en"),
    (re.compile(r"(?<!\d)(\d{4})\s*년"), "year"),
    (re.compile(r"^\s*(?:c\.|ca\.|circa|around|in)?\s*(\d{4})\b", re.I), "year"),
)

SENTENCE_END = re.compile(r"(?<=[.!?。！？])[\"'”’)\]]*\s+(?=\S)")
ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "cf.", "mr.", "mrs.", "dr.", "no.", "fig.")
REFERENCE_TITLES = re.compile(r"참고|자료|references?|sources?|links?|bibliography|further "
                              r"reading|링크|출처", re.I)


def era_of(text: str) -> Era | None:
    """The era a heading names ("1991년 경", "July 2014", "Early 2000s"), or None."""
    for pattern, form in ERA_PATTERNS:
        match = pattern.search(text)
        if match is None:
            continue
        if form == "year-month":
            year, month = int(match[1]), int(match[2])
            return Era(text, year, month, (year, month, 1))
        if form == "month-year":
            year, month = int(match[2]), MONTHS[match[1].lower()]
            return Era(text, year, month, (year, month, 1))
        if form == "decade-ko":
            year = int(match[1])
            return Era(text, year, 0, (year + _QUALIFIER.get(match[2] or "", 0), 0, 0))
        if form == "decade-en":
            year = int(match[2])
            return Era(text, year, 0,
                       (year + _QUALIFIER.get((match[1] or "").lower(), 0), 0, 0))
        year = int(match[1])
        if 1000 <= year <= 2999:
            return Era(text, year, 0, (year, 0, 0))
    return None


@dataclass
class _Section:
    """A heading and what belongs to it, with its sub-sections."""

    heading: Heading | None
    blocks: list[Block] = field(default_factory=list)
    children: list[_Section] = field(default_factory=list)
    parent: _Section | None = None

    @property
    def title(self) -> str:
        return self.heading.text if self.heading else ""

    @property
    def line(self) -> int:
        return self.heading.line if self.heading else 1

    @functools.cached_property
    def era(self) -> Era | None:
        """The era the heading names (matched once: every sibling's slide asks for it)."""
        return era_of(self.title) if self.heading else None

    def era_children(self) -> list[_Section]:
        """The sub-sections that are eras (asked only once the tree is complete)."""
        return self._era_children

    @functools.cached_property
    def _era_children(self) -> list[_Section]:
        return [child for child in self.children if child.era is not None]

    @functools.cached_property
    def timeline(self) -> tuple[TimelineEntry, ...]:
        """The era sub-sections as timeline entries, built once for all of them."""
        return _timeline_entries(self.era_children())


class _Remembered:
    """What a build made of blocks, found again by the identity of the blocks (and the
    other arguments): the parser gives the sections of the note that did not change the
    very same block objects (parse.keep_between_builds). The blocks are kept with each
    result, so that no other object takes their ids meanwhile. What is made this way
    reports nothing (a result found again would not report it again)."""

    def __init__(self, last: dict[tuple[object, ...], tuple[tuple[Block, ...], Any]]) -> None:
        self.last = last
        self.now: dict[tuple[object, ...], tuple[tuple[Block, ...], Any]] = {}

    def get(self, key: tuple[object, ...], blocks: Sequence[Block],
            make: Callable[[], Result]) -> Result:
        """The result of `make` for these blocks, made again only for other blocks."""
        full_key = (*key, *map(id, blocks))
        found = self.last.get(full_key) or self.now.get(full_key)
        if found is None:
            found = (tuple(blocks), make())
        self.now[full_key] = found
        return cast(Result, found[1])


#: The results of the last build, while a long-running process keeps them between builds.
_kept: dict[tuple[object, ...], tuple[tuple[Block, ...], Any]] | None = None
#: Where the build under way finds and leaves its results (None: it keeps none).
_remembered: _Remembered | None = None


def keep_between_builds(keep: bool = True) -> None:
    """Start (or stop) keeping what each build made of each section for the next build
    (`build --watch`), which then makes again only what the sections that changed need."""
    global _kept
    _kept = {} if keep else None


def build_deck(document: Document, diagnostics: Diagnostics) -> Deck:
    """The slides of a document: a title slide, then one slide (or more) per section."""
    global _kept, _remembered
    if _kept is None:
        return _build_deck(document, diagnostics)
    _remembered = _Remembered(_kept)
    try:
        deck = _build_deck(document, diagnostics)
        _kept = _remembered.now  # this build's results, and no more: a watch does not grow
    finally:
        _remembered = None
    return deck


def _build_deck(document: Document, diagnostics: Diagnostics) -> Deck:
    root = _sections(document.blocks)
    meta = _deck_meta(document, root)
    slides: list[Slide] = [Slide(SlideKind.TITLE, meta.title, 1, subtitle=meta.subtitle,
                                 byline=" · ".join(x for x in (meta.author, meta.date) if x))]
    title_heading_used = not document.front_matter.get("title")
    for section in _walk(root):
        if section.heading is None:
            if _has_content(section.blocks):
                slides.extend(_content_slides(section, meta.title, diagnostics))
            continue
        if (title_heading_used and section.heading.level == 1
                and section.title == meta.title and not _has_content(section.blocks)):
            continue
        slides.extend(_section_slides(section, diagnostics))
        if len(slides) > MAX_SLIDES:
            raise too_many_slides(document.source, section.heading.line)
    return Deck(document.source, meta, tuple(slides))


def too_many_slides(source: Path, line: int) -> DeckgenError:
    """The error of a note whose slide MAX_SLIDES + 1 (continuation slides counted) is made
    by the block at `line`."""
    return DeckgenError(f"the note makes more than {MAX_SLIDES:,} slides (slide "
                        f"{MAX_SLIDES + 1:,} is made here); split it into several notes",
                        source, line)


def _deck_meta(document: Document, root: _Section) -> DeckMeta:
    fm = document.front_matter

    def text(key: str) -> str:
        value = fm.get(key)
        if isinstance(value, list):
            return ", ".join(str(item) for item in value)
        return "" if value is None else str(value).strip()

    first_h1 = next((s.title for s in _walk(root) if s.heading and s.heading.level == 1), "")
    title = text("title") or first_h1 or document.source.stem
    return DeckMeta(title=title, subtitle=text("subtitle"), author=text("author"),
                    date=text("date"), theme=text("theme") or None,
                    template=text("template") or None,
                    subject=text("subject") or text("subtitle") or title,
                    keywords=text("keywords") or text("tags"))


def _sections(blocks: Iterable[Block]) -> _Section:
    """The section tree of a document (the root holds what comes before any heading)."""
    root = _Section(None)
    stack = [root]
    for block in blocks:
        if isinstance(block, Heading) and block.level in SLIDE_HEADING_LEVELS:
            while len(stack) > 1 and stack[-1].heading is not None \
                    and stack[-1].heading.level >= block.level:
                stack.pop()
            section = _Section(block, parent=stack[-1])
            stack[-1].children.append(section)
            stack.append(section)
        else:
            stack[-1].blocks.append(block)
    return root


def _walk(section: _Section) -> Iterator[_Section]:
    yield section
    for child in section.children:
        yield from _walk(child)


def _has_content(blocks: list[Block]) -> bool:
    return any(not isinstance(block, ThematicBreak) for block in blocks)


def _section_slides(section: _Section, diagnostics: Diagnostics) -> list[Slide]:
    """The slides one section opens with (its sub-sections are visited separately)."""
    era = section.era
    parent = section.parent
    if era is not None:
        siblings = parent.era_children() if parent is not None else []
        kicker = parent.title if parent is not None and parent.heading else ""
        slide = _content_slides(section, section.title, diagnostics, kind=SlideKind.ERA,
                                kicker=kicker)
        timeline = parent.timeline if parent is not None and len(siblings) >= 2 else ()
        return [replace(s, era=era, timeline=timeline) for s in slide]
    if len(section.era_children()) >= 2:
        return [_timeline_slide(section)]
    if _is_references(section):
        return [_references_slide(section)]
    if _has_content(section.blocks):
        return _content_slides(section, section.title, diagnostics)
    return [_section_slide(section)]


def _content_slides(section: _Section, title: str, diagnostics: Diagnostics,
                    kind: SlideKind = SlideKind.CONTENT, kicker: str = "") -> list[Slide]:
    """A slide per stretch of the section between `---` rules."""
    if _remembered is None:
        return _new_content_slides(section, title, kind, kicker)
    return list(_remembered.get(
        ("content", title, kind, kicker, section.line), section.blocks,
        lambda: tuple(_new_content_slides(section, title, kind, kicker))))


def _new_content_slides(section: _Section, title: str, kind: SlideKind,
                        kicker: str) -> list[Slide]:
    slides: list[Slide] = []
    for chunk in _split_at_rules(section.blocks):
        body, images, explicit = slide_body(chunk)
        notes = Notes((*explicit, *notes_from_blocks(chunk)))
        if not notes:
            notes = Notes((Paragraph((Span(title),), section.line),))
        line = chunk[0].line if chunk and not slides else section.line
        slides.append(Slide(kind, title, line, body=tuple(body), images=tuple(images),
                            notes=notes, kicker=kicker))
    if not slides:
        slides.append(Slide(kind, title, section.line, kicker=kicker,
                            notes=Notes((Paragraph((Span(title),), section.line),))))
    return slides


def _split_at_rules(blocks: list[Block]) -> list[list[Block]]:
    chunks: list[list[Block]] = [[]]
    for block in blocks:
        if isinstance(block, ThematicBreak):
            if chunks[-1]:
                chunks.append([])
        else:
            chunks[-1].append(block)
    return [chunk for chunk in chunks if chunk]


def slide_body(blocks: Iterable[Block]) -> tuple[list[SlideBlock], list[Image], list[Block]]:
    """What a slide shows of some blocks (points, callouts, code, tables), its images, and
    the explicit notes found among the blocks."""
    body: list[SlideBlock] = []
    images: list[Image] = []
    explicit: list[Block] = []
    pending: list[Point] = []

    def flush() -> None:
        if pending:
            body.append(Points(tuple(pending), pending[0].line))
            pending.clear()

    for block in blocks:
        if isinstance(block, Paragraph):
            pending.extend(points_from_paragraph(block))
        elif isinstance(block, Heading):
            pending.append(Point(_bold(block.spans), block.line, 0, ""))
        elif isinstance(block, ListBlock):
            pending.extend(points_from_list(block, 0))
            images.extend(_images_in(block))
        elif isinstance(block, Quote):
            flush()
            callout = tuple(_quote_points(block))
            if callout:  # a quote of only a table or pictures shows no empty box
                body.append(Callout(callout, block.line))
            images.extend(_images_in(block))
        elif isinstance(block, Code | Table):
            flush()
            body.append(block)
        elif isinstance(block, Image):
            images.append(block)
        elif isinstance(block, NotesBlock):
            explicit.extend(block.blocks)
    flush()
    return body, images, explicit


def points_from_paragraph(paragraph: Paragraph, level: int = 0,
                          marker: str = "•") -> list[Point]:
    """A paragraph as concise points: one per sentence or hard line."""
    points = []
    for spans in split_sentences(paragraph.spans):
        points.append(Point(spans, paragraph.line, level, marker))
    return points


def points_from_list(block: ListBlock, level: int) -> list[Point]:
    """The items of a (nested) list as points with their levels and markers."""
    points: list[Point] = []
    for number, item in enumerate(block.items, start=block.start):
        marker = f"{number}." if block.ordered else ("•" if level % 2 == 0 else "–")
        first = True
        for child in item.blocks:
            if isinstance(child, Paragraph | Heading):  # "- # Title" is a bold item
                spans = _bold(child.spans) if isinstance(child, Heading) else child.spans
                points.append(Point(spans, child.line, level, marker if first else ""))
                first = False
            elif isinstance(child, ListBlock):
                points.extend(points_from_list(child, level + 1))
            elif isinstance(child, Quote):
                points.extend(_quote_points(child, level + 1))
            elif isinstance(child, Code):
                points.append(Point((Span(child.text, code=True),), child.line, level + 1, ""))
    return points


def _quote_points(quote: Quote, level: int = 0) -> list[Point]:
    points: list[Point] = []
    for block in quote.blocks:
        if isinstance(block, Paragraph):
            points.extend(Point(spans, block.line, level, "")
                          for spans in split_lines(block.spans))
        elif isinstance(block, ListBlock):
            points.extend(points_from_list(block, level))
        elif isinstance(block, Quote):
            points.extend(_quote_points(block, level))
        elif isinstance(block, Code):
            points.append(Point((Span(block.text, code=True),), block.line, level, ""))
        elif isinstance(block, Heading):  # "> # Title" is a bold line of the callout
            points.append(Point(_bold(block.spans), block.line, level, ""))
    return points


def _images_in(block: ListBlock | Quote) -> list[Image]:
    found: list[Image] = []
    children = [b for item in block.items for b in item.blocks] \
        if isinstance(block, ListBlock) else list(block.blocks)
    for child in children:
        if isinstance(child, Image):
            found.append(child)
        elif isinstance(child, ListBlock | Quote):
            found.extend(_images_in(child))
    return found


def _bold(spans: Inline) -> Inline:
    return tuple(Span(s.text, True, s.italic, s.strike, s.code, s.link, s.address)
                 for s in spans)


def split_lines(spans: Inline) -> list[Inline]:
    """Spans split at hard breaks, each line stripped; empty lines dropped."""
    lines: list[list[Span]] = [[]]
    for span in spans:
        parts = span.text.split("\n")
        for index, part in enumerate(parts):
            if index:
                lines.append([])
            if part:
                lines[-1].append(Span(part, span.bold, span.italic, span.strike, span.code,
                                      span.link, span.address))
    return [_trim(line) for line in lines if plain_text(tuple(line)).strip()]


def split_sentences(spans: Inline) -> list[Inline]:
    """Spans split into sentences and hard lines. A sentence ends at ".", "!" or "?" and white
    space in plain, bold, italic or link text (not code); never inside a code span or a link."""
    result: list[Inline] = []
    for line in split_lines(spans):
        text = "".join(span.text for span in line)
        # where each span ends in `text`: a character's span is found by bisection (a list
        # of every character and its span took 64 bytes a character: 0.8 GB for 12 MB)
        ends = list(itertools.accumulate(len(span.text) for span in line))
        start = 0
        for match in SENTENCE_END.finditer(text):
            end_mark = match.start() - 1
            while end_mark > 0 and text[end_mark] not in ".!?。！？":
                end_mark -= 1
            mark_span = line[bisect.bisect_right(ends, end_mark)]
            gap_span = line[bisect.bisect_right(ends, match.start())]
            if mark_span.code or (gap_span.link and gap_span.link == mark_span.link) \
                    or gap_span.code \
                    or _ends_with_abbreviation(_last_word(text, start, match.start())):
                continue
            result.append(_spans_of(line, ends, start, match.start()))
            start = match.end()
        if text[start:].strip():
            result.append(_spans_of(line, ends, start, len(text)))
    return [spans for spans in result if spans]


def _spans_of(line: Inline, ends: list[int], start: int, end: int) -> Inline:
    """The characters `start` to `end` of a line (whose spans end at `ends`) as spans."""
    pieces = []
    index = bisect.bisect_right(ends, start)
    while index < len(line) and ends[index] - len(line[index].text) < end:
        offset = ends[index] - len(line[index].text)
        pieces.append(_like(line[index], line[index].text[max(start - offset, 0):
                                                          min(end, ends[index]) - offset]))
        index += 1
    return _trim(pieces)


def _last_word(text: str, start: int, end: int) -> str:
    """The last word of text[start:end], found from the end (slicing from `start` each time
    made a paragraph of many abbreviations quadratic)."""
    stop = end
    while stop > start and text[stop - 1].isspace():
        stop -= 1
    begin = stop
    while begin > start and not text[begin - 1].isspace():
        begin -= 1
    return text[begin:stop]


def _ends_with_abbreviation(word: str) -> bool:
    """Whether a sentence's last word is an abbreviation (or there is no word at all)."""
    if not word:
        return True
    last = word.lower()
    return last in ABBREVIATIONS or bool(re.fullmatch(r"(?:[a-z]\.)+|\d+\.", last))


def _like(span: Span, text: str) -> Span:
    return Span(text, span.bold, span.italic, span.strike, span.code, span.link, span.address)


def _trim(spans: list[Span]) -> Inline:
    spans = [s for s in spans if s.text]
    if not spans:
        return ()
    spans[0] = _like(spans[0], spans[0].text.lstrip())
    spans[-1] = _like(spans[-1], spans[-1].text.rstrip())
    return tuple(s for s in spans if s.text)


def notes_from_blocks(blocks: Iterable[Block]) -> list[Block]:
    """The prose of blocks for the speaker notes: everything but pictures and notes markers."""
    notes: list[Block] = []
    for block in blocks:
        if isinstance(block, Image | ThematicBreak | NotesBlock):
            continue
        if isinstance(block, Quote):
            notes.append(Quote(tuple(notes_from_blocks(block.blocks)), block.line))
        else:
            notes.append(block)
    return notes


def _timeline_entries(eras: list[_Section]) -> tuple[TimelineEntry, ...]:
    entries = []
    for section in eras:
        era = section.era
        assert era is not None
        body, _, _ = slide_body(section.blocks)
        first = next((item.spans for block in body if isinstance(block, Points)
                      for item in block.items), ())
        entries.append(TimelineEntry(era, first))
    return tuple(sorted(entries, key=lambda entry: entry.era.sort_key))


def _timeline_slide(section: _Section) -> Slide:
    """The overview of a section whose sub-sections are eras, in chronological order."""
    entries = section.timeline
    notes: list[Block] = list(notes_from_blocks(section.blocks))
    items = tuple(
        _list_item(Paragraph((Span(entry.era.label + ": ", bold=True), *entry.caption),
                             section.line))
        for entry in entries)
    notes.append(ListBlock(items, False, 1, section.line))
    return Slide(SlideKind.TIMELINE, section.title, section.line, notes=Notes(tuple(notes)),
                 timeline=entries)


def _list_item(paragraph: Paragraph) -> ListItem:
    return ListItem((paragraph,), paragraph.line)


def _is_references(section: _Section) -> bool:
    """Whether a section holds only links (a references list)."""
    if _remembered is None:
        return _holds_only_links(section)
    return _remembered.get(("references", section.title), section.blocks,
                           lambda: _holds_only_links(section))


def _holds_only_links(section: _Section) -> bool:
    blocks = [b for b in section.blocks if not isinstance(b, ThematicBreak | NotesBlock)]
    if not blocks:
        return False
    lines = list(_lines_of(blocks))
    if not lines or any(line is None for line in lines):
        return False
    linked = [spans for spans in lines if spans is not None]
    all_links = all(any(s.link for s in spans) and all(s.link or not s.text.strip(" -–—:·|,")
                                                        for s in spans) for spans in linked)
    return all_links or (bool(REFERENCE_TITLES.search(section.title))
                         and all(any(s.link for s in spans) for spans in linked))


def _lines_of(blocks: Iterable[Block]) -> Iterator[Inline | None]:
    for block in blocks:
        if isinstance(block, Paragraph):
            yield from split_lines(block.spans)
        elif isinstance(block, ListBlock):
            for item in block.items:
                yield from _lines_of(item.blocks)
        else:
            yield None


def _references_slide(section: _Section) -> Slide:
    """A slide of clickable links; the notes spell every address out."""
    points: list[Point] = []
    for block in section.blocks:
        if isinstance(block, Paragraph):
            points.extend(Point(s, block.line) for s in split_lines(block.spans))
        elif isinstance(block, ListBlock):
            points.extend(points_from_list(block, 0))
    notes = [Paragraph(p.spans, p.line) for p in points]
    body = (Points(tuple(points), section.line),)
    return Slide(SlideKind.REFERENCES, section.title, section.line, body=body,
                 notes=Notes((ListBlock(tuple(_list_item(n) for n in notes), False, 1,
                                        section.line),)))


def _section_slide(section: _Section) -> Slide:
    """A divider for a heading with no text of its own; its notes name what follows."""
    names = [child.title for child in section.children]
    text = f"{section.title}: " + ", ".join(names) if names else section.title
    return Slide(SlideKind.SECTION, section.title, section.line,
                 kicker=section.parent.title if section.parent and section.parent.heading
                 else "", notes=Notes((Paragraph((Span(text),), section.line),)))


#: One paragraph of speaker notes: its level, its prefix (a list marker, "> " of a quote),
#: its spans and its font role ("body" or "code"), for the renderer and the handout.
NotesLine = tuple[int, str, Inline, str]


def notes_lines(blocks: Iterable[Block], level: int = 0,
                quote: str = "") -> Iterable[NotesLine]:
    """Speaker-notes paragraphs of blocks: (level, prefix, spans, font role); lists stay
    lists with their markers, quotes keep a "> " mark, code keeps its lines."""
    for block in blocks:
        if isinstance(block, Paragraph):
            yield level, quote, block.spans, "body"
        elif isinstance(block, Heading):
            yield level, quote, tuple(Span(s.text, True, s.italic, s.strike, s.code, s.link,
                                           s.address) for s in block.spans), "body"
        elif isinstance(block, ListBlock):
            for number, item in enumerate(block.items, start=block.start):
                marker = f"{number}. " if block.ordered else "• "
                first = True
                for child in item.blocks:
                    if isinstance(child, Paragraph) and first:
                        yield level, quote + marker, child.spans, "body"
                        first = False
                    else:
                        yield from notes_lines((child,), level + 1, quote)
        elif isinstance(block, Quote):
            yield from notes_lines(block.blocks, level, quote + "> ")
        elif isinstance(block, Code):
            for line in block.text.split("\n"):
                yield level, quote, (Span(line or " "),), "code"
        elif isinstance(block, Table):
            for row in (block.header, *block.rows):
                cells: list[Span] = []
                for index, cell in enumerate(row):
                    if index:
                        cells.append(Span(" | "))
                    cells.extend(cell)
                yield level, quote, tuple(cells), "body"
        elif isinstance(block, NotesBlock):
            yield from notes_lines(block.blocks, level, quote)
