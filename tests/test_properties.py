"""Property tests: any Markdown builds a deck that reopens (and renders), or fails in one line."""

from __future__ import annotations

import io
import os
import re
import subprocess
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from PIL import Image
from pptx import Presentation
from rendercheck import SOFFICE_MISSING_REASON, hidden_slides, render_pdf, soffice_available

from deckgen.cli import main

# --- profiles --------------------------------------------------------------------------------
# "ci" (the default) is derandomized: the same examples on every run, no example database.
# HYPOTHESIS_PROFILE=explore hunts with fresh random examples and more of them; a failure it
# finds is printed with an @example(...) line to pin it here.

_COMMON = settings(deadline=None, database=None, print_blob=True,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                          HealthCheck.filter_too_much,
                                          HealthCheck.function_scoped_fixture])
settings.register_profile("ci", _COMMON, max_examples=150, derandomize=True)
settings.register_profile("explore", _COMMON, max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

#: How many generated decks the LibreOffice property converts (each takes seconds).
RENDERED_EXAMPLES = 4
BUILT_IN_THEMES = ("default", "dark", "seminar", "minimal")
#: Warnings about the machine rather than the note, which name no file.
MACHINE_WARNINGS = ("warning: no font file to measure",)

# --- Markdown strategies --------------------------------------------------------------------

#: Pieces of text that have broken Markdown-to-slides tools: scripts, emoji sequences,
#: controls, direction marks, markup that is almost markup, sentence ends, eras.
TRICKY = (
    "가상화", "쿠버네티스는 컨테이너를 관리한다.", "漢字", "かな", "😀", "👩‍👩‍👧", "🇰🇷", "e.g.",
    "1991년 경", "July 2014", "Early 2000s", "1990s", "2014-06", "`code`", "`a|b`", "**b**",
    "*i*", "_u_", "~~s~~", "<b>", "</b>", "<br>", "<kbd>x</kbd>", "<span>",
    '<img src="pic.png" width="300">', '<img src="missing.png" height="x">', "<img>",
    "<video src=a.mp4>", "<!-- c -->", "<!-- notes: said -->", "&#12;", "&#0;", "&amp;",
    "&#x1F600;", "&nbsp;", "[link](http://example.com)", "[a](<b c>)", "![alt](pic.png)",
    "![](missing.png)", '![t](pic.png "title")', "![d](data:image/png;base64,AAAA)", "\\",
    "|", "\t", "\x0b", "\x0c", "\x1b[31m", "\x7f", "\x85", "\u2028", "\u2029", "\u202e",
    "\u200b", "\ufeff", "\ufffe", "\U0010ffff", "e\u0301", "Note:", "...", "。", "！", "?",
    "https://example.com/a_very/long/path?with=query&and=more", "x" * 300, "가" * 300,
    "Word. " * 40, "#", ">", "-", "1.", ":::", "---", "```", "$$", "{{", "%",
)
CHARACTERS = st.characters(codec="utf-8", exclude_characters="\x00")
WORDS = st.one_of(st.sampled_from(TRICKY), st.text(CHARACTERS, min_size=1, max_size=12))


@st.composite
def inline_text(draw: st.DrawFn, lines: int = 1) -> str:
    """A line (or a few) of inline Markdown."""
    parts = draw(st.lists(WORDS, min_size=1, max_size=8))
    separators = draw(st.lists(st.sampled_from([" ", "", "  \n" if lines > 1 else " "]),
                               min_size=len(parts), max_size=len(parts)))
    return "".join(part + separator for part, separator in zip(parts, separators,
                                                                 strict=True)).strip("\n")


def _indent(text: str, prefix: str, rest: str) -> str:
    lines = text.split("\n")
    return "\n".join([prefix + lines[0], *(rest + line if line else line for line in lines[1:])])


@st.composite
def tables(draw: st.DrawFn) -> str:
    """A pipe table, sometimes ragged, with alignments."""
    columns = draw(st.integers(1, 6))
    cell = st.one_of(st.just(""), WORDS.map(lambda word: word.replace("\n", " ")))
    header = "| " + " | ".join(draw(st.lists(cell, min_size=columns, max_size=columns))) + " |"
    aligns = draw(st.lists(st.sampled_from(["---", ":--", "--:", ":-:"]), min_size=columns,
                           max_size=columns))
    rows = [("| " + " | ".join(draw(st.lists(cell, min_size=0, max_size=columns + 2))) + " |")
            for _ in range(draw(st.integers(0, 8)))]
    return "\n".join([header, "|" + "|".join(aligns) + "|", *rows])


@st.composite
def fences(draw: st.DrawFn) -> str:
    """A code block: fenced (sometimes never closed) or indented."""
    body = "\n".join(draw(st.lists(st.text(CHARACTERS, max_size=60), max_size=6)))
    kind = draw(st.sampled_from(["```", "~~~", "indented", "unclosed"]))
    if kind == "indented":
        return "\n".join("    " + line for line in (body or "x").split("\n"))
    info = draw(st.sampled_from(["", "python", "js {.x}", "`weird`"]))
    if kind == "unclosed":
        return f"```{info}\n{body}"
    return f"{kind}{info}\n{body}\n{kind}"


@st.composite
def html_blocks(draw: st.DrawFn) -> str:
    """Raw HTML: known, unknown, comments, notes comments (closed or not)."""
    text = draw(inline_text())
    template = draw(st.sampled_from([
        "<div>\n{t}\n</div>", "<details><summary>s</summary>\n\n{t}\n</details>",
        '<p align="center"><img src="pic.png" width="50%"></p>', '<img src="pic.png">',
        "<!-- notes: {t} -->", "<!--\nnotes:\n- {t}\n-->", "<!-- {t}", "<table><tr><td>{t}",
        "<center>{t}</center>", "<script>{t}</script>", "<?php {t} ?>", "<![CDATA[{t}]]>",
    ]))
    return template.replace("{t}", text)


LEAVES = st.one_of(
    inline_text(lines=3),                                               # paragraphs
    st.builds(lambda level, text: "#" * level + " " + text, st.integers(1, 6), inline_text()),
    tables(), fences(), html_blocks(),
    st.sampled_from(["---", "***", "- - -", "Note: said aloud", "Notes: x\n\nmore"]),
    inline_text().map(lambda text: f"::: notes\n{text}\n:::"),
    inline_text().map(lambda text: f"::: notes\n{text}"),              # never closed
    st.text(CHARACTERS, max_size=40),                                    # anything at all
)


def _containers(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    blocks = st.lists(children, min_size=1, max_size=4).map("\n\n".join)
    return st.one_of(
        blocks.map(lambda body: _indent(body, "> ", "> ")),
        st.lists(blocks, min_size=1, max_size=4).map(
            lambda items: "\n".join(_indent(item, "- ", "  ") for item in items)),
        st.lists(blocks, min_size=1, max_size=4).map(
            lambda items: "\n".join(_indent(item, f"{number}. ", "   ")
                                    for number, item in enumerate(items, start=1))),
    )


BLOCKS = st.recursive(LEAVES, _containers, max_leaves=12)

FRONT_MATTER_VALUES = st.one_of(st.none(), st.integers(), st.booleans(), WORDS,
                                st.lists(WORDS, max_size=3), st.dates().map(str))


@st.composite
def front_matter(draw: st.DrawFn) -> str:
    """No front matter, a valid one (odd values included), a broken one or an unclosed one."""
    kind = draw(st.sampled_from(["none", "valid", "valid", "broken", "unclosed"]))
    if kind == "none":
        return ""
    if kind == "broken":
        body = draw(st.sampled_from([
            "title: [unclosed", "title: 'x", "- a\n- b", "a: b: c", "title: *nowhere",
            "\ttitle: tab", "42", "title: x\ntitle: y", "? [a]\n: b", "!!python/object:os.system x",
        ]))
        return f"---\n{body}\n---\n"
    keys = st.sampled_from(["title", "subtitle", "author", "date", "keywords", "tags",
                            "subject", "unknown"])
    data = draw(st.dictionaries(keys, FRONT_MATTER_VALUES, max_size=5))
    if draw(st.booleans()):
        data["theme"] = draw(st.sampled_from([*BUILT_IN_THEMES, "no-such-theme"]))
    body = yaml.safe_dump(data, allow_unicode=draw(st.booleans()), sort_keys=False)
    return f"---\n{body}---\n" if kind == "valid" else f"---\n{body}"


ERAS = st.sampled_from(["1991년 경", "2010년 7월 경", "1970년대 초반", "July 2014", "2014-06",
                        "Early 2000s", "1990s", "c. 1850", "3000년", "0000년"])
HEADINGS = st.builds(lambda level, title: "#" * level + " " + title, st.integers(1, 4),
                     st.one_of(inline_text(), ERAS, ERAS))


@st.composite
def documents(draw: st.DrawFn) -> str:
    """A whole note: front matter, then sections (a heading, often an era, and blocks)
    separated by blank lines (or not)."""
    sections = draw(st.lists(st.tuples(HEADINGS, st.lists(BLOCKS, max_size=3)), max_size=6))
    blocks = draw(st.lists(BLOCKS, max_size=3))
    for heading, body in sections:
        blocks.extend([heading, *body])
    separator = draw(st.sampled_from(["\n\n", "\n", "\n\n\n"]))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = draw(front_matter()) + separator.join(blocks) + "\n"
    return text.replace("\n", newline) if newline != "\n" else text


# --- running a build -------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What one in-process `deckgen build` did."""

    code: int
    stdout: str
    stderr: str
    source: Path
    deck: Path


@pytest.fixture(scope="module")
def pictures(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding pic.png, which the generated notes refer to."""
    folder = tmp_path_factory.mktemp("pictures")
    Image.new("RGB", (64, 48), "#2563EB").save(folder / "pic.png")
    return folder


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A fresh folder per example would need a function-scoped fixture per example, which
    Hypothesis does not give: each example makes its own under this one."""
    with tempfile.TemporaryDirectory(prefix="deckgen-prop-") as folder:
        yield Path(folder)


def build(data: bytes, workdir: Path, pictures: Path, *extra: str) -> Outcome:
    """Write `data` as a note in a new folder and build it in-process."""
    folder = Path(tempfile.mkdtemp(dir=workdir))
    source = folder / "notes.md"
    source.write_bytes(data)
    deck = folder / "notes.pptx"
    out, err = io.StringIO(), io.StringIO()
    code = main(["build", str(source), "-o", str(deck), "--resource-path", str(pictures),
                 *extra], stdout=out, stderr=err)
    return Outcome(code, out.getvalue(), err.getvalue(), source, deck)


def assert_built_or_refused(outcome: Outcome) -> None:
    """Exit 0 with a deck python-pptx reopens, or exit 1 with one error line that names the
    note; never a traceback, an internal error, a partial file or a stray temporary."""
    stderr = outcome.stderr
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    assert outcome.code in (0, 1), (outcome.code, stderr)
    folder_files = sorted(path.name for path in outcome.deck.parent.iterdir())
    assert not [name for name in folder_files if name.endswith(".tmp")], folder_files
    lines = stderr.splitlines()
    for line in lines:  # a warning names the note (and its line), progress is "deckgen: "
        assert line.startswith((f"{outcome.source}:", "deckgen: ", *MACHINE_WARNINGS)), line
    if outcome.code == 1:
        errors = [line for line in lines if line.startswith("deckgen: error: ")]
        assert len(errors) == 1 and errors[0] == lines[-1], stderr
        assert str(outcome.source) in errors[0], errors[0]
        assert not outcome.deck.exists()
        return
    assert_valid_deck(outcome.deck)


def assert_valid_deck(deck: Path) -> None:
    """The deck is a sound zip that python-pptx reopens; every shape has a size that is not
    negative and lies on its slide."""
    with zipfile.ZipFile(deck) as archive:
        assert archive.testzip() is None
    prs = Presentation(str(deck))
    width, height = prs.slide_width, prs.slide_height
    assert len(prs.slides) >= 1
    for number, slide in enumerate(prs.slides, start=1):
        for shape in slide.shapes:
            if shape.width is None:
                continue  # a placeholder that inherits its box from the layout
            where = (number, shape.name, shape.left, shape.top, shape.width, shape.height)
            assert shape.width >= 0 and shape.height >= 0, where
            assert shape.left >= 0 and shape.left + shape.width <= width, where
            assert shape.top >= 0 and shape.top + shape.height <= height, where
            if shape.has_text_frame:
                assert isinstance(shape.text_frame.text, str)
        if slide.has_notes_slide:
            assert isinstance(slide.notes_slide.notes_text_frame.text, str)


# --- the properties --------------------------------------------------------------------------


@given(text=documents())
@example(text="")
@example(text="---\ntitle: only front matter\n---\n")
@example(text="# a\x01\x1b\x7f\x85\u2029b\n\ntext \ufffe &#12; x\n")
@example(text="# 연혁\n\n" + "".join(f"## {1900 + n}년\n\n사건 {n}.\n\n" for n in range(60)))
@example(text="- " * 60 + "deep\n\n# after\n")
@example(text=">" * 120 + " deep\n")
@example(text="```\n" + "x" * 20_000 + "\n")
@example(text="---\ndate: 9999-12-31\n---\n# far\n")
@example(text="---\ndate: 0001-01-01T00:00:00+01:00\n---\n# early\n")
@example(text="---\ntheme: no-such-theme\n---\n# a\n")
@example(text="> " + "가" * 400 + "\n\n> # 가상화\n")  # an empty callout that did not fit
def test_any_markdown_builds_or_fails_in_one_line(text: str, workdir: Path,
                                                  pictures: Path) -> None:
    assert_built_or_refused(build(text.encode(), workdir, pictures))


@given(data=st.one_of(
    st.binary(max_size=600),
    st.tuples(st.sampled_from([b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff",
                               b"\xff\xfe\x00\x00", b"---\n"]),
              st.binary(max_size=300)).map(b"".join),
    documents().map(lambda text: text.encode("utf-16-le")),
))
@settings(max_examples=100)
def test_any_bytes_build_or_fail_in_one_line(data: bytes, workdir: Path,
                                             pictures: Path) -> None:
    assert_built_or_refused(build(data, workdir, pictures))


@given(text=documents(), overflow=st.sampled_from(["notes", "continue"]),
       theme=st.sampled_from(BUILT_IN_THEMES))
@settings(max_examples=40)
def test_any_markdown_with_any_theme_and_overflow(text: str, overflow: str, theme: str,
                                                  workdir: Path, pictures: Path) -> None:
    outcome = build(text.encode(), workdir, pictures, "--overflow", overflow, "--theme", theme)
    assert_built_or_refused(outcome)
    out, err = io.StringIO(), io.StringIO()  # `check` plans the same deck, writing nothing
    code = main(["check", str(outcome.source), "--overflow", overflow, "--theme", theme,
                 "--resource-path", str(pictures)], stdout=out, stderr=err)
    assert code == outcome.code, (code, err.getvalue())
    assert "internal error" not in err.getvalue() and "Traceback" not in err.getvalue()
    for line in out.getvalue().splitlines():
        assert line.startswith((f"{outcome.source}:", *MACHINE_WARNINGS)), line


def pdf_pages(pdf: Path) -> int:
    """A PDF's page count, from poppler's pdfinfo (pdftotext -bbox writes a non-BMP title,
    "𐀀", as invalid XML, so rendercheck.read_pages cannot count every deck's pages)."""
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, timeout=60, check=True)
    match = re.search(rb"^Pages:\s+(\d+)", info.stdout, re.M)
    assert match is not None, info.stdout
    return int(match[1])


@pytest.mark.skipif(not soffice_available(), reason=SOFFICE_MISSING_REASON)
@given(text=documents())
@example(text="# 𐀀 \n")  # a non-BMP title in the PDF's metadata
@settings(max_examples=RENDERED_EXAMPLES,  # seconds each: a failure is shown unshrunk
          phases=(Phase.explicit, Phase.reuse, Phase.generate))
def test_generated_decks_convert_with_libreoffice(text: str, workdir: Path,
                                                  pictures: Path) -> None:
    outcome = build(text.encode(), workdir, pictures)
    assert_built_or_refused(outcome)
    if outcome.code == 0:
        pdf = render_pdf(outcome.deck, outcome.deck.parent / "pdf")
        shown = len(Presentation(str(outcome.deck)).slides) - len(hidden_slides(outcome.deck))
        assert pdf_pages(pdf) == shown
