"""The deck audit (deckaudit.py) can fail: a deck that breaks the Open XML SDK's rules fails
the run, naming the test that wrote it, with the validator's message, unless it is marked."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
import zipfile
from pathlib import Path

import deckaudit
import pytest
from conftest import run_main
from deckaudit import DeckAudit
from lxml import etree

A = "http://schemas.openxmlformats.org/drawingml/2006/main"
TESTS = Path(__file__).resolve().parent
REPO_ROOT = TESTS.parent


def spoil(deck: Path, broken: Path) -> None:
    """A copy of `deck` whose first run lists its Latin typeface after its East Asian one,
    against the DrawingML schema's order (PowerPoint offers to repair such a deck)."""
    with zipfile.ZipFile(deck) as source, zipfile.ZipFile(broken, "w") as target:
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


INNER_CONFTEST = """
import sys
sys.path.insert(0, {tests!r})
from deckaudit import (deck_audit, pytest_configure, pytest_runtest_call, pytest_sessionfinish,
                       pytest_terminal_summary, pytest_testnodedown)
"""

INNER_TESTS = """
import shutil
import tempfile
from pathlib import Path

import pytest

import deckgen.build

GOOD = Path({good!r})
BROKEN = Path({broken!r})

def test_valid_deck(tmp_path):
    shutil.copy(GOOD, tmp_path / "good.pptx")

def test_broken_deck(tmp_path):
    (tmp_path / "sub").mkdir()
    shutil.copy(BROKEN, tmp_path / "sub" / "broken.pptx")

@pytest.mark.invalid_deck("broken.pptx")
def test_broken_deck_marked(tmp_path):
    shutil.copy(BROKEN, tmp_path / "broken.pptx")
    shutil.copy(GOOD, tmp_path / "good.pptx")

@pytest.mark.invalid_deck("broken.pptx")
def test_marked_for_another_name(tmp_path):
    shutil.copy(BROKEN, tmp_path / "other.pptx")

def test_written_by_deckgen_then_deleted():
    with tempfile.TemporaryDirectory() as folder:
        deckgen.build.write_atomically(Path(folder) / "gone.pptx", BROKEN.read_bytes())
"""


@pytest.mark.invalid_deck  # the inner session's spoiled decks lie under this test's tmp_path
def test_a_deck_with_errors_fails_the_run(tmp_path: Path, intro_deck: Path) -> None:
    """An inner pytest session with the audit: a spoiled deck, in tmp_path or written by
    deckgen into a folder deleted since, fails the run, and the summary names its test and
    quotes the validator; a valid deck and a marked test's named deck do not."""
    broken = tmp_path / "spoiled.bin"
    spoil(intro_deck, broken)
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "conftest.py").write_text(INNER_CONFTEST.format(tests=str(TESTS)), encoding="utf-8")
    (suite / "test_inner.py").write_text(
        textwrap.dedent(INNER_TESTS.format(good=str(intro_deck), broken=str(broken))),
        encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "--basetemp", str(tmp_path / "base"), "test_inner.py"],
                         cwd=suite, env=env, capture_output=True, text=True, timeout=120)
    out = run.stdout
    assert run.returncode == 1, out + run.stderr
    assert "5 passed" in out, out
    named = sorted(line.split(": ")[0] for line in out.splitlines()
                   if line.startswith("test_inner.py::"))
    assert named == ["test_inner.py::test_broken_deck",
                     "test_inner.py::test_marked_for_another_name",
                     "test_inner.py::test_written_by_deckgen_then_deleted"], out
    assert "sub/broken.pptx: 1 error(s)" in out, out
    assert "other.pptx: 1 error(s)" in out, out
    assert "gone.pptx: 1 error(s)" in out, out
    assert out.count("Unexpected element 'latin' found") == 3, out
    assert "/ppt/slides/slide2.xml" in out, out
    assert "3 with errors" in out, out

    alone = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            "--basetemp", str(tmp_path / "again"),
                            "test_inner.py::test_valid_deck",
                            "test_inner.py::test_broken_deck_marked"],
                           cwd=suite, env=env, capture_output=True, text=True, timeout=120)
    assert alone.returncode == 0, alone.stdout + alone.stderr
    assert "deck(s) checked, 1 validated" in alone.stdout, alone.stdout


def test_a_deck_is_validated_once_however_often_it_is_written(tmp_path: Path,
                                                              intro_deck: Path) -> None:
    """Two copies of one deck and a rewrite of it with the same bytes: validated once."""
    audit = DeckAudit(basetemp=tmp_path / "base", stash=tmp_path / "base" / "stash")
    folder = tmp_path / "base" / "fixture0"
    folder.mkdir(parents=True)
    try:
        for name in ("a.pptx", "b.pptx"):
            (folder / name).write_bytes(intro_deck.read_bytes())
        audit.after_test("t1", None, None, check=True)
        assert audit.checked == 2 and len(audit.pending) == 1
        audit.after_test("t2", None, None, check=True)  # unchanged: not even hashed
        assert audit.checked == 2
        os.utime(folder / "a.pptx", ns=(1, 1))  # touched, same bytes: hashed, not sent
        audit.after_test("t3", None, None, check=True)
        assert audit.checked == 3 and len(audit.pending) <= 1
    finally:
        audit.finish()
    assert (audit.validated, audit.findings, audit.pending) == (1, [], {})
    assert not audit.stash.exists()


def test_an_oversized_deck_is_reported_without_validating_it(
        tmp_path: Path, intro_deck: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A deck whose zip says it holds more than the audit's cap is a finding, not a hang."""
    monkeypatch.setattr(deckaudit, "MAX_DECK_BYTES", 1000)
    audit = DeckAudit(basetemp=tmp_path / "base", stash=tmp_path / "base" / "stash")
    (tmp_path / "base" / "t0").mkdir(parents=True)
    (tmp_path / "base" / "t0" / "big.pptx").write_bytes(intro_deck.read_bytes())
    try:
        audit.after_test("t", None, None, check=True)
        assert audit.worker.process is None  # the validator was never started
    finally:
        audit.finish()
    [finding] = audit.findings
    assert finding.test == "t" and finding.deck.endswith("big.pptx")
    assert finding.errors[0].startswith("not validated: the zip says it holds")


def test_deckgens_deck_writes_are_watched(deck_audit: DeckAudit, tmp_path: Path,
                                          intro_md: Path, repo_root: Path) -> None:
    """The session's audit sees a deck deckgen writes in this process, even in a folder
    outside pytest's temporary folders (where the scan does not look)."""
    deck_audit.after_test("before", None, [], check=False)  # not this test's
    with tempfile.TemporaryDirectory() as folder:
        deck = Path(folder) / "watched.pptx"
        result = run_main("build", intro_md, "-o", deck, "--resource-path", repo_root)
        assert result.code == 0, result.stderr
        assert [path for path, _data in deck_audit.written] == [deck]
