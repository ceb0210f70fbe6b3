"""Company templates: layouts by name, placeholders, sample slides removed, fonts, colours."""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import CliResult, run_main, slide_title
from lxml import etree
from pptx import Presentation
from pptx.presentation import Presentation as PresentationType
from pptx.util import Emu, Inches
from rendercheck import SOFFICE_MISSING_REASON, misplaced_words, render_pdf, soffice_available

from deckgen.errors import DeckgenError, Diagnostics
from deckgen.template import read_template, template_grid
from deckgen.theme import contrast_ratio, load_theme

KOREAN_LAYOUTS = {"Title Slide": "제목 슬라이드", "Title and Content": "제목 및 내용",
                  "Section Header": "구역 머리글", "Two Content": "콘텐츠 2개",
                  "Title Only": "제목만", "Blank": "빈 화면"}
THEME_TYPE = "application/vnd.openxmlformats-officedocument.theme+xml"
A = "http://schemas.openxmlformats.org/drawingml/2006/main"
P = "http://schemas.openxmlformats.org/presentationml/2006/main"
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
P14 = "http://schemas.microsoft.com/office/powerpoint/2010/main"
SAMPLE_TITLE = "SAMPLE SLIDE OF THE TEMPLATE"
BRAND_BAR = f"""<p:sp xmlns:p="{P}" xmlns:a="{A}"><p:nvSpPr><p:cNvPr id="90" name="Brand bar"/>
<p:cNvSpPr/><p:nvPr/></p:nvSpPr><p:spPr><a:xfrm><a:off x="0" y="{{y}}"/>
<a:ext cx="{{w}}" cy="{{h}}"/></a:xfrm><a:prstGeom prst="rect"><a:avLst/></a:prstGeom>
<a:solidFill><a:schemeClr val="accent1"/></a:solidFill><a:ln><a:noFill/></a:ln></p:spPr></p:sp>"""


def make_template(path: Path, *, potx: bool = False,
                  names: dict[str, str] | None = None, drop: tuple[str, ...] = (),
                  width: int | None = None, dark: bool = False) -> Path:
    """A small company template made with python-pptx: its default 4:3 masters with the
    layouts renamed (in Korean by default), a Calibri / 맑은 고딕 font scheme, a dark red
    accent, a brand bar on the master, and one sample slide with notes; `drop` removes
    layouts by their English name; `potx` saves it as a template (.potx content type);
    `dark` maps the master's background to the scheme's dark colour and text to its light."""
    prs = Presentation()
    if width is not None:
        prs.slide_width = Emu(width)
    renamed = KOREAN_LAYOUTS if names is None else names
    for layout in list(prs.slide_layouts):
        if layout.name in drop:
            prs.slide_layouts.remove(layout)
        else:
            layout.name = renamed.get(layout.name, layout.name)
    for part in prs.part.package.iter_parts():
        if part.content_type == THEME_TYPE:
            part._blob = _company_theme(part.blob)
    master = prs.slide_master
    if dark:
        colour_map = master._element.find(f"{{{P}}}clrMap")
        for role, slot in (("bg1", "dk1"), ("tx1", "lt1"), ("bg2", "dk2"), ("tx2", "lt2")):
            colour_map.set(role, slot)
    bar = etree.fromstring(BRAND_BAR.format(y=prs.slide_height - Inches(0.12),
                                            w=prs.slide_width, h=Inches(0.12)))
    master.shapes._spTree.append(bar)
    sample = prs.slides.add_slide(prs.slide_layouts[0])
    sample.shapes.title.text = SAMPLE_TITLE
    sample.notes_slide.notes_text_frame.text = "sample notes"
    _list_in_a_section_and_a_custom_show(prs)
    prs.save(str(path))
    if potx:
        _as_potx(path)
    return path


def _list_in_a_section_and_a_custom_show(prs: PresentationType) -> None:
    """What PowerPoint saves beside the slide list: sections and a custom show that name
    the sample slide (they must go with it)."""
    root = prs.part._element
    slide_id = root.find(f"{{{P}}}sldIdLst/{{{P}}}sldId")
    shows = etree.fromstring(
        f'<p:custShowLst xmlns:p="{P}" xmlns:r="{R}"><p:custShow name="Short" id="0">'
        f'<p:sldLst><p:sld r:id="{slide_id.get(f"{{{R}}}id")}"/></p:sldLst></p:custShow>'
        "</p:custShowLst>")
    root.find(f"{{{P}}}defaultTextStyle").addprevious(shows)
    root.append(etree.fromstring(
        f'<p:extLst xmlns:p="{P}"><p:ext uri="{{521415D9-36F7-43E2-AB2F-B90AF26B5E84}}">'
        f'<p14:sectionLst xmlns:p14="{P14}"><p14:section name="Intro" '
        'id="{6A3B5A39-8C1E-4F31-9C39-1B0B1B1B1B1B}"><p14:sldIdLst>'
        f'<p14:sldId id="{slide_id.get("id")}"/></p14:sldIdLst></p14:section>'
        "</p14:sectionLst></p:ext></p:extLst>"))


def _company_theme(blob: bytes) -> bytes:
    root = etree.fromstring(blob)
    for tag in ("majorFont", "minorFont"):
        font = root.find(f".//{{{A}}}{tag}")
        assert font is not None
        font.find(f"{{{A}}}latin").set("typeface", "Calibri")
        font.find(f"{{{A}}}ea").set("typeface", "")
        for script in font.findall(f"{{{A}}}font"):
            if script.get("script") == "Hang":
                font.remove(script)
        etree.SubElement(font, f"{{{A}}}font", script="Hang", typeface="맑은 고딕")
    scheme = root.find(f".//{{{A}}}clrScheme")
    assert scheme is not None
    for slot, value in (("accent1", "C00000"), ("dk2", "1F3864"), ("hlink", "0B5394")):
        element = scheme.find(f"{{{A}}}{slot}")
        for child in list(element):
            element.remove(child)
        etree.SubElement(element, f"{{{A}}}srgbClr", val=value)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def _as_potx(path: Path) -> None:
    data = path.read_bytes()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == "[Content_Types].xml":
                content = content.replace(b"presentationml.presentation.main+xml",
                                          b"presentationml.template.main+xml")
            target.writestr(info, content)
    path.write_bytes(out.getvalue())


@pytest.fixture(scope="module")
def korean_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Korean 4:3 template fixture."""
    return make_template(tmp_path_factory.mktemp("template") / "company.pptx")


@pytest.fixture(scope="module")
def template_build(tmp_path_factory: pytest.TempPathFactory, korean_template: Path,
                   repo_root: Path, intro_md: Path) -> tuple[Path, CliResult]:
    """content/intro.md built on the Korean template."""
    out = tmp_path_factory.mktemp("template-build") / "intro.pptx"
    result = run_main("build", intro_md, "-o", out, "--template", korean_template,
                      "--resource-path", repo_root)
    assert result.code == 0, result.stderr
    return out, result


# --- reading templates --------------------------------------------------------------------


def test_layouts_found_by_korean_name(korean_template: Path) -> None:
    template = read_template(korean_template)
    assert template.layout("title").name == "제목 슬라이드"
    assert template.layout("content").name == "제목 및 내용"
    assert template.layout("section").name == "구역 머리글"
    assert template.layout("two_content").name == "콘텐츠 2개"
    assert template.layout("title_only").name == "제목만"
    assert template.layout("blank").name == "빈 화면"


def test_layouts_found_case_insensitively(tmp_path: Path) -> None:
    names = {"Title Slide": "TITLE SLIDE", "Title Only": "title  only"}
    template = read_template(make_template(tmp_path / "t.pptx", names=names))
    assert template.layout("title").name == "TITLE SLIDE"
    assert template.layout("title_only").name == "title  only"


def test_layouts_found_by_type_when_named_otherwise(tmp_path: Path) -> None:
    names = {"Section Header": "Kapitel", "Title Only": "Nur Titel"}
    template = read_template(make_template(tmp_path / "t.pptx", names=names))
    assert template.layout("section").name == "Kapitel"
    assert template.layout("title_only").name == "Nur Titel"


def test_layout_override_map(tmp_path: Path) -> None:
    path = make_template(tmp_path / "t.pptx", names={"Comparison": "회사 본문"})
    template = read_template(path, {"title_only": "회사 본문"})
    assert template.layout("title_only").name == "회사 본문"


def test_unknown_override_warns_and_falls_back(tmp_path: Path) -> None:
    diagnostics = Diagnostics()
    template = read_template(make_template(tmp_path / "t.pptx"), {"section": "Nope"},
                             diagnostics)
    assert template.layout("section").name == "구역 머리글"
    assert any("no layout named 'Nope'" in str(d) and "layouts.section" in str(d)
               for d in diagnostics.items)


def test_missing_layout_falls_back_with_a_warning(tmp_path: Path) -> None:
    diagnostics = Diagnostics()
    path = make_template(tmp_path / "t.pptx", drop=("Section Header",))
    template = read_template(path, None, diagnostics)
    assert template.layout("section").name == "제목만"
    messages = [str(d) for d in diagnostics.items]
    assert any("Section Header" in m and "구역 머리글" in m and "'제목만'" in m
               and str(path) in m for m in messages), messages


def test_template_size_fonts_and_colours(korean_template: Path) -> None:
    template = read_template(korean_template)
    assert (template.slide_width, template.slide_height) == (Inches(10), Inches(7.5))
    assert template.heading_font.latin == "Calibri"
    assert template.heading_font.east_asian == "맑은 고딕"  # from the Hangul script font
    assert template.colours["accent1"] == "#C00000"
    assert template.colours["bg1"] == "#FFFFFF" and template.colours["tx1"] == "#000000"
    assert template.sample_slides == 1


def test_dark_template_takes_text_and_background_as_its_master_maps_them(tmp_path: Path
                                                                        ) -> None:
    diagnostics = Diagnostics()
    theme = load_theme("default", diagnostics, make_template(tmp_path / "d.pptx", dark=True))
    assert theme.colors["background"] == "#000000" and theme.colors["text"] == "#FFFFFF"
    assert contrast_ratio(theme.colors["accent"], "#000000") >= 4.5  # not the dark accent1
    found = [m for m in map(str, diagnostics.items) if "contrast" in m]
    assert found and all("d.pptx" in m and "(from the template)" in m for m in found)
    assert any("colors.link #0B5394 on colors.background #000000" in m for m in found)


def test_potx_is_read_and_converted(tmp_path: Path) -> None:
    path = make_template(tmp_path / "company.potx", potx=True)
    with zipfile.ZipFile(path) as package:
        assert b"template.main+xml" in package.read("[Content_Types].xml")
    template = read_template(path)
    with zipfile.ZipFile(io.BytesIO(template.data)) as package:
        types = package.read("[Content_Types].xml")
    assert b"template.main+xml" not in types and b"presentation.main+xml" in types
    Presentation(io.BytesIO(template.data))  # python-pptx opens it now


@pytest.mark.invalid_deck("bad.pptx")
@pytest.mark.parametrize("content", [None, b"not a zip", b"PK\x03\x04broken"])
def test_missing_or_invalid_template_is_an_error_naming_it(tmp_path: Path,
                                                           content: bytes | None) -> None:
    path = tmp_path / "bad.pptx"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DeckgenError) as caught:
        read_template(path)
    assert str(path) in str(caught.value)


@pytest.mark.invalid_deck("letter.pptx")  # a Word document
def test_a_word_document_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "letter.pptx"
    with zipfile.ZipFile(path, "w") as package:
        package.writestr("[Content_Types].xml", (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Override PartName="/word/document.xml" ContentType="application/vnd.'
            'openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'))
        package.writestr("_rels/.rels", (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
            'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
            'officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>'
            '</Relationships>'))
        package.writestr("word/document.xml", "<document/>")
    with pytest.raises(DeckgenError, match="not a PowerPoint presentation or template"):
        read_template(path)


def test_cli_reports_a_missing_template(write_md: Callable[..., Path], tmp_path: Path) -> None:
    source = write_md("# Hello\n\ntext\n")
    result = run_main("build", source, "--template", tmp_path / "nope.pptx")
    assert result.code == 1
    assert "nope.pptx" in result.stderr and "template not found" in result.stderr
    assert not source.with_suffix(".pptx").exists()


# --- the theme on a template --------------------------------------------------------------


def test_grid_keeps_title_and_body_inside_the_placeholders(korean_template: Path) -> None:
    template = read_template(korean_template)
    layout = template.layout("content")
    assert layout.title is not None and layout.body is not None
    grid = template_grid(template, True, Inches(0.25), Inches(0.3))
    left, right = grid["margin_left"], template.slide_width - grid["margin_right"]
    assert left >= max(layout.title.box.x, layout.body.box.x)
    assert right <= min(layout.title.box.right, layout.body.box.right)
    assert grid["margin_top"] == layout.title.box.y
    assert grid["margin_top"] + grid["title_height"] <= layout.title.box.bottom
    body_bottom = (template.slide_height - grid["margin_bottom"] - grid["footer_height"]
                   - Inches(0.12))
    assert body_bottom <= layout.body.box.bottom


def test_theme_takes_the_templates_size_fonts_and_colours(korean_template: Path) -> None:
    theme = load_theme("default", Diagnostics(), korean_template)
    assert (theme.slide_width, theme.slide_height) == (Inches(10), Inches(7.5))
    assert theme.fonts["heading"].latin == "Calibri"
    assert theme.fonts["body"].east_asian == "맑은 고딕"
    assert theme.fonts["code"].latin == "Consolas"  # templates have no code face
    assert theme.colors["accent"] == "#C00000"
    assert theme.colors["background"] == "#FFFFFF"
    assert theme.template is not None


def test_theme_keys_override_the_template(tmp_path: Path, korean_template: Path) -> None:
    theme_file = tmp_path / "corp.toml"
    theme_file.write_text(
        f'extends = "default"\ntemplate = "{korean_template}"\n'
        '[colors]\naccent = "#005A9C"\n[fonts.heading]\nlatin = "Arial"\n'
        'east_asian = "Malgun Gothic"\n', encoding="utf-8")
    theme = load_theme(str(theme_file), Diagnostics(), roots=(korean_template.parent,))
    assert theme.template is not None
    assert theme.colors["accent"] == "#005A9C"
    assert theme.fonts["heading"].latin == "Arial"
    assert theme.fonts["body"].latin == "Calibri"  # not overridden: the template's


def test_theme_template_path_is_relative_to_the_theme(tmp_path: Path) -> None:
    folder = tmp_path / "brand"
    folder.mkdir()
    make_template(folder / "company.potx", potx=True)
    (folder / "brand.toml").write_text('extends = "default"\ntemplate = "company.potx"\n',
                                       encoding="utf-8")
    theme = load_theme(str(folder / "brand.toml"), Diagnostics())
    assert theme.template is not None and theme.template.path == folder / "company.potx"


# --- the built deck -----------------------------------------------------------------------


def test_template_build_has_no_sample_slide_and_no_orphan(template_build: tuple[Path, CliResult]
                                                         ) -> None:
    deck, _ = template_build
    prs = Presentation(str(deck))
    titles = [slide_title(slide) for slide in prs.slides]
    assert SAMPLE_TITLE not in titles
    assert titles[1] == "Introduction"
    with zipfile.ZipFile(deck) as package:
        names = set(package.namelist())
        slides = {n for n in names if re.fullmatch(r"ppt/slides/slide\d+\.xml", n)}
        assert len(slides) == len(prs.slides)
        notes = {n for n in names if re.fullmatch(r"ppt/notesSlides/notesSlide\d+\.xml", n)}
        assert len(notes) == sum(slide.has_notes_slide for slide in prs.slides)
        assert not any(SAMPLE_TITLE.encode() in package.read(n) for n in names
                       if n.endswith(".xml"))
        assert _unreachable_parts(package) == set()
        assert _dangling_references(package) == set()
        presentation = package.read("ppt/presentation.xml")
        assert b"custShow" not in presentation and b"sectionLst" not in presentation


def _dangling_references(package: zipfile.ZipFile) -> set[str]:
    """`r:` relationship ids used in a part that its relationships do not define, and
    relationships whose target part is missing."""
    names = set(package.namelist())
    problems = set()
    for name in names:
        if not name.endswith(".xml"):
            continue
        folder, base = posixpath.split(name)
        rels_name = posixpath.join(folder, "_rels", f"{base}.rels")
        rels = ({rel.get("Id"): rel for rel in etree.fromstring(package.read(rels_name))}
                if rels_name in names else {})
        for rel_id, rel in rels.items():
            target = posixpath.normpath(posixpath.join(folder, rel.get("Target", "")))
            if rel.get("TargetMode") != "External" and target not in names:
                problems.add(f"{rels_name}: {rel_id} -> missing {target}")
        used = {value for element in etree.fromstring(package.read(name)).iter()
                for key, value in element.attrib.items() if key.startswith(f"{{{R}}}")}
        problems.update(f"{name}: {rel_id} undefined" for rel_id in used - set(rels))
    return problems


def _unreachable_parts(package: zipfile.ZipFile) -> set[str]:
    """Parts of the package no relationship leads to (orphans)."""
    names = set(package.namelist())
    parts = {n for n in names if not n.endswith(".rels") and n != "[Content_Types].xml"}
    reached: set[str] = set()
    todo = [""]
    while todo:
        part = todo.pop()
        folder, name = posixpath.split(part)
        rels = posixpath.join(folder, "_rels", f"{name}.rels")
        if rels not in names:
            continue
        for rel in etree.fromstring(package.read(rels)):
            if rel.get("TargetMode") == "External":
                continue
            target = posixpath.normpath(posixpath.join(folder, rel.get("Target", "")))
            if target not in reached:
                reached.add(target)
                todo.append(target)
    return parts - reached


def test_template_build_uses_its_layouts_and_size(template_build: tuple[Path, CliResult]
                                                 ) -> None:
    prs = Presentation(str(template_build[0]))
    assert (prs.slide_width, prs.slide_height) == (Inches(10), Inches(7.5))
    used = [slide.slide_layout.name for slide in prs.slides]
    assert used[0] == "제목 슬라이드"
    assert set(used[1:]) <= {"제목만", "구역 머리글", "빈 화면"}
    assert "제목만" in used[1:]


def test_template_build_fills_title_and_subtitle_placeholders(
        template_build: tuple[Path, CliResult]) -> None:
    prs = Presentation(str(template_build[0]))
    title_slide = prs.slides[0]
    placeholders = {ph.placeholder_format.type: ph for ph in title_slide.placeholders}
    assert len(placeholders) == 2
    layout_title = title_slide.slide_layout.placeholders[0]
    title = title_slide.shapes.title
    assert "쿠버네티스 입문" in title.text_frame.text
    assert (title.left, title.top, title.width, title.height) == (
        layout_title.left, layout_title.top, layout_title.width, layout_title.height)
    subtitle = next(ph for ph in title_slide.placeholders if ph.placeholder_format.idx == 1)
    assert "1991" in subtitle.text_frame.text and "Kubernetes 스터디" in subtitle.text_frame.text
    for slide in prs.slides:  # no empty placeholder prompts anywhere
        for placeholder in slide.placeholders:
            assert placeholder.text_frame.text.strip()


def test_template_build_content_inside_the_template_placeholders(
        template_build: tuple[Path, CliResult], korean_template: Path) -> None:
    content = read_template(korean_template).layout("content")
    assert content.title is not None and content.body is not None
    title_box, body_box = content.title.box, content.body.box
    prs = Presentation(str(template_build[0]))
    for slide in list(prs.slides)[1:]:
        if slide.slide_layout.name != "제목만":
            continue
        title = slide.shapes.title
        assert title_box.x <= title.left and title.left + title.width <= title_box.right
        assert title_box.y <= title.top
        for shape in slide.shapes:
            if shape.name.startswith(("Text", "Picture", "Callout", "Code", "Table")):
                assert body_box.x <= shape.left
                assert shape.left + shape.width <= body_box.right
                assert shape.top + shape.height <= body_box.bottom


def test_template_build_uses_template_fonts_and_keeps_its_colours(
        template_build: tuple[Path, CliResult]) -> None:
    deck = template_build[0]
    prs = Presentation(str(deck))
    runs = [run for slide in prs.slides for shape in slide.shapes if shape.has_text_frame
            for paragraph in shape.text_frame.paragraphs for run in paragraph.runs]
    latin = {run._r.find(f"{{{A}}}rPr/{{{A}}}latin").get("typeface") for run in runs}
    assert "Calibri" in latin and "Arial" not in latin
    with zipfile.ZipFile(deck) as package:
        theme = package.read("ppt/theme/theme1.xml")
    assert b'<a:srgbClr val="C00000"/>' in theme  # the template's accent is untouched
    assert "맑은 고딕".encode() in theme


def test_potx_template_builds(tmp_path: Path, write_md: Callable[..., Path]) -> None:
    template = make_template(tmp_path / "company.potx", potx=True)
    source = write_md("---\ntitle: 발표\n---\n\n# 첫 장\n\n본문 문장.\n")
    out = tmp_path / "out.pptx"
    result = run_main("build", source, "-o", out, "--template", template)
    assert result.code == 0, result.stderr
    with zipfile.ZipFile(out) as package:
        assert b"presentation.main+xml" in package.read("[Content_Types].xml")
    assert len(Presentation(str(out)).slides) == 2


def test_front_matter_template_is_relative_to_the_note(tmp_path: Path,
                                                       write_md: Callable[..., Path]) -> None:
    (tmp_path / "brand").mkdir()
    make_template(tmp_path / "brand" / "company.pptx")
    source = write_md("---\ntitle: 발표\ntemplate: brand/company.pptx\n---\n\n# 첫 장\n\n본문.\n")
    out = tmp_path / "out.pptx"
    result = run_main("build", source, "-o", out)
    assert result.code == 0, result.stderr
    assert Presentation(str(out)).slides[0].slide_layout.name == "제목 슬라이드"


def test_template_without_section_layout_builds_with_a_warning(
        tmp_path: Path, write_md: Callable[..., Path]) -> None:
    template = make_template(tmp_path / "t.pptx", drop=("Section Header", "Title Slide"))
    source = write_md("---\ntitle: 발표\n---\n\n# 장\n\n## 절\n\n본문.\n")
    out = tmp_path / "out.pptx"
    result = run_main("build", source, "-o", out, "--template", template)
    assert result.code == 0, result.stderr
    assert "'Title Slide' layout" in result.stderr and "'Section Header'" in result.stderr
    Presentation(str(out))


def test_template_build_renders_without_misplaced_words(
        template_build: tuple[Path, CliResult], tmp_path: Path) -> None:
    if not soffice_available():
        pytest.skip(SOFFICE_MISSING_REASON)
    deck = template_build[0]
    pdf = render_pdf(deck, tmp_path)
    assert misplaced_words(deck, pdf) == []
