"""The command line: build, check, preview, init and themes; a thin layer over the modules."""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, NoReturn, TextIO

from deckgen import __version__
from deckgen.errors import DeckgenError, Diagnostics, Level, UsageError
from deckgen.fontlist import start_font_listing
from deckgen.startup import defer_unused_imports

if TYPE_CHECKING:
    from deckgen.build import BuildOptions, Plan

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
#: Stopped by Ctrl-C (SIGINT) or SIGTERM: 128 + the signal's number, as shells report it.
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143

BUILD_EXAMPLES = """\
examples:
  deckgen build content/intro.md                 writes content/intro.pptx
  deckgen build notes.md -o talk.pptx --theme dark
  deckgen build notes.md --template company.pptx on the company's masters and layouts
  deckgen build notes.md --overflow continue     long slides continue on "… (2/2)" slides
  deckgen build notes.md --resource-path assets  images are also looked up in assets/
  deckgen build notes.md --strict                warnings fail the build (exit 1)
  deckgen build notes.md --pdf --handout         also notes.pdf, notes.handout.md (+ pictures)
  deckgen build notes.md --watch                 rebuild on every save; Ctrl-C stops
"""
CHECK_EXAMPLES = """\
examples:
  deckgen check content/intro.md                 every warning as file:line: level: message
  deckgen check notes.md --strict                exit 1 if there is any warning
  deckgen check notes.md --overflow continue     check as 'build --overflow continue' would
"""
PREVIEW_EXAMPLES = """\
examples:
  deckgen preview content/intro.md               builds, then content/intro.preview/*.png
  deckgen preview talk.pptx -o shots             pictures of an existing deck in shots/
  deckgen preview notes.md --width 1920          1920-pixel-wide slide pictures
"""
INIT_EXAMPLES = """\
examples:
  deckgen init my-talk                           my-talk/content/talk.md, content/img/, README.md
  deckgen init                                   the same in the current folder
"""
THEMES_EXAMPLES = """\
examples:
  deckgen themes                                 name and description of each built-in theme
  deckgen build notes.md --theme NAME            build with one of them
"""


#: Pictures are embedded at this many pixels per inch of their placed size by default
#: (deckgen.images.DEFAULT_DPI, not imported so that --help needs no Pillow).
IMAGE_DPI = 220
MIN_DPI, MAX_DPI = 36, 1200


def image_dpi(text: str) -> int:
    """The --image-dpi value: a whole number of pixels per inch in a sensible range."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not MIN_DPI <= value <= MAX_DPI:
        raise argparse.ArgumentTypeError(f"{value} is not between {MIN_DPI} and {MAX_DPI}")
    return value


def parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    top = argparse.ArgumentParser(
        prog="deckgen",
        description="Turn Markdown study notes and their images into a themed, editable "
                    "PowerPoint deck.",
        epilog="Run 'deckgen COMMAND --help' for a command's options and examples.")
    top.add_argument("--version", action="version", version=f"deckgen {__version__}")
    commands = top.add_subparsers(dest="command", metavar="COMMAND")

    build = commands.add_parser(
        "build", help="build a .pptx deck from a Markdown file",
        description="Build a .pptx deck from a Markdown file: a title slide, one slide per "
                    "section (one per era, with a timeline), speaker notes with the full "
                    "prose. Prints one line per slide, the warnings, then the output path.",
        epilog=BUILD_EXAMPLES, formatter_class=ExamplesFormatter)
    build.add_argument("source", type=Path, metavar="SOURCE", help="the Markdown file")
    build.add_argument("-o", "--output", type=Path, metavar="OUT",
                       help="the .pptx to write (default: SOURCE with .pptx beside it)")
    add_deck_options(build)
    build.add_argument("--strict", action="store_true",
                       help="treat warnings as errors: exit 1 and write nothing")
    build.add_argument("--pdf", action="store_true",
                       help="also write the deck as a PDF beside it, for people without "
                            "PowerPoint (needs LibreOffice)")
    build.add_argument("--handout", action="store_true",
                       help="also write OUT.handout.md: every slide's picture (in "
                            "OUT.handout/) with its speaker notes beneath, for rehearsing and "
                            "for readers (needs LibreOffice and poppler); an existing "
                            "OUT.handout.md deckgen did not write is refused, never replaced")
    build.add_argument("--watch", action="store_true",
                       help="build, then rebuild whenever the notes, their pictures or the "
                            "theme change; a broken edit is reported and the watch goes on; "
                            "Ctrl-C stops")
    add_verbosity(build)

    check = commands.add_parser(
        "check", help="report what a build would warn about, writing nothing",
        description="Everything a build would warn about — missing or refused pictures, text "
                    "moved to the notes or continued, unsupported Markdown and HTML, theme "
                    "problems — and slides without speaker notes, as 'file:line: level: "
                    "message' lines in source order. Nothing is written.",
        epilog=CHECK_EXAMPLES, formatter_class=ExamplesFormatter)
    check.add_argument("source", type=Path, metavar="SOURCE", help="the Markdown file")
    add_deck_options(check)
    check.add_argument("--strict", action="store_true",
                       help="exit 1 if there is any warning")
    add_verbosity(check)

    preview = commands.add_parser(
        "preview", help="draw every slide as a PNG, plus a contact sheet (LibreOffice)",
        description="Draw every slide as a PNG (slide-01.png, …) and all of them on one "
                    "numbered contact sheet (contact-sheet.png), with LibreOffice and poppler "
                    "instead of PowerPoint. A Markdown SOURCE is built first (into a "
                    "temporary folder); a .pptx is drawn as it is. The PDF LibreOffice made "
                    "is kept beside the pictures.",
        epilog=PREVIEW_EXAMPLES, formatter_class=ExamplesFormatter)
    preview.add_argument("target", type=Path, metavar="SOURCE|DECK.pptx",
                         help="a Markdown file to build and draw, or a built .pptx")
    preview.add_argument("-o", "--output", type=Path, metavar="DIR",
                         help="the folder for the pictures (default: the target's name with "
                              ".preview beside it, e.g. content/intro.preview/); it must be "
                              "new, empty or deckgen's own (one holding only slide pictures, "
                              "the contact sheet and the PDF): a folder holding other files "
                              "or the notes' pictures, or a symbolic link, is refused")
    preview.add_argument("--width", type=pixels, default=1280, metavar="PX",
                         help="width of each slide picture in pixels (default: 1280; the "
                              "height follows the slide's shape)")
    add_deck_options(preview, for_source=True)
    add_verbosity(preview)

    init = commands.add_parser(
        "init", help="start a new talk: notes, a picture and a README that build cleanly",
        description="Create a new talk's skeleton in DIR: content/talk.md (front matter, a "
                    "section of two eras with a timeline, speaker notes in '::: notes' "
                    "blocks, references), content/img/overview.png and a README.md. It "
                    "builds without a warning. Existing files are never overwritten.",
        epilog=INIT_EXAMPLES, formatter_class=ExamplesFormatter)
    init.add_argument("directory", type=Path, nargs="?", default=Path("."), metavar="DIR",
                      help="the talk's folder, created if needed (default: the current one)")
    init.add_argument("-q", "--quiet", action="store_true", help="print only errors")

    commands.add_parser("themes", help="list the built-in themes",
                        description="List the built-in themes with a one-line description.",
                        epilog=THEMES_EXAMPLES, formatter_class=ExamplesFormatter)
    return top


class ExamplesFormatter(argparse.HelpFormatter):
    """Help that wraps descriptions to the terminal but keeps an examples epilog as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("examples:"):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def add_deck_options(command: argparse.ArgumentParser, for_source: bool = False) -> None:
    """The options that decide what a deck looks like; build, check and preview share them."""
    when = " (for a Markdown SOURCE)" if for_source else ""
    command.add_argument("--theme", metavar="T",
                         help="a built-in theme name or a path to a theme .toml (default: the "
                              "front matter's theme, whose path is relative to the note, else "
                              f"'default'){when}")
    command.add_argument("--template", type=Path, metavar="FILE",
                         help="a company PowerPoint template (.pptx or .potx) to build on: its "
                              "slide size, masters, layouts, fonts and colours (default: the "
                              f"front matter's template, else the theme's, else none){when}")
    command.add_argument("--resource-path", type=Path, action="append", metavar="P",
                         dest="resource_paths",
                         help="a folder to look for images in after the note's own folder; "
                              "repeatable (default: none; the note's folder and the root of "
                              "the git repository holding it are always looked in, the "
                              "current directory only when given, e.g. --resource-path .)"
                              f"{when}")
    command.add_argument("--overflow", choices=("notes", "continue"), default="notes",
                         help="text that does not fit at the minimum size: move whole points "
                              "to the speaker notes (default) or continue on further "
                              f"slides{when}")
    command.add_argument("--image-dpi", type=image_dpi, default=IMAGE_DPI, metavar="N",
                         help="embed pictures at N pixels per inch of their placed size "
                              f"(default: {IMAGE_DPI}; {MIN_DPI}-{MAX_DPI}); fewer is a "
                              f"smaller deck{when}")


def add_verbosity(command: argparse.ArgumentParser) -> None:
    """-q and -v."""
    verbosity = command.add_mutually_exclusive_group()
    verbosity.add_argument("-q", "--quiet", action="store_true",
                           help="print only errors")
    verbosity.add_argument("-v", "--verbose", action="store_true",
                           help="also print informational notes and the measuring fonts")


def pixels(text: str) -> int:
    """The --width value: a whole number of pixels, 16 to 10000."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 16 <= value <= 10_000:
        raise argparse.ArgumentTypeError(f"{value} is not between 16 and 10000")
    return value


def build_options(args: argparse.Namespace, source: Path, output: Path | None) -> BuildOptions:
    """The BuildOptions of a command with the deck options, building `source` to `output`."""
    from deckgen.build import BuildOptions, default_resource_paths
    from deckgen.layout import Overflow

    return BuildOptions(source=source, output=output, theme=args.theme,
                        resource_paths=default_resource_paths(args.resource_paths),
                        overflow=Overflow(args.overflow), image_dpi=args.image_dpi,
                        template=args.template)


def entry() -> NoReturn:
    """The `deckgen` command (and `python -m deckgen`): main()'s exit code. A Ctrl-C that
    comes after the command has finished, as Python exits, ends the process quietly with
    130 instead of a traceback (main's own handling has ended by then)."""
    try:
        code = main()
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # from here on, as the signal's default
    if code in (EXIT_INTERRUPTED, EXIT_TERMINATED):
        # Stopped, cleaned up and said so: end here. Python's shutdown would run the
        # finalizers of objects the signal interrupted half made (multiprocessing's among
        # them), which print "Exception ignored" tracebacks after deckgen's last line.
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)
    # Python's shutdown runs the cycle collector over every object still alive (the
    # modules, the build's caches): ~35 ms, a seventh of a short build, spent on memory the
    # system takes back anyway. Frozen objects are skipped (reference counting still runs).
    gc.freeze()
    sys.exit(code)


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
    """Run deckgen; returns the exit code (0 ok, 1 build failed, 2 usage error; 130 or 143
    when stopped by Ctrl-C or SIGTERM)."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            args = parser().parse_args(argv)  # help, version and usage errors print here
    except SystemExit as exit_:
        return int(exit_.code or 0) if isinstance(exit_.code, int) else EXIT_USAGE
    with terminate_as_interrupt():
        return run_command(args, out, err)


def run_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run the parsed command; every error, an interruption and a bug end in one line."""
    try:
        if args.command in ("build", "check", "preview"):
            start_font_listing()  # text is measured on installed fonts: list them meanwhile
            defer_unused_imports()
        if args.command == "build":
            return run_build(args, out, err)
        if args.command == "check":
            return run_check(args, out, err)
        if args.command == "preview":
            return run_preview(args, out, err)
        if args.command == "init":
            return run_init(args, out)
        if args.command == "themes":
            return run_themes(out)
        parser().print_help(out)
        return EXIT_USAGE
    except UsageError as error:
        print(error_message(error), file=err)
        return EXIT_USAGE
    except DeckgenError as error:
        print(error_message(error), file=err)
        return EXIT_FAILED
    except KeyboardInterrupt as interruption:  # Ctrl-C, or SIGTERM (Terminated)
        terminated = isinstance(interruption, Terminated)
        written = getattr(args, "written", None)  # build_once's deck, once it is written
        outcome = f"{written} was written" if written else "nothing was written"
        print(f"deckgen: {'terminated' if terminated else 'interrupted'}; {outcome}",
              file=err)
        return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
    except MemoryError:
        source = getattr(args, "source", None)
        named = f"{source}: " if source else ""
        print(f"deckgen: error: {named}out of memory; nothing was written (split the note, or "
              "make its pictures smaller)", file=err)
        return EXIT_FAILED
    except OSError as error:  # a path the system refuses: a name too long, a loop of links
        print(error_message(path_error(error, given_paths(args))), file=err)
        return EXIT_FAILED
    except Exception as error:  # a bug: say so in one line instead of a traceback
        print(error_message(error), file=err)
        return EXIT_FAILED


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised as Ctrl-C raises KeyboardInterrupt, so that the build stops the same
    way: its temporary file removed, the previous deck untouched."""


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """While a command runs, SIGTERM raises Terminated; the previous handler is restored
    after. Only the main thread may set handlers: elsewhere nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum: int, frame: FrameType | None) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def given_paths(args: argparse.Namespace) -> set[Path]:
    """The paths the command line names (the note, the deck, the output, the theme, the
    template, the resource paths, init's folder)."""
    given: set[Path] = set()
    for name in ("source", "target", "output", "template", "directory", "theme"):
        value = getattr(args, name, None)
        if isinstance(value, (str, Path)) and str(value):
            given.add(Path(value))
    given.update(getattr(args, "resource_paths", None) or ())
    return given


def path_error(error: OSError, given: set[Path]) -> Exception:
    """An operating-system error about a file, as a DeckgenError naming that file: one the
    command line gave (`given`) is to be given otherwise; another (a temporary file,
    LibreOffice's profile, a font) is named with the reason only. One about no file stays
    what it is (a bug)."""
    if not error.filename:
        return error
    reason = error.strerror or type(error).__name__
    file = Path(os.fsdecode(error.filename))
    if file in given:
        return DeckgenError(f"cannot use this path ({reason}); give another one", file)
    return DeckgenError(f"cannot use this file ({reason})", file)


def error_message(error: Exception) -> str:
    """The one line an error is reported as; a bug is called one, without a traceback."""
    if isinstance(error, DeckgenError):
        return one_line(f"deckgen: error: {error}")
    return one_line(f"deckgen: internal error: {type(error).__name__}: {error} (nothing was "
                    "written; please report this with the Markdown file)")


def one_line(text: object) -> str:
    """A message on one line: the note's text it quotes (a code line, a YAML problem) may
    hold line breaks."""
    return " ".join(str(text).splitlines())


def run_build(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """`deckgen build`, once or (`--watch`) on every change."""
    if args.watch:
        return run_watch(args, out, err)
    return build_once(args, out, err)[0]


def build_once(args: argparse.Namespace, out: TextIO, err: TextIO) -> tuple[int, Plan]:
    """One build as `deckgen build` reports it: its exit code and its plan."""
    from deckgen.build import plan_build, write_deck
    from deckgen.progress import StreamProgress

    diagnostics = Diagnostics()
    progress = None if args.quiet else StreamProgress(err)
    try:
        # Under --strict every warning must be known before writing: the pictures are all
        # encoded first; otherwise slides are rendered while the pool encodes them.
        plan = plan_build(build_options(args, args.source, args.output), diagnostics,
                          progress, encode_while_rendering=not args.strict)
        refused = args.strict and bool(diagnostics.warnings)
        if not refused and (args.pdf or args.handout):
            from deckgen.share import check_shared_outputs

            try:  # before the deck is written
                check_shared_outputs(plan, pdf=args.pdf, handout=args.handout)
            except DeckgenError:
                plan.pictured.close()
                raise
        if not refused:
            write_deck(plan, progress)
            args.written = plan.output  # an interruption from here on says so
    finally:
        if progress is not None:
            progress.close()
    if not args.quiet:
        for number, slide in enumerate(plan.slides, start=1):
            print(f"{number:>3}  {slide.kind.value:<10} {slide.title}", file=out)
    report(diagnostics, err, quiet=args.quiet, verbose=args.verbose)
    if refused:
        print(f"deckgen: error: {len(diagnostics.warnings)} warning(s) under --strict; "
              f"{plan.output} was not written", file=err)
        return EXIT_FAILED, plan
    if not args.quiet:
        print(f"wrote {plan.output} ({len(plan.slides)} slides)", file=out)
    if args.pdf or args.handout:
        from deckgen.share import share_deck

        for path in share_deck(plan, pdf=args.pdf, handout=args.handout, checked=True):
            if not args.quiet:
                print(f"wrote {path}{'/' if path.is_dir() else ''}", file=out)
    return EXIT_OK, plan


def run_watch(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """`deckgen build --watch`: build, then rebuild on every change until Ctrl-C (exit 0);
    pictures are decoded and encoded again only when they change."""
    from deckgen.watch import watch, watched_paths

    def rebuild() -> list[Path]:
        try:
            plan = build_once(args, out, err)[1]
        finally:
            out.flush()
            err.flush()
        return watched_paths(plan, build_options(args, args.source, args.output))

    def changed(paths: list[Path]) -> None:
        if not args.quiet:
            print(f"changed: {', '.join(str(path) for path in paths)}; rebuilding",
                  file=err, flush=True)

    def failed(error: Exception) -> None:
        print(error_message(error), file=err, flush=True)

    if not args.quiet:
        print(f"watching {args.source}, its pictures and its theme; Ctrl-C stops",
              file=err, flush=True)
    try:
        watch(rebuild, args.source, on_change=changed, on_error=failed)
    except KeyboardInterrupt:
        if not args.quiet:
            print("stopped watching", file=err, flush=True)
    return EXIT_OK


def run_check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """`deckgen check`: diagnostics on stdout in source order; nothing is written."""
    from deckgen.check import check_source, findings

    diagnostics = Diagnostics()
    plan = check_source(build_options(args, args.source, None), diagnostics)
    found = findings(diagnostics.items)
    for item in found:
        if item.level is Level.ERROR or (not args.quiet and (item.level is Level.WARNING
                                                             or args.verbose)):
            print(one_line(item), file=out)
    warnings = sum(item.level is not Level.INFO for item in found)
    if not args.quiet:
        print(f"{args.source}: {len(plan.slides)} slides, {warnings} warning(s)", file=out)
    if args.strict and warnings:
        print(f"deckgen: error: {warnings} warning(s) under --strict", file=err)
        return EXIT_FAILED
    return EXIT_OK


def run_preview(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """`deckgen preview`: slide PNGs, a contact sheet and the PDF in one folder."""
    import tempfile

    from deckgen.build import refuse_overwriting
    from deckgen.preview import check_own_folder, preview_deck, require_tools, theme_faces

    require_tools()  # before building, so a missing LibreOffice is said at once
    target: Path = args.target
    if target.is_dir():
        raise DeckgenError("is a folder, not a note or a deck; give a Markdown file or a "
                           ".pptx", target)
    if not target.is_file():
        raise DeckgenError("not found", target)
    folder = args.output or target.with_suffix(".preview")
    # Before building: nothing is written if the folder is not deckgen's to write into.
    check_own_folder(folder, "the preview", pdf=f"{target.stem}.pdf")
    if target.suffix.lower() == ".pptx":
        refuse_overwriting(((target, "the deck"),), folders=(folder,),
                           advice="choose another -o folder")
        result = preview_deck(target, folder, args.width, faces=theme_faces())
    else:
        from deckgen.build import plan_build, write_deck

        diagnostics = Diagnostics()
        with tempfile.TemporaryDirectory(prefix="deckgen-preview-") as work:
            deck = Path(work) / f"{target.stem}.pptx"
            planned = plan_build(build_options(args, target, deck), diagnostics,
                                 encode_while_rendering=True)
            try:
                refuse_overwriting(planned.inputs, folders=(folder,),
                                   advice="choose another -o folder")
            except DeckgenError:
                planned.pictured.close()
                raise
            plan = write_deck(planned)
            report(diagnostics, err, quiet=args.quiet, verbose=args.verbose)
            result = preview_deck(deck, folder, args.width, faces=theme_faces([plan.theme]))
    if not args.quiet:
        first, last = result.slides[0].name, result.slides[-1].name
        print(f"{len(result.slides)} slide pictures: {folder}/{first} … {last}", file=out)
        print(f"contact sheet: {result.sheet}", file=out)
        print(f"PDF: {result.pdf}", file=out)
    return EXIT_OK


def run_init(args: argparse.Namespace, out: TextIO) -> int:
    """`deckgen init`: a new talk's skeleton."""
    from deckgen.scaffold import NOTES_PATH, create_skeleton

    written = create_skeleton(args.directory)
    if not args.quiet:
        for path in written:
            print(f"created {path}", file=out)
        notes = args.directory.joinpath(*NOTES_PATH.parts)
        print(f"next: deckgen build {notes}   (or: deckgen preview {notes})", file=out)
    return EXIT_OK


def report(diagnostics: Diagnostics, err: TextIO, quiet: bool, verbose: bool) -> None:
    """Print diagnostics: warnings (unless quiet) and info (when verbose)."""
    for item in diagnostics.items:
        if item.level is Level.ERROR or (not quiet and (item.level is Level.WARNING
                                                        or verbose)):
            print(one_line(item), file=err)


def run_themes(out: TextIO) -> int:
    """`deckgen themes`."""
    from deckgen.theme import builtin_themes, load_theme

    for name in builtin_themes():
        theme = load_theme(name, Diagnostics())
        print(f"{name:<12} {theme.description}", file=out)
    return EXIT_OK
