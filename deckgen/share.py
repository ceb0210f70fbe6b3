"""A built deck for people without PowerPoint: a PDF beside it and a Markdown handout."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from deckgen.errors import DeckgenError
from deckgen.model import DeckMeta, Span
from deckgen.preview import (
    check_own_folder,
    claim_folder,
    convert_to_pdf,
    pdf_to_pictures,
    picture_height,
    publish,
    require_tools,
    theme_faces,
)

if TYPE_CHECKING:
    from deckgen.build import Plan
    from deckgen.layout import PlacedSlide

#: What to do when the handout (OUT.handout.md, OUT.handout/) cannot be written where -o puts it.
HANDOUT_ADVICE = "choose another -o path (the handout goes beside the deck)"
#: How much of an existing handout is read to tell it is one (its first slide's picture
#: follows the title, the subtitle, the byline and the first slide's heading).
HANDOUT_HEAD = 64 * 1024
#: Width in pixels of the handout's slide pictures.
HANDOUT_WIDTH = 960
#: Characters that would be read as Markdown syntax inside notes text.
MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|])")
#: The blockquote marks at the start of a notes line's prefix.
QUOTE_MARKS = re.compile(r"(?:> )*")
#: Notes paragraphs nest under list items by this much per level.
INDENT = "    "


def share_deck(plan: Plan, pdf: bool, handout: bool, checked: bool = False) -> list[Path]:
    """Write what was asked for beside the built deck: `<deck>.pdf` and/or the handout
    (`<deck>.handout.md` with its `<deck>.handout/` pictures); returns the paths written.
    `checked`: the caller ran check_shared_outputs already (before writing the deck)."""
    if not checked:
        check_shared_outputs(plan, pdf, handout)
    if handout:
        require_tools()  # before LibreOffice's work, so a missing pdftoppm fails early
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="deckgen-share-") as work:
        target = plan.output.with_suffix(".pdf") if pdf else Path(work) / "deck.pdf"
        convert_to_pdf(plan.output, target, faces=theme_faces([plan.theme]))
        if pdf:
            written.append(target)
        if handout:
            written.extend(write_handout(plan, target))
    return written


def check_shared_outputs(plan: Plan, pdf: bool, handout: bool) -> None:
    """Refuse, before anything is written (the deck included), a PDF or handout that would
    overwrite a file the build reads (the notes themselves: `talk.handout.md -o talk.pptx`),
    a handout folder that deckgen did not make and that holds files, or a Markdown file in
    the handout's place that is not a handout."""
    from deckgen.build import refuse_overwriting

    files = [plan.output.with_suffix(".pdf")] if pdf else []
    folders: list[Path] = []
    if handout:
        markdown, folder = handout_paths(plan.output)
        files.append(markdown)
        folders.append(folder)
        check_own_folder(folder, "the handout's pictures", HANDOUT_ADVICE)
    advice = HANDOUT_ADVICE if handout else "choose another -o path"
    for file in files:
        if file.is_dir():
            what = "the PDF" if file.suffix.lower() == ".pdf" else "the handout"
            raise DeckgenError(f"is a folder, so {what} cannot be written there; {advice}",
                               file)
    refuse_overwriting(plan.inputs, files, folders, advice)
    if handout and markdown.is_file() and not is_handout(markdown, folder):
        raise DeckgenError("exists and is not a handout deckgen wrote, so the handout would "
                           f"replace it; move it away or {HANDOUT_ADVICE}", markdown)


def is_handout(markdown: Path, folder: Path) -> bool:
    """Whether an existing Markdown file is a handout deckgen wrote: it shows the first
    slide's picture from the handout's folder (within its first HANDOUT_HEAD bytes)."""
    try:
        with markdown.open("rb") as stream:
            head = stream.read(HANDOUT_HEAD).decode("utf-8", "replace")
    except OSError:
        return False
    return f"]({quote(folder.name)}/slide-" in head


def handout_paths(deck: Path) -> tuple[Path, Path]:
    """The handout of a deck: its Markdown file and its folder of slide pictures."""
    return deck.with_suffix(".handout.md"), deck.with_suffix(".handout")


def write_handout(plan: Plan, pdf: Path, width: int = HANDOUT_WIDTH) -> list[Path]:
    """The handout of a built deck from its PDF: every slide's picture with its speaker
    notes beneath; returns the Markdown file and the pictures' folder."""
    markdown, folder = handout_paths(plan.output)
    claim_folder(folder, "the handout's pictures", HANDOUT_ADVICE)
    pictures = pdf_to_pictures(pdf, folder, width, picture_height(plan.output, width))
    if len(pictures) != len(plan.slides):
        raise DeckgenError(f"LibreOffice drew {len(pictures)} pages for {len(plan.slides)} "
                           "slides; the handout was not written", plan.output)
    links = [quote(f"{folder.name}/{picture.name}") for picture in pictures]
    text = handout_markdown(plan.deck.meta, plan.slides, links)
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", newline="\n",
                                     dir=markdown.parent, prefix=f".{markdown.name}.",
                                     suffix=".tmp", delete=False) as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    publish(Path(handle.name), markdown)
    return [markdown, folder]


def handout_markdown(meta: DeckMeta, slides: Sequence[PlacedSlide],
                     pictures: Sequence[str]) -> str:
    """The handout as Markdown: a heading per slide, its picture, then its notes."""
    from deckgen.structure import notes_lines

    lines = [f"# {escape_markdown(meta.title)}", ""]
    if meta.subtitle:
        lines += [escape_markdown(meta.subtitle), ""]
    byline = " · ".join(part for part in (meta.author, meta.date) if part)
    if byline:
        lines += [f"*{escape_markdown(byline)}*", ""]
    for number, (slide, picture) in enumerate(zip(slides, pictures, strict=True), start=1):
        lines += [f"## {number}. {escape_markdown(slide.title)}", "",
                  f"![Slide {number}: {escape_markdown(slide.title)}]({picture})", ""]
        in_code = False
        for level, prefix, spans, role in notes_lines(slide.notes.blocks):
            indent = INDENT * level
            if role == "code":
                if not in_code:
                    lines.append(f"{indent}```")
                    in_code = True
                lines.append(indent + "".join(span.text for span in spans))
                continue
            if in_code:
                lines += [f"{indent}```", ""]
                in_code = False
            marker = prefix.replace("• ", "- ")
            quotes = QUOTE_MARKS.match(marker)
            quoted = quotes.group(0) if quotes else ""
            continuation = indent + quoted + " " * (len(marker) - len(quoted))
            lines += [indent + marker + inline_markdown(spans, continuation), ""]
        if in_code:
            lines += ["```", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def inline_markdown(spans: Sequence[Span], continuation: str = "") -> str:
    """Spans as Markdown: bold, italic, strike-through, code and links; a hard break
    continues on the next line at `continuation`."""
    parts: list[str] = []
    for span in spans:
        if not span.text:
            continue
        if span.code:
            fence = "``" if "`" in span.text else "`"
            text = f"{fence}{span.text}{fence}"
        else:
            text = escape_markdown(span.text)
            lead = len(text) - len(text.lstrip())
            trail = len(text) - len(text.rstrip())
            core = text.strip()
            if core:
                if span.strike:
                    core = f"~~{core}~~"
                if span.italic:
                    core = f"*{core}*"
                if span.bold:
                    core = f"**{core}**"
            text = text[:lead] + core + (text[len(text) - trail:] if trail else "")
        if span.link:
            text = f"[{text}]({span.link.replace(' ', '%20').replace(')', '%29')})"
        parts.append(text)
    return "".join(parts).replace("\n", "  \n" + continuation)


def escape_markdown(text: str) -> str:
    """Text that Markdown shows as it is."""
    return MARKDOWN_SPECIAL.sub(r"\\\1", text)
