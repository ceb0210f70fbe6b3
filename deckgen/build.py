"""The build: read → parse → structure → images → layout → render → atomic write."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from deckgen.decorate import decorate_slides, theme_pictures
from deckgen.errors import DeckgenError, Diagnostics
from deckgen.images import DEFAULT_DPI, encode_images, prepare_images
from deckgen.layout import DeckLayout, Overflow, PictureShape, PlacedSlide, Shape, layout_deck
from deckgen.measure import measurer_for
from deckgen.model import Deck
from deckgen.parse import parse_document, read_source
from deckgen.progress import BuildProgress, SilentProgress, counted
from deckgen.render import render_deck
from deckgen.structure import build_deck
from deckgen.theme import Theme, load_theme

DEFAULT_THEME = "default"
#: The date written into the deck when neither SOURCE_DATE_EPOCH nor the front matter
#: gives one, so that two builds of the same notes are byte-identical.
FALLBACK_DATE = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class BuildOptions:
    """What to build and how."""

    source: Path
    output: Path | None = None
    theme: str | None = None
    resource_paths: tuple[Path, ...] = (Path("."),)
    overflow: Overflow = Overflow.NOTES
    #: Pictures are embedded at this many pixels per inch of their placed size.
    image_dpi: int = DEFAULT_DPI
    #: A company template (.pptx or .potx) to build on; else the front matter's `template`,
    #: else the theme's.
    template: Path | None = None


@dataclass(frozen=True)
class Plan:
    """Everything a build decides before it writes: the deck, its theme and its slides."""

    deck: Deck
    theme: Theme
    slides: list[PlacedSlide]
    output: Path


def output_path(options: BuildOptions) -> Path:
    """Where the deck goes: the option, else the source with .pptx beside it."""
    output = options.output or options.source.with_suffix(".pptx")
    if output.suffix.lower() != ".pptx":
        raise DeckgenError("the output must be a .pptx file", output)
    if output.resolve() == options.source.resolve():
        raise DeckgenError("the output would overwrite the source; choose another -o path",
                           output)
    return output


def plan_build(options: BuildOptions, diagnostics: Diagnostics,
               progress: BuildProgress | None = None) -> Plan:
    """Read, parse and lay out a deck without writing anything; `progress` hears of each
    stage."""
    progress = progress or SilentProgress()
    output = output_path(options)
    text = read_source(options.source)
    document = parse_document(options.source, text, diagnostics)
    deck = build_deck(document, diagnostics)
    progress.started(len(deck.slides), len({image for slide in deck.slides
                                            for image in slide.images}))
    progress.stage("parsed")
    theme = load_theme(options.theme or deck.meta.theme or DEFAULT_THEME, diagnostics,
                       template_path(options, deck))
    measurer = measurer_for({role: (face.latin, face.east_asian)
                             for role, face in theme.fonts.items()})
    for missing in measurer.missing_fonts():
        diagnostics.warn(f"no font file to measure {missing} text with; using estimates "
                         "(install fonts-noto-cjk and fonts-liberation2)")
    images = prepare_images((image for slide in deck.slides for image in slide.images),
                            options.source, options.resource_paths, diagnostics)
    progress.stage("images prepared")
    slides = layout_deck(deck, theme, measurer, images, options.overflow, diagnostics)
    slides = decorate_slides(slides, theme, deck.meta, theme_pictures(theme, diagnostics))
    layout = DeckLayout(theme, measurer, images, options.overflow, diagnostics, deck)
    slides = embed_pictures(slides, options.image_dpi, layout, diagnostics)
    progress.stage("laid out")
    return Plan(deck, theme, slides, output)


def template_path(options: BuildOptions, deck: Deck) -> Path | None:
    """The company template: the option, else the front matter's `template` (relative to
    the note); None leaves it to the theme."""
    if options.template is not None:
        return options.template
    if deck.meta.template:
        return options.source.parent / deck.meta.template
    return None


def embed_pictures(slides: list[PlacedSlide], dpi: int, layout: DeckLayout,
                   diagnostics: Diagnostics) -> list[PlacedSlide]:
    """Each placed picture encoded at its placed size × dpi (images.encode_images); a
    placeholder instead of a note's picture that turns out unreadable only when decoded (a
    theme's logo or background, which has no line in the note, is left out instead)."""
    placed = [shape for slide in slides for shape in slide.shapes
              if isinstance(shape, PictureShape)]
    encoded = encode_images(placed, dpi, layout.deck.source, diagnostics)

    def final(shape: Shape) -> Shape | None:
        if not isinstance(shape, PictureShape):
            return shape
        image = encoded[shape.image]
        if image.ok:
            return replace(shape, image=image)
        if not image.ref.line:
            return None
        return replace(layout.placeholder(image, shape.box, 0), name=f"{shape.name} placeholder")

    return [replace(slide, shapes=tuple(shape for shape in map(final, slide.shapes)
                                        if shape is not None))
            for slide in slides]


def build(options: BuildOptions, diagnostics: Diagnostics,
          progress: BuildProgress | None = None) -> Plan:
    """Build the deck and write it atomically; returns what was built."""
    progress = progress or SilentProgress()
    return write_deck(plan_build(options, diagnostics, progress), progress)


def write_deck(plan: Plan, progress: BuildProgress | None = None) -> Plan:
    """Render a planned deck and write it atomically; returns the plan."""
    progress = progress or SilentProgress()
    data = render_deck(counted(plan.slides, len(plan.slides), progress), plan.theme,
                       plan.deck.meta, build_timestamp(plan.deck))
    progress.stage("rendered")
    write_atomically(plan.output, data)
    progress.stage("written")
    return plan


def build_timestamp(deck: Deck) -> datetime:
    """The time written into the deck: SOURCE_DATE_EPOCH, else the front matter's date,
    else a fixed date; never the clock, so rebuilds are byte-identical."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch:
        try:
            return datetime.fromtimestamp(int(epoch), tz=UTC)
        except (ValueError, OverflowError, OSError) as exc:
            raise DeckgenError(f"SOURCE_DATE_EPOCH={epoch!r} is not a Unix time in "
                               "seconds") from exc
    try:
        date = datetime.fromisoformat(deck.meta.date)
    except ValueError:
        return FALLBACK_DATE
    return date.replace(tzinfo=UTC) if date.tzinfo is None else date.astimezone(UTC)


def write_atomically(path: Path, data: bytes) -> None:
    """Write a file whole or not at all: a temporary file beside it, then a rename."""
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise DeckgenError("the output folder does not exist; create it or choose another "
                           "-o path", directory)
    _remove_stale_temporaries(path)
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp",
                                             dir=directory)
    except OSError as exc:
        raise DeckgenError(f"cannot write in the output folder ({exc.strerror})",
                           directory) from exc
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except OSError as exc:
        _unlink_quietly(Path(temporary))
        raise DeckgenError(f"cannot write the deck ({exc.strerror}); the previous deck, if "
                           "any, is untouched", path) from exc
    except BaseException:
        _unlink_quietly(Path(temporary))
        raise


def _remove_stale_temporaries(path: Path) -> None:
    """Temporary files a killed build left beside the output."""
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        _unlink_quietly(stale)


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def default_resource_paths(extra: Sequence[Path] | None) -> tuple[Path, ...]:
    """The folders images are looked up in after the note's own folder."""
    return tuple(extra) if extra else (Path("."),)
