"""Unit tests of text measurement, wrapping, fitting and composition (no python-pptx)."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import ImageFont, features

from deckgen import measure
from deckgen.errors import Diagnostics
from deckgen.images import PreparedImage
from deckgen.layout import (
    EMU_PER_INCH,
    EMU_PER_PT,
    DeckLayout,
    Overflow,
    PictureShape,
    PlacedSlide,
    TextShape,
    notes_for_parts,
)
from deckgen.measure import (
    ASIAN_LATIN_GAP_EM,
    Measurer,
    _em_of,
    _has_glyph,
    _load,
    _Recent,
    _unshaped_advance,
    _unshaped_kind,
    _unshaped_notdef_advance,
    char_class,
    find_font,
    measurer_for,
)
from deckgen.model import (
    Box,
    Callout,
    Code,
    Deck,
    DeckMeta,
    Image,
    ListBlock,
    ListItem,
    Notes,
    Paragraph,
    Point,
    Points,
    Slide,
    SlideBlock,
    SlideKind,
    Span,
    Table,
)
from deckgen.theme import load_theme

LIBERATION = find_font("Liberation Sans", False)
NOTO_KR = find_font("Noto Sans CJK KR", False)
needs_fonts = pytest.mark.skipif(LIBERATION is None or NOTO_KR is None,
                                 reason="fonts-liberation2 and fonts-noto-cjk not installed")


FACES = {"body": ("Arial", "Malgun Gothic"), "heading": ("Arial", "Malgun Gothic"),
         "code": ("Consolas", "Malgun Gothic")}


@pytest.fixture(scope="module")
def measurer() -> Measurer:
    return measurer_for(FACES)


@pytest.fixture(scope="module")
def layout(measurer: Measurer) -> DeckLayout:
    theme = load_theme("default", Diagnostics())
    deck = Deck(Path("notes.md"), DeckMeta("Deck"), ())
    return DeckLayout(theme, measurer, {}, Overflow.NOTES, Diagnostics(), deck)


def test_character_classes() -> None:
    assert char_class("가") == "ea"
    assert char_class("A") == "latin"
    assert char_class(" ") == "neutral"
    assert char_class("🤔") == "emoji"
    assert char_class("\ufe0f") == "zero"


@needs_fonts
def test_latin_width_is_the_font_advance(measurer: Measurer) -> None:
    assert LIBERATION is not None
    expected = ImageFont.truetype(str(LIBERATION.path), 1000).getlength("Kubernetes") / 1000 * 24
    assert measurer.width("Kubernetes", "body", False, 24) == pytest.approx(expected, rel=1e-6)


@needs_fonts
def test_hangul_is_measured_with_the_hangul_face(measurer: Measurer) -> None:
    assert NOTO_KR is not None
    hangul = ImageFont.truetype(str(NOTO_KR.path), 1000, index=NOTO_KR.index)
    expected = hangul.getlength("가상화") / 1000 * 24
    assert measurer.width("가상화", "body", False, 24) == pytest.approx(expected, rel=1e-6)
    assert measurer.width("가", "body", False, 10) == pytest.approx(9.2, abs=0.3)


@needs_fonts
def test_autospacing_between_hangul_and_latin_is_counted(measurer: Measurer) -> None:
    joined = measurer.width("ECS에", "body", False, 24)
    parts = measurer.width("ECS", "body", False, 24) + measurer.width("에", "body", False, 24)
    assert joined == pytest.approx(parts + ASIAN_LATIN_GAP_EM * 24)


@needs_fonts
def test_bold_is_wider_than_regular(measurer: Measurer) -> None:
    assert measurer.width("Kubernetes", "body", True, 24) > \
        measurer.width("Kubernetes", "body", False, 24)


@needs_fonts
def test_wrapping_keeps_words_and_hangul_word_wise(measurer: Measurer) -> None:
    text = "최초의 리눅스가 나온 시점부터 꾸준한 개발을 통해서"
    lines = measurer.wrap([Span(text)], "body", 20, 200)
    assert len(lines) > 1
    assert " ".join(lines) == text
    for line in lines:
        assert measurer.width(line, "body", False, 20) <= 200


@needs_fonts
def test_line_count_takes_the_larger_of_word_and_character_wrapping(measurer: Measurer) -> None:
    text = [Span("컨테이너오케스트레이션 도구 중 하나로써")]
    assert measurer.line_count(text, "body", 20, 150) >= len(
        measurer.wrap(text, "body", 20, 150))


@needs_fonts
def test_a_long_url_breaks_inside_the_word(measurer: Measurer) -> None:
    url = "https://example.com/" + "segment/" * 25
    lines = measurer.wrap([Span(url)], "body", 18, 300)
    assert len(lines) > 3
    assert all(measurer.width(line, "body", False, 18) <= 300 for line in lines)


@needs_fonts
def test_hard_breaks_end_lines(measurer: Measurer) -> None:
    assert measurer.line_count([Span("one\ntwo\nthree")], "body", 18, 500) == 3


@needs_fonts
def test_fit_column_picks_the_largest_size_that_fits(layout: DeckLayout) -> None:
    short: list[SlideBlock] = [Points((Point((Span("짧은 문장."),), 1),), 1)]
    box = Box(0, 0, 6 * EMU_PER_INCH, 4 * EMU_PER_INCH)
    assert layout.fit_column(short, box).size == layout.theme.sizes.body
    many: list[SlideBlock] = [Points(tuple(
        Point((Span(f"항목 {i} 에 대한 꽤 긴 설명 문장입니다"),), i) for i in range(8)), 1)]
    fit = layout.fit_column(many, box)
    assert layout.theme.sizes.body_min <= fit.size < layout.theme.sizes.body
    assert not fit.rest
    used = sum(height for _, height in fit.placed)
    assert used <= box.h


@needs_fonts
def test_overflow_moves_whole_points_in_order(layout: DeckLayout) -> None:
    items = tuple(Point((Span(f"항목 {i}: 설명이 있는 한 줄짜리 요점"),), i) for i in range(40))
    box = Box(0, 0, 6 * EMU_PER_INCH, 4 * EMU_PER_INCH)
    fit = layout.fit_column([Points(items, 1)], box)
    assert fit.size == layout.theme.sizes.body_min
    placed = [item for block, _ in fit.placed for item in block.items]  # type: ignore[union-attr]
    rest = [item for block in fit.rest for item in block.items]  # type: ignore[union-attr]
    assert placed + rest == list(items)
    assert 0 < len(placed) < 40


@needs_fonts
def test_a_long_code_block_is_split_between_lines(layout: DeckLayout) -> None:
    code = Code("\n".join(f"line_{i} = {i}" for i in range(80)), "python", 1)
    box = Box(0, 0, 10 * EMU_PER_INCH, 4 * EMU_PER_INCH)
    fit = layout.fit_column([code], box)
    head = fit.placed[0][0]
    tail = fit.rest[0]
    assert isinstance(head, Code) and isinstance(tail, Code)
    assert head.text + "\n" + tail.text == code.text


@needs_fonts
def test_long_code_lines_wrap_with_a_visible_marker(layout: DeckLayout) -> None:
    code = Code("x = " + "a_very_long_identifier + " * 12, "python", 1)
    size, lines = layout._code_lines(code, 6 * EMU_PER_INCH, layout.theme.sizes.body)
    assert len(lines) > 1
    assert all(line.startswith("↪") for line in lines[1:])
    assert size >= layout.theme.sizes.code_min


@needs_fonts
def test_a_table_split_keeps_its_header(layout: DeckLayout) -> None:
    header = tuple((Span(f"컬럼{i}"),) for i in range(12))
    rows = tuple(tuple((Span(f"값{r}{c}"),) for c in range(12)) for r in range(60))
    table = Table(header, rows, ("",) * 12, 1)
    box = Box(0, 0, 12 * EMU_PER_INCH, 4 * EMU_PER_INCH)
    fit = layout.fit_column([table], box)
    head, tail = fit.placed[0][0], fit.rest[0]
    assert isinstance(head, Table) and isinstance(tail, Table)
    assert head.header == tail.header == header
    assert head.rows + tail.rows == rows


@needs_fonts
def test_long_titles_shrink_then_wrap_then_ellipsize(layout: DeckLayout) -> None:
    width = 11 * EMU_PER_INCH
    assert layout.fit_title("짧은 제목", width) == ("짧은 제목", layout.theme.sizes.title, 1)
    medium = "A title long enough that it needs to shrink a little to stay on one line ok"
    shown, size, lines = layout.fit_title(medium, width)
    assert shown == medium and lines <= 2 and size >= layout.theme.sizes.title_min
    huge = " ".join(["virtualization"] * 40)
    shown, size, lines = layout.fit_title(huge, width)
    assert shown.endswith("…") and lines == 2 and size == layout.theme.sizes.title_min


def _picture(width: int, height: int, hint: float | None = None) -> PreparedImage:
    ref = Image(f"{width}x{height}.png", "", 1, width_px=hint)
    return PreparedImage(ref, None, b"png", "png", width, height)


@needs_fonts
def test_pictures_keep_their_aspect_and_do_not_upscale_past_twice(layout: DeckLayout) -> None:
    cell = Box(0, 0, 8 * EMU_PER_INCH, 5 * EMU_PER_INCH)
    small = layout.fit_picture(_picture(100, 50), cell, 1)
    assert isinstance(small, PictureShape)
    assert small.box.w == pytest.approx(200 * 9525, rel=0.01)
    assert small.box.w / small.box.h == pytest.approx(2.0, rel=0.01)
    big = layout.fit_picture(_picture(4000, 1000), cell, 2)
    assert big.box.w <= cell.w and big.box.w / big.box.h == pytest.approx(4.0, rel=0.01)


@needs_fonts
def test_a_width_hint_is_relative_to_the_reading_width(layout: DeckLayout) -> None:
    cell = Box(0, 0, 12 * EMU_PER_INCH, 9 * EMU_PER_INCH)
    half = layout.fit_picture(_picture(1600, 1000, hint=400), cell, 1)
    full = layout.fit_picture(_picture(1600, 1000, hint=800), cell, 1)
    assert half.box.w == pytest.approx(full.box.w / 2, rel=0.02)


@needs_fonts
def test_four_pictures_with_text_are_all_placed_without_overlap(layout: DeckLayout) -> None:
    pictures = {_picture(w, h).ref: _picture(w, h) for w, h in
                ((2400, 800), (600, 1200), (900, 900), (3000, 2000))}
    slide = Slide(SlideKind.CONTENT, "Pictures", 1,
                  body=(Points((Point((Span("네 장의 그림."),), 1),), 1),),
                  images=tuple(pictures))
    placed_layout = DeckLayout(layout.theme, layout.measurer, pictures, Overflow.NOTES,
                               Diagnostics(), layout.deck)
    [placed] = placed_layout.content_slides(slide)
    boxes = [shape.box for shape in placed.shapes if isinstance(shape, PictureShape)]
    texts = [shape.box for shape in placed.shapes
             if isinstance(shape, TextShape) and shape.name.startswith("Text")]
    assert len(boxes) == 4
    for index, box in enumerate(boxes):
        assert box.x >= 0 and box.right <= layout.theme.slide_width
        assert box.y >= 0 and box.bottom <= layout.theme.slide_height
        for other in boxes[index + 1:] + texts:
            assert _disjoint(box, other)


def _disjoint(a: Box, b: Box) -> bool:
    return a.right <= b.x or b.right <= a.x or a.bottom <= b.y or b.bottom <= a.y


@needs_fonts
def test_callout_height_includes_its_padding(layout: DeckLayout) -> None:
    point = Point((Span("🤔 실무에서 ECS에 관련된 부분은 어느정도 감을 잡았다"),), 1, 0, "")
    width = 8 * EMU_PER_INCH
    plain = layout.block_height(Points((point,), 1), width, 20)
    callout = layout.block_height(Callout((point,), 1), width, 20)
    assert callout > plain
    assert callout / EMU_PER_PT > 20 * 1.2


# --- what the measurer remembers -------------------------------------------------------------


@needs_fonts
def test_a_remembered_line_count_equals_a_fresh_one(measurer: Measurer) -> None:
    spans = [Span("쿠버네티스는 "), Span("kubectl", code=True),
             Span(" 로 컨테이너를 관리한다, with https://example.com/a/long/path. " * 5)]
    for size in (12, 18, 27.5):
        for width in (60, 200, 640):
            asked = [measurer.line_count(spans, "body", size, width, code_role="code")
                     for _ in range(2)]
            fresh = Measurer(FACES).line_count(spans, "body", size, width, code_role="code")
            assert asked == [fresh, fresh]
    assert measurer.wrap(spans, "body", 18, 300) == Measurer(FACES).wrap(spans, "body", 18, 300)


@needs_fonts
def test_inline_code_is_counted_in_its_theme_style(measurer: Measurer) -> None:
    code = [Span("run "), Span("kubectl apply -f deployment.yaml", code=True)]
    as_bold = [Span("run "), Span("kubectl apply -f deployment.yaml", bold=True)]
    for width in (80, 150, 300):
        assert measurer.paragraph(code, "body", code_bold=True).line_count(18, width) == \
            measurer.line_count(as_bold, "body", 18, width)
        assert measurer.paragraph(code, "body", "code").line_count(18, width) == \
            measurer.line_count(code, "body", 18, width, code_role="code")


@needs_fonts
def test_the_layout_counts_equal_spans_alike(layout: DeckLayout) -> None:
    text = "컨테이너 가상화 기술은 서비스를 격리시켜주는 것은 물론이며 가볍고 빠르다."
    first, second = (Span(text),), (Span(text),)
    for size in (18.0, 24.0):
        assert layout.lines(first, "body", size, 3 * EMU_PER_INCH) == \
            layout.lines(second, "body", size, 3 * EMU_PER_INCH) > 1


def test_recent_forgets_what_was_not_used_lately() -> None:
    recent: _Recent[int, str] = _Recent(3)
    for number in range(3):
        recent.put(number, str(number))
    recent.put(3, "3")                    # the first three become the older generation
    assert recent.get(0) == "0"           # used: back in the newer one
    recent.put(4, "4")
    recent.put(5, "5")                    # 3, 0, 4 become the older; 1 and 2 are forgotten
    assert (recent.get(1), recent.get(2)) == (None, None)
    assert [recent.get(number) for number in (0, 3, 4, 5)] == ["0", "3", "4", "5"]
    for number in range(100, 200):
        recent.put(number, str(number))
    assert len(recent) <= 2 * 3


def test_recent_weighs_its_entries() -> None:
    recent: _Recent[str, str] = _Recent(100)
    for number in range(50):
        recent.put(str(number), "x" * 40, weight=40)
    assert len(recent) <= 2 * 3 + 1


@needs_fonts
def test_the_measurer_keeps_a_bounded_amount(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(measure, "KEPT_COUNTS_BYTES", 7_000)
    monkeypatch.setattr(measure, "KEPT_PIECE_CHARS", 500)
    monkeypatch.setattr(measure, "KEPT_LINES", 10)
    measurer = Measurer(FACES)
    for number in range(300):
        text = f"문단 {number}: a paragraph that is asked about once"
        measurer.line_count([Span(text)], "body", 18, 200)
        measurer.width(text, "body", False, 18)
        measurer.fitting_length(text, "code", False, 14, 100)
    assert len(measurer._paragraphs) <= 2 * 7_000 // 700
    assert len(measurer._pieces) <= 2 * 500 // 40
    assert len(measurer._line_ems) <= 20 and len(measurer._fitting) <= 20
    paragraph = measurer.paragraph([Span("one paragraph at many widths")], "body")
    for width in range(100, 400):
        paragraph.line_count(18, width)
    assert len(paragraph._counts) <= measure.KEPT_COUNTS_PER_PARAGRAPH


@needs_fonts
def test_a_character_the_face_lacks_is_estimated() -> None:
    """A character whose advance differs from .notdef's is taken as drawn without comparing
    glyph images; the comparison still decides for the others, as it always did."""
    assert LIBERATION is not None and NOTO_KR is not None
    assert _em_of(LIBERATION, "가", 0.5) == 0.5
    assert _em_of(NOTO_KR, "가", 0.5) != 0.5
    for font in (LIBERATION, NOTO_KR):
        advances = _load(font.path, font.index)
        for char in "Az9 .,·—€é가漢한ㄱ□◆\u2003\u00a0\u200b\u0600😀":
            expected = advances.getlength(char) / 1000 if _has_glyph(font, char) else 0.5
            assert _em_of(font, char, 0.5) == expected, (font.family, char)


@needs_fonts
@pytest.mark.skipif(not features.check("raqm"), reason="Pillow without raqm")
def test_advances_read_without_shaping_equal_the_shaped_ones() -> None:
    """Letters, digits, punctuation, symbols and spaces are read from FreeType unshaped:
    the same advance raqm gives, over Latin, Greek, Cyrillic, Hangul and CJK punctuation."""
    assert LIBERATION is not None and NOTO_KR is not None
    samples = [chr(code) for code in (*range(0x20, 0x530), *range(0x2000, 0x2070),
                                      *range(0x3000, 0x3100), *range(0xAC00, 0xD7A4, 37),
                                      *range(0xFF00, 0xFFEF))]
    unshaped = 0
    for font in (LIBERATION, NOTO_KR):
        shaped = _load(font.path, font.index)
        for char in samples:
            if _unshaped_kind(char) and _unshaped_advance(font, char) not in (
                    None, _unshaped_notdef_advance(font)):
                unshaped += 1
                assert _em_of(font, char, 0.5) == shaped.getlength(char) / 1000, (
                    font.family, hex(ord(char)))
    assert unshaped > 1500  # most of what the fonts draw took the unshaped way


# --- splitting with heights counted once ---------------------------------------------------


@needs_fonts
@pytest.mark.parametrize("kind", [Points, Callout])
def test_a_split_of_points_keeps_the_most_that_fit(layout: DeckLayout,
                                                   kind: type[Points] | type[Callout]) -> None:
    items = tuple(Point((Span(f"항목 {i}: " + "설명이 조금 긴 요점 " * (i % 4 + 1)),), i)
                  for i in range(30))
    block = kind(items, 1)
    width, size, room = 6 * EMU_PER_INCH, 20.0, 3 * EMU_PER_INCH
    head, tail = layout.split_block(block, width, size, room)
    assert isinstance(head, kind) and isinstance(tail, kind)
    kept = len(head.items)
    assert head.items + tail.items == items
    assert layout.block_height(head, width, size) <= room
    assert layout.block_height(replace(block, items=items[:kept + 1]), width, size) > room


@needs_fonts
def test_a_split_of_code_keeps_the_most_lines_that_fit(layout: DeckLayout) -> None:
    lines = [("\t" * (i % 3)) + f"value_{i} = compute(" + "argument, " * (i % 7) + ")"
             for i in range(60)]
    block = Code("\n".join(lines), "python", 1)
    width, size, room = 6 * EMU_PER_INCH, 20.0, 3 * EMU_PER_INCH
    head, tail = layout.split_block(block, width, size, room)
    assert isinstance(head, Code) and isinstance(tail, Code)
    kept = head.text.count("\n") + 1
    assert layout.block_height(head, width, size) <= room
    assert layout.block_height(replace(block, text="\n".join(lines[:kept + 1])), width,
                               size) > room


def _item(text: str, line: int) -> ListItem:
    return ListItem((Paragraph((Span(text),), line),), line)


def _notes_texts(notes: Notes) -> list[str]:
    texts: list[str] = []
    for block in notes.blocks:
        if isinstance(block, ListBlock):
            texts.extend(f"{block.start + n}:{item.blocks[0].spans[0].text}"  # type: ignore[union-attr]
                         for n, item in enumerate(block.items))
        else:
            texts.append(block.spans[0].text)  # type: ignore[union-attr]
    return texts


def test_continued_notes_go_with_the_part_that_shows_them() -> None:
    notes = Notes((Paragraph((Span("intro"),), 3),
                   ListBlock(tuple(_item(f"item {n}", 10 + n) for n in range(6)), True, 1, 10),
                   Paragraph((Span("after"),), 20)))
    parts = notes_for_parts(notes, [10, 13, 15])
    assert [_notes_texts(part) for part in parts] == [
        ["intro", "1:item 0", "2:item 1", "3:item 2"],
        ["4:item 3", "5:item 4"],  # numbering goes on where the part starts
        ["6:item 5", "after"],
    ]


def test_a_part_that_goes_on_with_a_long_paragraph_has_that_paragraph() -> None:
    notes = Notes((Paragraph((Span("heading note"),), 1), Paragraph((Span("long"),), 5),
                   Paragraph((Span("next"),), 9)))
    parts = notes_for_parts(notes, [5, 5, 5, 9])  # the paragraph's sentences on three parts
    assert [_notes_texts(part) for part in parts] == [
        ["heading note", "long"], ["long"], ["long"], ["next"]]


def test_a_slide_that_is_not_continued_keeps_all_its_notes() -> None:
    notes = Notes((Paragraph((Span("a"),), 1), Paragraph((Span("b"),), 50)))
    assert notes_for_parts(notes, [30]) == [notes]



def _long_slide(title: str, items: int) -> Slide:
    points = Points(tuple(Point((Span(f"{title} point {n} " + "word " * 12),), n + 2)
                          for n in range(items)), 1)
    return Slide(SlideKind.CONTENT, title, 1, body=(points,))


def test_kept_layouts_are_reused_only_for_the_same_slide_objects(
        measurer: Measurer, monkeypatch: pytest.MonkeyPatch) -> None:
    from deckgen import layout as layout_module

    theme = load_theme("default", Diagnostics())
    unchanged, edited = _long_slide("Same", 30), _long_slide("Before", 3)
    laid_out: list[str] = []
    original = DeckLayout.slide

    def counting(self: DeckLayout, slide: Slide) -> list[PlacedSlide]:
        laid_out.append(slide.title)
        return original(self, slide)

    monkeypatch.setattr(DeckLayout, "slide", counting)

    def build(slides: tuple[Slide, ...]) -> tuple[list[PlacedSlide], Diagnostics]:
        diagnostics = Diagnostics()
        deck = Deck(Path("notes.md"), DeckMeta("Deck"), slides)
        return (DeckLayout(theme, measurer, {}, Overflow.NOTES, diagnostics, deck).slides(),
                diagnostics)

    _, fresh_diagnostics = build((unchanged, edited))
    assert fresh_diagnostics.warnings  # the 30 points do not all fit: a warning
    layout_module.keep_between_builds()
    try:
        build((unchanged, edited))
        laid_out.clear()
        again = _long_slide("After", 3)
        kept, kept_diagnostics = build((unchanged, again))
        assert laid_out == ["After"]  # only the slide made anew is laid out again
    finally:
        layout_module.keep_between_builds(False)
    plain, plain_diagnostics = build((unchanged, again))
    assert kept == plain
    assert kept_diagnostics.items == plain_diagnostics.items  # the warning said again


def _naive_continuation(layout: DeckLayout, rest: list[SlideBlock], box: Box,
                        size: float) -> list[list[tuple[SlideBlock, int]]]:
    """Continuation slides as filling all that is left, slide after slide, makes them."""
    slides = []
    while rest:
        fit = layout.fill(rest, box, size)
        if not fit.placed:
            break
        slides.append(fit.placed)
        rest = fit.rest
    return slides


def test_continuation_from_a_window_places_exactly_what_filling_all_the_rest_does(
        layout: DeckLayout) -> None:
    words = "word " * 9
    blocks: list[SlideBlock] = [
        Points(tuple(Point((Span(f"p{n} " + words * (n % 4)),), n + 2, level=n % 2)
                     for n in range(300)), 1),
        Code("\n".join(f"x{n} = {'y' * (n % 90)}" for n in range(200)), "python", 400),
        Table(((Span("a"),), (Span("b"),)),
              tuple(((Span(f"r{n}"),), (Span("v " * (n % 30)),)) for n in range(150)),
              ("left", "left"), 700),
        *(Points((Point((Span(f"short {n}"),), 900 + n),), 900 + n) for n in range(80)),
        Callout(tuple(Point((Span(f"c{n} " + words),), 1000 + n) for n in range(40)), 1000),
    ]
    box = Box(0, 0, 8 * 914400, 4 * 914400)
    for size in (14.0, 20.0):
        windowed = [fit.placed for fit, _ in layout.continued(blocks, box, size)]
        assert windowed == _naive_continuation(layout, blocks, box, size)
        assert len(windowed) > 40


def test_a_long_list_is_continued_in_time_linear_in_its_length(measurer: Measurer) -> None:
    """Each slide measured and copied all that was left: 20,000 items took 14 s."""
    theme = load_theme("default", Diagnostics())
    points = Points(tuple(Point((Span(f"item {n}"),), n + 3) for n in range(30_000)), 3)
    deck = Deck(Path("notes.md"), DeckMeta("Deck"),
                (Slide(SlideKind.CONTENT, "S", 1, body=(points,)),))
    started = time.process_time()
    slides = DeckLayout(theme, measurer, {}, Overflow.CONTINUE, Diagnostics(), deck).slides()
    assert time.process_time() - started < 4.0
    assert len(slides) > 1000
    assert slides[-1].title == f"S ({len(slides)}/{len(slides)})"
