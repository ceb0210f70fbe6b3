"""The commands around build: check, init, preview, build --pdf/--handout, help and progress."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import REPO_ROOT, CliResult
from PIL import Image
from pptx import Presentation
from rendercheck import FONTS_CONF

from deckgen.preview import FOLDER_MARK
from deckgen.progress import StreamProgress
from deckgen.scaffold import NOTES_PATH, PICTURE_PATH, README_PATH

Cli = Callable[..., CliResult]

COMMANDS = ("build", "check", "preview", "init", "themes")
LIBREOFFICE_MISSING = "LibreOffice (soffice) or poppler (pdftoppm, pdfinfo) not installed: " \
                      "apt-get install libreoffice-impress poppler-utils"
needs_libreoffice = pytest.mark.skipif(
    not (shutil.which("soffice") or shutil.which("libreoffice") or os.environ.get("SOFFICE"))
    or not shutil.which("pdftoppm") or not shutil.which("pdfinfo"),
    reason=LIBREOFFICE_MISSING)

#: A note with one problem of each kind a build warns about, on known lines.
PROBLEM_NOTE = """\
---
title: Problems
---

## Pictures

![gone](img/missing.png)

Some text about the picture.

## Markup

<marquee>old HTML</marquee>

More text.

## Pictures only

<img src="img/here.png">
"""
MISSING_IMAGE_LINE = 7
UNKNOWN_HTML_LINE = 13
NO_NOTES_LINE = 19  # a slide's line is where its content starts


def run_module(*argv: str | Path, cwd: Path | None = None,
               timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """`python3 -m deckgen ...` in a fresh interpreter."""
    env = dict(os.environ, FONTCONFIG_FILE=str(FONTS_CONF))
    return subprocess.run([sys.executable, "-m", "deckgen", *map(str, argv)],
                          capture_output=True, text=True, timeout=timeout, check=False,
                          cwd=cwd or REPO_ROOT, env=env)


def pdf_pages(pdf: Path) -> int:
    """The number of pages of a PDF, from poppler's pdfinfo."""
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, timeout=60,
                          check=True).stdout
    match = re.search(r"^Pages:\s+(\d+)", info, re.MULTILINE)
    assert match, info
    return int(match.group(1))


@pytest.fixture
def libreoffice_fonts(monkeypatch: pytest.MonkeyPatch) -> None:
    """LibreOffice draws with the fonts the tests measure with (tests/fonts.conf)."""
    monkeypatch.setenv("FONTCONFIG_FILE", str(FONTS_CONF))


@pytest.fixture
def problem_note(tmp_path: Path, make_image: Callable[..., Path]) -> Path:
    make_image("img/here.png", (400, 300))
    note = tmp_path / "note.md"
    note.write_text(PROBLEM_NOTE, encoding="utf-8")
    return note


# --- help and version ----------------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_examples(cli: Cli, command: str) -> None:
    result = cli(command, "--help")
    assert result.code == 0
    assert result.stdout.startswith(f"usage: deckgen {command}")
    assert "examples:" in result.stdout
    assert f"deckgen {command}" in result.stdout.split("examples:", 1)[1]


def test_top_level_help_lists_every_command(cli: Cli) -> None:
    result = cli("--help")
    assert result.code == 0
    for command in COMMANDS:
        assert re.search(rf"^\s+{command}\s+\S", result.stdout, re.MULTILINE), command


def test_help_imports_neither_pptx_nor_pillow() -> None:
    """`deckgen --help` stays fast: the heavy modules are imported inside the commands."""
    code = ("import io, sys\nfrom deckgen.cli import main\n"
            f"for command in {COMMANDS!r}:\n"
            "    assert main([command, '--help'], io.StringIO(), io.StringIO()) == 0\n"
            "assert main(['--help'], io.StringIO(), io.StringIO()) == 0\n"
            "print(sorted(m for m in ('pptx', 'PIL', 'lxml', 'markdown_it') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_only_the_renderer_imports_python_pptx() -> None:
    """render.py is the one module that knows python-pptx; the others (the handout among
    them) reach it only through render_deck, which a build that writes imports."""
    package = Path(__file__).resolve().parent.parent / "deckgen"
    importers = sorted(module.name for module in package.glob("*.py")
                       if re.search(r"^\s*(from pptx|import pptx)|from deckgen\.render import "
                                    r"(?!render_deck\b)", module.read_text(encoding="utf-8"),
                                    re.MULTILINE))
    assert importers == ["render.py"]


def test_help_as_a_subprocess() -> None:
    done = run_module("preview", "--help")
    assert done.returncode == 0
    assert "contact sheet" in done.stdout and "examples:" in done.stdout


# --- check -----------------------------------------------------------------------------------


def test_check_names_the_lines_of_the_note(cli: Cli, problem_note: Path,
                                           tmp_path: Path) -> None:
    result = cli("check", problem_note)
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith(f"{problem_note}:{MISSING_IMAGE_LINE}: warning: image "
                               "img/missing.png not found") for line in lines), lines
    assert any(line.startswith(f"{problem_note}:{UNKNOWN_HTML_LINE}: warning: ")
               and "marquee" in line for line in lines), lines
    assert any(line.startswith(f"{problem_note}:{NO_NOTES_LINE}: warning: ")
               and "no speaker notes" in line for line in lines), lines
    assert lines[-1] == f"{problem_note}: 4 slides, 3 warning(s)"
    assert sorted(tmp_path.rglob("*.pptx")) == []


def test_check_lines_are_in_source_order(cli: Cli, problem_note: Path) -> None:
    numbers = [int(match.group(1)) for match in
               re.finditer(r"^.*?\.md:(\d+): ", cli("check", problem_note).stdout, re.MULTILINE)]
    assert numbers == sorted(numbers) and len(numbers) == 3


def test_check_strict_fails_on_warnings_and_writes_nothing(cli: Cli, problem_note: Path,
                                                           tmp_path: Path) -> None:
    result = cli("check", problem_note, "--strict")
    assert result.code == 1
    assert "3 warning(s) under --strict" in result.stderr
    assert sorted(tmp_path.rglob("*.pptx")) == []


def test_check_quiet_prints_nothing_but_keeps_the_exit_code(cli: Cli,
                                                            problem_note: Path) -> None:
    result = cli("check", problem_note, "--strict", "-q")
    assert result.code == 1
    assert result.stdout == ""


def test_check_shares_builds_resource_path(cli: Cli, write_md: Callable[..., Path],
                                           make_image: Callable[..., Path],
                                           tmp_path: Path) -> None:
    make_image("assets/pic.png", (300, 200))
    note = write_md("## Pic\n\nA picture follows.\n\n![p](pic.png)\n", name="notes/note.md")
    assert "not found" in cli("check", note).stdout
    result = cli("check", note, "--resource-path", tmp_path / "assets", "--strict")
    assert result.code == 0, result.stdout
    assert "0 warning(s)" in result.stdout


def test_check_shares_builds_overflow(cli: Cli, write_md: Callable[..., Path]) -> None:
    points = "\n".join(f"- point number {n} with a few words to fill the line" for n in range(30))
    note = write_md(f"## Long\n\nSome prose.\n\n{points}\n")
    assert "did not fit" in cli("check", note).stdout
    assert "did not fit" not in cli("check", note, "--overflow", "continue").stdout


def test_check_of_the_sample(cli: Cli, intro_md: Path, repo_root: Path) -> None:
    result = cli("check", intro_md, "--resource-path", repo_root)
    assert result.code == 0
    assert re.search(r"content/intro\.md: 8 slides, \d+ warning\(s\)$", result.stdout)


def test_check_of_a_missing_file(cli: Cli, tmp_path: Path) -> None:
    result = cli("check", tmp_path / "nothere.md")
    assert result.code == 1
    assert "nothere.md" in result.stderr and "Traceback" not in result.stderr


# --- init ------------------------------------------------------------------------------------


def test_init_writes_a_skeleton_that_builds_without_warnings(cli: Cli, tmp_path: Path) -> None:
    talk = tmp_path / "my-talk"
    result = cli("init", talk)
    assert result.code == 0, result.stderr
    notes = talk / NOTES_PATH
    for relative in (NOTES_PATH, PICTURE_PATH, README_PATH):
        assert (talk / relative).is_file(), relative
    text = notes.read_text(encoding="utf-8")
    assert text.startswith("---\ntitle: \"My talk\"\n")
    assert "::: notes" in text and "### 1990s" in text and "### 2010s" in text
    with Image.open(talk / PICTURE_PATH) as picture:
        assert picture.format == "PNG" and picture.width <= 1000
    assert "deckgen build content/talk.md" in (talk / README_PATH).read_text(encoding="utf-8")

    checked = cli("check", notes, "--strict")
    assert checked.code == 0, checked.stdout
    assert "0 warning(s)" in checked.stdout
    built = cli("build", notes, "--strict")
    assert built.code == 0, built.stderr
    assert built.stderr == ""
    kinds = [line.split()[1] for line in built.stdout.splitlines()[:-1]]
    assert kinds == ["title", "content", "timeline", "era", "era", "references"]
    deck = Presentation(str(notes.with_suffix(".pptx")))
    assert any(shape.shape_type == 13 for shape in list(deck.slides)[3].shapes)  # the picture


def test_init_refuses_to_overwrite(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / README_PATH).write_text("mine\n", encoding="utf-8")
    result = cli("init", tmp_path)
    assert result.code == 1
    assert "not overwriting existing files" in result.stderr
    assert str(tmp_path / README_PATH) in result.stderr
    assert (tmp_path / README_PATH).read_text(encoding="utf-8") == "mine\n"
    assert not (tmp_path / NOTES_PATH).exists()
    assert not (tmp_path / PICTURE_PATH).exists()


def test_init_twice_refuses_the_second_time(cli: Cli, tmp_path: Path) -> None:
    assert cli("init", tmp_path).code == 0
    before = (tmp_path / NOTES_PATH).read_bytes()
    assert cli("init", tmp_path).code == 1
    assert (tmp_path / NOTES_PATH).read_bytes() == before


def test_init_in_the_current_folder_as_a_subprocess(tmp_path: Path) -> None:
    done = run_module("init", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / NOTES_PATH).is_file()
    assert "next: deckgen build content/talk.md" in done.stdout


# --- progress --------------------------------------------------------------------------------


def many_sections(count: int) -> str:
    return "# Big\n\n" + "".join(f"## Part {n}\n\nPoint {n} is here.\n\n" for n in range(count))


def test_large_build_reports_progress_lines_when_not_a_tty(cli: Cli,
                                                           write_md: Callable[..., Path],
                                                           tmp_path: Path) -> None:
    note = write_md(many_sections(55))
    result = cli("build", note, "-o", tmp_path / "big.pptx")
    assert result.code == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == "deckgen: parsed (56 slides, 0 pictures)"
    assert "deckgen: laid out" in lines
    assert lines[-2:] == ["deckgen: rendered", "deckgen: written"]
    assert any(re.fullmatch(r"deckgen: rendered \d+/56 slides", line) for line in lines)
    assert "\r" not in result.stderr


def test_small_build_shows_no_progress(cli: Cli, write_md: Callable[..., Path],
                                       tmp_path: Path) -> None:
    result = cli("build", write_md(many_sections(3)), "-o", tmp_path / "small.pptx")
    assert result.code == 0
    assert "deckgen: parsed" not in result.stderr


def test_quiet_silences_progress_and_listing(cli: Cli, write_md: Callable[..., Path],
                                             tmp_path: Path) -> None:
    result = cli("build", write_md(many_sections(55)), "-o", tmp_path / "big.pptx", "-q")
    assert result.code == 0
    assert result.stdout == "" and result.stderr == ""


def test_progress_bar_on_a_terminal() -> None:
    stream = io.StringIO()
    progress = StreamProgress(stream, tty=True)
    progress.started(slides=80, images=3)
    for stage in ("parsed", "images prepared", "laid out"):
        progress.stage(stage)
    for done in range(1, 81):
        progress.step(done, 80)
    progress.stage("rendered")
    progress.stage("written")
    progress.close()
    text = stream.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")
    frames = text.rstrip("\n").split("\r")[1:]
    assert len(frames) == 5 + 80
    assert "parsed (80 slides, 3 pictures)" in frames[0]
    assert "rendering slide 40/80" in frames[3 + 39]
    assert frames[-1].startswith("[" + "#" * 28 + "] 100% written")


def test_progress_for_many_pictures_only() -> None:
    stream = io.StringIO()
    progress = StreamProgress(stream, tty=False)
    progress.started(slides=5, images=21)
    progress.stage("parsed")
    assert stream.getvalue() == "deckgen: parsed (5 slides, 21 pictures)\n"


# --- preview, --pdf and --handout (LibreOffice) ----------------------------------------------


@pytest.fixture(scope="module")
def intro_preview(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, CliResult]:
    if not (shutil.which("soffice") or shutil.which("libreoffice")) \
            or not shutil.which("pdftoppm"):
        pytest.skip(LIBREOFFICE_MISSING)
    folder = tmp_path_factory.mktemp("preview") / "intro"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FONTCONFIG_FILE", str(FONTS_CONF))
        patch.chdir(REPO_ROOT)
        out, err = io.StringIO(), io.StringIO()
        from deckgen.cli import main

        code = main(["preview", "content/intro.md", "-o", str(folder)], out, err)
    return folder, CliResult(code, out.getvalue(), err.getvalue())


@needs_libreoffice
def test_preview_draws_every_slide_and_a_contact_sheet(intro_preview: tuple[Path, CliResult],
                                                       intro_prs) -> None:
    folder, result = intro_preview
    assert result.code == 0, result.stderr
    slides = sorted(folder.glob("slide-*.png"))
    assert [path.name for path in slides] == [f"slide-{n:02d}.png"
                                             for n in range(1, len(intro_prs.slides) + 1)]
    expected = (1280, round(1280 * intro_prs.slide_height / intro_prs.slide_width))
    for path in slides:
        with Image.open(path) as picture:
            assert picture.size == expected, path
    with Image.open(folder / "contact-sheet.png") as sheet:
        assert sheet.width > 4 * 320 and sheet.height > 2 * 180
    assert pdf_pages(folder / "intro.pdf") == len(intro_prs.slides)
    assert f"contact sheet: {folder / 'contact-sheet.png'}" in result.stdout
    assert f"8 slide pictures: {folder}/slide-01.png … slide-08.png" in result.stdout
    assert (folder / FOLDER_MARK).is_file()  # deckgen's own folder: the next run writes there


@needs_libreoffice
def test_preview_slides_are_not_blank(intro_preview: tuple[Path, CliResult]) -> None:
    folder, _ = intro_preview
    for path in sorted(folder.glob("slide-*.png")):
        with Image.open(path) as picture:
            colours = picture.convert("RGB").getcolors(maxcolors=1 << 16)
            assert colours is None or len(colours) > 10, path


@needs_libreoffice
def test_preview_of_a_deck_as_a_subprocess(intro_deck: Path, tmp_path: Path) -> None:
    folder = tmp_path / "shots"
    done = run_module("preview", intro_deck, "-o", folder, "--width", "640")
    assert done.returncode == 0, done.stderr
    slides = sorted(folder.glob("slide-*.png"))
    assert len(slides) == len(Presentation(str(intro_deck)).slides)
    with Image.open(slides[0]) as picture:
        assert picture.size == (640, 360)
    assert (folder / "contact-sheet.png").is_file()


@needs_libreoffice
def test_preview_default_folder_is_beside_the_source(cli: Cli, write_md: Callable[..., Path],
                                                     libreoffice_fonts: None) -> None:
    note = write_md("## One\n\nA point.\n\n## Two\n\nAnother point.\n", name="talk.md")
    (note.parent / "talk.preview").mkdir()
    (note.parent / "talk.preview" / FOLDER_MARK).touch()  # an earlier preview's folder
    (note.parent / "talk.preview" / "slide-09.png").write_bytes(b"stale")
    (note.parent / "talk.preview" / "mine.txt").write_text("kept", encoding="utf-8")
    result = cli("preview", note)
    assert result.code == 0, result.stderr
    folder = note.parent / "talk.preview"
    assert sorted(p.name for p in folder.glob("slide-*.png")) == ["slide-01.png", "slide-02.png",
                                                                  "slide-03.png"]
    assert (folder / "mine.txt").read_text(encoding="utf-8") == "kept"
    assert not note.with_suffix(".pptx").exists()  # the deck was built in a temporary folder


def test_preview_without_libreoffice_says_how_to_install_it(
        cli: Cli, write_md: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    monkeypatch.delenv("SOFFICE", raising=False)
    monkeypatch.setattr("deckgen.preview.SOFFICE_LOCATIONS", ())
    result = cli("preview", write_md("## A\n\ntext\n"))
    assert result.code == 1
    assert "LibreOffice" in result.stderr
    assert "apt-get install libreoffice-impress" in result.stderr
    assert "brew install --cask libreoffice" in result.stderr
    assert "Traceback" not in result.stderr


def test_build_pdf_without_libreoffice_keeps_the_deck(
        cli: Cli, write_md: Callable[..., Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOFFICE", str(tmp_path / "no-soffice-here"))
    out = tmp_path / "deck.pptx"
    result = cli("build", write_md("## A\n\ntext\n"), "-o", out, "--pdf")
    assert result.code == 1
    assert out.is_file() and f"wrote {out}" in result.stdout
    assert "apt-get install libreoffice-impress" in result.stderr
    assert not out.with_suffix(".pdf").exists()


@needs_libreoffice
def test_build_pdf_and_handout(cli: Cli, intro_md: Path, repo_root: Path, tmp_path: Path,
                               libreoffice_fonts: None) -> None:
    out = tmp_path / "intro.pptx"
    result = cli("build", intro_md, "-o", out, "--resource-path", repo_root, "--pdf",
                 "--handout")
    assert result.code == 0, result.stderr
    slides = len(Presentation(str(out)).slides)
    assert pdf_pages(out.with_suffix(".pdf")) == slides
    handout = tmp_path / "intro.handout.md"
    pictures = sorted((tmp_path / "intro.handout").glob("slide-*.png"))
    assert len(pictures) == slides
    text = handout.read_text(encoding="utf-8")
    for number, picture in enumerate(pictures, start=1):
        assert f"](intro.handout/{picture.name})" in text
        assert f"\n## {number}. " in text
    assert "## 5. 1991년 경" in text
    assert "최초의 리눅스가 나온 시점부터" in text.split("## 5.", 1)[1].split("## 6.", 1)[0]
    assert "[\\[Kubernetes\\] KUBETM BLOG](https://kubetm.github.io/" in text
    for line in (f"wrote {out} ({slides} slides)", f"wrote {out.with_suffix('.pdf')}",
                 f"wrote {handout}", f"wrote {tmp_path / 'intro.handout'}/"):
        assert line in result.stdout.splitlines()


@needs_libreoffice
def test_strict_failure_writes_no_pdf(cli: Cli, write_md: Callable[..., Path],
                                      tmp_path: Path, libreoffice_fonts: None) -> None:
    note = write_md("## Pic\n\n![gone](nothere.png)\n")
    result = cli("build", note, "--strict", "--pdf", "--handout")
    assert result.code == 1
    assert sorted(path.name for path in tmp_path.iterdir()) == ["notes.md"]
