"""deckgen.preview and deckgen.share: LibreOffice runs, pictures, contact sheet, handout text."""

from __future__ import annotations

import os
import shutil
import stat
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from deckgen import preview
from deckgen.errors import DeckgenError
from deckgen.layout import PlacedSlide
from deckgen.model import (
    Code,
    DeckMeta,
    ListBlock,
    ListItem,
    Notes,
    Paragraph,
    Quote,
    SlideKind,
    Span,
)
from deckgen.preview import (
    CONTACT_SHEET,
    SHEET_MARGIN,
    SHEET_THUMB_WIDTH,
    ToolMissing,
    contact_sheet,
    convert_to_pdf,
    find_soffice,
    font_bindings,
    fontconfig_text,
    pdf_to_pictures,
    picture_height,
)
from deckgen.share import escape_markdown, handout_markdown, inline_markdown

posix_only = pytest.mark.skipif(os.name != "posix", reason="fake soffice is a shell script")
needs_pdftoppm = pytest.mark.skipif(shutil.which("pdftoppm") is None,
                                    reason="poppler-utils (pdftoppm) not installed")


def fake_soffice(tmp_path: Path, body: str) -> Path:
    """A stand-in soffice: a shell script that logs its arguments, then runs `body`."""
    script = tmp_path / "bin" / "soffice"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(f'#!/bin/sh\necho "$@" >> "{tmp_path}/calls.log"\n{body}\n',
                      encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def page_pdf(path: Path, pages: int, size: tuple[int, int] = (320, 180)) -> Path:
    """A PDF of `pages` plain pages drawn by Pillow."""
    images = [Image.new("RGB", size, (40 * n % 256, 90, 160)) for n in range(pages)]
    images[0].save(path, save_all=True, append_images=images[1:], resolution=72.0)
    return path


def pictures(tmp_path: Path, count: int, size: tuple[int, int] = (640, 360)) -> list[Path]:
    paths = []
    for number in range(1, count + 1):
        path = tmp_path / f"slide-{number:02d}.png"
        Image.new("RGB", size, "#FFFFFF").save(path)
        paths.append(path)
    return paths


# --- finding and running LibreOffice ----------------------------------------------------------


def test_soffice_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = fake_soffice(tmp_path, "exit 0")
    monkeypatch.setenv("SOFFICE", str(script))
    assert find_soffice() == script


def test_soffice_named_by_the_environment_but_missing(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOFFICE", str(tmp_path / "nothing"))
    assert find_soffice() is None


def test_soffice_in_the_macos_app_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert Path("/Applications/LibreOffice.app/Contents/MacOS/soffice") in \
        preview.SOFFICE_LOCATIONS
    bundled = fake_soffice(tmp_path, "exit 0")
    monkeypatch.delenv("SOFFICE", raising=False)
    monkeypatch.setenv("PATH", "")
    monkeypatch.setattr(preview, "SOFFICE_LOCATIONS", (tmp_path / "absent", bundled))
    assert find_soffice() == bundled


def test_missing_libreoffice_is_a_tool_missing_error(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOFFICE", raising=False)
    monkeypatch.setenv("PATH", "")
    monkeypatch.setattr(preview, "SOFFICE_LOCATIONS", ())
    with pytest.raises(ToolMissing, match="apt-get install libreoffice-impress"):
        convert_to_pdf(tmp_path / "deck.pptx", tmp_path / "deck.pdf")


@pytest.mark.invalid_deck("deck.pptx")  # fake soffice, fake deck
@posix_only
def test_each_run_has_a_private_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """soffice gets its own -env:UserInstallation every time, so runs never share one."""
    script = fake_soffice(tmp_path, 'out=""; prev=""\n'
                                    'for a; do [ "$prev" = "--outdir" ] && out="$a"; prev="$a"; '
                                    'done\n'
                                    'mkdir -p "$out" && printf "%%PDF-1.4 fake" > "$out/deck.pdf"')
    monkeypatch.setenv("SOFFICE", str(script))
    deck = tmp_path / "deck.pptx"
    deck.write_bytes(b"not really a deck")
    first = convert_to_pdf(deck, tmp_path / "one" / "deck.pdf")
    convert_to_pdf(deck, tmp_path / "two" / "deck.pdf")
    assert first.read_bytes().startswith(b"%PDF")
    calls = (tmp_path / "calls.log").read_text(encoding="utf-8").splitlines()
    profiles = [next(arg for arg in call.split() if arg.startswith("-env:UserInstallation="))
                for call in calls]
    assert len(set(profiles)) == 2
    assert all(profile.startswith("-env:UserInstallation=file:///") for profile in profiles)
    assert all("--headless" in call.split() for call in calls)


@pytest.mark.invalid_deck("deck.pptx")
@posix_only
def test_a_hung_libreoffice_is_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = fake_soffice(tmp_path, f'sleep 30 & echo $! > "{tmp_path}/child.pid"\nwait')
    monkeypatch.setenv("SOFFICE", str(script))
    deck = tmp_path / "deck.pptx"
    deck.write_bytes(b"x")
    started = time.monotonic()
    with pytest.raises(DeckgenError, match="did not finish within 1 s"):
        convert_to_pdf(deck, tmp_path / "deck.pdf", timeout=1)
    assert time.monotonic() - started < 10
    child = int((tmp_path / "child.pid").read_text(encoding="utf-8"))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.05)
    assert not _alive(child), "the whole process group must be killed"
    assert not (tmp_path / "deck.pdf").exists()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().split()[2] == "Z")


@pytest.mark.invalid_deck("deck.pptx")
@posix_only
def test_no_pdf_is_an_error_with_the_output(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOFFICE", str(fake_soffice(tmp_path, "echo Error: source file could "
                                                             "not be loaded")))
    deck = tmp_path / "deck.pptx"
    deck.write_bytes(b"x")
    with pytest.raises(DeckgenError, match=r"made no PDF.*could not be loaded"):
        convert_to_pdf(deck, tmp_path / "deck.pdf")


@pytest.mark.invalid_deck("deck.pptx")
@posix_only
def test_a_failing_libreoffice_is_an_error(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOFFICE", str(fake_soffice(tmp_path, "echo broken >&2; exit 3")))
    deck = tmp_path / "deck.pptx"
    deck.write_bytes(b"x")
    with pytest.raises(DeckgenError, match=r"exit status 3\): broken"):
        convert_to_pdf(deck, tmp_path / "deck.pdf")


# --- fonts for LibreOffice ----------------------------------------------------------------------


def test_fontconfig_binds_faces_strongly_after_the_system_configuration() -> None:
    text = fontconfig_text({"Malgun Gothic": "Noto Sans CJK KR", "A&B": "C"})
    assert text.index("/etc/fonts/fonts.conf") < text.index("Malgun Gothic")
    assert '<string>Noto Sans CJK KR</string>' in text and 'binding="strong"' in text
    assert "A&amp;B" in text


def test_font_bindings_name_what_deckgen_measures_with() -> None:
    from deckgen.measure import find_font, measure_file_for

    bindings = font_bindings([("Malgun Gothic", True), ("No Such Face 123", False)])
    if find_font("Malgun Gothic", bold=False) is None:
        measured = measure_file_for("Malgun Gothic", bold=False, east_asian=True)
        assert measured is not None
        assert bindings["Malgun Gothic"] == measured.family
    assert "No Such Face 123" in bindings or find_font("Liberation Sans", False) is None


def test_an_existing_fontconfig_file_is_respected(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FONTCONFIG_FILE", "/somewhere/fonts.conf")
    environment = preview.office_environment(tmp_path, [("Arial", False)])
    assert environment["FONTCONFIG_FILE"] == "/somewhere/fonts.conf"
    assert not (tmp_path / "fonts.conf").exists()


@pytest.mark.skipif(sys.platform != "linux" or not Path("/etc/fonts/fonts.conf").is_file(),
                    reason="fontconfig configuration only on Linux")
def test_a_fontconfig_file_is_generated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FONTCONFIG_FILE", raising=False)
    environment = preview.office_environment(tmp_path, [("Arial", False)])
    assert environment["FONTCONFIG_FILE"] == str(tmp_path / "fonts.conf")
    assert "<fontconfig>" in (tmp_path / "fonts.conf").read_text(encoding="utf-8")


# --- pictures and the contact sheet ------------------------------------------------------------


@needs_pdftoppm
def test_pdf_to_pictures_numbers_and_sizes(tmp_path: Path) -> None:
    pdf = page_pdf(tmp_path / "deck.pdf", 3)
    out = tmp_path / "out"
    out.mkdir()
    for stale in ("slide-04.png", "slide-10.png"):
        (out / stale).write_bytes(b"old")
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    made = pdf_to_pictures(pdf, out, width=400, height=225)
    assert [path.name for path in made] == ["slide-01.png", "slide-02.png", "slide-03.png"]
    assert sorted(path.name for path in out.iterdir()) == [
        "notes.txt", "slide-01.png", "slide-02.png", "slide-03.png"]
    for path in made:
        with Image.open(path) as picture:
            assert picture.size == (400, 225)


@needs_pdftoppm
def test_pdf_to_pictures_pads_numbers_for_long_decks(tmp_path: Path) -> None:
    made = pdf_to_pictures(page_pdf(tmp_path / "deck.pdf", 101, (32, 18)), tmp_path / "out",
                           width=32)
    assert made[0].name == "slide-001.png" and made[-1].name == "slide-101.png"


@pytest.mark.invalid_deck("bad.pptx")
def test_picture_height_follows_the_slide_size(intro_deck: Path, tmp_path: Path) -> None:
    assert picture_height(intro_deck, 1280) == 720
    (tmp_path / "bad.pptx").write_bytes(b"not a zip")
    assert picture_height(tmp_path / "bad.pptx", 1280) is None


def test_contact_sheet_grid(tmp_path: Path) -> None:
    sheet = contact_sheet(pictures(tmp_path, 8), tmp_path / CONTACT_SHEET)
    with Image.open(sheet) as drawn:
        thumb_height = round(SHEET_THUMB_WIDTH * 360 / 640)
        assert drawn.width == 2 * SHEET_MARGIN + 4 * SHEET_THUMB_WIDTH + 3 * preview.SHEET_GAP
        assert drawn.height > 2 * thumb_height and drawn.height < 3 * thumb_height + 200
        # the first thumbnail is white where the slide is, the sheet is not
        assert drawn.getpixel((SHEET_MARGIN + 5, SHEET_MARGIN + 5))[:3] == (255, 255, 255)
        assert drawn.getpixel((2, 2))[:3] != (255, 255, 255)
        # a number is drawn under the first thumbnail
        label = drawn.crop((SHEET_MARGIN, SHEET_MARGIN + thumb_height + 2,
                            SHEET_MARGIN + SHEET_THUMB_WIDTH, SHEET_MARGIN + thumb_height + 30))
        assert len(label.getcolors(1 << 16) or []) > 2
    assert stat.S_IMODE(sheet.stat().st_mode) & 0o044, "readable like any file the user makes"


@pytest.mark.parametrize(("count", "columns"), [(1, 1), (3, 3), (8, 4), (30, 6), (100, 10)])
def test_contact_sheet_columns(tmp_path: Path, count: int, columns: int) -> None:
    sheet = contact_sheet(pictures(tmp_path, count, (64, 36)), tmp_path / CONTACT_SHEET,
                          thumb_width=32)
    with Image.open(sheet) as drawn:
        assert drawn.width == 2 * SHEET_MARGIN + columns * 32 + (columns - 1) * preview.SHEET_GAP


def test_contact_sheet_needs_pictures(tmp_path: Path) -> None:
    with pytest.raises(DeckgenError):
        contact_sheet([], tmp_path / CONTACT_SHEET)


# --- the handout's Markdown ---------------------------------------------------------------------


def slide(title: str, *blocks: object, kind: SlideKind = SlideKind.CONTENT) -> PlacedSlide:
    return PlacedSlide(kind, title, 1, (), Notes(tuple(blocks)), "FFFFFF")


def test_handout_lists_every_slide_with_its_picture_and_notes() -> None:
    meta = DeckMeta("A *talk*", subtitle="Sub", author="Me", date="2026-01-02")
    slides = [
        slide("A *talk*", kind=SlideKind.TITLE),
        slide("First", Paragraph((Span("Say "), Span("this", bold=True), Span(".")), 3),
              ListBlock((ListItem((Paragraph((Span("one"),), 4),), 4),
                         ListItem((Paragraph((Span("two"),), 5),), 5)), False, 1, 4)),
        slide("Second", Quote((Paragraph((Span("quoted\nand broken"),), 7),), 7),
              Code("print(1)\nprint(2)", "python", 9)),
    ]
    text = handout_markdown(meta, slides, ["h/slide-01.png", "h/slide-02.png", "h/slide-03.png"])
    assert text.startswith("# A \\*talk\\*\n\nSub\n\n*Me · 2026-01-02*\n")
    assert "## 1. A \\*talk\\*\n\n![Slide 1: A \\*talk\\*](h/slide-01.png)\n" in text
    assert "## 2. First\n\n![Slide 2: First](h/slide-02.png)\n\nSay **this**.\n\n- one\n\n- two\n" \
        in text
    assert "> quoted  \n> and broken" in text
    assert "```\nprint(1)\nprint(2)\n```" in text
    assert text.endswith("\n") and not text.endswith("\n\n")


def test_handout_needs_a_picture_per_slide() -> None:
    with pytest.raises(ValueError):
        handout_markdown(DeckMeta("T"), [slide("A"), slide("B")], ["only-one.png"])


@pytest.mark.parametrize(("span", "expected"), [
    (Span("plain"), "plain"),
    (Span("bold ", bold=True), "**bold** "),
    (Span("it", italic=True), "*it*"),
    (Span("gone", strike=True), "~~gone~~"),
    (Span("a`b", code=True), "``a`b``"),
    (Span("site", link="https://example.com/a b"), "[site](https://example.com/a%20b)"),
    (Span("x_y*z"), "x\\_y\\*z"),
])
def test_inline_markdown(span: Span, expected: str) -> None:
    assert inline_markdown([span]) == expected


def test_escape_markdown_keeps_hangul() -> None:
    assert escape_markdown("쿠버네티스 [입문] <b>") == "쿠버네티스 \\[입문\\] \\<b\\>"
