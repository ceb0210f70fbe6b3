"""The command line: `deckgen build` and `deckgen themes`; a thin layer over build()."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from deckgen import __version__
from deckgen.errors import DeckgenError, Diagnostics, Level, UsageError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

BUILD_EXAMPLES = """\
examples:
  deckgen build content/intro.md                 writes content/intro.pptx
  deckgen build notes.md -o talk.pptx --theme default
  deckgen build notes.md --overflow continue     long slides continue on "… (2/2)" slides
  deckgen build notes.md --resource-path assets  images are also looked up in assets/
  deckgen build notes.md --strict                warnings fail the build (exit 1)
"""


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
        epilog=BUILD_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    build.add_argument("source", type=Path, metavar="SOURCE", help="the Markdown file")
    build.add_argument("-o", "--output", type=Path, metavar="OUT",
                       help="the .pptx to write (default: SOURCE with .pptx beside it)")
    build.add_argument("--theme", metavar="T",
                       help="a built-in theme name or a path to a theme .toml (default: the "
                            "front matter's theme, else 'default')")
    build.add_argument("--resource-path", type=Path, action="append", metavar="P",
                       dest="resource_paths",
                       help="a folder to look for images in after the note's own folder; "
                            "repeatable (default: the current directory)")
    build.add_argument("--overflow", choices=("notes", "continue"), default="notes",
                       help="text that does not fit at the minimum size: move whole points "
                            "to the speaker notes (default) or continue on further slides")
    build.add_argument("--strict", action="store_true",
                       help="treat warnings as errors: exit 1 and write nothing")
    verbosity = build.add_mutually_exclusive_group()
    verbosity.add_argument("-q", "--quiet", action="store_true",
                           help="print only errors")
    verbosity.add_argument("-v", "--verbose", action="store_true",
                           help="also print informational notes and the measuring fonts")

    commands.add_parser("themes", help="list the built-in themes",
                        description="List the built-in themes with a one-line description.")
    return top


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
    """Run deckgen; returns the exit code (0 ok, 1 build failed, 2 usage error)."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            args = parser().parse_args(argv)  # help, version and usage errors print here
    except SystemExit as exit_:
        return int(exit_.code or 0) if isinstance(exit_.code, int) else EXIT_USAGE
    try:
        if args.command == "build":
            return run_build(args, out, err)
        if args.command == "themes":
            return run_themes(out)
        parser().print_help(out)
        return EXIT_USAGE
    except UsageError as error:
        print(f"deckgen: error: {error}", file=err)
        return EXIT_USAGE
    except DeckgenError as error:
        print(f"deckgen: error: {error}", file=err)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("deckgen: interrupted; nothing was written", file=err)
        return 130
    except Exception as error:  # a bug: say so in one line instead of a traceback
        print(f"deckgen: internal error: {type(error).__name__}: {error} (nothing was "
              "written; please report this with the Markdown file)", file=err)
        return EXIT_FAILED


def run_build(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """`deckgen build`."""
    from deckgen.build import BuildOptions, build, default_resource_paths, plan_build
    from deckgen.layout import Overflow

    diagnostics = Diagnostics()
    options = BuildOptions(source=args.source, output=args.output, theme=args.theme,
                           resource_paths=default_resource_paths(args.resource_paths),
                           overflow=Overflow(args.overflow))
    plan = plan_build(options, diagnostics) if args.strict else build(options, diagnostics)
    if not args.quiet:
        for number, slide in enumerate(plan.slides, start=1):
            print(f"{number:>3}  {slide.kind.value:<10} {slide.title}", file=out)
    report(diagnostics, err, quiet=args.quiet, verbose=args.verbose)
    if args.strict and diagnostics.warnings:
        print(f"deckgen: error: {len(diagnostics.warnings)} warning(s) under --strict; "
              f"{plan.output} was not written", file=err)
        return EXIT_FAILED
    if args.strict:
        build(options, Diagnostics())
    if not args.quiet:
        print(f"wrote {plan.output} ({len(plan.slides)} slides)", file=out)
    return EXIT_OK


def report(diagnostics: Diagnostics, err: TextIO, quiet: bool, verbose: bool) -> None:
    """Print diagnostics: warnings (unless quiet) and info (when verbose)."""
    for item in diagnostics.items:
        if item.level is Level.ERROR or (not quiet and (item.level is Level.WARNING
                                                        or verbose)):
            print(item, file=err)


def run_themes(out: TextIO) -> int:
    """`deckgen themes`."""
    from deckgen.theme import builtin_themes, load_theme

    for name in builtin_themes():
        theme = load_theme(name, Diagnostics())
        print(f"{name:<12} {theme.description}", file=out)
    return EXIT_OK
