"""deckgen.watch and `deckgen build --watch`: rebuild on change, survive broken edits, stop."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import REPO_ROOT
from pptx import Presentation

from deckgen import cache, layout, parse, render, structure
from deckgen.build import BuildOptions, build
from deckgen.errors import DeckgenError, Diagnostics
from deckgen.watch import changed_paths, signature, snapshot, watch, watched_paths

#: The longest any test waits for something that should happen within a second or two.
PATIENCE = 30.0
FAST = {"interval": 0.02, "debounce": 0.03}


def wait_for(condition: Callable[[], bool], timeout: float = PATIENCE) -> bool:
    """Poll `condition` until it holds or `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def touch(path: Path, text: str) -> None:
    """Rewrite a file so that its signature surely changes (size and mtime)."""
    before = signature(path)
    path.write_text(text, encoding="utf-8")
    if signature(path) == before:  # same size within the clock's resolution
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))


@contextmanager
def watching(rebuild: Callable[[], Sequence[Path]], source: Path,
             **options: object) -> Iterator[tuple[threading.Event, list[object]]]:
    """watch() in a thread; yields its stop event and the errors it reported."""
    stop = threading.Event()
    errors: list[object] = []
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(watch(
        rebuild, source, stop=stop, on_error=errors.append, **FAST, **options)),
        daemon=True)
    thread.start()
    try:
        yield stop, errors
    finally:
        stop.set()
        thread.join(PATIENCE)
        assert not thread.is_alive(), "watch() must end soon after its stop event is set"


# --- snapshots ------------------------------------------------------------------------------


def test_signature_of_a_missing_file_is_none(tmp_path: Path) -> None:
    assert signature(tmp_path / "nothing") is None


def test_changed_paths(tmp_path: Path) -> None:
    a, b, c = (tmp_path / name for name in "abc")
    a.write_text("1")
    b.write_text("1")
    before = snapshot([a, b, c])
    touch(a, "22")
    c.write_text("new")
    assert changed_paths(before, snapshot([a, b, c])) == [a, c]


# --- the loop -------------------------------------------------------------------------------


def test_rebuilds_after_a_change(tmp_path: Path) -> None:
    source = tmp_path / "notes.md"
    source.write_text("one", encoding="utf-8")
    builds: list[str] = []

    def rebuild() -> list[Path]:
        builds.append(source.read_text(encoding="utf-8"))
        return [source]

    with watching(rebuild, source):
        assert wait_for(lambda: builds == ["one"])
        touch(source, "two")
        assert wait_for(lambda: builds[-1:] == ["two"])
    assert builds == ["one", "two"]


def test_watches_the_files_the_build_returns(tmp_path: Path) -> None:
    source, picture = tmp_path / "notes.md", tmp_path / "pic.png"
    source.write_text("x", encoding="utf-8")
    picture.write_bytes(b"1")
    builds: list[int] = []

    def rebuild() -> list[Path]:
        builds.append(1)
        return [picture]

    with watching(rebuild, source):
        assert wait_for(lambda: len(builds) == 1)
        picture.write_bytes(b"22")
        assert wait_for(lambda: len(builds) == 2)
        touch(source, "yy")  # the source is always watched
        assert wait_for(lambda: len(builds) == 3)


def test_a_broken_edit_is_reported_and_the_watch_goes_on(tmp_path: Path) -> None:
    source = tmp_path / "notes.md"
    source.write_text("good", encoding="utf-8")
    builds: list[str] = []

    def rebuild() -> list[Path]:
        text = source.read_text(encoding="utf-8")
        builds.append(text)
        if text == "broken":
            raise DeckgenError("cannot parse", source, 3)
        return [source]

    with watching(rebuild, source) as (_, errors):
        assert wait_for(lambda: builds == ["good"])
        touch(source, "broken")
        assert wait_for(lambda: len(errors) == 1)
        assert str(errors[0]) == f"{source}:3: cannot parse"
        touch(source, "fixed")
        assert wait_for(lambda: builds[-1:] == ["fixed"])
    assert builds == ["good", "broken", "fixed"]


def test_a_burst_of_saves_is_one_rebuild(tmp_path: Path) -> None:
    source = tmp_path / "notes.md"
    source.write_text("0", encoding="utf-8")
    builds: list[str] = []

    def rebuild() -> list[Path]:
        builds.append(source.read_text(encoding="utf-8"))
        return [source]

    stop = threading.Event()
    thread = threading.Thread(target=watch, args=(rebuild, source),
                              kwargs={"stop": stop, "interval": 0.02, "debounce": 0.5},
                              daemon=True)
    thread.start()
    try:
        assert wait_for(lambda: builds == ["0"])
        for step in range(1, 6):  # saves 0.05 s apart, well inside the debounce
            touch(source, str(step) * step)
            time.sleep(0.05)
        assert wait_for(lambda: len(builds) >= 2)
        time.sleep(0.7)
        assert builds == ["0", "55555"]
    finally:
        stop.set()
        thread.join(PATIENCE)


def test_max_rebuilds_ends_the_watch(tmp_path: Path) -> None:
    source = tmp_path / "notes.md"
    source.write_text("a", encoding="utf-8")

    def rebuild() -> list[Path]:
        touch(source, source.read_text(encoding="utf-8") + "a")  # always changed again
        return [source]

    assert watch(rebuild, source, max_rebuilds=2, **FAST) == 3


# --- with real builds -----------------------------------------------------------------------


def test_watched_paths_of_a_build(tmp_path: Path, make_image: Callable[..., Path]) -> None:
    found = make_image("img/here.png", (200, 100))
    source = tmp_path / "notes.md"
    source.write_text("## A\n\n![a](img/here.png)\n\n![b](img/later.png)\n\n"
                      "![c](https://example.com/x.png)\n", encoding="utf-8")
    options = BuildOptions(source, tmp_path / "notes.pptx")
    plan = build(options, Diagnostics())
    paths = watched_paths(plan, options)
    assert paths[0] == source
    assert found.resolve() in paths
    assert tmp_path / "img" / "later.png" in paths  # missing: watched for its arrival
    assert plan.theme.path in paths
    assert not any("example.com" in str(path) for path in paths)


def test_a_real_build_is_redone_when_the_notes_change(tmp_path: Path) -> None:
    source = tmp_path / "notes.md"
    source.write_text("## One\n\ntext\n", encoding="utf-8")
    options = BuildOptions(source, tmp_path / "notes.pptx")

    def rebuild() -> list[Path]:
        return watched_paths(build(options, Diagnostics()), options)

    def slides() -> int:
        try:
            return len(Presentation(str(options.output)).slides)
        except Exception:  # not written yet
            return 0

    with watching(rebuild, source):
        assert wait_for(lambda: slides() == 2)
        touch(source, "## One\n\ntext\n\n## Two\n\nmore\n")
        assert wait_for(lambda: slides() == 3)


#: A note with eras, pictures, links, notes, a table, code, references and slides alike.
WATCHED_NOTE = """---
title: Watched
date: 2024-05-01
---

## 1991년 경

![a](a.png)

First. Second with [a link](https://example.com/a).

- item
  1. nested

::: notes
Say [this](https://example.net).
:::

## 2014년 6월 경

![b](b.png)

| a | b |
|---|---|
| 1 | 2 |

```python
print("code")
```

## 참고 자료

- [Docs](https://example.com/docs)
""" + "".join(f"""
## Part {number}

![a](a.png)

Text {number} with [a link](https://example.com/{number}).

::: notes
Notes {number}.
:::
""" for number in range(1, 5))

#: Edits a watch rebuilds after, in turn: a word, a line inserted (every line after moves),
#: a picture changed, an open fence that swallows the headings after it, the fence closed.
WATCHED_EDITS = (
    ("Second with", "Second, edited, with"),
    ("- item\n", "- item\n- another item\n\nA new paragraph.\n"),
    ("![b](b.png)", "![a](a.png)\n\n![c](c.png)"),
    ("Text 2 with", "```\nText 2 with"),
    ("```\nText 2 with", "```\n```\nText 2 with"),
)


def fresh_process_deck(source: Path, deck: Path) -> bytes:
    """The deck a new `deckgen build` process writes for the note."""
    result = subprocess.run([sys.executable, "-m", "deckgen", "build", str(source), "-o",
                             str(deck), "-q"], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return deck.read_bytes()


def test_a_rebuild_writes_what_a_fresh_process_writes(
        tmp_path: Path, make_image: Callable[..., Path]) -> None:
    """Everything a watch keeps between builds (pictures, sections, slides, written parts)
    changes nothing: after each edit, the deck is byte for byte a new process's."""
    for name, colour in (("a.png", "#2563EB"), ("b.png", "#DC2626"), ("c.png", "#16A34A")):
        make_image(name, (320, 200), colour)
    source = tmp_path / "notes.md"
    source.write_text(WATCHED_NOTE, encoding="utf-8")
    options = BuildOptions(source, tmp_path / "watched.pptx")
    texts: list[str] = []
    decks: list[bytes] = []

    def rebuild() -> list[Path]:
        texts.append(source.read_text(encoding="utf-8"))
        plan = build(options, Diagnostics())
        decks.append(options.output.read_bytes())
        return watched_paths(plan, options)

    cache.keep_between_builds()
    try:
        with watching(rebuild, source):
            assert wait_for(lambda: len(decks) == 1)
            text = WATCHED_NOTE
            for number, edit in enumerate(WATCHED_EDITS, start=2):
                text = text.replace(*edit)
                touch(source, text)
                assert wait_for(lambda number=number: len(decks) == number)
    finally:
        cache.forget_between_builds()
    assert len(set(texts)) == len(texts) == len(WATCHED_EDITS) + 1
    for number, (text, deck) in enumerate(zip(texts, decks, strict=True)):
        source.write_text(text, encoding="utf-8")
        assert deck == fresh_process_deck(source, tmp_path / f"fresh{number}.pptx"), number


def test_what_builds_keep_is_kept_only_while_watching(tmp_path: Path) -> None:
    source = tmp_path / "notes.md"
    source.write_text("## One\n\ntext\n", encoding="utf-8")
    options = BuildOptions(source, tmp_path / "notes.pptx")
    kept: list[tuple[object, ...]] = []

    def rebuild() -> list[Path]:
        build(options, Diagnostics())
        kept.append((parse._kept_sections, structure._kept, layout._kept, render._kept,
                     cache.build_cache()))
        return [source]

    with watching(rebuild, source):
        assert wait_for(lambda: len(kept) == 1)
    assert all(state is not None for state in kept[0])
    assert (parse._kept_sections, structure._kept, layout._kept, render._kept,
            cache.build_cache()) == (None, None, None, None, None)


# --- the command line -------------------------------------------------------------------------


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT, as Ctrl-C does")
def test_build_watch_as_a_subprocess(tmp_path: Path) -> None:
    """Build, rebuild after an edit, report a broken edit and go on, exit 0 on Ctrl-C."""
    source = tmp_path / "notes.md"
    source.write_text("## One\n\ntext\n", encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "deckgen", "build", str(source), "--watch"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO_ROOT)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout or ()],
                     daemon=True).start()
    seen: list[str] = []

    def expect(fragment: str) -> None:
        deadline = time.monotonic() + PATIENCE
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.1)
            except queue.Empty:
                continue
            seen.append(line)
            if fragment in line:
                return
        raise AssertionError(f"no {fragment!r} in {seen}")

    try:
        expect("Ctrl-C stops")
        expect("(2 slides)")
        touch(source, "## One\n\ntext\n\n## Two\n\nmore\n")
        expect("(3 slides)")
        touch(source, "---\ntitle: [unclosed\n---\n\n## One\n")
        expect("deckgen: error:")
        touch(source, "## One\n\ntext\n")
        expect("(2 slides)")
        process.send_signal(signal.SIGINT)
        assert process.wait(PATIENCE) == 0
        expect("stopped watching")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert not any("Traceback" in line for line in seen)
