"""Tests for the figures that content/intro.md references and scripts/draw_figures.py draws."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from urllib.parse import unquote, urlparse

import pytest
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parent.parent
CONTENT_DIR = REPO_ROOT / "content"
INTRO = CONTENT_DIR / "intro.md"
IMG_DIR = REPO_ROOT / "img"
SCRIPT = REPO_ROOT / "scripts" / "draw_figures.py"

EXPECTED_FIGURES = {
    "kubernetes.png",
    "가상화기술_01.png",
    "가상화기술_02.png",
    "가상화기술_03.png",
    "가상화기술_04.png",
    "가상화기술_05.png",
}

FENCED_CODE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
HTML_IMG_SRC = re.compile(r"""<img\b[^>]*?\bsrc\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.I)
MARKDOWN_IMAGE = re.compile(r"""!\[[^\]]*\]\(\s*(?:<([^>]*)>|([^)\s]+))(?:\s+["'(][^)]*)?\s*\)""")


def image_references(markdown: str) -> list[str]:
    """Image paths from <img src="..."> tags and ![alt](path) images, outside code."""
    text = INLINE_CODE.sub("", FENCED_CODE.sub("", markdown))
    html = [
        next(group for group in match.groups() if group) for match in HTML_IMG_SRC.finditer(text)
    ]
    markdown_images = [match.group(1) or match.group(2) for match in MARKDOWN_IMAGE.finditer(text)]
    return html + markdown_images


def is_remote(reference: str) -> bool:
    """True for http(s)/data URLs, which cannot be checked offline."""
    return urlparse(reference).scheme in {"http", "https", "data"}


def resolve_image(reference: str, content_dir: Path, repo_root: Path) -> Path | None:
    """Resolve a reference against the content folder first, then the repo root."""
    relative = unquote(reference.split("#", 1)[0].split("?", 1)[0])
    for base in (content_dir, repo_root):
        candidate = (base / relative.lstrip("/")).resolve()
        if candidate.is_file():
            return candidate
    return None


def check_landscape_png(path: Path) -> None:
    """Fail unless the file is a PNG Pillow can fully decode and it is wider than tall."""
    with Image.open(path) as image:
        assert image.format == "PNG", f"{path} is {image.format}, not PNG"
        width, height = image.size
        image.load()
    assert width > height, f"{path} is {width}x{height}, not landscape"


def local_references() -> list[str]:
    return [
        ref for ref in image_references(INTRO.read_text(encoding="utf-8")) if not is_remote(ref)
    ]


def load_draw_figures() -> ModuleType:
    """Import scripts/draw_figures.py as a module (it is a script, not a package)."""
    spec = importlib.util.spec_from_file_location("draw_figures", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


def test_intro_references_the_issue_3_figures() -> None:
    names = {Path(unquote(ref)).name for ref in local_references()}
    assert names >= EXPECTED_FIGURES, f"missing references: {EXPECTED_FIGURES - names}"


@pytest.mark.parametrize("reference", local_references())
def test_referenced_image_exists_and_is_landscape_png(reference: str) -> None:
    path = resolve_image(reference, CONTENT_DIR, REPO_ROOT)
    assert path is not None, (
        f"{INTRO.name} references {reference!r}, found neither under {CONTENT_DIR} "
        f"nor under {REPO_ROOT}"
    )
    check_landscape_png(path)


def test_reference_finder_sees_both_syntaxes_and_reports_missing_files(tmp_path: Path) -> None:
    (tmp_path / "content").mkdir()
    (tmp_path / "img").mkdir()
    Image.new("RGB", (40, 20), "white").save(tmp_path / "img" / "present.png")
    notes = (
        '<img src="./img/present.png" width="550px">\n'
        "![a figure](./img/absent.png)\n"
        "```\n![in code](./img/ignored.png)\n```\n"
    )
    references = image_references(notes)
    assert references == ["./img/present.png", "./img/absent.png"]
    content_dir = tmp_path / "content"
    assert resolve_image(references[0], content_dir, tmp_path) == tmp_path / "img" / "present.png"
    assert resolve_image(references[1], content_dir, tmp_path) is None


def test_portrait_or_non_png_images_are_rejected(tmp_path: Path) -> None:
    portrait = tmp_path / "portrait.png"
    Image.new("RGB", (20, 40), "white").save(portrait)
    jpeg = tmp_path / "photo.png"
    Image.new("RGB", (40, 20), "white").save(jpeg, format="JPEG")
    for path in (portrait, jpeg):
        with pytest.raises(AssertionError):
            check_landscape_png(path)


def test_script_reproduces_committed_figures_byte_for_byte(tmp_path: Path) -> None:
    draw_figures = load_draw_figures()
    try:
        draw_figures.load_fonts()
    except draw_figures.FontsMissingError as error:
        pytest.skip(f"Noto CJK fonts not installed (Debian package fonts-noto-cjk): {error}")
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    drawn = {path.name for path in tmp_path.iterdir()}
    assert drawn == EXPECTED_FIGURES
    for name in sorted(drawn):
        committed = IMG_DIR / name
        assert committed.is_file(), f"{committed} is missing; run scripts/draw_figures.py"
        assert (tmp_path / name).read_bytes() == committed.read_bytes(), (
            f"{name} differs from the committed copy; rerun scripts/draw_figures.py"
        )


def test_script_explains_missing_fonts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    draw_figures = load_draw_figures()
    monkeypatch.setattr(draw_figures, "REGULAR_FONT_FILE", tmp_path / "missing.ttc")
    monkeypatch.setattr(draw_figures, "BOLD_FONT_FILE", tmp_path / "missing-bold.ttc")
    assert draw_figures.main(["--out", str(tmp_path / "out")]) == 1
    assert "fonts-noto-cjk" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
