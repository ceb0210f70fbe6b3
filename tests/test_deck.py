"""End to end through deckgen.cli.main: decks built into tmp_path and reopened with python-pptx."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import CliResult, notes_text, slide_text, slide_title, squash
from lxml import etree
from PIL import Image
from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE, MSO_SHAPE_TYPE
from pptx.oxml.ns import qn
from pptx.presentation import Presentation as PresentationType
from pptx.slide import Slide

import deckgen

Cli = Callable[..., CliResult]

INTRO_TITLES = [
    "쿠버네티스 입문: 가상화 기술의 역사",
    "Introduction",
    "Google Trend",
    "가상화 도입 과정",
    "1991년 경",
    "2010년 7월 경",
    "2014년 6월 경",
    "99. 참고 자료",
]
ERA_LABELS = ["1991년 경", "2010년 7월 경", "2014년 6월 경"]
REFERENCE_URL = "https://kubetm.github.io/k8s/03-beginner-basic-resource/service/"
SMALL_PRINT = {"Footer", "Slide number", "Kicker"}


@pytest.fixture(scope="module")
def theme_data(repo_root: Path) -> dict:
    with (repo_root / "themes" / "default.toml").open("rb") as handle:
        return tomllib.load(handle)


def slide_by_title(prs: PresentationType, title: str) -> Slide:
    for slide in prs.slides:
        if slide_title(slide) == title:
            return slide
    raise AssertionError(f"no slide titled {title!r}")


def pictures(slide: Slide) -> list:
    return [shape for shape in slide.shapes if shape.shape_type == MSO_SHAPE_TYPE.PICTURE]


def text_frames(slide: Slide, with_notes: bool = True) -> Iterator[tuple[str, object]]:
    """(shape name, text frame) of every text on a slide, table cells and notes included."""
    for shape in slide.shapes:
        if shape.has_text_frame:
            yield shape.name, shape.text_frame
        if getattr(shape, "has_table", False) and shape.has_table:
            for row in shape.table.rows:
                for cell in row.cells:
                    yield shape.name, cell.text_frame
    if with_notes and slide.has_notes_slide:
        yield "Notes", slide.notes_slide.notes_text_frame


def runs(slide: Slide, with_notes: bool = True) -> Iterator[tuple[str, object]]:
    for name, frame in text_frames(slide, with_notes):
        for paragraph in frame.paragraphs:
            for run in paragraph.runs:
                yield name, run


def no_traceback(result: CliResult) -> None:
    assert "Traceback" not in result.stderr
    assert "Traceback" not in result.stdout


# --- the intro deck: slides, titles, notes -----------------------------------------------------


def test_intro_build_reports_slides_and_output(intro_build: tuple[Path, CliResult]) -> None:
    path, result = intro_build
    assert result.code == 0
    assert f"wrote {path} (8 slides)" in result.stdout
    for number, title in enumerate(INTRO_TITLES, start=1):
        assert re.search(rf"^\s*{number}\s+\w+\s+{re.escape(title)}$", result.stdout, re.M)
    no_traceback(result)


def test_intro_slide_titles_in_order(intro_prs: PresentationType) -> None:
    assert [slide_title(slide) for slide in intro_prs.slides] == INTRO_TITLES


def test_intro_title_shapes_are_named_title(intro_prs: PresentationType) -> None:
    for slide in intro_prs.slides:
        assert any(shape.name == "Title" for shape in slide.shapes)


def test_intro_one_slide_per_era(intro_prs: PresentationType) -> None:
    titles = [slide_title(slide) for slide in intro_prs.slides]
    for label in ERA_LABELS:
        assert titles.count(label) == 1
    for year in ("1991", "2010", "2014"):
        assert len([t for t in titles if t.startswith(year)]) == 1


def test_intro_timeline_is_drawn_with_native_shapes(intro_prs: PresentationType) -> None:
    slide = slide_by_title(intro_prs, "가상화 도입 과정")
    assert pictures(slide) == []
    markers = [shape for shape in slide.shapes if shape.shape_type == MSO_SHAPE_TYPE.AUTO_SHAPE
               and shape.auto_shape_type == MSO_SHAPE.OVAL]
    assert len(markers) == 3
    lines = [shape for shape in slide.shapes if shape.shape_type == MSO_SHAPE_TYPE.LINE]
    assert len(lines) >= 1
    assert all(line._element.tag == qn("p:cxnSp") for line in lines)
    labels = {shape.text_frame.text: shape for shape in slide.shapes
              if shape.has_text_frame and shape.text_frame.text in ERA_LABELS}
    assert sorted(labels) == sorted(ERA_LABELS)
    # chronological from left to right, each label above its marker
    by_x = sorted(labels.values(), key=lambda shape: shape.left)
    assert [shape.text_frame.text for shape in by_x] == ERA_LABELS
    markers.sort(key=lambda shape: shape.left)
    axis = lines[0]
    axis_y = axis.top + axis.height // 2
    for label, marker in zip(by_x, markers, strict=True):
        centre = marker.left + marker.width // 2
        assert label.left <= centre <= label.left + label.width
        assert abs(marker.top + marker.height // 2 - axis_y) <= marker.height // 2
        assert label.top + label.height <= marker.top + marker.height // 2


def test_intro_every_slide_but_the_title_has_notes(intro_prs: PresentationType) -> None:
    slides = list(intro_prs.slides)
    for slide in slides[1:]:
        assert slide.has_notes_slide, slide_title(slide)
        assert notes_text(slide).strip(), slide_title(slide)


# --- nothing lost ----------------------------------------------------------------------------

LINK = re.compile(r"\[((?:[^\[\]]|\[[^\]]*\])*)\]\([^)]*\)")
SENTENCE = re.compile(r"(?<=[.!?])\s+")


def prose_by_section(markdown: str) -> list[tuple[str, str]]:
    """(section heading, sentence) for every sentence of prose in a note: front matter,
    headings and <img> lines ignored; quote marks, list markers, backticks and link
    syntax stripped; every list item a paragraph of its own."""
    lines = markdown.split("\n")
    if lines and lines[0].strip() == "---":
        end = lines.index("---", 1)
        lines = lines[end + 1:]
    found: list[tuple[str, str]] = []
    section = ""
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            text = " ".join(paragraph)
            text = LINK.sub(lambda match: match[1], text).replace("`", "")
            found.extend((section, sentence) for sentence in SENTENCE.split(text.strip())
                         if sentence.strip())
            paragraph.clear()

    for raw in lines:
        line = raw.strip()
        if line.startswith("#"):
            flush()
            section = line.lstrip("#").strip()
            continue
        if not line or line.startswith("<img") or line == ">":
            flush()
            continue
        line = re.sub(r"^>\s?", "", line)
        if re.match(r"^([-*+]|\d+[.)])\s+", line):
            flush()
            line = re.sub(r"^([-*+]|\d+[.)])\s+", "", line)
        paragraph.append(line.strip())
    flush()
    return found


def test_prose_helper_finds_the_intro_sentences(intro_md: Path) -> None:
    found = prose_by_section(intro_md.read_text(encoding="utf-8"))
    sections = {section for section, _ in found}
    assert sections == {"Introduction", "Google Trend", "1991년 경", "2010년 7월 경",
                        "2014년 6월 경", "99. 참고 자료"}
    assert len(found) >= 25
    assert ("99. 참고 자료", "[Kubernetes] KUBETM BLOG") in found
    assert not any("<img" in sentence or "`" in sentence for _, sentence in found)


def test_intro_nothing_lost(intro_md: Path, intro_prs: PresentationType) -> None:
    """Every sentence of the note is on its slide or in that slide's speaker notes."""
    slides = list(intro_prs.slides)
    missing = []
    for section, sentence in prose_by_section(intro_md.read_text(encoding="utf-8")):
        owners = [s for s in slides if slide_title(s) == section
                  or slide_title(s).startswith(section + " (")]
        assert owners, f"no slide for section {section!r}"
        key = squash(sentence)
        if not any(key in squash(slide_text(s)) or key in squash(notes_text(s))
                   for s in owners):
            missing.append(f"{section}: {sentence}")
    assert missing == []


# --- pictures ----------------------------------------------------------------------------------


def test_intro_pictures_all_present(intro_prs: PresentationType) -> None:
    counts = [len(pictures(slide)) for slide in intro_prs.slides]
    assert sum(counts) == 6
    assert len(pictures(slide_by_title(intro_prs, "2014년 6월 경"))) == 4
    assert len(pictures(slide_by_title(intro_prs, "Google Trend"))) == 1
    assert len(pictures(slide_by_title(intro_prs, "1991년 경"))) == 1


def test_intro_pictures_keep_aspect_and_describe_themselves(intro_prs: PresentationType,
                                                            repo_root: Path) -> None:
    seen = set()
    for slide in intro_prs.slides:
        for picture in pictures(slide):
            descr = picture._element.nvPicPr.cNvPr.get("descr")
            assert descr, f"picture {picture.name} on {slide_title(slide)} has no descr"
            source = repo_root / "img" / descr
            assert source.is_file(), descr
            seen.add(descr)
            with Image.open(source) as image:
                width, height = image.size
            shown = picture.width / picture.height
            assert shown == pytest.approx(width / height, rel=0.01), descr
            assert picture.image.blob == source.read_bytes()
    assert seen == {"kubernetes.png", "가상화기술_01.png", "가상화기술_02.png",
                    "가상화기술_03.png", "가상화기술_04.png", "가상화기술_05.png"}


def test_intro_pictures_inside_the_slide(intro_prs: PresentationType) -> None:
    width, height = intro_prs.slide_width, intro_prs.slide_height
    for slide in intro_prs.slides:
        for picture in pictures(slide):
            assert picture.left >= 0 and picture.top >= 0
            assert picture.left + picture.width <= width
            assert picture.top + picture.height <= height


# --- links, fonts, theme ---------------------------------------------------------------------


def test_intro_reference_is_a_clickable_link(intro_prs: PresentationType) -> None:
    slide = slide_by_title(intro_prs, "99. 참고 자료")
    linked = [(run.text, run.hyperlink.address) for _, run in runs(slide, with_notes=False)
              if run.hyperlink.address]
    assert ("[Kubernetes] KUBETM BLOG", REFERENCE_URL) in linked
    assert REFERENCE_URL in notes_text(slide)


def check_run_fonts(prs: PresentationType) -> list[str]:
    problems = []
    for number, slide in enumerate(prs.slides, start=1):
        for name, run in runs(slide):
            r_pr = run._r.rPr
            where = f"slide {number} {name} run {run.text!r}"
            if r_pr is None:
                problems.append(f"{where}: no rPr")
                continue
            latin, east_asian = r_pr.find(qn("a:latin")), r_pr.find(qn("a:ea"))
            if latin is None or not latin.get("typeface"):
                problems.append(f"{where}: no a:latin typeface")
            if east_asian is None or not east_asian.get("typeface"):
                problems.append(f"{where}: no a:ea typeface")
            if not r_pr.get("lang"):
                problems.append(f"{where}: no lang")
    return problems


def test_intro_every_run_names_latin_and_east_asian_faces(intro_prs: PresentationType) -> None:
    count = sum(1 for slide in intro_prs.slides for _ in runs(slide))
    assert count > 50
    assert check_run_fonts(intro_prs) == []


def test_intro_hangul_runs_use_the_theme_faces(intro_prs: PresentationType,
                                               theme_data: dict) -> None:
    body = theme_data["fonts"]["body"]
    slide = slide_by_title(intro_prs, "Introduction")
    for _, run in runs(slide, with_notes=False):
        r_pr = run._r.rPr
        assert r_pr.find(qn("a:ea")).get("typeface") == body["east_asian"]
        assert r_pr.get("lang") == theme_data["lang"]


def test_intro_theme_font_scheme_names_the_east_asian_face(intro_deck: Path) -> None:
    with zipfile.ZipFile(intro_deck) as archive:
        root = etree.fromstring(archive.read("ppt/theme/theme1.xml"))
    for tag in ("a:majorFont", "a:minorFont"):
        font = root.find(f".//{qn(tag)}")
        assert font is not None, tag
        assert font.find(qn("a:ea")).get("typeface") == "Malgun Gothic"
        assert font.find(qn("a:latin")).get("typeface") == "Arial"


def test_inline_code_is_accent_bold_not_monospace(intro_prs: PresentationType,
                                                  theme_data: dict) -> None:
    accent = theme_data["colors"]["accent"].lstrip("#").upper()
    body_latin = theme_data["fonts"]["body"]["latin"]
    code_latin = theme_data["fonts"]["code"]["latin"]
    slide = slide_by_title(intro_prs, "Google Trend")
    found = {"slide": 0, "Notes": 0}
    for name, run in runs(slide):
        if run.text != "Kubernetes":
            continue
        found["Notes" if name == "Notes" else "slide"] += 1
        r_pr = run._r.rPr
        assert r_pr.get("b") == "1"
        assert str(run.font.color.rgb) == accent
        assert r_pr.find(qn("a:latin")).get("typeface") == body_latin != code_latin
    assert found["slide"] >= 1
    assert found["Notes"] >= 1


def test_intro_core_properties(intro_prs: PresentationType) -> None:
    core = intro_prs.core_properties
    assert core.title == "쿠버네티스 입문: 가상화 기술의 역사"
    assert core.author == "Kubernetes 스터디"
    assert core.subject == "1991 → 2010 → 2014, 왜 컨테이너 오케스트레이션인가"


def test_core_properties_subject_and_keywords(cli: Cli, write_md, tmp_path: Path) -> None:
    source = write_md("---\ntitle: 제목\nauthor: 저자\nsubject: 주제\nkeywords: k8s, docker\n"
                      "---\n\n## A\n\ntext\n")
    out = tmp_path / "meta.pptx"
    assert cli("build", source, "-o", out).code == 0
    core = Presentation(str(out)).core_properties
    assert (core.title, core.author, core.subject, core.keywords) == (
        "제목", "저자", "주제", "k8s, docker")


# --- reproducible output -------------------------------------------------------------------


def build_intro(cli: Cli, intro_md: Path, repo_root: Path, out: Path) -> bytes:
    result = cli("build", intro_md, "-o", out, "--resource-path", repo_root, "-q")
    assert result.code == 0, result.stderr
    return out.read_bytes()


def test_rebuilds_are_byte_identical(cli: Cli, intro_md: Path, repo_root: Path,
                                     tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    (tmp_path / "other").mkdir()
    first = build_intro(cli, intro_md, repo_root, tmp_path / "one.pptx")
    second = build_intro(cli, intro_md, repo_root, tmp_path / "other" / "two.pptx")
    assert first == second


def test_source_date_epoch_is_honoured(cli: Cli, intro_md: Path, repo_root: Path,
                                       tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    epoch = 1_700_000_000  # 2023-11-14 22:13:20 UTC
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(epoch))
    out = tmp_path / "epoch.pptx"
    build_intro(cli, intro_md, repo_root, out)
    when = datetime.fromtimestamp(epoch, tz=UTC).replace(tzinfo=None)
    core = Presentation(str(out)).core_properties
    assert core.modified == when
    assert core.created == when
    with zipfile.ZipFile(out) as archive:
        stamps = {info.date_time for info in archive.infolist()}
    assert stamps == {(2023, 11, 14, 22, 13, 20)}


def test_front_matter_date_is_the_default_timestamp(intro_prs: PresentationType) -> None:
    if os.environ.get("SOURCE_DATE_EPOCH"):
        pytest.skip("SOURCE_DATE_EPOCH is set for the whole test session")
    assert intro_prs.core_properties.modified == datetime(2026, 11, 26)


def test_front_matter_date_with_offset_is_converted_to_utc(
        cli: Cli, write_md, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """10:00 at +09:00 is 01:00 UTC; the offset must not simply be dropped."""
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    source = write_md('---\ntitle: T\ndate: "2026-11-26T10:00:00+09:00"\n---\n\n## A\n\nx\n')
    out = tmp_path / "tz.pptx"
    assert cli("build", source, "-o", out).code == 0
    assert Presentation(str(out)).core_properties.modified == datetime(2026, 11, 26, 1, 0, 0)


def test_invalid_source_date_epoch_is_an_error(cli: Cli, write_md, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    source = write_md("## A\n\ntext\n")
    result = cli("build", source, "-o", tmp_path / "x.pptx")
    assert result.code == 1
    assert "SOURCE_DATE_EPOCH" in result.stderr
    assert not (tmp_path / "x.pptx").exists()
    no_traceback(result)


def test_compressed_media_are_stored(intro_deck: Path) -> None:
    with zipfile.ZipFile(intro_deck) as archive:
        infos = archive.infolist()
    media = [info for info in infos if info.filename.startswith("ppt/media/")]
    assert len(media) == 6
    assert all(info.compress_type == zipfile.ZIP_STORED for info in media)
    xml = [info for info in infos if info.filename.endswith(".xml")]
    assert xml and all(info.compress_type == zipfile.ZIP_DEFLATED for info in xml)
    assert infos[0].filename == "[Content_Types].xml"


def test_jpeg_media_are_stored(cli: Cli, write_md, tmp_path: Path) -> None:
    photo = Image.effect_mandelbrot((320, 200), (-2.0, -1.2, 1.0, 1.2), 80).convert("RGB")
    (tmp_path / "img").mkdir()
    photo.save(tmp_path / "img" / "photo.jpg", quality=90)
    source = write_md("## Photo\n\nA photo.\n\n![photo](img/photo.jpg)\n")
    out = tmp_path / "photo.pptx"
    assert cli("build", source, "-o", out).code == 0
    with zipfile.ZipFile(out) as archive:
        media = [i for i in archive.infolist() if i.filename.startswith("ppt/media/")]
    assert [m.filename.rsplit(".", 1)[-1] for m in media] in (["jpg"], ["jpeg"])
    assert media[0].compress_type == zipfile.ZIP_STORED


# --- atomic writes ---------------------------------------------------------------------------


def stray_temporaries(folder: Path) -> list[Path]:
    return sorted(folder.glob(".*.tmp"))


def test_failed_build_leaves_the_existing_deck_untouched(cli: Cli, write_md,
                                                         tmp_path: Path) -> None:
    source = write_md("## A\n\ngood text\n")
    out = tmp_path / "deck.pptx"
    assert cli("build", source, "-o", out).code == 0
    before = out.read_bytes()
    source.write_bytes(b"## A\n\nbad \xff text\n")
    result = cli("build", source, "-o", out)
    assert result.code == 1
    assert "UTF-8" in result.stderr
    assert out.read_bytes() == before
    assert stray_temporaries(tmp_path) == []
    no_traceback(result)


@pytest.mark.invalid_deck("deck.pptx")  # "previous deck"
def test_failed_rename_leaves_no_temporary(cli: Cli, write_md, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import deckgen.build

    source = write_md("## A\n\ntext\n")
    out = tmp_path / "deck.pptx"
    out.write_bytes(b"previous deck")

    def refuse(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(deckgen.build.os, "replace", refuse)
    result = cli("build", source, "-o", out)
    assert result.code == 1
    assert "untouched" in result.stderr
    assert out.read_bytes() == b"previous deck"
    assert stray_temporaries(tmp_path) == []
    no_traceback(result)


def test_stale_temporaries_are_cleaned_up(cli: Cli, write_md, tmp_path: Path) -> None:
    source = write_md("## A\n\ntext\n")
    stale = tmp_path / ".deck.pptx.abc123xy.tmp"
    stale.write_bytes(b"left by a killed build")
    assert cli("build", source, "-o", tmp_path / "deck.pptx").code == 0
    assert stray_temporaries(tmp_path) == []


def test_a_running_builds_temporary_is_left_alone(cli: Cli, write_md, tmp_path: Path) -> None:
    """Two builds of the same deck at once: neither removes the other's temporary file;
    those of builds no longer running (and of older versions, without a process id) go."""
    source = write_md("## A\n\ntext\n")
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        alive = tmp_path / f".deck.pptx.{running.pid}-k3j2abcd.tmp"
        alive.write_bytes(b"being written by another build")
        finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                                  capture_output=True, text=True, check=True)
        dead = tmp_path / f".deck.pptx.{finished.stdout.strip()}-x9q1abcd.tmp"
        dead.write_bytes(b"left by a killed build")
        assert cli("build", source, "-o", tmp_path / "deck.pptx").code == 0
        assert stray_temporaries(tmp_path) == [alive]
    finally:
        running.kill()
        running.wait()


def test_source_is_never_overwritten(cli: Cli, write_md) -> None:
    source = write_md("## A\n\ntext\n")
    before = source.read_bytes()
    result = cli("build", source, "-o", source)
    assert result.code == 1
    assert source.read_bytes() == before
    no_traceback(result)


@pytest.mark.invalid_deck("oops.pptx")  # a note named .pptx
def test_source_named_pptx_is_never_overwritten(cli: Cli, write_md) -> None:
    source = write_md("## A\n\ntext\n", name="oops.pptx")
    before = source.read_bytes()
    for argv in (("build", source), ("build", source, "-o", source)):
        result = cli(*argv)
        assert result.code == 1
        assert "overwrite the source" in result.stderr
        assert source.read_bytes() == before
        no_traceback(result)


def test_default_output_is_beside_the_source(cli: Cli, write_md, tmp_path: Path) -> None:
    source = write_md("## A\n\ntext\n", name="talk.md")
    result = cli("build", source)
    assert result.code == 0
    assert (tmp_path / "talk.pptx").is_file()
    assert str(tmp_path / "talk.pptx") in result.stdout


# --- error paths -------------------------------------------------------------------------------


def test_missing_source(cli: Cli, tmp_path: Path) -> None:
    result = cli("build", tmp_path / "absent.md", "-o", tmp_path / "x.pptx")
    assert result.code == 1
    assert "absent.md" in result.stderr and "no such file" in result.stderr
    assert not (tmp_path / "x.pptx").exists()
    no_traceback(result)


def test_directory_as_source(cli: Cli, tmp_path: Path) -> None:
    result = cli("build", tmp_path, "-o", tmp_path / "x.pptx")
    assert result.code == 1
    assert "directory" in result.stderr
    no_traceback(result)


def test_invalid_utf8_names_the_line(cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "latin1.md"
    source.write_bytes("## 제목\n\n첫 줄\n".encode() + b"caf\xe9\n")
    result = cli("build", source, "-o", tmp_path / "x.pptx")
    assert result.code == 1
    assert f"{source}:4" in result.stderr
    assert "UTF-8" in result.stderr
    assert not (tmp_path / "x.pptx").exists()
    no_traceback(result)


def test_unknown_theme_lists_the_themes(cli: Cli, write_md, tmp_path: Path) -> None:
    source = write_md("## A\n\ntext\n")
    result = cli("build", source, "-o", tmp_path / "x.pptx", "--theme", "no-such-theme")
    assert result.code == 1
    assert "no-such-theme" in result.stderr
    assert "available themes" in result.stderr and "default" in result.stderr
    assert not (tmp_path / "x.pptx").exists()
    no_traceback(result)


def test_output_in_a_missing_folder(cli: Cli, write_md, tmp_path: Path) -> None:
    source = write_md("## A\n\ntext\n")
    result = cli("build", source, "-o", tmp_path / "missing" / "x.pptx")
    assert result.code == 1
    assert "folder does not exist" in result.stderr
    assert not (tmp_path / "missing").exists()
    no_traceback(result)


def test_output_path_that_is_a_directory(cli: Cli, write_md, tmp_path: Path) -> None:
    source = write_md("## A\n\ntext\n")
    target = tmp_path / "x.pptx"
    target.mkdir()
    result = cli("build", source, "-o", target)
    assert result.code == 1
    assert "x.pptx" in result.stderr
    assert target.is_dir() and list(target.iterdir()) == []
    assert stray_temporaries(tmp_path) == []
    no_traceback(result)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root ignores directory permissions")
def test_unwritable_output_folder(cli: Cli, write_md, tmp_path: Path) -> None:
    source = write_md("## A\n\ntext\n")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        result = cli("build", source, "-o", locked / "x.pptx")
    finally:
        locked.chmod(0o700)
    assert result.code == 1
    assert "cannot write" in result.stderr
    assert list(locked.iterdir()) == []
    no_traceback(result)


def test_output_must_be_pptx(cli: Cli, write_md, tmp_path: Path) -> None:
    source = write_md("## A\n\ntext\n")
    result = cli("build", source, "-o", tmp_path / "deck.ppt")
    assert result.code == 1
    assert ".pptx" in result.stderr
    no_traceback(result)


@pytest.mark.parametrize("argv", [
    ("build", "--no-such-option", "notes.md"),
    ("build",),
    ("frobnicate",),
    ("build", "notes.md", "--overflow", "sideways"),
], ids=["unknown-option", "no-source", "unknown-command", "bad-choice"])
def test_usage_errors_exit_2(cli: Cli, argv: tuple[str, ...],
                             capsys: pytest.CaptureFixture[str]) -> None:
    result = cli(*argv)
    assert result.code == 2
    no_traceback(result)
    assert "Traceback" not in capsys.readouterr().err


def test_usage_error_message_goes_to_the_given_stderr(cli: Cli) -> None:
    """main(argv, stdout, stderr) must print its usage errors on the stderr it is given."""
    result = cli("build", "--no-such-option", "notes.md")
    assert result.code == 2
    assert "--no-such-option" in result.stderr
    assert "usage:" in result.stderr


def test_no_command_prints_help(cli: Cli) -> None:
    result = cli()
    assert result.code == 2
    assert "build" in result.stdout and "themes" in result.stdout


# --- missing images ----------------------------------------------------------------------------


def test_missing_image_gives_a_placeholder_and_a_warning(cli: Cli, write_md,
                                                         tmp_path: Path) -> None:
    source = write_md("## Pic\n\nSome text.\n\n![gone](img/nothere.png)\n")
    out = tmp_path / "miss.pptx"
    result = cli("build", source, "-o", out)
    assert result.code == 0
    assert f"{source}:5: warning:" in result.stderr
    assert "img/nothere.png" in result.stderr
    slide = list(Presentation(str(out)).slides)[1]
    assert pictures(slide) == []
    holders = [shape for shape in slide.shapes
               if shape.has_text_frame and "img/nothere.png" in shape.text_frame.text]
    assert len(holders) == 1
    no_traceback(result)


def test_missing_image_under_strict_fails_and_writes_nothing(cli: Cli, write_md,
                                                             tmp_path: Path) -> None:
    source = write_md("## Pic\n\nSome text.\n\n![gone](img/nothere.png)\n")
    out = tmp_path / "strict.pptx"
    result = cli("build", source, "-o", out, "--strict")
    assert result.code == 1
    assert f"{source}:5: warning:" in result.stderr
    assert not out.exists()
    assert stray_temporaries(tmp_path) == []
    no_traceback(result)


def test_strict_build_without_warnings_writes_the_deck(cli: Cli, write_md,
                                                       tmp_path: Path) -> None:
    source = write_md("## A\n\ntext\n")
    out = tmp_path / "ok.pptx"
    result = cli("build", source, "-o", out, "--strict")
    assert result.code == 0, result.stderr
    assert out.is_file()


# --- several pictures, size hints --------------------------------------------------------------


@pytest.mark.parametrize("count", [2, 3, 4])
def test_all_pictures_of_a_section_are_on_its_slide(cli: Cli, write_md, make_image,
                                                    tmp_path: Path, count: int) -> None:
    sizes = [(1600, 900), (600, 900), (800, 800), (1200, 400)][:count]
    names = []
    for index, size in enumerate(sizes):
        make_image(f"img/pic{index}.png", size)
        names.append(f"img/pic{index}.png")
    images = "\n\n".join(f"![그림 {i}]({name})" for i, name in enumerate(names))
    source = write_md(f"## Gallery\n\nSeveral pictures follow.\n\n{images}\n")
    out = tmp_path / "gallery.pptx"
    result = cli("build", source, "-o", out)
    assert result.code == 0, result.stderr
    slide = slide_by_title(Presentation(str(out)), "Gallery")
    shown = pictures(slide)
    assert len(shown) == count
    by_alt = {p._element.nvPicPr.cNvPr.get("descr"): p for p in shown}
    assert sorted(by_alt) == [f"그림 {i}" for i in range(count)]
    for index, (width, height) in enumerate(sizes):
        picture = by_alt[f"그림 {index}"]
        assert picture.width / picture.height == pytest.approx(width / height, rel=0.01)
    boxes = [(p.left, p.top, p.left + p.width, p.top + p.height) for p in shown]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            overlap = min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])
            assert not overlap, (a, b)
    assert "Several pictures follow." in slide_text(slide)


def picture_width(cli: Cli, write_md, tmp_path: Path, width: int) -> int:
    source = write_md(f'## Sized\n\nA picture with a width hint.\n\n'
                      f'<img src="img/pic.png" width="{width}">\n', name=f"w{width}.md")
    out = tmp_path / f"w{width}.pptx"
    result = cli("build", source, "-o", out)
    assert result.code == 0, result.stderr
    (picture,) = pictures(slide_by_title(Presentation(str(out)), "Sized"))
    return int(picture.width)


def test_img_width_hint_narrows_the_picture(cli: Cli, write_md, make_image,
                                            tmp_path: Path) -> None:
    make_image("img/pic.png", (1600, 1000))
    narrow = picture_width(cli, write_md, tmp_path, 400)
    wide = picture_width(cli, write_md, tmp_path, 800)
    assert narrow < wide


# --- overflow --------------------------------------------------------------------------------

LONG_LIST = "## Many items\n\n" + "\n".join(
    f"- Item number {i} with a few words" for i in range(1, 41)) + "\n"


def item_text(number: int) -> str:
    return f"Item number {number} with a few words"


def test_overflow_continue_keeps_every_item_on_slides(cli: Cli, write_md,
                                                      tmp_path: Path) -> None:
    source = write_md(LONG_LIST)
    out = tmp_path / "continue.pptx"
    result = cli("build", source, "-o", out, "--overflow", "continue")
    assert result.code == 0, result.stderr
    slides = list(Presentation(str(out)).slides)[1:]
    total = len(slides)
    assert total >= 2
    assert [slide_title(s) for s in slides] == [f"Many items ({i}/{total})"
                                                for i in range(1, total + 1)]
    shown = "\n".join(slide_text(s) for s in slides).split("\n")
    for number in range(1, 41):
        assert item_text(number) in shown, number
    assert "did not fit" not in result.stderr


def test_overflow_notes_moves_the_rest_to_the_notes(cli: Cli, write_md,
                                                    tmp_path: Path) -> None:
    source = write_md(LONG_LIST)
    out = tmp_path / "notes.pptx"
    result = cli("build", source, "-o", out)
    assert result.code == 0, result.stderr
    slides = list(Presentation(str(out)).slides)
    assert [slide_title(s) for s in slides] == [source.stem, "Many items"]
    slide = slides[1]
    shown = slide_text(slide).split("\n")
    notes = notes_text(slide)
    on_slide = [n for n in range(1, 41) if item_text(n) in shown]
    assert 0 < len(on_slide) < 40
    assert on_slide == list(range(1, len(on_slide) + 1))
    for number in range(1, 41):
        assert item_text(number) in notes, number
    moved = 40 - len(on_slide)
    first_moved = len(on_slide) + 1
    assert re.search(rf"{re.escape(str(source))}:{first_moved + 2}: warning: .*{moved} item",
                     result.stderr)
    assert "speaker notes" in result.stderr
    assert item_text(first_moved) in result.stderr


# --- type sizes ----------------------------------------------------------------------------


def sizes_below(prs: PresentationType, minimum: float, skip: set[str],
                only: Callable[[str], bool] = lambda name: True) -> list[str]:
    low = []
    for number, slide in enumerate(prs.slides, start=1):
        for name, run in runs(slide, with_notes=False):
            if name in skip or not only(name):
                continue
            size = run.font.size
            assert size is not None, f"slide {number} {name}: run without a size"
            if size.pt < minimum:
                low.append(f"slide {number} {name} {run.text!r}: {size.pt} pt")
    return low


def is_code(name: str) -> bool:
    return name.startswith("Code ")


def test_intro_text_never_below_the_minimum(intro_prs: PresentationType,
                                            theme_data: dict) -> None:
    body_min = theme_data["sizes"]["body_min"]
    assert sizes_below(intro_prs, body_min, SMALL_PRINT) == []


@pytest.mark.parametrize("policy", ["notes", "continue"])
def test_long_notes_never_below_the_minimum(cli: Cli, write_md, tmp_path: Path,
                                            theme_data: dict, policy: str) -> None:
    korean = ("컨테이너 가상화 기술은 서비스를 격리시켜주는 것은 물론이며 별도의 운영체제를 "
              "구동할 필요가 없다. ") * 12
    source = write_md(f"## 긴 글\n\n{korean}\n\n{korean}\n\n{LONG_LIST}\n"
                      "## 코드\n\n```\n" + "x = 1\n" * 40 + "```\n")
    out = tmp_path / f"{policy}.pptx"
    assert cli("build", source, "-o", out, "--overflow", policy).code == 0
    prs = Presentation(str(out))
    sizes = theme_data["sizes"]
    assert sizes_below(prs, sizes["body_min"], SMALL_PRINT, lambda n: not is_code(n)) == []
    assert sizes_below(prs, sizes["code_min"], SMALL_PRINT, is_code) == []


def test_table_text_never_below_the_body_minimum(cli: Cli, write_md, tmp_path: Path,
                                                 theme_data: dict) -> None:
    """Table cells are body text: the theme's body_min (18 pt) is their floor too, also
    when a long table makes the slide shrink its type."""
    rows = "\n".join(f"| 리소스{r} | Deployment | 1.{r} | 긴 설명 텍스트 {r} | Running | 없음 |"
                     for r in range(12))
    source = write_md("## 표\n\n| 이름 | 종류 | 버전 | 설명 | 상태 | 비고 |\n"
                      f"|---|---|---|---|---|---|\n{rows}\n")
    out = tmp_path / "table.pptx"
    assert cli("build", source, "-o", out).code == 0
    prs = Presentation(str(out))
    assert any(n.startswith("Table") for s in prs.slides for n, _ in text_frames(s, False))
    assert sizes_below(prs, theme_data["sizes"]["body_min"], SMALL_PRINT) == []


def test_synthetic_deck_runs_name_both_faces(cli: Cli, write_md, make_image,
                                             tmp_path: Path) -> None:
    make_image("img/a.png", (400, 300))
    source = write_md("---\ntitle: 폰트\nsubtitle: 부제\nauthor: 나\n---\n\n"
                      "## 표와 코드\n\n| 가 | b |\n|---|---|\n| 한글 | `code` |\n\n"
                      "```\nprint('안녕')\n```\n\n> 인용 **굵게**\n\n"
                      "![없는 그림](img/none.png)\n\n## 링크\n\n- [문서](https://x.org)\n")
    out = tmp_path / "faces.pptx"
    assert cli("build", source, "-o", out).code == 0
    assert check_run_fonts(Presentation(str(out))) == []


def test_explicit_notes_are_in_the_notes_only(cli: Cli, write_md, tmp_path: Path) -> None:
    source = write_md("## S\n\nVisible text.\n\n::: notes\nHidden one.\n:::\n\n"
                      "<!-- notes: Hidden two. -->\n\nNote: Hidden three.\n")
    out = tmp_path / "notes.pptx"
    assert cli("build", source, "-o", out).code == 0
    slide = slide_by_title(Presentation(str(out)), "S")
    for hidden in ("Hidden one.", "Hidden two.", "Hidden three."):
        assert hidden not in slide_text(slide)
        assert hidden in notes_text(slide)
    assert "Visible text." in slide_text(slide)


# --- themes and version ----------------------------------------------------------------------


def test_themes_lists_default_with_a_description(cli: Cli) -> None:
    result = cli("themes")
    assert result.code == 0
    line = next(line for line in result.stdout.splitlines() if line.split()[0] == "default")
    assert len(line.split(None, 1)) == 2 and line.split(None, 1)[1].strip()


def test_version_through_main(cli: Cli) -> None:
    """`--version` prints on the stdout main() is given."""
    result = cli("--version")
    assert result.code == 0
    assert deckgen.__version__ in result.stdout


@pytest.mark.parametrize("command", [["deckgen"], [sys.executable, "-m", "deckgen"]],
                         ids=["entry-point", "python-m"])
def test_version_command_line(command: list[str]) -> None:
    if command[0] == "deckgen" and not any(
            (Path(d) / "deckgen").exists() for d in os.environ.get("PATH", "").split(os.pathsep)):
        pytest.skip("the deckgen entry point is not on PATH")
    done = subprocess.run([*command, "--version"], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0
    assert done.stdout.strip() == f"deckgen {deckgen.__version__}"


def test_continuation_slides_have_the_notes_of_their_own_items(cli: Cli, write_md,
                                                               tmp_path: Path) -> None:
    items = "\n".join(f"- 항목 {n}: Pod 리소스 {n}번 설명" for n in range(1, 41))
    source = write_md(f"## 마흔 개 항목\n\n{items}\n")
    deck = tmp_path / "list.pptx"
    assert cli("build", source, "-o", deck, "--overflow", "continue").code == 0
    slides = [slide for slide in Presentation(str(deck)).slides
              if slide.shapes.title is not None
              and slide.shapes.title.text.startswith("마흔 개 항목 (")]
    assert len(slides) > 2
    for slide in slides:
        body = " ".join(shape.text_frame.text for shape in slide.shapes
                        if shape.has_text_frame and shape.name.startswith("Text"))
        notes = slide.notes_slide.notes_text_frame.text
        shown = {line.split(":")[0] for line in body.split("\n") if line.startswith("항목")}
        spoken = {line.lstrip("• ").split(":")[0] for line in notes.split("\n") if line}
        assert shown and shown == spoken, slide.shapes.title.text
