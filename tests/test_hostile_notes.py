"""Hostile notes: front matter that expands, links that run programs, markup nested without
end, a note of very many headings; each ends in a deck or one line naming the note and
line, bounded in time and memory."""

from __future__ import annotations

import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import REPO_ROOT, CliResult, notes_text, slide_text
from pptx import Presentation
from pptx.opc.constants import RELATIONSHIP_TYPE

import deckgen.parse
import deckgen.structure
from deckgen.model import clickable
from deckgen.parse import (
    MAX_FRONT_MATTER,
    MAX_FRONT_MATTER_DEPTH,
    MAX_LINK_LOOKAHEAD,
    MAX_NOTE_BYTES,
    MAX_NOTE_TOKENS,
)

Cli = Callable[..., CliResult]
WriteMd = Callable[..., Path]

#: What a bounded run may use: enough for a small build, far from what an attack takes.
MEMORY_LIMIT = 2 * 1024**3
SECONDS_LIMIT = 60


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_CPU, (SECONDS_LIMIT, SECONDS_LIMIT))


def bounded(*argv: str | Path) -> CliResult:
    """`python -m deckgen ARGV` in a child process bounded in memory and time."""
    return bounded_with_peak(*argv)[0]


def bounded_with_peak(*argv: str | Path) -> tuple[CliResult, int]:
    """`python -m deckgen ARGV` bounded in memory and time, and its peak resident set size
    in bytes (its own rusage, from wait4)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen([sys.executable, "-m", "deckgen", *map(str, argv)],
                                   stdout=out, stderr=err, text=True, preexec_fn=_limits,
                                   cwd=REPO_ROOT, env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)))
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return CliResult(process.returncode, out.read(), err.read()), usage.ru_maxrss * 1024


def one_error(result: CliResult, where: str, *needles: str) -> None:
    """The run failed (exit 1) with one line on stderr: an error at `where`."""
    assert result.code == 1, result
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"deckgen: error: {where}: "), result.stderr
    for needle in needles:
        assert needle in result.stderr, (needle, result.stderr)


# --- front matter ----------------------------------------------------------------------------


def alias_bomb(levels: int) -> str:
    """Front matter of a few hundred bytes whose aliases expand to 9**levels strings."""
    lines = ["a0: &a0 [" + ", ".join(['"lol"'] * 9) + "]"]
    lines += [f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 9) + "]"
              for n in range(1, levels)]
    return "---\ntitle: t\n" + "\n".join(lines) + "\n---\n## a\n\nb\n"


@pytest.mark.parametrize("command", ["build", "check"])
@pytest.mark.invalid_deck("notes.pptx")
def test_a_yaml_alias_bomb_is_refused_at_its_line(write_md: WriteMd, tmp_path: Path,
                                                  command: str) -> None:
    bomb = alias_bomb(12)  # 9**12 strings: 282 billion
    assert len(bomb.encode()) < 1000
    source = write_md(bomb)
    deck = tmp_path / "notes.pptx"
    deck.write_bytes(b"previous deck")
    started = time.monotonic()
    args = ["-o", deck] if command == "build" else []
    result = bounded(command, source, *args)
    assert time.monotonic() - started < 20
    one_error(result, f"{source}:4", "front matter uses YAML aliases (&/*); write the values out")
    assert deck.read_bytes() == b"previous deck"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["notes.md", "notes.pptx"]


def test_any_alias_is_refused_even_a_harmless_one(cli: Cli, write_md: WriteMd,
                                                  tmp_path: Path) -> None:
    source = write_md("---\nauthor: &me Kim\ntitle: x\nsubject: *me\n---\n## a\n")
    result = cli("build", source, "-o", tmp_path / "x.pptx")
    one_error(result, f"{source}:4", "aliases")
    assert not (tmp_path / "x.pptx").exists()


def test_front_matter_nested_without_end_is_refused(cli: Cli, write_md: WriteMd,
                                                    tmp_path: Path) -> None:
    source = write_md("---\ntitle: t\nx: " + "[" * 30_000 + "]" * 30_000 + "\n---\n## a\n")
    one_error(cli("build", source, "-o", tmp_path / "x.pptx"), f"{source}:3",
              f"front matter nests deeper than {MAX_FRONT_MATTER_DEPTH} levels")
    nested = "---\ntitle: t\nx: " + "[" * 5 + "1" + "]" * 5 + "\n---\n## a\n"
    assert cli("build", write_md(nested), "-o", tmp_path / "y.pptx").code == 0


def test_front_matter_longer_than_the_cap_is_refused(cli: Cli, write_md: WriteMd,
                                                     tmp_path: Path) -> None:
    source = write_md("---\ntitle: t\nabstract: " + "긴 " * MAX_FRONT_MATTER + "\n---\n## a\n")
    one_error(cli("build", source, "-o", tmp_path / "x.pptx"), f"{source}:1",
              "front matter is longer than")


@pytest.mark.parametrize(("value", "what"), [("2024-13-45", "date"), ("2024-02-30", "date"),
                                             ("0000-01-01", "date"), ("9" * 5000, "number")])
def test_a_value_python_cannot_hold_is_kept_as_text_with_a_warning(
        cli: Cli, write_md: WriteMd, tmp_path: Path, value: str, what: str) -> None:
    source = write_md(f"---\ntitle: 제목\ndate: {value}\n---\n## a\n\nb\n")
    result = cli("build", source, "-o", tmp_path / "x.pptx")
    assert result.code == 0, result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    shown = value if len(value) <= 40 else value[:40] + "…"
    assert f"{source}:3: warning: front matter value '{shown}' is not a valid {what}; " \
        "kept as text" in result.stderr
    if what == "date":
        assert value in slide_text(Presentation(str(tmp_path / "x.pptx")).slides[0])


@pytest.mark.parametrize("value", ["!!timestamp nope", '!!timestamp ""', "!!float abc",
                                   "!!float 1_e", "!!bool maybe", '!!int ""', '!!float ""'])
def test_a_value_its_explicit_tag_does_not_fit_is_kept_as_text_with_a_warning(
        cli: Cli, write_md: WriteMd, tmp_path: Path, value: str) -> None:
    source = write_md(f"---\ntitle: 제목\nsubtitle: {value}\n---\n## a\n\nb\n")
    result = cli("build", source, "-o", tmp_path / "x.pptx")
    assert result.code == 0, result.stderr
    tag, _, text = value.partition(" ")
    text = text.strip('"')
    assert f"{source}:3: warning: front matter value '{text}' is not a valid {tag}; kept as " \
        "text" in result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr


def test_a_binary_or_set_value_is_ignored_with_a_warning_and_the_deck_is_reproducible(
        cli: Cli, write_md: WriteMd, tmp_path: Path) -> None:
    source = write_md("---\ntitle: !!set {가, b, c, d, e, f, g, h}\nsubtitle: !!binary aGk=\n"
                      "author: Kim\n---\n# 제목\n\n## a\n\nb\n")
    result = cli("build", source, "-o", tmp_path / "x.pptx")
    assert result.code == 0, result.stderr
    assert f"{source}:2: warning: front matter value tagged !!set is not text; ignored" \
        in result.stderr
    assert f"{source}:3: warning: front matter value tagged !!binary is not text; ignored" \
        in result.stderr
    first = slide_text(Presentation(str(tmp_path / "x.pptx")).slides[0])
    assert "제목" in first and "Kim" in first and "{" not in first and "b'" not in first
    nested = write_md("---\ntitle: t\nx: !!set [a]\n---\n## a\n", "nested.md")
    one_error(cli("build", nested, "-o", tmp_path / "y.pptx"), f"{nested}:3",
              "front matter value is not a valid !!set")


def test_a_key_given_twice_is_warned_about_at_its_second_line(cli: Cli, write_md: WriteMd,
                                                              tmp_path: Path) -> None:
    source = write_md("---\ntitle: first\nauthor: Kim\ntitle: second\n---\n## a\n\nb\n")
    result = cli("build", source, "-o", tmp_path / "x.pptx")
    assert result.code == 0, result.stderr
    assert f"{source}:4: warning: front matter key 'title' is given again; this value " \
        "replaces the first" in result.stderr
    assert "second" in slide_text(Presentation(str(tmp_path / "x.pptx")).slides[0])


def test_front_matter_may_nest_20_lists_and_its_cap_counts_bytes(
        cli: Cli, write_md: WriteMd, tmp_path: Path) -> None:
    deepest = "---\ntitle: t\nx: " + "[" * 19 + "1" + "]" * 19 + "\n---\n## a\n"
    assert cli("build", write_md(deepest), "-o", tmp_path / "x.pptx").code == 0  # root + 19
    deeper = write_md("---\ntitle: t\nx: " + "[" * 20 + "1" + "]" * 20 + "\n---\n## a\n",
                      "deeper.md")
    one_error(cli("build", deeper, "-o", tmp_path / "y.pptx"), f"{deeper}:3",
              f"front matter nests deeper than {MAX_FRONT_MATTER_DEPTH} levels")
    wide = write_md("---\ntitle: t\nabstract: " + "가" * (MAX_FRONT_MATTER // 2) + "\n---\n"
                    "## a\n", "wide.md")  # half the cap in characters, 1.5 times it in bytes
    one_error(cli("build", wide, "-o", tmp_path / "z.pptx"), f"{wide}:1",
              "front matter is longer than")


# --- links -----------------------------------------------------------------------------------

HOSTILE_LINKS = ["smb://10.0.0.1/share/x.docx", "search-ms:query=invoice&crumb=location:\\\\h",
                 "ms-word:ofe|u|http://example.com/a.docx", "evil.exe", "../secret.md",
                 "#a-slide", "//host/share", "FILE:///etc/passwd", "vbscript:msgbox",
                 "ms-excel:ofv|u|https://example.com/b.xlsx", "\\\\host\\share"]
SAFE_LINKS = ["https://example.com/a", "HTTP://EXAMPLE.ORG", "mailto:kim@example.com"]


def test_only_http_https_and_mailto_links_become_hyperlinks(cli: Cli, write_md: WriteMd,
                                                            tmp_path: Path) -> None:
    lines = [f"- [hostile {n}](<{link}>)" for n, link in enumerate(HOSTILE_LINKS)]
    lines += [f"- <{link}>" for link in HOSTILE_LINKS if ":" in link]  # autolinks
    lines += [f"- [safe {n}]({link})" for n, link in enumerate(SAFE_LINKS)]
    source = write_md("## 링크\n\n" + "\n".join(lines) + "\n\n<!-- notes: see [x](smb://h/s) -->\n")
    deck = tmp_path / "x.pptx"
    result = cli("build", source, "-o", deck)
    assert result.code == 0, result.stderr
    warned = re.findall(rf"^{re.escape(str(source))}:(\d+): warning: link to '([^']*)' kept "
                        r"as plain text: only http, https and mailto links are clickable",
                        result.stderr, re.M)
    # markdown-it itself makes no link of file: and vbscript: (its text stays as written)
    refused_by_markdown_it = 4
    # evil.exe, ../secret.md and #a-slide name no scheme and no share: plain text, no warning
    quiet = 3
    assert len(warned) == len(lines) - len(SAFE_LINKS) - refused_by_markdown_it - quiet + 1, \
        result.stderr
    assert not {"evil.exe", "../secret.md", "#a-slide"} & {link for _, link in warned}
    assert warned[0] == ("3", "smb://10.0.0.1/share/x.docx")
    targets = []
    with zipfile.ZipFile(deck) as archive:
        for name in archive.namelist():
            if name.endswith(".rels"):
                rels = archive.read(name).decode()
                targets += re.findall(r'Target="([^"]*)"[^>]*TargetMode="External"', rels)
                assert rels.count('TargetMode="External"') == len(re.findall(
                    r'Type="[^"]*/hyperlink"', rels)), name
    assert set(targets) == set(SAFE_LINKS)
    prs = Presentation(str(deck))
    for slide in prs.slides:
        for rel in slide.part.rels.values():
            if rel.reltype == RELATIONSHIP_TYPE.HYPERLINK:
                assert rel.target_ref.split(":")[0].lower() in ("http", "https", "mailto")
    shown = "".join(slide_text(slide) + notes_text(slide) for slide in prs.slides)
    assert all(f"hostile {n}" in shown for n in range(len(HOSTILE_LINKS)))


def test_a_refused_link_keeps_its_text_on_the_slide_and_its_address_in_the_notes(
        cli: Cli, write_md: WriteMd, tmp_path: Path) -> None:
    source = write_md("## References\n\n- [Paper](./paper.pdf)\n- [Share](smb://h/s) and "
                      "[Web](https://example.com)\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
                      "| [x](smb://a/x) | [y](../y.md) |\n\n> [q](search-ms:q)\n")
    deck = tmp_path / "x.pptx"
    result = cli("build", source, "-o", deck)
    assert result.code == 0, result.stderr
    slide = Presentation(str(deck)).slides[1]
    assert "Paper" in slide_text(slide) and "paper.pdf" not in slide_text(slide)
    notes = notes_text(slide)
    for shown in ("Paper (./paper.pdf)", "Share (smb://h/s) and Web (https://example.com)",
                  "x (smb://a/x) | y (../y.md)", "q (search-ms:q)"):
        assert shown in notes, notes
    warned = re.findall(rf"^{re.escape(str(source))}:(\d+): warning: link to '([^']*)'",
                        result.stderr, re.M)
    # one each, in line order, at its row; a file beside the note (./paper.pdf, ../y.md) is
    # plain text without a warning
    assert warned == [("4", "smb://h/s"), ("9", "smb://a/x"), ("11", "search-ms:q")]


def test_links_within_the_note_are_plain_text_without_a_warning(
        cli: Cli, write_md: WriteMd, tmp_path: Path) -> None:
    """A table of contents and links to the next chapter are no danger: no warning, so
    `--strict` still builds; an address that leaves the note is said as written."""
    source = write_md("## 목차\n\n- [프로세스](#프로세스)\n- [다음 장](./02-memory.md)\n\n"
                      "## 프로세스\n\n[공유](smb://서버/문서)\n")
    result = cli("build", source, "-o", tmp_path / "x.pptx", "--strict")
    assert result.code == 1
    assert result.stderr.count("warning: link to") == 1, result.stderr
    assert f"{source}:8: warning: link to 'smb://서버/문서' kept as plain text" in result.stderr
    source.write_text(source.read_text(encoding="utf-8").replace("smb://서버/문서", "https://x.org"),
                      encoding="utf-8")
    result = cli("build", source, "-o", tmp_path / "x.pptx", "--strict")
    assert result.code == 0 and "warning" not in result.stderr, result.stderr


def test_the_renderer_writes_no_hyperlink_of_another_scheme(
        cli: Cli, write_md: WriteMd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Should a span carry such an address past the parser, the deck still holds none."""
    monkeypatch.setattr(deckgen.parse, "clickable", lambda address: True)
    source = write_md("## a\n\n" + "".join(f"- [link {n}](<{link}>)\n"
                                            for n, link in enumerate(HOSTILE_LINKS + SAFE_LINKS)))
    deck = tmp_path / "x.pptx"
    result = cli("build", source, "-o", deck)
    assert result.code == 0 and "kept as plain text" not in result.stderr, result.stderr
    with zipfile.ZipFile(deck) as archive:
        targets = [target for name in archive.namelist() if name.endswith(".rels")
                   for target in re.findall(r'Target="([^"]*)"[^>]*TargetMode="External"',
                                            archive.read(name).decode())]
    assert set(targets) == set(SAFE_LINKS)

def test_a_mailto_attachment_or_hostless_web_link_or_mail_picture_is_not_clickable(
        cli: Cli, write_md: WriteMd, tmp_path: Path) -> None:
    source = write_md("## a\n\n- [mail](mailto:a@b?attach=/etc/passwd)\n- [web](http:/host)\n"
                      "- [ok](mailto:a@b?subject=Hi)\n\n![m](mailto:x@y)\n")
    deck = tmp_path / "x.pptx"
    result = cli("build", source, "-o", deck)
    assert result.code == 0, result.stderr
    assert f"{source}:3: warning: link to 'mailto:a@b?attach=/etc/passwd' kept as plain " \
        "text" in result.stderr
    assert f"{source}:4: warning: link to 'http:/host' kept as plain text" in result.stderr
    with zipfile.ZipFile(deck) as archive:
        targets = [target for name in archive.namelist() if name.endswith(".rels")
                   for target in re.findall(r'Target="([^"]*)"[^>]*TargetMode="External"',
                                            archive.read(name).decode())]
    assert set(targets) == {"mailto:a@b?subject=Hi"}
    slide = Presentation(str(deck)).slides[1]
    assert "mailto:x@y" in slide_text(slide)  # the placeholder names it, without a link


@pytest.mark.parametrize("address", [*HOSTILE_LINKS, "javascript:alert(1)", "data:text/html,x",
                                     " https://padded", "httpx://a", "",
                                     "mailto:a@b?attach=/etc/passwd",
                                     "mailto:a@b?subject=x&Attach=/etc/passwd",
                                     "mailto:a@b?%61ttach=x", "http:", "http:/host",
                                     "http:\\\\server\\share", "https:///x", "http://@/",
                                     "http://host\\share"])
def test_an_address_of_another_scheme_is_not_clickable(address: str) -> None:
    assert not clickable(address)


@pytest.mark.parametrize("address", [*SAFE_LINKS, "mailto:a@b?subject=Hi&body=x&cc=c@d",
                                     "mailto:a@b?BCC=e@f", "https://[::1]:8080/a?b=c#d"])
def test_web_and_mail_addresses_are_clickable(address: str) -> None:
    assert clickable(address)


# --- markup nested without end ---------------------------------------------------------------

DEEP = "*a " * 250 + "깊은 말" + " b*" * 250
DEEP_MIXED = "".join("*a **b " for _ in range(150)) + "깊은 말" + " b** a*" * 150


@pytest.mark.parametrize(("note", "line"), [
    (f"## a\n\n{DEEP}\n", 3),
    (f"## a\n\n{DEEP_MIXED}\n", 3),
    (f"## {DEEP}\n\nb\n", 1),
    (f"## a\n\n| h |\n|---|\n| {DEEP} |\n", 5),  # the row's line
    (f"## a\n\n- item\n  - {DEEP}\n", 4),
    (f"## a\n\nb\n\n<!-- notes:\n\n{DEEP}\n-->\n", 7),
    (f"## a\n\n[{DEEP}](https://example.com)\n", 3),
], ids=["paragraph", "mixed", "heading", "table", "list", "notes", "link"])
def test_emphasis_nested_250_deep_is_flattened_with_a_warning(
        cli: Cli, write_md: WriteMd, tmp_path: Path, note: str, line: int) -> None:
    source = write_md(note)
    result = cli("build", source, "-o", tmp_path / "x.pptx")
    assert result.code == 0, result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    assert f"{source}:{line}: warning: emphasis or links nested more than 20 deep: the deeper " \
        "formatting is dropped, the text kept" in result.stderr, result.stderr
    prs = Presentation(str(tmp_path / "x.pptx"))
    shown = "".join(slide_text(slide) + notes_text(slide) for slide in prs.slides)
    assert "깊은 말" in shown


def test_emphasis_nested_too_deep_is_warned_about_at_the_line_of_the_nesting(
        cli: Cli, write_md: WriteMd, tmp_path: Path) -> None:
    source = write_md(f"## a\n\nfirst line\nsecond line\nthird {DEEP}\n\n[x]()\n")
    result = cli("build", source, "-o", tmp_path / "x.pptx")
    assert result.code == 0, result.stderr
    assert f"{source}:5: warning: emphasis or links nested more than 20 deep" in result.stderr
    assert f"{source}:7: warning: link 'x' has no address; its text is kept as plain text" \
        in result.stderr


def test_emphasis_nested_20_deep_keeps_its_formatting(cli: Cli, write_md: WriteMd,
                                                     tmp_path: Path) -> None:
    source = write_md("## a\n\n" + "*a " * 20 + "x" + " b*" * 20 + "\n")
    result = cli("build", source, "-o", tmp_path / "x.pptx")
    assert result.code == 0 and "warning" not in result.stderr, result.stderr


# --- very many headings ----------------------------------------------------------------------


def test_a_note_of_more_slides_than_the_cap_is_refused_at_the_first_one_too_many(
        cli: Cli, write_md: WriteMd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deckgen.structure, "MAX_SLIDES", 30)
    source = write_md("".join(f"## Heading {n}\n\nPoint {n}.\n\n" for n in range(40)))
    deck = tmp_path / "notes.pptx"
    deck.write_bytes(b"previous deck")
    for command in (["build", source, "-o", deck], ["check", source]):
        # the title slide and 30 headings' slides: the 30th heading (line 117) is one too many
        one_error(cli(*command), f"{source}:117",
                  "the note makes more than 30 slides (slide 31 is made here); split it into "
                  "several notes")
    assert deck.read_bytes() == b"previous deck"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["notes.md", "notes.pptx"]
    source.write_text("".join(f"## Heading {n}\n\nPoint {n}.\n\n" for n in range(29)))
    assert cli("build", source, "-o", deck, "-q").code == 0
    assert len(Presentation(str(deck)).slides) == 30


@pytest.mark.invalid_deck("notes.pptx")  # a stand-in for the previous deck
def test_continuation_slides_count_against_the_slide_cap(
        cli: Cli, write_md: WriteMd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = write_md("## S\n\n" + "".join(f"- item {n}\n" for n in range(2000)))
    deck = tmp_path / "notes.pptx"
    assert cli("build", source, "-o", deck, "--overflow", "continue", "-q").code == 0
    made = Presentation(str(deck))
    assert len(made.slides) > 40
    first_too_many = slide_text(made.slides[30])  # slide 31: the title slide and 30 parts
    item = int(re.search(r"item (\d+)", first_too_many).group(1))  # type: ignore[union-attr]
    deck.write_bytes(b"previous deck")
    monkeypatch.setattr(deckgen.structure, "MAX_SLIDES", 30)
    one_error(cli("build", source, "-o", deck, "--overflow", "continue"),
              f"{source}:{item + 3}",
              "the note makes more than 30 slides (slide 31 is made here); split it into "
              "several notes")
    assert deck.read_bytes() == b"previous deck"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["notes.md", "notes.pptx"]


def test_a_table_continued_on_many_slides_is_in_the_notes_once(cli: Cli, write_md: WriteMd,
                                                                 tmp_path: Path) -> None:
    """It was in the notes of each of its slides: 8,000 rows ran out of memory at 3 GB."""
    rows = "".join(f"| r{n} | v{n} |\n" for n in range(600))
    source = write_md(f"## S\n\n| a | b |\n|---|---|\n{rows}")
    deck = tmp_path / "notes.pptx"
    assert cli("build", source, "-o", deck, "--overflow", "continue", "-q").code == 0
    slides = list(Presentation(str(deck)).slides)[1:]
    assert len(slides) > 20
    assert "r599" in notes_text(slides[0])
    assert all("r599" not in notes_text(slide) for slide in slides[1:])
    assert "r599" in slide_text(slides[-1])
    few = "".join(f"| r{n} | v{n} |\n" for n in range(40))  # a few slides: in each's notes
    source.write_text(f"## S\n\n| a | b |\n|---|---|\n{few}")
    assert cli("build", source, "-o", deck, "--overflow", "continue", "-q").code == 0
    slides = list(Presentation(str(deck)).slides)[1:]
    assert 2 <= len(slides) <= 20
    assert all("r39" in notes_text(slide) for slide in slides)


# --- very long paragraphs ----------------------------------------------------------------------


def test_an_8_mb_paragraph_builds_in_memory_proportional_to_it(write_md: WriteMd,
                                                               tmp_path: Path) -> None:
    """Splitting it into sentences listed every character with its span: 0.6 GB for 8 MB."""
    words = ("컨테이너는", "host", "커널을", "shares", "e.g.", "공유한다", "and")
    text = " ".join(("**굵게**" if n % 1000 == 500 else words[n % 7])
                    + ("." if n % 1000 == 999 else "") for n in range(960_000))
    source = write_md(f"## 긴 문단\n\n{text}\n")
    assert 8_000_000 < source.stat().st_size <= MAX_NOTE_BYTES, source.stat().st_size
    result, peak = bounded_with_peak("build", source, "-o", tmp_path / "x.pptx", "-q")
    assert result.code == 0, result.stderr
    assert peak < 350 * 2**20, f"{peak / 2**20:.0f} MB"  # 170 MB here, 700 MB before


def test_a_note_larger_than_the_cap_is_refused_before_it_is_read_whole(
        cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "huge.md"
    with source.open("wb") as file:  # sparse: 4 GB on no disk
        file.write(b"## a\n\n")
        file.truncate(4 * 2**30)
    deck = tmp_path / "huge.pptx"
    started = time.monotonic()
    result = bounded("build", source, "-o", deck)
    assert time.monotonic() - started < 10
    one_error(result, str(source), "is larger than 8 MB, more than a deck can show; split it "
              "into several notes")
    assert not deck.exists()
    source.write_text("## a\n\n" + "b" * (MAX_NOTE_BYTES - 10))
    assert cli("build", source, "-o", deck, "-q").code == 0


@pytest.mark.invalid_deck("notes.pptx")  # a stand-in for the previous deck
def test_a_table_of_too_many_cells_is_refused_before_it_takes_the_memory(
        write_md: WriteMd, tmp_path: Path) -> None:
    """40 one-letter columns took 2.3 KB of memory a byte: 2.4 GB for a 1 MB note."""
    row = "|" + "a|" * 40 + "\n"
    source = write_md("# T\n\n" + row + "|" + "-|" * 40 + "\n" + row * 9000)
    assert source.stat().st_size < 800_000
    deck = tmp_path / "notes.pptx"
    deck.write_bytes(b"previous deck")
    result, peak = bounded_with_peak("build", source, "-o", deck)
    row_line = re.search(rf"{re.escape(str(source))}:(\d+): ", result.stderr)
    assert row_line is not None and 5 <= int(row_line[1]) <= 9004, result.stderr  # a row
    one_error(result, f"{source}:{row_line[1]}", f"the note has more than {MAX_NOTE_TOKENS:,} "
              "pieces of markup", "split it into several notes")
    assert peak < 600 * 2**20, f"{peak / 2**20:.0f} MB"  # 370 MB here
    assert deck.read_bytes() == b"previous deck"


@pytest.mark.parametrize(("markdown", "line"), [
    ("## S\n\nintro\n\n- a\n- b\n- " + "*x* " * 30 + "\n", 7),  # emphasis in an item
    ("## S\n\n" + "".join(f"- item {n}\n" for n in range(40)), 14),  # a long list
    ("## S\n\nintro\n\n<!-- notes:\n\nsaid\n\n" + "[a](http://b) " * 20 + "\n-->\n", 9),
])
def test_markup_past_the_token_cap_is_refused_at_its_line(
        cli: Cli, write_md: WriteMd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        markdown: str, line: int) -> None:
    refused_below_a_lowered_cap(
        cli, write_md(markdown), line, tmp_path, monkeypatch, "MAX_NOTE_TOKENS", 60, 1000,
        "the note has more than 60 pieces of markup (table cells, list items, emphasis, "
        "links, runs of text), more than a deck can show; split it into several notes")


def refused_below_a_lowered_cap(cli: Cli, source: Path, line: int, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch, cap: str, low: int,
                                high: int, message: str) -> None:
    """With parse's `cap` lowered to `low`, build and check refuse the note with `message`
    at `line`, writing nothing; with it at `high`, the note builds."""
    monkeypatch.setattr(deckgen.parse, cap, low)
    for command in (["build", source, "-o", tmp_path / "x.pptx"], ["check", source]):
        one_error(cli(*command), f"{source}:{line}", message)
    assert not (tmp_path / "x.pptx").exists()
    monkeypatch.setattr(deckgen.parse, cap, high)
    assert cli("build", source, "-o", tmp_path / "x.pptx", "-q").code == 0


# --- links that never end --------------------------------------------------------------------

#: Lines of 4 MB that make few tokens but took markdown-it minutes looking ahead for the end
#: of each link's text or address (75 µs a `![`).
UNENDING_LINKS = {
    "images": "![" * 2_000_000,
    "addresses": "[a](" * 1_000_000,
    "nested": "[" * 2_000_000 + "a" + "]" * 2_000_000,
    "angled": "[a](<" * 800_000,
}


@pytest.mark.parametrize("line", UNENDING_LINKS.values(), ids=UNENDING_LINKS.keys())
@pytest.mark.invalid_deck("notes.pptx")  # a stand-in for the previous deck
def test_a_line_of_links_that_never_end_is_refused_in_bounded_time(
        write_md: WriteMd, tmp_path: Path, line: str) -> None:
    source = write_md("# T\n\n## S\n\nintro\n\n" + line + "\n")
    deck = tmp_path / "notes.pptx"
    deck.write_bytes(b"previous deck")
    started = time.monotonic()
    result = bounded("build", source, "-o", deck)
    assert time.monotonic() - started < SECONDS_LIMIT
    one_error(result, f"{source}:7", f"the note has more than {MAX_LINK_LOOKAHEAD:,} steps of "
              "looking for the ends of links and images", "split it into several notes")
    assert deck.read_bytes() == b"previous deck"


@pytest.mark.parametrize("line", ["(" * 4_000_000, "<" * 4_000_000, "`" * 4_000_000,
                                  "`a" * 2_000_000, '[a](b "' * 500_000],
                         ids=["parens", "angles", "backticks", "code spans", "titles"])
def test_other_lines_of_4_mb_of_punctuation_build_in_bounded_time(
        write_md: WriteMd, tmp_path: Path, line: str) -> None:
    source = write_md("# T\n\n## S\n\n" + line + "\n")
    started = time.monotonic()
    result = bounded("check", source)
    assert time.monotonic() - started < SECONDS_LIMIT
    assert "Traceback" not in result.stderr and result.stderr.count("\n") <= 2, result.stderr


@pytest.mark.parametrize(("markdown", "line"), [
    ("## S\n\nintro\n\nsee\n" + "![" * 40 + "\n", 6),
    ("## S\n\nintro\n\n- a\n- b [a](" + "[a](" * 40 + "\n", 6),
    ("## S\n\n<!-- notes:\n\nsaid\n\n" + "[" * 40 + "x\n-->\n", 7),
])
def test_looking_ahead_past_the_cap_is_refused_at_its_line(
        cli: Cli, write_md: WriteMd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        markdown: str, line: int) -> None:
    refused_below_a_lowered_cap(
        cli, write_md(markdown), line, tmp_path, monkeypatch, "MAX_LINK_LOOKAHEAD", 200,
        100_000, "the note has more than 200 steps of looking for the ends of links and images "
        "(runs of unclosed `[`, `![` or `[a](`); escape the brackets (`\\[`) or split it into "
        "several notes")


def test_links_in_a_long_lecture_look_ahead_far_less_than_the_cap() -> None:
    links = "".join(f"See [the *{n}th* source](https://example.com/{n}) and ![a](p{n}.png) "
                    f"[{n}] (x) <b>\n\n" for n in range(20_000))
    env: dict[str, object] = {}
    deckgen.parse.parse_tokens(links, env)
    assert isinstance(steps := env[deckgen.parse.LOOKAHEAD_KEY], int)
    assert steps < MAX_LINK_LOOKAHEAD // 4, steps


# --- stopping a long parse -------------------------------------------------------------------


def handles(pid: int, signum: int) -> bool:
    """Whether a process has its own handler for a signal (Linux: /proc's SigCgt mask)."""
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^SigCgt:\s*([0-9a-f]+)$", status, re.M)
    return match is not None and bool(int(match[1], 16) >> (signum - 1) & 1)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc")
@pytest.mark.parametrize("kill", [signal.SIGTERM, signal.SIGINT], ids=lambda kill: kill.name)
@pytest.mark.invalid_deck("notes.pptx")
def test_a_signal_stops_a_long_parse_promptly(write_md: WriteMd, tmp_path: Path,
                                              kill: signal.Signals) -> None:
    source = write_md("".join(f"## 제목 {n}\n\n- *점* {n}\n" for n in range(80_000)))
    deck = tmp_path / "notes.pptx"
    deck.write_bytes(b"previous deck")
    process = subprocess.Popen([sys.executable, "-m", "deckgen", "build", source, "-o", deck],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               cwd=REPO_ROOT, env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)))
    try:
        deadline = time.monotonic() + 30
        while not handles(process.pid, signal.SIGTERM):  # main() runs: the build started
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.02)
        time.sleep(1.0)  # parsing 80,000 headings takes several seconds
        assert process.poll() is None, "the parse ended before the signal"
        process.send_signal(kill)
        sent = time.monotonic()
        _, stderr = process.communicate(timeout=30)
        stopped_after = time.monotonic() - sent
    finally:
        process.kill()
    assert stopped_after < 3, f"{stopped_after:.1f} s"
    assert process.returncode == (143 if kill is signal.SIGTERM else 130), stderr
    word = "terminated" if kill is signal.SIGTERM else "interrupted"
    # no "deckgen: parsed" line before it: stopped while parsing, without a traceback
    assert stderr == f"deckgen: {word}; nothing was written\n"
    assert deck.read_bytes() == b"previous deck"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["notes.md", "notes.pptx"]


def test_running_out_of_memory_is_one_line_and_keeps_the_previous_deck(
        cli: Cli, write_md: WriteMd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = write_md("# Talk\n\n## One\n\nText.\n")
    deck = tmp_path / "x.pptx"
    assert cli("build", source, "-o", deck).code == 0
    before = deck.read_bytes()

    def exhausted(*args: object, **kwargs: object) -> None:
        raise MemoryError

    monkeypatch.setattr(deckgen.structure, "build_deck", exhausted)
    monkeypatch.setattr("deckgen.build.build_deck", exhausted)
    result = cli("build", source, "-o", deck)
    assert result.code == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"{source}: out of memory; nothing was written" in result.stderr
    assert "internal error" not in result.stderr
    assert deck.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.md", "x.pptx"]
