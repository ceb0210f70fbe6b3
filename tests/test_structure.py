"""deckgen.structure: eras, slide kinds and titles, timelines, sentence splitting, notes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from deckgen import parse, structure
from deckgen.errors import Diagnostics
from deckgen.model import (
    Callout,
    Code,
    Deck,
    Document,
    Heading,
    ListBlock,
    ListItem,
    Paragraph,
    Points,
    SlideKind,
    Span,
    ThematicBreak,
    plain_text,
)
from deckgen.parse import parse_document, read_source
from deckgen.structure import build_deck, era_of, notes_lines, split_sentences


def deck_of(text: str, name: str = "notes.md") -> Deck:
    diagnostics = Diagnostics()
    return build_deck(parse_document(Path(name), text, diagnostics), diagnostics)


def body_text(slide) -> str:
    """Everything a model slide shows in its body, one item per line."""
    lines: list[str] = []
    for block in slide.body:
        if isinstance(block, Points | Callout):
            lines.extend(plain_text(item.spans) for item in block.items)
        elif isinstance(block, Code):
            lines.append(block.text)
        else:
            lines.extend(plain_text(cell) for row in (block.header, *block.rows) for cell in row)
    return "\n".join(lines)


def notes_text(slide) -> str:
    return "\n".join(prefix + plain_text(spans)
                     for _, prefix, spans, _ in notes_lines(slide.notes.blocks))


# --- eras ----------------------------------------------------------------------------------

ERAS = [
    ("1970년대", 1970, 0),
    ("1990s", 1990, 0),
    ("1991년 경", 1991, 0),
    ("Early 2000s", 2000, 0),
    ("2010년 7월 경", 2010, 7),
    ("2014-06", 2014, 6),
    ("2014년 6월 경", 2014, 6),
    ("July 2014", 2014, 7),
]


@pytest.mark.parametrize(("label", "year", "month"), ERAS, ids=[e[0] for e in ERAS])
def test_era_of_recognises_times(label: str, year: int, month: int) -> None:
    era = era_of(label)
    assert era is not None
    assert era.label == label
    assert (era.year, era.month) == (year, month)


def test_eras_sort_chronologically() -> None:
    shuffled = ["July 2014", "1991년 경", "2014-06", "Early 2000s", "1970년대", "2010년 7월 경",
                "1990s"]
    eras = [era_of(label) for label in shuffled]
    assert all(eras)
    ordered = [era.label for era in sorted(eras, key=lambda era: era.sort_key)]
    assert ordered == ["1970년대", "1990s", "1991년 경", "Early 2000s", "2010년 7월 경",
                       "2014-06", "July 2014"]
    assert era_of("2014-06").sort_key == era_of("2014년 6월 경").sort_key
    assert era_of("2014년 6월 경").sort_key < era_of("July 2014").sort_key


@pytest.mark.parametrize("text", ["Google Trend", "99. 참고 자료", "Introduction",
                                  "가상화 도입 과정", "Top 10 tools", "Kubernetes 1.29",
                                  "HTTP/2 overview", "port 8080"])
def test_era_of_rejects_ordinary_headings(text: str) -> None:
    assert era_of(text) is None


@pytest.mark.parametrize(("earlier", "later"), [
    ("1995", "Late 1990s"),
    ("1992년", "Mid 1990s"),
    ("2005년", "2000년대 후반"),
])
def test_decade_qualifiers_sort_inside_their_decade(earlier: str, later: str) -> None:
    """"Late 1990s" is after 1995: a qualifier must move a decade later in time, not only
    after other eras of the decade's first year."""
    first, second = era_of(earlier), era_of(later)
    assert first is not None and second is not None
    assert first.sort_key < second.sort_key


# --- the intro deck ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def intro_model(intro_md: Path) -> Deck:
    diagnostics = Diagnostics()
    return build_deck(parse_document(intro_md, read_source(intro_md), diagnostics),
                      diagnostics)


def test_intro_slide_kinds_and_titles(intro_model: Deck) -> None:
    assert [(slide.kind, slide.title) for slide in intro_model.slides] == [
        (SlideKind.TITLE, "쿠버네티스 입문: 가상화 기술의 역사"),
        (SlideKind.CONTENT, "Introduction"),
        (SlideKind.CONTENT, "Google Trend"),
        (SlideKind.TIMELINE, "가상화 도입 과정"),
        (SlideKind.ERA, "1991년 경"),
        (SlideKind.ERA, "2010년 7월 경"),
        (SlideKind.ERA, "2014년 6월 경"),
        (SlideKind.REFERENCES, "99. 참고 자료"),
    ]


def test_intro_meta_from_front_matter(intro_model: Deck) -> None:
    meta = intro_model.meta
    assert meta.title == "쿠버네티스 입문: 가상화 기술의 역사"
    assert meta.subtitle == "1991 → 2010 → 2014, 왜 컨테이너 오케스트레이션인가"
    assert meta.author == "Kubernetes 스터디"
    assert meta.theme == "default"


def test_intro_timeline_entries(intro_model: Deck) -> None:
    timeline = intro_model.slides[3]
    assert [entry.era.label for entry in timeline.timeline] == [
        "1991년 경", "2010년 7월 경", "2014년 6월 경"]
    assert all(plain_text(entry.caption) for entry in timeline.timeline)
    for era_slide in intro_model.slides[4:7]:
        assert era_slide.era is not None
        assert era_slide.kicker == "가상화 도입 과정"


def test_intro_images_belong_to_their_slides(intro_model: Deck) -> None:
    counts = {slide.title: len(slide.images) for slide in intro_model.slides}
    assert counts["Google Trend"] == 1
    assert counts["1991년 경"] == 1
    assert counts["2010년 7월 경"] == 0
    assert counts["2014년 6월 경"] == 4
    assert sum(counts.values()) == 6


def test_intro_every_slide_but_the_title_has_notes(intro_model: Deck) -> None:
    for slide in intro_model.slides[1:]:
        assert slide.notes, slide.title
        assert notes_text(slide).strip(), slide.title


def test_timeline_is_chronological_when_notes_are_not() -> None:
    deck = deck_of("# Talk\n\n## History\n\n### 2014년 6월 경\n\nDocker appears.\n\n"
                   "### 1991년 경\n\nLinux appears.\n\n### July 2010\n\nOpenStack appears.\n\n"
                   "### 1970년대\n\nUnix chroot.\n")
    timeline = next(s for s in deck.slides if s.kind is SlideKind.TIMELINE)
    assert [entry.era.label for entry in timeline.timeline] == [
        "1970년대", "1991년 경", "July 2010", "2014년 6월 경"]
    assert [plain_text(entry.caption) for entry in timeline.timeline] == [
        "Unix chroot.", "Linux appears.", "OpenStack appears.", "Docker appears."]
    era_slides = [s for s in deck.slides if s.kind is SlideKind.ERA]
    assert len(era_slides) == 4
    for slide in era_slides:
        assert [e.era.label for e in slide.timeline] == [e.era.label for e in timeline.timeline]


def test_single_era_makes_no_timeline() -> None:
    deck = deck_of("# Talk\n\n## History\n\n### 1991년 경\n\nLinux.\n")
    assert SlideKind.TIMELINE not in [s.kind for s in deck.slides]


def test_rule_splits_a_section_into_two_slides() -> None:
    deck = deck_of("# Deck\n\n## Part\n\nFirst half.\n\n---\n\nSecond half.\n")
    parts = [s for s in deck.slides if s.title == "Part"]
    assert len(parts) == 2
    assert body_text(parts[0]) == "First half."
    assert body_text(parts[1]) == "Second half."
    assert "Second half." not in notes_text(parts[0])
    assert "Second half." in notes_text(parts[1])


def test_rules_at_the_edges_make_no_empty_slides() -> None:
    deck = deck_of("# Deck\n\n## Part\n\n---\n\nOnly text.\n\n---\n")
    assert len([s for s in deck.slides if s.title == "Part"]) == 1


# --- sentences -----------------------------------------------------------------------------


def texts(pieces) -> list[str]:
    return [plain_text(piece) for piece in pieces]


def test_split_sentences_at_sentence_ends() -> None:
    spans = (Span("한 문장이다. 두 번째 문장이다! 세 번째? 끝"),)
    assert texts(split_sentences(spans)) == ["한 문장이다.", "두 번째 문장이다!", "세 번째?", "끝"]


def test_split_sentences_at_hard_breaks() -> None:
    spans = (Span("first line\nsecond line. still second"),)
    assert texts(split_sentences(spans)) == ["first line", "second line.", "still second"]


def test_split_sentences_keeps_abbreviations() -> None:
    spans = (Span("Use tools, e.g. kubectl. Then stop."),)
    assert texts(split_sentences(spans)) == ["Use tools, e.g. kubectl.", "Then stop."]


@pytest.mark.parametrize("code", ["a.b. c", "x(). y()", "Done! Next? Yes.", "v1.2. 3"])
def test_split_sentences_never_inside_inline_code(code: str) -> None:
    spans = (Span("Run "), Span(code, code=True), Span(" now. Next sentence."))
    pieces = split_sentences(spans)
    assert texts(pieces) == [f"Run {code} now.", "Next sentence."]
    assert Span(code, code=True) in pieces[0]


def test_split_sentences_never_inside_links() -> None:
    spans = (Span("See "), Span("the docs. Really.", link="https://x.org"), Span(" Then go."))
    pieces = split_sentences(spans)
    assert texts(pieces) == ["See the docs. Really.", "Then go."]
    assert pieces[0][1].link == "https://x.org"


def test_split_sentences_keeps_formatting() -> None:
    spans = (Span("Bold start. ", bold=True), Span("plain end."))
    pieces = split_sentences(spans)
    assert pieces == [(Span("Bold start.", bold=True),), (Span("plain end."),)]


# --- notes ---------------------------------------------------------------------------------


def test_explicit_notes_are_never_on_the_slide() -> None:
    deck = deck_of("# Deck\n\n## S\n\nVisible text.\n\n::: notes\nHidden one.\n:::\n\n"
                   "<!-- notes: Hidden two. -->\n\nNote: Hidden three.\n\nHidden four.\n")
    slide = next(s for s in deck.slides if s.title == "S")
    shown = body_text(slide)
    assert "Visible text." in shown
    for hidden in ("Hidden one.", "Hidden two.", "Hidden three.", "Hidden four."):
        assert hidden not in shown
        assert hidden in notes_text(slide)


def test_notes_hold_the_full_prose() -> None:
    deck = deck_of("# D\n\n## S\n\nFirst sentence. Second sentence.\n\n- item a\n- item b\n\n"
                   "> quoted\n")
    slide = next(s for s in deck.slides if s.title == "S")
    notes = notes_text(slide)
    for text in ("First sentence. Second sentence.", "item a", "item b", "quoted"):
        assert text in notes


def test_title_from_first_h1_without_front_matter() -> None:
    deck = deck_of("# My Talk\n\n## First\n\ntext\n\n# Another H1\n\nmore\n")
    assert deck.meta.title == "My Talk"
    assert deck.slides[0].kind is SlideKind.TITLE
    assert deck.slides[0].title == "My Talk"
    assert [s.title for s in deck.slides].count("My Talk") == 1


def test_title_falls_back_to_the_file_name() -> None:
    deck = deck_of("## Only a section\n\ntext\n", name="study-notes.md")
    assert deck.meta.title == "study-notes"


def test_front_matter_title_wins_over_h1() -> None:
    deck = deck_of("---\ntitle: From YAML\n---\n\n# Heading One\n\ntext\n")
    assert deck.meta.title == "From YAML"
    assert [s.title for s in deck.slides] == ["From YAML", "Heading One"]


def test_heading_without_text_becomes_a_section_slide() -> None:
    deck = deck_of("# D\n\n## Part A\n\n### Topic 1\n\ntext\n\n### Topic 2\n\nmore\n")
    part = next(s for s in deck.slides if s.title == "Part A")
    assert part.kind is SlideKind.SECTION
    assert "Topic 1" in notes_text(part) and "Topic 2" in notes_text(part)


def test_references_slide_keeps_links() -> None:
    deck = deck_of("# D\n\n## 참고 자료\n\n- [Docs](https://kubernetes.io/docs/)\n"
                   "- [Blog](https://example.com/blog)\n")
    slide = deck.slides[-1]
    assert slide.kind is SlideKind.REFERENCES
    links = [span.link for block in slide.body for item in block.items for span in item.spans
             if span.link]
    assert links == ["https://kubernetes.io/docs/", "https://example.com/blog"]


# --- what a watch keeps between builds -------------------------------------------------------


@pytest.fixture
def kept() -> Iterator[None]:
    """Sections and what was made of them kept between builds, as while a watch runs."""
    parse.keep_between_builds()
    structure.keep_between_builds()
    try:
        yield
    finally:
        parse.keep_between_builds(False)
        structure.keep_between_builds(False)


def fresh_deck_of(text: str) -> Deck:
    """The deck of a note built with nothing kept from an earlier build."""
    parse.keep_between_builds(False)
    structure.keep_between_builds(False)
    try:
        return deck_of(text)
    finally:
        parse.keep_between_builds()
        structure.keep_between_builds()


ERAS_NOTE = """# 역사

## 가상화의 역사

### 1960년대

메인프레임의 시분할. 자원을 나누어 쓴다.

### 2000년대 초

하이퍼바이저가 널리 퍼진다.

---

둘째 장.

### 2013년

도커가 나온다.

## 참고 자료

- [Docs](https://kubernetes.io/docs/)
- [Blog](https://example.com/blog)

## 빈 제목

### 하위

text
"""

EDITS = {
    "a sentence": ("도커가 나온다.", "도커가 나온다. 컨테이너가 퍼진다."),
    "an era's heading": ("### 2000년대 초", "### 2000년대 말"),
    "an era added": ("### 2013년", "### 1999년\n\n웹.\n\n### 2013년"),
    "a rule removed": ("---\n\n둘째 장.", "둘째 장."),
    "a link made text": ("- [Blog](https://example.com/blog)", "- Blog"),
    "a section emptied": ("### 하위\n\ntext\n", ""),
    "the eras' parent heading": ("## 가상화의 역사", "## 가상화 이야기"),
    "the title": ("# 역사", "# History"),
}


@pytest.mark.parametrize("edit", EDITS.values(), ids=EDITS.keys())
def test_a_rebuild_after_an_edit_makes_the_slides_a_fresh_build_makes(
        kept: None, edit: tuple[str, str]) -> None:
    deck_of(ERAS_NOTE)
    edited = ERAS_NOTE.replace(*edit)
    assert edited != ERAS_NOTE
    assert deck_of(edited) == fresh_deck_of(edited)


def test_slides_of_unchanged_sections_are_not_made_again(kept: None) -> None:
    note = "".join(f"## Section {number}\n\nFirst. Second.\n\n- item\n\n"
                   for number in range(1, 6))
    first = deck_of(note)
    second = deck_of(note.replace("## Section 4\n\nFirst.", "## Section 4\n\nChanged."))
    made_again = [slide.title for before, slide in zip(first.slides[1:], second.slides[1:],
                                                       strict=True) if slide is not before]
    assert made_again == ["Section 4"]  # after the title slide, made every time


def test_only_the_last_builds_results_are_kept(kept: None) -> None:
    deck_of(ERAS_NOTE)
    deck_of("## One\n\ntext\n")
    assert structure._kept is not None
    assert len(structure._kept) == 2  # the slide of "One", and its references check


def test_kept_results_are_found_by_what_else_made_them_too(kept: None) -> None:
    """The same block objects under another heading: another title (and line), and a list
    of links with words beside them is a references slide only under a references title."""
    links = ListBlock((ListItem((Paragraph((Span("Docs", link="https://example.com"),
                                            Span(" to read")), 4),), 4),), False, 1, 4)
    text, rule, more = Paragraph((Span("Text."),), 8), ThematicBreak(9), Paragraph(
        (Span("More."),), 10)

    def document(first: str, second: str, second_line: int) -> Document:
        return Document(Path("notes.md"), {}, (
            Heading(2, (Span(first),), 2), links,
            Heading(2, (Span(second),), second_line), text, rule, more))

    deck_of_document = lambda doc: build_deck(doc, Diagnostics())  # noqa: E731
    before = deck_of_document(document("참고 자료", "One", 6))
    after = deck_of_document(document("Reading", "One", 7))
    assert [(slide.kind, slide.title) for slide in before.slides[1:]] == [
        (SlideKind.REFERENCES, "참고 자료"), (SlideKind.CONTENT, "One"), (SlideKind.CONTENT, "One")]
    assert [(slide.kind, slide.title, slide.line) for slide in after.slides[1:]] == [
        (SlideKind.CONTENT, "Reading", 4), (SlideKind.CONTENT, "One", 8),
        (SlideKind.CONTENT, "One", 7)]  # a slide after a rule: the heading's line
    structure.keep_between_builds(False)
    assert after == deck_of_document(document("Reading", "One", 7))
