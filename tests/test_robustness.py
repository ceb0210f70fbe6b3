"""Adversarial notes, paths and interruptions: a deck or one line that says what to do."""

from __future__ import annotations

import errno
import io
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest
from conftest import REPO_ROOT, CliResult, notes_text, slide_text
from pptx import Presentation
from rendercheck import SOFFICE_MISSING_REASON, render_pdf, soffice_available

import deckgen.cli
from deckgen.build import BuildOptions, plan_build
from deckgen.errors import DeckgenError, Diagnostics
from deckgen.layout import _block_preview
from deckgen.model import Callout, Quote, Span, Table
from deckgen.parse import MAX_NESTING, parse_document
from deckgen.structure import slide_body

Cli = Callable[..., CliResult]
WriteMd = Callable[..., Path]

#: Characters XML 1.0 (and so a .pptx part) cannot hold.
XML_FORBIDDEN = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]|\xef\xbf\xbe|\xef\xbf\xbf")


def stray_temporaries(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.glob(".*.tmp"))


def one_error_line(result: CliResult, *needles: str) -> str:
    """The run failed (exit 1) with exactly one line on stderr, an error holding `needles`."""
    assert result.code == 1, result
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("deckgen: error: "), lines[0]
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def built(result: CliResult, deck: Path) -> Any:
    """The run succeeded, without a traceback, and its deck reopens with python-pptx."""
    assert result.code == 0, result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    with zipfile.ZipFile(deck) as archive:
        assert archive.testzip() is None
        for name in archive.namelist():
            if name.endswith(".xml"):
                assert not XML_FORBIDDEN.search(archive.read(name)), name
    return Presentation(str(deck))


def all_notes(prs: Any) -> str:
    return "\n".join(notes_text(slide) for slide in prs.slides)


def pdf_pages(pdf: Path) -> int:
    """A PDF's page count, from poppler's pdfinfo."""
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, timeout=60, check=True)
    match = re.search(rb"^Pages:\s+(\d+)", info.stdout, re.M)
    assert match is not None, info.stdout
    return int(match[1])


# --- empty and nearly empty notes ------------------------------------------------------------


def test_empty_file_builds_a_title_slide(cli: Cli, write_md: WriteMd, tmp_path: Path) -> None:
    source = write_md("", name="empty.md")
    prs = built(cli("build", source, "-o", tmp_path / "empty.pptx"), tmp_path / "empty.pptx")
    assert len(prs.slides) == 1
    assert "empty" in slide_text(prs.slides[0])


def test_only_front_matter_builds_its_title_slide(cli: Cli, write_md: WriteMd,
                                                  tmp_path: Path) -> None:
    source = write_md("---\ntitle: 제목만\nauthor: 누구\n---\n")
    prs = built(cli("build", source, "-o", tmp_path / "x.pptx"), tmp_path / "x.pptx")
    assert len(prs.slides) == 1
    assert "제목만" in slide_text(prs.slides[0]) and "누구" in slide_text(prs.slides[0])


# --- size: long lines, many headings, deep nesting, big tables ------------------------------


def test_a_5_mb_single_line_builds_and_keeps_its_text_in_the_notes(cli: Cli, write_md: WriteMd,
                                                                   tmp_path: Path) -> None:
    words = 5_000_000 // len("word ")
    source = write_md("# Long\n\n" + "word " * (words - 1) + "last.\n")
    started = time.perf_counter()
    result = cli("build", source, "-o", tmp_path / "x.pptx")
    elapsed = time.perf_counter() - started
    prs = built(result, tmp_path / "x.pptx")
    assert elapsed < 60, f"{elapsed:.1f}s"  # about 2 s
    assert "only in the speaker notes" in result.stderr
    notes = all_notes(prs)
    assert notes.count("word") >= words - 1 and "last." in notes


def test_a_5_mb_paragraph_of_sentences_builds_in_linear_time(cli: Cli, write_md: WriteMd,
                                                             tmp_path: Path) -> None:
    """Each sentence is a point: 800,000 of them were measured at every size (minutes) and
    split with a quadratic abbreviation check."""
    source = write_md("# Many\n\n" + "Word. " * 800_000 + "\n\n## B\n\n" + "A. " * 200_000)
    started = time.perf_counter()
    result = cli("build", source, "-o", tmp_path / "x.pptx", "-q")
    assert time.perf_counter() - started < 90  # about 12 s
    assert len(built(result, tmp_path / "x.pptx").slides) == 3


def test_a_5_mb_heading_and_a_5_mb_code_line_build_quickly(cli: Cli, write_md: WriteMd,
                                                           tmp_path: Path) -> None:
    """Titles were shortened a word at a time, code lines wrapped a character at a time."""
    source = write_md("# " + "word " * 1_000_000 + "\n\n## " + "x" * 1_000_000
                      + "\n\n```\n" + "y" * 2_000_000 + "\n```\n")
    started = time.perf_counter()
    result = cli("build", source, "-o", tmp_path / "x.pptx", "-q")
    assert time.perf_counter() - started < 60  # about 3 s
    prs = built(result, tmp_path / "x.pptx")
    first_title = slide_text(prs.slides[0]).strip()
    assert first_title.endswith("…") and len(first_title) < 400
    assert "word " * 100 in notes_text(prs.slides[0])  # the whole title is in its notes
    assert prs.core_properties.title.endswith("…") and len(prs.core_properties.title) == 255


def test_10000_headings_build_one_slide_each(cli: Cli, write_md: WriteMd,
                                             tmp_path: Path) -> None:
    source = write_md("".join(f"## Heading {n}\n\nPoint {n}.\n\n" for n in range(10_000)))
    started = time.perf_counter()
    result = cli("build", source, "-o", tmp_path / "x.pptx", "-q")
    elapsed = time.perf_counter() - started
    assert result.code == 0, result.stderr
    assert elapsed < 240, f"{elapsed:.1f}s"  # about 10 s here
    with zipfile.ZipFile(tmp_path / "x.pptx") as archive:
        slides = [name for name in archive.namelist()
                  if re.fullmatch(r"ppt/slides/slide\d+\.xml", name)]
    assert len(slides) == 10_001
    assert len(Presentation(str(tmp_path / "x.pptx")).slides) == 10_001


def test_2000_eras_are_structured_in_linear_time(tmp_path: Path) -> None:
    """Every era slide rebuilt its siblings' timeline (slide_body of each sibling): 2,000
    eras took 107 s to structure; each section's timeline is now built once."""
    source = tmp_path / "eras.md"
    source.write_text("# Deck\n\n## History\n\n" + "".join(
        f"### {1000 + n}년\n\n사건 {n}.\n\n" for n in range(2000)), encoding="utf-8")
    diagnostics = Diagnostics()
    started = time.perf_counter()
    plan = plan_build(BuildOptions(source, tmp_path / "eras.pptx"), diagnostics)
    assert time.perf_counter() - started < 30  # about 1 s
    assert len(plan.slides) == 2002
    assert any("too many to label" in item.message for item in diagnostics.items)


def test_a_timeline_of_many_eras_keeps_every_shape_on_the_slide(cli: Cli, write_md: WriteMd,
                                                                tmp_path: Path) -> None:
    """With 60 eras the label boxes had negative widths (a file PowerPoint repairs)."""
    source = write_md("# Deck\n\n## History\n\n" + "".join(
        f"### {1900 + n}년\n\n사건 {n}은 길게 설명된다.\n\n" for n in range(60)))
    result = cli("build", source, "-o", tmp_path / "x.pptx")
    prs = built(result, tmp_path / "x.pptx")
    assert f"{source}:3: warning: timeline 'History': 60 eras" in result.stderr
    timeline = prs.slides[1]
    assert sum(shape.name.endswith("marker") for shape in timeline.shapes) == 60
    for shape in timeline.shapes:
        assert shape.width >= 0 and shape.height >= 0, shape.name
        assert 0 <= shape.left <= shape.left + shape.width <= prs.slide_width, shape.name
        assert 0 <= shape.top <= shape.top + shape.height <= prs.slide_height, shape.name


@pytest.mark.parametrize("nested", [
    "".join("  " * level + f"- item {level}\n" for level in range(200)),
    "".join("> " * level + f"quote {level}\n" for level in range(200)),
    ">" * 200 + " deep\n",
    "- > " * 200 + "mixed\n",
    "<!-- notes:\n" + "".join("  " * level + f"- n{level}\n" for level in range(200)) + "-->\n",
], ids=["lists", "quotes", "one-line-quote", "lists-in-quotes", "in-a-notes-comment"])
def test_200_levels_of_nesting_build_and_say_what_was_dropped(
        cli: Cli, write_md: WriteMd, tmp_path: Path, nested: str) -> None:
    source = write_md("## Deep\n\n" + nested)
    result = cli("build", source, "-o", tmp_path / "x.pptx")
    built(result, tmp_path / "x.pptx")
    assert re.search(rf"^{re.escape(str(source))}:\d+: warning: lists and quotes nested too "
                     "deeply: .*; nest less deeply$", result.stderr, re.M), result.stderr


def test_ten_nested_lists_keep_what_follows_them(write_md: WriteMd) -> None:
    """markdown-it's CommonMark limit (20 levels: ten lists) dropped the rest of the note
    silently; the limit is now MAX_NESTING and reaching it is reported."""
    source = write_md("".join("  " * level + f"- item {level}\n" for level in range(12))
                      + "\n## After\n\ntext after\n")
    diagnostics = Diagnostics()
    document = parse_document(source, source.read_text(encoding="utf-8"), diagnostics)
    assert [type(block).__name__ for block in document.blocks] == [
        "ListBlock", "Heading", "Paragraph"]
    assert diagnostics.items == []
    assert MAX_NESTING >= 40


def test_a_1000_by_50_table_builds(cli: Cli, write_md: WriteMd, tmp_path: Path) -> None:
    header = "| " + " | ".join(f"h{column}" for column in range(50)) + " |\n"
    rule = "|" + "---|" * 50 + "\n"
    rows = "".join("| " + " | ".join(f"r{row}c{column}" for column in range(50)) + " |\n"
                   for row in range(1000))
    source = write_md("## Table\n\n" + header + rule + rows)
    started = time.perf_counter()
    result = cli("build", source, "-o", tmp_path / "x.pptx")
    assert time.perf_counter() - started < 120  # about 8 s
    prs = built(result, tmp_path / "x.pptx")
    assert "r999c49" in all_notes(prs)


# --- encodings and bytes ---------------------------------------------------------------------


def test_invalid_utf8_names_the_line_and_the_byte(cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "cp949.md"
    source.write_bytes("# 제목\n\n본문\n".encode() + "한글".encode("cp949") + b"\n")
    line = one_error_line(cli("build", source, "-o", tmp_path / "x.pptx"),
                          f"{source}:4:", "not valid UTF-8", "byte 0xc7 at column 1",
                          "save it as UTF-8")
    assert "CP949" in line
    assert not (tmp_path / "x.pptx").exists()


def test_utf8_bom_and_crlf_are_accepted(cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "windows.md"
    source.write_bytes(b"\xef\xbb\xbf---\r\ntitle: BOM\r\n---\r\n## \xec\xa0\x9c\xeb\xaa\xa9"
                       b"\r\n\r\nline one\r\nline two\r\n\r\n- a\r\n- b\r\n")
    prs = built(cli("build", source, "-o", tmp_path / "x.pptx"), tmp_path / "x.pptx")
    assert "BOM" in slide_text(prs.slides[0])
    assert "제목" in slide_text(prs.slides[1]) and "line one line two" in slide_text(prs.slides[1])
    with zipfile.ZipFile(tmp_path / "x.pptx") as archive:
        assert not any(b"\r" in archive.read(name) or b"&#13;" in archive.read(name)
                       for name in archive.namelist() if name.startswith("ppt/slides/"))


@pytest.mark.parametrize(("data", "encoding"), [
    ("# hi\n\ntext\n".encode("utf-16"), "UTF-16"),
    (b"\xfe\xff" + "# hi\n".encode("utf-16-be"), "UTF-16"),
    ("# no byte-order mark\n\ntext\n".encode("utf-16-le"), "UTF-16"),
    ("# hi\n".encode("utf-32"), "UTF-32"),
], ids=["utf-16-le-bom", "utf-16-be-bom", "utf-16-le-no-bom", "utf-32"])
def test_utf16_and_utf32_are_named(cli: Cli, tmp_path: Path, data: bytes,
                                   encoding: str) -> None:
    source = tmp_path / "wide.md"
    source.write_bytes(data)
    one_error_line(cli("build", source, "-o", tmp_path / "x.pptx"), str(source),
                   f"is {encoding}; save it as UTF-8")


def test_nul_bytes_name_their_line(cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "binary.md"
    source.write_bytes(b"# a\n\nb\x00c\n")
    one_error_line(cli("build", source, "-o", tmp_path / "x.pptx"), f"{source}:3:",
                   "NUL byte", "remove it")


def test_control_characters_are_removed_with_one_warning(cli: Cli, write_md: WriteMd,
                                                         tmp_path: Path) -> None:
    """XML cannot hold them: python-pptx raised ValueError (an internal error); Pillow's
    raqm failed on U+0085 and U+2029 (RuntimeError)."""
    source = write_md("---\ntitle: \"T\\e[1m\"\n---\n## 제목\x01\n\n본문 \x1b[31m빨강\x1b[0m "
                      "a\x0cb\u2029c \x85 &#12; &#0; ![x&#1;](a&#11;.png)\n\n```\nc\x08ode\n```\n")
    result = cli("build", source, "-o", tmp_path / "x.pptx")
    prs = built(result, tmp_path / "x.pptx")
    assert (f"{source}:4: warning: control character U+0001 and 5 more removed"
            in result.stderr)
    text = slide_text(prs.slides[1])
    assert "본문 빨강 a b" in text and "[31m" not in text  # a colour code goes whole
    assert "code" in all_notes(prs) and slide_text(prs.slides[0]).strip() == "T"


@pytest.mark.parametrize("character", ["\u2029", "\u2028", "\U000e0001", "\u202e", "\ufeff",
                                       "\U0010ffff", "\u0600", "e\u0301"])
def test_unusual_characters_are_measured_or_estimated(cli: Cli, write_md: WriteMd,
                                                      tmp_path: Path, character: str) -> None:
    source = write_md(f"## a{character}b\n\ntext {character} more\n")
    built(cli("build", source, "-o", tmp_path / "x.pptx"), tmp_path / "x.pptx")


# --- odd metadata --------------------------------------------------------------------------


@pytest.mark.parametrize("date", ["9999-12-31", "2108-01-01", "0001-01-01T00:00:00+01:00",
                                  "1970-01-01", "not a date"])
def test_any_front_matter_date_builds(cli: Cli, write_md: WriteMd, tmp_path: Path,
                                      date: str) -> None:
    """A zip entry's year ends at 2107: a later date was an internal error."""
    source = write_md(f"---\ntitle: t\ndate: {date}\n---\n## a\n\nb\n")
    built(cli("build", source, "-o", tmp_path / "x.pptx"), tmp_path / "x.pptx")


def test_a_far_future_source_date_epoch_builds(cli: Cli, write_md: WriteMd, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "99999999999")
    source = write_md("## a\n\nb\n")
    built(cli("build", source, "-o", tmp_path / "x.pptx"), tmp_path / "x.pptx")


def test_long_front_matter_keeps_the_title_slide_on_the_slide(cli: Cli, write_md: WriteMd,
                                                              tmp_path: Path) -> None:
    long = "아주 긴 제목 " * 200
    source = write_md(f"---\ntitle: {long}\nsubtitle: {long}\nauthor: {'이름 ' * 300}\n"
                      f"keywords: {'k ' * 300}\n---\n## a\n\nb\n")
    prs = built(cli("build", source, "-o", tmp_path / "x.pptx"), tmp_path / "x.pptx")
    for shape in prs.slides[0].shapes:
        assert shape.top + shape.height <= prs.slide_height, shape.name
    assert long.strip() in notes_text(prs.slides[0])
    assert len(prs.core_properties.keywords) <= 255 and len(prs.core_properties.author) <= 255


def test_broken_front_matter_names_the_line_and_the_fix(cli: Cli, write_md: WriteMd,
                                                        tmp_path: Path) -> None:
    source = write_md("---\ntitle: Kubernetes: intro\n---\n## a\n")
    one_error_line(cli("build", source, "-o", tmp_path / "x.pptx"),
                   f"{source}:2: front matter is not valid YAML", "quote a value")


def test_an_unknown_theme_in_the_front_matter_names_the_line(cli: Cli, write_md: WriteMd,
                                                            tmp_path: Path) -> None:
    source = write_md("---\ntitle: t\ntheme: no-such-theme\n---\n## a\n")
    one_error_line(cli("build", source, "-o", tmp_path / "x.pptx"),
                   f"{source}:3: front matter theme: unknown theme 'no-such-theme'",
                   "available themes")


def test_a_missing_template_in_the_front_matter_names_the_line(cli: Cli, write_md: WriteMd,
                                                              tmp_path: Path) -> None:
    source = write_md("---\ntitle: t\n\ntemplate: company.pptx\n---\n## a\n")
    one_error_line(cli("build", source, "-o", tmp_path / "x.pptx"),
                   f"{source}:4: front matter template:", "company.pptx")


def test_a_heading_in_a_quote_or_a_list_is_shown(cli: Cli, write_md: WriteMd,
                                                  tmp_path: Path) -> None:
    """They were dropped from the slide, and a quote of only a heading made an empty
    callout, which raised IndexError (an internal error) when it did not fit."""
    source = write_md("## a\n\n> # 인용 제목\n\n- # 항목 제목\n")
    prs = built(cli("build", source, "-o", tmp_path / "x.pptx"), tmp_path / "x.pptx")
    assert "인용 제목" in slide_text(prs.slides[1]) and "항목 제목" in slide_text(prs.slides[1])


def test_a_quote_without_points_makes_no_empty_callout() -> None:
    quote = Quote((Table(((Span("t"),),), (), ("",), 3),), 3)
    body, _, _ = slide_body([quote])
    assert body == []
    assert _block_preview(Callout((), 3)) == ""


def test_every_warning_is_one_line(cli: Cli, write_md: WriteMd, tmp_path: Path) -> None:
    """A code line quoted in a warning broke it across lines."""
    source = write_md("## a\n\n> ```\n" + "> code line\n" * 200 + "> ```\n")
    result = cli("check", source)
    lines = result.stdout.splitlines()
    assert any('from "code line code line' in line for line in lines), lines
    assert all(line.startswith(f"{source}:") for line in lines), lines


def test_an_error_message_is_one_line() -> None:
    error = DeckgenError("front matter is not valid YAML: found\n  here", Path("n.md"), 2)
    assert deckgen.cli.error_message(error) == ("deckgen: error: n.md:2: front matter is "
                                                "not valid YAML: found   here")
    assert "\n" not in deckgen.cli.error_message(ValueError("a\nb"))


# --- sources and outputs -------------------------------------------------------------------


def test_a_directory_as_source(cli: Cli, tmp_path: Path) -> None:
    one_error_line(cli("build", tmp_path, "-o", tmp_path / "x.pptx"), str(tmp_path),
                   "is a directory; give the Markdown file inside it")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_fifo_as_source_is_refused_without_blocking(cli: Cli, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.md"
    os.mkfifo(fifo)
    one_error_line(cli("build", fifo, "-o", tmp_path / "x.pptx"), str(fifo),
                   "is not a regular file")


def test_a_missing_source(cli: Cli, tmp_path: Path) -> None:
    one_error_line(cli("build", tmp_path / "gone.md"), str(tmp_path / "gone.md"),
                   "no such file; check the path")


def test_an_output_folder_that_is_missing(cli: Cli, write_md: WriteMd, tmp_path: Path) -> None:
    one_error_line(cli("build", write_md("## a\n"), "-o", tmp_path / "nope" / "x.pptx"),
                   str(tmp_path / "nope"), "does not exist; create it or choose another -o")


def test_an_output_folder_that_is_a_file(cli: Cli, write_md: WriteMd, tmp_path: Path) -> None:
    source = write_md("## a\n")
    one_error_line(cli("build", source, "-o", source / "x.pptx"), str(source),
                   "is a file, not a folder", "choose another -o path")
    assert source.read_text(encoding="utf-8") == "## a\n"


def test_a_read_only_output_folder(cli: Cli, write_md: WriteMd, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Root ignores permissions, so the refusal is simulated where the build meets it."""

    def refuse(*args: object, **kwargs: object) -> tuple[int, str]:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    one_error_line(cli("build", write_md("## a\n"), "-o", tmp_path / "x.pptx"),
                   f"{tmp_path}: cannot write in the output folder (Permission denied); "
                   "choose another -o path")
    assert not (tmp_path / "x.pptx").exists()


@pytest.mark.invalid_deck("x.pptx")  # "previous deck"
def test_a_read_only_deck_is_left_untouched(cli: Cli, write_md: WriteMd, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    deck = tmp_path / "x.pptx"
    deck.write_bytes(b"previous deck")

    def refuse(source: object, target: object) -> None:
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "replace", refuse)
    one_error_line(cli("build", write_md("## a\n"), "-o", deck),
                   "cannot write the deck (Operation not permitted)", "untouched",
                   "choose another -o path")
    assert deck.read_bytes() == b"previous deck"
    assert stray_temporaries(tmp_path) == []


@pytest.mark.invalid_deck("talk.pptx")  # a note named .pptx
def test_output_equal_to_the_source_by_another_spelling(cli: Cli, write_md: WriteMd,
                                                        tmp_path: Path) -> None:
    source = write_md("## a\n", name="talk.pptx")
    (tmp_path / "sub").mkdir()
    one_error_line(cli("build", source, "-o", tmp_path / "sub" / ".." / "talk.pptx"),
                   "would overwrite the source; choose another -o path")
    assert source.read_text(encoding="utf-8") == "## a\n"


def test_output_equal_to_the_template_is_refused(cli: Cli, write_md: WriteMd,
                                                 tmp_path: Path) -> None:
    source = write_md("## a\n")
    template = tmp_path / "company.pptx"
    assert cli("build", source, "-o", template).code == 0
    before = template.read_bytes()
    one_error_line(cli("build", source, "--template", template, "-o", template),
                   "would overwrite the template")
    assert template.read_bytes() == before


class _FillsUp(io.FileIO):
    """A file that takes a few bytes, then reports a full disk."""

    def write(self, data: Any) -> int:
        super().write(bytes(data)[:100])
        raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_keeps_the_previous_deck_byte_for_byte(
        cli: Cli, write_md: WriteMd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = write_md("## a\n\nfirst version\n")
    deck = tmp_path / "x.pptx"
    assert cli("build", source, "-o", deck).code == 0
    before = deck.read_bytes()
    source.write_text("## a\n\nsecond version\n", encoding="utf-8")

    def fills_up(handle: int, mode: str = "r", *args: object, **kwargs: object) -> IO[bytes]:
        return _FillsUp(handle, "wb", closefd=True)

    monkeypatch.setattr(os, "fdopen", fills_up)
    one_error_line(cli("build", source, "-o", deck),
                   f"{deck}: cannot write the deck (No space left on device); the previous "
                   "deck, if any, is untouched; free some space and build again")
    assert deck.read_bytes() == before
    assert stray_temporaries(tmp_path) == []


def test_stale_temporaries_of_an_odd_name_are_removed(cli: Cli, write_md: WriteMd,
                                                      tmp_path: Path) -> None:
    """The glob was not escaped: "notes[1].pptx" never matched its own temporaries."""
    deck = tmp_path / "notes[1].pptx"
    stale = tmp_path / ".notes[1].pptx.k1ll3dab.tmp"
    stale.write_bytes(b"left by a killed build")
    built(cli("build", write_md("## a\n"), "-o", deck), deck)
    assert stray_temporaries(tmp_path) == []


# --- interruptions -------------------------------------------------------------------------

#: A note that takes a moment to build (about 2 s here) and prints its stages on stderr.
SLOW_NOTE = "".join(f"## 제목 {n}\n\n문장 {n}. Another sentence here.\n\n- a\n- b\n\n"
                    for n in range(1500))
#: Runs deckgen with os.replace held back, so a signal lands while the temporary exists.
HELD_RENAME = """
import os, sys, time
real_replace = os.replace
def held(source, target):
    if str(source).endswith(".tmp"):
        print("test: renaming", file=sys.stderr, flush=True)
        time.sleep(60)
    return real_replace(source, target)
os.replace = held
from deckgen.cli import main
sys.exit(main())
"""
EXPECTED_EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGKILL: -signal.SIGKILL}


@pytest.fixture
def previous_deck(tmp_path: Path) -> Iterator[tuple[Path, Path, bytes]]:
    """A note, its deck built from a first version, and that deck's bytes; the note then
    holds a second version, whose build the tests interrupt."""
    source = tmp_path / "talk.md"
    deck = tmp_path / "talk.pptx"
    source.write_text("## 첫 판\n\n처음 내용.\n", encoding="utf-8")
    assert deckgen.cli.main(["build", str(source), "-o", str(deck), "-q"]) == 0
    source.write_text(SLOW_NOTE, encoding="utf-8")
    yield source, deck, deck.read_bytes()


def start_build(source: Path, deck: Path, code: str | None = None) -> subprocess.Popen[str]:
    command = ["-c", code] if code else ["-m", "deckgen"]
    return subprocess.Popen([sys.executable, *command, "build", str(source), "-o", str(deck)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            cwd=REPO_ROOT, env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)))


def wait_for_line(process: subprocess.Popen[str], prefix: str) -> list[str]:
    """stderr's lines up to the first that starts with `prefix`."""
    assert process.stderr is not None
    lines: list[str] = []
    for line in process.stderr:
        lines.append(line)
        if line.startswith(prefix):
            return lines
    raise AssertionError(f"no {prefix!r} line: {''.join(lines)}")


def finish(process: subprocess.Popen[str], before: list[str]) -> tuple[int, str]:
    assert process.stderr is not None
    rest = process.stderr.read()
    process.stderr.close()
    return process.wait(timeout=120), "".join(before) + rest


def rebuild_cleans_up(source: Path, deck: Path) -> bytes:
    """After an interruption a next build succeeds and leaves no temporary file."""
    assert deckgen.cli.main(["build", str(source), "-o", str(deck), "-q"]) == 0
    assert stray_temporaries(deck.parent) == []
    return deck.read_bytes()


_DELAYS = random.Random("deckgen kills")  # random, but the same on every run
#: Each signal at three delays after parsing, one in each third of the next 1.2 s (laying
#: out, rendering, writing here; a slower machine is caught earlier, a faster one done).
KILLS = [(kill, round(_DELAYS.uniform(0.4 * third, 0.4 * (third + 1)), 2))
         for kill in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL) for third in range(3)]


@pytest.mark.parametrize(("kill", "delay"), KILLS,
                         ids=[f"{kill.name}-{delay:.2f}s" for kill, delay in KILLS])
def test_a_killed_build_leaves_the_previous_deck(previous_deck: tuple[Path, Path, bytes],
                                                 kill: signal.Signals, delay: float) -> None:
    """Killed while parsing, laying out, rendering or writing (or after it finished): the
    deck is the previous one or the new one, whole; a next build leaves no temporary."""
    source, deck, before = previous_deck
    process = start_build(source, deck)
    seen = wait_for_line(process, "deckgen: parsed")  # main runs: its handlers are set
    time.sleep(delay)
    process.send_signal(kill)
    code, stderr = finish(process, seen)
    interrupted = deck.read_bytes()
    if "deckgen: written" in stderr:
        # Done before the signal came, or it came as Python was exiting, after main()
        # (cli.entry: no traceback, 130 for a Ctrl-C; SIGTERM's default ends it): whole.
        assert code in (0, EXPECTED_EXIT[kill], -kill), (code, stderr)
        assert "Traceback" not in stderr, stderr
    else:
        assert "Traceback" not in stderr and "internal error" not in stderr, stderr
        assert code == EXPECTED_EXIT[kill], (code, stderr)
        if kill is not signal.SIGKILL:
            assert stray_temporaries(deck.parent) == []
            word = "terminated" if kill is signal.SIGTERM else "interrupted"
            assert stderr.splitlines()[-1].startswith(f"deckgen: {word}; "), stderr
    after = rebuild_cleans_up(source, deck)
    assert interrupted in (before, after)


#: The command, with a Ctrl-C sent to itself just after main() returned (the deck written).
INTERRUPTED_AFTER_MAIN = """\
import os, signal
from deckgen import cli
finish = cli.main
def main_then_interrupted(*args, **kwargs):
    code = finish(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGINT)
    return code
cli.main = main_then_interrupted
cli.entry()
"""


def test_a_ctrl_c_after_the_command_finished_shows_no_traceback(
        previous_deck: tuple[Path, Path, bytes]) -> None:
    source, deck, _ = previous_deck
    process = start_build(source, deck, INTERRUPTED_AFTER_MAIN)
    code, stderr = finish(process, [])
    assert code == 130, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    assert "deckgen: written" in stderr
    assert deck.read_bytes() == rebuild_cleans_up(source, deck)


@pytest.mark.parametrize("kill", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL],
                         ids=lambda kill: kill.name)
def test_a_build_killed_while_its_temporary_exists(previous_deck: tuple[Path, Path, bytes],
                                                   kill: signal.Signals) -> None:
    source, deck, before = previous_deck
    process = start_build(source, deck, HELD_RENAME)
    seen = wait_for_line(process, "test: renaming")
    assert len(stray_temporaries(deck.parent)) == 1  # the whole new deck, not yet renamed
    process.send_signal(kill)
    code, stderr = finish(process, seen)
    assert code == EXPECTED_EXIT[kill], stderr
    assert deck.read_bytes() == before
    if kill is signal.SIGKILL:
        assert len(stray_temporaries(deck.parent)) == 1  # nothing can clean up after -9
    else:
        assert stray_temporaries(deck.parent) == []
        word = "terminated" if kill is signal.SIGTERM else "interrupted"
        assert stderr.splitlines()[-1] == f"deckgen: {word}; nothing was written", stderr
    rebuild_cleans_up(source, deck)


def test_sigterm_raises_only_while_deckgen_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI turns SIGTERM into a KeyboardInterrupt-like exit and restores the handler."""
    before = signal.getsignal(signal.SIGTERM)

    def terminate_self(out: object) -> int:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
        raise AssertionError("SIGTERM did not interrupt")

    monkeypatch.setattr(deckgen.cli, "run_themes", terminate_self)
    out, err = io.StringIO(), io.StringIO()
    assert deckgen.cli.main(["themes"], stdout=out, stderr=err) == 143
    assert err.getvalue() == "deckgen: terminated; nothing was written\n"
    assert signal.getsignal(signal.SIGTERM) == before


def test_an_interruption_after_writing_says_the_deck_was_written(
        write_md: WriteMd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupt(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(deckgen.cli, "report", interrupt)  # after the deck is written
    deck = tmp_path / "x.pptx"
    out, err = io.StringIO(), io.StringIO()
    assert deckgen.cli.main(["build", str(write_md("## a\n")), "-o", str(deck)],
                            stdout=out, stderr=err) == 130
    assert err.getvalue() == f"deckgen: interrupted; {deck} was written\n"
    assert Presentation(str(deck)).slides


# --- LibreOffice ---------------------------------------------------------------------------


@pytest.mark.skipif(not soffice_available(), reason=SOFFICE_MISSING_REASON)
def test_an_adversarial_deck_converts_with_libreoffice(cli: Cli, write_md: WriteMd) -> None:
    """Controls, emoji, CJK, a crowded timeline, deep nesting, a wide table and a long title
    together: LibreOffice converts every slide."""
    table = ("| " + " | ".join(f"열{n}" for n in range(12)) + " |\n|" + "---|" * 12 + "\n"
             + "".join("| " + " | ".join(f"{row}·{n} 😀" for n in range(12)) + " |\n"
                       for row in range(30)))
    source = write_md(
        "---\ntitle: " + "긴 제목 " * 80 + "\n---\n"
        "## 제어\x1b[1m 문자\u2029\n\n본문 \x01 emoji 👩‍👩‍👧 🇰🇷 漢字 かな e\u0301\n\n"
        "## 연혁\n\n" + "".join(f"### {1950 + n}년\n\n사건 {n}.\n\n" for n in range(40))
        + "## 깊이\n\n" + "".join("  " * level + f"- {level}\n" for level in range(60))
        + "\n## 표\n\n" + table)
    with tempfile.TemporaryDirectory(prefix="deckgen-lo-") as folder:
        deck = Path(folder) / "x.pptx"
        prs = built(cli("build", source, "-o", deck), deck)
        assert pdf_pages(render_pdf(deck, Path(folder) / "pdf")) == len(prs.slides)
