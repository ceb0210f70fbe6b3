"""Themes: the built-in looks, validation (keys, colours, sizes, fonts, contrast), extends,
the theme chrome (section and table styles, footer date, logo) and renders of every theme."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import REPO_ROOT, run_main
from PIL import Image
from pptx import Presentation
from pptx.util import Emu
from rendercheck import SOFFICE_MISSING_REASON, misplaced_words, render_pdf, soffice_available

import deckgen.theme as theme_module
from deckgen.errors import DeckgenError, Diagnostics
from deckgen.theme import (
    SCHEMA,
    builtin_themes,
    colour_pairs,
    contrast_problems,
    contrast_ratio,
    font_problems,
    load_theme,
)

BUILTIN = ("default", "dark", "seminar", "minimal")
THEMES_README = REPO_ROOT / "themes" / "README.md"
SAMPLE_MD = """---
title: "테마 견본"
date: "2026-11-26"
---

# 기초

## 코드와 표

| 항목 | 설명 |
| --- | --- |
| `Pod` | 컨테이너 묶음 |
| `Service` | 네트워크 진입점 |

```python
def hello(name: str) -> str:
    return f"안녕, {name}"
```

## 인용

> 💡 `kubectl`은 클러스터와 대화하는 도구다. [문서](https://kubernetes.io)
"""


def write_theme(folder: Path, text: str, name: str = "mine.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def messages(diagnostics: Diagnostics) -> list[str]:
    return [str(item) for item in diagnostics.items]


# --- the built-in themes ------------------------------------------------------------------


def test_at_least_four_builtin_themes() -> None:
    assert set(BUILTIN) <= set(builtin_themes())


@pytest.mark.parametrize("name", BUILTIN)
def test_builtin_theme_loads_without_warnings(name: str) -> None:
    diagnostics = Diagnostics()
    theme = load_theme(name, diagnostics)
    assert messages(diagnostics) == []
    assert theme.name == name and theme.description


@pytest.mark.parametrize("name", BUILTIN)
def test_builtin_theme_passes_wcag_aa(name: str) -> None:
    theme = load_theme(name, Diagnostics())
    assert contrast_problems(theme) == []
    for pair in colour_pairs(theme):
        assert pair.ratio >= pair.required, pair


def test_builtin_themes_look_different() -> None:
    themes = [load_theme(name, Diagnostics()) for name in BUILTIN]
    assert len({theme.colors["background"] for theme in themes}) >= 3
    seminar = load_theme("seminar", Diagnostics())
    default = load_theme("default", Diagnostics())
    assert seminar.sizes.body > default.sizes.body
    assert seminar.sizes.body_min > default.sizes.body_min
    assert load_theme("minimal", Diagnostics()).fonts["body"].latin == "Calibri"


def test_deckgen_themes_lists_every_theme_with_its_description() -> None:
    result = run_main("themes")
    assert result.code == 0
    lines = result.stdout.splitlines()
    for name in BUILTIN:
        description = load_theme(name, Diagnostics()).description
        assert any(line.split()[0] == name and description in line for line in lines)


# --- extends ------------------------------------------------------------------------------


def test_extends_overrides_some_keys_and_inherits_the_rest(tmp_path: Path) -> None:
    path = write_theme(tmp_path, 'extends = "default"\nname = "mine"\n'
                                 '[colors]\naccent = "#B91C1C"\n[sizes]\nbody = 26\n')
    diagnostics = Diagnostics()
    theme = load_theme(str(path), diagnostics)
    default = load_theme("default", Diagnostics())
    assert theme.colors["accent"] == "#B91C1C"
    assert theme.colors["text"] == default.colors["text"]
    assert theme.sizes.body == 26 and theme.sizes.body_min == default.sizes.body_min
    assert theme.inline_code_color == "#B91C1C"  # references resolve in the merged palette
    assert theme.name == "mine" and messages(diagnostics) == []


def test_extends_a_relative_file_and_a_chain(tmp_path: Path) -> None:
    write_theme(tmp_path, 'extends = "dark"\n[sizes]\nbody = 28\n', "base.toml")
    path = write_theme(tmp_path, 'extends = "base.toml"\n[footer]\ndate = true\n')
    theme = load_theme(str(path), Diagnostics())
    assert theme.colors["background"] == load_theme("dark", Diagnostics()).colors["background"]
    assert theme.sizes.body == 28 and theme.footer_date


def test_extends_cycle_and_missing_parent_are_errors(tmp_path: Path) -> None:
    write_theme(tmp_path, 'extends = "b.toml"\n', "a.toml")
    write_theme(tmp_path, 'extends = "a.toml"\n', "b.toml")
    with pytest.raises(DeckgenError, match="extends itself"):
        load_theme(str(tmp_path / "a.toml"), Diagnostics())
    path = write_theme(tmp_path, 'extends = "nowhere.toml"\n')
    with pytest.raises(DeckgenError, match=r"nowhere\.toml"):
        load_theme(str(path), Diagnostics())


# --- validation ---------------------------------------------------------------------------


def test_unknown_keys_are_warnings_naming_file_and_key(tmp_path: Path) -> None:
    path = write_theme(tmp_path, 'extends = "default"\ncolour_scheme = "x"\n'
                                 '[sizes]\nbodysize = 3\n[fonts.body]\nweight = "bold"\n'
                                 '[fonts.quote]\nlatin = "Arial"\n')
    diagnostics = Diagnostics()
    load_theme(str(path), diagnostics)
    found = messages(diagnostics)
    for key in ("colour_scheme", "sizes.bodysize", "fonts.body.weight", "fonts.quote"):
        assert any(str(path) in m and f"'{key}'" in m and "warning" in m for m in found), key


@pytest.mark.parametrize(("text", "key", "allowed"), [
    ('[colors]\naccent = "blue"\n', "colors.accent", "#RRGGBB"),
    ('[colors]\naccent = "#12345"\n', "colors.accent", "#RRGGBB"),
    ('[sizes]\nbody = 200\n', "sizes.body", "10 to 72"),
    ('[sizes]\nline_spacing = 0.5\n', "sizes.line_spacing", "1 to 2"),
    ('[grid]\nmargin_left = -1\n', "grid.margin_left", "0 to 3"),
    ('[sizes]\nbody = "big"\n', "sizes.body", "a float"),
    ('[slide]\nsize = "21:9"\n', "slide.size", "16:9, 4:3, 16:10"),
    ('[callout]\nfill = "sky"\n', "callout.fill", "a colour name from [colors]"),
    ('[table]\nheader_fill = "nope"\n', "table.header_fill", "a colour name"),
    ('[footer]\ndate = "yes"\n', "footer.date", "a bool"),
    ('[logo]\nimage = "missing.png"\n', "logo.image", "a picture file"),
    ('[logo]\nheight = 5\n', "logo.height", "0.1 to 1.5"),
])
def test_bad_values_are_errors_naming_file_key_and_allowed(tmp_path: Path, text: str, key: str,
                                                           allowed: str) -> None:
    path = write_theme(tmp_path, 'extends = "default"\n' + text)
    with pytest.raises(DeckgenError) as caught:
        load_theme(str(path), Diagnostics())
    message = str(caught.value)
    assert str(path) in message and f"'{key}'" in message and allowed in message


def test_minimum_above_size_and_missing_colours_are_errors(tmp_path: Path) -> None:
    path = write_theme(tmp_path, 'extends = "default"\n[sizes]\nbody = 20\nbody_min = 22\n')
    with pytest.raises(DeckgenError, match="must not exceed"):
        load_theme(str(path), Diagnostics())
    default_text = builtin_themes()["default"].read_text(encoding="utf-8")
    path = write_theme(tmp_path, re.sub(r'(?m)^link = .*\n', "", default_text), "nolink.toml")
    with pytest.raises(DeckgenError, match="missing link"):
        load_theme(str(path), Diagnostics())


def test_unknown_theme_name_lists_the_themes() -> None:
    with pytest.raises(DeckgenError) as caught:
        load_theme("neon", Diagnostics())
    assert all(name in str(caught.value) for name in BUILTIN)


# --- fonts ----------------------------------------------------------------------------------


def test_face_without_any_file_is_a_warning_naming_it(tmp_path: Path) -> None:
    path = write_theme(tmp_path, 'extends = "default"\n[fonts.heading]\n'
                                 'latin = "Imaginary Grotesk"\neast_asian = "Malgun Gothic"\n')
    diagnostics = Diagnostics()
    load_theme(str(path), diagnostics)
    found = [m for m in messages(diagnostics) if "Imaginary Grotesk" in m]
    assert len(found) == 1
    assert "fonts.heading.latin" in found[0] and str(path) in found[0]
    assert "no open metric-compatible font is known" in found[0]


def test_missing_metric_equivalent_names_the_debian_package(
        monkeypatch: pytest.MonkeyPatch) -> None:
    real = theme_module.find_font
    monkeypatch.setattr(theme_module, "find_font",
                        lambda name, bold: None if name in ("Carlito", "Calibri")
                        else real(name, bold))
    theme = load_theme("minimal", Diagnostics())
    found = font_problems(theme)
    assert len(found) == 1
    assert "'Calibri'" in found[0] and "fonts.body.latin" in found[0]
    assert "fonts-crosextra-carlito" in found[0]


# --- contrast -------------------------------------------------------------------------------


def test_contrast_ratio_matches_wcag() -> None:
    assert contrast_ratio("#000000", "#FFFFFF") == pytest.approx(21.0)
    assert contrast_ratio("#FFFFFF", "#FFFFFF") == pytest.approx(1.0)
    assert contrast_ratio("#777777", "#FFFFFF") == pytest.approx(4.48, abs=0.01)
    assert contrast_ratio("#2563EB", "#FFFFFF") == contrast_ratio("#FFFFFF", "#2563EB")


def test_low_contrast_is_a_warning_naming_keys_ratio_and_requirement(tmp_path: Path) -> None:
    path = write_theme(tmp_path, 'extends = "default"\n[colors]\nmuted = "#BBBBBB"\n'
                                 'code_fill = "#0F172A"\n[callout]\ntext = "#9CA3AF"\n')
    diagnostics = Diagnostics()
    load_theme(str(path), diagnostics)
    found = [m for m in messages(diagnostics) if "contrast" in m]
    assert any(str(path) in m and "colors.muted #BBBBBB on colors.background #FFFFFF" in m
               and "1.92:1" in m and "4.5:1" in m for m in found), found
    assert any("colors.code_text" in m and "colors.code_fill" in m for m in found)
    assert any("callout.text" in m and "callout.fill" in m for m in found)


def test_large_title_pairs_need_three_to_one(tmp_path: Path) -> None:
    path = write_theme(tmp_path, 'extends = "default"\n[colors]\ntitle_fill = "#2563EB"\n'
                                 'title_text = "#93C5FD"\n')
    diagnostics = Diagnostics()
    load_theme(str(path), diagnostics)
    found = [m for m in messages(diagnostics) if "colors.title_text" in m]
    assert len(found) == 1 and "needs at least 3:1" in found[0]


# --- the documentation is true to the code ----------------------------------------------


def test_themes_readme_documents_every_key() -> None:
    text = THEMES_README.read_text(encoding="utf-8")
    for section, keys in SCHEMA.items():
        for key in keys:
            spelled = f"`{key}`" if not section else f"`{section}.{key}`"
            if section in ("slide", "sizes", "grid", "layouts"):
                spelled = f"`{key}`"
            assert spelled in text, (section, key)


def test_themes_readme_contrast_table_is_computed() -> None:
    text = THEMES_README.read_text(encoding="utf-8")
    table = text.split("## Contrast", 1)[1]
    rows = [line for line in table.splitlines()
            if re.match(r"\| [a-z]", line) and not line.startswith("| pair ")]
    themes = [load_theme(name, Diagnostics()) for name in BUILTIN]
    pairs = [colour_pairs(theme) for theme in themes]
    assert len(rows) == len(pairs[0])
    for index, row in enumerate(rows):
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        for column, theme_pairs in enumerate(pairs):
            assert float(cells[column + 1]) == pytest.approx(theme_pairs[index].ratio, abs=0.06)


# --- theme chrome ---------------------------------------------------------------------------


@pytest.fixture
def sample_md(write_md: Callable[..., Path]) -> Path:
    return write_md(SAMPLE_MD)


def _build(source: Path, theme: str, out: Path) -> Presentation:
    result = run_main("build", source, "--theme", theme, "-o", out)
    assert result.code == 0, result.stderr
    return Presentation(str(out))


def _fill(shape_or_background: object) -> str:
    return str(shape_or_background.fill.fore_color.rgb)  # type: ignore[attr-defined]


def test_section_and_table_styles(sample_md: Path, tmp_path: Path) -> None:
    prs = _build(sample_md, "dark", tmp_path / "dark.pptx")
    dark = load_theme("dark", Diagnostics())
    section = prs.slides[1]
    assert _fill(section.background) == dark.section_fill.lstrip("#")
    title = section.shapes.title.text_frame.paragraphs[0].runs[0]
    assert str(title.font.color.rgb) == dark.section_text.lstrip("#")
    table = next(shape for shape in prs.slides[2].shapes if shape.has_table).table
    assert _fill(table.cell(0, 0)) == dark.table_header_fill.lstrip("#")
    assert str(table.cell(0, 0).text_frame.paragraphs[0].runs[0].font.color.rgb) == \
        dark.table_header_text.lstrip("#")
    assert _fill(table.cell(2, 0)) == dark.table_band_fill.lstrip("#")
    border = table.cell(1, 1)._tc.tcPr.find(
        "{http://schemas.openxmlformats.org/drawingml/2006/main}lnB")
    assert border is not None


def test_footer_date_left_of_the_number(sample_md: Path, tmp_path: Path) -> None:
    prs = _build(sample_md, "seminar", tmp_path / "seminar.pptx")
    for slide in list(prs.slides)[1:]:
        shapes = {shape.name: shape for shape in slide.shapes}
        date, number = shapes["Footer date"], shapes["Slide number"]
        assert date.text_frame.text == "2026-11-26"
        assert date.left + date.width <= number.left
        assert date.left >= shapes["Footer"].left + shapes["Footer"].width
    assert "Footer date" not in {shape.name for shape in prs.slides[0].shapes}
    default = _build(sample_md, "default", tmp_path / "default.pptx")
    assert "Footer date" not in {shape.name for s in default.slides for shape in s.shapes}


@pytest.fixture
def logo_theme(tmp_path: Path) -> Path:
    Image.new("RGB", (300, 100), "#DC2626").save(tmp_path / "logo.png")
    Image.new("RGB", (160, 90), "#F1F5F9").save(tmp_path / "paper.png")
    return write_theme(tmp_path, 'extends = "default"\n[logo]\nimage = "logo.png"\n'
                                 'height = 0.3\n[background]\nimage = "paper.png"\n'
                                 '[footer]\ndate = true\n', "logo.toml")


def test_logo_in_the_footer_band_and_background_behind_everything(
        sample_md: Path, tmp_path: Path, logo_theme: Path) -> None:
    prs = _build(sample_md, str(logo_theme), tmp_path / "logo.pptx")
    theme = load_theme(str(logo_theme), Diagnostics())
    for index, slide in enumerate(prs.slides):
        shapes = list(slide.shapes)
        assert shapes[0].name == "Background picture"
        assert (shapes[0].width, shapes[0].height) == (prs.slide_width, prs.slide_height)
        logo = next(shape for shape in shapes if shape.name == "Logo")
        assert logo.height <= Emu(theme.logo_height)
        assert logo.width == pytest.approx(logo.height * 3, rel=0.01)
        assert logo.left + logo.width <= prs.slide_width - theme.grid.margin_right
        assert logo.top + logo.height <= prs.slide_height - theme.grid.margin_bottom
        if index == 0:
            continue
        date = next(shape for shape in shapes if shape.name == "Footer date")
        assert logo.left + logo.width <= date.left
        body = [shape for shape in shapes if shape.name.startswith(("Text", "Callout",
                                                                    "Table", "Code"))]
        assert all(shape.top + shape.height <= logo.top for shape in body)


def test_theme_with_a_missing_logo_file_is_an_error(tmp_path: Path) -> None:
    path = write_theme(tmp_path, 'extends = "default"\n[logo]\nimage = "gone.png"\n')
    with pytest.raises(DeckgenError) as caught:
        load_theme(str(path), Diagnostics())
    assert "gone.png" in str(caught.value) and "logo.image" in str(caught.value)


# --- renders --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", BUILTIN)
def test_intro_renders_without_misplaced_words(name: str, tmp_path: Path, intro_md: Path,
                                               repo_root: Path) -> None:
    if not soffice_available():
        pytest.skip(SOFFICE_MISSING_REASON)
    deck = tmp_path / f"intro-{name}.pptx"
    result = run_main("build", intro_md, "--theme", name, "-o", deck, "--resource-path",
                      repo_root)
    assert result.code == 0, result.stderr
    assert "contrast" not in result.stderr and "font '" not in result.stderr
    pdf = render_pdf(deck, tmp_path)
    assert misplaced_words(deck, pdf) == []


@pytest.mark.parametrize("name", ["dark", "seminar"])
def test_sample_renders_without_misplaced_words(name: str, tmp_path: Path,
                                                sample_md: Path) -> None:
    if not soffice_available():
        pytest.skip(SOFFICE_MISSING_REASON)
    deck = tmp_path / "sample.pptx"
    _build(sample_md, name, deck)
    pdf = render_pdf(deck, tmp_path / "pdf")
    assert misplaced_words(deck, pdf) == []


def test_logo_theme_renders_without_words_on_the_logo(tmp_path: Path, sample_md: Path) -> None:
    if not soffice_available():
        pytest.skip(SOFFICE_MISSING_REASON)
    Image.new("RGB", (300, 100), "#DC2626").save(tmp_path / "logo.png")
    theme = write_theme(tmp_path, 'extends = "minimal"\n[logo]\nimage = "logo.png"\n'
                                  '[footer]\ndate = true\ntitle = true\n', "logo.toml")
    deck = tmp_path / "logo.pptx"
    _build(sample_md, str(theme), deck)
    pdf = render_pdf(deck, tmp_path / "pdf")
    assert misplaced_words(deck, pdf) == []
