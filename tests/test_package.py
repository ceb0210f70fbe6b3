"""The written package is well formed: schema order, resolved relationships, content types;
written again with what the last deck kept, it is byte for byte the package written afresh."""

from __future__ import annotations

import io
import posixpath
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import run_main
from lxml import etree
from PIL import Image as PILImage
from test_deckaudit import spoil

from deckgen import render
from deckgen.archive import Archive, PackedEntries
from deckgen.build import BuildOptions, Plan, build_timestamp, core_properties, plan_build
from deckgen.errors import Diagnostics
from deckgen.images import PreparedImage
from deckgen.layout import Box, PictureShape, PlacedSlide
from deckgen.model import Image, Notes, SlideKind
from deckgen.theme import Theme

A = "http://schemas.openxmlformats.org/drawingml/2006/main"
P = "http://schemas.openxmlformats.org/presentationml/2006/main"
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
CONTENT_TYPES = "http://schemas.openxmlformats.org/package/2006/content-types"

#: Child order of the elements deckgen writes, from the DrawingML schema (ECMA-376 part 1).
#: PowerPoint offers to "repair" a deck whose children are out of this order.
SCHEMA_ORDER: dict[str, list[str]] = {
    f"{{{A}}}rPr": ["ln", "noFill", "solidFill", "gradFill", "blipFill", "pattFill", "grpFill",
                    "effectLst", "effectDag", "highlight", "uLnTx", "uLn", "uFillTx", "uFill",
                    "latin", "ea", "cs", "sym", "hlinkClick", "hlinkMouseOver", "rtl",
                    "extLst"],
    f"{{{A}}}endParaRPr": ["ln", "noFill", "solidFill", "gradFill", "blipFill", "pattFill",
                           "grpFill", "effectLst", "effectDag", "highlight", "uLnTx", "uLn",
                           "uFillTx", "uFill", "latin", "ea", "cs", "sym", "hlinkClick",
                           "hlinkMouseOver", "rtl", "extLst"],
    f"{{{A}}}pPr": ["lnSpc", "spcBef", "spcAft", "buClrTx", "buClr", "buSzTx", "buSzPct",
                    "buSzPts", "buFontTx", "buFont", "buNone", "buAutoNum", "buChar", "buBlip",
                    "tabLst", "defRPr", "extLst"],
    f"{{{A}}}bodyPr": ["prstTxWarp", "noAutofit", "normAutofit", "spAutoFit", "scene3d",
                       "sp3d", "flatTx", "extLst"],
    f"{{{P}}}spPr": ["xfrm", "custGeom", "prstGeom", "noFill", "solidFill", "gradFill",
                     "blipFill", "pattFill", "grpFill", "ln", "effectLst", "effectDag",
                     "scene3d", "sp3d", "extLst"],
    f"{{{A}}}ln": ["noFill", "solidFill", "gradFill", "pattFill", "prstDash", "custDash",
                   "round", "bevel", "miter", "headEnd", "tailEnd", "extLst"],
    f"{{{A}}}tcPr": ["lnL", "lnR", "lnT", "lnB", "lnTlToBr", "lnBlToTr", "cell3D", "noFill",
                     "solidFill", "gradFill", "blipFill", "pattFill", "grpFill", "headers",
                     "extLst"],
}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _order_problems(part: str, root: etree._Element) -> Iterator[str]:
    for parent_tag, order in SCHEMA_ORDER.items():
        for parent in root.iter(parent_tag):
            names = [_local(child.tag) for child in parent if isinstance(child.tag, str)]
            unknown = [name for name in names if name not in order]
            positions = [order.index(name) for name in names if name in order]
            if unknown:
                yield f"{part}: <{_local(parent_tag)}> has unexpected children {unknown}"
            if positions != sorted(positions):
                yield f"{part}: <{_local(parent_tag)}> children out of order: {names}"


def package_problems(deck: Path) -> list[str]:
    """Every schema-order, relationship and content-type problem of a .pptx."""
    problems: list[str] = []
    with zipfile.ZipFile(deck) as package:
        names = set(package.namelist())
        types = etree.fromstring(package.read("[Content_Types].xml"))
        defaults = {d.get("Extension", "").lower() for d in types
                    if _local(d.tag) == "Default"}
        overrides = {o.get("PartName", "") for o in types if _local(o.tag) == "Override"}
        for name in names:
            if name.endswith("/") or name == "[Content_Types].xml":
                continue
            if f"/{name}" not in overrides and name.rsplit(".", 1)[-1].lower() not in defaults:
                problems.append(f"{name}: no content type")
        for name in sorted(names):
            if not name.endswith(".rels"):
                continue
            source_dir = posixpath.dirname(posixpath.dirname(name))
            source = posixpath.join(source_dir, posixpath.basename(name)[: -len(".rels")])
            rels = etree.fromstring(package.read(name))
            ids = set()
            for rel in rels:
                ids.add(rel.get("Id"))
                if rel.get("TargetMode") == "External":
                    continue
                target = posixpath.normpath(posixpath.join(source_dir, rel.get("Target", "")))
                target = target.lstrip("/")
                if target not in names:
                    problems.append(f"{name}: {rel.get('Id')} points at missing {target}")
            if source in names and source.endswith(".xml"):
                root = etree.fromstring(package.read(source))
                used = {value for element in root.iter() for key, value in element.attrib.items()
                        if key.startswith(f"{{{R}}}")}
                for missing in sorted(used - ids):
                    problems.append(f"{source}: r:id {missing} has no relationship")
        for name in sorted(names):
            if name.endswith(".xml") and name.startswith("ppt/"):
                problems.extend(_order_problems(name, etree.fromstring(package.read(name))))
    return problems


def test_the_sample_deck_is_a_well_formed_package(intro_deck: Path) -> None:
    assert package_problems(intro_deck) == []


@pytest.mark.parametrize("theme", ["default", "dark", "seminar", "minimal"])
def test_every_theme_writes_a_well_formed_package(tmp_path: Path, repo_root: Path,
                                                  theme: str) -> None:
    note = tmp_path / "notes.md"
    note.write_text("# Deck\n\n## 2010년 7월 경\n\n- **굵게** and *italic* and ~~gone~~ with "
                    "`code` and [a link](https://example.com).\n  1. nested\n\n"
                    "> 🤔 a quote\n\n| a | b |\n|---|--:|\n| 1 | 2 |\n\n```\ncode\n```\n\n"
                    "## 2014년 6월 경\n\nText.\n", encoding="utf-8")
    deck = tmp_path / "notes.pptx"
    result = run_main("build", note, "-o", deck, "--theme", theme, "--resource-path", repo_root)
    assert result.code == 0, result.stderr
    assert package_problems(deck) == []


@pytest.mark.invalid_deck("broken.pptx")
def test_the_check_finds_an_out_of_order_run(tmp_path: Path, intro_deck: Path) -> None:
    """The check itself can fail: swap a run's typefaces and it reports the order."""
    broken = tmp_path / "broken.pptx"
    spoil(intro_deck, broken)
    assert any("out of order" in problem for problem in package_problems(broken))


# --- a deck written again, reusing what did not change (build --watch) ------------------------

WHEN = datetime(2024, 5, 1, tzinfo=UTC)


@pytest.fixture
def kept_slides() -> Iterator[None]:
    """Slides as written kept between renders, as while a watch runs."""
    render.keep_between_builds()
    try:
        yield
    finally:
        render.keep_between_builds(False)


def rendered(plan: Plan, slides: list[PlacedSlide] | None = None,
             theme: Theme | None = None) -> bytes:
    """The deck of a plan (or of other slides, or in another theme, with its metadata)."""
    return render.render_deck(plan.slides if slides is None else slides, theme or plan.theme,
                              core_properties(plan.deck.meta), build_timestamp(plan.deck))


def rendered_afresh(plan: Plan, slides: list[PlacedSlide] | None = None,
                    theme: Theme | None = None) -> bytes:
    """The deck as a render with nothing kept writes it."""
    kept = render._kept
    render._kept = None
    try:
        return rendered(plan, slides, theme)
    finally:
        render._kept = kept


def note_deck(folder: Path, data: bytes) -> Path:
    """A deck's bytes saved as a file, for the package checks."""
    deck = folder / "written.pptx"
    deck.write_bytes(data)
    return deck


def planned(note: Path, text: str, theme: str | None = None) -> Plan:
    """The plan of a build of this text."""
    note.write_text(text, encoding="utf-8")
    return plan_build(BuildOptions(note, note.with_suffix(".pptx"), theme=theme),
                      Diagnostics())


def picture_note(tmp_path: Path, make_image: Callable[..., Path]) -> str:
    """Six slides alike with a picture, links and notes, and a table; its pictures drawn."""
    for name, colour in (("a.png", "#2563EB"), ("b.png", "#DC2626"), ("c.png", "#16A34A")):
        make_image(name, (320, 200), colour)
    return "".join(f"## Slide {number}\n\n![p](a.png)\n\nSee [docs](https://example.com/"
                   f"{number % 2}) and [more](https://example.org).\n\n- item {number}\n\n"
                   f"::: notes\nSay [this](https://example.net/{number}).\n:::\n\n"
                   for number in range(1, 7)) + "## Table\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"


EDITED = {
    "a word": ("item 3", "item three"),
    "a picture swapped": ("## Slide 2\n\n![p](a.png)", "## Slide 2\n\n![p](b.png)"),
    "a picture added first": ("## Slide 1\n\n![p](a.png)", "## Slide 1\n\n![p](c.png)"),
    "a link changed": ("[more](https://example.org)", "[more](https://example.org/x)"),
    "a slide inserted": ("## Table", "## New\n\n![p](b.png)\n\n## Table"),
    "notes removed": ("::: notes\nSay [this](https://example.net/4).\n:::\n", ""),
    "a picture's alt text": ("## Slide 2\n\n![p](a.png)", "## Slide 2\n\n![other](a.png)"),
}


@pytest.mark.parametrize("edit", EDITED.values(), ids=EDITED.keys())
def test_a_deck_written_again_after_an_edit_is_the_deck_written_afresh(
        tmp_path: Path, make_image: Callable[..., Path], kept_slides: None,
        edit: tuple[str, str]) -> None:
    note = picture_note(tmp_path, make_image)
    rendered(planned(tmp_path / "notes.md", note))
    edited = planned(tmp_path / "notes.md", note.replace(*edit))
    again = rendered(edited)
    assert again == rendered_afresh(edited)
    assert package_problems(note_deck(tmp_path, again)) == []


def written_again(tmp_path: Path, note: str, edit: tuple[str, str]) -> tuple[list[str], int]:
    """The slides (by title) and the number of notes pages written again after an edit."""
    rendered(planned(tmp_path / "notes.md", note))
    before = render._kept
    edited = planned(tmp_path / "notes.md", note.replace(*edit))
    assert rendered(edited) == rendered_afresh(edited)
    after = render._kept
    assert before is not None and after is not None and after is not before
    assert len(after.slides) <= len(edited.slides)  # this deck's, and no more
    slides = [placed.title for placed in edited.slides
              if after.slides[render._slide_content(placed)]
              is not before.slides.get(render._slide_content(placed))]
    notes = sum(written is not before.notes.get(lines) for lines, written in after.notes.items())
    return slides, notes


def test_slides_placed_as_before_are_not_written_again(
        tmp_path: Path, make_image: Callable[..., Path], kept_slides: None) -> None:
    note = picture_note(tmp_path, make_image)
    assert written_again(tmp_path, note, ("item 3", "item three")) == (["Slide 3"], 1)
    assert written_again(tmp_path, note, ("Say [this]", "Say [that]")) == ([], 6)


def test_slides_a_line_only_moves_down_are_not_written_again(
        tmp_path: Path, make_image: Callable[..., Path], kept_slides: None) -> None:
    note = picture_note(tmp_path, make_image)
    assert written_again(tmp_path, note, ("- item 1\n", "- item 1\n- item 1b\n")) == (
        ["Slide 1"], 1)  # its notes hold the list too


def test_another_theme_writes_every_slide_afresh(
        tmp_path: Path, make_image: Callable[..., Path], kept_slides: None) -> None:
    note = picture_note(tmp_path, make_image)
    rendered(planned(tmp_path / "notes.md", note))
    dark = planned(tmp_path / "notes.md", note, theme="dark")
    assert rendered(dark) == rendered_afresh(dark)


def test_a_look_the_layout_does_not_see_writes_every_slide_afresh(
        tmp_path: Path, make_image: Callable[..., Path], kept_slides: None) -> None:
    """Slides placed alike in another theme: the language of their runs is the theme's."""
    plan = planned(tmp_path / "notes.md", picture_note(tmp_path, make_image))
    rendered(plan)
    english = replace(plan.theme, lang="en-US")
    assert english.lang != plan.theme.lang
    assert rendered(plan, theme=english) == rendered_afresh(plan, theme=english)


def placed_picture(data: bytes, title: str) -> PlacedSlide:
    """A slide that shows a picture of these bytes."""
    image = PreparedImage(ref=Image("p.png", "", 1), path=None, data=data, extension="png",
                          width_px=2, height_px=2)
    return PlacedSlide(SlideKind.CONTENT, title, 1,
                       (PictureShape("Picture", Box(0, 0, 914400, 914400), image),),
                       Notes(), "FFFFFF")


def test_a_slide_in_another_colour_is_written_again(tmp_path: Path, kept_slides: None) -> None:
    png = tmp_path / "p.png"
    PILImage.new("RGB", (2, 2), "#123456").save(png)
    plan = planned(tmp_path / "n.md", "## A\n")
    white = [placed_picture(png.read_bytes(), "A")]
    black = [replace(white[0], background="000000")]
    rendered(plan, white)
    assert rendered(plan, black) == rendered_afresh(plan, black)


def test_equal_pictures_are_one_part_however_many_objects_hold_them(tmp_path: Path) -> None:
    png = tmp_path / "p.png"
    PILImage.new("RGB", (2, 2), "#123456").save(png)
    data = png.read_bytes()
    copy = bytes(bytearray(data))
    assert copy == data and copy is not data
    plan = planned(tmp_path / "n.md", "## A\n")
    deck = render.render_deck([placed_picture(data, "A"), placed_picture(copy, "B")],
                              plan.theme, core_properties(plan.deck.meta), WHEN)
    with zipfile.ZipFile(note_deck(tmp_path, deck)) as package:
        assert [name for name in package.namelist() if name.startswith("ppt/media/")] == [
            "ppt/media/image1.png"]


# --- the archive reuses entries it packed before ---------------------------------------------


def test_an_archive_reuses_what_the_last_one_packed() -> None:
    picture = bytes(range(256)) * 40
    entries = [("ppt/slides/slide1.xml", b"<a/>" * 99), ("ppt/media/image1.png", picture),
               ("docProps/app.xml", b"<b/>" * 50)]

    def written(reuse: PackedEntries | None) -> tuple[bytes, Archive]:
        with Archive(WHEN, reuse=reuse) as archive:
            for name, data in entries:
                archive.prepare(name, data)
            for name, data in entries:
                archive.add(name, data)
            return archive.close(), archive

    first, archive = written(PackedEntries())
    entries = [(name, bytes(bytearray(data)) if name.endswith(".xml") else data)
               for name, data in entries]  # equal XML, new objects; the very same picture
    second, again = written(archive.packed)
    assert second == first == written(None)[0]
    assert all(after is before for (_, before), (_, after) in zip(archive.entries,
                                                                  again.entries, strict=True))
    entries[1] = (entries[1][0], bytes(bytearray(picture)))  # an equal picture, another object
    third, once_more = written(again.packed)
    assert third == first
    assert once_more.entries[1][1] is not again.entries[1][1]  # found by identity only


def test_an_archive_does_not_reuse_other_bytes() -> None:
    with Archive(WHEN, reuse=PackedEntries()) as archive:
        archive.add("ppt/slides/slide1.xml", b"<a/>")
        archive.close()
    with Archive(WHEN, reuse=archive.packed) as again:
        again.add("ppt/slides/slide1.xml", b"<b/>")
        data = again.close()
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        assert package.read("ppt/slides/slide1.xml") == b"<b/>"
