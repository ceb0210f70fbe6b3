"""Shared fixtures: the repository, the intro deck built once, its PDF, and small helpers.

Every deck a test writes is validated against the Open XML SDK's rules (openxml-audit,
`-f microsoft365`, 0 errors) once the test passed: the decks deckgen writes in this process,
and every *.pptx new or changed under the temporary folders (tmp_path, tmp_path_factory).
A validator process works beside the tests; a deck with errors fails the run, and the summary
names the test, the deck and the validator's messages (see deckaudit.py). A test that spoils
a deck on purpose (or writes a file named .pptx that is not one) says so:

    @pytest.mark.invalid_deck                  # none of its decks is validated
    @pytest.mark.invalid_deck("broken.pptx")   # only these names (fnmatch patterns) are not
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from deckaudit import (
    deck_audit,
    pytest_configure,
    pytest_runtest_call,
    pytest_sessionfinish,
    pytest_terminal_summary,
    pytest_testnodedown,
)
from PIL import Image, ImageDraw
from pptx import Presentation
from pptx.presentation import Presentation as PresentationType
from pptx.slide import Slide
from rendercheck import SOFFICE_MISSING_REASON, render_pdf, soffice_available

from deckgen.cli import main

__all__ = ["deck_audit", "pytest_configure", "pytest_runtest_call",  # the deck audit
           "pytest_sessionfinish", "pytest_terminal_summary", "pytest_testnodedown"]

REPO_ROOT = Path(__file__).resolve().parent.parent
INTRO_MD = REPO_ROOT / "content" / "intro.md"


@dataclass(frozen=True)
class CliResult:
    """What one `deckgen.cli.main` call returned and printed."""

    code: int
    stdout: str
    stderr: str


def draw_picture(path: Path, size: tuple[int, int], colour: str) -> None:
    """A flat test picture with a white frame and diagonal, so its orientation shows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    picture = Image.new("RGB", size, colour)
    pen = ImageDraw.Draw(picture)
    pen.rectangle([10, 10, size[0] - 10, size[1] - 10], outline="white", width=8)
    pen.line([0, 0, size[0], size[1]], fill="white", width=6)
    picture.save(path)


def run_main(*argv: str | Path) -> CliResult:
    """Run `deckgen.cli.main` with captured output streams."""
    out, err = io.StringIO(), io.StringIO()
    code = main([str(arg) for arg in argv], stdout=out, stderr=err)
    return CliResult(code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root (the folder holding content/, img/ and deckgen/)."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def intro_md(repo_root: Path) -> Path:
    """content/intro.md."""
    return repo_root / "content" / "intro.md"


@pytest.fixture(scope="session")
def intro_build(tmp_path_factory: pytest.TempPathFactory, repo_root: Path,
                intro_md: Path) -> tuple[Path, CliResult]:
    """content/intro.md built once (default theme and overflow policy) into a temporary
    folder, with the images looked up under the repository root."""
    out = tmp_path_factory.mktemp("intro") / "intro.pptx"
    result = run_main("build", intro_md, "-o", out, "--resource-path", repo_root)
    assert result.code == 0, result.stderr
    assert out.is_file()
    return out, result


@pytest.fixture(scope="session")
def intro_deck(intro_build: tuple[Path, CliResult]) -> Path:
    """The path of the built intro deck."""
    return intro_build[0]


@pytest.fixture(scope="session")
def intro_prs(intro_deck: Path) -> PresentationType:
    """The intro deck opened with python-pptx (read-only use, please)."""
    return Presentation(str(intro_deck))


@pytest.fixture(scope="session")
def intro_pdf(tmp_path_factory: pytest.TempPathFactory, intro_deck: Path) -> Path:
    """The intro deck rendered to PDF by LibreOffice, once per session."""
    if not soffice_available():
        pytest.skip(SOFFICE_MISSING_REASON)
    return render_pdf(intro_deck, tmp_path_factory.mktemp("intro-pdf"))


@pytest.fixture
def cli() -> Callable[..., CliResult]:
    """`cli("build", path, ...)` runs deckgen.cli.main with captured stdout and stderr."""
    return run_main


@pytest.fixture
def write_md(tmp_path: Path) -> Callable[..., Path]:
    """`write_md(text, name="notes.md")` writes a Markdown file into tmp_path (UTF-8)."""

    def write(text: str, name: str = "notes.md") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def make_image(tmp_path: Path) -> Callable[..., Path]:
    """`make_image("img/a.png", (w, h))` draws a small picture with Pillow into tmp_path."""

    def make(name: str, size: tuple[int, int], colour: str = "#2563EB") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        picture = Image.new("RGB", size, colour)
        for x in range(0, size[0], max(1, size[0] // 8)):
            for y in range(size[1]):
                picture.putpixel((x, y), (255, 255, 255))
        picture.save(path)
        return path

    return make


def slide_title(slide: Slide) -> str:
    """The text of a slide's title: the title placeholder, else the shape named "Title"."""
    title = slide.shapes.title
    if title is not None:
        return str(title.text_frame.text)
    for shape in slide.shapes:
        if shape.name == "Title" and shape.has_text_frame:
            return str(shape.text_frame.text)
    return ""


def notes_text(slide: Slide) -> str:
    """The speaker notes of a slide ("" when it has none)."""
    if not slide.has_notes_slide:
        return ""
    return str(slide.notes_slide.notes_text_frame.text)


def slide_text(slide: Slide) -> str:
    """All text drawn on a slide: text frames and table cells, one per line."""
    parts: list[str] = []
    for shape in slide.shapes:
        if shape.has_text_frame:
            parts.append(shape.text_frame.text)
        if getattr(shape, "has_table", False) and shape.has_table:
            for row in shape.table.rows:
                parts.extend(cell.text for cell in row.cells)
    return "\n".join(parts)


def squash(text: str) -> str:
    """Text with all white space (vertical tabs of line breaks included) removed."""
    return "".join(text.split())

