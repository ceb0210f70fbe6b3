"""Hostile templates and themes: nothing external, no macro or embedded part carried, zip
bombs stopped within bounds, damaged parts named, theme files inside the allowed folders."""

from __future__ import annotations

import http.server
import os
import posixpath
import re
import struct
import subprocess
import sys
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import REPO_ROOT, draw_picture, run_main
from lxml import etree
from pptx import Presentation
from rendercheck import SOFFICE_MISSING_REASON, soffice_available
from test_template import A, P, R, _dangling_references, _unreachable_parts, make_template

import deckgen.template as template_module
from deckgen.errors import DeckgenError
from deckgen.template import read_template

RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
PACKAGE_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
MASTER = "ppt/slideMasters/slideMaster1.xml"
LAYOUT = "ppt/slideLayouts/slideLayout1.xml"
NOTE = "---\ntitle: 발표\n---\n\n# 첫 장\n\n본문 문장.\n"
#: Parts a deck must never carry from a template.
DANGEROUS = re.compile(r"vbaProject|embeddings/|activeX|customXml|thumbnail|printerSettings")


# --- zips written by hand (sizes that lie, streams that expand) -------------------------


def raw_zip(path: Path, entries: list[tuple[str, bytes, int, int]]) -> Path:
    """A zip of deflated entries given as (name, raw deflate stream, CRC-32, declared
    size): what the zip says each entry unpacks to may differ from what it does."""
    body, directory = bytearray(), bytearray()
    for name, stream, crc, size in entries:
        encoded = name.encode()
        header = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(stream),
                             size, len(encoded), 0)
        directory += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21,
                                 crc, len(stream), size, len(encoded), 0, 0, 0, 0, 0,
                                 len(body)) + encoded
        body += header + encoded + stream
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries),
                      len(directory), len(body), 0)
    path.write_bytes(bytes(body + directory + end))
    return path


def deflated(data: bytes) -> tuple[bytes, int, int]:
    """A raw deflate stream of `data`, its CRC-32 and size."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush(), zlib.crc32(data), len(data)


def spaces(megabytes: int) -> tuple[bytes, int, int]:
    """A deflate stream that unpacks to `megabytes` MB of spaces, made without compressing
    them all: one flushed block of 1 MB, repeated (a zip bomb's trick)."""
    chunk = b" " * 2**20
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = packer.compress(chunk) + packer.flush(zlib.Z_FULL_FLUSH)
    assert packer.compress(chunk) + packer.flush(zlib.Z_FULL_FLUSH) == block
    crc = 0
    for _ in range(megabytes):
        crc = zlib.crc32(chunk, crc)
    return block * megabytes + packer.flush(), crc, megabytes * 2**20


def template_entries(base: Path) -> dict[str, tuple[bytes, int, int]]:
    with zipfile.ZipFile(base) as package:
        return {name: deflated(package.read(name)) for name in package.namelist()}


def with_part(base: Path, path: Path, name: str, entry: tuple[bytes, int, int]) -> Path:
    """The template `base` with one part's stream (and declared size) replaced."""
    entries = template_entries(base)
    entries[name] = entry
    return raw_zip(path, [(part, *value) for part, value in entries.items()])


# --- running deckgen bounded -------------------------------------------------------------


def run_bounded(*argv: str | Path, memory: int = 1024, seconds: int = 60
                ) -> subprocess.CompletedProcess[str]:
    """deckgen in a subprocess whose address space is capped at `memory` MB."""
    limit = memory * 2**20
    code = ("import resource, sys; "
            f"resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit})); "
            "from deckgen.cli import entry; sys.argv[0] = 'deckgen'; entry()")
    environment = {**os.environ,
                   "PYTHONPATH": os.pathsep.join(filter(None, (
                       str(REPO_ROOT), os.environ.get("PYTHONPATH", ""))))}
    return subprocess.run([sys.executable, "-c", code, *map(str, argv)], capture_output=True,
                           text=True, timeout=seconds, env=environment, check=False)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "error" in line]


def refused_leaving_the_deck(code: int, stderr: str, error: str, previous_deck: Path) -> None:
    """The build failed with exactly this one error line, and the previous deck is as it
    was."""
    assert code == 1, stderr
    assert stderr.strip() == f"deckgen: error: {error}"
    assert previous_deck.read_bytes() == b"the previous deck"


@pytest.fixture
def note(tmp_path: Path) -> Path:
    path = tmp_path / "notes" / "talk.md"
    path.parent.mkdir()
    path.write_text(NOTE, encoding="utf-8")
    return path


@pytest.fixture
def previous_deck(tmp_path: Path) -> Path:
    """An output path holding the last build's deck, which a failed build must keep."""
    path = tmp_path / "out.pptx"
    path.write_bytes(b"the previous deck")
    return path


# --- 3 and 7: external links and dangerous parts -----------------------------------------


def hostile_template(folder: Path, port: int, secret: Path, macro: bool = True) -> Path:
    """A template (macro-enabled with `macro`) whose master links a picture from a web
    server, has a file:/// hyperlink, an embedded OLE object, an ActiveX control and a
    picture whose SVG version draws from the web server; whose layout links a
    local picture; whose presentation attaches a remote template and carries a VBA project
    and a large custom XML part; and which keeps its thumbnail."""
    base = make_template(folder / "base.pptx")
    with zipfile.ZipFile(base) as package:
        parts = {name: package.read(name) for name in package.namelist()}

    def add_rels(part: str, rels: str) -> None:
        folder_name, name = part.rsplit("/", 1)
        rels_name = f"{folder_name}/_rels/{name}.rels"
        parts[rels_name] = parts[rels_name].replace(b"</Relationships>",
                                                    rels.encode() + b"</Relationships>")

    def shape(rel_id: str, attribute: str) -> str:
        return (f'<p:pic xmlns:p="{P}" xmlns:a="{A}" xmlns:r="{R}"><p:nvPicPr>'
                '<p:cNvPr id="77" name="Linked"/><p:cNvPicPr/><p:nvPr/></p:nvPicPr>'
                f'<p:blipFill><a:blip {attribute}="{rel_id}"/><a:stretch><a:fillRect/>'
                '</a:stretch></p:blipFill><p:spPr><a:xfrm><a:off x="0" y="0"/>'
                '<a:ext cx="914400" cy="914400"/></a:xfrm><a:prstGeom prst="rect">'
                "<a:avLst/></a:prstGeom></p:spPr></p:pic>")

    master = etree.fromstring(parts[MASTER])
    tree = master.find(f"{{{P}}}cSld/{{{P}}}spTree")
    tree.append(etree.fromstring(shape("rId90", "r:link")))
    bar = next(element for element in tree.iter(f"{{{P}}}cNvPr")
               if element.get("name") == "Brand bar")
    etree.SubElement(bar, f"{{{A}}}hlinkClick").set(f"{{{R}}}id", "rId91")
    tree.append(etree.fromstring(
        f'<p:graphicFrame xmlns:p="{P}" xmlns:a="{A}" xmlns:r="{R}"><p:nvGraphicFramePr>'
        '<p:cNvPr id="78" name="Object"/><p:cNvGraphicFramePr/><p:nvPr/>'
        '</p:nvGraphicFramePr><p:xfrm><a:off x="0" y="0"/><a:ext cx="9144" cy="9144"/>'
        '</p:xfrm><a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/'
        'presentationml/2006/ole"><p:oleObj r:id="rId92" progId="Package"><p:embed/>'
        "</p:oleObj></a:graphicData></a:graphic></p:graphicFrame>"))
    tree.append(etree.fromstring(
        f'<p:pic xmlns:p="{P}" xmlns:a="{A}" xmlns:r="{R}"><p:nvPicPr><p:cNvPr id="79" '
        'name="Vector"/><p:cNvPicPr/><p:nvPr/></p:nvPicPr><p:blipFill><a:blip r:embed="rId94">'
        '<a:extLst><a:ext uri="{96DAC541-7B7A-43D3-8B79-37D633B846F1}"><asvg:svgBlip '
        'xmlns:asvg="http://schemas.microsoft.com/office/drawing/2016/SVG/main" '
        'r:embed="rId95"/></a:ext></a:extLst></a:blip></p:blipFill><p:spPr/></p:pic>'))
    tree.addnext(etree.fromstring(f'<p:controls xmlns:p="{P}" xmlns:r="{R}"><p:control '
                                  'name="X" spid="_x0000_s1025" r:id="rId93"/></p:controls>'))
    parts[MASTER] = etree.tostring(master)
    add_rels(MASTER, (
        f'<Relationship Id="rId90" Type="{RELS}image" Target="http://127.0.0.1:{port}/'
        'linked.png" TargetMode="External"/>'
        f'<Relationship Id="rId91" Type="{RELS}hyperlink" Target="file:///etc/passwd" '
        'TargetMode="External"/>'
        f'<Relationship Id="rId92" Type="{RELS}oleObject" '
        'Target="../embeddings/oleObject1.bin"/>'
        f'<Relationship Id="rId93" Type="{RELS}control" Target="../activeX/activeX1.xml"/>'
        f'<Relationship Id="rId94" Type="{RELS}image" Target="../media/vector.png"/>'
        f'<Relationship Id="rId95" Type="{RELS}image" Target="../media/vector.svg"/>'))
    draw_picture(folder / "vector.png", (32, 32), "#00AA00")
    parts["ppt/media/vector.png"] = (folder / "vector.png").read_bytes()
    parts["ppt/media/vector.svg"] = (
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'width="32" height="32"><image xlink:href="http://127.0.0.1:{port}/svg.png" '
        'width="32" height="32"/></svg>').encode()
    layout = etree.fromstring(parts[LAYOUT])
    layout.find(f"{{{P}}}cSld/{{{P}}}spTree").append(etree.fromstring(shape("rId90",
                                                                              "r:link")))
    parts[LAYOUT] = etree.tostring(layout)
    add_rels(LAYOUT, f'<Relationship Id="rId90" Type="{RELS}image" Target="file://{secret}" '
                     'TargetMode="External"/>')
    add_rels("ppt/presentation.xml", (
        f'<Relationship Id="rId90" Type="{RELS}attachedTemplate" '
        f'Target="http://127.0.0.1:{port}/attached.potx" TargetMode="External"/>'
        '<Relationship Id="rId91" Type="http://schemas.microsoft.com/office/2006/'
        'relationships/vbaProject" Target="vbaProject.bin"/>'
        f'<Relationship Id="rId92" Type="{RELS}customXml" Target="../customXml/item1.xml"/>'))
    parts["ppt/vbaProject.bin"] = b"\xd0\xcf\x11\xe0 macro"
    parts["ppt/embeddings/oleObject1.bin"] = b"\xd0\xcf\x11\xe0 object"
    parts["ppt/activeX/activeX1.xml"] = b"<ax:ocx xmlns:ax='urn:x'/>"
    parts["customXml/item1.xml"] = b"<data>" + b" " * 8 * 2**20 + b"</data>"
    if macro:
        parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
            b"application/vnd.openxmlformats-officedocument.presentationml.presentation."
            b"main+xml", b"application/vnd.ms-powerpoint.presentation.macroEnabled.main+xml")
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        b"</Types>",
        b'<Override PartName="/ppt/vbaProject.bin" '
        b'ContentType="application/vnd.ms-office.vbaProject"/>'
        b'<Override PartName="/ppt/embeddings/oleObject1.bin" '
        b'ContentType="application/vnd.openxmlformats-officedocument.oleObject"/>'
        b'<Override PartName="/ppt/activeX/activeX1.xml" '
        b'ContentType="application/vnd.ms-office.activeX+xml"/>'
        b'<Default Extension="png" ContentType="image/png"/>'
        b'<Default Extension="svg" ContentType="image/svg+xml"/></Types>')
    path = folder / ("company.pptm" if macro else "company.pptx")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as package:
        for name, data in parts.items():
            package.writestr(name, data)
    return path


@pytest.fixture
def web_server() -> Iterator[tuple[int, list[str]]]:
    """A web server on 127.0.0.1 that records every request it gets (and answers 404)."""
    requests: list[str] = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            self.send_error(404)

        do_HEAD = do_POST = do_PROPFIND = do_OPTIONS = do_GET

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    server.timeout = 5
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def assert_carries_nothing_hostile(deck: Path) -> None:
    with zipfile.ZipFile(deck) as package:
        names = package.namelist()
        assert not [name for name in names if DANGEROUS.search(name)]
        for name in names:
            if name.endswith(".rels"):
                assert b'TargetMode="External"' not in package.read(name), name
        types = package.read("[Content_Types].xml")
        assert b"macroEnabled" not in types and b"vbaProject" not in types
        assert _dangling_references(package) == set()
        assert _unreachable_parts(package) == set()
        master = package.read(MASTER)
        assert b'name="Object"' not in master and b"p:control " not in master
        assert b'name="Vector"' in master and b"svgBlip" not in master
        assert not [name for name in names if name.endswith(".svg")]
        assert [name for name in names if name.startswith("ppt/media/")]
        assert b"r:link" not in master and b"r:link" not in package.read(LAYOUT)


def test_hostile_template_carries_no_external_link_and_no_dangerous_part(
        tmp_path: Path, note: Path, web_server: tuple[int, list[str]]) -> None:
    secret = tmp_path / "secret.png"
    draw_picture(secret, (64, 64), "#FF0000")
    template = hostile_template(tmp_path, web_server[0], secret)
    out = tmp_path / "out.pptx"
    result = run_main("build", note, "-o", out, "--template", template)
    assert result.code == 0, result.stderr
    assert_carries_nothing_hostile(out)
    warnings = [line for line in result.stderr.splitlines() if str(template) in line]
    external = [line for line in warnings if "external links" in line]
    dropped = [line for line in warnings if "not carried" in line and "parts" in line]
    assert len(external) == 1 and "file:///etc/passwd" in external[0]
    assert len(dropped) == 1
    assert all(part in dropped[0] for part in ("ppt/vbaProject.bin", "customXml/item1.xml",
                                               "ppt/embeddings/oleObject1.bin"))
    assert "thumbnail" not in dropped[0]  # every saved file has one: left out quietly
    prs = Presentation(str(out))
    assert prs.slides[0].slide_layout.name == "제목 슬라이드"
    assert web_server[1] == []


@pytest.mark.skipif(not soffice_available(), reason=SOFFICE_MISSING_REASON)
@pytest.mark.invalid_deck("company.pptx")
def test_hostile_template_pdf_makes_no_request(tmp_path: Path, note: Path,
                                               web_server: tuple[int, list[str]]) -> None:
    secret = tmp_path / "secret.png"
    draw_picture(secret, (64, 64), "#FF0000")
    template = hostile_template(tmp_path, web_server[0], secret, macro=False)
    out = tmp_path / "out.pptx"
    result = run_main("build", note, "-o", out, "--template", template, "--pdf")
    assert result.code == 0, result.stderr
    assert out.with_suffix(".pdf").is_file()
    assert web_server[1] == []
    assert_carries_nothing_hostile(out)


# --- 8: zip bombs ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_template(tmp_path_factory.mktemp("base") / "base.pptx")


@pytest.mark.parametrize(("megabytes", "declared", "message"), [
    (1024, None, "part ppt/presentation.xml unpacks to more than 4 MB"),  # 1 MB -> 1 GB
    (1024, 4000, "part ppt/presentation.xml is damaged"),  # says 4 KB, holds 1 GB
    (60, 2 * 2**20, "part ppt/presentation.xml is damaged"),  # says 2 MB, holds 60 MB
    (3, None, "part ppt/presentation.xml expands more than 100 times"),
])
@pytest.mark.invalid_deck("bomb.pptx", "out.pptx")
def test_template_zip_bomb_is_refused_within_bounds(
        tmp_path: Path, note: Path, previous_deck: Path, base_template: Path,
        megabytes: int, declared: int | None, message: str) -> None:
    stream, crc, size = spaces(megabytes)
    bomb = with_part(base_template, tmp_path / "bomb.pptx", "ppt/presentation.xml",
                     (stream, crc, declared or size))
    assert bomb.stat().st_size < 1.5 * 2**20
    result = run_bounded("build", note, "-o", previous_deck, "--template", bomb,
                         memory=700, seconds=60)
    assert result.returncode == 1, result.stderr
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and message in lines[0] and str(bomb) in lines[0], result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    assert previous_deck.read_bytes() == b"the previous deck"
    assert sorted(path.name for path in previous_deck.parent.iterdir()) == [
        "bomb.pptx", "notes", "out.pptx"]


@pytest.mark.parametrize(("cap", "message"), [
    ("MAX_TOTAL_BYTES", "brings the template's parts to more than"),
    ("MAX_XML_BYTES", "brings the template's XML parts to more than"),
])
def test_template_parts_together_are_capped(base_template: Path, cap: str, message: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(template_module, cap, 40_000)
    with pytest.raises(DeckgenError, match=message) as caught:
        read_template(base_template)
    assert caught.value.file == base_template


@pytest.mark.invalid_deck("bomb.pptx")
def test_picture_bomb_in_a_template_is_refused(tmp_path: Path, base_template: Path) -> None:
    entries = template_entries(base_template)
    entries["ppt/media/image1.png"] = spaces(1024)
    rels = "ppt/slideMasters/_rels/slideMaster1.xml.rels"
    entries[rels] = deflated(zipfile.ZipFile(base_template).read(rels).replace(
        b"</Relationships>", f'<Relationship Id="rId90" Type="{RELS}image" '
        'Target="../media/image1.png"/></Relationships>'.encode()))
    entries[MASTER] = deflated(re.sub(
        rb"<p:bg>.*?</p:bg>", f'<p:bg><p:bgPr><a:blipFill><a:blip xmlns:r="{R}" '
        'r:embed="rId90"/></a:blipFill><a:effectLst/></p:bgPr></p:bg>'.encode(),
        zipfile.ZipFile(base_template).read(MASTER)))
    entries["[Content_Types].xml"] = deflated(zipfile.ZipFile(base_template).read(
        "[Content_Types].xml").replace(
        b"</Types>", b'<Default Extension="png" ContentType="image/png"/></Types>'))
    template = raw_zip(tmp_path / "bomb.pptx", [(n, *v) for n, v in entries.items()])
    with pytest.raises(DeckgenError, match=re.escape("part ppt/media/image1.png unpacks to "
                                                     "more than 64 MB")):
        read_template(template)


def test_template_of_too_many_parts_is_refused(tmp_path: Path, base_template: Path) -> None:
    entries = [(name, *value) for name, value in template_entries(base_template).items()]
    empty = deflated(b"")
    entries += [(f"x/{number}", *empty) for number in range(25_000)]
    template = raw_zip(tmp_path / "many.pptx", entries)
    with pytest.raises(DeckgenError, match="zip directory is larger than 1 MB") as caught:
        read_template(template)
    assert caught.value.file == template


@pytest.mark.parametrize("small_size", [0, 46, 0xFFFFFFFF])
@pytest.mark.invalid_deck("z64.pptx")
def test_zip64_directory_of_too_many_parts_is_refused(tmp_path: Path,
                                                      small_size: int) -> None:
    """The ZIP64 end record gives the directory's size that zipfile reads, whatever the
    old end record says."""
    name, data = b"a", b"x"
    crc = zlib.crc32(data)
    body = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0x21, crc, 1, 1, len(name),
                       0) + name + data
    entry = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 0, 0, 0x21, crc, 1, 1,
                        len(name), 0, 0, 0, 0, 0, 0) + name
    count = 30_000
    directory = entry * count
    record = struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, count, count,
                         len(directory), len(body))
    locator = struct.pack("<IIQI", 0x07064B50, 0, len(body) + len(directory), 1)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, small_size,
                      0xFFFFFFFF, 0)
    template = tmp_path / "z64.pptx"
    template.write_bytes(body + directory + record + locator + end)
    assert len(zipfile.ZipFile(template).namelist()) == count  # zipfile reads it all
    with pytest.raises(DeckgenError, match="zip directory is larger than 1 MB") as caught:
        read_template(template)
    assert caught.value.file == template


def test_a_large_template_file_is_refused(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    path = make_template(tmp_path / "big.pptx")
    monkeypatch.setattr(template_module, "MAX_TEMPLATE_BYTES", path.stat().st_size - 1)
    with pytest.raises(DeckgenError, match="template is larger than") as caught:
        read_template(path)
    assert caught.value.file == path


# --- 12 and 14: damaged parts and bad values ---------------------------------------------


@pytest.mark.invalid_deck("broken.pptx", "out.pptx")
def test_corrupt_deflate_stream_names_the_template_and_part(
        tmp_path: Path, note: Path, previous_deck: Path, base_template: Path) -> None:
    stream, crc, size = template_entries(base_template)[LAYOUT]
    broken = stream[:8] + b"\xff" * 16 + stream[24:]
    template = with_part(base_template, tmp_path / "broken.pptx", LAYOUT,
                         (broken, crc, size))
    result = run_main("build", note, "-o", previous_deck, "--template", template)
    assert result.code == 1
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and str(template) in lines[0], result.stderr
    assert f"part {LAYOUT} is damaged" in lines[0] and "internal error" not in lines[0]
    assert previous_deck.read_bytes() == b"the previous deck"


@pytest.mark.invalid_deck("logo.pptx")
def test_damaged_picture_of_the_design_is_left_out_with_a_warning(
        tmp_path: Path, note: Path, base_template: Path) -> None:
    entries = template_entries(base_template)
    master = etree.fromstring(zipfile.ZipFile(base_template).read(MASTER))
    master.find(f"{{{P}}}cSld/{{{P}}}spTree").append(etree.fromstring(
        f'<p:pic xmlns:p="{P}" xmlns:a="{A}" xmlns:r="{R}"><p:nvPicPr><p:cNvPr id="77" '
        'name="Logo"/><p:cNvPicPr/><p:nvPr/></p:nvPicPr><p:blipFill><a:blip r:embed="rId90"/>'
        '</p:blipFill><p:spPr/></p:pic>'))
    entries[MASTER] = deflated(etree.tostring(master))
    rels = "ppt/slideMasters/_rels/slideMaster1.xml.rels"
    entries[rels] = deflated(zipfile.ZipFile(base_template).read(rels).replace(
        b"</Relationships>", f'<Relationship Id="rId90" Type="{RELS}image" '
        'Target="../media/logo.png"/></Relationships>'.encode()))
    picture, crc, size = deflated(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64)
    entries["ppt/media/logo.png"] = (picture[:4] + b"\xff" * 12 + picture[16:], crc, size)
    entries["[Content_Types].xml"] = deflated(zipfile.ZipFile(base_template).read(
        "[Content_Types].xml").replace(
        b"</Types>", b'<Default Extension="png" ContentType="image/png"/></Types>'))
    template = raw_zip(tmp_path / "logo.pptx", [(n, *v) for n, v in entries.items()])
    out = tmp_path / "out.pptx"
    result = run_main("build", note, "-o", out, "--template", template)
    assert result.code == 0, result.stderr
    assert "part ppt/media/logo.png is damaged" in result.stderr
    assert str(template) in result.stderr
    with zipfile.ZipFile(out) as package:
        assert not [name for name in package.namelist() if "logo" in name]
        assert _dangling_references(package) == set()
    Presentation(str(out))


@pytest.mark.parametrize(("cx", "cy"), [("abc", "6858000"), ("51206400000", "6858000"),
                                        ("9144000", "-5"), ("1", "1")])
@pytest.mark.invalid_deck("size.pptx")
def test_bad_template_slide_size_becomes_the_default_with_a_warning(
        tmp_path: Path, note: Path, base_template: Path, cx: str, cy: str) -> None:
    presentation = zipfile.ZipFile(base_template).read("ppt/presentation.xml")
    presentation = re.sub(rb'<p:sldSz cx="\d+" cy="\d+"', f'<p:sldSz cx="{cx}" cy="{cy}"'
                          .encode(), presentation)
    template = with_part(base_template, tmp_path / "size.pptx", "ppt/presentation.xml",
                         deflated(presentation))
    out = tmp_path / "out.pptx"
    result = run_main("build", note, "-o", out, "--template", template)
    assert result.code == 0, result.stderr
    warning = [line for line in result.stderr.splitlines() if "slide size" in line]
    assert len(warning) == 1 and warning[0].startswith(f"{template}: warning:")
    assert "default.toml" not in result.stderr
    prs = Presentation(str(out))
    assert (prs.slide_width, prs.slide_height) == (12192000, 6858000)


def test_template_grid_the_deck_cannot_use_blames_the_template(
        tmp_path: Path, note: Path, base_template: Path) -> None:
    entries = template_entries(base_template)
    with zipfile.ZipFile(base_template) as package:
        presentation, master = package.read("ppt/presentation.xml"), package.read(MASTER)
    entries["ppt/presentation.xml"] = deflated(re.sub(  # a 4 × 3 in slide
        rb'<p:sldSz cx="\d+" cy="\d+"', b'<p:sldSz cx="3657600" cy="2743200"', presentation))
    title = re.search(rb'type="title"/>.*?<a:off x="\d+" y="(\d+)"', master, re.S)
    assert title is not None  # the title placeholder 2 in down the slide
    entries[MASTER] = deflated(master[:title.start(1)] + b"1828800" + master[title.end(1):])
    template = raw_zip(tmp_path / "grid.pptx", [(n, *v) for n, v in entries.items()])
    out = tmp_path / "out.pptx"
    result = run_main("build", note, "-o", out, "--template", template)
    assert result.code == 0, result.stderr
    assert "default.toml" not in result.stderr
    warning = [line for line in result.stderr.splitlines() if "grid" in line]
    assert len(warning) == 1 and warning[0].startswith(f"{template}: warning:")


@pytest.mark.parametrize(("part", "pattern", "bad"), [
    (LAYOUT, rb' x="\d+"', b' x="1e400"'),
    (MASTER, rb' x="\d+"', b' x="abc"'),
    (MASTER, rb' cy="\d+"', b' cy="99999999999999999999"'),
    (MASTER, rb' type="title"', b' type="abc"'),
    (LAYOUT, rb' idx="\d+"', b' idx="-1"'),
])
@pytest.mark.invalid_deck("box.pptx")
def test_bad_placeholder_values_are_left_to_their_defaults(
        tmp_path: Path, note: Path, base_template: Path, part: str, pattern: bytes,
        bad: bytes) -> None:
    data, count = re.subn(pattern, bad, zipfile.ZipFile(base_template).read(part))
    assert count
    template = with_part(base_template, tmp_path / "box.pptx", part, deflated(data))
    out = tmp_path / "out.pptx"
    result = run_main("build", note, "-o", out, "--template", template)
    assert result.code == 0, result.stderr
    warning = [line for line in result.stderr.splitlines() if part in line]
    assert len(warning) == 1 and warning[0].startswith(f"{template}: warning:")
    with zipfile.ZipFile(out) as package:
        assert bad not in package.read(part)
    Presentation(str(out))


# --- 12: theme files that are not themes ---------------------------------------------------


@pytest.mark.parametrize(("content", "message", "line"), [
    pytest.param(b'name = "x"\n\n' b'description = "caf\xe9"\n',
                 "theme is not UTF-8 text (byte 0xE9)", 3, id="latin-1"),
    pytest.param(b"colors = " + b"[" * 100_000 + b"]" * 100_000 + b"\n",
                 "nests tables or arrays", None, id="arrays-100k-deep"),
    pytest.param(b"colors = " + b"{a=" * 50_000 + b"1" + b"}" * 50_000 + b"\n",
                 "nests tables or arrays", None, id="inline-tables-50k-deep"),
    pytest.param(b"x = 1\n[" + b".".join([b"a"] * 100_000) + b"]\nx = 1\n",
                 "nests tables or arrays", 2, id="table-100k-deep"),
    pytest.param(b"[" + b".".join([b"a"] * 17) + b"]\nx = 1\n", "nests tables or arrays",
                 None, id="table-17-deep"),
    pytest.param(b'extends = "default"\n[fonts.heading]\nlatin = "Ar\\u0000ial"\n'
                 b'east_asian = "X"\n', "key 'fonts.heading.latin' is 'Ar\\x00ial'", None,
                 id="nul-in-font"),
    pytest.param(b"a = 1\n" * 50_000, "theme is larger than 256 KB", None, id="large"),
])
@pytest.mark.invalid_deck("out.pptx")
def test_bad_theme_file_is_a_clear_error(tmp_path: Path, note: Path, previous_deck: Path,
                                         content: bytes, message: str,
                                         line: int | None) -> None:
    theme = tmp_path / "notes" / "mine.toml"
    theme.write_bytes(content)
    result = run_main("build", note, "-o", previous_deck, "--theme", theme)
    assert result.code == 1
    where = f"{theme}:{line}: " if line else f"{theme}: "
    assert result.stderr.strip() == result.stderr.strip().splitlines()[0]
    assert result.stderr.startswith(f"deckgen: error: {where}"), result.stderr
    assert message in result.stderr and "internal error" not in result.stderr
    assert previous_deck.read_bytes() == b"the previous deck"


@pytest.mark.parametrize("line", [
    pytest.param(b'"x=y".' + b".".join([b"k"] * 120_000) + b" = 1", id="quoted-equals-key"),
    pytest.param(b"a = {" + b".".join([b"k"] * 100_000) + b" = 1}", id="inline-table-key"),
    pytest.param(b"a = [{" + b".".join([b"k"] * 100_000) + b" = 1}]", id="in-an-array"),
])
@pytest.mark.invalid_deck("out.pptx")
def test_long_dotted_key_is_refused_within_bounds(tmp_path: Path, note: Path,
                                                  previous_deck: Path, line: bytes) -> None:
    """Dots anywhere outside strings count, so no key or inline table escapes the cap
    (tomllib takes minutes and gigabytes on such keys)."""
    theme = tmp_path / "notes" / "mine.toml"
    theme.write_bytes(b'name = "x"\n' + line + b"\n")
    result = run_bounded("build", note, "-o", previous_deck, "--theme", theme,
                         memory=1024, seconds=30)
    refused_leaving_the_deck(result.returncode, result.stderr,
                             f"{theme}:2: theme nests tables or arrays more than 16 deep",
                             previous_deck)


def test_dots_in_comments_and_strings_are_not_counted(tmp_path: Path, note: Path) -> None:
    theme = tmp_path / "notes" / "mine.toml"
    theme.write_text('extends = "default"\n# ' + "a." * 40 + "\n"
                     'description = """many dots\n' + "x." * 40 + '\n"""\n'
                     "name = 'x" + "." * 40 + "' # ...\n", encoding="utf-8")
    out = tmp_path / "out.pptx"
    result = run_main("build", note, "-o", out, "--theme", theme)
    assert result.code == 0, result.stderr
    assert Presentation(str(out)).slides


# --- 5: a theme's files follow the folder rule -------------------------------------------


@pytest.fixture
def secret_files(tmp_path: Path) -> Path:
    """A folder outside the note's, holding a picture and a template."""
    folder = tmp_path / "elsewhere"
    draw_picture(folder / "secret.png", (64, 64), "#FF0000")
    make_template(folder / "secret.pptx")
    return folder


@pytest.mark.parametrize("key", ["logo", "background"])
@pytest.mark.invalid_deck("out.pptx")
def test_theme_picture_outside_the_allowed_folders_is_not_found(
        tmp_path: Path, note: Path, secret_files: Path, previous_deck: Path,
        key: str) -> None:
    theme = note.parent / "mine.toml"

    def message(picture: Path) -> str:
        theme.write_text(f'extends = "default"\n[{key}]\nimage = "{picture}"\n',
                         encoding="utf-8")
        result = run_main("build", note, "-o", previous_deck, "--theme", theme)
        assert result.code == 1
        return result.stderr.replace(str(picture), "PICTURE")

    outside = message(secret_files / "secret.png")
    assert outside == message(secret_files / "no-such.png")  # nothing tells them apart
    assert "which is not found" in outside and str(theme) in outside
    assert previous_deck.read_bytes() == b"the previous deck"


def test_theme_picture_in_the_notes_folder_is_allowed(tmp_path: Path, note: Path) -> None:
    draw_picture(note.parent / "logo.png", (120, 40), "#2563EB")
    theme = tmp_path / "themes" / "brand.toml"
    theme.parent.mkdir()
    theme.write_text('extends = "default"\n[logo]\nimage = "../notes/logo.png"\n',
                     encoding="utf-8")
    out = tmp_path / "out.pptx"
    result = run_main("build", note, "-o", out, "--theme", theme)
    assert result.code == 0, result.stderr
    assert any(shape.name == "Logo" for shape in Presentation(str(out)).slides[1].shapes)


@pytest.mark.parametrize("where", ["theme", "front matter"])
@pytest.mark.invalid_deck("out.pptx")
def test_template_outside_the_allowed_folders_is_not_found(
        tmp_path: Path, note: Path, secret_files: Path, previous_deck: Path,
        where: str, write_md: Callable[..., Path]) -> None:

    def message(template: Path) -> str:
        if where == "theme":
            theme = note.parent / "mine.toml"
            theme.write_text(f'extends = "default"\ntemplate = "{template}"\n',
                             encoding="utf-8")
            result = run_main("build", note, "-o", previous_deck, "--theme", theme)
        else:
            relative = os.path.relpath(template, note.parent)
            note.write_text(f"---\ntitle: x\ntemplate: {relative}\n---\n\n# a\n\nb\n",
                            encoding="utf-8")
            result = run_main("build", note, "-o", previous_deck)
        assert result.code == 1
        return result.stderr.replace(str(template), "TEMPLATE").replace(
            os.path.relpath(template, note.parent), "TEMPLATE")

    outside = message(secret_files / "secret.pptx")
    assert outside == message(secret_files / "no-such.pptx")
    assert "template not found" in outside
    assert previous_deck.read_bytes() == b"the previous deck"


def test_template_font_name_with_control_characters_is_left_to_the_theme(
        tmp_path: Path, note: Path, base_template: Path) -> None:
    theme = zipfile.ZipFile(base_template).read("ppt/theme/theme1.xml")
    theme, count = re.subn(rb'<a:latin typeface="Calibri"', b'<a:latin typeface="Cal&#9;'
                           b'ibri&#10;"', theme)
    assert count == 2
    template = with_part(base_template, tmp_path / "font.pptx", "ppt/theme/theme1.xml",
                         deflated(theme))
    assert read_template(template).heading_font.latin == ""
    out = tmp_path / "out.pptx"
    result = run_main("build", note, "-o", out, "--template", template)
    assert result.code == 0, result.stderr


# --- carried parts: their types, names, references and pictures ---------------------------


def edited_template(base: Path, path: Path, edit: Callable[[dict[str, bytes]], None]
                    ) -> Path:
    """The template `base` with its parts (by name) changed by `edit`."""
    with zipfile.ZipFile(base) as package:
        parts = {name: package.read(name) for name in package.namelist()}
    edit(parts)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as package:
        for name, data in parts.items():
            package.writestr(name, data)
    return path


def add_relationships(parts: dict[str, bytes], part: str, xml: str) -> None:
    folder, name = part.rsplit("/", 1)
    rels = f"{folder}/_rels/{name}.rels"
    parts[rels] = parts[rels].replace(b"</Relationships>", xml.encode() + b"</Relationships>")


def add_shapes(parts: dict[str, bytes], part: str, xml: str) -> None:
    parts[part] = parts[part].replace(b"</p:spTree>", xml.encode() + b"</p:spTree>")


def add_types(parts: dict[str, bytes], xml: str) -> None:
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        b"</Types>", xml.encode() + b"</Types>")


def picture_shape(shape_id: int, name: str, rel_id: str) -> str:
    return (f'<p:pic><p:nvPicPr><p:cNvPr id="{shape_id}" name="{name}"/><p:cNvPicPr/>'
            f'<p:nvPr userDrawn="1"/></p:nvPicPr><p:blipFill><a:blip r:embed="{rel_id}"/>'
            '<a:stretch><a:fillRect/></a:stretch></p:blipFill><p:spPr><a:xfrm>'
            '<a:off x="0" y="0"/><a:ext cx="9144" cy="9144"/></a:xfrm><a:prstGeom '
            'prst="rect"><a:avLst/></a:prstGeom></p:spPr></p:pic>')


def text_shape(shape_id: int, name: str, inside_name: str = "") -> str:
    return (f'<p:sp><p:nvSpPr><p:cNvPr id="{shape_id}" name="{name}">{inside_name}'
            '</p:cNvPr><p:cNvSpPr/><p:nvPr userDrawn="1"/></p:nvSpPr><p:spPr><a:xfrm>'
            '<a:off x="0" y="0"/><a:ext cx="9144" cy="9144"/></a:xfrm><a:prstGeom '
            'prst="rect"><a:avLst/></a:prstGeom></p:spPr><p:txBody><a:bodyPr/><a:lstStyle/>'
            '<a:p><a:r><a:rPr lang="en-US"/><a:t>Company</a:t></a:r></a:p></p:txBody></p:sp>')


def png_header(width: int, height: int, bit_depth: int = 1, colour_type: int = 0) -> bytes:
    """A PNG that is all header: what Pillow reads to learn a picture's size."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))


def build_on(template: Path, note: Path, out: Path) -> tuple[str, zipfile.ZipFile]:
    """Build the note on the template; the warnings and the deck, which must open and
    have no dangling reference, no orphan part and no part name outside the package."""
    result = run_main("build", note, "-o", out, "--template", template)
    assert result.code == 0, result.stderr
    assert "internal error" not in result.stderr
    Presentation(str(out))
    package = zipfile.ZipFile(out)
    # r:id="" is a link that is only an action (a jump to the next slide): no relationship
    assert {problem for problem in _dangling_references(package)
            if not problem.endswith(":  undefined")} == set()
    assert _unreachable_parts(package) == set()
    assert not [name for name in package.namelist() if ".." in name or ":" in name]
    return result.stderr, package


@pytest.mark.parametrize(("kind", "target", "content_type", "shown"), [
    pytest.param("theme", "../vbaProject.bin", "application/vnd.ms-office.vbaProject", False,
                 id="macros-as-a-theme"),
    pytest.param("image", "../embeddings/oleObject1.bin",
                 "application/vnd.openxmlformats-officedocument.oleObject", True,
                 id="object-as-a-picture"),
    pytest.param("slideLayout", "../customXml/item1.xml", "application/xml", False,
                 id="data-as-a-layout"),
])
@pytest.mark.invalid_deck("typed.pptx")
def test_part_of_another_type_than_its_relationship_is_not_carried(
        tmp_path: Path, note: Path, base_template: Path, kind: str, target: str,
        content_type: str, shown: bool) -> None:
    name = posixpath.normpath(posixpath.join("ppt/slideMasters", target))

    def edit(parts: dict[str, bytes]) -> None:
        parts[name] = b"\xd0\xcf\x11\xe0 not what it says"
        add_types(parts, f'<Override PartName="/{name}" ContentType="{content_type}"/>')
        add_relationships(parts, MASTER, f'<Relationship Id="rId80" Type="{RELS}{kind}" '
                                         f'Target="{target}"/>')
        if shown:
            add_shapes(parts, MASTER, picture_shape(980, "Shown", "rId80"))

    template = edited_template(base_template, tmp_path / "typed.pptx", edit)
    stderr, package = build_on(template, note, tmp_path / "out.pptx")
    assert name not in package.namelist()
    assert b"rId80" not in package.read(MASTER)
    assert b"rId80" not in package.read("ppt/slideMasters/_rels/slideMaster1.xml.rels")
    dropped = [line for line in stderr.splitlines() if "not carried" in line]
    assert len(dropped) == 1 and name in dropped[0] and str(template) in dropped[0]


def test_only_what_needs_a_dropped_part_goes(tmp_path: Path, note: Path,
                                            base_template: Path) -> None:
    """A placeholder with custom data tags (think-cell and others add them) and a shape
    whose hover sound is gone stay, without the tags and the sound; a link with no
    relationship (r:id="") keeps its action, even beside a relationship without an id."""
    def edit(parts: dict[str, bytes]) -> None:
        master, count = re.subn(rb'(<p:ph type="title"/>)', rb'\1<p:custDataLst>'
                                rb'<p:tags r:id="rId81"/></p:custDataLst>', parts[MASTER])
        assert count == 1
        parts[MASTER] = master
        add_shapes(parts, MASTER, text_shape(
            981, "Hover", '<a:hlinkHover r:id="" action="ppaction://noaction"><a:snd '
            'r:embed="rId82" name="x.wav"/></a:hlinkHover>'))
        add_shapes(parts, MASTER, text_shape(
            982, "Jump", '<a:hlinkClick r:id="" action="ppaction://hlinkshowjump?'
            'jump=nextslide"/>'))
        add_relationships(parts, MASTER, (
            f'<Relationship Id="rId81" Type="{RELS}tags" Target="../tags/tag1.xml"/>'
            f'<Relationship Id="rId82" Type="{RELS}audio" Target="../media/x.wav"/>'
            f'<Relationship Type="{RELS}oleObject" Target="../embeddings/x.bin"/>'))
        parts["ppt/tags/tag1.xml"] = (f'<p:tagLst xmlns:p="{P}"><p:tag name="X" val="1"/>'
                                      "</p:tagLst>").encode()
        parts["ppt/media/x.wav"] = parts["ppt/embeddings/x.bin"] = b"RIFF"
        add_types(parts, '<Override PartName="/ppt/tags/tag1.xml" ContentType="application/'
                         'vnd.openxmlformats-officedocument.presentationml.tags+xml"/>')

    template = edited_template(base_template, tmp_path / "tags.pptx", edit)
    _, package = build_on(template, note, tmp_path / "out.pptx")
    master = etree.fromstring(package.read(MASTER))
    names = {shape.get("name") for shape in master.iter(f"{{{P}}}cNvPr")}
    assert {"Hover", "Jump"} <= names
    assert master.find(f".//{{{P}}}ph[@type='title']") is not None
    assert master.find(f".//{{{P}}}custDataLst") is None
    assert master.find(f".//{{{A}}}snd") is None
    assert master.find(f".//{{{A}}}hlinkHover") is not None
    jump = master.find(f".//{{{A}}}hlinkClick")
    assert jump is not None and jump.get("action", "").endswith("jump=nextslide")
    assert not [name for name in package.namelist() if "tags" in name or "wav" in name]


def test_master_transition_sound_goes_with_its_sound_action(
        tmp_path: Path, note: Path, base_template: Path) -> None:
    def edit(parts: dict[str, bytes]) -> None:
        parts[MASTER] = parts[MASTER].replace(b"<p:txStyles>", (
            b'<p:transition><p:sndAc><p:stSnd><p:snd r:embed="rId83" name="a.wav"/>'
            b"</p:stSnd></p:sndAc></p:transition><p:txStyles>"))
        add_relationships(parts, MASTER, f'<Relationship Id="rId83" Type="{RELS}audio" '
                                         'Target="../media/a.wav"/>')
        parts["ppt/media/a.wav"] = b"RIFF....WAVEfmt "

    template = edited_template(base_template, tmp_path / "sound.pptx", edit)
    assert b"<p:stSnd>" in zipfile.ZipFile(template).read(MASTER)
    out = tmp_path / "out.pptx"
    _, package = build_on(template, note, out)
    master = package.read(MASTER)
    assert b"<p:transition" in master and b"sndAc" not in master and b"stSnd" not in master
    audit = subprocess.run(["openxml-audit", "-f", "microsoft365", "-q", str(out)],
                           capture_output=True, text=True, timeout=120, check=False)
    assert audit.returncode == 0, audit.stdout + audit.stderr


@pytest.mark.invalid_deck("escape.pptx")
def test_targets_outside_the_package_and_dangling_references_are_removed(
        tmp_path: Path, note: Path, base_template: Path) -> None:
    secret_name = f"ppt/slideMasters/file:{tmp_path}/secret.png"

    def edit(parts: dict[str, bytes]) -> None:
        picture = png_header(8, 8, 8, 2)
        parts["../evil.png"] = parts[secret_name] = picture
        parts["ppt/media/fine.png"] = picture
        add_types(parts, '<Default Extension="png" ContentType="image/png"/>')
        add_relationships(parts, MASTER, (
            f'<Relationship Id="rId84" Type="{RELS}image" Target="../../../evil.png"/>'
            f'<Relationship Id="rId85" Type="{RELS}image" Target="file:{tmp_path}/'
            'secret.png"/>'
            f'<Relationship Id="rId86" Type="{RELS}image" Target="../media/fine.png"/>'))
        add_shapes(parts, MASTER, picture_shape(984, "Escape", "rId84")
                   + picture_shape(985, "Url", "rId85") + picture_shape(986, "Fine", "rId86")
                   + picture_shape(987, "Dangling", "rId999"))

    template = edited_template(base_template, tmp_path / "escape.pptx", edit)
    stderr, package = build_on(template, note, tmp_path / "out.pptx")
    relationships = package.read("ppt/slideMasters/_rels/slideMaster1.xml.rels")
    assert b"file:" not in relationships and b"evil" not in relationships
    master = package.read(MASTER)
    assert b"rId84" not in master and b"rId85" not in master and b"rId999" not in master
    assert b'name="Escape"' in master and b'name="Dangling"' in master
    fine = [name for name in package.namelist() if name.startswith("ppt/media/fine")]
    assert len(fine) == 1
    dropped = [line for line in stderr.splitlines() if "parts a deck does not need" in line]
    assert len(dropped) == 1 and "../evil.png" in dropped[0] and "file:" not in dropped[0]
    links = [line for line in stderr.splitlines() if "external links" in line]
    assert len(links) == 1 and "(1 left out: file:/" in links[0]


@pytest.mark.parametrize("part", ["ppt/theme/theme1.xml", "ppt/presProps.xml",
                                  "ppt/viewProps.xml", MASTER, "[Content_Types].xml"])
@pytest.mark.invalid_deck("out.pptx")
def test_doctype_in_a_template_part_is_refused(tmp_path: Path, note: Path,
                                               base_template: Path, previous_deck: Path,
                                               part: str) -> None:
    def edit(parts: dict[str, bytes]) -> None:
        body = re.sub(rb"^<\?xml[^>]*\?>\s*", b"", parts[part])
        root = etree.fromstring(body).tag.split("}")[1]
        parts[part] = (f'<?xml version="1.0"?><!DOCTYPE {root} [<!ENTITY e "x">]>'
                       .encode() + body)

    template = edited_template(base_template, tmp_path / "doctype.pptx", edit)
    result = run_main("build", note, "-o", previous_deck, "--template", template)
    refused_leaving_the_deck(result.code, result.stderr,
                             f"{template}: template refused: part {part} has a DOCTYPE, which "
                             "Office parts never have", previous_deck)


@pytest.mark.invalid_deck("out.pptx")
def test_master_without_its_content_type_is_a_clear_error(
        tmp_path: Path, note: Path, base_template: Path, previous_deck: Path) -> None:
    def edit(parts: dict[str, bytes]) -> None:
        parts["[Content_Types].xml"], count = re.subn(
            rb'<Override PartName="/ppt/slideMasters/slideMaster1.xml"[^>]*/>', b"",
            parts["[Content_Types].xml"])
        assert count == 1

    template = edited_template(base_template, tmp_path / "untyped.pptx", edit)
    result = run_main("build", note, "-o", previous_deck, "--template", template)
    refused_leaving_the_deck(result.code, result.stderr,
                             f"{template}: not a valid presentation: slide master {MASTER} "
                             "cannot be used (its content type is 'application/xml')",
                             previous_deck)


def test_part_names_in_content_types_match_without_regard_to_case(
        tmp_path: Path, note: Path, base_template: Path) -> None:
    def edit(parts: dict[str, bytes]) -> None:
        parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
            b'PartName="/ppt/slideMasters/slideMaster1.xml"',
            b'PartName="/PPT/SlideMasters/SLIDEMASTER1.XML"')
        parts["ppt/media/logo.png"] = png_header(8, 8, 8, 2)
        add_types(parts, '<Override PartName="/PPT/MEDIA/LOGO.PNG" ContentType="image/png"/>')
        add_relationships(parts, MASTER, f'<Relationship Id="rId87" Type="{RELS}image" '
                                         'Target="../media/logo.png"/>')
        add_shapes(parts, MASTER, picture_shape(987, "Logo", "rId87"))

    template = edited_template(base_template, tmp_path / "case.pptx", edit)
    _, package = build_on(template, note, tmp_path / "out.pptx")
    assert b'r:embed="rId87"' in package.read(MASTER)
    assert "ppt/media/logo.png" in package.namelist()


@pytest.mark.invalid_deck("many.pptx")
def test_template_pictures_nothing_shows_or_too_large_are_not_carried(
        tmp_path: Path, note: Path, base_template: Path) -> None:
    """240 relationships to 1 MB "pictures" of zeros that nothing shows made a 251 MB deck;
    a 16000 × 16000 picture in the master made preview take 36 s."""
    zeros = b"\0" * 2**20

    def edit(parts: dict[str, bytes]) -> None:
        add_types(parts, '<Default Extension="png" ContentType="image/png"/>')
        for number in range(240):
            parts[f"ppt/media/zero{number}.png"] = zeros
        add_relationships(parts, MASTER, "".join(
            f'<Relationship Id="rId{1000 + number}" Type="{RELS}image" '
            f'Target="../media/zero{number}.png"/>' for number in range(240)))
        parts["ppt/media/huge.png"] = png_header(16000, 16000)
        add_relationships(parts, MASTER, (
            f'<Relationship Id="rId88" Type="{RELS}image" Target="../media/huge.png"/>'))
        add_shapes(parts, MASTER, picture_shape(988, "Huge", "rId88")
                   + picture_shape(989, "Zero", "rId1000"))

    template = edited_template(base_template, tmp_path / "many.pptx", edit)
    out = tmp_path / "out.pptx"
    stderr, package = build_on(template, note, out)
    assert out.stat().st_size < 200_000
    assert not [name for name in package.namelist() if "zero" in name or "huge" in name]
    warnings = [line for line in stderr.splitlines() if "built without" in line]
    assert len(warnings) == 2
    assert "ppt/media/huge.png has more than 120 million pixels" in warnings[0] + warnings[1]
    assert "ppt/media/zero0.png is not a picture" in warnings[0] + warnings[1]
    master = package.read(MASTER)
    assert b'name="Huge"' in master and b"rId88" not in master and b"rId1000" not in master


# --- 5: a theme the note or another theme names follows the folder rule ------------------


@pytest.fixture
def outside_theme(tmp_path: Path, secret_files: Path) -> Path:
    """A theme outside the note's folder whose logo is a picture beside it."""
    theme = secret_files / "base.toml"
    theme.write_text('extends = "default"\n[logo]\nimage = "secret.png"\n', encoding="utf-8")
    return theme


@pytest.mark.parametrize("how", ["relative", "absolute"])
@pytest.mark.invalid_deck("out.pptx")
def test_front_matter_theme_outside_the_allowed_folders_is_not_found(
        note: Path, outside_theme: Path, previous_deck: Path, how: str) -> None:

    def message(theme: Path) -> str:
        named = os.path.relpath(theme, note.parent) if how == "relative" else str(theme)
        note.write_text(f"---\ntitle: x\ntheme: {named}\n---\n\n# a\n\nb\n",
                        encoding="utf-8")
        result = run_main("build", note, "-o", previous_deck)
        assert result.code == 1
        return result.stderr.replace(named, "THEME")

    outside = message(outside_theme)
    assert outside == message(outside_theme.with_name("no-such.toml"))
    assert outside.startswith(f"deckgen: error: {note}:3: front matter theme: ")
    assert "not found" in outside and "secret" not in outside
    assert previous_deck.read_bytes() == b"the previous deck"


@pytest.mark.parametrize("given", ["option", "front matter"])
@pytest.mark.invalid_deck("out.pptx")
def test_extended_theme_outside_the_allowed_folders_is_not_found(
        note: Path, outside_theme: Path, previous_deck: Path, given: str) -> None:
    theme = note.parent / "mine.toml"

    def message(extended: Path) -> str:
        theme.write_text(f'extends = "{extended}"\n', encoding="utf-8")
        if given == "option":
            result = run_main("build", note, "-o", previous_deck, "--theme", theme)
        else:
            note.write_text("---\ntitle: x\ntheme: mine.toml\n---\n\n# a\n\nb\n",
                            encoding="utf-8")
            result = run_main("build", note, "-o", previous_deck)
        assert result.code == 1
        return result.stderr.replace(str(extended), "THEME")

    outside = message(outside_theme)
    assert outside == message(outside_theme.with_name("no-such.toml"))
    assert "key 'extends' names THEME, which is not found" in outside
    assert previous_deck.read_bytes() == b"the previous deck"


def test_theme_given_as_an_option_may_be_anywhere_with_what_it_extends(
        tmp_path: Path, note: Path, outside_theme: Path) -> None:
    """The user's own --theme (and themes beside it) may sit anywhere, and so may its
    pictures; a note's theme may extend a built-in one."""
    brand = outside_theme.with_name("brand.toml")
    brand.write_text('extends = "base.toml"\n', encoding="utf-8")
    out = tmp_path / "out.pptx"
    result = run_main("build", note, "-o", out, "--theme", brand)
    assert result.code == 0, result.stderr
    assert any(shape.name == "Logo" for shape in Presentation(str(out)).slides[1].shapes)
    (note.parent / "mine.toml").write_text('extends = "dark"\n', encoding="utf-8")
    note.write_text("---\ntitle: x\ntheme: mine.toml\n---\n\n# a\n\nb\n", encoding="utf-8")
    result = run_main("build", note, "-o", out)
    assert result.code == 0, result.stderr


def test_main_part_typed_by_a_default_is_declared_a_presentation(
        tmp_path: Path, note: Path, base_template: Path) -> None:
    def edit(parts: dict[str, bytes]) -> None:
        types, count = re.subn(rb'<Override PartName="/ppt/presentation.xml"[^>]*/>', b"",
                               parts["[Content_Types].xml"])
        types, defaults = re.subn(rb'(<Default Extension="xml" ContentType=")[^"]*"',
                                  rb'\1application/vnd.openxmlformats-officedocument.'
                                  rb'presentationml.template.main+xml"', types)
        assert count == defaults == 1
        parts["[Content_Types].xml"] = types

    template = edited_template(base_template, tmp_path / "default.potx", edit)
    _, package = build_on(template, note, tmp_path / "out.pptx")
    assert (b'<Override PartName="/ppt/presentation.xml" ContentType="application/vnd.'
            b'openxmlformats-officedocument.presentationml.presentation.main+xml"/>'
            in package.read("[Content_Types].xml"))


@pytest.mark.invalid_deck("out.pptx", "small.pptx")
def test_many_small_parts_that_expand_are_refused_together(
        tmp_path: Path, note: Path, base_template: Path, previous_deck: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Parts of 1 MB (each below the ratio floor) add up: all together may not expand more
    than 100 times the template (beyond a floor, here 4 MB instead of 32 MB)."""
    monkeypatch.setattr(template_module, "TOTAL_RATIO_FLOOR", 4 * 2**20)

    def edit(parts: dict[str, bytes]) -> None:
        add_types(parts, '<Default Extension="png" ContentType="image/png"/>')
        for number in range(8):
            parts[f"ppt/media/zero{number}.png"] = b"\0" * 2**20
        add_relationships(parts, MASTER, "".join(
            f'<Relationship Id="rId{1000 + number}" Type="{RELS}image" '
            f'Target="../media/zero{number}.png"/>' for number in range(8)))
        add_shapes(parts, MASTER, "".join(picture_shape(2000 + number, f"Zero{number}",
                                                        f"rId{1000 + number}")
                                          for number in range(8)))

    template = edited_template(base_template, tmp_path / "small.pptx", edit)
    assert template.stat().st_size < 300_000
    result = run_main("build", note, "-o", previous_deck, "--template", template)
    assert result.code == 1, result.stderr
    assert re.fullmatch(rf"deckgen: error: {re.escape(str(template))}: template refused: "
                        r"part ppt/media/zero\d+\.png brings the template's parts to more "
                        r"than 100 times the template's size \(a zip bomb\?\)\n",
                        result.stderr), result.stderr
    assert previous_deck.read_bytes() == b"the previous deck"


# --- templates that would take long: many references, relationships or types -------------


def test_many_unknown_references_are_unlinked_in_linear_time(
        tmp_path: Path, note: Path, base_template: Path) -> None:
    """20,000 custom data tags of no relationship in one list (a 0.5 MB template) go, and
    the emptied list with them, in about a second: each parent is tidied once."""
    def edit(parts: dict[str, bytes]) -> None:
        tags = "".join(f'<p:custData r:id="x{number}"/>' for number in range(20_000))
        listed = rf"\1<p:custDataLst>{tags}</p:custDataLst>".encode()
        master, count = re.subn(rb'(<p:ph type="title"/>)', listed, parts[MASTER])
        assert count == 1
        parts[MASTER] = master

    template = edited_template(base_template, tmp_path / "tags.pptx", edit)
    out = tmp_path / "out.pptx"
    result = run_bounded("build", note, "-o", out, "--template", template, seconds=20)
    assert result.returncode == 0, result.stderr
    master = zipfile.ZipFile(out).read(MASTER)
    assert b"custDataLst" not in master and b'r:id="x' not in master


def many_types_and_themes(parts: dict[str, bytes], relationships: int) -> None:
    """25,000 content types of parts that are not there, and `relationships` relationships
    of the master to its theme."""
    junk = "".join(f'<Override PartName="/x/{number}.xml" ContentType="application/xml"/>'
                   for number in range(25_000))
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        b"<Override", junk.encode() + b"<Override", 1)  # before the parts' own
    add_relationships(parts, MASTER, "".join(
        f'<Relationship Id="t{number}" Type="{RELS}theme" Target="../theme/theme1.xml"/>'
        for number in range(relationships)))


@pytest.mark.invalid_deck("types.pptx")
def test_many_content_types_and_relationships_are_read_in_linear_time(
        tmp_path: Path, note: Path, base_template: Path) -> None:
    """Each relationship's content type is looked up in a map made once: 25,000 types and
    9,000 relationships (some 0.3 MB) take seconds, not the hours of 25,000 x 9,000; the
    master keeps one relationship to its theme."""
    template = edited_template(base_template, tmp_path / "types.pptx",
                               lambda parts: many_types_and_themes(parts, 9_000))
    out = tmp_path / "out.pptx"
    result = run_bounded("build", note, "-o", out, "--template", template, seconds=30)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    package = zipfile.ZipFile(out)
    assert package.read("[Content_Types].xml").count(b"<Override") < 100
    assert package.read("ppt/slideMasters/_rels/slideMaster1.xml.rels").count(
        b"relationships/theme") == 1


@pytest.mark.invalid_deck("themes.pptx", "out.pptx")
def test_part_of_too_many_relationships_is_refused(
        tmp_path: Path, note: Path, base_template: Path, previous_deck: Path) -> None:
    template = edited_template(base_template, tmp_path / "themes.pptx",
                               lambda parts: many_types_and_themes(parts, 10_001))
    result = run_bounded("build", note, "-o", previous_deck, "--template", template,
                         seconds=30)
    refused_leaving_the_deck(result.returncode, result.stderr,
                             f"{template}: template refused: part ppt/slideMasters/_rels/"
                             "slideMaster1.xml.rels has more than 10,000 relationships",
                             previous_deck)


def test_strict_relationship_attributes_are_unlinked_alike(
        tmp_path: Path, note: Path, base_template: Path) -> None:
    """`r:` attributes in the Strict namespace refer to relationships too: one to an
    external link and one to no relationship go, as in the transitional namespace."""
    strict = "http://purl.oclc.org/ooxml/officeDocument/relationships"

    def edit(parts: dict[str, bytes]) -> None:
        add_relationships(parts, MASTER, f'<Relationship Id="rId88" Type="{RELS}hyperlink" '
                          'Target="http://127.0.0.1:9/x" TargetMode="External"/>')
        add_shapes(parts, MASTER, text_shape(
            988, "Strict", f'<a:hlinkClick xmlns:s="{strict}" s:id="rId88"/>')
                   + picture_shape(989, "Missing", "rId4").replace(
                       'r:embed="rId4"', f'xmlns:s="{strict}" s:embed="rId999"'))

    template = edited_template(base_template, tmp_path / "strict.pptx", edit)
    _, package = build_on(template, note, tmp_path / "out.pptx")
    master = etree.fromstring(package.read(MASTER))
    names = {shape.get("name") for shape in master.iter(f"{{{P}}}cNvPr")}
    assert {"Strict", "Missing"} <= names
    assert [key for element in master.iter() for key in element.attrib
            if key.startswith(f"{{{strict}}}")] == []
    assert master.find(f".//{{{A}}}hlinkClick") is None


@pytest.mark.invalid_deck("tags.pptx")
def test_tags_go_quietly_and_a_url_target_is_an_external_link(
        tmp_path: Path, note: Path, base_template: Path) -> None:
    """Tags an add-in keeps on a placeholder are left out without a word; a picture whose
    target is a URL or a network path (without TargetMode="External") is named among the
    external links, not as a part left out."""
    def edit(parts: dict[str, bytes]) -> None:
        master, count = re.subn(rb'(<p:ph type="title"/>)', rb'\1<p:custDataLst>'
                                rb'<p:tags r:id="rId81"/></p:custDataLst>', parts[MASTER])
        assert count == 1
        parts[MASTER] = master
        add_relationships(parts, MASTER, (
            f'<Relationship Id="rId81" Type="{RELS}tags" Target="../tags/tag1.xml"/>'
            f'<Relationship Id="rId82" Type="{RELS}image" Target="http://127.0.0.1:9/a.png"/>'
            f'<Relationship Id="rId83" Type="{RELS}image" Target="//127.0.0.1/share/b.png"/>'))
        add_shapes(parts, MASTER, picture_shape(982, "Remote", "rId82")
                   + picture_shape(983, "Share", "rId83"))
        parts["ppt/tags/tag1.xml"] = (f'<p:tagLst xmlns:p="{P}"><p:tag name="X" val="1"/>'
                                      "</p:tagLst>").encode()
        add_types(parts, '<Override PartName="/ppt/tags/tag1.xml" ContentType="application/'
                         'vnd.openxmlformats-officedocument.presentationml.tags+xml"/>')

    template = edited_template(base_template, tmp_path / "tags.pptx", edit)
    stderr, package = build_on(template, note, tmp_path / "out.pptx")
    assert "parts a deck does not need" not in stderr, stderr
    links = [line for line in stderr.splitlines() if "external links" in line]
    assert len(links) == 1 and ("(2 left out: //127.0.0.1/share/b.png, "
                                "http://127.0.0.1:9/a.png)") in links[0], stderr
    assert not [name for name in package.namelist() if "tags" in name]
    assert b"127.0.0.1" not in package.read("ppt/slideMasters/_rels/slideMaster1.xml.rels")


def assert_no_names_alike(package: zipfile.ZipFile) -> None:
    folded = [name.casefold() for name in package.namelist()]
    assert len(folded) == len(set(folded)), sorted(package.namelist())


@pytest.mark.invalid_deck("case.pptx")
def test_part_names_that_differ_in_case_alone_are_one_part(
        tmp_path: Path, note: Path, base_template: Path) -> None:
    """A layout stored among the slides in capitals (beside the sample slide slide1.xml)
    goes to the layouts' folder; a theme THEME1.xml beside theme1.xml is carried under a
    name of its own; [Content_Types].xml is no part to carry. No two names of the deck
    differ in case alone and every slide part holds a slide."""
    def edit(parts: dict[str, bytes]) -> None:
        parts["ppt/slides/SLIDE1.xml"] = parts.pop(LAYOUT)
        parts["ppt/slides/_rels/SLIDE1.xml.rels"] = parts.pop(
            "ppt/slideLayouts/_rels/slideLayout1.xml.rels")
        parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
            f"/{LAYOUT}".encode(), b"/ppt/slides/SLIDE1.xml")
        rels = "ppt/slideMasters/_rels/slideMaster1.xml.rels"
        parts[rels] = parts[rels].replace(b"../slideLayouts/slideLayout1.xml",
                                          b"../slides/SLIDE1.xml")
        parts["ppt/theme/THEME1.xml"] = parts["ppt/theme/theme1.xml"]
        add_relationships(parts, "ppt/slides/SLIDE1.xml",
                          f'<Relationship Id="rId90" Type="{RELS}theme" '
                          'Target="../theme/THEME1.xml"/>')
        add_relationships(parts, "ppt/presentation.xml",
                          f'<Relationship Id="rId91" Type="{RELS}viewProps" '
                          'Target="/[Content_Types].xml"/>')
        add_types(parts, '<Override PartName="/[Content_Types].xml" ContentType="application/'
                         'vnd.openxmlformats-officedocument.presentationml.viewProps+xml"/>')

    template = edited_template(base_template, tmp_path / "case.pptx", edit)
    stderr, package = build_on(template, note, tmp_path / "out.pptx")
    assert_no_names_alike(package)
    names = package.namelist()
    assert names.count("[Content_Types].xml") == 1
    themes = [name for name in names if "theme/" in name.casefold()]
    assert themes and all(re.fullmatch(r"ppt/theme/(_rels/)?theme\d+\.xml(\.rels)?", name)
                          for name in themes), themes
    slides = [name for name in names if name.startswith("ppt/slides/")
              and name.endswith(".xml")]
    for name in slides:
        assert package.read(name).count(b"<p:sld ") == 1, name
    layouts = [name for name in names if re.fullmatch(r"ppt/slideLayouts/slideLayout\d+\.xml",
                                                      name)]
    assert len(layouts) == 11 and "[Content_Types].xml" in stderr
    for name in layouts:
        assert etree.fromstring(package.read(name)).tag == f"{{{P}}}sldLayout", name
