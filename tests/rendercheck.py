"""Render-check harness: render a .pptx with LibreOffice and check where every word landed."""

from __future__ import annotations

import math
import os
import re
import shutil
import signal
import subprocess
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from lxml import etree
from pptx import Presentation
from pptx.shapes.autoshape import Shape
from pptx.shapes.base import BaseShape
from pptx.shapes.graphfrm import GraphicFrame
from pptx.shapes.group import GroupShape
from pptx.shapes.picture import Picture
from pptx.slide import Slide

__all__ = [
    "FONTS_CONF",
    "SOFFICE_MISSING_REASON",
    "Page",
    "RenderError",
    "ShapeBox",
    "Word",
    "hidden_slides",
    "misplaced_words",
    "normalize",
    "read_pages",
    "render_pdf",
    "shape_boxes",
    "soffice_available",
    "word_boxes",
]

#: The fontconfig file the renders use; it must be passed as an absolute path.
FONTS_CONF = Path(__file__).resolve().with_name("fonts.conf")

SOFFICE_MISSING_REASON = (
    "LibreOffice (soffice) or poppler-utils (pdftotext) not installed: "
    "apt-get install libreoffice-impress poppler-utils"
)

EMU_PER_PT = 12700

_NS = {
    "a": "http://schemas.openxmlformats.org/drawingml/2006/main",
    "p": "http://schemas.openxmlformats.org/presentationml/2006/main",
}
_XHTML = "{http://www.w3.org/1999/xhtml}"


class RenderError(RuntimeError):
    """soffice or pdftotext failed; the message carries the tool's output."""


@dataclass(frozen=True)
class Word:
    """One word as pdftotext found it, in PDF points with the origin at the top left."""

    text: str
    x0: float
    y0: float
    x1: float
    y1: float


@dataclass(frozen=True)
class Page:
    """One rendered page (slide): its size in points and its words in reading order."""

    width: float
    height: float
    words: tuple[Word, ...]


@dataclass(frozen=True)
class ShapeBox:
    """A shape (or one table cell) of a slide: its box in points, its text, and its kind.

    `origin` is "slide" for the slide's own shapes and "layout" / "master" for the
    non-placeholder shapes a slide shows from its layout and master.
    """

    name: str
    x0: float
    y0: float
    x1: float
    y1: float
    text: str
    is_picture: bool = False
    origin: str = "slide"

    def describe(self) -> str:
        """The shape's name and box for messages."""
        prefix = "" if self.origin == "slide" else f"{self.origin} "
        return f"{prefix}shape {self.name!r} (box {_fmt_box(self.x0, self.y0, self.x1, self.y1)})"


# --- rendering ---------------------------------------------------------------------------


def _soffice() -> str | None:
    return os.environ.get("SOFFICE") or shutil.which("soffice") or shutil.which("libreoffice")


def soffice_available() -> bool:
    """Whether LibreOffice and pdftotext are installed, so render tests can run."""
    return _soffice() is not None and shutil.which("pdftotext") is not None


def render_pdf(pptx: Path, outdir: Path, timeout: float = 180) -> Path:
    """Convert `pptx` to `outdir/<stem>.pdf` with headless LibreOffice and return that path.

    soffice runs with a private profile under `outdir` (so parallel runs do not clash)
    and with FONTCONFIG_FILE set to tests/fonts.conf (absolute: fontconfig resolves a
    relative FONTCONFIG_FILE against /etc/fonts, not the working directory).
    Raises RenderError with soffice's output when no PDF appears.
    """
    soffice = _soffice()
    if soffice is None:
        raise RenderError(SOFFICE_MISSING_REASON)
    outdir.mkdir(parents=True, exist_ok=True)
    outdir = outdir.resolve()
    pdf = outdir / f"{pptx.stem}.pdf"
    pdf.unlink(missing_ok=True)
    profile = outdir / ".lo-profile"
    cmd = [
        soffice,
        f"-env:UserInstallation={profile.as_uri()}",
        "--headless",
        "--norestore",
        "--convert-to",
        "pdf",
        "--outdir",
        str(outdir),
        str(pptx.resolve()),
    ]
    env = dict(os.environ, FONTCONFIG_FILE=str(FONTS_CONF))
    # soffice is a wrapper that starts soffice.bin; run it in its own session so a
    # timeout can kill the whole process group, not just the wrapper.
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        raise RenderError(
            f"soffice timed out after {timeout:g}s converting {pptx}:\n"
            + out.decode("utf-8", "replace")
        ) from None
    if not pdf.is_file() or pdf.stat().st_size == 0:
        raise RenderError(
            f"soffice made no PDF from {pptx} (exit status {proc.returncode}); "
            f"command: {' '.join(cmd)}\n" + out.decode("utf-8", "replace")
        )
    return pdf


# --- words on the rendered pages ---------------------------------------------------------


def pdftotext_text(output: bytes) -> str:
    """pdftotext's XHTML as text: it writes a character outside the Basic Multilingual Plane
    (an emoji in a title or on a slide) as two UTF-8-encoded surrogates (CESU-8), which no
    XML parser accepts; the pairs are joined back into the character."""
    text = output.decode("utf-8", "surrogatepass")
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def read_pages(pdf: Path) -> list[Page]:
    """Every page of `pdf` with its size and words, from `pdftotext -bbox-layout`."""
    try:
        result = subprocess.run(
            ["pdftotext", "-bbox-layout", "-enc", "UTF-8", str(pdf), "-"],
            capture_output=True,
            check=True,
            timeout=120,
        )
    except subprocess.CalledProcessError as exc:
        raise RenderError(
            f"pdftotext failed on {pdf}: " + exc.stderr.decode("utf-8", "replace")
        ) from exc
    root = ET.fromstring(pdftotext_text(result.stdout))
    pages: list[Page] = []
    for page in root.iter(f"{_XHTML}page"):
        words = tuple(
            Word(
                text=word.text or "",
                x0=float(word.attrib["xMin"]),
                y0=float(word.attrib["yMin"]),
                x1=float(word.attrib["xMax"]),
                y1=float(word.attrib["yMax"]),
            )
            for word in page.iter(f"{_XHTML}word")
        )
        pages.append(Page(float(page.attrib["width"]), float(page.attrib["height"]), words))
    return pages


def word_boxes(pdf: Path) -> list[list[Word]]:
    """The words of every page of `pdf` (see `read_pages` for the page sizes too)."""
    return [list(page.words) for page in read_pages(pdf)]


# --- shapes of the deck ------------------------------------------------------------------

# An affine map from a shape tree's coordinates to slide EMU: x -> sx * x + tx, y likewise.
_Transform = tuple[float, float, float, float]
_IDENTITY: _Transform = (1.0, 1.0, 0.0, 0.0)


def _child_transform(group: GroupShape, outer: _Transform) -> _Transform:
    """The map for a group's children: chOff/chExt of the group onto its off/ext."""
    xfrm = group.element.find("p:grpSpPr/a:xfrm", _NS)
    if xfrm is None:
        return outer
    parts = {tag: xfrm.find(f"a:{tag}", _NS) for tag in ("off", "ext", "chOff", "chExt")}
    if any(part is None for part in parts.values()):
        return outer

    def num(tag: str, attr: str) -> float:
        part = parts[tag]
        return float(part.get(attr, "0")) if part is not None else 0.0

    sx = num("ext", "cx") / num("chExt", "cx") if num("chExt", "cx") else 1.0
    sy = num("ext", "cy") / num("chExt", "cy") if num("chExt", "cy") else 1.0
    tx = num("off", "x") - num("chOff", "x") * sx
    ty = num("off", "y") - num("chOff", "y") * sy
    osx, osy, otx, oty = outer
    return (osx * sx, osy * sy, osx * tx + otx, osy * ty + oty)


def _box_pt(
    left: float, top: float, width: float, height: float, tr: _Transform, rotation: float = 0.0
) -> tuple[float, float, float, float]:
    """A box given in tree coordinates (EMU) as slide points, enlarged to hold a rotation."""
    sx, sy, tx, ty = tr
    x0, y0 = sx * left + tx, sy * top + ty
    w, h = sx * width, sy * height
    if rotation % 180:
        theta = math.radians(rotation)
        cx, cy = x0 + w / 2, y0 + h / 2
        w, h = (
            abs(w * math.cos(theta)) + abs(h * math.sin(theta)),
            abs(w * math.sin(theta)) + abs(h * math.cos(theta)),
        )
        x0, y0 = cx - w / 2, cy - h / 2
    return (x0 / EMU_PER_PT, y0 / EMU_PER_PT, (x0 + w) / EMU_PER_PT, (y0 + h) / EMU_PER_PT)


def _shown_text(shape: Shape, number: int) -> str:
    """The shape's text as drawn: a `slidenum` field shows `number`, not its cached text."""
    text: str = shape.text_frame.text
    for field in shape.element.iterfind(".//a:fld", _NS):
        cached = "".join(t.text or "" for t in field.iterfind("a:t", _NS))
        if field.get("type") == "slidenum" and cached:
            text = text.replace(cached, str(number), 1)
    return text


def _shape_boxes(
    shapes: Iterable[BaseShape], tr: _Transform, origin: str, number: int
) -> Iterator[ShapeBox]:
    for shape in shapes:
        if origin != "slide" and shape.is_placeholder:
            continue  # layout/master placeholders are only prompts for the slide's own
        if isinstance(shape, GroupShape):
            yield from _shape_boxes(shape.shapes, _child_transform(shape, tr), origin, number)
            continue
        left, top, width, height = shape.left, shape.top, shape.width, shape.height
        if left is None or top is None or width is None or height is None:
            continue
        if isinstance(shape, GraphicFrame) and shape.has_table:
            yield from _cell_boxes(shape, tr, origin)
            continue
        box = _box_pt(left, top, width, height, tr, shape.rotation)
        if isinstance(shape, Picture):
            yield ShapeBox(shape.name, *box, text="", is_picture=True, origin=origin)
        elif isinstance(shape, Shape) and shape.has_text_frame:
            text = _shown_text(shape, number)
            yield ShapeBox(shape.name, *box, text=text, origin=origin)
        else:
            yield ShapeBox(shape.name, *box, text="", origin=origin)


def _cell_boxes(frame: GraphicFrame, tr: _Transform, origin: str) -> Iterator[ShapeBox]:
    """One box per table cell (a merged cell spans its columns and rows)."""
    table = frame.table
    xs = [float(frame.left)]
    for c in range(len(table.columns)):
        xs.append(xs[-1] + table.columns[c].width)
    ys = [float(frame.top)]
    for r in range(len(table.rows)):
        ys.append(ys[-1] + table.rows[r].height)
    for r in range(len(table.rows)):
        for c in range(len(table.columns)):
            cell = table.cell(r, c)
            if cell.is_spanned:
                continue
            c1 = min(c + (cell.span_width if cell.is_merge_origin else 1), len(xs) - 1)
            r1 = min(r + (cell.span_height if cell.is_merge_origin else 1), len(ys) - 1)
            box = _box_pt(xs[c], ys[r], xs[c1] - xs[c], ys[r1] - ys[r], tr)
            yield ShapeBox(f"{frame.name} cell ({r},{c})", *box, text=cell.text, origin=origin)


def _shows_master_shapes(element: etree._Element) -> bool:
    return element.get("showMasterSp", "1") not in ("0", "false")


def _slide_shapes(slide: Slide, number: int) -> list[ShapeBox]:
    boxes = list(_shape_boxes(slide.shapes, _IDENTITY, "slide", number))
    layout = slide.slide_layout
    if _shows_master_shapes(slide.element):
        boxes += _shape_boxes(layout.shapes, _IDENTITY, "layout", number)
        if _shows_master_shapes(layout.element):
            boxes += _shape_boxes(layout.slide_master.shapes, _IDENTITY, "master", number)
    return boxes


def shape_boxes(pptx: Path) -> list[list[ShapeBox]]:
    """Per slide (hidden ones included), the shapes that draw something, in points.

    Text is the shape's full text (all paragraphs); a table yields one box per cell,
    computed from the column widths and row heights; groups are recursed into (their
    children mapped through chOff/chExt); the non-placeholder shapes of the slide's
    layout and master are included unless `showMasterSp="0"` hides them.  A rotated
    shape's box is the upright box around it.  A `slidenum` field counts as the
    slide's number (other fields, e.g. dates, keep their cached text).
    """
    prs = Presentation(str(pptx))
    first = int(prs.element.get("firstSlideNum", "1"))
    return [_slide_shapes(slide, first + i) for i, slide in enumerate(prs.slides)]


def hidden_slides(pptx: Path) -> set[int]:
    """0-based indexes of slides marked hidden (`show="0"`); LibreOffice does not export them."""
    prs = Presentation(str(pptx))
    return {i for i, slide in enumerate(prs.slides) if slide.element.get("show") in ("0", "false")}


# --- the check -----------------------------------------------------------------------------

# Characters that never reach the page as glyphs of their own.
_IGNORABLE = re.compile("[\\s\u00ad\u200b-\u200f\u2060\ufe00-\ufe0f\ufeff]+")
_AUTONUMBER = re.compile(r"^[(\[]?(?:\d{1,3}|[A-Za-z]|[ivxlcdm]{1,6}|[IVXLCDM]{1,6})[.)\]]$")


def normalize(text: str) -> str:
    """Text as compared: NFKC (ligatures, full-width forms) with all whitespace and
    invisible characters (zero-width space/joiners, soft hyphen, variation selectors) removed."""
    return _IGNORABLE.sub("", unicodedata.normalize("NFKC", text))


def _is_list_marker(key: str) -> bool:
    """A bullet ("•", "–", "▪", "➢", ...) or an automatic number ("1.", "a)", "iv.", "①")."""
    if _AUTONUMBER.match(key):
        return True
    if len(key) == 1 and unicodedata.category(key) == "No":
        return True
    return len(key) <= 3 and not any(unicodedata.category(ch)[0] in "LN" for ch in key)


def _fmt_box(x0: float, y0: float, x1: float, y1: float) -> str:
    return f"({x0:.1f},{y0:.1f},{x1:.1f},{y1:.1f})"


def _inside(word: Word, x0: float, y0: float, x1: float, y1: float, tol: float) -> bool:
    return (
        word.x0 >= x0 - tol and word.y0 >= y0 - tol and word.x1 <= x1 + tol and word.y1 <= y1 + tol
    )


def _overlap(word: Word, box: ShapeBox) -> tuple[float, float]:
    return (
        min(word.x1, box.x1) - max(word.x0, box.x0),
        min(word.y1, box.y1) - max(word.y0, box.y0),
    )


def _nearest(word: Word, boxes: list[ShapeBox]) -> ShapeBox:
    """The box sharing most area with the word, or else the closest one."""

    def key(box: ShapeBox) -> tuple[float, float]:
        dx, dy = _overlap(word, box)
        area = max(dx, 0.0) * max(dy, 0.0)
        gap = math.hypot(min(dx, 0.0), min(dy, 0.0))
        return (-area, gap)

    return min(boxes, key=key)


def _check_page(
    slide_no: int, page: Page, shapes: list[ShapeBox], tol: float, top_slack: float
) -> list[str]:
    problems: list[str] = []
    texts = [(shape, normalize(shape.text)) for shape in shapes if not shape.is_picture]
    texts = [(shape, text) for shape, text in texts if text]
    pictures = [shape for shape in shapes if shape.is_picture]
    for drawn in page.words:
        key = normalize(drawn.text)
        if not key:
            continue
        box = _fmt_box(drawn.x0, drawn.y0, drawn.x1, drawn.y1)
        where = f"slide {slide_no}: word {drawn.text!r} at {box}"
        word = replace(drawn, y0=drawn.y0 + top_slack * (drawn.y1 - drawn.y0))
        owners = [shape for shape, text in texts if key in text]
        if not owners and _is_list_marker(key):
            owners = [shape for shape, _ in texts]  # bullets/numbers come from list styles
        if not owners:
            problems.append(f"{where} matches no shape's text")
        elif not any(_inside(word, s.x0, s.y0, s.x1, s.y1, tol) for s in owners):
            problems.append(f"{where} outside {_nearest(word, owners).describe()}")
        if not _inside(word, 0.0, 0.0, page.width, page.height, tol):
            problems.append(f"{where} outside the page (0,0,{page.width:.1f},{page.height:.1f})")
        for picture in pictures:
            dx, dy = _overlap(word, picture)
            if dx > tol and dy > tol:
                problems.append(f"{where} overlaps picture {picture.describe()}")
    rendered = "".join(normalize(word.text) for word in page.words)
    for shape, _ in texts:
        # A word broken across lines inside a narrow box (a table cell) is drawn as pieces
        # on different lines: look for it among the words drawn inside the shape, in order.
        local = "".join(normalize(word.text) for word in page.words
                        if _inside(word, shape.x0, shape.y0, shape.x1, shape.y1, tol))
        for token in shape.text.split():
            key = normalize(token)
            if key and key not in rendered and key not in local:
                problems.append(
                    f"slide {slide_no}: text {token!r} of {shape.describe()} is not on the "
                    "rendered page (drawn off the slide?)"
                )
    return problems


def misplaced_words(
    pptx: Path, pdf: Path, tolerance: float = 1.0, *, top_slack: float = 0.0
) -> list[str]:
    """Everything on the rendered slides a viewer would see in the wrong place.

    Matching rule: a rendered word and a shape's text are compared after `normalize`
    (so how LibreOffice/pdftotext splits or joins words does not matter: "ECS에" drawn
    as "ECS" + "에", or a link drawn as its own word, are both substrings).  A word
    belongs to every text shape (or table cell) whose normalised text contains it; a
    word found in no shape's text but that is a list marker (a short run of symbols or
    punctuation such as "•", "–", "▪", or an automatic number such as "1." / "a)")
    belongs to every text shape, since LibreOffice draws bullets from list styles that
    are not part of the text.  Reported, one readable string each:

    - a word that matches no shape's text;
    - a word not inside the box (± `tolerance` points) of any shape it belongs to;
    - a word not inside the page (± `tolerance`);
    - a word overlapping a picture's box by more than `tolerance` in both directions;
    - a whitespace-separated token of a shape's text that appears nowhere in the page's
      rendered text: pdftotext drops glyphs that lie wholly off the page, so this is
      how text run off the slide shows up;
    - a page count that differs from the number of slides not hidden.

    Word boxes are pdftotext's: the font's ascent to descent, not the ink, so they are
    taller than the glyphs.  With line spacing under 100% LibreOffice moves the first
    line up by the lost spacing and its box can stick out above the shape although no
    ink does (e.g. 28 pt Noto Sans CJK at 80% and no top inset: 5 pt).  `top_slack`
    (a fraction of each word's height, e.g. 0.2) ignores the top of every word box in
    all checks for such decks; the default 0 checks the whole box.

    Hidden slides are skipped, as LibreOffice does not export them.  An empty list
    means every word is where it belongs.
    """
    slides = shape_boxes(pptx)
    hidden = hidden_slides(pptx)
    visible = [(i + 1, boxes) for i, boxes in enumerate(slides) if i not in hidden]
    pages = read_pages(pdf)
    problems: list[str] = []
    if len(pages) != len(visible):
        problems.append(f"{pdf.name} has {len(pages)} pages for {len(visible)} visible slides")
    for (slide_no, boxes), page in zip(visible, pages, strict=False):
        problems += _check_page(slide_no, page, boxes, tolerance, top_slack)
    return problems
