"""Build progress: the pipeline reports stages, a reporter shows them for large decks."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol, TextIO, TypeVar

#: A deck with more slides or pictures than these shows its progress.
LARGE_DECK_SLIDES = 50
LARGE_DECK_IMAGES = 20
#: The stages of a build, in order; `rendered` is reached slide by slide.
STAGES = ("parsed", "images prepared", "laid out", "rendered", "written")
BAR_WIDTH = 28

Item = TypeVar("Item")


class BuildProgress(Protocol):
    """What the build tells whoever watches it; it knows nothing of terminals."""

    def started(self, slides: int, images: int) -> None:
        """The notes are parsed: this many slides (before continuation) and pictures."""

    def stage(self, name: str) -> None:
        """A stage of STAGES is done."""

    def step(self, done: int, total: int) -> None:
        """`done` of `total` slides are rendered."""


class SilentProgress:
    """Progress nobody watches."""

    def started(self, slides: int, images: int) -> None:
        """Nothing to show."""

    def stage(self, name: str) -> None:
        """Nothing to show."""

    def step(self, done: int, total: int) -> None:
        """Nothing to show."""


def counted(items: Iterable[Item], total: int, progress: BuildProgress) -> Iterator[Item]:
    """The items, reporting a step after each one has been used."""
    for done, item in enumerate(items, start=1):
        yield item
        progress.step(done, total)


class StreamProgress:
    """Shows the progress of a large build on a stream: a bar redrawn in place on a
    terminal, plain lines otherwise; small builds stay quiet unless `always`."""

    def __init__(self, stream: TextIO, tty: bool | None = None, always: bool = False) -> None:
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self.always = always
        self.active = always
        self.line_open = False
        self.last_line_step = 0
        self.size = ""

    def started(self, slides: int, images: int) -> None:
        """Decide whether the build is large enough to show, and say how large it is."""
        self.active = (self.always or slides > LARGE_DECK_SLIDES
                       or images > LARGE_DECK_IMAGES)
        self.size = f"{slides} slides, {images} pictures"

    def stage(self, name: str) -> None:
        """Show a finished stage."""
        if not self.active:
            return
        index = STAGES.index(name) + 1 if name in STAGES else 0
        detail = f" ({self.size})" if name == "parsed" and self.size else ""
        if self.tty:
            self._draw(index / len(STAGES), f"{name}{detail}")
        else:
            self._print(f"deckgen: {name}{detail}")

    def step(self, done: int, total: int) -> None:
        """Show rendering progress: every slide on a terminal, about every tenth otherwise
        (the `rendered` stage says when all are done)."""
        if not self.active or total <= 0:
            return
        start = STAGES.index("laid out") + 1
        if self.tty:
            self._draw((start + done / total) / len(STAGES), f"rendering slide {done}/{total}")
        elif done < total and done - self.last_line_step >= max(1, total // 10):
            self.last_line_step = done
            self._print(f"deckgen: rendered {done}/{total} slides")

    def close(self) -> None:
        """End the bar's line, so that what follows starts on a line of its own."""
        if self.line_open:
            self.stream.write("\n")
            self.stream.flush()
            self.line_open = False

    def _draw(self, fraction: float, label: str) -> None:
        filled = round(BAR_WIDTH * min(max(fraction, 0.0), 1.0))
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        self.stream.write(f"\r[{bar}] {round(100 * fraction):3d}% {label}\x1b[K")
        self.stream.flush()
        self.line_open = True

    def _print(self, line: str) -> None:
        self.close()
        print(line, file=self.stream, flush=True)
