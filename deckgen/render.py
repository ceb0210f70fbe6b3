"""Placed slides to a .pptx with python-pptx: native text, shapes, tables, pictures, notes."""

from __future__ import annotations

import io
import itertools
import math
import zipfile
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from lxml import etree
from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.enum.dml import MSO_LINE
from pptx.enum.shapes import MSO_CONNECTOR, MSO_SHAPE, PP_PLACEHOLDER
from pptx.enum.text import MSO_ANCHOR, MSO_AUTO_SIZE, PP_ALIGN
from pptx.opc.packuri import PackURI
from pptx.oxml.ns import qn
from pptx.util import Emu, Pt

from deckgen.errors import DeckgenError
from deckgen.layout import (
    EMU_PER_PT,
    TEXT_INSET,
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
    SlideKind,
    Span,
    Table,
)
from deckgen.template import Rect, fit_scale
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
    prs = _presentation(theme)
    _name_parts_incrementally(prs.part.package)
    _apply_theme_fonts(prs, theme)
    painter = _Painter(theme)
    for placed in slides:
        painter.slide(prs, placed)
    _set_core_properties(prs, meta, timestamp)
    buffer = io.BytesIO()
    prs.save(buffer)
    return reproducible_zip(buffer.getvalue(), timestamp)


def _name_parts_incrementally(package: Any) -> None:
    """python-pptx names each new part (notes page, picture) by walking every part of the
    package, which makes adding slides quadratic: a 2,000-slide deck spent minutes there.
    Walk once per name template instead, then hand out the free numbers in turn."""
    taken: dict[str, set[int]] = {}

    def free_number(prefix: str) -> int:
        if prefix not in taken:
            taken[prefix] = {part.partname.idx for part in package.iter_parts()
                             if part.partname.startswith(prefix)
                             and part.partname.idx is not None}
        numbers = taken[prefix]
        number = max(numbers, default=0) + 1
        numbers.add(number)
        return number

    def next_partname(template: str) -> PackURI:
        prefix = template[: (template % 42).find("42")]
        return PackURI(template % free_number(prefix))

    def next_image_partname(extension: str) -> PackURI:
        return PackURI(f"/ppt/media/image{free_number('/ppt/media/image')}.{extension}")

    package.next_partname = next_partname
    package.next_image_partname = next_image_partname


def _presentation(theme: Theme) -> Any:
    """An empty presentation: python-pptx's own at the theme's slide size, or the company
    template's masters and layouts without its sample slides (the size is the template's)."""
    template = theme.template
    if template is None:
        prs = Presentation()
        prs.slide_width = Emu(theme.slide_width)
        prs.slide_height = Emu(theme.slide_height)
        return prs
    try:
        prs = Presentation(io.BytesIO(template.data))
    except Exception as exc:  # python-pptx raises many kinds on a damaged package
        raise DeckgenError(f"template cannot be opened as a presentation ({exc})",
                           template.path) from exc
    _remove_slides(prs)
    return prs


def _remove_slides(prs: Any) -> None:
    """Remove a template's own slides cleanly: their ids, the relationships to them and
    (as nothing refers to them any more) their parts; sections and custom shows that list
    them go too, so PowerPoint has nothing to repair."""
    presentation = prs.part
    dropped = set()
    for slide_id in list(prs.slides._sldIdLst):
        dropped.add(presentation.related_part(slide_id.rId))
        prs.slides._sldIdLst.remove(slide_id)
        presentation.drop_rel(slide_id.rId)
    root = presentation._element
    for element in root.findall(qn("p:custShowLst")):
        root.remove(element)
    for ext in root.findall(f"{qn('p:extLst')}/{qn('p:ext')}"):
        if any(child.tag.endswith("}sectionLst") for child in ext):
            ext.getparent().remove(ext)
    for part in list(presentation.package.iter_parts()):
        if part in dropped:
            continue
        for rel_id, rel in list(part.rels.items()):
            if rel.is_external or rel.target_part not in dropped:
                continue
            element = getattr(part, "_element", None)
            if element is None:
                element = etree.fromstring(part.blob)
                _remove_references(element, rel_id)
                part._blob = etree.tostring(element, xml_declaration=True, encoding="UTF-8",
                                            standalone=True)
            else:
                _remove_references(element, rel_id)
            part.rels.pop(rel_id)


def _remove_references(element: Any, rel_id: str) -> None:
    """Remove the elements that refer to a relationship by its id."""
    for referring in element.xpath(f"//*[@r:id='{rel_id}']",
                                   namespaces={"r": qn("r:id")[1:].split("}")[0]}):
        referring.getparent().remove(referring)


def _cell_borders(cell: Any, colour: str) -> None:
    """Thin borders of one colour on every side of a table cell (instead of the white
    lines of python-pptx's default table style, which show on a dark slide)."""
    properties = cell._tc.get_or_add_tcPr()
    for index, tag in enumerate(("a:lnL", "a:lnR", "a:lnT", "a:lnB")):
        for old in properties.findall(qn(tag)):
            properties.remove(old)
        line = etree.Element(qn(tag), w=str(EMU_PER_PT), cap="flat", cmpd="sng", algn="ctr")
        fill = etree.SubElement(line, qn("a:solidFill"))
        etree.SubElement(fill, qn("a:srgbClr"), val=colour.lstrip("#").upper())
        properties.insert(index, line)


def _subtitle_placeholder(slide: Any) -> Any:
    """The slide's subtitle placeholder, else its body placeholder with index 1."""
    placeholders = list(slide.placeholders)
    for placeholder in placeholders:
        if placeholder.placeholder_format.type == PP_PLACEHOLDER.SUBTITLE:
            return placeholder
    for placeholder in placeholders:
        if placeholder.placeholder_format.idx == 1 and placeholder.placeholder_format.type in (
                PP_PLACEHOLDER.BODY, PP_PLACEHOLDER.OBJECT):
            return placeholder
    return None


def _remove_empty_placeholders(slide: Any) -> None:
    """Placeholders of the layout that nothing was put in (they would show prompts such as
    "Click to add text" while editing)."""
    for placeholder in list(slide.placeholders):
        if not (placeholder.has_text_frame and placeholder.text_frame.text.strip()):
            element = placeholder._element
            element.getparent().remove(element)


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
        if colours is not None and theme.template is None:
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
        slide = prs.slides.add_slide(self.layout(prs, placed.kind, has_title))
        if self.theme.template is None:
            fill = slide.background.fill
            fill.solid()
            fill.fore_color.rgb = _rgb(placed.background)
        in_placeholders = self.template_placeholders(slide, placed)
        elements = []
        for shape in placed.shapes:
            if shape.name in in_placeholders:
                drawn = in_placeholders[shape.name]
                if drawn is None:
                    continue
            elif isinstance(shape, TextShape):
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
        _remove_empty_placeholders(slide)
        self.notes(slide, placed.notes)

    def layout(self, prs: Any, kind: SlideKind, has_title: bool) -> Any:
        """The slide layout: python-pptx's Title Only or Blank, or the company template's
        layout for the slide's role."""
        template = self.theme.template
        if template is None:
            return prs.slide_layouts[TITLE_ONLY_LAYOUT if has_title else BLANK_LAYOUT]
        role = ("blank" if not has_title else "title" if kind is SlideKind.TITLE
                else "section" if kind is SlideKind.SECTION else "title_only")
        chosen = template.layout(role)
        return prs.slide_masters[chosen.master].slide_layouts[chosen.index]

    def template_placeholders(self, slide: Any, placed: PlacedSlide) -> dict[str, Any]:
        """On a company template's title or section slide, the title (and the subtitle and
        byline) drawn in the layout's placeholders: shape name -> the placeholder that
        shows it (None for text merged into a placeholder already listed)."""
        if self.theme.template is None or placed.kind not in (SlideKind.TITLE,
                                                              SlideKind.SECTION):
            return {}
        texts = [shape for shape in placed.shapes if isinstance(shape, TextShape)]
        title = next((shape for shape in texts if shape.is_title), None)
        drawn: dict[str, Any] = {}
        if title is not None and slide.shapes.title is not None:
            self.fill_placeholder(slide.shapes.title, [title])
            drawn[title.name] = slide.shapes.title
        rest = [shape for shape in texts if not shape.is_title]
        subtitle = _subtitle_placeholder(slide)
        if placed.kind is SlideKind.TITLE and rest and subtitle is not None:
            self.fill_placeholder(subtitle, rest)
            drawn.update({shape.name: None for shape in rest})
            drawn[rest[0].name] = subtitle
        return drawn

    def fill_placeholder(self, placeholder: Any, shapes: list[TextShape]) -> None:
        """The text laid out for `shapes` (stacked top to bottom) in one template
        placeholder at the placeholder's own box: every size scaled by the factor that
        makes the measured lines fit it; colour, alignment and anchoring the template's."""
        box = (placeholder.left, placeholder.top, placeholder.width, placeholder.height)
        gaps = [max(after.box.y - before.box.bottom, 0)
                for before, after in itertools.pairwise(shapes)]
        inner_width = max(s.box.w - s.insets[0] - s.insets[2] for s in shapes)
        inner_height = sum(s.box.h - s.insets[1] - s.insets[3] for s in shapes) + sum(gaps)
        if None in box:
            first = shapes[0].box
            placeholder.left, placeholder.top = Emu(first.x), Emu(first.y)
            placeholder.width = Emu(first.w)
            placeholder.height = Emu(inner_height + 2 * TEXT_INSET)
            scale = 1.0
        else:
            scale = fit_scale(inner_width, inner_height, Rect(*(int(v) for v in box)),
                              TEXT_INSET)
        paragraphs = []
        for index, shape in enumerate(shapes):
            for number, placed in enumerate(shape.paragraphs):
                size = math.floor(placed.size * scale * 10) / 10
                ratio = size / placed.size
                gap = gaps[index - 1] / EMU_PER_PT if index and not number else 0.0
                paragraphs.append(replace(placed, size=size, color="", align="",
                                          line_spacing=placed.line_spacing * ratio,
                                          space_before=(placed.space_before + gap) * ratio))
        frame = placeholder.text_frame
        frame.word_wrap = True
        frame.auto_size = MSO_AUTO_SIZE.NONE
        frame.margin_left = frame.margin_right = Emu(TEXT_INSET)
        frame.margin_top = frame.margin_bottom = Emu(TEXT_INSET)
        self.paragraphs(frame, paragraphs)

    # --- shapes --------------------------------------------------------------------------

    def text_shape(self, slide: Any, shape: TextShape) -> Any:
        box = shape.box
        in_template = False
        if shape.is_title and slide.shapes.title is not None:
            drawn = slide.shapes.title
            drawn.left, drawn.top, drawn.width, drawn.height = (Emu(box.x), Emu(box.y),
                                                                Emu(box.w), Emu(box.h))
            if self.theme.template is not None:  # the template's title colour and alignment
                in_template = True
                shape = replace(shape, paragraphs=tuple(
                    replace(paragraph, color="", align="") for paragraph in shape.paragraphs))
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
        if not in_template:
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
                _cell_borders(cell, shape.border)
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
        if placed.align:  # "" keeps a template placeholder's alignment
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
        if colour:  # "" keeps a template placeholder's colour
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
