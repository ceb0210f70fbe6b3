"""Tests of the render-check harness (tests/rendercheck.py) on small python-pptx decks."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from lxml import etree
from PIL import Image
from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE
from pptx.oxml.ns import qn
from pptx.presentation import Presentation as PresentationType
from pptx.shapes.autoshape import Shape
from pptx.slide import Slide
from pptx.text.text import TextFrame, _Paragraph, _Run
from pptx.util import Emu, Inches, Pt
from rendercheck import (
    FONTS_CONF,
    SOFFICE_MISSING_REASON,
    Page,
    ShapeBox,
    Word,
    hidden_slides,
    misplaced_words,
    normalize,
    pdftotext_text,
    read_pages,
    render_pdf,
    shape_boxes,
    soffice_available,
    word_boxes,
)

needs_soffice = pytest.mark.skipif(not soffice_available(), reason=SOFFICE_MISSING_REASON)

KOREAN = "실무에서 ECS에 관련된 부분은 Kubernetes 공부를 하면서 같이 보게 됩니다."

# Slide numbers (1-based, as in the messages) of the layout deck.
FITS, HIDDEN, TOO_SMALL, NO_WRAP, PICTURE, LISTS, TIGHT = 1, 2, 3, 4, 5, 6, 7


def new_deck() -> PresentationType:
    """A 16:9 deck (13.333 x 7.5 in, the size deckgen makes)."""
    prs = Presentation()
    prs.slide_width = Inches(13.333)
    prs.slide_height = Inches(7.5)
    return prs


def add_text(
    slide: Slide,
    left: float,
    top: float,
    width: float,
    height: float,
    text: str,
    size: int = 24,
    wrap: bool = True,
) -> Shape:
    box = slide.shapes.add_textbox(Inches(left), Inches(top), Inches(width), Inches(height))
    box.text_frame.word_wrap = wrap
    box.text_frame.text = text
    for paragraph in box.text_frame.paragraphs:
        for run in paragraph.runs:
            run.font.size = Pt(size)
    return box


def set_korean_fonts(
    run: _Run, latin_face: str = "Arial", east_asian: str = "Malgun Gothic"
) -> None:
    """Give a run a Latin and an East Asian typeface and the Korean language."""
    rpr = run._r.get_or_add_rPr()
    rpr.set("lang", "ko-KR")
    rpr.set("altLang", "en-US")
    latin = rpr.get_or_add_latin()
    latin.set("typeface", latin_face)
    ea = rpr.find(qn("a:ea"))
    if ea is None:
        ea = etree.SubElement(rpr, qn("a:ea"))
        latin.addnext(ea)  # schema order: latin, ea, cs
    ea.set("typeface", east_asian)


def list_paragraph(
    text_frame: TextFrame, text: str, bullet: str, first: bool = False
) -> _Paragraph:
    """A paragraph with a hanging indent and a bullet (`buChar`) or number (`buAutoNum`)."""
    paragraph = text_frame.paragraphs[0] if first else text_frame.add_paragraph()
    paragraph.text = text
    ppr = paragraph._p.get_or_add_pPr()
    ppr.set("marL", str(Inches(0.5)))
    ppr.set("indent", str(-Inches(0.5)))
    if bullet == "autonum":
        etree.SubElement(ppr, qn("a:buAutoNum")).set("type", "arabicPeriod")
    else:
        etree.SubElement(ppr, qn("a:buChar")).set("char", bullet)
    return paragraph


def add_slide_number_field(text_frame: TextFrame) -> None:
    """A paragraph "Slide <slidenum field>" as PowerPoint writes it (cached text ‹#›)."""
    paragraph = text_frame.add_paragraph()
    paragraph.add_run().text = "Slide "
    field = etree.SubElement(paragraph._p, qn("a:fld"))
    field.set("id", "{B6F15528-21DE-4FAA-801E-634DDDAF4B2B}")
    field.set("type", "slidenum")
    etree.SubElement(field, qn("a:rPr")).set("lang", "en-US")
    etree.SubElement(field, qn("a:t")).text = "‹#›"


def build_layout_deck(path: Path, image: Path) -> Path:
    prs = new_deck()
    blank = prs.slide_layouts[6]

    # FITS: a wrapped text box whose text fits.
    slide = prs.slides.add_slide(blank)
    add_text(slide, 1, 1, 6, 2, "A wrapped text box whose text fits easily inside its box.")

    # HIDDEN: not exported by LibreOffice; would be full of problems if it were.
    slide = prs.slides.add_slide(blank)
    slide._element.set("show", "0")
    add_text(slide, 12, 7, 1, 0.3, "hidden slide text running off the slide", wrap=False)

    # TOO_SMALL: wraps, but the box is far too short, so the text grows below it.
    slide = prs.slides.add_slide(blank)
    add_text(
        slide,
        1,
        1,
        3,
        0.5,
        "This wrapped text is much too long for its small box and spills below it.",
    )

    # NO_WRAP: one long unwrapped line, wider than the slide.
    slide = prs.slides.add_slide(blank)
    add_text(
        slide,
        8,
        3,
        4,
        0.6,
        "An unwrapped line that is far too long to fit on the slide at this size, "
        "it runs past the edges",
        size=40,
        wrap=False,
    )

    # PICTURE: a picture placed over the lower half of a text box.
    slide = prs.slides.add_slide(blank)
    add_text(slide, 1, 1, 6, 1.2, "Text under a picture. Second line is covered here too.")
    slide.shapes.add_picture(str(image), Inches(1), Inches(1.5), Inches(3), Inches(1))
    add_text(slide, 8, 5, 4, 1, "Text beside the picture.")

    # LISTS: layout bullets, auto numbers, dash bullets, a slide number field,
    # a group, a table with a merged cell, a hyperlink; all in place.
    slide = prs.slides.add_slide(prs.slide_layouts[1])
    slide.shapes.title.text = "Lists and tables"
    body = slide.placeholders[1]
    body.left, body.top, body.width, body.height = Inches(0.5), Inches(1.5), Inches(6), Inches(3)
    body.text_frame.text = "First layout bullet"
    run = body.text_frame.add_paragraph().add_run()
    run.text = "a link to example.com"
    run.hyperlink.address = "https://example.com"
    numbered = add_text(slide, 7, 1.5, 5.5, 2.5, "", size=20).text_frame
    list_paragraph(numbered, "first numbered item", "autonum", first=True)
    list_paragraph(numbered, "second numbered item", "autonum")
    list_paragraph(numbered, "a dash item", "–")
    list_paragraph(numbered, "a square item", "▪")
    add_slide_number_field(numbered)
    group = slide.shapes.add_group_shape()
    grouped = group.shapes.add_textbox(Inches(0.5), Inches(5), Inches(3), Inches(0.8))
    grouped.text_frame.word_wrap = True
    grouped.text_frame.text = "Text in a group"
    table = slide.shapes.add_table(3, 3, Inches(7), Inches(4.5), Inches(5.5), Inches(1.8)).table
    table.cell(0, 0).merge(table.cell(0, 2))
    table.cell(0, 0).text = "Merged header across three columns"
    for r in (1, 2):
        for c in range(3):
            table.cell(r, c).text = f"cell {r}{c}"

    # TIGHT: 80% line spacing and no insets; the ink fits, the first line's metric
    # box (font ascent) sticks out above the shape.
    slide = prs.slides.add_slide(blank)
    tight = add_text(slide, 1, 1, 6, 3, "가상화 기술의 역사 Kubernetes", size=28)
    text_frame = tight.text_frame
    text_frame.margin_top = text_frame.margin_bottom = 0
    text_frame.paragraphs[0].line_spacing = 0.8
    set_korean_fonts(text_frame.paragraphs[0].runs[0])

    prs.save(str(path))
    return path


def build_korean_deck(path: Path) -> Path:
    prs = new_deck()
    slide = prs.slides.add_slide(prs.slide_layouts[6])
    box = slide.shapes.add_textbox(Inches(1), Inches(1), Inches(7), Inches(3.5))
    text_frame = box.text_frame
    text_frame.word_wrap = True
    for i, line in enumerate([KOREAN, "쿠버네티스 입문: 가상화 기술의 역사 (1991 → 2014)"]):
        paragraph = text_frame.paragraphs[0] if i == 0 else text_frame.add_paragraph()
        run = paragraph.add_run()
        run.text = line
        run.font.size = Pt(28)
        set_korean_fonts(run)
    paragraph = text_frame.add_paragraph()
    code = paragraph.add_run()
    code.text = "kubectl get pods"
    code.font.name = "Consolas"
    code.font.size = Pt(24)
    run = paragraph.add_run()
    run.text = " 명령으로 확인합니다"
    run.font.size = Pt(24)
    set_korean_fonts(run)
    prs.save(str(path))
    return path


@pytest.fixture(scope="module")
def layout_deck(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[str]]:
    """The layout deck, its PDF (rendered once) and the problems found in it."""
    if not soffice_available():
        pytest.skip(SOFFICE_MISSING_REASON)
    tmp = tmp_path_factory.mktemp("layout")
    image = tmp / "red.png"
    Image.new("RGB", (300, 100), "red").save(image)
    pptx = build_layout_deck(tmp / "layout.pptx", image)
    pdf = render_pdf(pptx, tmp / "out")
    return pptx, pdf, misplaced_words(pptx, pdf)


@pytest.fixture(scope="module")
def korean_deck(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if not soffice_available():
        pytest.skip(SOFFICE_MISSING_REASON)
    tmp = tmp_path_factory.mktemp("korean")
    pptx = build_korean_deck(tmp / "korean.pptx")
    return pptx, render_pdf(pptx, tmp / "out")


def on_slide(problems: list[str], number: int) -> list[str]:
    return [p for p in problems if p.startswith(f"slide {number}:")]


def words_of_slide(pdf: Path, page_index: int) -> list[str]:
    return [w.text for w in word_boxes(pdf)[page_index]]


# --- with LibreOffice --------------------------------------------------------------------


@needs_soffice
def test_pages_are_slide_sized_and_hidden_slides_skipped(
    layout_deck: tuple[Path, Path, list[str]],
) -> None:
    pptx, pdf, problems = layout_deck
    pages = read_pages(pdf)
    assert len(pages) == 6  # seven slides, one hidden
    assert hidden_slides(pptx) == {HIDDEN - 1}
    for page in pages:
        assert page.width == pytest.approx(960, abs=0.1)
        assert page.height == pytest.approx(540, abs=0.1)
    assert not any("pages for" in p for p in problems)
    assert not on_slide(problems, HIDDEN)


@needs_soffice
def test_text_that_fits_has_no_misplaced_words(layout_deck: tuple[Path, Path, list[str]]) -> None:
    _, pdf, problems = layout_deck
    assert "fits" in words_of_slide(pdf, 0)
    assert on_slide(problems, FITS) == []


@needs_soffice
def test_too_small_box_is_reported(layout_deck: tuple[Path, Path, list[str]]) -> None:
    found = on_slide(layout_deck[2], TOO_SMALL)
    assert found, "text spilling below a too-small box must be reported"
    assert all("outside shape 'TextBox 1'" in p for p in found), found


@needs_soffice
def test_unwrapped_line_off_the_slide_is_reported(
    layout_deck: tuple[Path, Path, list[str]],
) -> None:
    found = on_slide(layout_deck[2], NO_WRAP)
    assert any("outside shape 'TextBox 1'" in p for p in found), found
    # pdftotext drops words wholly off the page: they show up as missing text.
    assert any("is not on the rendered page" in p for p in found), found


@needs_soffice
def test_picture_over_text_is_reported(layout_deck: tuple[Path, Path, list[str]]) -> None:
    found = on_slide(layout_deck[2], PICTURE)
    assert found and all("overlaps picture" in p for p in found), found
    assert not any("beside" in p for p in found)


@needs_soffice
def test_bullets_numbers_fields_groups_tables_are_in_place(
    layout_deck: tuple[Path, Path, list[str]],
) -> None:
    _, pdf, problems = layout_deck
    words = words_of_slide(pdf, LISTS - 2)  # the hidden slide has no page
    # LibreOffice draws these markers itself; they are not in the shapes' text.
    assert {"•", "1.", "2.", "–", "▪"} <= set(words), words
    assert "6" in words  # the slide number field
    assert on_slide(problems, LISTS) == []


@needs_soffice
def test_changed_text_is_reported_as_unexpected_and_missing(
    layout_deck: tuple[Path, Path, list[str]], tmp_path: Path
) -> None:
    pptx, pdf, _ = layout_deck
    prs = Presentation(str(pptx))
    prs.slides[0].shapes[0].text_frame.text = "Completely different words now"
    changed = tmp_path / "changed.pptx"
    prs.save(str(changed))
    found = on_slide(misplaced_words(changed, pdf), FITS)
    assert any("'wrapped' at" in p and "matches no shape's text" in p for p in found), found
    assert any("'Completely'" in p and "not on the rendered page" in p for p in found), found


@needs_soffice
def test_korean_with_latin_words_renders_inside_its_box(korean_deck: tuple[Path, Path]) -> None:
    pptx, pdf = korean_deck
    words = words_of_slide(pdf, 0)
    assert "실무에서" in words and "Kubernetes" in words, words
    assert misplaced_words(pptx, pdf) == []


@needs_soffice
def test_korean_deck_is_drawn_in_noto_cjk_and_mapped_faces(korean_deck: tuple[Path, Path]) -> None:
    if shutil.which("pdffonts") is None:
        pytest.skip("pdffonts (poppler-utils) not installed")
    _, pdf = korean_deck
    listing = subprocess.run(
        ["pdffonts", str(pdf)], capture_output=True, text=True, check=True
    ).stdout
    fonts = [line.split()[0] for line in listing.splitlines()[2:] if line.strip()]
    # LibreOffice names the subset after the CFF data that all faces of the
    # NotoSansCJK-*.ttc collection share ("NotoSansCJKjp-Regular-..."), so the
    # KR face cannot be told apart by name; fonts.conf picks it (test below).
    assert any("NotoSansCJK" in name for name in fonts), fonts
    assert any("LiberationSans" in name for name in fonts), fonts  # Arial for Latin
    # Consolas is DejaVu Sans Mono by the system's rules: this shows fonts.conf was used.
    assert any("LiberationMono" in name for name in fonts), fonts
    assert not any("DejaVu" in name for name in fonts), fonts


# --- without LibreOffice -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("family", "expected"),
    [
        ("Malgun Gothic", "Noto Sans CJK KR"),
        ("맑은 고딕", "Noto Sans CJK KR"),
        ("Arial", "Liberation Sans"),
        ("Calibri", "Carlito"),
        ("Consolas", "Liberation Mono"),
        ("Courier New", "Liberation Mono"),
        ("Segoe UI Emoji", "Symbola"),
        ("Apple Color Emoji", "Symbola"),
    ],
)
def test_fonts_conf_maps_theme_faces(family: str, expected: str) -> None:
    if shutil.which("fc-match") is None:
        pytest.skip("fontconfig (fc-match) not installed")
    result = subprocess.run(
        ["fc-match", "-f", "%{family}", family],
        capture_output=True,
        text=True,
        check=True,
        env={"FONTCONFIG_FILE": str(FONTS_CONF), "PATH": "/usr/bin:/bin"},
    )
    installed = subprocess.run(["fc-list", expected], capture_output=True, text=True).stdout
    if not installed:
        pytest.skip(f"font {expected!r} not installed")
    assert expected in result.stdout.split(","), result.stdout


def test_normalize_ignores_spacing_and_invisible_characters() -> None:
    assert normalize(" ECS에\u00a0관련\u200b된\n") == "ECS에관련된"
    assert normalize("ﬁne ✅️") == "fine✅"


def test_shape_boxes_map_group_children_and_table_cells(tmp_path: Path) -> None:
    prs = new_deck()
    slide = prs.slides.add_slide(prs.slide_layouts[6])
    group = slide.shapes.add_group_shape()
    group.shapes.add_textbox(0, 0, Emu(400 * 12700), Emu(200 * 12700)).text_frame.text = "x"
    group.shapes.add_shape(MSO_SHAPE.RECTANGLE, *(Emu(v * 12700) for v in (200, 100, 200, 200)))
    # Draw the group's child space (0,0)-(400,300) pt at (100,50) pt, half size.
    xfrm = group._element.grpSpPr.find(qn("a:xfrm"))
    xfrm.find(qn("a:off")).set("x", str(100 * 12700))
    xfrm.find(qn("a:off")).set("y", str(50 * 12700))
    xfrm.find(qn("a:ext")).set("cx", str(200 * 12700))
    xfrm.find(qn("a:ext")).set("cy", str(150 * 12700))
    table = slide.shapes.add_table(2, 2, Inches(1), Inches(4), Inches(4), Inches(1)).table
    table.columns[0].width = Inches(1)
    table.columns[1].width = Inches(3)
    table.cell(0, 0).merge(table.cell(1, 0))
    table.cell(0, 0).text = "merged"
    table.cell(1, 1).text = "last"
    path = tmp_path / "boxes.pptx"
    prs.save(str(path))

    (boxes,) = shape_boxes(path)
    by_name = {box.name: box for box in boxes}
    assert by_name["TextBox 2"] == ShapeBox("TextBox 2", 100, 50, 300, 150, "x")
    assert (by_name["Rectangle 3"].x0, by_name["Rectangle 3"].y1) == (200, 200)
    merged = by_name["Table 4 cell (0,0)"]
    assert merged == ShapeBox("Table 4 cell (0,0)", 72, 288, 144, 360, "merged")
    last = by_name["Table 4 cell (1,1)"]
    assert (last.x0, last.y0, last.x1, last.y1) == (144, 324, 360, 360)
    assert "Table 4 cell (1,0)" not in by_name  # covered by the merge


def test_page_and_word_are_plain_values() -> None:
    word = Word("a", 1.0, 2.0, 3.0, 4.0)
    assert Page(960.0, 540.0, (word,)).words[0] == Word("a", 1.0, 2.0, 3.0, 4.0)
    with pytest.raises(AttributeError):
        word.text = "b"  # type: ignore[misc]


@needs_soffice
def test_top_slack_forgives_tight_line_spacing(
    layout_deck: tuple[Path, Path, list[str]],
) -> None:
    pptx, pdf, problems = layout_deck
    strict = on_slide(problems, TIGHT)
    assert strict and all("outside shape 'TextBox 1'" in p for p in strict), strict
    assert on_slide(misplaced_words(pptx, pdf, top_slack=0.2), TIGHT) == []
    # The slack does not hide real problems.
    assert on_slide(misplaced_words(pptx, pdf, top_slack=0.2), TOO_SMALL)


@needs_soffice
def test_a_word_broken_inside_a_narrow_cell_is_not_missing(tmp_path: Path) -> None:
    """LibreOffice breaks a word too long for a narrow table cell across lines; its pieces
    are drawn inside the cell, so the word is there, not missing."""
    prs = new_deck()
    slide = prs.slides.add_slide(prs.slide_layouts[6])
    frame = slide.shapes.add_table(2, 2, Inches(1), Inches(1), Inches(1.4), Inches(4))
    frame.table.cell(0, 0).text = "컬럼123456"
    frame.table.cell(0, 1).text = "열ABCDEFGH"
    frame.table.cell(1, 0).text = "값"
    frame.table.cell(1, 1).text = "값"
    deck = tmp_path / "cell.pptx"
    prs.save(str(deck))
    pdf = render_pdf(deck, tmp_path)
    assert len(words_of_slide(pdf, 0)) >= 6  # both words are drawn in pieces, interleaved
    assert misplaced_words(deck, pdf) == []


def test_characters_outside_the_bmp_are_read_from_pdftotext_surrogates() -> None:
    # pdftotext writes U+1F914 as the UTF-8 bytes of its two surrogates (CESU-8).
    output = "<title>Emoji \ud83e\udd14 title</title>".encode("utf-8", "surrogatepass")
    assert b"\xed\xa0\xbe\xed\xb4\x94" in output
    assert pdftotext_text(output) == "<title>Emoji 🤔 title</title>"


@needs_soffice
def test_a_deck_titled_with_an_emoji_is_read(tmp_path: Path) -> None:
    prs = Presentation()
    prs.core_properties.title = "Emoji 🤔 title"
    slide = prs.slides.add_slide(prs.slide_layouts[5])
    assert slide.shapes.title is not None
    slide.shapes.title.text = "Emoji 🤔 title"
    deck = tmp_path / "emoji.pptx"
    prs.save(str(deck))
    pages = read_pages(render_pdf(deck, tmp_path))
    assert [word.text for word in pages[0].words] == ["Emoji", "🤔", "title"]
