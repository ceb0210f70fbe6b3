"""The fast paths of a build, checked for what they write: direct slide XML, the package
written in one pass, pictures decoded at reduced scale, caches kept between watch builds."""

from __future__ import annotations

import gc
import io
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import CliResult, notes_text, run_main, slide_title
from lxml import etree
from PIL import Image
from pptx import Presentation

from deckgen import build, cache, images
from deckgen.archive import Archive
from deckgen.build import BuildOptions, plan_build, write_deck
from deckgen.errors import Diagnostics
from deckgen.images import (
    DRAFT_SHORTFALL,
    EncodeJob,
    PreparedImage,
    draft_request,
    encode_job,
    inspect_file,
)
from deckgen.layout import Box, PictureShape, PlacedParagraph, PlacedSlide, TextShape
from deckgen.model import DeckMeta, Notes, Paragraph, SlideKind, Span
from deckgen.model import Image as ImageRef
from deckgen.render import render_deck
from deckgen.theme import load_theme

P = "http://schemas.openxmlformats.org/presentationml/2006/main"
A = "http://schemas.openxmlformats.org/drawingml/2006/main"
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
TYPES = "http://schemas.openxmlformats.org/package/2006/content-types"


def many_slides(count: int) -> str:
    """A note of `count` content slides, each with prose, a list, a link and notes."""
    sections = [f"## 슬라이드 {number}\n\nKubernetes `Pod` 설명 {number}. Second sentence "
                f"with **bold** and [a link](https://example.com/{number % 7}).\n\n"
                f"- item {number}\n- 항목 {number}\n\n::: notes\nSay {number}.\n:::\n"
                for number in range(1, count + 1)]
    return "---\ntitle: Many slides\ndate: 2024-05-01\n---\n\n" + "\n".join(sections)


@pytest.fixture
def big_deck(tmp_path: Path) -> tuple[Path, Path]:
    """A 150-slide note and its deck."""
    note = tmp_path / "many.md"
    note.write_text(many_slides(150), encoding="utf-8")
    deck = tmp_path / "many.pptx"
    result = run_main("build", note, "-o", deck, "-q")
    assert result.code == 0, result.stderr
    return note, deck


def parts(deck: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(deck) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_big_deck_reads_back_slide_by_slide(big_deck: tuple[Path, Path]) -> None:
    _, deck = big_deck
    prs = Presentation(str(deck))
    slides = list(prs.slides)
    assert len(slides) == 151
    assert slide_title(slides[0]) == "Many slides"
    for number, slide in enumerate(slides[1:], start=1):
        assert slide_title(slide) == f"슬라이드 {number}"
        assert notes_text(slide).startswith(f"Say {number}.")
        ids = [shape.shape_id for shape in slide.shapes]
        assert len(ids) == len(set(ids)) and min(ids) >= 2


def test_big_deck_package_is_complete_and_ordered(big_deck: tuple[Path, Path]) -> None:
    """Content types name every part, every relationship points at a part that exists,
    slides and notes pages are numbered in order, the slide list is in order."""
    _, deck = big_deck
    with zipfile.ZipFile(deck) as archive:
        names = archive.namelist()
        infos = archive.infolist()
    assert names[:2] == ["[Content_Types].xml", "_rels/.rels"]
    assert len(names) == len(set(names))
    assert {info.date_time for info in infos} == {(2024, 5, 1, 0, 0, 0)}
    content = parts(deck)
    types = etree.fromstring(content["[Content_Types].xml"])
    overrides = {item.get("PartName") for item in types.iter(f"{{{TYPES}}}Override")}
    defaults = {item.get("Extension") for item in types.iter(f"{{{TYPES}}}Default")}
    for name in names:
        if not name.endswith(".rels") and name != "[Content_Types].xml":
            assert f"/{name}" in overrides or name.rsplit(".", 1)[1] in defaults, name
    for name in names:
        if not name.endswith(".rels"):
            continue
        folder = name.rsplit("/_rels/", 1)[0] if "/_rels/" in name else ""
        for rel in etree.fromstring(content[name]).iter(f"{{{RELS}}}Relationship"):
            if rel.get("TargetMode") == "External":
                continue
            target = Path("/", folder, rel.get("Target")).resolve().as_posix().lstrip("/")
            assert target in content, (name, rel.get("Target"))
    assert [f"ppt/slides/slide{number}.xml" for number in range(1, 152)] == \
        [name for name in names if name.startswith("ppt/slides/slide")]
    presentation = etree.fromstring(content["ppt/presentation.xml"])
    slide_ids = [int(item.get("id")) for item in presentation.iter(f"{{{P}}}sldId")]
    assert slide_ids == list(range(256, 256 + 151))


def test_big_deck_rebuild_is_byte_identical(big_deck: tuple[Path, Path],
                                            tmp_path: Path) -> None:
    note, deck = big_deck
    again = tmp_path / "again.pptx"
    assert run_main("build", note, "-o", again, "-q").code == 0
    assert again.read_bytes() == deck.read_bytes()


def test_links_on_a_slide_share_one_relationship_each(big_deck: tuple[Path, Path]) -> None:
    _, deck = big_deck
    prs = Presentation(str(deck))
    slide = prs.slides[8]
    addresses = [run.hyperlink.address for shape in slide.shapes if shape.has_text_frame
                 for paragraph in shape.text_frame.paragraphs for run in paragraph.runs
                 if run.hyperlink.address]
    assert addresses == ["https://example.com/1"]
    links = [rel for rel in slide.part.rels.values() if rel.is_external]
    assert [rel.target_ref for rel in links] == ["https://example.com/1"]


def test_xml_specials_are_written_as_text(write_md: Callable[..., Path],
                                          tmp_path: Path) -> None:
    note = write_md('# A & B &lt;c&gt; "d"\n\nText &amp; &lt;tags&gt; \'quoted\'.\n\n'
                    '![alt "quoted" & <b>](missing.png)\n\n'
                    "[link](https://example.com/?a=1&b=2)\n")
    deck = tmp_path / "notes.pptx"
    result = run_main("build", note, "-o", deck)
    assert result.code == 0, result.stderr
    prs = Presentation(str(deck))
    text = "\n".join(shape.text_frame.text for slide in prs.slides for shape in slide.shapes
                     if shape.has_text_frame)
    assert 'A & B <c> "d"' in text and "Text & <tags> 'quoted'." in text
    for name, data in parts(deck).items():
        if name.endswith((".xml", ".rels")):
            etree.fromstring(data)  # well-formed
    hrefs = [rel.target_ref for slide in prs.slides for rel in slide.part.rels.values()
             if rel.is_external]
    assert "https://example.com/?a=1&b=2" in hrefs


def test_control_characters_are_escaped_as_python_pptx_does(tmp_path: Path) -> None:
    """A control character in a run is written as python-pptx writes it (BEL as
    "_x0007_"), in an attribute (alt text) it is dropped: the deck stays well-formed."""
    png = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(png, "PNG")
    picture = PreparedImage(ImageRef("p.png", 'alt\x07 "q" & <b>\ufffe', 1), None,
                            png.getvalue(), "png", 4, 4)
    text = "bell \x07 escape \x1b & <tag> \ufffe end"
    slide = PlacedSlide(SlideKind.CONTENT, "T", 1, (
        TextShape("Text 1", Box(0, 0, 914400, 914400),
                  (PlacedParagraph((Span(text),), 18.0, "000000"),)),
        PictureShape("Picture 1", Box(0, 0, 914400, 914400), picture)),
        Notes((Paragraph((Span("note \x0b here"),), 1),)), "FFFFFF")
    theme = load_theme("default", Diagnostics())
    data = render_deck([slide], theme, DeckMeta("T"), datetime(2024, 1, 1, tzinfo=UTC))
    prs = Presentation(io.BytesIO(data))
    [shown] = prs.slides
    shapes = list(shown.shapes)
    assert shapes[0].text_frame.text == "bell _x0007_ escape _x001B_ & <tag> _xFFFE_ end"
    assert shapes[1]._element.nvPicPr.cNvPr.get("descr") == 'alt "q" & <b>'
    assert shown.notes_slide.notes_text_frame.text == "note _x000B_ here"


def test_cycle_collector_paused_during_a_build_and_resumed_after(
        write_md: Callable[..., Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []
    real_layout = build.layout_deck

    def layout(*args: object) -> object:
        seen.append(gc.isenabled())
        return real_layout(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(build, "layout_deck", layout)
    note = write_md("# A\n\nText.\n")
    assert gc.isenabled()
    write_deck(plan_build(BuildOptions(note, tmp_path / "a.pptx"), Diagnostics()))
    assert seen == [False]
    assert gc.isenabled()


def test_cycle_collector_stays_off_when_the_caller_turned_it_off(
        write_md: Callable[..., Path], tmp_path: Path) -> None:
    note = write_md("# A\n\nText.\n")
    gc.disable()
    try:
        write_deck(plan_build(BuildOptions(note, tmp_path / "a.pptx"), Diagnostics()))
        assert not gc.isenabled()
    finally:
        gc.enable()


# --- pictures ---------------------------------------------------------------------------


def photo(path: Path, size: tuple[int, int] = (3000, 2000)) -> Path:
    """A noisy photo (too many bytes to be embedded as it is)."""
    picture = Image.merge("RGB", [Image.effect_noise(size, 40 + 10 * band)
                                  for band in range(3)])
    picture.save(path, quality=90)
    return path


def test_draft_request_allows_the_documented_shortfall() -> None:
    assert draft_request((3000, 2000), (1536, 1024)) == (1460, 973)
    assert draft_request((3000, 2000), (1400, 933)) == (1400, 933)  # 1/2 anyway
    assert draft_request((3000, 2000), (1600, 1067)) == (1600, 1067)  # 1/2 is 6% short
    assert draft_request((4000, 3000), (400, 300)) == (400, 300)
    assert DRAFT_SHORTFALL <= 0.05


def test_photo_is_decoded_at_half_scale_when_that_is_nearly_enough(tmp_path: Path) -> None:
    source = inspect_file(photo(tmp_path / "p.jpg"))
    encoded = encode_job(EncodeJob(source, (1536, 1024)))
    assert encoded.extension == "jpg" and encoded.size == (1500, 1000)
    encoded = encode_job(EncodeJob(source, (1600, 1067)))
    assert encoded.size == (1600, 1067)


@pytest.fixture
def watch_cache() -> Iterator[cache.BuildCache]:
    """The cache a `--watch` process keeps, dropped after the test."""
    kept = cache.keep_between_builds()
    try:
        yield kept
    finally:
        cache.forget_between_builds()


def test_watch_builds_encode_each_picture_once(tmp_path: Path, watch_cache: cache.BuildCache,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    for number in range(3):
        photo(tmp_path / f"p{number}.jpg", (1200, 800))
    note = tmp_path / "notes.md"
    note.write_text("\n".join(f"## P{number}\n\n![p](p{number}.jpg)\n" for number in range(3)),
                    encoding="utf-8")
    encoded: list[Path | None] = []
    real_encode = images.encode_job

    def counting(job: EncodeJob) -> images.Encoded:
        encoded.append(job.source.path)
        return real_encode(job)

    monkeypatch.setattr(images, "encode_job", counting)
    options = BuildOptions(note, tmp_path / "notes.pptx")
    first = write_deck(plan_build(options, Diagnostics())).output.read_bytes()
    assert len(encoded) == 3
    note.write_text(note.read_text(encoding="utf-8") + "\n## More\n\nText.\n",
                    encoding="utf-8")
    second = write_deck(plan_build(options, Diagnostics())).output.read_bytes()
    assert len(encoded) == 3  # nothing encoded again
    assert len(second) > 0 and first != second
    photo(tmp_path / "p1.jpg", (1200, 801))  # one picture changes
    write_deck(plan_build(options, Diagnostics()))
    assert encoded[3:] == [(tmp_path / "p1.jpg").resolve()]
    uncached = tmp_path / "uncached.pptx"
    cache.forget_between_builds()
    write_deck(plan_build(BuildOptions(note, uncached), Diagnostics()))
    assert uncached.read_bytes() == options.output.read_bytes()  # type: ignore[union-attr]


def test_a_copied_picture_is_found_by_its_content(tmp_path: Path,
                                                  watch_cache: cache.BuildCache) -> None:
    first = inspect_file(photo(tmp_path / "a.jpg", (600, 400)))
    (tmp_path / "b.jpg").write_bytes((tmp_path / "a.jpg").read_bytes())
    second = inspect_file(tmp_path / "b.jpg")
    assert watch_cache.digest(first) == watch_cache.digest(second) is not None


def test_watch_keeps_the_cache_only_while_it_runs(write_md: Callable[..., Path],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """`build --watch` keeps pictures while the watch loop runs and drops them after
    Ctrl-C (watch.kept_between_builds)."""
    seen: list[object] = []

    def interrupted_loop(*args: object, **kwargs: object) -> int:
        seen.append(cache.build_cache())
        raise KeyboardInterrupt

    monkeypatch.setattr("deckgen.watch._watch", interrupted_loop)
    note = write_md("# A\n")
    result: CliResult = run_main("build", note, "--watch", "-q")
    assert result.code == 0
    assert isinstance(seen[0], cache.BuildCache)
    assert cache.build_cache() is None


def test_encoded_cache_forgets_the_least_recently_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "MAX_ENCODED_BYTES", 10)
    kept = cache.BuildCache()
    for name in "abc":
        kept.remember((name, (1, 1)), images.Encoded(data=b"12345", extension="jpg"))
        kept.encoded_for(("a", (1, 1)))
    assert list(kept.encoded) == [("c", (1, 1)), ("a", (1, 1))]
    assert kept.encoded_bytes == 10


def test_pictures_are_stored_uncompressed_once(tmp_path: Path) -> None:
    """The same picture placed twice is one part; media are stored, XML deflated."""
    photo(tmp_path / "p.jpg", (900, 600))
    note = tmp_path / "notes.md"
    note.write_text("## A\n\n![p](p.jpg)\n\n## B\n\n![p](p.jpg)\n", encoding="utf-8")
    deck = tmp_path / "notes.pptx"
    assert run_main("build", note, "-o", deck, "-q").code == 0
    with zipfile.ZipFile(deck) as archive:
        media = [info for info in archive.infolist() if info.filename.startswith("ppt/media/")]
        xml = [info for info in archive.infolist() if info.filename.endswith(".xml")]
    assert len(media) == 1 and media[0].compress_type == zipfile.ZIP_STORED
    assert {info.compress_type for info in xml} == {zipfile.ZIP_DEFLATED}
    with Image.open(io.BytesIO(parts(deck)[media[0].filename])) as shown:
        assert shown.format == "JPEG"


# --- the archive --------------------------------------------------------------------------


def zipfile_bytes(entries: list[tuple[str, bytes]], when: datetime) -> bytes:
    """What zipfile writes for the entries with the archive's settings."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in entries:
            entry = zipfile.ZipInfo(name, date_time=(when.year, when.month, when.day,
                                                     when.hour, when.minute, when.second))
            entry.external_attr = 0o644 << 16
            entry.create_system = 0
            entry.compress_type = (zipfile.ZIP_STORED if name.endswith((".png", ".jpg"))
                                   else zipfile.ZIP_DEFLATED)
            archive.writestr(entry, data, compresslevel=6)
    return out.getvalue()


def archive_bytes(entries: list[tuple[str, bytes]], when: datetime,
                  prepared: bool = True) -> bytes:
    with Archive(when) as archive:
        for name, data in entries[::2] if prepared else ():
            archive.prepare(name, data)
        for name, data in entries:
            archive.add(name, data)
        return archive.close()


ENTRIES = [("[Content_Types].xml", b"<Types/>" * 50), ("ppt/slides/slide1.xml", b"<a/>" * 99),
           ("ppt/media/image1.png", bytes(range(256)) * 3), ("ppt/media/한글.jpg", b"\xff" * 9),
           ("docProps/empty.xml", b"")]


def test_archive_is_what_zipfile_writes() -> None:
    when = datetime(2023, 7, 9, 13, 45, 31)
    assert archive_bytes(ENTRIES, when) == zipfile_bytes(ENTRIES, when)
    assert archive_bytes(ENTRIES, when, prepared=False) == zipfile_bytes(ENTRIES, when)
    with zipfile.ZipFile(io.BytesIO(archive_bytes(ENTRIES, when))) as archive:
        assert archive.testzip() is None
        assert archive.read("ppt/media/한글.jpg") == b"\xff" * 9


def test_archive_beyond_the_zip_limits_is_what_zipfile_writes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Past 65,535 entries or 2 GB zipfile adds ZIP64 records; so does the archive (the
    limits lowered here so that a few small entries cross them)."""
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 700)
    monkeypatch.setattr(zipfile, "ZIP_FILECOUNT_LIMIT", 3)
    entries = [(f"ppt/slides/slide{number}.xml", bytes(range(number, number + 200)))
               for number in range(8)]
    when = datetime(1970, 1, 1)  # before 1980: written as 1980, as zipfile would refuse
    expected = zipfile_bytes(entries, datetime(1980, 1, 1))
    assert archive_bytes(entries, when) == expected
    with zipfile.ZipFile(io.BytesIO(expected)) as archive:
        assert archive.read("ppt/slides/slide7.xml") == bytes(range(7, 207))
