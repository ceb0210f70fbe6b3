"""The build: read → parse → structure → images → layout → render → atomic write."""

from __future__ import annotations

import contextlib
import errno
import functools
import gc
import glob
import os
import re
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import ParamSpec, TypeVar

from deckgen.decorate import decorate_slides, theme_pictures
from deckgen.errors import DeckgenError, Diagnostics
from deckgen.images import (
    DEFAULT_DPI,
    Encoding,
    PreparedImage,
    prepare_images,
    repository_root,
)
from deckgen.layout import DeckLayout, Overflow, PictureShape, PlacedSlide, Shape, layout_deck
from deckgen.measure import measurer_for
from deckgen.model import Deck, DeckMeta
from deckgen.parse import front_matter_line, parse_document, read_source
from deckgen.progress import BuildProgress, SilentProgress, counted
from deckgen.structure import build_deck
from deckgen.theme import Theme, is_theme_path, load_theme, within

DEFAULT_THEME = "default"
#: The date written into the deck when neither SOURCE_DATE_EPOCH nor the front matter
#: gives one, so that two builds of the same notes are byte-identical.
FALLBACK_DATE = datetime(2000, 1, 1, tzinfo=UTC)
#: The last time a zip entry can carry (its year field ends at 2107): later dates (a
#: front-matter date of 9999-12-31) are written as this one.
LATEST_ZIP_DATE = datetime(2107, 12, 31, 23, 59, 58, tzinfo=UTC)
#: The longest text a core property (title, author, subject, keywords) may hold.
CORE_PROPERTY_LIMIT = 255
#: The temporary file a deck is written to before it is renamed into place: a short name
#: (a deck's own name may be as long as the disk allows), with the writer's process id.
TEMPORARY_PREFIX = ".deckgen-"
#: tempfile's names: 8 of these letters after the prefix.
TEMPORARY_RANDOM = "[a-z0-9_]{8}"
TEMPORARY_NAME = re.compile(rf"\.deckgen-\d+-{TEMPORARY_RANDOM}\.tmp")
#: The errors of a full disk or an exhausted quota.
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)

Arguments = ParamSpec("Arguments")
Result = TypeVar("Result")


def without_cycle_collection(stage: Callable[Arguments, Result]) -> Callable[Arguments, Result]:
    """A build stage run with Python's cycle collector paused: a build makes millions of
    objects that live until it ends, and the collector walked them again and again (a third
    of a 2,000-slide build). Reference counting still frees what the stage drops; the
    collector resumes afterwards (a watch process collects between builds)."""

    @functools.wraps(stage)
    def paused(*args: Arguments.args, **kwargs: Arguments.kwargs) -> Result:
        if not gc.isenabled():
            return stage(*args, **kwargs)
        gc.disable()
        try:
            return stage(*args, **kwargs)
        finally:
            gc.enable()

    return paused


@dataclass(frozen=True)
class BuildOptions:
    """What to build and how."""

    source: Path
    output: Path | None = None
    theme: str | None = None
    #: Folders pictures are also looked up in, after the note's own folder (and before its
    #: repository's root, which is always one: images.resolve_image_path).
    resource_paths: tuple[Path, ...] = ()
    overflow: Overflow = Overflow.NOTES
    #: Pictures are embedded at this many pixels per inch of their placed size.
    image_dpi: int = DEFAULT_DPI
    #: A company template (.pptx or .potx) to build on; else the front matter's `template`,
    #: else the theme's.
    template: Path | None = None


class PicturedSlides:
    """Laid-out slides whose pictures are being encoded (images.Encoding): each slide is
    final once its pictures are, with a placeholder instead of a note's picture that turns
    out unreadable only when decoded (a theme's logo or background, which has no line in the
    note, is left out instead). The pool stops once the last slide is final."""

    def __init__(self, slides: list[PlacedSlide], encoding: Encoding, layout: DeckLayout,
                 diagnostics: Diagnostics) -> None:
        self._laid_out = slides
        self._final: list[PlacedSlide] = []
        self._encoding = encoding
        self._layout = layout
        self._diagnostics = diagnostics

    def __len__(self) -> int:
        return len(self._laid_out)

    def __iter__(self) -> Iterator[PlacedSlide]:
        """The final slides in order, each as soon as its pictures are encoded."""
        for index in range(len(self._laid_out)):
            while len(self._final) <= index:
                self._final.append(self._finished(self._laid_out[len(self._final)]))
                if len(self._final) == len(self._laid_out):
                    self._encoding.close()
            yield self._final[index]

    def all(self) -> list[PlacedSlide]:
        """Every final slide, waiting for the pictures still being encoded."""
        return self._final if len(self._final) == len(self._laid_out) else list(self)

    def close(self) -> None:
        """Stop encoding (a build that stops early)."""
        self._encoding.close()

    def _finished(self, slide: PlacedSlide) -> PlacedSlide:
        if not any(isinstance(shape, PictureShape) for shape in slide.shapes):
            return slide
        note, layout = self._layout.deck.source, self._layout

        def final(shape: Shape) -> Shape | None:
            if not isinstance(shape, PictureShape):
                return shape
            image = self._encoding.encoded(shape.image, note, self._diagnostics)
            if image.ok:
                return replace(shape, image=image)
            if not image.ref.line:
                return None
            return replace(layout.placeholder(image, shape.box, 0),
                           name=f"{shape.name} placeholder")

        return replace(slide, shapes=tuple(shape for shape in map(final, slide.shapes)
                                           if shape is not None))


@dataclass(frozen=True)
class Plan:
    """Everything a build decides before it writes: the deck, its theme and its slides
    (whose pictures may still be being encoded: `plan_build`)."""

    deck: Deck
    theme: Theme
    pictured: PicturedSlides
    output: Path
    #: The files the build reads, each with what it is ("the source", "the template", …):
    #: no output may be one of them (refuse_overwriting).
    inputs: tuple[tuple[Path, str], ...] = ()

    @property
    def slides(self) -> list[PlacedSlide]:
        """The slides with their pictures encoded (waiting for those still being encoded)."""
        return self.pictured.all()


def output_path(options: BuildOptions) -> Path:
    """Where the deck goes: the option, else the source with .pptx beside it."""
    output = options.output or options.source.with_suffix(".pptx")
    if output.suffix.lower() != ".pptx":
        raise DeckgenError("the output must be a .pptx file; give -o a path ending in .pptx",
                           output)
    if output.resolve() == options.source.resolve():
        raise DeckgenError("the output would overwrite the source; choose another -o path",
                           output)
    return output


@without_cycle_collection
def plan_build(options: BuildOptions, diagnostics: Diagnostics,
               progress: BuildProgress | None = None,
               encode_while_rendering: bool = False) -> Plan:
    """Read, parse and lay out a deck and encode its pictures, without writing anything;
    `progress` hears of each stage. With `encode_while_rendering`, the pictures are still
    being encoded when the plan is returned, and `write_deck` renders each slide as soon as
    its pictures are ready (the pool's work overlaps the rendering): a picture that turns
    out unreadable only then is warned about during `write_deck`, so a caller that refuses
    to write a deck with warnings must not ask for it."""
    progress = progress or SilentProgress()
    output = output_path(options)
    text = read_source(options.source)
    document = parse_document(options.source, text, diagnostics)
    deck = build_deck(document, diagnostics)
    progress.started(len(deck.slides), len({image for slide in deck.slides
                                            for image in slide.images}))
    progress.stage("parsed")
    template = template_path(options, deck)
    roots = picture_roots(options)
    try:
        if options.template is None and template is not None and not within(template, roots):
            raise DeckgenError("template not found (give a .pptx or .potx file)", template)
        theme = load_theme(theme_name(options, deck), diagnostics, template, roots,
                           from_note=options.theme is None)
    except DeckgenError as error:
        raise located_in_front_matter(error, options, deck, text) from error
    except OSError as exc:  # a name too long for the disk, a loop of links
        raise unusable_path(exc, options, deck, text) from exc
    measurer = measurer_for({role: (face.latin, face.east_asian)
                             for role, face in theme.fonts.items()})
    for missing in measurer.missing_fonts():
        diagnostics.warn(f"no font file to measure {missing} text with; using estimates "
                         "(install fonts-noto-cjk and fonts-liberation2)")
    images = prepare_images((image for slide in deck.slides for image in slide.images),
                            options.source, options.resource_paths, diagnostics)
    progress.stage("images prepared")
    inputs = build_inputs(options, theme, template, images.values())
    refuse_overwriting(inputs, files=(output,))
    slides = layout_deck(deck, theme, measurer, images, options.overflow, diagnostics)
    slides = decorate_slides(slides, theme, deck.meta, theme_pictures(theme, diagnostics))
    layout = DeckLayout(theme, measurer, images, options.overflow, diagnostics, deck)
    pictured = start_pictures(slides, options.image_dpi, layout, diagnostics)
    if not encode_while_rendering:
        try:
            pictured.all()
        finally:
            pictured.close()  # only stops anything when waiting failed
    progress.stage("laid out")
    return Plan(deck, theme, pictured, output, inputs)


def theme_name(options: BuildOptions, deck: Deck) -> str:
    """The theme to load: the option, else the front matter's `theme` (a path in it is
    relative to the note, as the front matter's `template` is), else the default."""
    if options.theme:
        return options.theme
    name = deck.meta.theme
    if not name:
        return DEFAULT_THEME
    if is_theme_path(name):
        return str(options.source.parent / name)
    return name


def build_inputs(options: BuildOptions, theme: Theme, template: Path | None,
                 images: Iterable[PreparedImage]) -> tuple[tuple[Path, str], ...]:
    """The files a build reads, each with what it is, for refuse_overwriting."""
    inputs = [(options.source, "the source"), (theme.path, "the theme")]
    inputs += [(path, "a picture of the theme") for path in (theme.logo, theme.background_image)
               if path is not None]
    company = template or (theme.template.path if theme.template else None)
    if company is not None:
        inputs.append((company, "the template"))
    inputs += [(image.path, "a picture the source uses") for image in images
               if image.path is not None]
    return tuple(dict.fromkeys(inputs))


def refuse_overwriting(inputs: Iterable[tuple[Path, str]], files: Iterable[Path] = (),
                       folders: Iterable[Path] = (), advice: str = "choose another -o path"
                       ) -> None:
    """Refuse, before anything is written, an output file that is one of the inputs (also
    through a symbolic or hard link) or an output folder that holds one."""
    inputs = list(inputs)
    for output in files:
        for path, what in inputs:
            if same_file(output, path):
                named = f" ({path})" if str(path) != str(output) else ""
                raise DeckgenError(f"the output would overwrite {what}{named}; {advice}",
                                   output)
    for folder in folders:
        for path, what in inputs:
            if inside(path, folder):
                raise DeckgenError(f"holds {what} ({path}), which the pictures written there "
                                   f"could replace; {advice}", folder)


def same_file(first: Path, second: Path) -> bool:
    """Whether two paths name one file: the same path once links are followed, or the same
    file on disk (a hard link, a name spelled otherwise on a case-insensitive disk)."""
    try:
        if first.resolve() == second.resolve():
            return True
        return first.exists() and second.exists() and os.path.samefile(first, second)
    except (OSError, RuntimeError, ValueError):  # a loop of links, a NUL, a name too long
        return False


def inside(path: Path, folder: Path) -> bool:
    """Whether `path` is `folder` or lies inside it, once links are followed, or is (or
    lies in) the same folder on disk under another spelling (another case on a
    case-insensitive disk, a bind mount): compared by device and inode with each of its
    parents."""
    try:
        resolved = path.resolve()
        if resolved.is_relative_to(folder.resolve()):
            return True
        if not folder.is_dir():
            return False
        target = folder.stat()
    except (OSError, RuntimeError, ValueError):
        return False
    for parent in (resolved, *resolved.parents):
        try:
            if os.path.samestat(parent.stat(), target):
                return True
        except (OSError, ValueError):
            continue
    return False


def located_in_front_matter(error: DeckgenError, options: BuildOptions, deck: Deck,
                            text: str) -> DeckgenError:
    """A theme or template error, located at the front-matter key that chose the theme or
    template (when that, not an option, did), so that it names the note and its line."""
    key = front_matter_key(error.file, options, deck)
    if key is None:
        return error
    return DeckgenError(f"front matter {key}: {error}", options.source,
                        front_matter_line(text, key))


def unusable_path(exc: OSError, options: BuildOptions, deck: Deck,
                  text: str) -> DeckgenError:
    """An operating-system error about a theme's or template's file (a name too long for
    the disk, a loop of links): at the front-matter key that named it, saying to change it
    there; else naming the file, and asking for another only if the command line gave it."""
    file = Path(os.fsdecode(exc.filename)) if exc.filename else None
    reason = _reason(exc)
    key = front_matter_key(file, options, deck)
    if key is not None:
        named = f" {file}" if file is not None else ""
        return DeckgenError(f"front matter {key}: cannot use{named} ({reason}); change "
                            f"'{key}:' in the note's front matter", options.source,
                            front_matter_line(text, key))
    given = [Path(options.theme)] if options.theme else []
    given += [options.template] if options.template is not None else []
    if file is not None and file in given:
        return DeckgenError(f"cannot use this path ({reason}); give another one", file)
    return DeckgenError(f"cannot read this file ({reason})", file)


def front_matter_key(file: Path | None, options: BuildOptions, deck: Deck) -> str | None:
    """The front-matter key ("theme", "template") that chose the theme or template a
    problem with `file` is about; None when an option chose it (or nothing did)."""
    template = template_path(options, deck)
    about_template = template is not None and file == template
    if about_template and options.template is None:
        return "template"
    if not about_template and deck.meta.theme and options.theme is None:
        return "theme"
    return None


def picture_roots(options: BuildOptions) -> tuple[Path, ...]:
    """The folders a note's pictures, and a theme's or front-matter template's files, may
    come from: the note's folder, the resource paths and the note's repository root."""
    root = repository_root(options.source.parent)
    return (options.source.parent, *options.resource_paths, *([root] if root else []))


def template_path(options: BuildOptions, deck: Deck) -> Path | None:
    """The company template: the option, else the front matter's `template` (relative to
    the note); None leaves it to the theme."""
    if options.template is not None:
        return options.template
    if deck.meta.template:
        return options.source.parent / deck.meta.template
    return None


def start_pictures(slides: list[PlacedSlide], dpi: int, layout: DeckLayout,
                   diagnostics: Diagnostics) -> PicturedSlides:
    """Start encoding each placed picture at its placed size × dpi (images.Encoding)."""
    placed = [shape for slide in slides for shape in slide.shapes
              if isinstance(shape, PictureShape)]
    return PicturedSlides(slides, Encoding(placed, dpi), layout, diagnostics)


def embed_pictures(slides: list[PlacedSlide], dpi: int, layout: DeckLayout,
                   diagnostics: Diagnostics) -> list[PlacedSlide]:
    """The slides with each placed picture encoded at its placed size × dpi; a placeholder
    instead of a note's picture that turns out unreadable only when decoded (see
    PicturedSlides)."""
    return start_pictures(slides, dpi, layout, diagnostics).all()


def build(options: BuildOptions, diagnostics: Diagnostics,
          progress: BuildProgress | None = None) -> Plan:
    """Build the deck and write it atomically, rendering while the pictures are encoded;
    returns what was built."""
    progress = progress or SilentProgress()
    return write_deck(plan_build(options, diagnostics, progress,
                                 encode_while_rendering=True), progress)


@without_cycle_collection
def write_deck(plan: Plan, progress: BuildProgress | None = None) -> Plan:
    """Render a planned deck, each slide as soon as its pictures are encoded, and write it
    atomically; returns the plan."""
    from deckgen.render import render_deck  # python-pptx: only a build that writes needs it

    progress = progress or SilentProgress()
    try:
        data = render_deck(counted(plan.pictured, len(plan.pictured), progress), plan.theme,
                           core_properties(plan.deck.meta), build_timestamp(plan.deck))
    finally:
        plan.pictured.close()
    progress.stage("rendered")
    write_atomically(plan.output, data)
    progress.stage("written")
    return plan


def core_properties(meta: DeckMeta) -> DeckMeta:
    """The metadata as the file's core properties can hold it: python-pptx refuses a title,
    author, subject or keywords longer than 255 characters (a long first heading stays
    whole on its slides)."""

    def short(text: str) -> str:
        return text if len(text) <= CORE_PROPERTY_LIMIT else text[:CORE_PROPERTY_LIMIT - 1] + "…"

    return replace(meta, title=short(meta.title), author=short(meta.author),
                   subject=short(meta.subject), keywords=short(meta.keywords))


def build_timestamp(deck: Deck) -> datetime:
    """The time written into the deck: SOURCE_DATE_EPOCH, else the front matter's date,
    else a fixed date; never the clock, so rebuilds are byte-identical."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch:
        try:
            return min(datetime.fromtimestamp(int(epoch), tz=UTC), LATEST_ZIP_DATE)
        except (ValueError, OverflowError, OSError) as exc:
            raise DeckgenError(f"SOURCE_DATE_EPOCH={epoch!r} is not a Unix time in "
                               "seconds") from exc
    try:
        date = datetime.fromisoformat(deck.meta.date)
        date = date.replace(tzinfo=UTC) if date.tzinfo is None else date.astimezone(UTC)
    except (ValueError, OverflowError):  # not a date, or 0001-01-01+01:00 (before year 1)
        return FALLBACK_DATE
    return min(date, LATEST_ZIP_DATE)


def write_atomically(path: Path, data: bytes) -> None:
    """Write a file whole or not at all: a temporary file beside it, then a rename."""
    directory = path.parent if str(path.parent) else Path(".")
    if directory.exists() and not directory.is_dir():
        raise DeckgenError("is a file, not a folder, so the deck cannot go in it; choose "
                           "another -o path", directory)
    if not directory.is_dir():
        raise DeckgenError("the output folder does not exist; create it or choose another "
                           "-o path", directory)
    _remove_stale_temporaries(path)
    try:
        handle, temporary = tempfile.mkstemp(prefix=f"{TEMPORARY_PREFIX}{os.getpid()}-",
                                             suffix=".tmp", dir=directory)
    except OSError as exc:
        raise DeckgenError(f"cannot write in the output folder ({_reason(exc)}); choose "
                           "another -o path", directory) from exc
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
        advice = ("free some space and build again" if exc.errno in DISK_FULL
                  else "choose a shorter -o name" if exc.errno == errno.ENAMETOOLONG
                  else "choose another -o path")
        raise DeckgenError(f"cannot write the deck ({_reason(exc)}); the previous deck, if "
                           f"any, is untouched; {advice}", path) from exc
    except BaseException:
        _unlink_quietly(Path(temporary))
        raise


def _reason(exc: OSError) -> str:
    """Why an operating-system call failed, in the system's words."""
    return exc.strerror or str(exc) or type(exc).__name__


def _remove_stale_temporaries(path: Path) -> None:
    """Temporary files a killed build left beside the output: deckgen's own
    (".deckgen-PID-random.tmp", TEMPORARY_NAME) and an older deckgen's, named after the
    deck (".talk.pptx.PID-random.tmp", earlier ".talk.pptx.random.tmp"); each only when
    its name has exactly that shape, it is a plain file (not a link) and the build that
    wrote it (its process id is in the name) is not running: another build writing into
    the same folder at the same time must not lose its file, and a file of the user's that
    merely looks alike is left alone."""
    older = re.compile(rf"\.{re.escape(path.name)}\.(?:\d+-)?{TEMPORARY_RANDOM}\.tmp")
    patterns = ((f".{glob.escape(path.name)}.*.tmp", older, len(path.name) + 2),
                (f"{TEMPORARY_PREFIX}*.tmp", TEMPORARY_NAME, len(TEMPORARY_PREFIX)))
    for wildcard, shape, start in patterns:
        for stale in path.parent.glob(wildcard):
            if (shape.fullmatch(stale.name) and _plain_file(stale)
                    and not _writer_is_running(stale.name[start:])):
                _unlink_quietly(stale)


def _plain_file(path: Path) -> bool:
    """Whether a path is a regular file itself (a symbolic link is not)."""
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def _writer_is_running(suffix: str) -> bool:
    """Whether the build that made a temporary file ("PID-random.tmp") is still running (a
    name without a process id is an older deckgen's: stale)."""
    digits, dash, _ = suffix.partition("-")
    if not dash or not digits.isdigit():
        return False
    pid = int(digits)
    if pid <= 0 or pid == os.getpid():  # (0 would ask about the whole process group)
        return False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except PermissionError:  # it does, and belongs to another user
        return True
    except (OSError, OverflowError):
        return False
    return True


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def default_resource_paths(extra: Sequence[Path] | None) -> tuple[Path, ...]:
    """The folders images are looked up in after the note's own folder: those given (the
    working directory only when given); the note's repository root is always one."""
    return tuple(extra) if extra else ()
