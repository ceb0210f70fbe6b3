"""Rebuild when the notes, their pictures or the theme change: mtime polling, debounced."""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

if TYPE_CHECKING:
    from deckgen.build import BuildOptions, Plan

#: Seconds between two looks at the watched files.
POLL_INTERVAL = 0.3
#: Seconds the files must stay unchanged before a rebuild (editors save in steps).
DEBOUNCE = 0.2

#: A file's state as polled: (modification time in ns, size, inode), or None when absent.
Signature = tuple[int, int, int] | None


def signature(path: Path) -> Signature:
    """What changes when a file is saved, replaced, created or deleted."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return (status.st_mtime_ns, status.st_size, status.st_ino)


def snapshot(paths: Iterable[Path]) -> dict[Path, Signature]:
    """The signature of every path."""
    return {path: signature(path) for path in paths}


def changed_paths(before: dict[Path, Signature], after: dict[Path, Signature]) -> list[Path]:
    """The paths whose signature differs between two snapshots (of the same paths)."""
    return [path for path, state in after.items() if before.get(path, state) != state]


def watch(rebuild: Callable[[], Sequence[Path]], source: Path, *,
          stop: threading.Event | None = None, interval: float = POLL_INTERVAL,
          debounce: float = DEBOUNCE, max_rebuilds: int | None = None,
          on_change: Callable[[list[Path]], None] = lambda paths: None,
          on_error: Callable[[Exception], None] = lambda error: None) -> int:
    """Build once, then rebuild whenever a watched file changes, until `stop` is set (or
    after `max_rebuilds` rebuilds); returns the number of builds run.

    `rebuild` builds and returns the files to watch; when it raises, `on_error` hears of it
    and the previous files (and `source`) stay watched, so a broken edit does not end the
    watch. A change counts once the files have been still for `debounce` seconds. While
    the watch runs, each build keeps what it made for the next (kept_between_builds).
    """
    with kept_between_builds():
        return _watch(rebuild, source, stop or threading.Event(), interval, debounce,
                      max_rebuilds, on_change, on_error)


@contextmanager
def kept_between_builds() -> Iterator[None]:
    """While a watch runs, every stage keeps what it made in the last build for the next
    one, which makes again only what a change touched: the pictures inspected and encoded
    (cache.py), the note's sections, the slides of each, the slides laid out and as
    written. Each build replaces what was kept with its own; the watch's end drops it all."""
    from deckgen import cache, layout, parse, render, structure  # render imports python-pptx

    switches = (parse.keep_between_builds, structure.keep_between_builds,
                layout.keep_between_builds, render.keep_between_builds)
    cache.keep_between_builds()
    for keep in switches:
        keep(True)
    try:
        yield
    finally:
        for keep in switches:
            keep(False)
        cache.forget_between_builds()


def _watch(rebuild: Callable[[], Sequence[Path]], source: Path, stop: threading.Event,
           interval: float, debounce: float, max_rebuilds: int | None,
           on_change: Callable[[list[Path]], None],
           on_error: Callable[[Exception], None]) -> int:
    watched: list[Path] = [source]
    builds = 0

    def run() -> dict[Path, Signature]:
        nonlocal watched, builds
        before = snapshot(watched)
        try:
            watched = _with_source(rebuild(), source)
        except Exception as error:  # a broken edit must not end the watch
            on_error(error)
            watched = _with_source(watched, source)
        builds += 1
        states = {path: before[path] if path in before else signature(path)
                  for path in watched}
        # Builds pause the cycle collector (build.without_cycle_collection): free the last
        # build's package while the watch idles, not bit by bit during the next build.
        gc.collect()
        return states

    last = run()
    while not stop.wait(interval):
        current = snapshot(watched)
        if current == last:
            continue
        while not stop.wait(debounce):
            settled = snapshot(watched)
            if settled == current:
                break
            current = settled
        if stop.is_set():
            break
        on_change(changed_paths(last, current))
        last = run()
        if max_rebuilds is not None and builds - 1 >= max_rebuilds:
            break
    return builds


def _with_source(paths: Iterable[Path], source: Path) -> list[Path]:
    return list(dict.fromkeys((source, *paths)))


def watched_paths(plan: Plan, options: BuildOptions) -> list[Path]:
    """The files a build read: the notes, the theme's folder of .toml files, its logo,
    background picture and company template, every local picture (where it would be looked
    for first, when it is missing) and any other file the options name."""
    from deckgen.images import OUTSIDE, resolve_image_path

    theme = plan.theme
    paths: list[Path] = [options.source]
    paths += sorted(theme.path.parent.glob("*.toml")) or [theme.path]
    paths += [path for path in (theme.logo, theme.background_image,
                                theme.template.path if theme.template else None) if path]
    for option in fields(options):
        value = getattr(options, option.name)
        if isinstance(value, Path) and option.name not in ("source", "output"):
            paths.append(value)
    roots = [options.source.parent, *options.resource_paths]
    for slide in plan.deck.slides:
        for image in slide.images:
            src = image.src.strip()
            if not src or src.lower().startswith(("http://", "https://", "data:")):
                continue
            found = resolve_image_path(src, roots)
            if found is None or found == OUTSIDE:
                found = options.source.parent / unquote(src.split("#", 1)[0].split("?", 1)[0])
            paths.append(found)
    return list(dict.fromkeys(paths))
