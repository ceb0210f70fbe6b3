"""Placed slides to a .pptx: slide XML written directly, python-pptx keeps the package."""

from __future__ import annotations

import functools
import io
import itertools
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from lxml import etree
from pptx import Presentation
from pptx.opc.constants import CONTENT_TYPE, RELATIONSHIP_TYPE
from pptx.opc.package import Part
from pptx.opc.packuri import PackURI
from pptx.opc.spec import default_content_types, image_content_types
from pptx.oxml.ns import qn
from pptx.parts.image import Image as PackageImage
from pptx.parts.image import ImagePart
from pptx.util import Emu

from deckgen.archive import Archive, PackedEntries
from deckgen.errors import DeckgenError
from deckgen.images import PNG_SIGNATURE
from deckgen.layout import (
    EMU_PER_PT,
    TEXT_INSET,
    FillShape,
    LineShape,
    PictureShape,
    PlacedParagraph,
    PlacedSlide,
    Shape,
    TableShape,
    TextShape,
)
from deckgen.model import (
    Box,
    DeckMeta,
    SlideKind,
    Span,
    clickable,
)
from deckgen.structure import NotesLine, notes_lines
from deckgen.template import fit_scale
from deckgen.theme import Theme

TITLE_ONLY_LAYOUT = 5
BLANK_LAYOUT = 6
THEME_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.theme+xml"
ALIGN = {"left": "l", "center": "ctr", "right": "r"}
ANCHOR = {"top": "t", "middle": "ctr", "bottom": "b"}
NAMESPACES = ('xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
              'xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main" '
              'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"')
XML_DECLARATION = "<?xml version='1.0' encoding='UTF-8' standalone='yes'?>\n"
RELATIONSHIPS_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
CONTENT_TYPES_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
TABLE_URI = "http://schemas.openxmlformats.org/drawingml/2006/table"
#: python-pptx's default table style, which every new table names.
TABLE_STYLE = "{5C22544A-7EE6-4342-B048-85BDC9FD1C3A}"
#: The largest spacing DrawingML allows, in hundredths of a point.
MAX_SPACING = 158400
GROUP_PROPERTIES = ('<p:nvGrpSpPr><p:cNvPr id="1" name=""/><p:cNvGrpSpPr/><p:nvPr/>'
                    "</p:nvGrpSpPr>")
COLOUR_MAP_OVERRIDE = "<p:clrMapOvr><a:masterClrMapping/></p:clrMapOvr>"
#: The name python-pptx gives a placeholder it copies from a layout, by placeholder type.
PLACEHOLDER_NAMES = {
    "clipArt": "ClipArt Placeholder", "body": "Text Placeholder", "ctrTitle": "Title",
    "chart": "Chart Placeholder", "dt": "Date Placeholder", "ftr": "Footer Placeholder",
    "hdr": "Header Placeholder", "media": "Media Placeholder", "obj": "Content Placeholder",
    "dgm": "SmartArt Placeholder", "pic": "Picture Placeholder",
    "sldNum": "Slide Number Placeholder", "subTitle": "Subtitle", "tbl": "Table Placeholder",
    "title": "Title",
}
NOTES_PLACEHOLDER_NAMES = {**PLACEHOLDER_NAMES, "body": "Notes Placeholder",
                           "sldImg": "Slide Image Placeholder"}
#: Placeholder types that hold text (python-pptx gives their copies an empty text body).
TEXT_PLACEHOLDERS = ("title", "ctrTitle", "subTitle", "body", "obj")
#: Layout placeholders python-pptx does not copy onto a new slide (the footer's).
LATENT_PLACEHOLDERS = ("dt", "ftr", "sldNum")
NOTES_PLACEHOLDERS = ("sldImg", "body", "sldNum")
EMPTY_TEXT_BODY = "<a:bodyPr/><a:lstStyle/>"
#: Characters XML cannot hold, written as python-pptx writes control characters: "_x0007_".
UNWRITABLE = re.compile("[\x00-\x08\x0b-\x1f\ufffe\uffff\ud800-\udfff]")
#: Characters an attribute value cannot hold at all.
UNWRITABLE_IN_ATTRIBUTE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def render_deck(slides: Iterable[PlacedSlide], theme: Theme, meta: DeckMeta,
                timestamp: datetime) -> bytes:
    """The bytes of a .pptx for placed slides; the same input gives the same bytes (also
    when the last deck's slides are kept, keep_between_builds)."""
    global _kept
    prs = _presentation(theme)
    _name_parts_incrementally(prs.part.package)
    _apply_theme_fonts(prs, theme)
    last = _kept
    if last is not None and last.theme != theme:  # slides written in another look
        last = replace(last, slides={}, notes={})
    with Archive(timestamp, reuse=last.packed if last is not None else None) as archive:
        deck = _Deck(prs, theme, archive, last)
        for placed in slides:
            deck.add_slide(placed)
        _set_core_properties(prs, meta, timestamp)
        data = write_package(prs.part.package, archive, deck.last, deck.now)
    if deck.now is not None:  # this deck's, and no more: a long watch does not grow
        _kept = replace(deck.now, packed=archive.packed)
    return data


# --- the package --------------------------------------------------------------------------


def _name_parts_incrementally(package: Any) -> None:
    """python-pptx names each new part (notes page, picture) by walking every part of the
    package, which makes adding slides quadratic: a 2,000-slide deck spent minutes there.
    Walk once per name template instead, then hand out the free numbers in turn."""
    highest: dict[str, int] = {}  # the highest number taken, by name template

    def free_number(prefix: str) -> int:
        if prefix not in highest:
            highest[prefix] = max((part.partname.idx for part in package.iter_parts()
                                   if part.partname.startswith(prefix)
                                   and part.partname.idx is not None), default=0)
        highest[prefix] += 1
        return highest[prefix]

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


def _apply_theme_fonts(prs: Any, theme: Theme) -> None:
    """Name the theme's Latin and East Asian faces in every theme part's font scheme, so
    that text without explicit fonts and any new text a presenter types use them."""
    heading, body = theme.fonts["heading"], theme.fonts["body"]
    for part in prs.part.package.iter_parts():
        if part.content_type != THEME_CONTENT_TYPE:
            continue
        try:  # a template's theme was read and written anew; this is a second guard
            root = etree.fromstring(part.blob, etree.XMLParser(
                resolve_entities=False, no_network=True, load_dtd=False))
        except etree.XMLSyntaxError as exc:
            raise DeckgenError(f"not a valid presentation: part {part.partname} is not XML "
                               f"({exc})", theme.template.path if theme.template else None
                               ) from exc
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


def write_package(package: Any, archive: Archive, last: _Kept | None = None,
                  now: _Kept | None = None) -> bytes:
    """The package as a zip (archive.py): its parts in python-pptx's order, each followed
    by its relationships; the slides were handed to the archive as they were written.
    The .rels files the last deck wrote (`last`) are reused, this deck's kept in `now`."""

    def relationships_file(relationships: tuple[Listed, ...]) -> bytes:
        known = last.relationships.get(relationships) if last is not None else None
        if known is None:
            known = _relationships_xml(relationships)
        if now is not None:
            now.relationships[relationships] = known
        return known

    parts = _parts_in_order(package)
    entries = [("[Content_Types].xml", _content_types(parts)),
               ("_rels/.rels", relationships_file(_relationships(package, "/")))]
    for part in parts:
        entries.append((part.partname.membername, part.blob))
        relationships = _relationships(part, part.partname.baseURI)
        if relationships:
            entries.append((part.partname.rels_uri.membername,
                            relationships_file(relationships)))
    for name, data in entries:
        archive.prepare(name, data)
    for name, data in entries:
        archive.add(name, data)
    return archive.close()


def _parts_in_order(package: Any) -> list[Any]:
    """Every part once, in python-pptx's order: depth first along the relationships, from
    the package's (through the slides and notes pages written here too)."""
    ordered: list[Any] = []
    seen: set[int] = set()

    def visit(owner: Any) -> None:
        for _, target in _targets(owner):
            if isinstance(target, str) or id(target) in seen:
                continue
            seen.add(id(target))
            ordered.append(target)
            visit(target)

    visit(package)
    return ordered


def _targets(owner: Any) -> list[tuple[str, Any]]:
    """The relationships of a part (or of the package) in the order they were added: their
    type and target, a part or (for a hyperlink) an address."""
    if isinstance(owner, _WrittenPart):
        return owner.targets
    return [(rel.reltype, rel.target_ref if rel.is_external else rel.target_part)
            for rel in owner._rels.values()]


#: A relationship as its part's .rels lists it: id, type, target reference, external.
Listed = tuple[str, str, str, bool]


def _relationships(owner: Any, base_uri: str) -> tuple[Listed, ...]:
    """The relationships of a part (or of the package, base "/") in numerical order of
    their ids, as python-pptx lists them."""
    if isinstance(owner, _WrittenPart):  # rId1, rId2, … in order
        return tuple((f"rId{number}", kind, target, True) if isinstance(target, str)
                     else (f"rId{number}", kind, _relative_ref(target.partname, base_uri),
                           False)
                     for number, (kind, target) in enumerate(owner.targets, start=1))
    listed = [(rel_id, rel.reltype, rel.target_ref, True) if rel.is_external
              else (rel_id, rel.reltype, _relative_ref(rel.target_partname, base_uri), False)
              for rel_id, rel in owner._rels.items()]
    return tuple(sorted(listed, key=lambda rel: (int(rel[0][3:]) if rel[0].startswith("rId")
                                                 and rel[0][3:].isdigit() else 0, rel[0])))


@functools.lru_cache(maxsize=16384)
def _relative_ref(partname: str, base_uri: str) -> str:
    """python-pptx's reference from a part's folder to another part, remembered: every
    deck of a watch asks for the same ones."""
    return str(PackURI(partname).relative_ref(base_uri))


def _content_types(parts: list[Any]) -> bytes:
    """[Content_Types].xml as python-pptx writes it: a Default per known extension, sorted,
    an Override per other part, sorted by name."""
    defaults = {"rels": CONTENT_TYPE.OPC_RELATIONSHIPS, "xml": CONTENT_TYPE.XML}
    overrides = {}
    for part in parts:
        extension = part.partname.ext
        if (extension.lower(), part.content_type) in default_content_types:
            defaults[extension.lower()] = part.content_type
        else:
            overrides[str(part.partname)] = part.content_type
    items = [f'<Default Extension="{_attr(extension)}" ContentType="{_attr(kind)}"/>'
             for extension, kind in sorted(defaults.items())]
    items += [f'<Override PartName="{_attr(name)}" ContentType="{_attr(kind)}"/>'
              for name, kind in sorted(overrides.items())]
    return _xml_bytes(f'<Types xmlns="{CONTENT_TYPES_NS}">{"".join(items)}</Types>')


def _relationships_xml(relationships: tuple[Listed, ...]) -> bytes:
    """A part's .rels as python-pptx writes it."""
    items = []
    for rel_id, kind, target, external in relationships:
        mode = ' TargetMode="External"' if external else ""
        items.append(f'<Relationship Id="{_attr(rel_id)}" Type="{_attr(kind)}" '
                     f'Target="{_attr(target)}"{mode}/>')
    return _xml_bytes(f'<Relationships xmlns="{RELATIONSHIPS_NS}">{"".join(items)}'
                      "</Relationships>")


def _xml_bytes(xml: str) -> bytes:
    """A part's bytes: the XML declaration python-pptx writes, then the XML in UTF-8."""
    return (XML_DECLARATION + xml).encode("utf-8")


# --- XML text ----------------------------------------------------------------------------


def _text(value: str) -> str:
    """Text content as lxml writes it, control characters escaped as python-pptx does."""
    if UNWRITABLE.search(value):
        value = UNWRITABLE.sub(lambda match: f"_x{ord(match.group()):04X}_", value)
    if "&" in value:
        value = value.replace("&", "&amp;")
    if "<" in value:
        value = value.replace("<", "&lt;")
    if ">" in value:
        value = value.replace(">", "&gt;")
    return value


def _attr(value: str) -> str:
    """An attribute value as lxml writes it; characters XML cannot hold are dropped."""
    if UNWRITABLE_IN_ATTRIBUTE.search(value):
        value = UNWRITABLE_IN_ATTRIBUTE.sub("", value)
    for plain, escaped in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"),
                           ("\t", "&#9;"), ("\n", "&#10;"), ("\r", "&#13;")):
        if plain in value:
            value = value.replace(plain, escaped)
    return value


def _rgb(hex_colour: str) -> str:
    """"RRGGBB" (or "#rrggbb") as python-pptx's RGBColor writes it."""
    value = bytes.fromhex(hex_colour.lstrip("#"))
    if len(value) != 3:
        raise ValueError(f"{hex_colour!r} is not an RGB colour")
    return value.hex().upper()


def _solid_fill(colour: str) -> str:
    return f'<a:solidFill><a:srgbClr val="{_attr(colour)}"/></a:solidFill>'


def _xfrm(x: int, y: int, w: int, h: int, tag: str = "a:xfrm", flips: str = "") -> str:
    return f'<{tag}{flips}><a:off x="{x}" y="{y}"/><a:ext cx="{w}" cy="{h}"/></{tag}>'


def _points(value: float) -> int:
    """A spacing in points as python-pptx stores Pt(value): hundredths, rounded down."""
    return min(max(int(value * EMU_PER_PT) // 127, 0), MAX_SPACING)


def _line_width(points: float) -> int:
    return int(points * EMU_PER_PT)


# --- slides --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Copy:
    """A layout placeholder as python-pptx copies it onto a new slide: its `p:ph`
    attributes, the name its copy gets, whether it holds text, the box it inherits."""

    kind: str
    idx: int
    ph_attributes: str
    base_name: str
    has_text: bool
    box: tuple[int | None, int | None, int | None, int | None]

    def xml(self, shape_id: int, name: str, frame: str = "", body: str = "") -> str:
        """The copy's `p:sp` with a position (`frame`) and a text body's inner XML (else
        python-pptx's empty one)."""
        text = ""
        if self.has_text:
            text = f"<p:txBody>{body or EMPTY_TEXT_BODY + '<a:p/>'}</p:txBody>"
        spacing = f"<p:spPr>{frame}</p:spPr>" if frame else "<p:spPr/>"
        return (f'<p:sp><p:nvSpPr><p:cNvPr id="{shape_id}" name="{_attr(name)}"/>'
                f'<p:cNvSpPr><a:spLocks noGrp="1"/></p:cNvSpPr><p:nvPr>'
                f"<p:ph{self.ph_attributes}/></p:nvPr></p:nvSpPr>{spacing}{text}</p:sp>")


def _copies(placeholders: Iterable[Any], names: dict[str, str],
            inherited: Callable[[int], Any] | None = None) -> list[_Copy]:
    """What python-pptx's clone_placeholder makes of each placeholder: the `p:ph` with
    defaults left out, in the order type, idx, orient, sz."""
    copies = []
    for placeholder in placeholders:
        ph = placeholder.element.find(f"{qn('p:nvSpPr')}/{qn('p:nvPr')}/{qn('p:ph')}")
        kind = ph.get("type") or "obj"
        idx = int(ph.get("idx") or 0)
        orient = ph.get("orient") or "horz"
        size = ph.get("sz") or "full"
        attributes = "".join(
            (f' type="{_attr(kind)}"' if kind != "obj" else "",
             f' idx="{idx}"' if idx else "",
             f' orient="{_attr(orient)}"' if orient != "horz" else "",
             f' sz="{_attr(size)}"' if size != "full" else ""))
        base = names.get(kind, "Placeholder")
        if orient == "vert":
            base = f"Vertical {base}"
        box: tuple[int | None, int | None, int | None, int | None] = (None, None, None, None)
        source = inherited(idx) if inherited is not None else None
        if source is not None:
            box = (source.left, source.top, source.width, source.height)
        copies.append(_Copy(kind, idx, attributes, base, kind in TEXT_PLACEHOLDERS, box))
    return copies


#: A relationship of a slide or notes page: its type and what it points at, where the
#: type does not say: a picture's bytes, a hyperlink's address (None for the slide's layout
#: and notes page, the notes page's master and slide).
Relation = tuple[str, bytes | str | None]


@dataclass(frozen=True)
class _Written:
    """A slide or notes page as written: its XML and its relationships (rId1, rId2, … in
    this order). The same content gives the same one while the theme stays the same."""

    xml: bytes
    relations: tuple[Relation, ...]


#: What a slide's XML is made of (_slide_content).
SlideContent = tuple[object, ...]


def _slide_content(placed: PlacedSlide) -> SlideContent:
    """What a slide's XML is made of, without the lines of the note it came from (its
    pictures' references hold them): a slide that only moved down, as a line was added
    above it, is not written again. (Python hashes a picture's bytes once per bytes
    object, and pictures kept between builds are the same objects.)"""
    return (placed.kind, placed.background, tuple(
        (shape.name, shape.box, shape.image.data, shape.image.description)
        if isinstance(shape, PictureShape) else shape for shape in placed.shapes))


@dataclass(frozen=True)
class _Kept:
    """What a long-running process keeps of its last deck for the next one: the slides and
    notes pages as written (valid while the theme is the same), the extension of each
    picture (by the very bytes object: pictures kept between builds are the same
    objects), the .rels files by what they list, and the zip entries as packed."""

    theme: Theme | None = None
    slides: dict[SlideContent, _Written] = field(default_factory=dict)
    notes: dict[tuple[NotesLine, ...], _Written] = field(default_factory=dict)
    extensions: dict[int, tuple[bytes, str]] = field(default_factory=dict)
    relationships: dict[tuple[Listed, ...], bytes] = field(default_factory=dict)
    packed: PackedEntries = field(default_factory=PackedEntries)


_kept: _Kept | None = None


def keep_between_builds(keep: bool = True) -> None:
    """Start (or stop) keeping each deck's slides, as written and as packed, for the next
    deck (`build --watch`): a slide placed as before is not written or deflated again."""
    global _kept
    _kept = _Kept() if keep else None


class _WrittenPart(Part):
    """A slide or notes page written here, with the parts (and addresses) it relates to in
    the order of their ids: python-pptx's bookkeeping of them (a look through the part's
    relationships for each one added, each reference worked out again for every .rels
    file) took a third of the time a deck took to render."""

    def __init__(self, partname: PackURI, content_type: str, package: Any, blob: bytes,
                 targets: list[tuple[str, Any]]) -> None:
        super().__init__(partname, content_type, package, blob)
        self.targets = targets


def _picture_extension(data: bytes) -> str:
    """The extension python-pptx gives a picture: PNG and JPEG (all deckgen embeds) told by
    their signature; others by python-pptx itself, which opens them with Pillow (and
    imports its format plugins: ~5 ms of a short build)."""
    if data.startswith(PNG_SIGNATURE):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    return str(PackageImage.from_blob(data).ext)


class _PictureParts:
    """The package's picture parts, one per distinct picture (one the template has is
    reused). Found by size and a few bytes, then compared whole: hashing every picture
    (SHA-1 in python-pptx) cost more than writing all the slides."""

    def __init__(self, package: Any, last: _Kept | None, now: _Kept | None) -> None:
        self.package = package
        self.found: dict[tuple[int, bytes, bytes], list[Any]] | None = None
        self.last = last
        self.now = now

    def part(self, data: bytes) -> Any:
        """The picture part of these bytes, added to the package the first time."""
        if self.found is None:
            self.found = {}
            for part in self.package.iter_parts():
                if isinstance(part, ImagePart):
                    self.keep(part)
        for known in self.alike(data):
            if known.blob is data or known.blob == data:
                return known
        extension = self.extension(data)
        part = ImagePart(self.package.next_image_partname(extension),
                         image_content_types[extension], self.package, data)
        self.keep(part)
        return part

    def keep(self, part: Any) -> None:
        """Find this part by its bytes from now on (instead of an earlier one of the same
        bytes, as python-pptx's lookup by digest did)."""
        alike = self.alike(part.blob)
        alike[:] = [known for known in alike if known.blob != part.blob] + [part]

    def alike(self, data: bytes) -> list[Any]:
        """The parts that may hold these bytes."""
        assert self.found is not None
        return self.found.setdefault((len(data), data[:64], data[-64:]), [])

    def extension(self, data: bytes) -> str:
        """The file extension python-pptx gives a picture part of these bytes (Pillow
        tells the format)."""
        # an entry holds its bytes, so no other object has their id while it is kept
        known = self.last.extensions.get(id(data)) if self.last is not None else None
        extension = known[1] if known is not None else _picture_extension(data)
        if self.now is not None:
            self.now.extensions[id(data)] = (data, extension)
        return extension


class _Deck:
    """Adds slides and their notes pages to a python-pptx presentation: each slide's XML
    is written at once (or taken from the last deck, when it is placed as before)."""

    def __init__(self, prs: Any, theme: Theme, archive: Archive, last: _Kept | None) -> None:
        self.prs = prs
        self.theme = theme
        self.archive = archive
        #: What the last deck kept, and what this one keeps (when the process keeps any).
        self.last = last
        self.now = _Kept(theme) if last is not None else None
        self.package = prs.part.package
        self.text = _TextXml(theme)
        self.slide_ids = prs.part._element.get_or_add_sldIdLst()
        self.next_slide_id = max([255, *(int(slide_id.get("id"))
                                         for slide_id in self.slide_ids)]) + 1
        #: How many slides the list holds (lxml counts an element's children one by one).
        self.slide_count = len(self.slide_ids)
        self.layouts: dict[tuple[SlideKind, bool], tuple[Any, list[_Copy]]] = {}
        self.pictures = _PictureParts(self.package, last, self.now)
        self.notes_master: tuple[Any, list[_Copy]] | None = None

    def add_slide(self, placed: PlacedSlide) -> None:
        has_title = any(isinstance(s, TextShape) and s.is_title for s in placed.shapes)
        layout_part, copies = self.layout(placed.kind, has_title)
        self.slide_count += 1
        number = self.slide_count
        part = _WrittenPart(PackURI(f"/ppt/slides/slide{number}.xml"),
                            CONTENT_TYPE.PML_SLIDE, self.package, b"", [])
        # python-pptx's relate_to looks through every relationship of the presentation for
        # one to reuse, which makes adding slides quadratic; a new slide has none.
        rel_id = self.prs.part.rels._add_relationship(RELATIONSHIP_TYPE.SLIDE, part)
        slide_id = etree.SubElement(self.slide_ids, qn("p:sldId"))
        slide_id.set("id", str(self.next_slide_id))
        slide_id.set(qn("r:id"), rel_id)
        self.next_slide_id += 1
        written = self.slide_written(placed, copies)
        part.blob = written.xml
        part.targets = self.targets(written.relations,
                                    {RELATIONSHIP_TYPE.SLIDE_LAYOUT: layout_part})
        self.archive.prepare(part.partname.membername, part.blob)
        if placed.notes:
            part.targets.append((RELATIONSHIP_TYPE.NOTES_SLIDE,
                                 self.add_notes(part, tuple(notes_lines(placed.notes.blocks)))))

    def targets(self, relations: Iterable[Relation],
                fixed: dict[str, Any]) -> list[tuple[str, Any]]:
        """What relationships point at in this package: a picture's part, an address, or
        the part their type says (`fixed`, by type)."""
        return [(kind, fixed[kind] if target is None
                 else self.pictures.part(target) if isinstance(target, bytes) else target)
                for kind, target in relations]

    def slide_written(self, placed: PlacedSlide, copies: list[_Copy]) -> _Written:
        """A slide's XML and relationships: the last deck's for a slide of the same
        content, else written now."""
        if self.last is None or self.now is None:
            return self.write_slide(placed, copies)
        content = _slide_content(placed)
        written = self.last.slides.get(content) or self.write_slide(placed, copies)
        self.now.slides[content] = written
        return written

    def write_slide(self, placed: PlacedSlide, copies: list[_Copy]) -> _Written:
        """A slide's XML and relationships."""
        relations = _Relations(self, (RELATIONSHIP_TYPE.SLIDE_LAYOUT, None))
        slide = _SlideXml(self, relations, placed, copies)
        background = ""
        if self.theme.template is None:
            background = (f"<p:bg><p:bgPr>{_solid_fill(_rgb(placed.background))}"
                          "<a:effectLst/></p:bgPr></p:bg>")
        xml = _xml_bytes(f"<p:sld {NAMESPACES}><p:cSld>{background}<p:spTree>"
                         f"{GROUP_PROPERTIES}<p:grpSpPr/>{slide.shapes_xml()}"
                         f"</p:spTree></p:cSld>{COLOUR_MAP_OVERRIDE}</p:sld>")
        return _Written(xml, tuple(relations.listed))

    def layout(self, kind: SlideKind, has_title: bool) -> tuple[Any, list[_Copy]]:
        """The slide layout's part and the placeholders a new slide copies from it:
        python-pptx's Title Only or Blank, or the company template's layout for the role."""
        template = self.theme.template
        role_key = (kind if template is not None else SlideKind.CONTENT, has_title)
        known = self.layouts.get(role_key)
        if known is not None:
            return known
        if template is None:
            layout = self.prs.slide_layouts[TITLE_ONLY_LAYOUT if has_title else BLANK_LAYOUT]
        else:
            role = ("blank" if not has_title else "title" if kind is SlideKind.TITLE
                    else "section" if kind is SlideKind.SECTION else "title_only")
            chosen = template.layout(role)
            layout = self.prs.slide_masters[chosen.master].slide_layouts[chosen.index]
        copies = _copies(
            (ph for ph in layout.placeholders
             if (ph.element.find(f"{qn('p:nvSpPr')}/{qn('p:nvPr')}/{qn('p:ph')}")
                 .get("type") not in LATENT_PLACEHOLDERS)),
            PLACEHOLDER_NAMES, lambda idx: layout.placeholders.get(idx=idx))
        known = self.layouts[role_key] = (layout.part, copies)
        return known

    def notes_master_copies(self) -> tuple[Any, list[_Copy]]:
        """The notes master (python-pptx adds its default one the first time) and the
        placeholders a notes page copies from it: slide image, body and number."""
        if self.notes_master is None:
            master_part = self.prs.part.notes_master_part
            self.notes_master = (master_part, _copies(
                (ph for ph in master_part.notes_master.placeholders
                 if (ph.element.find(f"{qn('p:nvSpPr')}/{qn('p:nvPr')}/{qn('p:ph')}")
                     .get("type") or "obj") in NOTES_PLACEHOLDERS),
                NOTES_PLACEHOLDER_NAMES))
        return self.notes_master

    def write_notes(self, lines: tuple[NotesLine, ...]) -> _Written:
        """A notes page: python-pptx's copies of the notes master's slide image, body and
        number placeholders, the notes in the body."""
        _, copies = self.notes_master_copies()
        relations = _Relations(self, (RELATIONSHIP_TYPE.NOTES_MASTER, None),
                               (RELATIONSHIP_TYPE.SLIDE, None))
        body = next((copy for copy in copies if copy.kind == "body"), None)
        shapes = []
        for shape_id, copy in enumerate(copies, start=2):
            text = ""
            if copy is body:
                paragraphs = self.text.notes(lines, relations) or "<a:p/>"
                text = EMPTY_TEXT_BODY + paragraphs
            shapes.append(copy.xml(shape_id, f"{copy.base_name} {shape_id - 1}", body=text))
        return _Written(_xml_bytes(
            f"<p:notes {NAMESPACES}><p:cSld><p:spTree>{GROUP_PROPERTIES}<p:grpSpPr>"
            '<a:xfrm><a:off x="0" y="0"/><a:ext cx="0" cy="0"/><a:chOff x="0" y="0"/>'
            f'<a:chExt cx="0" cy="0"/></a:xfrm></p:grpSpPr>{"".join(shapes)}</p:spTree>'
            f"</p:cSld>{COLOUR_MAP_OVERRIDE}</p:notes>"), tuple(relations.listed))

    def add_notes(self, slide_part: _WrittenPart,
                  lines: tuple[NotesLine, ...]) -> _WrittenPart:
        """The slide's notes page, added to the package (written again only for notes
        that differ from every page of the last deck)."""
        master_part, _ = self.notes_master_copies()
        if self.last is None or self.now is None:
            written = self.write_notes(lines)
        else:
            written = self.last.notes.get(lines) or self.write_notes(lines)
            self.now.notes[lines] = written
        part = _WrittenPart(self.package.next_partname("/ppt/notesSlides/notesSlide%d.xml"),
                            CONTENT_TYPE.PML_NOTES_SLIDE, self.package, written.xml, [])
        part.targets = self.targets(written.relations,
                                    {RELATIONSHIP_TYPE.NOTES_MASTER: master_part,
                                     RELATIONSHIP_TYPE.SLIDE: slide_part})
        self.archive.prepare(part.partname.membername, part.blob)
        return part


class _Relations:
    """The relationships a new slide or notes page asks for, numbered rId1, rId2, … in the
    order they are first asked for, as python-pptx numbers those of a new part; a picture
    or an address asked for again keeps its id."""

    def __init__(self, deck: _Deck, *fixed: Relation) -> None:
        self.deck = deck
        self.listed: list[Relation] = []
        self.ids: dict[object, str] = {}
        for relation in fixed:
            self.add(relation, relation)

    def add(self, key: object, relation: Relation) -> str:
        rel_id = self.ids.get(key)
        if rel_id is None:
            self.listed.append(relation)
            rel_id = self.ids[key] = f"rId{len(self.listed)}"
        return rel_id

    def picture(self, data: bytes) -> str:
        """The id of the relationship to the picture part of these bytes."""
        return self.add(self.deck.pictures.part(data), (RELATIONSHIP_TYPE.IMAGE, data))

    def __call__(self, address: str) -> str:
        """The id of the hyperlink to an address."""
        return self.add(address, (RELATIONSHIP_TYPE.HYPERLINK, address))


class _SlideXml:
    """The shapes of one slide as XML, numbered and related as python-pptx would add them:
    the layout's placeholders first (those left empty are dropped), then each shape."""

    def __init__(self, deck: _Deck, relations: _Relations, placed: PlacedSlide,
                 copies: list[_Copy]) -> None:
        self.deck = deck
        self.theme = deck.theme
        self.text = deck.text
        self.placed = placed
        self.copies = copies
        self.links = relations
        self.next_id = len(copies) + 2
        #: The id python-pptx gave each copied placeholder, in the layout's order.
        self.copy_ids = {id(copy): number for number, copy in enumerate(copies, start=2)}

    def shapes_xml(self) -> str:
        drawn = self.template_placeholders()
        title = next((copy for copy in self.copies if copy.idx == 0), None)
        pieces = []
        for shape in self.placed.shapes:
            if shape.name in drawn:
                pieces.append(drawn[shape.name])
            elif isinstance(shape, TextShape):
                if shape.is_title and title is not None:
                    pieces.append(self.title(shape, title))
                else:
                    pieces.append(self.text_shape(shape))
            else:
                pieces.append(self.shape(shape))
        return "".join(pieces)

    def new_id(self) -> int:
        shape_id = self.next_id
        self.next_id += 1
        return shape_id

    def shape(self, shape: Shape) -> str:
        if isinstance(shape, PictureShape):
            return self.picture(shape)
        if isinstance(shape, FillShape):
            return self.fill_shape(shape)
        if isinstance(shape, LineShape):
            return self.line(shape)
        if isinstance(shape, TableShape):
            return self.table(shape)
        return self.text_shape(shape)

    # --- placeholders -------------------------------------------------------------------

    def template_placeholders(self) -> dict[str, str]:
        """On a company template's title or section slide, the title (and the subtitle and
        byline) drawn in the layout's placeholders: shape name -> the placeholder's XML
        ("" for text merged into a placeholder already listed)."""
        placed = self.placed
        if self.theme.template is None or placed.kind not in (SlideKind.TITLE,
                                                              SlideKind.SECTION):
            return {}
        texts = [shape for shape in placed.shapes if isinstance(shape, TextShape)]
        title = next((shape for shape in texts if shape.is_title), None)
        title_copy = next((copy for copy in self.copies if copy.idx == 0), None)
        drawn: dict[str, str] = {}
        if title is not None and title_copy is not None:
            drawn[title.name] = self.fill_placeholder(title_copy, [title])
        rest = [shape for shape in texts if not shape.is_title]
        subtitle = self.subtitle_copy()
        if placed.kind is SlideKind.TITLE and rest and subtitle is not None:
            drawn.update({shape.name: "" for shape in rest})
            drawn[rest[0].name] = self.fill_placeholder(subtitle, rest)
        return drawn

    def subtitle_copy(self) -> _Copy | None:
        """The subtitle placeholder, else the body placeholder with index 1."""
        ordered = sorted(self.copies, key=lambda copy: copy.idx)
        for copy in ordered:
            if copy.kind == "subTitle":
                return copy
        for copy in ordered:
            if copy.idx == 1 and copy.kind in ("body", "obj"):
                return copy
        return None

    def fill_placeholder(self, copy: _Copy, shapes: list[TextShape]) -> str:
        """The text laid out for `shapes` (stacked top to bottom) in one template
        placeholder at the placeholder's own box: every size scaled by the factor that
        makes the measured lines fit it; colour, alignment and anchoring the template's."""
        box = copy.box
        gaps = [max(after.box.y - before.box.bottom, 0)
                for before, after in itertools.pairwise(shapes)]
        inner_width = max(s.box.w - s.insets[0] - s.insets[2] for s in shapes)
        inner_height = sum(s.box.h - s.insets[1] - s.insets[3] for s in shapes) + sum(gaps)
        frame = ""
        if None in box:
            first = shapes[0].box
            frame = _xfrm(first.x, first.y, first.w, inner_height + 2 * TEXT_INSET)
            scale = 1.0
        else:
            scale = fit_scale(inner_width, inner_height, Box(*(int(v or 0) for v in box)),
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
        if not _has_text(paragraphs):
            return ""
        inset = TEXT_INSET
        body = (f'<a:bodyPr wrap="square" lIns="{inset}" rIns="{inset}" tIns="{inset}" '
                f'bIns="{inset}"><a:noAutofit/></a:bodyPr><a:lstStyle/>'
                f"{self.text.paragraphs(paragraphs, self.links)}")
        shape_id = self.copy_ids[id(copy)]
        return copy.xml(shape_id, f"{copy.base_name} {shape_id - 1}", frame, body)

    def title(self, shape: TextShape, copy: _Copy) -> str:
        """The title in the layout's title placeholder, moved to the title's box; on a
        company template in the template's colour and alignment."""
        anchor = ""
        if self.theme.template is not None:
            shape = replace(shape, paragraphs=tuple(
                replace(paragraph, color="", align="") for paragraph in shape.paragraphs))
        else:
            anchor = f' anchor="{ANCHOR[shape.anchor]}"'
        if not _has_text(shape.paragraphs):
            return ""
        body = (f"{self.body_properties(shape, anchor)}<a:lstStyle/>"
                f"{self.text.paragraphs(shape.paragraphs, self.links)}")
        box = shape.box
        xml = copy.xml(self.copy_ids[id(copy)], shape.name, _xfrm(box.x, box.y, box.w, box.h),
                       body)
        return self.with_click(xml, shape.link)

    # --- shapes ---------------------------------------------------------------------------

    def body_properties(self, shape: TextShape, after: str = "", before: str = "") -> str:
        left, top, right, bottom = shape.insets
        return (f'<a:bodyPr{before} wrap="square" lIns="{left}" tIns="{top}" rIns="{right}" '
                f'bIns="{bottom}"{after}><a:noAutofit/></a:bodyPr>')

    def with_click(self, xml: str, link: str | None) -> str:
        """A shape that opens `link` when clicked (the first `p:cNvPr` gets the link)."""
        if not link or not clickable(link):
            return xml
        start = xml.index("<p:cNvPr ")
        end = xml.index("/>", start)
        click = f'<a:hlinkClick r:id="{self.links(link)}"/>'
        return f"{xml[:end]}>{click}</p:cNvPr>{xml[end + 2:]}"

    def text_shape(self, shape: TextShape) -> str:
        """A text box, or a filled (or bordered) shape with text."""
        box = shape.box
        shape_id = self.new_id()
        frame = _xfrm(box.x, box.y, box.w, box.h)
        anchor = ANCHOR[shape.anchor]
        if shape.fill is not None or shape.border is not None:
            first = '<a:pPr algn="ctr"/>'
            paragraphs = self.text.paragraphs(shape.paragraphs, self.links, first)
            body = self.body_properties(shape, before=f' rtlCol="0" anchor="{anchor}"')
            xml = (f'<p:sp><p:nvSpPr><p:cNvPr id="{shape_id}" name="{_attr(shape.name)}"/>'
                   f"<p:cNvSpPr/><p:nvPr/></p:nvSpPr><p:spPr>{frame}"
                   f'<a:prstGeom prst="{_attr(shape.geometry)}"><a:avLst/></a:prstGeom>'
                   f"{self.plain_style(shape.fill, shape.border, shape.dashed)}</p:spPr>"
                   f"<p:txBody>{body}<a:lstStyle/>{paragraphs or f'<a:p>{first}</a:p>'}"
                   "</p:txBody></p:sp>")
        else:
            paragraphs = self.text.paragraphs(shape.paragraphs, self.links)
            body = self.body_properties(shape, f' anchor="{anchor}"')
            xml = (f'<p:sp><p:nvSpPr><p:cNvPr id="{shape_id}" name="{_attr(shape.name)}"/>'
                   f'<p:cNvSpPr txBox="1"/><p:nvPr/></p:nvSpPr><p:spPr>{frame}'
                   '<a:prstGeom prst="rect"><a:avLst/></a:prstGeom><a:noFill/></p:spPr>'
                   f"<p:txBody>{body}<a:lstStyle/>{paragraphs or '<a:p/>'}</p:txBody></p:sp>")
        return self.with_click(xml, shape.link)

    def plain_style(self, fill: str | None, border: str | None, dashed: bool = False,
                    border_pt: float = 1.25) -> str:
        """A shape coloured only by us: no theme style (shadows, default colours)."""
        fill_xml = "<a:noFill/>" if fill is None else _solid_fill(_rgb(fill))
        if border is None:
            return f"{fill_xml}<a:ln><a:noFill/></a:ln>"
        dash = '<a:prstDash val="dash"/>' if dashed else ""
        return (f'{fill_xml}<a:ln w="{_line_width(border_pt)}">{_solid_fill(_rgb(border))}'
                f"{dash}</a:ln>")

    def fill_shape(self, shape: FillShape) -> str:
        box = shape.box
        return (f'<p:sp><p:nvSpPr><p:cNvPr id="{self.new_id()}" name="{_attr(shape.name)}"/>'
                f"<p:cNvSpPr/><p:nvPr/></p:nvSpPr><p:spPr>{_xfrm(box.x, box.y, box.w, box.h)}"
                f'<a:prstGeom prst="{shape.geometry}"><a:avLst/></a:prstGeom>'
                f"{self.plain_style(shape.fill, shape.border, border_pt=3)}</p:spPr>"
                '<p:txBody><a:bodyPr rtlCol="0" anchor="ctr"/><a:lstStyle/>'
                '<a:p><a:pPr algn="ctr"/></a:p></p:txBody></p:sp>')

    def line(self, shape: LineShape) -> str:
        flips = ((' flipH="1"' if shape.x1 > shape.x2 else "")
                 + (' flipV="1"' if shape.y1 > shape.y2 else ""))
        frame = _xfrm(min(shape.x1, shape.x2), min(shape.y1, shape.y2),
                      abs(shape.x2 - shape.x1), abs(shape.y2 - shape.y1), flips=flips)
        arrow = '<a:tailEnd type="triangle" w="med" len="med"/>' if shape.arrow else ""
        return (f'<p:cxnSp><p:nvCxnSpPr><p:cNvPr id="{self.new_id()}" '
                f'name="{_attr(shape.name)}"/><p:cNvCxnSpPr/><p:nvPr/></p:nvCxnSpPr>'
                f'<p:spPr>{frame}<a:prstGeom prst="line"><a:avLst/></a:prstGeom>'
                f'<a:ln w="{_line_width(shape.width_pt)}">{_solid_fill(_rgb(shape.color))}'
                f"{arrow}</a:ln></p:spPr></p:cxnSp>")

    def picture(self, shape: PictureShape) -> str:
        box = shape.box
        rel_id = self.links.picture(shape.image.data)
        return (f'<p:pic><p:nvPicPr><p:cNvPr id="{self.new_id()}" name="{_attr(shape.name)}" '
                f'descr="{_attr(shape.image.description)}"/><p:cNvPicPr>'
                '<a:picLocks noChangeAspect="1"/></p:cNvPicPr><p:nvPr/></p:nvPicPr>'
                f'<p:blipFill><a:blip r:embed="{rel_id}"/><a:stretch><a:fillRect/></a:stretch>'
                f"</p:blipFill><p:spPr>{_xfrm(box.x, box.y, box.w, box.h)}"
                '<a:prstGeom prst="rect"><a:avLst/></a:prstGeom></p:spPr></p:pic>')

    def table(self, shape: TableShape) -> str:
        """A native table: header row, banded rows, thin borders of one colour (instead of
        the white lines of python-pptx's default style, which show on a dark slide)."""
        box = shape.box
        shape_id = self.new_id()
        columns = "".join(f'<a:gridCol w="{width}"/>' for width in shape.columns)
        inset = shape.cell_insets
        border = _attr(shape.border.lstrip("#").upper())
        lines = "".join(f'<a:{side} w="{EMU_PER_PT}" cap="flat" cmpd="sng" algn="ctr">'
                        f'<a:solidFill><a:srgbClr val="{border}"/></a:solidFill></a:{side}>'
                        for side in ("lnL", "lnR", "lnT", "lnB"))
        rows = []
        for row_index, height in enumerate(shape.rows):
            fill = _rgb(shape.header_fill if row_index == 0 else (
                shape.band_fill if row_index % 2 == 0 else self.theme.color("background")))
            cell_properties = (f'<a:tcPr marL="{inset}" marR="{inset}" marT="{inset}" '
                               f'marB="{inset}" anchor="t">{lines}{_solid_fill(fill)}</a:tcPr>')
            row = shape.cells[row_index] if row_index < len(shape.cells) else ()
            cells = []
            for column in range(len(shape.columns)):
                if column >= len(row):  # a cell the layout left out keeps python-pptx's
                    cells.append(f"<a:tc><a:txBody>{EMPTY_TEXT_BODY}<a:p/></a:txBody>"
                                 "<a:tcPr/></a:tc>")
                    continue
                paragraphs = self.text.paragraphs(row[column], self.links) or "<a:p/>"
                cells.append('<a:tc><a:txBody><a:bodyPr wrap="square"/><a:lstStyle/>'
                             f"{paragraphs}</a:txBody>{cell_properties}</a:tc>")
            rows.append(f'<a:tr h="{height}">{"".join(cells)}</a:tr>')
        return (f'<p:graphicFrame><p:nvGraphicFramePr><p:cNvPr id="{shape_id}" '
                f'name="{_attr(shape.name)}"/><p:cNvGraphicFramePr>'
                '<a:graphicFrameLocks noGrp="1"/></p:cNvGraphicFramePr><p:nvPr/>'
                f'</p:nvGraphicFramePr>{_xfrm(box.x, box.y, box.w, box.h, "p:xfrm")}'
                f'<a:graphic><a:graphicData uri="{TABLE_URI}"><a:tbl><a:tblPr firstRow="1">'
                f"<a:tableStyleId>{TABLE_STYLE}</a:tableStyleId></a:tblPr>"
                f"<a:tblGrid>{columns}</a:tblGrid>{''.join(rows)}</a:tbl></a:graphicData>"
                "</a:graphic></p:graphicFrame>")


def _has_text(paragraphs: Iterable[PlacedParagraph]) -> bool:
    """Whether paragraphs show any text (python-pptx's empty placeholders are dropped)."""
    return any(_text(span.text).strip() for paragraph in paragraphs for span in paragraph.spans)


# --- text ----------------------------------------------------------------------------------


class _TextXml:
    """Paragraphs and runs as XML, with the theme's faces and language on every run; the
    properties of runs and paragraphs are written once per style and reused."""

    def __init__(self, theme: Theme) -> None:
        self.theme = theme
        self.lang = _attr(theme.lang)
        self.run_styles: dict[tuple[Any, ...], str] = {}
        self.paragraph_styles: dict[tuple[Any, ...], str] = {}

    def paragraphs(self, paragraphs: Iterable[PlacedParagraph], links: _Relations,
                   first_properties: str = "") -> str:
        """Slide paragraphs; `first_properties` is the `a:pPr` python-pptx's new shape
        already has in its first paragraph (an autoshape's centring)."""
        pieces = []
        for index, placed in enumerate(paragraphs):
            pieces.append(self.paragraph(placed, links, "" if index else first_properties))
        return "".join(pieces)

    def paragraph(self, placed: PlacedParagraph, links: _Relations, existing: str = "") -> str:
        runs = []
        for span in placed.spans:
            for index, piece in enumerate(span.text.split("\n")):
                if index:
                    runs.append("<a:br/>")
                if piece:
                    runs.append(self.run(span, piece, placed, links))
        return (f"<a:p>{self.paragraph_properties(placed, existing)}{''.join(runs)}"
                f'<a:endParaRPr sz="{round(placed.size * 100)}" lang="{self.lang}"/></a:p>')

    def paragraph_properties(self, placed: PlacedParagraph, existing: str) -> str:
        key = (placed.align, placed.margin_left, placed.hanging, placed.line_spacing,
               placed.space_before, placed.marker, existing)
        known = self.paragraph_styles.get(key)
        if known is not None:
            return known
        # "" keeps a template placeholder's (or a new autoshape's centred) alignment
        align = ALIGN.get(placed.align, "l") if placed.align else (
            "ctr" if existing else "")
        aligned = f' algn="{align}"' if align else ""
        attributes = (f'{aligned} hangingPunct="0" marL="{placed.margin_left}" '
                      f'indent="{-placed.hanging}"')
        spacing = ""
        if placed.line_spacing:
            spacing = f'<a:lnSpc><a:spcPts val="{_points(placed.line_spacing)}"/></a:lnSpc>'
        spacing += f'<a:spcBef><a:spcPts val="{_points(placed.space_before)}"/></a:spcBef>'
        known = self.paragraph_styles[key] = (
            f"<a:pPr{attributes}>{spacing}{self.bullet(placed.marker)}</a:pPr>")
        return known

    def bullet(self, marker: str) -> str:
        if not marker:
            return "<a:buNone/>"
        colour = f'<a:buClr><a:srgbClr val="{_attr(self.theme.color("accent"))}"/></a:buClr>'
        font = f'<a:buFont typeface="{_attr(self.theme.fonts["body"].latin)}"/>'
        if marker[:-1].isdigit() and marker.endswith("."):
            return f'{colour}{font}<a:buAutoNum type="arabicPeriod" startAt="{marker[:-1]}"/>'
        return f'{colour}{font}<a:buChar char="{_attr(marker)}"/>'

    def run(self, span: Span, text: str, placed: PlacedParagraph, links: _Relations) -> str:
        """A run with size, weight, colour, both typefaces and language."""
        theme = self.theme
        role = placed.role
        bold = placed.bold or span.bold
        colour = placed.color
        if span.code and role != "code":
            if theme.inline_code_monospace:
                role = "code"
            colour = theme.inline_code_color.lstrip("#").upper()
            bold = bold or theme.inline_code_bold
        link = links(span.link) if span.link and clickable(span.link) else ""
        if link:
            colour = theme.color("link")
        key = (role, round(placed.size * 100), bold, placed.italic or span.italic,
               span.strike, colour, link)
        properties = self.run_styles.get(key)
        if properties is None:
            properties = self.run_styles[key] = self.run_properties(*key)
        return f"<a:r>{properties}<a:t>{_text(text)}</a:t></a:r>"

    def run_properties(self, role: str, size: int, bold: bool, italic: bool, strike: bool,
                       colour: str, link: str) -> str:
        face = self.theme.fonts[role]
        struck = ' strike="sngStrike"' if strike else ""
        underlined = ' u="sng"' if link else ""
        attributes = (f'lang="{self.lang}" altLang="en-US" sz="{size}" b="{int(bold)}" '
                      f'i="{int(italic)}"{struck}{underlined}')
        fill = _solid_fill(colour) if colour else ""  # "" keeps a placeholder's colour
        click = f'<a:hlinkClick r:id="{link}"/>' if link else ""
        return (f'<a:rPr {attributes}>{fill}<a:latin typeface="{_attr(face.latin)}"/>'
                f'<a:ea typeface="{_attr(face.east_asian)}"/>'
                f'<a:cs typeface="{_attr(face.latin)}"/>{click}</a:rPr>')

    def notes(self, lines: Iterable[NotesLine], links: _Relations) -> str:
        """Speaker-notes paragraphs (notes_lines): 12 pt, levels kept, links spelled out."""
        pieces = []
        for level, prefix, spans, role in lines:
            depth = min(level, 8)
            runs = []
            placed = PlacedParagraph(spans, 12.0, self.theme.color("text"), role)
            if prefix:
                runs.append(self.run(Span(prefix), prefix, placed, links))
            for span in spans:
                for index, piece in enumerate(span.text.split("\n")):
                    if index:
                        runs.append("<a:br/>")
                    if piece:
                        runs.append(self.run(span, piece, placed, links))
                address = span.link or span.address  # a refused link's too, as text
                if address and address != span.text:
                    runs.append(self.run(Span(""), f" ({address})", placed, links))
            properties = f'<a:pPr lvl="{depth}"/>' if depth else "<a:pPr/>"
            pieces.append(f"<a:p>{properties}{''.join(runs)}</a:p>")
        return "".join(pieces)
