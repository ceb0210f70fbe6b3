"""Placed slides to a .pptx with python-pptx: native text, shapes, tables, pictures, notes."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from lxml import etree
from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.enum.dml import MSO_LINE
from pptx.enum.shapes import MSO_CONNECTOR, MSO_SHAPE
from pptx.enum.text import MSO_ANCHOR, MSO_AUTO_SIZE, PP_ALIGN
from pptx.oxml.ns import qn
from pptx.util import Emu, Pt

from deckgen.layout import (
    FillShape,
    LineShape,
    PictureShape,
    PlacedParagraph,
    PlacedSlide,
    TableShape,
    TextShape,
)
from deckgen.model import (
    Block,
    Code,
    DeckMeta,
    Heading,
    Inline,
    ListBlock,
    Notes,
    NotesBlock,
    Paragraph,
    Quote,
    Span,
    Table,
)
from deckgen.theme import Theme

TITLE_ONLY_LAYOUT = 5
BLANK_LAYOUT = 6
THEME_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.theme+xml"
#: Media already compressed; deflating them again only costs time.
STORED_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif")
ALIGN = {"left": PP_ALIGN.LEFT, "center": PP_ALIGN.CENTER, "right": PP_ALIGN.RIGHT}
ANCHOR = {"top": MSO_ANCHOR.TOP, "middle": MSO_ANCHOR.MIDDLE, "bottom": MSO_ANCHOR.BOTTOM}
GEOMETRY = {"rect": MSO_SHAPE.RECTANGLE, "ellipse": MSO_SHAPE.OVAL,
            "roundRect": MSO_SHAPE.ROUNDED_RECTANGLE}


def render_deck(slides: Iterable[PlacedSlide], theme: Theme, meta: DeckMeta,
                timestamp: datetime) -> bytes:
    """The bytes of a .pptx for placed slides; the same input gives the same bytes."""
    prs = Presentation()
    prs.slide_width = Emu(theme.slide_width)
    prs.slide_height = Emu(theme.slide_height)
    _apply_theme_fonts(prs, theme)
    painter = _Painter(theme)
    for placed in slides:
        painter.slide(prs, placed)
    _set_core_properties(prs, meta, timestamp)
    buffer = io.BytesIO()
    prs.save(buffer)
    return reproducible_zip(buffer.getvalue(), timestamp)


def reproducible_zip(data: bytes, timestamp: datetime) -> bytes:
    """The zip with fixed entry times and attributes, already-compressed media stored."""
    date_time = (max(timestamp.year, 1980), timestamp.month, timestamp.day, timestamp.hour,
                 timestamp.minute, timestamp.second)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, \
            zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=date_time)
            entry.external_attr = 0o644 << 16
            entry.create_system = 0
            entry.compress_type = (zipfile.ZIP_STORED
                                   if info.filename.lower().endswith(STORED_SUFFIXES)
                                   else zipfile.ZIP_DEFLATED)
            target.writestr(entry, source.read(info.filename), compresslevel=6)
    return out.getvalue()


def _apply_theme_fonts(prs: Any, theme: Theme) -> None:
    """Name the theme's Latin and East Asian faces in every theme part's font scheme, so
    that text without explicit fonts and any new text a presenter types use them."""
    heading, body = theme.fonts["heading"], theme.fonts["body"]
    for part in prs.part.package.iter_parts():
        if part.content_type != THEME_CONTENT_TYPE:
            continue
        root = etree.fromstring(part.blob)
        for tag, face in (("a:majorFont", heading), ("a:minorFont", body)):
            for font in root.iter(qn(tag)):
                for slot, typeface in (("a:latin", face.latin), ("a:ea", face.east_asian)):
                    element = font.find(qn(slot))
                    if element is None:
                        element = etree.SubElement(font, qn(slot))
                    element.set("typeface", typeface)
                for script in font.findall(qn("a:font")):
                    if script.get("script") == "Hang":
                        script.set("typeface", face.east_asian)
        colours = root.find(f".//{qn('a:clrScheme')}")
        if colours is not None:
            for slot, name in (("a:accent1", "accent"), ("a:accent2", "secondary"),
                               ("a:hlink", "link"), ("a:dk2", "accent_dark")):
                element = colours.find(qn(slot))
                if element is not None:
                    for child in list(element):
                        element.remove(child)
                    etree.SubElement(element, qn("a:srgbClr"), val=theme.color(name))
        part._blob = etree.tostring(root, xml_declaration=True, encoding="UTF-8",
                                    standalone=True)


def _set_core_properties(prs: Any, meta: DeckMeta, timestamp: datetime) -> None:
    core = prs.core_properties
    core.title = meta.title
    core.author = meta.author
    core.subject = meta.subject
    core.keywords = meta.keywords
    core.last_modified_by = meta.author or "deckgen"
    core.comments = "Built with deckgen"
    core.revision = 1
    core.created = timestamp.replace(tzinfo=None)
    core.modified = timestamp.replace(tzinfo=None)
    core.last_printed = timestamp.replace(tzinfo=None)


def _rgb(hex_colour: str) -> RGBColor:
    """A python-pptx colour from "RRGGBB"."""
    return RGBColor(*bytes.fromhex(hex_colour.lstrip("#")))  # type: ignore[no-untyped-call]


class _Painter:
    """Draws placed shapes on python-pptx slides."""

    def __init__(self, theme: Theme) -> None:
        self.theme = theme

    def slide(self, prs: Any, placed: PlacedSlide) -> None:
        has_title = any(isinstance(s, TextShape) and s.is_title for s in placed.shapes)
        layout = prs.slide_layouts[TITLE_ONLY_LAYOUT if has_title else BLANK_LAYOUT]
        slide = prs.slides.add_slide(layout)
        fill = slide.background.fill
        fill.solid()
        fill.fore_color.rgb = _rgb(placed.background)
        elements = []
        for shape in placed.shapes:
            if isinstance(shape, TextShape):
                drawn = self.text_shape(slide, shape)
            elif isinstance(shape, PictureShape):
                drawn = self.picture(slide, shape)
            elif isinstance(shape, FillShape):
                drawn = self.fill_shape(slide, shape)
            elif isinstance(shape, LineShape):
                drawn = self.line(slide, shape)
            else:
                drawn = self.table(slide, shape)
            elements.append(drawn._element)
        tree = slide.shapes._spTree
        for element in elements:
            tree.remove(element)
            tree.append(element)
        self.notes(slide, placed.notes)

    # --- shapes --------------------------------------------------------------------------

    def text_shape(self, slide: Any, shape: TextShape) -> Any:
        box = shape.box
        if shape.is_title and slide.shapes.title is not None:
            drawn = slide.shapes.title
            drawn.left, drawn.top, drawn.width, drawn.height = (Emu(box.x), Emu(box.y),
                                                                Emu(box.w), Emu(box.h))
        elif shape.fill is not None or shape.border is not None:
            drawn = slide.shapes.add_shape(GEOMETRY[shape.geometry], Emu(box.x), Emu(box.y),
                                           Emu(box.w), Emu(box.h))
            self._plain_style(drawn, shape.fill, shape.border, shape.dashed)
        else:
            drawn = slide.shapes.add_textbox(Emu(box.x), Emu(box.y), Emu(box.w), Emu(box.h))
        drawn.name = shape.name
        frame = drawn.text_frame
        frame.word_wrap = True
        frame.auto_size = MSO_AUTO_SIZE.NONE
        left, top, right, bottom = shape.insets
        frame.margin_left, frame.margin_top = Emu(left), Emu(top)
        frame.margin_right, frame.margin_bottom = Emu(right), Emu(bottom)
        frame.vertical_anchor = ANCHOR[shape.anchor]
        self.paragraphs(frame, shape.paragraphs)
        if shape.link:
            drawn.click_action.hyperlink.address = shape.link
        return drawn

    def _plain_style(self, drawn: Any, fill: str | None, border: str | None,
                     dashed: bool = False) -> None:
        """A shape coloured only by us: no theme style (shadows, default colours)."""
        style = drawn._element.find(qn("p:style"))
        if style is not None:
            drawn._element.remove(style)
        if fill is None:
            drawn.fill.background()
        else:
            drawn.fill.solid()
            drawn.fill.fore_color.rgb = _rgb(fill)
        if border is None:
            drawn.line.fill.background()
        else:
            drawn.line.color.rgb = _rgb(border)
            drawn.line.width = Pt(1.25)
            if dashed:
                drawn.line.dash_style = MSO_LINE.DASH

    def fill_shape(self, slide: Any, shape: FillShape) -> Any:
        box = shape.box
        drawn = slide.shapes.add_shape(GEOMETRY[shape.geometry], Emu(box.x), Emu(box.y),
                                       Emu(box.w), Emu(box.h))
        drawn.name = shape.name
        self._plain_style(drawn, shape.fill, shape.border)
        if shape.border is not None:
            drawn.line.width = Pt(3)
        return drawn

    def line(self, slide: Any, shape: LineShape) -> Any:
        drawn = slide.shapes.add_connector(MSO_CONNECTOR.STRAIGHT, Emu(shape.x1), Emu(shape.y1),
                                           Emu(shape.x2), Emu(shape.y2))
        drawn.name = shape.name
        style = drawn._element.find(qn("p:style"))
        if style is not None:
            drawn._element.remove(style)
        drawn.line.color.rgb = _rgb(shape.color)
        drawn.line.width = Pt(shape.width_pt)
        if shape.arrow:
            ln = drawn.line._get_or_add_ln()
            etree.SubElement(ln, qn("a:tailEnd"), type="triangle", w="med", len="med")
        return drawn

    def picture(self, slide: Any, shape: PictureShape) -> Any:
        box = shape.box
        drawn = slide.shapes.add_picture(io.BytesIO(shape.image.data), Emu(box.x), Emu(box.y),
                                         Emu(box.w), Emu(box.h))
        drawn.name = shape.name
        drawn._element.nvPicPr.cNvPr.set("descr", shape.image.description)
        return drawn

    def table(self, slide: Any, shape: TableShape) -> Any:
        box = shape.box
        rows, columns = len(shape.rows), len(shape.columns)
        frame = slide.shapes.add_table(rows, columns, Emu(box.x), Emu(box.y), Emu(box.w),
                                       Emu(box.h))
        frame.name = shape.name
        table = frame.table
        table.first_row = True
        table.horz_banding = False
        for index, width in enumerate(shape.columns):
            table.columns[index].width = Emu(width)
        for index, height in enumerate(shape.rows):
            table.rows[index].height = Emu(height)
        for row_index, row in enumerate(shape.cells):
            for column_index, paragraphs in enumerate(row):
                cell = table.cell(row_index, column_index)
                cell.fill.solid()
                fill = shape.header_fill if row_index == 0 else (
                    shape.band_fill if row_index % 2 == 0 else self.theme.color("background"))
                cell.fill.fore_color.rgb = _rgb(fill)
                for side in ("margin_left", "margin_right", "margin_top", "margin_bottom"):
                    setattr(cell, side, Emu(shape.cell_insets))
                cell.vertical_anchor = MSO_ANCHOR.TOP
                cell.text_frame.word_wrap = True
                self.paragraphs(cell.text_frame, paragraphs)
        return frame

    # --- text ----------------------------------------------------------------------------

    def paragraphs(self, frame: Any, paragraphs: Iterable[PlacedParagraph]) -> None:
        first = True
        for placed in paragraphs:
            paragraph = frame.paragraphs[0] if first else frame.add_paragraph()
            first = False
            self.paragraph(paragraph, placed)

    def paragraph(self, paragraph: Any, placed: PlacedParagraph) -> None:
        paragraph.alignment = ALIGN.get(placed.align, PP_ALIGN.LEFT)
        p_pr = paragraph._p.get_or_add_pPr()
        p_pr.set("hangingPunct", "0")
        p_pr.set("marL", str(placed.margin_left))
        p_pr.set("indent", str(-placed.hanging))
        if placed.line_spacing:
            paragraph.line_spacing = Pt(placed.line_spacing)
        paragraph.space_before = Pt(placed.space_before)
        self._bullet(p_pr, placed)
        for span in placed.spans:
            for index, piece in enumerate(span.text.split("\n")):
                if index:
                    paragraph.add_line_break()
                if piece:
                    self.run(paragraph, span, piece, placed)
        end = paragraph._p.get_or_add_endParaRPr()
        end.set("sz", str(round(placed.size * 100)))
        end.set("lang", self.theme.lang)

    def _bullet(self, p_pr: Any, placed: PlacedParagraph) -> None:
        for tag in ("a:buClr", "a:buSzPct", "a:buFont", "a:buNone", "a:buChar", "a:buAutoNum"):
            for old in p_pr.findall(qn(tag)):
                p_pr.remove(old)
        insert_at = len([c for c in p_pr if c.tag in (qn("a:lnSpc"), qn("a:spcBef"),
                                                       qn("a:spcAft"))])
        if not placed.marker:
            p_pr.insert(insert_at, etree.Element(qn("a:buNone")))
            return
        colour = etree.Element(qn("a:buClr"))
        etree.SubElement(colour, qn("a:srgbClr"), val=self.theme.color("accent"))
        font = etree.Element(qn("a:buFont"), typeface=self.theme.fonts["body"].latin)
        if placed.marker[:-1].isdigit() and placed.marker.endswith("."):
            bullet = etree.Element(qn("a:buAutoNum"), type="arabicPeriod",
                                   startAt=placed.marker[:-1])
        else:
            bullet = etree.Element(qn("a:buChar"), char=placed.marker)
        for offset, element in enumerate((colour, font, bullet)):
            p_pr.insert(insert_at + offset, element)

    def run(self, paragraph: Any, span: Span, text: str, placed: PlacedParagraph) -> None:
        """A run with size, weight, colour, both typefaces and language."""
        theme = self.theme
        run = paragraph.add_run()
        run.text = text
        r_pr = run._r.get_or_add_rPr()
        role = placed.role
        bold = placed.bold or span.bold
        colour = placed.color
        if span.code and role != "code":
            if theme.inline_code_monospace:
                role = "code"
            colour = theme.inline_code_color.lstrip("#").upper()
            bold = bold or theme.inline_code_bold
        if span.link:
            colour = theme.color("link")
        face = theme.fonts[role]
        r_pr.set("lang", theme.lang)
        r_pr.set("altLang", "en-US")
        r_pr.set("sz", str(round(placed.size * 100)))
        r_pr.set("b", "1" if bold else "0")
        r_pr.set("i", "1" if (placed.italic or span.italic) else "0")
        if span.strike:
            r_pr.set("strike", "sngStrike")
        if span.link:
            r_pr.set("u", "sng")
        fill = etree.SubElement(r_pr, qn("a:solidFill"))
        etree.SubElement(fill, qn("a:srgbClr"), val=colour)
        etree.SubElement(r_pr, qn("a:latin"), typeface=face.latin)
        etree.SubElement(r_pr, qn("a:ea"), typeface=face.east_asian)
        etree.SubElement(r_pr, qn("a:cs"), typeface=face.latin)
        if span.link:
            run.hyperlink.address = span.link

    # --- notes ---------------------------------------------------------------------------

    def notes(self, slide: Any, notes: Notes) -> None:
        if not notes:
            return
        frame = slide.notes_slide.notes_text_frame
        lines = list(notes_lines(notes.blocks))
        for index, (level, prefix, spans, role) in enumerate(lines):
            paragraph = frame.paragraphs[0] if index == 0 else frame.add_paragraph()
            paragraph.level = min(level, 8)
            size = 12.0
            placed = PlacedParagraph(spans, size, self.theme.color("text"), role)
            if prefix:
                self.run(paragraph, Span(prefix), prefix, placed)
            for span in spans:
                for piece_index, piece in enumerate(span.text.split("\n")):
                    if piece_index:
                        paragraph.add_line_break()
                    if piece:
                        self.run(paragraph, span, piece, placed)
                if span.link and span.link != span.text:
                    self.run(paragraph, Span(""), f" ({span.link})", placed)


NotesLine = tuple[int, str, Inline, str]


def notes_lines(blocks: Iterable[Block], level: int = 0,
                quote: str = "") -> Iterable[NotesLine]:
    """Speaker-notes paragraphs of blocks: (level, prefix, spans, font role); lists stay
    lists with their markers, quotes keep a "> " mark, code keeps its lines."""
    for block in blocks:
        if isinstance(block, Paragraph):
            yield level, quote, block.spans, "body"
        elif isinstance(block, Heading):
            yield level, quote, tuple(Span(s.text, True, s.italic, s.strike, s.code, s.link)
                                      for s in block.spans), "body"
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
