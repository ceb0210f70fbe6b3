"""`deckgen init`: a new talk's skeleton that builds cleanly out of the box."""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path, PurePosixPath

from deckgen.errors import DeckgenError

NOTES_PATH = PurePosixPath("content/talk.md")
PICTURE_PATH = PurePosixPath("content/img/overview.png")
README_PATH = PurePosixPath("README.md")
#: The generated picture: size in pixels and colours (the default theme's palette).
PICTURE_SIZE = (800, 400)
PICTURE_COLOURS = ("#2563EB", "#0F766E", "#1E3A8A")

NOTES_TEMPLATE = """\
---
title: {title}
subtitle: "What the audience takes home"
author: "Your name"
date: "{today}"
theme: default
---

# Why this talk

Every section becomes a slide; its sentences become the points.
Its prose is also copied into the speaker notes in full.

> A blockquote becomes a callout: keep it for the one thing to remember.

::: notes
Welcome everyone, and say in one sentence what they will be able to do after the talk.
Text in a notes block is only in the speaker notes, never on the slide.
:::

## How we got here

A heading that names a time is an era: each era gets a slide,
and this section opens with a timeline of them.

### 1990s

<img src="img/overview.png" width="500px">

Three steps led from the first idea to a working tool.

::: notes
Walk through the picture from left to right, one box at a time.
:::

### 2010s

The tool became a standard that everyone uses.

- Lists stay lists on the slide
- and in the speaker notes

::: notes
Name one example the audience knows, then move on to the references.
:::

## References

- [deckgen: Markdown to slides](https://example.com/deckgen)
"""

README_TEMPLATE = """\
# {heading}

The slides are in `content/talk.md`: `deckgen build content/talk.md` writes `content/talk.pptx`, \
`deckgen preview content/talk.md` draws every slide as a PNG, and \
`deckgen build content/talk.md --watch` rebuilds on every save.
"""


@dataclass(frozen=True)
class SkeletonFile:
    """One file of the skeleton: where it goes (relative to the talk's folder) and its bytes."""

    path: PurePosixPath
    data: bytes


def skeleton(title: str, today: date) -> list[SkeletonFile]:
    """The files of a new talk: the notes, their picture and a README."""
    notes = NOTES_TEMPLATE.format(title=json.dumps(title, ensure_ascii=False),
                                  today=today.isoformat())
    readme = README_TEMPLATE.format(heading=title)
    return [SkeletonFile(NOTES_PATH, notes.encode("utf-8")),
            SkeletonFile(PICTURE_PATH, overview_picture()),
            SkeletonFile(README_PATH, readme.encode("utf-8"))]


def talk_title(directory: Path) -> str:
    """A title from the folder's name ("rust-intro" → "Rust intro"), else "My talk"."""
    name = directory.resolve().name.replace("-", " ").replace("_", " ").strip()
    return name[:1].upper() + name[1:] if name else "My talk"


def create_skeleton(directory: Path, today: date | None = None) -> list[Path]:
    """Write a new talk's files into `directory` (created if needed); refuses, writing
    nothing, when any of them exists already. Returns the files written."""
    try:
        files = skeleton(talk_title(directory), today or date.today())
        targets = [directory.joinpath(*item.path.parts) for item in files]
        existing = [target for target in targets if target.exists() or target.is_symlink()]
    except OSError as exc:  # a name too long for the disk, a folder that cannot be read
        raise DeckgenError(f"cannot create the talk's files here ({exc.strerror or exc}); "
                           "choose another folder (a shorter name)", directory) from exc
    except ValueError as exc:  # a NUL in the name
        raise DeckgenError(f"is not a usable folder name ({exc}); choose another folder",
                           directory) from exc
    if existing:
        raise DeckgenError("not overwriting existing files: "
                           + ", ".join(str(path) for path in existing)
                           + "; choose another folder or move them away")
    written: list[Path] = []
    made: list[Path] = []
    try:
        for item, target in zip(files, targets, strict=True):
            make_folders(target.parent, made)
            with target.open("xb") as stream:
                written.append(target)
                stream.write(item.data)
    except OSError as exc:
        for path in written:
            path.unlink(missing_ok=True)
        for folder in reversed(made):  # the deepest first; each is empty again
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise DeckgenError(f"cannot create the talk's files ({exc.strerror or exc}); "
                           "choose another folder",
                           Path(exc.filename) if exc.filename else directory) from exc
    return written


def make_folders(folder: Path, made: list[Path]) -> None:
    """Create `folder` and its missing parents, adding each one created to `made` as soon
    as it is, the outermost first (so that a failed `init` can take them away again, also
    when a deeper one cannot be made). A folder made meanwhile by someone else is not
    added."""
    missing: list[Path] = []
    while not folder.exists() and not folder.is_symlink() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        try:
            path.mkdir()
        except FileExistsError:
            continue
        made.append(path)


def overview_picture() -> bytes:
    """A small diagram as PNG bytes: three boxes joined by arrows (the same bytes every
    time)."""
    from PIL import Image, ImageDraw

    width, height = PICTURE_SIZE
    picture = Image.new("RGB", PICTURE_SIZE, "#FFFFFF")
    draw = ImageDraw.Draw(picture)
    box_width, box_height, gap = 180, 120, (width - 3 * 180) // 4
    top = (height - box_height) // 2
    for index, colour in enumerate(PICTURE_COLOURS):
        left = gap + index * (box_width + gap)
        draw.rounded_rectangle((left, top, left + box_width, top + box_height), radius=18,
                               fill=colour)
        if index:
            tip, tail, middle = left - 14, left - gap + 14, top + box_height // 2
            draw.line((tail, middle, tip, middle), fill="#475569", width=6)
            draw.polygon(((tip + 8, middle), (tip - 10, middle - 12), (tip - 10, middle + 12)),
                         fill="#475569")
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
