"""Theme chrome on laid-out slides: slide and table styles, footer date, logo, background."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from deckgen.errors import Diagnostics
from deckgen.images import PreparedImage, prepare_image
from deckgen.layout import (
    FillShape,
    PictureShape,
    PlacedParagraph,
    PlacedSlide,
    Shape,
    TableShape,
    TextShape,
)
from deckgen.model import Box, DeckMeta, Image, SlideKind, Span
from deckgen.theme import Theme

EMU_PER_INCH = 914400
EMU_PER_PT = 12700
#: The layout's own decorations, which a company template's design replaces.
TEMPLATE_REPLACES = ("Title band", "Accent bar", "Title rule", "Section bar")
FOOTER_GAP = round(0.15 * EMU_PER_INCH)
#: A generous width per character of the footer date, in em (digits and dashes are ~0.56).
DATE_EM = 0.7


@dataclass(frozen=True)
class ThemePictures:
    """The theme's logo and background picture, inspected (None when not set or unusable)."""

    logo: PreparedImage | None = None
    background: PreparedImage | None = None


def theme_pictures(theme: Theme, diagnostics: Diagnostics) -> ThemePictures:
    """The theme's pictures, read like a note's pictures (problems are warnings)."""
    return ThemePictures(_picture(theme.logo, "logo", diagnostics),
                         _picture(theme.background_image, "background", diagnostics))


def _picture(path: Path | None, alt: str, diagnostics: Diagnostics) -> PreparedImage | None:
    if path is None:
        return None
    prepared = prepare_image(Image(path.name, alt, 0), path, (path.parent,), diagnostics)
    return prepared if prepared.ok else None


def decorate_slides(slides: list[PlacedSlide], theme: Theme, meta: DeckMeta,
                    pictures: ThemePictures) -> list[PlacedSlide]:
    """The slides with the theme's title-slide, section-slide and table styles applied, the footer
    date, logo and background picture added; on a company template, without the layout's
    own title band, bars and rules (the template's design replaces them)."""
    return [_decorated(slide, theme, meta, pictures) for slide in slides]


def _decorated(slide: PlacedSlide, theme: Theme, meta: DeckMeta,
               pictures: ThemePictures) -> PlacedSlide:
    shapes = [_styled(shape, slide.kind, theme) for shape in slide.shapes
              if theme.template is None or shape.name not in TEMPLATE_REPLACES]
    background = slide.background
    if slide.kind is SlideKind.SECTION:
        background = theme.section_fill.lstrip("#")
    footer = [shape for shape in shapes
              if isinstance(shape, TextShape) and shape.name in ("Footer", "Slide number")]
    date = _date(footer, theme, meta) if slide.kind is not SlideKind.TITLE else None
    if date is not None:
        shapes.append(date)
    if pictures.logo is not None:
        left_of = [shape.box.x for shape in footer + ([date] if date else [])
                   if shape.name != "Footer"]
        shapes.append(_logo(pictures.logo, theme, slide.kind, min(left_of, default=None)))
    if pictures.background is not None:
        shapes.insert(0, PictureShape("Background picture",
                                      Box(0, 0, theme.slide_width, theme.slide_height),
                                      pictures.background))
    return replace(slide, shapes=tuple(shapes), background=background)


def _styled(shape: Shape, kind: SlideKind, theme: Theme) -> Shape:
    """A shape in the theme's section-slide or table style."""
    if kind is SlideKind.SECTION and isinstance(shape, TextShape) and shape.is_title:
        return replace(shape, paragraphs=tuple(_coloured(p, theme.section_text)
                                               for p in shape.paragraphs))
    if kind is SlideKind.SECTION and isinstance(shape, FillShape) and \
            shape.name == "Section bar":
        return replace(shape, fill=theme.section_bar.lstrip("#"))
    if kind is SlideKind.TITLE and isinstance(shape, FillShape) and \
            shape.name in ("Accent bar", "Title rule"):
        return replace(shape, fill=theme.title_accent.lstrip("#"))
    if isinstance(shape, TableShape):
        header = tuple(tuple(_coloured(p, theme.table_header_text) for p in cell)
                       for cell in shape.cells[0]) if shape.cells else ()
        return replace(shape, header_fill=theme.table_header_fill.lstrip("#"),
                       band_fill=theme.table_band_fill.lstrip("#"),
                       border=theme.table_border.lstrip("#"),
                       cells=(header, *shape.cells[1:]) if shape.cells else ())
    return shape


def _coloured(paragraph: PlacedParagraph, colour: str) -> PlacedParagraph:
    return replace(paragraph, color=colour.lstrip("#").upper())


def _date(footer: list[TextShape], theme: Theme, meta: DeckMeta) -> TextShape | None:
    """The deck's date in the footer band, right-aligned left of the slide number."""
    if not (theme.footer_date and meta.date and footer):
        return None
    size = theme.sizes.footer
    band = footer[0].box
    width = round(max(1.0 * EMU_PER_INCH, len(meta.date) * size * DATE_EM * EMU_PER_PT))
    number = next((shape for shape in footer if shape.name == "Slide number"), None)
    right = (number.box.x - FOOTER_GAP if number is not None
             else theme.slide_width - theme.grid.margin_right)
    title = next((shape for shape in footer if shape.name == "Footer"), None)
    if title is not None and right - width < title.box.right + FOOTER_GAP:
        return None
    paragraph = PlacedParagraph((Span(meta.date),), size, theme.color("muted"), align="right",
                                line_spacing=size * theme.sizes.line_spacing)
    return TextShape("Footer date", Box(right - width, band.y, width, band.h), (paragraph,),
                     insets=(0, 0, 0, 0))


def _logo(logo: PreparedImage, theme: Theme, kind: SlideKind,
          left_of: int | None) -> PictureShape:
    """The logo at the bottom right: in the footer band left of the date and number, or in
    the bottom margin when the footer is hidden (and on the title slide)."""
    grid = theme.grid
    bottom = theme.slide_height - grid.margin_bottom
    if kind is SlideKind.TITLE or grid.footer_height <= 0:
        room = max(grid.margin_bottom - round(0.05 * EMU_PER_INCH), round(0.1 * EMU_PER_INCH))
        height = min(theme.logo_height, room) if kind is not SlideKind.TITLE \
            else theme.logo_height
        bottom = theme.slide_height - (grid.margin_bottom - height) // 2 \
            if kind is not SlideKind.TITLE else bottom
    else:
        height = min(theme.logo_height, grid.footer_height)
    width = round(height * logo.aspect)
    right = (left_of - FOOTER_GAP if left_of is not None
             else theme.slide_width - grid.margin_right)
    return PictureShape("Logo", Box(right - width, bottom - height, width, height), logo)
