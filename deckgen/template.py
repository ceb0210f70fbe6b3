"""Company templates: read a .pptx/.potx's slide size, layouts, placeholders, fonts and colours."""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from deckgen.errors import DeckgenError, Diagnostics
from deckgen.model import Box

EMU_PER_INCH = 914400
NS = {
    "a": "http://schemas.openxmlformats.org/drawingml/2006/main",
    "p": "http://schemas.openxmlformats.org/presentationml/2006/main",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "rel": "http://schemas.openxmlformats.org/package/2006/relationships",
    "ct": "http://schemas.openxmlformats.org/package/2006/content-types",
}
R_ID = f"{{{NS['r']}}}id"
PRESENTATION_MAIN = ("application/vnd.openxmlformats-officedocument.presentationml."
                     "presentation.main+xml")
#: Main content types python-pptx refuses but that hold the same presentation: a template
#: (.potx) and a slide show (.ppsx). They are opened as a presentation in memory.
CONVERTIBLE_MAIN = (
    "application/vnd.openxmlformats-officedocument.presentationml.template.main+xml",
    "application/vnd.openxmlformats-officedocument.presentationml.slideshow.main+xml",
)
OFFICE_DOCUMENT = ("http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
                   "officeDocument")
THEME_RELATIONSHIP = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/theme"

#: What deckgen uses each layout for, and the names it is found by (matched without regard
#: to case or spacing): English, Korean and Japanese Office names, then the layout's type.
LAYOUT_ROLES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "title": ("the title slide", ("Title Slide", "제목 슬라이드", "タイトル スライド"), "title"),
    "content": ("the content area (title and body boxes)",
                ("Title and Content", "제목 및 내용", "タイトルとコンテンツ"), "obj"),
    "section": ("section slides", ("Section Header", "구역 머리글", "セクション見出し"),
                "secHead"),
    "two_content": ("two-column slides", ("Two Content", "콘텐츠 2개", "2 つのコンテンツ"),
                    "twoObj"),
    "title_only": ("content slides", ("Title Only", "제목만", "タイトルのみ"), "titleOnly"),
    "blank": ("slides without a title", ("Blank", "빈 화면", "白紙"), "blank"),
}
#: Where each role falls back to when the template lacks its layout.
LAYOUT_FALLBACKS: dict[str, tuple[str, ...]] = {
    "title": ("title_only", "content", "blank"),
    "content": ("title_only", "two_content"),
    "section": ("title_only", "content", "blank"),
    "two_content": ("content", "title_only"),
    "title_only": ("content", "two_content", "blank"),
    "blank": ("title_only", "content"),
}
TITLE_TYPES = ("title", "ctrTitle")
FOOTER_TYPES = ("dt", "ftr", "sldNum")
#: The room the layout keeps between the title band and the body: the 0.04 in gap and
#: 0.05 in accent rule under the title, then 0.2 in before the body (layout.py).
TITLE_TO_BODY = round(0.29 * EMU_PER_INCH)
#: The room the layout keeps between the body and the footer band (layout.py).
BODY_TO_FOOTER = round(0.12 * EMU_PER_INCH)
SCHEME_SLOTS = ("dk1", "lt1", "dk2", "lt2", "accent1", "accent2", "accent3", "accent4",
                "accent5", "accent6", "hlink", "folHlink")


@dataclass(frozen=True)
class Placeholder:
    """A placeholder of a layout: its type (`title`, `body`, `obj`, `dt`, ...), index and
    box (its own, or the one it inherits from the master)."""

    kind: str
    idx: int
    box: Box


@dataclass(frozen=True)
class TemplateLayout:
    """A slide layout of the template: where it is, its name and type, its placeholders."""

    master: int
    index: int
    name: str
    kind: str
    placeholders: tuple[Placeholder, ...]

    def placeholder(self, *kinds: str) -> Placeholder | None:
        """The first placeholder of one of these types."""
        return next((ph for ph in self.placeholders if ph.kind in kinds), None)

    @property
    def title(self) -> Placeholder | None:
        """The title placeholder."""
        return self.placeholder(*TITLE_TYPES)

    @property
    def body(self) -> Placeholder | None:
        """The main content placeholder: index 1, else the first that is not a title or a
        footer."""
        others = [ph for ph in self.placeholders
                  if ph.kind not in (*TITLE_TYPES, *FOOTER_TYPES)]
        return next((ph for ph in others if ph.idx == 1), others[0] if others else None)


@dataclass(frozen=True)
class SchemeFont:
    """A font of the template's font scheme: the Latin and East Asian (Hangul) faces; an
    empty name when the scheme leaves it to the application."""

    latin: str
    east_asian: str


@dataclass(frozen=True)
class Template:
    """A company template as read: its bytes (opened as a presentation), slide size,
    layouts, theme fonts and colours (the scheme as its master maps it)."""

    path: Path
    data: bytes
    slide_width: int
    slide_height: int
    layouts: tuple[TemplateLayout, ...]
    heading_font: SchemeFont
    body_font: SchemeFont
    colours: dict[str, str]
    sample_slides: int
    chosen: dict[str, TemplateLayout]

    def layout(self, role: str) -> TemplateLayout:
        """The layout used for a role ("title", "content", "section", "title_only",
        "blank", "two_content")."""
        return self.chosen[role]


def read_template(path: Path, overrides: dict[str, str] | None = None,
                  diagnostics: Diagnostics | None = None) -> Template:
    """Read a .pptx or .potx; a missing or damaged file is a DeckgenError naming it. Layouts
    are chosen for each role (by `overrides` names first); a missing one falls back with a
    warning naming what was missing."""
    data = _read_bytes(path)
    reader = _Package(path, data)
    presentation_part, converted = reader.main_part()
    presentation = reader.xml(presentation_part)
    size = presentation.find("p:sldSz", NS)
    if size is None:
        raise DeckgenError("not a valid presentation: ppt/presentation.xml has no slide size",
                           path)
    slide_width, slide_height = int(size.get("cx", "0")), int(size.get("cy", "0"))
    if slide_width <= 0 or slide_height <= 0:
        raise DeckgenError("not a valid presentation: its slide size is not positive", path)
    rels = reader.rels(presentation_part)
    masters = [rels.get(element.get(R_ID, ""), "")
               for element in presentation.iterfind("p:sldMasterIdLst/p:sldMasterId", NS)]
    if not masters or not all(masters):
        raise DeckgenError("not a valid presentation: it has no slide master", path)
    layouts: list[TemplateLayout] = []
    master_colours: list[dict[str, str]] = []
    master_fonts: list[tuple[SchemeFont, SchemeFont]] = []
    for master_index, master_part in enumerate(masters):
        master = reader.xml(master_part)
        master_rels = reader.rels(master_part)
        master_boxes = _placeholders(master, {})
        base = {_base_kind(ph.kind): ph.box for ph in reversed(master_boxes)}
        layout_parts = [master_rels.get(element.get(R_ID, ""), "") for element in
                        master.iterfind("p:sldLayoutIdLst/p:sldLayoutId", NS)]
        for index, layout_part in enumerate(layout_parts):
            if not layout_part:
                raise DeckgenError(f"not a valid presentation: {master_part} names a missing "
                                   "layout", path)
            layout = reader.xml(layout_part)
            name_element = layout.find("p:cSld", NS)
            name = name_element.get("name", "") if name_element is not None else ""
            layouts.append(TemplateLayout(master_index, index, name,
                                          layout.get("type", "cust"),
                                          tuple(_placeholders(layout, base))))
        theme_part = reader.related(master_part, THEME_RELATIONSHIP)
        theme = reader.xml(theme_part) if theme_part else None
        master_colours.append(_colours(theme, master))
        master_fonts.append(_fonts(theme))
    if not layouts:
        raise DeckgenError("not a valid presentation: its slide master has no layouts", path)
    chosen = choose_layouts(path, layouts, overrides or {}, diagnostics or Diagnostics())
    master_index = chosen["content"].master
    if converted:
        data = reader.as_presentation(presentation_part)
    return Template(path, data, slide_width, slide_height, tuple(layouts),
                    master_fonts[master_index][0], master_fonts[master_index][1],
                    master_colours[master_index],
                    len(presentation.findall("p:sldIdLst/p:sldId", NS)), chosen)


def choose_layouts(path: Path, layouts: list[TemplateLayout], overrides: dict[str, str],
                   diagnostics: Diagnostics) -> dict[str, TemplateLayout]:
    """The layout for each role: the override's name, else a known name, else the layout
    type; a role the template lacks takes its fallback's layout, with a warning."""
    found: dict[str, TemplateLayout] = {}
    for role, (_, names, kind) in LAYOUT_ROLES.items():
        wanted = overrides.get(role)
        if wanted is not None:
            match = _by_name(layouts, (wanted,))
            if match is None:
                diagnostics.warn(f"template has no layout named '{wanted}' (layouts.{role}); "
                                 f"its layouts are: {', '.join(_names(layouts))}", path)
            else:
                found[role] = match
                continue
        match = _by_name(layouts, names) or next(
            (layout for layout in layouts if layout.kind == kind), None)
        if match is not None:
            found[role] = match
    chosen: dict[str, TemplateLayout] = {}
    for role, (use, names, _) in LAYOUT_ROLES.items():
        if role in found:
            chosen[role] = found[role]
            continue
        fallback = next((found[other] for other in LAYOUT_FALLBACKS[role] if other in found),
                        layouts[0])
        chosen[role] = fallback
        if role != "two_content":
            diagnostics.warn(f"template has no '{names[0]}' layout (looked for "
                             f"{', '.join(repr(n) for n in names)} and type '"
                             f"{LAYOUT_ROLES[role][2]}'); {use} use '{fallback.name}' instead",
                             path)
    return chosen


def _names(layouts: list[TemplateLayout]) -> list[str]:
    return [f"'{layout.name}'" for layout in layouts]


def _fold(name: str) -> str:
    return re.sub(r"\s+", "", name).casefold()


def _by_name(layouts: list[TemplateLayout], names: tuple[str, ...]) -> TemplateLayout | None:
    for name in names:
        wanted = _fold(name)
        for layout in layouts:
            if _fold(layout.name) == wanted:
                return layout
    return None


def _base_kind(kind: str) -> str:
    """The master placeholder a layout placeholder of this type inherits its box from."""
    if kind in TITLE_TYPES:
        return "title"
    if kind in FOOTER_TYPES:
        return kind
    return "body"


def _placeholders(part: etree._Element, inherited: dict[str, Box]) -> list[Placeholder]:
    out = []
    for shape in part.iterfind("p:cSld/p:spTree/p:sp", NS):
        ph = shape.find("p:nvSpPr/p:nvPr/p:ph", NS)
        if ph is None:
            continue
        kind = ph.get("type", "obj")
        idx = int(ph.get("idx", "0")) if ph.get("idx", "0").isdigit() else 0
        offset, extent = shape.find("p:spPr/a:xfrm/a:off", NS), shape.find(
            "p:spPr/a:xfrm/a:ext", NS)
        if offset is not None and extent is not None:
            box = Box(int(offset.get("x", "0")), int(offset.get("y", "0")),
                       int(extent.get("cx", "0")), int(extent.get("cy", "0")))
        elif _base_kind(kind) in inherited:
            box = inherited[_base_kind(kind)]
        else:
            continue
        out.append(Placeholder(kind, idx, box))
    return out


def _colour_of(element: etree._Element | None) -> str | None:
    if element is None:
        return None
    srgb = element.find("a:srgbClr", NS)
    if srgb is not None and re.fullmatch(r"[0-9A-Fa-f]{6}", srgb.get("val", "")):
        return "#" + srgb.get("val", "").upper()
    system = element.find("a:sysClr", NS)
    if system is not None and re.fullmatch(r"[0-9A-Fa-f]{6}", system.get("lastClr", "")):
        return "#" + system.get("lastClr", "").upper()
    if system is not None:
        return {"windowText": "#000000", "window": "#FFFFFF"}.get(system.get("val", ""))
    return None


def _colours(theme: etree._Element | None, master: etree._Element) -> dict[str, str]:
    """The colour scheme by role as the master maps it: bg1, tx1, bg2, tx2, accent1-6,
    hlink, folHlink (Office's defaults fill what the template does not give)."""
    scheme = dict(OFFICE_SCHEME)
    found = theme.find("a:themeElements/a:clrScheme", NS) if theme is not None else None
    if found is not None:
        for slot in SCHEME_SLOTS:
            colour = _colour_of(found.find(f"a:{slot}", NS))
            if colour is not None:
                scheme[slot] = colour
    mapping = master.find("p:clrMap", NS)
    roles = {"bg1": "lt1", "tx1": "dk1", "bg2": "lt2", "tx2": "dk2"}
    out = {}
    for role, default in roles.items():
        slot = mapping.get(role, default) if mapping is not None else default
        out[role] = scheme.get(slot, scheme[default])
    for slot in SCHEME_SLOTS[4:]:
        out[slot] = scheme[slot]
    return out


#: Office's own colour scheme, for slots a template leaves out.
OFFICE_SCHEME = {"dk1": "#000000", "lt1": "#FFFFFF", "dk2": "#44546A", "lt2": "#E7E6E6",
                 "accent1": "#4472C4", "accent2": "#ED7D31", "accent3": "#A5A5A5",
                 "accent4": "#FFC000", "accent5": "#5B9BD5", "accent6": "#70AD47",
                 "hlink": "#0563C1", "folHlink": "#954F72"}


def _fonts(theme: etree._Element | None) -> tuple[SchemeFont, SchemeFont]:
    """The heading (major) and body (minor) fonts; the East Asian face is the scheme's
    `ea`, else its Hangul script font."""
    fonts = []
    for tag in ("a:majorFont", "a:minorFont"):
        element = (theme.find(f"a:themeElements/a:fontScheme/{tag}", NS)
                   if theme is not None else None)
        if element is None:
            fonts.append(SchemeFont("", ""))
            continue
        latin = element.find("a:latin", NS)
        east_asian = element.find("a:ea", NS)
        hangul = next((font.get("typeface", "") for font in element.iterfind("a:font", NS)
                       if font.get("script") == "Hang"), "")
        fonts.append(SchemeFont(
            latin.get("typeface", "") if latin is not None else "",
            (east_asian.get("typeface", "") if east_asian is not None else "") or hangul))
    return fonts[0], fonts[1]


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise DeckgenError("template not found (give a .pptx or .potx file)", path)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DeckgenError(f"template cannot be read: {exc.strerror}", path) from exc


class _Package:
    """The parts of an OPC zip package, read with the errors naming the template."""

    def __init__(self, path: Path, data: bytes) -> None:
        self.path = path
        try:
            self.zip = zipfile.ZipFile(io.BytesIO(data))
            self.names = set(self.zip.namelist())
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise DeckgenError("not a valid .pptx or .potx: the file is not a zip package "
                               f"({exc})", path) from exc

    def read(self, name: str) -> bytes:
        if name not in self.names:
            raise DeckgenError(f"not a valid presentation: part {name} is missing", self.path)
        try:
            return self.zip.read(name)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise DeckgenError(f"not a valid presentation: part {name} is damaged ({exc})",
                               self.path) from exc

    def xml(self, name: str) -> etree._Element:
        try:
            return etree.fromstring(self.read(name),
                                    etree.XMLParser(resolve_entities=False, no_network=True))
        except etree.XMLSyntaxError as exc:
            raise DeckgenError(f"not a valid presentation: part {name} is not XML ({exc})",
                               self.path) from exc

    def rels(self, part: str) -> dict[str, str]:
        """The part's internal relationships: id -> target part name."""
        folder, name = posixpath.split(part)
        rels_name = posixpath.join(folder, "_rels", f"{name}.rels")
        if rels_name not in self.names:
            return {}
        out = {}
        for rel in self.xml(rels_name).iterfind("rel:Relationship", NS):
            if rel.get("TargetMode") == "External":
                continue
            out[rel.get("Id", "")] = _resolve(folder, rel.get("Target", ""))
        return out

    def related(self, part: str, relationship: str) -> str | None:
        folder, name = posixpath.split(part)
        rels_name = posixpath.join(folder, "_rels", f"{name}.rels")
        if rels_name not in self.names:
            return None
        for rel in self.xml(rels_name).iterfind("rel:Relationship", NS):
            if rel.get("Type") == relationship and rel.get("TargetMode") != "External":
                return _resolve(folder, rel.get("Target", ""))
        return None

    def main_part(self) -> tuple[str, bool]:
        """The presentation part's name, and whether its content type must be converted
        for python-pptx to open it (a .potx)."""
        main = self.related("", OFFICE_DOCUMENT)
        if main is None:
            raise DeckgenError("not a valid .pptx or .potx: the package names no main "
                               "document", self.path)
        content_type = self._content_type(main)
        if content_type == PRESENTATION_MAIN:
            return main, False
        if content_type in CONVERTIBLE_MAIN:
            return main, True
        raise DeckgenError(f"not a PowerPoint presentation or template: its main part is "
                           f"'{content_type or 'of no known type'}' (save it as .pptx or "
                           ".potx)", self.path)

    def _content_type(self, part: str) -> str:
        types = self.xml("[Content_Types].xml")
        for override in types.iterfind("ct:Override", NS):
            if override.get("PartName", "").lstrip("/") == part:
                return override.get("ContentType", "")
        return ""

    def as_presentation(self, main: str) -> bytes:
        """The package with the main part declared as a presentation (not a template)."""
        types = self.xml("[Content_Types].xml")
        for override in types.iterfind("ct:Override", NS):
            if override.get("PartName", "").lstrip("/") == main:
                override.set("ContentType", PRESENTATION_MAIN)
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
            for info in self.zip.infolist():
                data = (etree.tostring(types, xml_declaration=True, encoding="UTF-8",
                                       standalone=True)
                        if info.filename == "[Content_Types].xml" else self.zip.read(info))
                target.writestr(info, data)
        return out.getvalue()


def _resolve(folder: str, target: str) -> str:
    if target.startswith("/"):
        return posixpath.normpath(target.lstrip("/"))
    return posixpath.normpath(posixpath.join(folder, target))


# --- the look a template gives ------------------------------------------------------------


def template_grid(template: Template, footer_shown: bool, footer_room: int,
                  bottom_margin: int) -> dict[str, int]:
    """The grid (EMU) that keeps the layout's title inside the template's title placeholder
    and its body inside the content placeholder of the "content" layout: margins, title
    band and footer band. `footer_room` is the height the footer text needs."""
    layout = template.layout("content")
    title = layout.title.box if layout.title is not None else None
    body = layout.body.box if layout.body is not None else None
    width, height = template.slide_width, template.slide_height
    if title is None:
        title = Box(round(width * 0.06), round(height * 0.05), round(width * 0.88),
                     round(height * 0.15))
    if body is None:
        top = title.bottom + TITLE_TO_BODY
        body = Box(title.x, top, title.w, max(height - top - round(height * 0.1), 1))
    left = max(title.x, body.x, 0)
    right = min(title.right, body.right, width)
    title_height = min(title.h, body.y - TITLE_TO_BODY - title.y)
    title_height = max(title_height, round(0.4 * EMU_PER_INCH))
    footer = [ph.box for ph in layout.placeholders if ph.kind in FOOTER_TYPES]
    content_bottom = (max(box.bottom for box in footer) if footer
                      else height - bottom_margin)
    content_bottom = min(content_bottom, height)
    if footer_shown:
        footer_height = content_bottom - BODY_TO_FOOTER - body.bottom
        if footer_height < footer_room:
            footer_height = footer_room + round(0.05 * EMU_PER_INCH)
        footer_height = min(footer_height, round(1.5 * EMU_PER_INCH))
    else:
        footer_height = 0
        content_bottom = min(body.bottom + BODY_TO_FOOTER, height)
    return {"margin_left": left, "margin_right": width - right, "margin_top": title.y,
            "margin_bottom": height - content_bottom, "title_height": title_height,
            "footer_height": footer_height}


def fit_scale(inner_width: int, inner_height: int, target: Box, insets: int) -> float:
    """How much text measured for a box of `inner_width` × `inner_height` (EMU, inside its
    insets) must shrink to fit `target` with `insets` on every side: text scales with its
    size, so the same lines fit when every size is scaled by this factor."""
    width, height = target.w - 2 * insets, target.h - 2 * insets
    if inner_width <= 0 or inner_height <= 0 or width <= 0 or height <= 0:
        return 1.0
    return min(1.0, width / inner_width, height / inner_height)
