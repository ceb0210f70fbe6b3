"""The written package is well formed: schema order, resolved relationships, content types."""

from __future__ import annotations

import posixpath
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import run_main
from lxml import etree

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


def test_the_check_finds_an_out_of_order_run(tmp_path: Path, intro_deck: Path) -> None:
    """The check itself can fail: swap a run's typefaces and it reports the order."""
    broken = tmp_path / "broken.pptx"
    with zipfile.ZipFile(intro_deck) as source, zipfile.ZipFile(broken, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "ppt/slides/slide2.xml":
                root = etree.fromstring(data)
                r_pr = next(root.iter(f"{{{A}}}rPr"))
                latin = r_pr.find(f"{{{A}}}latin")
                assert latin is not None
                r_pr.remove(latin)
                r_pr.append(latin)
                data = etree.tostring(root)
            target.writestr(item, data)
    assert any("out of order" in problem for problem in package_problems(broken))
