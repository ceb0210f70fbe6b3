"""deckgen.parse: Markdown to document blocks, and reading the source file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deckgen import parse as parse_module
from deckgen.errors import DeckgenError, Diagnostics, Level
from deckgen.model import (
    Code,
    Document,
    Heading,
    Image,
    ListBlock,
    NotesBlock,
    Paragraph,
    Quote,
    Span,
    Table,
    ThematicBreak,
    plain_text,
)
from deckgen.parse import parse_document, read_source

SOURCE = Path("notes.md")


def parse(text: str) -> tuple[Document, Diagnostics]:
    diagnostics = Diagnostics()
    return parse_document(SOURCE, text, diagnostics), diagnostics


def blocks_of(text: str, kind: type) -> list:
    document, _ = parse(text)
    return [block for block in document.blocks if isinstance(block, kind)]


def only(text: str, kind: type):
    found = blocks_of(text, kind)
    assert len(found) == 1, found
    return found[0]


def warnings_of(diagnostics: Diagnostics) -> list:
    return [d for d in diagnostics.items if d.level is Level.WARNING]


# --- headings and paragraphs -------------------------------------------------------------


@pytest.mark.parametrize("level", [1, 2, 3, 4, 5, 6])
def test_heading_levels_and_text(level: int) -> None:
    heading = only(f"{'#' * level} 가상화  *도입*   과정\n", Heading)
    assert heading.level == level
    assert heading.text == "가상화 도입 과정"
    assert heading.line == 1


def test_heading_line_numbers_count_from_the_file_start() -> None:
    document, _ = parse("# One\n\ntext\n\n## Two\n\n### Three\n")
    headings = [b for b in document.blocks if isinstance(b, Heading)]
    assert [(h.level, h.text, h.line) for h in headings] == [
        (1, "One", 1), (2, "Two", 5), (3, "Three", 7)]


def test_soft_break_is_a_space_and_hard_breaks_are_newlines() -> None:
    paragraph = only("line one\nline two  \nline three\\\nline four\n", Paragraph)
    assert plain_text(paragraph.spans) == "line one line two\nline three\nline four"
    assert paragraph.line == 1


def test_paragraphs_are_separate_blocks_with_their_lines() -> None:
    paragraphs = blocks_of("first\n\nsecond\ncontinued\n\n\nthird\n", Paragraph)
    assert [(plain_text(p.spans), p.line) for p in paragraphs] == [
        ("first", 1), ("second continued", 3), ("third", 7)]


def test_inline_formatting_spans() -> None:
    paragraph = only("**bold** *italic* ~~gone~~ `code()` plain\n", Paragraph)
    spans = [s for s in paragraph.spans if s.text.strip()]
    assert spans == [
        Span("bold", bold=True),
        Span("italic", italic=True),
        Span("gone", strike=True),
        Span("code()", code=True),
        Span(" plain"),
    ]


def test_nested_emphasis_combines_flags() -> None:
    paragraph = only("***both*** and **bold *and italic***\n", Paragraph)
    flags = {s.text: (s.bold, s.italic) for s in paragraph.spans}
    assert flags["both"] == (True, True)
    assert flags["bold "] == (True, False)
    assert flags["and italic"] == (True, True)


def test_inline_code_keeps_markup_characters_literally() -> None:
    paragraph = only("run `a *b* [c](d)` now\n", Paragraph)
    code = [s for s in paragraph.spans if s.code]
    assert code == [Span("a *b* [c](d)", code=True)]


def test_links_carry_their_address() -> None:
    paragraph = only("see [the **docs**](https://example.com/a?b=1) and <https://x.org>\n",
                     Paragraph)
    linked = [(s.text, s.link, s.bold) for s in paragraph.spans if s.link]
    assert linked == [("the ", "https://example.com/a?b=1", False),
                      ("docs", "https://example.com/a?b=1", True),
                      ("https://x.org", "https://x.org", False)]


# --- lists, quotes, code, rules, tables --------------------------------------------------


def test_bullet_list_items() -> None:
    block = only("- alpha\n- beta\n- gamma\n", ListBlock)
    assert not block.ordered
    assert [plain_text(item.blocks[0].spans) for item in block.items] == [
        "alpha", "beta", "gamma"]
    assert [item.line for item in block.items] == [1, 2, 3]


def test_ordered_list_start_number() -> None:
    block = only("3. three\n4. four\n", ListBlock)
    assert block.ordered
    assert block.start == 3
    assert len(block.items) == 2


def test_nested_lists() -> None:
    block = only("- outer\n  - inner one\n  - inner two\n    1. deep\n- second\n", ListBlock)
    first = block.items[0]
    assert isinstance(first.blocks[0], Paragraph)
    inner = first.blocks[1]
    assert isinstance(inner, ListBlock)
    assert [plain_text(i.blocks[0].spans) for i in inner.items] == ["inner one", "inner two"]
    deep = inner.items[1].blocks[1]
    assert isinstance(deep, ListBlock) and deep.ordered
    assert plain_text(deep.items[0].blocks[0].spans) == "deep"
    assert plain_text(block.items[1].blocks[0].spans) == "second"


def test_blockquote_holds_its_paragraphs() -> None:
    quote = only("> 🤔 first line  \n> second line\n>\n> other paragraph\n", Quote)
    texts = [plain_text(b.spans) for b in quote.blocks if isinstance(b, Paragraph)]
    assert texts == ["🤔 first line\nsecond line", "other paragraph"]
    assert quote.line == 1


def test_fenced_code_block() -> None:
    code = only("text\n\n```python\ndef f():\n    return `x` *y*\n```\n", Code)
    assert code.language == "python"
    assert code.text == "def f():\n    return `x` *y*"
    assert code.line == 3


def test_thematic_break() -> None:
    document, _ = parse("one\n\n---\n\ntwo\n\n***\n")
    breaks = [b for b in document.blocks if isinstance(b, ThematicBreak)]
    assert [b.line for b in breaks] == [3, 7]


def test_table_header_rows_and_alignments() -> None:
    table = only("| Name | Kind | Count |\n|:-----|:----:|------:|\n"
                 "| **pod** | `core` | 3 |\n| svc | net | 10 |\n", Table)
    assert [plain_text(cell) for cell in table.header] == ["Name", "Kind", "Count"]
    assert [[plain_text(cell) for cell in row] for row in table.rows] == [
        ["pod", "core", "3"], ["svc", "net", "10"]]
    assert table.aligns == ("left", "center", "right")
    assert table.rows[0][0] == (Span("pod", bold=True),)
    assert table.rows[0][1] == (Span("core", code=True),)
    assert table.line == 1


def test_table_without_alignment_markers() -> None:
    table = only("| a | b |\n|---|---|\n| 1 | 2 |\n", Table)
    assert table.aligns == ("", "")


# --- comments and speaker notes ------------------------------------------------------------


def test_html_comments_are_dropped_silently() -> None:
    document, diagnostics = parse("<!-- a TODO for me -->\n\ntext <!-- inline --> more\n")
    assert [type(b) for b in document.blocks] == [Paragraph]
    assert "TODO" not in plain_text(document.blocks[0].spans)
    assert "inline" not in plain_text(document.blocks[0].spans)
    assert diagnostics.items == []


def test_notes_comment_becomes_notes_block() -> None:
    document, diagnostics = parse("visible\n\n<!-- notes: say **this** aloud -->\n")
    notes = [b for b in document.blocks if isinstance(b, NotesBlock)]
    assert len(notes) == 1
    assert notes[0].line == 3
    paragraph = notes[0].blocks[0]
    assert isinstance(paragraph, Paragraph)
    assert plain_text(paragraph.spans) == "say this aloud"
    assert Span("this", bold=True) in paragraph.spans
    assert diagnostics.items == []


def test_multiline_notes_comment_keeps_lists() -> None:
    document, _ = parse("<!--\nnotes:\nfirst thought\n\n- point a\n- point b\n-->\n")
    (notes,) = [b for b in document.blocks if isinstance(b, NotesBlock)]
    kinds = [type(b) for b in notes.blocks]
    assert kinds == [Paragraph, ListBlock]
    assert len(notes.blocks[1].items) == 2


def test_warning_inside_notes_comment_names_the_file_line() -> None:
    """Diagnostics from a notes comment point at the comment's line in the file."""
    _, diagnostics = parse("# T\n\ntext\n\n\n\n<!-- notes: <details>x</details> -->\n")
    (warning,) = warnings_of(diagnostics)
    assert "details" in warning.message
    assert warning.file == SOURCE
    assert warning.line == 7


def test_notes_container_block() -> None:
    document, _ = parse("shown\n\n::: notes\nsecret *detail*\n\n- a list\n:::\n\nafter\n")
    notes = [b for b in document.blocks if isinstance(b, NotesBlock)]
    assert len(notes) == 1
    assert notes[0].line == 3
    assert plain_text(notes[0].blocks[0].spans) == "secret detail"
    assert isinstance(notes[0].blocks[1], ListBlock)
    visible = [plain_text(b.spans) for b in document.blocks if isinstance(b, Paragraph)]
    assert visible == ["shown", "after"]


def test_reveal_note_paragraph_takes_the_rest_of_the_section() -> None:
    document, _ = parse("shown\n\nNote: first *note*\n\nsecond note\n\n- item\n\n"
                        "# Next\n\nvisible\n")
    kinds = [type(b) for b in document.blocks]
    assert kinds == [Paragraph, NotesBlock, Heading, Paragraph]
    notes = document.blocks[1]
    assert notes.line == 3
    assert plain_text(notes.blocks[0].spans) == "first note"
    assert plain_text(notes.blocks[1].spans) == "second note"
    assert isinstance(notes.blocks[2], ListBlock)


def test_reveal_note_stops_at_a_rule() -> None:
    document, _ = parse("Notes: hidden\n\n---\n\nshown\n")
    assert [type(b) for b in document.blocks] == [NotesBlock, ThematicBreak, Paragraph]


def test_note_in_inline_code_is_not_a_notes_marker() -> None:
    document, _ = parse("`Note: x` is literal\n")
    assert [type(b) for b in document.blocks] == [Paragraph]


# --- images ------------------------------------------------------------------------------


def test_markdown_image_with_alt_and_title() -> None:
    image = only('![가상화 그림](img/a.png "그림 제목")\n', Image)
    assert image == Image(src="img/a.png", alt="가상화 그림", line=1, title="그림 제목")


def test_markdown_image_inside_text_is_taken_out_of_the_paragraph() -> None:
    document, _ = parse("before\nsee ![pic](b.png) here\n")
    paragraph = next(b for b in document.blocks if isinstance(b, Paragraph))
    image = next(b for b in document.blocks if isinstance(b, Image))
    assert "pic" not in plain_text(paragraph.spans)
    assert image.src == "b.png"
    assert image.line == 2


def test_html_block_img_with_pixel_sizes() -> None:
    image = only('text\n\n<img src="./img/kubernetes.png" alt="추세" width="550px" '
                 'height="350px">\n', Image)
    assert image.src == "./img/kubernetes.png"
    assert image.alt == "추세"
    assert image.width_px == 550.0
    assert image.height_px == 350.0
    assert image.line == 3


def test_html_block_img_plain_number_and_missing_height() -> None:
    image = only('<img src="a.png" width="400">\n', Image)
    assert image.width_px == 400.0
    assert image.height_px is None


def test_html_inline_img_in_a_paragraph() -> None:
    document, diagnostics = parse('first line\ntext <img src="c.png" width="100px" '
                                  'height="50"> after\n')
    image = next(b for b in document.blocks if isinstance(b, Image))
    assert (image.src, image.width_px, image.height_px, image.line) == ("c.png", 100.0, 50.0, 2)
    paragraph = next(b for b in document.blocks if isinstance(b, Paragraph))
    assert "img" not in plain_text(paragraph.spans)
    assert diagnostics.items == []


def test_img_size_that_is_not_pixels_is_ignored_with_a_warning() -> None:
    document, diagnostics = parse('<img src="a.png" width="50%">\n')
    image = next(b for b in document.blocks if isinstance(b, Image))
    assert image.width_px is None
    (warning,) = warnings_of(diagnostics)
    assert "50%" in warning.message
    assert warning.line == 1


def test_img_without_src_is_dropped_with_one_warning() -> None:
    """The warning says the <img> is dropped: then no Image block may remain (else the
    build shows a placeholder and warns a second time)."""
    document, diagnostics = parse('text\n\n<img alt="no source">\n')
    assert [b for b in document.blocks if isinstance(b, Image)] == []
    assert len(warnings_of(diagnostics)) == 1


# --- unknown raw HTML ------------------------------------------------------------------------


def test_details_block_dropped_with_a_warning_naming_file_and_line() -> None:
    document, diagnostics = parse("para\n\n<details>\n<summary>more</summary>\nhidden\n"
                                  "</details>\n\nafter\n")
    assert [plain_text(b.spans) for b in document.blocks if isinstance(b, Paragraph)] == [
        "para", "after"]
    (warning,) = warnings_of(diagnostics)
    assert warning.file == SOURCE
    assert warning.line == 3
    assert "<details>" in warning.message
    assert str(warning).startswith("notes.md:3: warning:")


def test_video_dropped_with_a_warning_naming_file_and_line() -> None:
    document, diagnostics = parse("one\n\ntwo\n\n<video src=\"demo.mp4\" controls>\n")
    assert not any(isinstance(b, Image) for b in document.blocks)
    warnings = warnings_of(diagnostics)
    assert warnings
    assert all(w.file == SOURCE and w.line == 5 for w in warnings)
    assert any("<video>" in w.message for w in warnings)


def test_inline_unknown_html_warns_with_its_line() -> None:
    document, diagnostics = parse("a\nb <video src=\"x.mp4\"> c\n")
    assert plain_text(document.blocks[0].spans).split() == ["a", "b", "c"]
    warnings = warnings_of(diagnostics)
    assert warnings and all(w.line == 2 and w.file == SOURCE for w in warnings)


@pytest.mark.parametrize("html", ["<div>\n<![--\n</div>\n", "<div>\n<![CDATA[x\n</div>\n"])
def test_html_python_cannot_read_is_dropped_with_a_warning(html: str) -> None:
    # Python's HTML parser asserts on a marked section it does not know ("<![--").
    document, diagnostics = parse(f"para\n\n{html}\nafter\n")
    assert [plain_text(block.spans) for block in document.blocks] == ["para", "after"]
    (warning,) = warnings_of(diagnostics)
    assert warning.line == 3 and "dropped" in warning.message


def test_warning_line_counts_front_matter_lines() -> None:
    _, diagnostics = parse("---\ntitle: x\n---\n\n# T\n\n<details>\nhi\n</details>\n")
    (warning,) = warnings_of(diagnostics)
    assert warning.line == 7


def test_inline_format_tags_apply() -> None:
    paragraph = only("plain <b>bold</b> <code>x</code>\n", Paragraph)
    assert Span("bold", bold=True) in paragraph.spans
    assert Span("x", code=True) in paragraph.spans


# --- front matter ------------------------------------------------------------------------------


def test_front_matter_is_read_and_not_a_block() -> None:
    document, _ = parse('---\ntitle: "쿠버네티스 입문"\nauthor: 스터디\ntags: [k8s, docker]\n'
                        "---\n\n# Heading\n")
    assert document.front_matter == {"title": "쿠버네티스 입문", "author": "스터디",
                                     "tags": ["k8s", "docker"]}
    assert [type(b) for b in document.blocks] == [Heading]
    assert document.blocks[0].line == 7


def test_empty_front_matter() -> None:
    document, _ = parse("---\n---\n\ntext\n")
    assert document.front_matter == {}


def test_front_matter_yaml_error_names_the_line() -> None:
    with pytest.raises(DeckgenError) as raised:
        parse("---\ntitle: a\n  author: b\n---\n\n# T\n")
    error = raised.value
    assert error.file == SOURCE
    assert error.line == 3
    assert "YAML" in error.message
    assert str(error).startswith("notes.md:3:")


def test_front_matter_that_is_not_a_mapping() -> None:
    with pytest.raises(DeckgenError) as raised:
        parse("---\n- just\n- a list\n---\n\n# T\n")
    assert raised.value.line == 1


# --- read_source ---------------------------------------------------------------------------


def test_read_source_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.md"
    with pytest.raises(DeckgenError) as raised:
        read_source(path)
    assert raised.value.file == path
    assert "no such file" in str(raised.value)


def test_read_source_directory(tmp_path: Path) -> None:
    with pytest.raises(DeckgenError) as raised:
        read_source(tmp_path)
    assert "directory" in str(raised.value)


def test_read_source_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.md"
    path.write_bytes("# 제목\n\n둘째 줄\n".encode() + b"caf\xe9 latin-1\n")
    with pytest.raises(DeckgenError) as raised:
        read_source(path)
    assert raised.value.line == 4
    assert "UTF-8" in str(raised.value)
    assert f"{path}:4" in str(raised.value)


@pytest.mark.parametrize("data", [
    "# hi\n".encode("utf-16"),                       # BOM + little endian
    b"\xfe\xff" + "# hi\n".encode("utf-16-be"),
], ids=["utf-16-le", "utf-16-be"])
def test_read_source_utf16_is_refused(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "wide.md"
    path.write_bytes(data)
    with pytest.raises(DeckgenError) as raised:
        read_source(path)
    assert "UTF-16" in str(raised.value)


def test_read_source_nul_byte(tmp_path: Path) -> None:
    path = tmp_path / "binary.md"
    path.write_bytes(b"# a\n\nb\x00c\n")
    with pytest.raises(DeckgenError) as raised:
        read_source(path)
    assert raised.value.line == 3
    assert "NUL" in str(raised.value)


def test_read_source_accepts_utf8_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "windows.md"
    path.write_bytes(b"\xef\xbb\xbf# \xec\xa0\x9c\xeb\xaa\xa9\r\n\r\nline one\r\nline two\r\n")
    text = read_source(path)
    assert text == "# 제목\n\nline one\nline two\n"
    document, _ = parse(text)
    assert isinstance(document.blocks[0], Heading)
    assert document.blocks[0].text == "제목"
    assert plain_text(document.blocks[1].spans) == "line one line two"


def test_an_unknown_inline_tag_pair_warns_once(tmp_path: Path) -> None:
    diagnostics = Diagnostics()
    parse_document(tmp_path / "n.md", "Text with <marquee>moving</marquee> words.\n",
                   diagnostics)
    assert [d.message for d in diagnostics.items] == [
        "unsupported HTML <marquee> dropped; write it as Markdown"]


# --- parsing in sections, as a watch does ----------------------------------------------------


@pytest.fixture
def kept_sections() -> Iterator[None]:
    """Sections kept between parses, as while `build --watch` runs."""
    parse_module.keep_between_builds()
    try:
        yield
    finally:
        parse_module.keep_between_builds(False)


def parsed_twice(text: str) -> tuple[tuple[Document | str, list], tuple[Document | str, list]]:
    """The note parsed in one piece and, sections kept, in sections: with their
    diagnostics, or the error each raises."""
    diagnostics = Diagnostics()
    try:
        in_sections: Document | str = parse_document(SOURCE, text, diagnostics)
    except DeckgenError as error:
        in_sections = str(error)
    whole_diagnostics = Diagnostics()
    parse_module.keep_between_builds(False)
    try:
        whole: Document | str = parse_document(SOURCE, text, whole_diagnostics)
    except DeckgenError as error:
        whole = str(error)
    finally:
        parse_module.keep_between_builds()
    return (whole, whole_diagnostics.items), (in_sections, diagnostics.items)


#: Notes whose sections depend on each other: a heading line that is not one (inside a fence,
#: a notes container, an HTML block, the front matter), definitions that apply to the whole
#: note, nesting so deep that markdown-it drops the rest of the note.
ENTANGLED_NOTES = {
    "fence across a heading": "## A\n\n```\n## not a heading\n```\n\n## B\n\ntext\n",
    "fence left open": "## A\n\n```\ncode\n## B\n\n## C\n",
    "fence closed just before a heading": "## A\n\n~~~\ncode\n~~~\n## B\n",
    "notes container across a heading": "## A\n\n::: notes\n## said\n:::\n\n## B\n",
    "notes container left open": "## A\n\n::: notes\nsaid\n\n## B\n\ntext\n",
    "HTML comment across a heading": "## A\n\n<!--\n## hidden\n-->\n\n## B\n",
    "notes comment across a heading": "## A\n\n<!-- notes:\n## said\n-->\n## B\n",
    "HTML block up to a heading": "## A\n\n<div>\n## in the block\n</div>\n\n## B\n",
    "front matter with a comment line": "---\ntitle: T\n## a YAML comment\n---\n\n## A\n",
    "front matter left open": "---\ntitle: T\n\n## A\n\ntext\n",
    "front matter that is not YAML": "---\ntitle: [\n## A\n---\n\n## B\n",
    "a list's first line taken for front matter": "- ]--\n## X\n-]\n",
    "link definition in a later section": "## A\n\nSee [the docs][d].\n\n## B\n\n"
                                          "[d]: https://example.com\n",
    "nesting too deep": "## A\n\n" + "- " * 30 + "deep\n\n## B\n\nafter\n",
    "control characters": "## A\n\nbell \x07 here\n\n## B\n\n\x1b[31mred\n",
    "Note: paragraphs": "## A\n\nNote: said\n\nmore\n\n## B\n\ntext\n",
    "setext title, no final newline": "Title\n=====\n\n## A\n# B\ntext",
    "headings only": "# A\n## B\n### C\n#### D\n##\n#nohash\n",
}


@pytest.mark.parametrize("text", ENTANGLED_NOTES.values(), ids=ENTANGLED_NOTES.keys())
def test_sections_parse_to_the_blocks_of_the_whole_note(kept_sections: None,
                                                        text: str) -> None:
    whole, in_sections = parsed_twice(text)
    assert in_sections == whole


PIECES = (
    "## H\n", "# T\n", "#### h\n", "##\n", "  ## indented\n", "\t## tab\n", "text *em* `c`\n",
    "\n", "\n", "```\n", "~~~\n", "````\n", "    code\n", "::: notes\n", ":::\n", "::::\n",
    "<!--\n", "-->\n", "<!-- notes:\n", "<div>\n", "</div>\n", "<pre>\n", "</pre>\n",
    "- item\n", "  - nested\n", "1. one\n", "> quote\n", "| a | b |\n", "|---|---|\n",
    "---\n", "===\n", "Note: said\n", "![p](p.png)\n", "[r]: http://x.y\n", "see [r]\n",
    "- ]--\n", "title: x\n", "...\n", "- " * 30 + "deep\n", "bell \x07\n",
)


@settings(max_examples=300, derandomize=True, deadline=None, database=None)
@given(st.lists(st.sampled_from(PIECES), max_size=40), st.booleans())
def test_any_note_parses_the_same_in_sections(pieces: list[str], final_newline: bool) -> None:
    text = "".join(pieces)
    text = text if final_newline else text.rstrip("\n")
    parse_module.keep_between_builds()
    try:
        whole, in_sections = parsed_twice(text)
    finally:
        parse_module.keep_between_builds(False)
    assert in_sections == whole


def sections_note(count: int) -> str:
    """A note of front matter and `count` sections, each a heading, a sentence, a list."""
    return "---\ntitle: T\n---\n\n" + "".join(
        f"## Section {number}\n\nText of {number}.\n\n- item {number}\n\n"
        for number in range(1, count + 1))


def test_only_the_sections_that_changed_are_parsed_again(kept_sections: None) -> None:
    first, _ = parse(sections_note(6))
    second, _ = parse(sections_note(6).replace("Text of 3.", "Text of three."))
    assert second == parsed_twice(sections_note(6).replace("Text of 3.", "Text of three."))[0][0]
    reparsed = [block for before, block in zip(first.blocks, second.blocks, strict=True)
                if block is not before]
    assert [type(block) for block in reparsed] == [Heading, Paragraph, ListBlock]
    assert reparsed[0].text == "Section 3"


def test_a_line_inserted_moves_the_lines_of_what_follows(kept_sections: None) -> None:
    parse(sections_note(4))
    document, _ = parse(sections_note(4).replace("Text of 2.", "Text of 2.\n\nNew line."))
    whole, _ = parsed_twice(sections_note(4).replace("Text of 2.", "Text of 2.\n\nNew line."))[0]
    assert document == whole
    headings = [block for block in document.blocks if isinstance(block, Heading)]
    assert [heading.line for heading in headings] == [5, 11, 19, 25]


def test_sections_moved_by_a_line_are_moved_not_parsed_again(
        kept_sections: None, monkeypatch: pytest.MonkeyPatch) -> None:
    note = sections_note(4) + "## Last\n\n> <marquee>x</marquee>\n> - ![p](p.png)\n"
    parse(note)
    parsed: list[int] = []
    parse_section = parse_module._parse_section

    def counted(path: Path, text: str, first_line: int,
                may_end_open: bool) -> parse_module.ParsedSection | None:
        parsed.append(first_line)
        return parse_section(path, text, first_line, may_end_open)

    monkeypatch.setattr(parse_module, "_parse_section", counted)
    edited = note.replace("Text of 2.", "Text of 2.\n\nA new line.")
    document, diagnostics = parse(edited)
    assert parsed == [10]  # the section of "## Section 2" only
    assert (document, diagnostics.items) == parsed_twice(edited)[0]
    assert [d.line for d in warnings_of(diagnostics)] == [33]  # moved down with its section


def test_a_section_reparsed_reports_its_warnings_again(kept_sections: None) -> None:
    text = "## A\n\n<marquee>x</marquee>\n\n## B\n\n<blink>y</blink>\n"
    parse(text)
    _, diagnostics = parse(text.replace("## A", "## A2"))
    assert [(d.line, d.message) for d in warnings_of(diagnostics)] == [
        (3, "unsupported HTML <marquee> dropped; write it as Markdown"),
        (7, "unsupported HTML <blink> dropped; write it as Markdown")]
    _, diagnostics = parse(text.replace("## A", "## A2\n"))  # B's warning moves down
    assert [d.line for d in warnings_of(diagnostics)] == [4, 8]


def test_only_the_last_notes_sections_are_kept(kept_sections: None) -> None:
    parse(sections_note(5))
    parse("## Other\n\ntext\n")
    assert parse_module._kept_sections is not None
    assert [key[1] for key in parse_module._kept_sections] == ["## Other\n\ntext\n"]


def test_without_keeping_nothing_is_reused() -> None:
    first, _ = parse(sections_note(3))
    second, _ = parse(sections_note(3))
    assert first == second
    assert not any(before is after for before, after in zip(first.blocks, second.blocks,
                                                            strict=True))
    assert parse_module._kept_sections is None
