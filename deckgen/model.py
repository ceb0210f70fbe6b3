"""The deck as pure data: document blocks, slides and speaker notes (no pptx here)."""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path


@dataclass(frozen=True)
class Box:
    """A rectangle in EMU."""

    x: int
    y: int
    w: int
    h: int

    @property
    def bottom(self) -> int:
        return self.y + self.h

    @property
    def right(self) -> int:
        return self.x + self.w


@dataclass(frozen=True)
class Span:
    """A run of inline text with one formatting; `text` may hold "\\n" for a hard break."""

    text: str
    bold: bool = False
    italic: bool = False
    strike: bool = False
    code: bool = False
    link: str | None = None
    #: The address of a link kept as plain text (not clickable): the notes spell it out.
    address: str | None = None


Inline = tuple[Span, ...]

#: The schemes of the links a deck makes clickable: web pages and mail. Any other (smb:,
#: file:, search-ms:, ms-word:, javascript:, or none, as in `setup.exe`) can open a share,
#: a local file or a program when clicked in PowerPoint.
CLICKABLE_SCHEMES = frozenset(("http", "https", "mailto"))
LINK_SCHEME = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*):")


#: The fields a clickable mailto: link may fill in; any other (`attach=/etc/passwd`, which
#: some mail programs obey) makes it plain text.
MAILTO_FIELDS = frozenset(("subject", "body", "cc", "bcc"))


def clickable(address: str) -> bool:
    """Whether a link's address may become a hyperlink: http or https to a host
    (web_address), or mailto with no fields but MAILTO_FIELDS."""
    match = LINK_SCHEME.match(address)
    if match is None or match[1].lower() not in CLICKABLE_SCHEMES:
        return False
    if match[1].lower() != "mailto":
        return web_address(address)
    query = address.partition("?")[2]
    return all(urllib.parse.unquote(part.partition("=")[0]).strip().lower() in MAILTO_FIELDS
               for part in query.split("&") if part)


def reaches_out(address: str) -> bool:
    """Whether a link's address leaves the note: it names a scheme (`smb:`, `file:`, …), a
    network share or a Windows path (`//host/…`, `\\host\\…`), unlike a heading of the note
    (`#part`) or a file beside it (`chapter-2.md`)."""
    written = urllib.parse.unquote(address).strip()
    return bool(LINK_SCHEME.match(written)) or written.startswith(("//", "\\", "/\\"))


def web_address(address: str) -> bool:
    """Whether an address is an http or https one naming a host (`http:`, `http:/x` and
    `http:\\\\server\\share` do not; a backslash is a Windows share path)."""
    if "\\" in address:
        return False
    try:
        parts = urllib.parse.urlsplit(address)
        host = parts.hostname
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(host)


def plain_text(spans: Inline) -> str:
    """The text of spans without any formatting."""
    return "".join(span.text for span in spans)


# --- document blocks (what the Markdown says) ------------------------------------------


@dataclass(frozen=True)
class Paragraph:
    """A paragraph; soft breaks are spaces, hard breaks are "\\n" inside the spans."""

    spans: Inline
    line: int


@dataclass(frozen=True)
class Heading:
    """A heading; levels 1-3 open sections, deeper ones stay inside a section's body."""

    level: int
    spans: Inline
    line: int

    @property
    def text(self) -> str:
        """The heading text without Markdown markup."""
        return " ".join(plain_text(self.spans).split())


@dataclass(frozen=True)
class ListItem:
    """One item of a list, which may hold paragraphs and nested lists."""

    blocks: tuple[Block, ...]
    line: int


@dataclass(frozen=True)
class ListBlock:
    """A bullet (`ordered` False) or numbered list."""

    items: tuple[ListItem, ...]
    ordered: bool
    start: int
    line: int


@dataclass(frozen=True)
class Quote:
    """A blockquote; on a slide it becomes a callout."""

    blocks: tuple[Block, ...]
    line: int


@dataclass(frozen=True)
class Code:
    """A fenced or indented code block."""

    text: str
    language: str
    line: int


@dataclass(frozen=True)
class Table:
    """A pipe table: a header row, body rows and one alignment per column."""

    header: tuple[Inline, ...]
    rows: tuple[tuple[Inline, ...], ...]
    aligns: tuple[str, ...]
    line: int


@dataclass(frozen=True)
class Image:
    """A picture reference from `![alt](src "title")` or `<img src= width= height=>`."""

    src: str
    alt: str
    line: int
    title: str = ""
    width_px: float | None = None
    height_px: float | None = None


@dataclass(frozen=True)
class ThematicBreak:
    """A `---` rule, which starts a new slide."""

    line: int


@dataclass(frozen=True)
class NotesBlock:
    """Explicit speaker notes (`::: notes`, `<!-- notes: -->`, `Note:`); never on a slide."""

    blocks: tuple[Block, ...]
    line: int


Block = (
    Paragraph | Heading | ListBlock | Quote | Code | Table | Image | ThematicBreak | NotesBlock
)


@dataclass(frozen=True)
class Document:
    """A parsed Markdown file: its front matter and its top-level blocks."""

    source: Path
    front_matter: dict[str, object]
    blocks: tuple[Block, ...]


# --- what a slide shows ------------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    """One line of slide text: a sentence, a hard line or a list item."""

    spans: Inline
    line: int
    level: int = 0
    marker: str = "•"


@dataclass(frozen=True)
class Points:
    """Consecutive points, drawn in one text box."""

    items: tuple[Point, ...]
    line: int


@dataclass(frozen=True)
class Callout:
    """A blockquote drawn as a highlighted box."""

    items: tuple[Point, ...]
    line: int


SlideBlock = Points | Callout | Code | Table


class SlideKind(Enum):
    """What a slide is for; the layout stage picks its composition from this."""

    TITLE = "title"
    SECTION = "section"
    CONTENT = "content"
    ERA = "era"
    TIMELINE = "timeline"
    REFERENCES = "references"


@dataclass(frozen=True)
class Era:
    """A heading that names a time, with a key that sorts eras chronologically."""

    label: str
    year: int
    month: int = 0
    sort_key: tuple[int, int, int] = (0, 0, 0)


@dataclass(frozen=True)
class TimelineEntry:
    """One era on a timeline slide, with a one-sentence caption."""

    era: Era
    caption: Inline


@dataclass(frozen=True)
class Notes:
    """Speaker notes, as formatted document blocks (lists stay lists)."""

    blocks: tuple[Block, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.blocks)


@dataclass(frozen=True)
class Slide:
    """One slide of the model; the layout may continue it on further slides."""

    kind: SlideKind
    title: str
    line: int
    body: tuple[SlideBlock, ...] = ()
    images: tuple[Image, ...] = ()
    notes: Notes = field(default_factory=Notes)
    kicker: str = ""
    subtitle: str = ""
    byline: str = ""
    era: Era | None = None
    timeline: tuple[TimelineEntry, ...] = ()


@dataclass(frozen=True)
class DeckMeta:
    """Document-wide facts: title page text, theme choice and core properties."""

    title: str
    subtitle: str = ""
    author: str = ""
    date: str = ""
    theme: str | None = None
    template: str | None = None
    subject: str = ""
    keywords: str = ""


@dataclass(frozen=True)
class Deck:
    """The whole presentation as data, ready for layout."""

    source: Path
    meta: DeckMeta
    slides: tuple[Slide, ...]
