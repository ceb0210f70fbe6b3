"""Company templates: read a .pptx/.potx's slide size, layouts, placeholders, fonts and colours."""

from __future__ import annotations

import io
import posixpath
import re
import warnings
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lxml import etree
from PIL import Image

from deckgen.errors import DeckgenError, Diagnostics
from deckgen.images import MAX_PIXELS
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
#: The namespaces of `r:` attributes (relationship ids): transitional and strict.
R_PREFIXES = (f"{{{NS['r']}}}", "{http://purl.oclc.org/ooxml/officeDocument/relationships}")
PRESENTATION_MAIN = ("application/vnd.openxmlformats-officedocument.presentationml."
                     "presentation.main+xml")
#: Main content types python-pptx refuses but that hold the same presentation: a template
#: (.potx) and a slide show (.ppsx). They are opened as a presentation in memory.
CONVERTIBLE_MAIN = (
    "application/vnd.openxmlformats-officedocument.presentationml.template.main+xml",
    "application/vnd.openxmlformats-officedocument.presentationml.slideshow.main+xml",
    "application/vnd.ms-powerpoint.presentation.macroEnabled.main+xml",
    "application/vnd.ms-powerpoint.template.macroEnabled.main+xml",
    "application/vnd.ms-powerpoint.slideshow.macroEnabled.main+xml",
)
RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
OFFICE_DOCUMENT = f"{RELATIONSHIPS}officeDocument"
THEME_RELATIONSHIP = f"{RELATIONSHIPS}theme"
IMAGE_RELATIONSHIP = f"{RELATIONSHIPS}image"
PRESENTATIONML = "application/vnd.openxmlformats-officedocument.presentationml."
#: The relationships a deck built on a template carries, each with the content types its
#: part must have: the presentation, its masters, layouts and theme(s), the notes and
#: handout masters, its properties and table styles, and the pictures those use. Every
#: other part (macros, embedded objects, controls, custom XML, the sample slides, the
#: thumbnail …), a part of another type than its relationship says, and every external
#: relationship of the template is left out.
CARRIED_TYPES: dict[str, tuple[str, ...]] = {
    OFFICE_DOCUMENT: (PRESENTATION_MAIN, *CONVERTIBLE_MAIN),
    **{f"{RELATIONSHIPS}{kind}": (f"{PRESENTATIONML}{kind}+xml",) for kind in (
        "slideMaster", "slideLayout", "notesMaster", "handoutMaster", "presProps",
        "viewProps", "tableStyles")},
    THEME_RELATIONSHIP: ("application/vnd.openxmlformats-officedocument.theme+xml",),
    IMAGE_RELATIONSHIP: ("image/png", "image/jpeg", "image/jpg", "image/gif", "image/bmp",
                         "image/tiff", "image/x-emf", "image/x-wmf"),
}
CARRIED_RELATIONSHIPS = frozenset(CARRIED_TYPES)
#: The picture formats a carried picture may be (as Pillow names them; WMF covers EMF).
PICTURE_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WMF")
#: Parts every saved presentation has that a deck does not carry, left out without a word:
#: the sample slides (and their notes), the document properties and the thumbnail; and the
#: tags add-ins keep on shapes and placeholders (their data, of no use to a deck).
QUIETLY_LEFT = frozenset(f"{RELATIONSHIPS}{kind}" for kind in (
    "slide", "notesSlide", "extended-properties", "custom-properties", "commentAuthors",
    "printerSettings", "tags")) | {
    "http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties",
    "http://schemas.openxmlformats.org/package/2006/relationships/metadata/thumbnail"}
#: Caps on what a template unpacks to, checked against the sizes the zip declares and
#: again while reading (declared sizes can lie): its file, each part, all parts together,
#: and how much a part larger than RATIO_FLOOR may expand (a zip bomb stops here); all
#: parts together may also expand no more than MAX_RATIO times the file, beyond
#: TOTAL_RATIO_FLOOR (many small parts that each expand less than RATIO_FLOOR).
MAX_TEMPLATE_BYTES = 100 * 2**20
MAX_PART_BYTES = 64 * 2**20
MAX_TOTAL_BYTES = 256 * 2**20
MAX_RATIO = 100
RATIO_FLOOR = 2**20
TOTAL_RATIO_FLOOR = 32 * 2**20
#: XML parts are held as trees (some 30 times their size): each may unpack to 4 MB, all
#: together to 16 MB; and the zip's directory of parts may take 1 MB (some 10,000 parts).
MAX_XML_PART_BYTES = 4 * 2**20
MAX_XML_BYTES = 16 * 2**20
MAX_DIRECTORY_BYTES = 2**20
#: The start of a target that is a URL, a drive or a network path, not a part name.
URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:|//|\\\\")
#: The relationships one part may have (a master has a few dozen): more is refused.
MAX_RELATIONSHIPS = 10_000
#: The slide sizes (EMU) a template may have, as a theme's slide.width and slide.height;
#: another size (or one that is not a number) gives the default 16:9 slide, with a warning.
SLIDE_WIDTHS = (4 * EMU_PER_INCH, 56 * EMU_PER_INCH)
SLIDE_HEIGHTS = (3 * EMU_PER_INCH, 56 * EMU_PER_INCH)
DEFAULT_SLIDE_SIZE = (12192000, 6858000)

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
    warning naming what was missing. The template's data is the package a deck carries
    (see _Package.carried): no external link, macro, embedded object or sample slide."""
    diagnostics = diagnostics or Diagnostics()
    data = _read_bytes(path)
    reader = _Package(path, data)
    presentation_part = reader.main_part()
    presentation = reader.xml(presentation_part)
    slide_width, slide_height = _slide_size(presentation, path, diagnostics)
    rels = reader.rels(presentation_part)
    masters = [rels.get(element.get(R_ID, ""), "")
               for element in presentation.iterfind("p:sldMasterIdLst/p:sldMasterId", NS)]
    if not masters or not all(masters):
        raise DeckgenError("not a valid presentation: it has no slide master", path)
    for master_part in masters:
        reader.essential(master_part, "slideMaster", "slide master")
    edited = {presentation_part: presentation}
    layouts: list[TemplateLayout] = []
    master_colours: list[dict[str, str]] = []
    master_fonts: list[tuple[SchemeFont, SchemeFont]] = []
    for master_index, master_part in enumerate(masters):
        master = reader.xml(master_part)
        _tidy(master, master_part, edited, path, diagnostics)
        master_rels = reader.rels(master_part)
        master_boxes = _placeholders(master, {})
        base = {_base_kind(ph.kind): ph.box for ph in reversed(master_boxes)}
        layout_parts = [master_rels.get(element.get(R_ID, ""), "") for element in
                        master.iterfind("p:sldLayoutIdLst/p:sldLayoutId", NS)]
        for index, layout_part in enumerate(layout_parts):
            if not layout_part:
                raise DeckgenError(f"not a valid presentation: {master_part} names a missing "
                                   "layout", path)
            reader.essential(layout_part, "slideLayout", "slide layout")
            layout = reader.xml(layout_part)
            _tidy(layout, layout_part, edited, path, diagnostics)
            name_element = layout.find("p:cSld", NS)
            name = name_element.get("name", "") if name_element is not None else ""
            layouts.append(TemplateLayout(master_index, index, name,
                                          layout.get("type", "cust"),
                                          tuple(_placeholders(layout, base))))
        theme_part = reader.related(master_part, THEME_RELATIONSHIP)
        theme = reader.xml(theme_part) if theme_part and not reader.problem(
            theme_part, THEME_RELATIONSHIP) else None
        master_colours.append(_colours(theme, master))
        master_fonts.append(_fonts(theme))
    if not layouts:
        raise DeckgenError("not a valid presentation: its slide master has no layouts", path)
    chosen = choose_layouts(path, layouts, overrides or {}, diagnostics)
    master_index = chosen["content"].master
    sample_slides = len(presentation.findall("p:sldIdLst/p:sldId", NS))
    data = reader.carried(presentation_part, edited, diagnostics)
    return Template(path, data, slide_width, slide_height, tuple(layouts),
                    master_fonts[master_index][0], master_fonts[master_index][1],
                    master_colours[master_index], sample_slides, chosen)


def _slide_size(presentation: etree._Element, path: Path,
                diagnostics: Diagnostics) -> tuple[int, int]:
    """The template's slide size (EMU); one that is not a number or outside the sizes a
    theme allows (SLIDE_WIDTHS, SLIDE_HEIGHTS) becomes the default 16:9 size, in
    `presentation` too, with a warning naming the template."""
    size = presentation.find("p:sldSz", NS)
    if size is None:
        notes_size = presentation.find("p:notesSz", NS)
        if notes_size is None:
            raise DeckgenError("not a valid presentation: ppt/presentation.xml has no slide "
                               "size", path)
        size = etree.Element(f"{{{NS['p']}}}sldSz")
        notes_size.addprevious(size)
    width, height = _integer(size.get("cx")), _integer(size.get("cy"))
    if width is not None and height is not None \
            and SLIDE_WIDTHS[0] <= width <= SLIDE_WIDTHS[1] \
            and SLIDE_HEIGHTS[0] <= height <= SLIDE_HEIGHTS[1]:
        return width, height
    shown = f"cx={size.get('cx')!r} cy={size.get('cy')!r}"
    diagnostics.warn(f"template's slide size ({shown}) is not a size between "
                     f"{SLIDE_WIDTHS[0] / EMU_PER_INCH:g} × {SLIDE_HEIGHTS[0] / EMU_PER_INCH:g} "
                     f"and {SLIDE_WIDTHS[1] / EMU_PER_INCH:g} × "
                     f"{SLIDE_HEIGHTS[1] / EMU_PER_INCH:g} in; the default 16:9 size "
                     "(13.333 × 7.5 in) is used", path)
    size.attrib.clear()
    size.set("cx", str(DEFAULT_SLIDE_SIZE[0]))
    size.set("cy", str(DEFAULT_SLIDE_SIZE[1]))
    return DEFAULT_SLIDE_SIZE


#: The values a placeholder's attributes may have (ST_PlaceholderType, ST_Direction,
#: ST_PlaceholderSize); another is left out, which means the default.
PLACEHOLDER_VALUES = {
    "type": ("title", "body", "ctrTitle", "subTitle", "dt", "sldNum", "ftr", "hdr", "obj",
             "chart", "tbl", "clipArt", "dgm", "media", "sldImg", "pic"),
    "orient": ("horz", "vert"), "sz": ("full", "half", "quarter")}
#: The largest coordinate DrawingML allows (ST_Coordinate), in EMU.
MAX_COORDINATE = 27273042316900
COORDINATES = {"off": ("x", "y"), "chOff": ("x", "y"), "ext": ("cx", "cy"),
               "chExt": ("cx", "cy")}


def _tidy(part: etree._Element, name: str, edited: dict[str, etree._Element], path: Path,
          diagnostics: Diagnostics) -> None:
    """Leave a master's or layout's placeholder attributes and shape positions that are not
    valid to their defaults (an unknown placeholder type is a content placeholder, a shape
    position that is not a number is inherited), so that the part still serves; with a
    warning naming the template and part, and `edited[name]` the changed XML."""
    changed = False
    for ph in part.iter(f"{{{NS['p']}}}ph"):
        for key, allowed in PLACEHOLDER_VALUES.items():
            if ph.get(key) is not None and ph.get(key) not in allowed:
                del ph.attrib[key]
                changed = True
        idx = ph.get("idx")
        if idx is not None and not (idx.isdigit() and int(idx) < 2**32):
            del ph.attrib["idx"]
            changed = True
    for xfrm in [*part.iter(f"{{{NS['a']}}}xfrm", f"{{{NS['p']}}}xfrm")]:
        values = [_integer(child.get(key, "0")) for child in xfrm if isinstance(child.tag, str)
                  for key in COORDINATES.get(etree.QName(child).localname, ())]
        if all(value is not None and abs(value) <= MAX_COORDINATE for value in values):
            continue
        changed = True
        if etree.QName(xfrm).namespace == NS["a"]:
            _remove(xfrm)
            continue
        for child in xfrm:  # a frame's p:xfrm is required: it goes to the corner, empty
            for key in COORDINATES.get(etree.QName(child).localname, ()):
                child.set(key, "0")
    if changed:
        edited[name] = part
        diagnostics.warn(f"template's {name} has placeholder types or shape positions that "
                         "are not valid; they are left to their defaults", path)


def _integer(value: str | None) -> int | None:
    """An XML integer attribute's value, None when absent or not an integer."""
    if value is None or not re.fullmatch(r"\s*[+-]?\d{1,18}\s*", value):
        return None
    return int(value)


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
        numbers = ([_integer(offset.get(key, "0")) for key in ("x", "y")]
                   + [_integer(extent.get(key, "0")) for key in ("cx", "cy")]
                   if offset is not None and extent is not None else [])
        if numbers and None not in numbers:  # a box that is not numbers is inherited
            x, y, w, h = (number or 0 for number in numbers)
            box = Box(x, y, w, h)
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
            _face(latin.get("typeface", "") if latin is not None else ""),
            _face(east_asian.get("typeface", "") if east_asian is not None else "")
            or _face(hangul)))
    return fonts[0], fonts[1]


def _face(name: str) -> str:
    """A font name as the scheme gives it; one with control characters (a tab, a line
    break) or longer than a font name can be is left to the theme ("")."""
    return "" if re.search("[\x00-\x1f\x7f]", name) or len(name) > 200 else name


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise DeckgenError("template not found (give a .pptx or .potx file)", path)
    try:
        if path.stat().st_size > MAX_TEMPLATE_BYTES:
            raise DeckgenError(f"template is larger than {_megabytes(MAX_TEMPLATE_BYTES)}; "
                               "refused", path)
        return path.read_bytes()
    except OSError as exc:
        raise DeckgenError(f"template cannot be read: {exc.strerror}", path) from exc


def _megabytes(size: int) -> str:
    return f"{size // 2**20} MB"


def _is_xml(name: str) -> bool:
    """Whether a part is read as XML (its name ends in .xml or .rels)."""
    return name.lower().endswith((".xml", ".rels"))


def _directory_size(data: bytes) -> int:
    """The size a zip's end records give its central directory (which zipfile reads
    whole, at some ten times its size in memory), found as zipfile finds them: the end
    record at the very end, else the last one in the final 64 KB, and the ZIP64 record
    just before its locator when one precedes the end record. 0 when there is no end
    record (zipfile then says what is wrong)."""
    end = len(data) - 22
    if not (end >= 0 and data[end:end + 4] == b"PK\x05\x06" and data[-2:] == b"\0\0"):
        end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65536 - 22))
        if end < 0 or len(data) < end + 22:
            return 0
    size = int.from_bytes(data[end + 12:end + 16], "little")
    locator = end - 20
    if locator >= 0 and data[locator:locator + 4] == b"PK\x06\x07":
        record = locator - 56
        if record < 0:
            return size
        if data[record:record + 4] == b"PK\x06\x06":
            size = int.from_bytes(data[record + 40:record + 48], "little")
    return size


class _Damaged(DeckgenError):
    """A part that cannot be unpacked (a broken zip entry or compressed stream)."""


class _Package:
    """The parts of an OPC zip package, read with the errors naming the template and within
    the caps on what it unpacks to (MAX_PART_BYTES, MAX_TOTAL_BYTES, MAX_RATIO)."""

    def __init__(self, path: Path, data: bytes) -> None:
        self.path = path
        self.size = len(data)
        self.parts: dict[str, bytes] = {}
        self.unpacked = self.unpacked_xml = 0
        self.types: etree._Element | None = None
        #: The content types by part name (as spelled, and case folded) and by extension.
        self.overrides: dict[str, str] | None = None
        self.exact: dict[str, str] = {}
        self.defaults: dict[str, str] = {}
        self.relationship_lists: dict[str, list[etree._Element]] = {}
        if _directory_size(data) > MAX_DIRECTORY_BYTES:
            raise DeckgenError(f"template refused: its zip directory is larger than "
                               f"{_megabytes(MAX_DIRECTORY_BYTES)} (too many parts)", path)
        try:
            self.zip = zipfile.ZipFile(io.BytesIO(data))
            self.names = set(self.zip.namelist())
            #: Part names are compared without regard to case: the first of a name is it.
            self.folded: dict[str, str] = {}
            for name in self.zip.namelist():
                self.folded.setdefault(name.casefold(), name)
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise DeckgenError("not a valid .pptx or .potx: the file is not a zip package "
                               f"({exc})", path) from exc

    def read(self, name: str) -> bytes:
        """A part's bytes, unpacked once; a part that would unpack beyond the caps is an
        error, whatever size the zip declares."""
        known = self.parts.get(name)
        if known is not None:
            return known
        if name not in self.names:
            raise DeckgenError(f"not a valid presentation: part {name} is missing", self.path)
        info = self.zip.getinfo(name)
        self._check(name, info.file_size, info.compress_size)
        chunks, size = [], 0
        try:
            with self.zip.open(info) as stream:
                while chunk := stream.read(2**16):
                    size += len(chunk)
                    self._check(name, size, info.compress_size)
                    chunks.append(chunk)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError,
                NotImplementedError, zlib.error) as exc:
            raise _Damaged(f"not a valid presentation: part {name} is damaged ({exc})",
                           self.path) from exc
        self.unpacked += size
        if _is_xml(name):
            self.unpacked_xml += size
        data = self.parts[name] = b"".join(chunks)
        return data

    def _check(self, name: str, size: int, compressed: int) -> None:
        """Stop at a part that unpacks to more than the caps allow."""
        problem = ""
        xml = _is_xml(name)
        if size > MAX_PART_BYTES or (xml and size > MAX_XML_PART_BYTES):
            cap = MAX_XML_PART_BYTES if xml else MAX_PART_BYTES
            problem = f"unpacks to more than {_megabytes(cap)}"
        elif xml and self.unpacked_xml + size > MAX_XML_BYTES:
            problem = (f"brings the template's XML parts to more than "
                       f"{_megabytes(MAX_XML_BYTES)}")
        elif self.unpacked + size > MAX_TOTAL_BYTES:
            problem = (f"brings the template's parts to more than "
                       f"{_megabytes(MAX_TOTAL_BYTES)}")
        elif size > RATIO_FLOOR and size > MAX_RATIO * max(compressed, 1):
            problem = f"expands more than {MAX_RATIO} times"
        elif self.unpacked + size > max(TOTAL_RATIO_FLOOR, MAX_RATIO * self.size):
            problem = (f"brings the template's parts to more than {MAX_RATIO} times the "
                       "template's size")
        if problem:
            raise DeckgenError(f"template refused: part {name} {problem} (a zip bomb?)",
                               self.path)

    def xml(self, name: str) -> etree._Element:
        """A part's XML tree, read without a DTD, entities or network; a part with a
        DOCTYPE (which no Office part has) is refused."""
        try:
            root = etree.fromstring(self.read(name), etree.XMLParser(
                resolve_entities=False, no_network=True, load_dtd=False))
        except etree.XMLSyntaxError as exc:
            raise DeckgenError(f"not a valid presentation: part {name} is not XML ({exc})",
                               self.path) from exc
        if root.getroottree().docinfo.internalDTD is not None:
            raise DeckgenError(f"template refused: part {name} has a DOCTYPE, which Office "
                               "parts never have", self.path)
        return root

    def rels(self, part: str) -> dict[str, str]:
        """The part's internal relationships: id -> target part name."""
        folder = posixpath.dirname(part)
        out = {}
        for rel in self._relationships(part):
            if rel.get("TargetMode") == "External":
                continue
            out[rel.get("Id", "")] = self._known(_resolve(folder, rel.get("Target", "")))
        return out

    def _relationships(self, part: str) -> list[etree._Element]:
        """The part's relationships, read once; more than MAX_RELATIONSHIPS is an error."""
        known = self.relationship_lists.get(part)
        if known is not None:
            return known
        rels_name = _rels_name(part)
        if rels_name not in self.names:
            return []
        relationships = list(self.xml(rels_name).iterfind("rel:Relationship", NS))
        if len(relationships) > MAX_RELATIONSHIPS:
            raise DeckgenError(f"template refused: part {rels_name} has more than "
                               f"{MAX_RELATIONSHIPS:,} relationships", self.path)
        self.relationship_lists[part] = relationships
        return relationships

    def related(self, part: str, relationship: str) -> str | None:
        for rel in self._relationships(part):
            if rel.get("Type") == relationship and rel.get("TargetMode") != "External":
                return self.target(part, rel)
        return None

    def _known(self, name: str) -> str:
        """The package's own spelling of a part name (they ignore case): the name when
        the package has it as spelled, else the first that differs in case alone."""
        return name if name in self.names else self.folded.get(name.casefold(), name)

    def target(self, part: str, rel: etree._Element) -> str:
        """The part a relationship of `part` targets, as the package spells it."""
        return self._known(_resolve(posixpath.dirname(part), rel.get("Target", "")))

    def main_part(self) -> str:
        """The presentation part's name (its content type may be a template's, a slide
        show's or a macro-enabled one: the carried package declares it a presentation)."""
        main = self.related("", OFFICE_DOCUMENT)
        if main is None:
            raise DeckgenError("not a valid .pptx or .potx: the package names no main "
                               "document", self.path)
        content_type = self._content_type(main)
        if content_type == PRESENTATION_MAIN or content_type in CONVERTIBLE_MAIN:
            return main
        raise DeckgenError(f"not a PowerPoint presentation or template: its main part is "
                           f"'{content_type or 'of no known type'}' (save it as .pptx or "
                           ".potx)", self.path)

    def _content_types(self) -> etree._Element:
        if self.types is None:
            self.types = self.xml("[Content_Types].xml")
        return self.types

    def _content_type(self, part: str) -> str:
        """A part's content type: its override, else the default for its extension (the
        first of each, looked up in maps made once)."""
        if self.overrides is None:
            types = self._content_types()
            self.overrides = {}
            for override in types.iterfind("ct:Override", NS):
                # part names are compared without regard to case, an exact one first
                name = override.get("PartName", "").lstrip("/")
                self.exact.setdefault(name, override.get("ContentType", ""))
                self.overrides.setdefault(name.casefold(), override.get("ContentType", ""))
            for default in types.iterfind("ct:Default", NS):
                self.defaults.setdefault(default.get("Extension", "").lower(),
                                         default.get("ContentType", ""))
        known = self.exact.get(part, self.overrides.get(part.casefold()))
        if known is not None:
            return known
        return self.defaults.get(posixpath.splitext(part)[1].lstrip(".").lower(), "")

    def problem(self, name: str, kind: str) -> str:
        """Why the part `name` cannot be carried as the target of a `kind` relationship
        ("" when it can): a name that is not a valid part name (escaping the package, a
        URL, ...), a missing part, or a content type other than the relationship's."""
        if not _valid_part_name(name):
            return "its name is not a valid part name"
        if name not in self.names:
            return "it is missing"
        if kind != IMAGE_RELATIONSHIP and not name.lower().endswith(".xml"):
            return "it is not an XML part"
        content_type = self._content_type(name)
        if content_type not in CARRIED_TYPES.get(kind, ()):
            return f"its content type is '{content_type or 'none'}'"
        return ""

    def essential(self, name: str, kind: str, what: str) -> str:
        """A master or layout the template is read from: carried, else an error."""
        problem = self.problem(name, f"{RELATIONSHIPS}{kind}")
        if problem:
            raise DeckgenError(f"not a valid presentation: {what} {_shortened(name)} cannot "
                               f"be used ({problem})", self.path)
        return name

    def carried(self, main: str, edited: dict[str, etree._Element],
                diagnostics: Diagnostics) -> bytes:
        """The package a deck is built on: the parts CARRIED_TYPES reach from the
        package's own relationships, with the main part declared a presentation (and the
        parts in `edited` as edited), each XML part written anew (so no DOCTYPE or
        oddity of the template's serialisation reaches the deck). External relationships,
        all other parts and pictures no kept shape or fill shows are left out, and what
        referred to them (or to no relationship at all) is removed or unlinked; one warning
        names the external links left out, another the parts (save the quiet ones,
        QUIETLY_LEFT)."""
        kept: dict[str, list[etree._Element]] = {}
        trees: dict[str, etree._Element] = {}
        external: list[str] = []
        left: dict[str, None] = {}  # the names, in order
        todo = [("", False)]
        queued = {""}
        kinds: dict[str, str] = {}  # the relationship each part is carried as
        while todo:
            part, picture = todo.pop(0)
            if picture:  # a leaf: a picture's relationships are not carried
                kept[part] = []
                continue
            relationships = self._kept_relationships(part, external, left)
            if part:
                root = trees[part] = edited[part] if part in edited else self.xml(part)
                relationships = self._shown(part, root, relationships, diagnostics)
            kept[part] = relationships
            for rel in relationships:
                name = self.target(part, rel)
                if name not in queued:
                    queued.add(name)
                    kinds[name] = rel.get("Type", "")
                    todo.append((name, rel.get("Type") == IMAGE_RELATIONSHIP))
        if external:
            shown = ", ".join(sorted({_shortened(target) for target in external})[:3])
            diagnostics.warn(f"template's external links are not carried into the deck "
                             f"({len(external)} left out: {shown})", self.path)
        if left:
            more = f" and {len(left) - 5} more" if len(left) > 5 else ""
            diagnostics.warn("template parts a deck does not need are not carried into it "
                             f"(macros, embedded objects, controls and other data): "
                             f"{', '.join(list(left)[:5])}{more}", self.path)
        return self._written(main, trees, kept, _homes(kinds, self._content_type))

    def _kept_relationships(self, part: str, external: list[str],
                            left: dict[str, None]) -> list[etree._Element]:
        """The relationships of `part` that are carried: internal, with an id of their
        own, one of CARRIED_TYPES (from the package only to its main part) to a part of
        its content type; `external` and `left` hear of the others."""
        out: list[etree._Element] = []
        ids: set[str] = set()
        for rel in self._relationships(part):
            kind, target, rel_id = rel.get("Type", ""), rel.get("Target", ""), rel.get("Id")
            if rel.get("TargetMode") == "External" or URL_SCHEME.match(target):
                external.append(target)  # a URL is external whatever its mode says
                continue
            if not rel_id or rel_id in ids:
                continue  # nothing can refer to it (or it is a second one of that id)
            name = self.target(part, rel)
            if kind in CARRIED_RELATIONSHIPS and (part == "") == (kind == OFFICE_DOCUMENT) \
                    and not self.problem(name, kind):
                ids.add(rel_id)
                out.append(rel)
            elif kind not in QUIETLY_LEFT:
                left[_shortened(name)] = None
        return out

    def _shown(self, part: str, root: etree._Element, relationships: list[etree._Element],
               diagnostics: Diagnostics) -> list[etree._Element]:
        """The relationships of `part` left once what refers to no kept relationship is
        unlinked from its XML (`root`, edited in place): a picture only when something
        the part keeps shows it and it is a picture within the caps (else a warning), and
        one relationship of a type to a part unless the XML refers to the others."""
        ids = {str(rel.get("Id")) for rel in relationships}
        _unlink(root, ids)
        used = _references(root)
        out, dropped, seen = [], set(), set()
        for rel in relationships:
            rel_id = str(rel.get("Id"))
            same = (rel.get("Type"), self.target(part, rel))
            if same in seen and rel_id not in used:
                continue  # a second relationship to the same part, of no use
            seen.add(same)
            if rel.get("Type") == IMAGE_RELATIONSHIP:
                if rel_id not in used:
                    continue  # a picture nothing shows is not carried
                problem = self._picture_problem(self.target(part, rel))
                if problem:
                    diagnostics.warn(f"{problem}; the template's design is built without "
                                     "that picture", self.path)
                    dropped.add(rel_id)
                    continue
            out.append(rel)
        if dropped:
            _unlink(root, ids - dropped)
        return out

    def _picture_problem(self, name: str) -> str:
        """Why a template's picture is not carried ("" when it is): it cannot be
        unpacked, is not a picture (PICTURE_FORMATS) or has more than MAX_PIXELS."""
        try:
            data = self.read(name)
        except _Damaged as problem:
            return problem.message
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(io.BytesIO(data), formats=PICTURE_FORMATS) as picture:
                    width, height = picture.size
        except Image.DecompressionBombError:
            width = height = MAX_PIXELS
        except (OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError,
                ArithmeticError) as exc:
            return f"template's picture {name} is not a picture ({type(exc).__name__})"
        if width * height > MAX_PIXELS:
            return (f"template's picture {name} has more than {MAX_PIXELS // 10**6} million "
                    "pixels")
        return ""

    def _written(self, main: str, trees: dict[str, etree._Element],
                 kept: dict[str, list[etree._Element]], homes: dict[str, str]) -> bytes:
        """The zip of the carried parts (under their `homes`), their relationships and
        content types."""
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
            target.writestr("[Content_Types].xml", self._carried_types(main, kept, homes))
            for part, relationships in kept.items():
                home = homes.get(part, "")
                if part:
                    target.writestr(home, _xml(trees[part]) if part in trees
                                    else self.read(part))
                if relationships or part == "":
                    root = etree.fromstring(f'<Relationships xmlns="{NS["rel"]}"/>')
                    for rel in relationships:
                        root.append(etree.Element(f"{{{NS['rel']}}}Relationship", {
                            "Id": str(rel.get("Id")), "Type": str(rel.get("Type")),
                            "Target": posixpath.relpath(homes[self.target(part, rel)],
                                                        posixpath.dirname(home) or ".")}))
                    target.writestr(_rels_name(home), _xml(root))
        return out.getvalue()

    def _carried_types(self, main: str, kept: dict[str, list[etree._Element]],
                       homes: dict[str, str]) -> bytes:
        """The content types of the carried parts: one override each, by its home."""
        root = etree.fromstring(f'<Types xmlns="{NS["ct"]}"/>')
        for extension, content_type in (
                ("rels", "application/vnd.openxmlformats-package.relationships+xml"),
                ("xml", "application/xml")):
            root.append(etree.Element(f"{{{NS['ct']}}}Default", {
                "Extension": extension, "ContentType": content_type}))
        for part in kept:
            if part:
                root.append(etree.Element(f"{{{NS['ct']}}}Override", {
                    "PartName": f"/{homes[part]}",
                    "ContentType": PRESENTATION_MAIN if part == main
                    else self._content_type(part)}))
        return _xml(root)


#: Where a carried part of each relationship lives in a deck: its name when it has this
#: form (a picture: any lower-case name in ppt/media), else the first free number in it. No
#: carried part then clashes, even in case alone, with one python-pptx adds (slides,
#: notes, pictures), or sits in a folder of other parts.
HOMES: dict[str, str] = {
    OFFICE_DOCUMENT: "ppt/presentation.xml",
    **{f"{RELATIONSHIPS}{kind}": f"ppt/{kind}s/{kind}{{}}.xml" for kind in (
        "slideMaster", "slideLayout", "notesMaster", "handoutMaster")},
    THEME_RELATIONSHIP: "ppt/theme/theme{}.xml",
    **{f"{RELATIONSHIPS}{kind}": f"ppt/{kind}.xml" for kind in (
        "presProps", "viewProps", "tableStyles")},
    IMAGE_RELATIONSHIP: "ppt/media/image{}.{}",
}
#: A carried picture's extension, by its content type.
PICTURE_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpg",
                      "image/gif": "gif", "image/bmp": "bmp", "image/tiff": "tiff",
                      "image/x-emf": "emf", "image/x-wmf": "wmf"}


def _homes(kinds: dict[str, str], content_type: Callable[[str], str]) -> dict[str, str]:
    """The name each carried part (by the relationship it is carried as, `kinds`) has in
    the deck (HOMES): its own when it fits, else the first free one."""
    homes: dict[str, str] = {}
    taken: set[str] = set()
    moved: list[str] = []
    for part, kind in kinds.items():
        home = HOMES[kind]
        extension = PICTURE_EXTENSIONS.get(content_type(part), "png")
        pattern = re.escape(home).replace(r"\{\}", "{}").format(r"[1-9][0-9]{0,5}",
                                                                 re.escape(extension))
        if kind == IMAGE_RELATIONSHIP:  # any name in lower case (python-pptx adds imageN)
            pattern = rf"ppt/media/[a-z0-9_-]{{1,64}}\.{re.escape(extension)}"
        if re.fullmatch(pattern, part) and part.casefold() not in taken:
            homes[part] = part
            taken.add(part.casefold())
        else:
            moved.append(part)
    for part in moved:
        home = HOMES[kinds[part]]
        extension = PICTURE_EXTENSIONS.get(content_type(part), "png")
        if "{}" not in home:  # a second part of a kind there is one of
            home = home.replace(".xml", "{}.xml")
        number = 1
        while home.format(number, extension).casefold() in taken:
            number += 1
        homes[part] = home.format(number, extension)
        taken.add(homes[part].casefold())
    return homes


def _xml(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def _shortened(target: str) -> str:
    return target if len(target) <= 60 else target[:57] + "..."


def _rels_name(part: str) -> str:
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", f"{name}.rels")


#: Where a shape sits: a shape whose reference is left out goes as a whole.
SHAPE_PARENTS = ("spTree", "grpSp")
#: Elements that cannot exist without their part: the shape holding one goes whole (an
#: embedded object, a control, a video or sound, a chart, a diagram, ink).
WHOLE_SHAPE = frozenset({"oleObj", "control", "videoFile", "audioFile", "quickTimeFile",
                         "media", "chart", "relIds", "contentPart"})
#: Lists that go when unlinking leaves them empty.
EMPTIED = frozenset({"custDataLst", "controls", "embeddedFontLst"})
HYPERLINKS = ("hlinkClick", "hlinkHover", "hlinkMouseOver")


def _references(root: etree._Element) -> set[str]:
    """The relationship ids the XML refers to (its `r:` attributes)."""
    return {str(value) for element in root.iter() if isinstance(element.tag, str)
            for key, value in element.attrib.items() if str(key).startswith(R_PREFIXES)}


def _unlink(root: etree._Element, kept: set[str]) -> None:
    """Remove what refers to a relationship other than the `kept` ones (an empty id
    refers to none): only the referring element where the rest can do without it — a
    hyperlink (the shape or text stays, without the link), a sound of a hyperlink, a
    picture's `r:embed` or `r:link` (the picture stays empty) and its SVG version (the PNG
    one stays), a custom data tag, a slide id, an embedded font; a master's transition
    sound or animation timing goes whole, and so does a shape that cannot exist without
    the part (WHOLE_SHAPE: an embedded object, a control, a video ...)."""
    found = [(element, str(key)) for element in root.iter() if isinstance(element.tag, str)
             for key, value in element.attrib.items()
             if str(key).startswith(R_PREFIXES) and value and str(value) not in kept]
    parents: dict[int, etree._Element] = {}  # each parent is tidied once, at the end
    for element, key in found:
        if not _inside(element, root):
            continue  # gone with what held it
        local = etree.QName(element).localname
        parent = element.getparent()
        timing = _ancestor(element, ("sndAc", "timing"))
        if local == "blip":
            del element.attrib[key]
        elif local == "svgBlip" and parent is not None:
            _remove(parent)  # the a:ext; the picture keeps its fallback
        elif local in WHOLE_SHAPE:
            shape = _shape_of(element)
            _remove(element if shape is None else shape)
        elif timing is not None:
            _remove(timing)
        else:
            _remove(element)
            if parent is not None:
                parents.setdefault(id(parent), parent)
    for parent in parents.values():
        if _inside(parent, root):
            _tidy_after(parent)


def _tidy_after(parent: etree._Element | None) -> None:
    """Remove what removing a child left without purpose: a hyperlink that was only there
    for its sound, a font without any face, an empty list (EMPTIED)."""
    node = parent
    while node is not None:
        local = etree.QName(node).localname
        children = [etree.QName(child).localname for child in node
                    if isinstance(child.tag, str)]
        useless = (
            (local in HYPERLINKS and not children
             and not any(node.get(f"{prefix}id") for prefix in R_PREFIXES)
             and not node.get("action"))
            or (local == "embeddedFont" and set(children) <= {"font"})
            or (local in EMPTIED and not children))
        if not useless:
            return
        up = node.getparent()
        _remove(node)
        node = up


def _inside(element: etree._Element, root: etree._Element) -> bool:
    node: etree._Element | None = element
    while node is not None and node is not root:
        node = node.getparent()
    return node is root


def _ancestor(element: etree._Element, names: tuple[str, ...]) -> etree._Element | None:
    """The nearest ancestor (or the element) with one of these local names."""
    node: etree._Element | None = element
    while node is not None:
        if isinstance(node.tag, str) and etree.QName(node).localname in names:
            return node
        node = node.getparent()
    return None


def _shape_of(element: etree._Element) -> etree._Element | None:
    """The shape (or its markup-compatibility wrapper) an element belongs to."""
    node: etree._Element | None = element
    while node is not None:
        parent = node.getparent()
        if parent is not None and etree.QName(parent).localname in SHAPE_PARENTS:
            return node
        if parent is not None and etree.QName(parent).localname in ("Choice", "Fallback"):
            return parent.getparent()
        node = parent
    return None


def _remove(element: etree._Element) -> None:
    parent = element.getparent()
    if parent is not None:
        parent.remove(element)


def _valid_part_name(name: str) -> bool:
    """Whether a resolved target is a part name a package may hold: no empty, `.` or `..`
    segment (nothing outside the package), no `:` (no URL or drive), no backslash, no
    control character, no `[` or `]` (no [Content_Types].xml) and no relationships part."""
    return bool(name) and not re.search(r"[:\\\x00-\x1f\x7f\[\]]", name) and all(
        segment and not segment.endswith(".") and segment.casefold() != "_rels"
        for segment in name.split("/")) and not name.casefold().endswith(".rels")


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
