"""What deckgen writes and reads: no output is ever an input or a file of the user's, and
pictures come only from the note's folder, its repository and the folders given."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import CliResult, draw_picture

from deckgen.preview import FOLDER_MARK

Cli = Callable[..., CliResult]

NOTE = "---\ntitle: Safe\n---\n\n## One\n\nA point.\n\n![a picture](img/p.png)\n"
PICTURE_LINE = 9


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every file and folder under `folder` with its bytes (None for a folder)."""
    return {str(path.relative_to(folder)): None if path.is_dir() else path.read_bytes()
            for path in sorted(folder.rglob("*"))}


def refused(result: CliResult, file: Path, *words: str) -> str:
    """The one error line of a refused command, which names `file` and says `words`."""
    assert result.code == 1, result
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    [line] = lines
    assert line.startswith(f"deckgen: error: {file}: "), line
    assert "internal error" not in line and "Traceback" not in line
    for word in words:
        assert word in line, line
    return line


def media(deck: Path) -> list[str]:
    with zipfile.ZipFile(deck) as package:
        return [name for name in package.namelist() if name.startswith("ppt/media/")]


def picture_warnings(result: CliResult) -> list[str]:
    return [line for line in result.stderr.splitlines() if "warning: image" in line]


@pytest.fixture
def talk(tmp_path: Path) -> Path:
    """A note with one picture, img/p.png, in tmp_path/talk."""
    note = tmp_path / "talk" / "talk.md"
    draw_picture(note.parent / "img" / "p.png", (64, 48), "#2563EB")
    note.write_text(NOTE, encoding="utf-8")
    return note


@pytest.fixture
def no_office(monkeypatch: pytest.MonkeyPatch) -> None:
    """preview needs no LibreOffice to be refused, and must not reach it."""

    def must_not_run(*args: object, **kwargs: object) -> Path:
        raise AssertionError("LibreOffice was run")

    monkeypatch.setattr("deckgen.preview.require_tools",
                        lambda: (Path("soffice"), Path("pdftoppm")))
    monkeypatch.setattr("deckgen.preview.convert_to_pdf", must_not_run)


# --- no output is the source or a file it uses ------------------------------------------------


@pytest.mark.invalid_deck("talk.pptx")
def test_a_handout_that_would_be_the_notes_is_refused(cli: Cli, tmp_path: Path) -> None:
    note = tmp_path / "talk.handout.md"
    note.write_text(NOTE.replace("![a picture](img/p.png)", "Text."), encoding="utf-8")
    deck = tmp_path / "talk.pptx"
    deck.write_bytes(b"the previous deck")
    before = snapshot(tmp_path)
    result = cli("build", note, "-o", deck, "--handout")
    refused(result, note, "overwrite the source", "choose another -o path")
    assert snapshot(tmp_path) == before  # the notes, and the previous deck, untouched


@pytest.mark.parametrize("link", ["symbolic", "hard"])
@pytest.mark.parametrize("target", ["notes", "picture", "theme"])
@pytest.mark.invalid_deck("out.pptx")
def test_an_output_linked_to_an_input_is_refused(cli: Cli, talk: Path, link: str,
                                                 target: str) -> None:
    theme = talk.parent / "mine.toml"
    theme.write_text('extends = "default"\nname = "mine"\n', encoding="utf-8")
    linked = {"notes": talk, "picture": talk.parent / "img" / "p.png", "theme": theme}[target]
    out = talk.parent / "out.pptx"
    (out.symlink_to if link == "symbolic" else out.hardlink_to)(linked)
    before = snapshot(talk.parent)
    result = cli("build", talk, "-o", out, "--theme", theme)
    what = {"notes": "the source", "picture": "a picture the source uses",
            "theme": "the theme"}[target]
    refused(result, out, f"overwrite {what}")
    assert snapshot(talk.parent) == before


def test_a_pdf_linked_to_a_picture_is_refused(cli: Cli, talk: Path) -> None:
    (talk.parent / "talk.pdf").hardlink_to(talk.parent / "img" / "p.png")
    before = snapshot(talk.parent)
    result = cli("build", talk, "--pdf")
    refused(result, talk.parent / "talk.pdf", "overwrite a picture the source uses")
    assert snapshot(talk.parent) == before  # not even the deck was written


def test_the_deck_cannot_overwrite_its_template(cli: Cli, talk: Path) -> None:
    company = talk.parent / "company.pptx"
    assert cli("build", talk, "-o", company, "-q").code == 0  # a deck serves as a template
    linked = talk.parent / "linked.pptx"
    linked.hardlink_to(company)
    before = snapshot(talk.parent)
    for out in (company, linked):
        result = cli("build", talk, "--template", company, "-o", out)
        refused(result, out, "overwrite the template")
    assert snapshot(talk.parent) == before


def test_a_handout_folder_deckgen_did_not_make_is_refused(cli: Cli, talk: Path) -> None:
    folder = talk.parent / "talk.handout"
    folder.mkdir()
    (folder / "slide-01.png").write_bytes(b"a picture deckgen may have drawn")
    (folder / "holiday.png").write_bytes(b"the user's own picture")
    before = snapshot(talk.parent)
    result = cli("build", talk, "--handout")
    refused(result, folder, "deckgen did not write (e.g. holiday.png)", "choose another -o path")
    assert snapshot(talk.parent) == before


# --- preview writes only into a folder of its own ---------------------------------------------


def test_preview_into_the_notes_folder_is_refused(cli: Cli, talk: Path,
                                                  no_office: None) -> None:
    folder = talk.parent
    draw_picture(folder / "slide-01.png", (32, 32), "#0F766E")  # a picture the note uses
    talk.write_text(NOTE + "\n![first](slide-01.png)\n", encoding="utf-8")
    (folder / "p.pdf").write_bytes(b"%PDF the user's own")
    before = snapshot(folder)
    result = cli("preview", talk, "-o", folder)
    refused(result, folder, "deckgen did not write (e.g. img)", "choose another -o folder")
    assert snapshot(folder) == before


def test_preview_refuses_its_own_folder_when_it_holds_a_picture_of_the_notes(
        cli: Cli, talk: Path, no_office: None) -> None:
    folder = talk.parent / "img"  # the note's pictures, in a folder marked as deckgen's
    (folder / FOLDER_MARK).touch()
    before = snapshot(talk.parent)
    result = cli("preview", talk, "-o", folder)
    refused(result, folder, "holds a picture the source uses")
    assert snapshot(talk.parent) == before


@pytest.mark.parametrize("name", ["slide-01.png", "talk.pdf", "contact-sheet.png"])
def test_a_marked_folder_with_a_folder_where_an_output_goes_is_refused(
        cli: Cli, talk: Path, tmp_path: Path, no_office: None, name: str) -> None:
    """A marker anyone can ship does not let deckgen write over what is not a plain file."""
    folder = tmp_path / "shots"
    (folder / name).mkdir(parents=True)
    (folder / FOLDER_MARK).touch()
    before = snapshot(tmp_path)
    result = cli("preview", talk, "-o", folder)
    refused(result, folder, f"holds {name}, which is not a plain file")
    assert snapshot(tmp_path) == before


@pytest.mark.invalid_deck("talk.pptx")
def test_preview_of_a_deck_into_its_own_folder_is_refused(cli: Cli, tmp_path: Path,
                                                          no_office: None) -> None:
    deck = tmp_path / "shots" / "talk.pptx"
    deck.parent.mkdir()
    deck.write_bytes(b"a deck")
    (deck.parent / FOLDER_MARK).touch()
    result = cli("preview", deck, "-o", deck.parent)
    refused(result, deck.parent, "holds the deck")
    assert deck.read_bytes() == b"a deck"


def test_a_new_or_empty_folder_is_taken_and_marked(cli: Cli, talk: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from deckgen import preview

    def drawn(deck: Path, out_dir: Path, *args: object, **kwargs: object) -> preview.Preview:
        preview.claim_folder(out_dir, "the preview")  # as preview_deck does, before drawing
        return preview.Preview(out_dir / "talk.pdf", (out_dir / "slide-01.png",),
                               out_dir / preview.CONTACT_SHEET)

    monkeypatch.setattr(preview, "require_tools", lambda: (Path("soffice"), Path("pdftoppm")))
    monkeypatch.setattr(preview, "preview_deck", drawn)
    empty = tmp_path / "empty"
    empty.mkdir()
    for folder in (tmp_path / "new" / "shots", empty, empty):  # the last: its own, again
        result = cli("preview", talk, "-o", folder)
        assert result.code == 0, result.stderr
        assert [path.name for path in folder.iterdir()] == [FOLDER_MARK]


# --- clear messages -----------------------------------------------------------------------------


def test_preview_into_a_file_says_so(cli: Cli, talk: Path, no_office: None) -> None:
    existing = talk.parent / "existing"
    existing.write_text("mine", encoding="utf-8")
    result = cli("preview", talk, "-o", existing)
    refused(result, existing, "is a file, not a folder", "choose another -o folder")
    assert existing.read_text(encoding="utf-8") == "mine"


def test_preview_of_a_folder_says_so(cli: Cli, tmp_path: Path, no_office: None) -> None:
    result = cli("preview", tmp_path)
    refused(result, tmp_path, "is a folder, not a note or a deck")


def test_a_theme_that_is_a_folder_says_so(cli: Cli, talk: Path) -> None:
    folder = talk.parent / "look.toml"
    folder.mkdir()
    refused(cli("build", talk, "--theme", folder), folder, "is a folder, not a theme file")


def test_init_with_a_name_too_long_says_so(cli: Cli, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    name = "t" * 300
    result = cli("init", name)
    refused(result, Path(name), "File name too long", "choose another folder")
    assert not any(tmp_path.iterdir())


def test_a_refused_init_leaves_no_folder_behind(cli: Cli, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "kept").mkdir()  # a folder that was there before stays
    for name in (f"x/{'a' * 300}/y", f"kept/new/{'a' * 300}"):
        result = cli("init", name)
        assert result.code == 1 and "File name too long" in result.stderr, result
        assert len(result.stderr.splitlines()) == 1, result.stderr
        assert snapshot(tmp_path) == {"kept": None}


# --- where pictures and themes come from ------------------------------------------------------


def test_pictures_are_not_taken_from_the_working_directory(cli: Cli, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    cwd = tmp_path / "elsewhere"
    draw_picture(cwd / "img" / "p.png", (64, 48), "#B91C1C")
    secret = cwd / "secret.png"
    draw_picture(secret, (64, 48), "#1E3A8A")
    note = tmp_path / "notes" / "talk.md"
    note.parent.mkdir()
    note.write_text(NOTE + f"\n![secret]({secret})\n", encoding="utf-8")
    monkeypatch.chdir(cwd)
    result = cli("build", note)
    assert result.code == 0, result.stderr
    warnings = picture_warnings(result)
    assert [line.split(": warning")[0] for line in warnings] == \
        [f"{note}:{PICTURE_LINE}", f"{note}:{PICTURE_LINE + 2}"]
    assert media(note.with_suffix(".pptx")) == []
    result = cli("build", note, "--resource-path", ".")  # the working directory, when given
    assert result.code == 0 and picture_warnings(result) == [], result.stderr
    assert len(media(note.with_suffix(".pptx"))) == 2


def test_missing_and_outside_pictures_are_said_alike(cli: Cli, talk: Path,
                                                     tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    draw_picture(outside / "exists.png", (32, 32), "#B91C1C")
    talk.write_text(f"## One\n\n![a]({outside / 'exists.png'})\n\n![b]({outside / 'absent.png'})"
                    "\n", encoding="utf-8")
    result = cli("build", talk)
    assert result.code == 0, result.stderr
    first, second = picture_warnings(result)
    assert first.replace("exists.png", "X").replace(":3:", ":N:") == \
        second.replace("absent.png", "X").replace(":5:", ":N:")
    assert "not found" in first and media(talk.with_suffix(".pptx")) == []


def test_pictures_come_from_the_repository_root(cli: Cli, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    repository = tmp_path / "repo"
    (repository / ".git").mkdir(parents=True)
    (repository / ".git" / "HEAD").write_text("ref: refs/heads/main\n", encoding="utf-8")
    draw_picture(repository / "img" / "shared.png", (64, 48), "#0F766E")
    note = repository / "docs" / "talk" / "talk.md"
    note.parent.mkdir(parents=True)
    note.write_text("## One\n\n![root-relative](/img/shared.png)\n\n"
                    "![relative](../../img/shared.png)\n\n![from a root](img/shared.png)\n",
                    encoding="utf-8")
    monkeypatch.chdir("/")
    result = cli("build", note)
    assert result.code == 0 and picture_warnings(result) == [], result.stderr
    assert len(media(note.with_suffix(".pptx"))) == 1  # the same picture, once
    (repository / ".git" / "HEAD").unlink()  # not a repository: the note's folder only
    result = cli("build", note)
    assert len(picture_warnings(result)) == 3, result.stderr


def test_a_root_relative_picture_is_found_in_the_notes_own_folder(
        cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Notes kept outside a repository name pictures from their own folder as `/img/x.png`
    (a site's root); the same spelling never reaches a file outside the note's folder."""
    folder = tmp_path / "notes"
    draw_picture(folder / "DB" / "img" / "one.png", (64, 48), "#0F766E")
    secret = tmp_path / "secret.png"
    draw_picture(secret, (64, 48), "#1E3A8A")
    note = folder / "note.md"
    note.write_text(f"## One\n\n![a](/DB/img/one.png)\n\n![b]({secret})\n\n"
                    "![c](/../secret.png)\n", encoding="utf-8")
    monkeypatch.chdir("/")
    result = cli("build", note)
    assert result.code == 0, result.stderr
    assert [line.split(": warning")[0] for line in picture_warnings(result)] == \
        [f"{note}:5", f"{note}:7"]
    assert len(media(note.with_suffix(".pptx"))) == 1


def test_the_front_matter_theme_is_found_beside_the_note(cli: Cli, talk: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    (talk.parent / "look.toml").write_text('extends = "default"\nname = "look"\n',
                                           encoding="utf-8")
    talk.write_text(NOTE.replace("title: Safe", "title: Safe\ntheme: look.toml"),
                    encoding="utf-8")
    (tmp_path / "look.toml").write_text("not = [toml", encoding="utf-8")  # the working dir's
    monkeypatch.chdir(tmp_path)
    result = cli("build", talk)
    assert result.code == 0, result.stderr
    assert os.path.getsize(talk.with_suffix(".pptx")) > 0


@pytest.mark.parametrize("arguments", [["build", "LONG.md"], ["check", "LONG.md"],
                                       ["preview", "LONG.md"],
                                       ["build", "NOTE", "--theme", "LONG.toml"],
                                       ["build", "NOTE", "--template", "LONG.pptx"]])
def test_a_path_too_long_is_named(cli: Cli, talk: Path, no_office: None,
                                  arguments: list[str]) -> None:
    long = str(talk.parent / ("n" * 300))
    argv = [argument.replace("LONG", long).replace("NOTE", str(talk)) for argument in arguments]
    before = snapshot(talk.parent)
    refused(cli(*argv), Path(next(a for a in argv if long in a)), "File name too long")
    assert snapshot(talk.parent) == before


def test_a_markdown_file_that_is_not_a_handout_is_not_replaced(cli: Cli, talk: Path) -> None:
    other = talk.parent / "talk.handout.md"
    other.write_text("# My other notes\n\n![a picture](img/p.png)\n", encoding="utf-8")
    before = snapshot(talk.parent)
    refused(cli("build", talk, "--handout"), other, "is not a handout deckgen wrote")
    assert snapshot(talk.parent) == before


def test_a_handout_deckgen_wrote_is_recognised(tmp_path: Path) -> None:
    from deckgen.model import DeckMeta
    from deckgen.share import handout_markdown, is_handout

    folder = tmp_path / "my talk.handout"
    markdown = tmp_path / "my talk.handout.md"
    markdown.write_text(handout_markdown(DeckMeta(title="T " * 2000), [],
                                         []) + "![Slide 1: T](my%20talk.handout/slide-01.png)",
                        encoding="utf-8")
    assert is_handout(markdown, folder)
    markdown.write_text("# Notes\n\n![x](other.handout/slide-01.png)\n", encoding="utf-8")
    assert not is_handout(markdown, folder)


# --- output folders: links, and folders an older deckgen made ---------------------------------


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> None:
    """preview claims its folder as it does before drawing, then draws nothing."""
    from deckgen import preview

    def draw(deck: Path, out_dir: Path, *args: object, **kwargs: object) -> preview.Preview:
        preview.claim_folder(out_dir, "the preview", pdf=f"{deck.stem}.pdf")
        return preview.Preview(out_dir / f"{deck.stem}.pdf", (out_dir / "slide-01.png",),
                               out_dir / preview.CONTACT_SHEET)

    monkeypatch.setattr(preview, "require_tools", lambda: (Path("soffice"), Path("pdftoppm")))
    monkeypatch.setattr(preview, "preview_deck", draw)


@pytest.fixture
def shared(monkeypatch: pytest.MonkeyPatch) -> None:
    """--pdf and --handout are checked before the deck is written, then share nothing."""
    monkeypatch.setattr("deckgen.share.share_deck", lambda *args, **kwargs: [])


@pytest.mark.parametrize("given", [False, True])
def test_a_preview_folder_that_is_a_link_is_refused(cli: Cli, talk: Path, tmp_path: Path,
                                                    drawn: None, given: bool) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    link = talk.with_suffix(".preview")
    link.symlink_to(elsewhere, target_is_directory=True)
    before = snapshot(tmp_path)
    result = cli("preview", talk, *(["-o", link] if given else []))
    refused(result, link, "is a symbolic link", "remove the link")
    assert snapshot(tmp_path) == before  # nothing written, in the link's target either


def test_a_handout_folder_that_is_a_link_is_refused(cli: Cli, talk: Path, tmp_path: Path,
                                                    shared: None) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    link = talk.with_suffix(".handout")
    link.symlink_to(elsewhere, target_is_directory=True)
    before = snapshot(tmp_path)
    refused(cli("build", talk, "--handout"), link, "is a symbolic link", "remove the link")
    assert snapshot(tmp_path) == before  # not even the deck


def older_output(folder: Path, *names: str) -> None:
    """A folder as the previous release left it: deckgen's pictures, no mark."""
    folder.mkdir(parents=True)
    for name in names:
        (folder / name).write_bytes(b"an older picture")


def test_a_preview_folder_an_older_deckgen_made_is_taken(cli: Cli, talk: Path, tmp_path: Path,
                                                         drawn: None) -> None:
    folder = tmp_path / "build" / "preview"
    older_output(folder, "slide-01.png", "slide-12.png", "contact-sheet.png", "talk.pdf",
                 ".DS_Store")
    result = cli("preview", talk, "-o", folder)
    assert result.code == 0, result.stderr
    assert (folder / FOLDER_MARK).is_file()
    (folder / FOLDER_MARK).unlink()
    (folder / "other.pdf").write_bytes(b"the user's own")  # not the deck's PDF
    before = snapshot(tmp_path)
    line = refused(cli("preview", talk, "-o", folder), folder, "choose another -o folder")
    assert line == (f"deckgen: error: {folder}: holds files deckgen did not write "
                    "(e.g. other.pdf); empty it or choose another -o folder")
    assert snapshot(tmp_path) == before


def test_a_handout_folder_an_older_deckgen_made_is_taken(cli: Cli, talk: Path,
                                                         shared: None) -> None:
    folder = talk.with_suffix(".handout")
    older_output(folder, "slide-01.png", "Thumbs.db")
    result = cli("build", talk, "--handout", "-q")
    assert result.code == 0, result.stderr
    (folder / "slide-01.png").unlink()
    (folder / "slide-01.png").symlink_to(talk)  # a link is not a picture deckgen wrote
    refused(cli("build", talk, "--handout"), folder, "holds slide-01.png", "not a plain file")


def test_an_older_folder_holding_a_picture_of_the_notes_is_refused(cli: Cli, talk: Path,
                                                                   drawn: None) -> None:
    folder = talk.parent / "shots"
    older_output(folder, "slide-01.png")
    talk.write_text(NOTE + "\n![first](shots/slide-01.png)\n", encoding="utf-8")
    before = snapshot(talk.parent)
    refused(cli("preview", talk, "-o", folder), folder, "holds a picture the source uses")
    assert snapshot(talk.parent) == before


# --- the deck's temporary file ----------------------------------------------------------------


def test_a_deck_with_the_longest_name_is_written(cli: Cli, talk: Path) -> None:
    deck = talk.parent / f"{'d' * 250}.pptx"  # 255 bytes, as long as a name may be
    result = cli("build", talk, "-o", deck, "-q")
    assert result.code == 0, result.stderr
    assert zipfile.is_zipfile(deck)
    assert not list(talk.parent.glob(".*.tmp"))


def test_a_deck_name_too_long_is_named(cli: Cli, talk: Path) -> None:
    deck = talk.parent / f"{'d' * 251}.pptx"
    before = snapshot(talk.parent)
    refused(cli("build", talk, "-o", deck), deck, "File name too long",
            "choose a shorter -o name")
    assert snapshot(talk.parent) == before


def test_only_deckgens_stale_temporaries_are_removed(cli: Cli, talk: Path) -> None:
    import subprocess
    import sys

    folder = talk.parent
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                                  capture_output=True, text=True, check=True)
        dead = folder / f".deckgen-{finished.stdout.strip()}-x9q1ab_c.tmp"
        alive = folder / f".deckgen-{running.pid}-k3j2zz0a.tmp"
        foreign = [folder / ".deckgen-notes.tmp", folder / ".deckgen-12-x.tmp.bak",
                   folder / ".other.tmp", folder / ".deckgen-99999999-keep.tmp",
                   folder / f".{talk.with_suffix('.pptx').name}.backup.tmp"]
        for path in (dead, alive, *foreign):
            path.write_bytes(b"a temporary file")
        link = folder / f".deckgen-{finished.stdout.strip()}-linkabcd.tmp"
        link.symlink_to(folder / ".other.tmp")  # a link is never taken for a temporary
        foreign.append(link)
        assert cli("build", talk, "-q").code == 0
        assert sorted(folder.glob(".*.tmp*")) == sorted([alive, *foreign])
    finally:
        running.kill()
        running.wait()


@pytest.mark.parametrize(("key", "suffix"), [("theme", ".toml"), ("template", ".pptx")])
@pytest.mark.parametrize("command", ["build", "check"])
def test_a_front_matter_path_too_long_is_located_in_the_note(cli: Cli, talk: Path, key: str,
                                                             suffix: str, command: str) -> None:
    talk.write_text(NOTE.replace("title: Safe", f"title: Safe\n{key}: {'n' * 300}{suffix}"),
                    encoding="utf-8")
    before = snapshot(talk.parent)
    result = cli(command, talk)
    assert result.code == 1 and len(result.stderr.splitlines()) == 1, result
    line = result.stderr.strip()
    assert line.startswith(f"deckgen: error: {talk}:3: front matter {key}: cannot use "), line
    assert line.endswith(f"(File name too long); change '{key}:' in the note's front matter")
    assert snapshot(talk.parent) == before


@pytest.mark.parametrize(("option", "suffix", "what"), [("--handout", ".handout.md", "the handout"),
                                                        ("--pdf", ".pdf", "the PDF")])
def test_a_folder_in_a_shared_files_place_is_named(cli: Cli, talk: Path, option: str,
                                                   suffix: str, what: str) -> None:
    folder = talk.with_suffix(suffix)
    folder.mkdir()
    before = snapshot(talk.parent)
    refused(cli("build", talk, option), folder, f"is a folder, so {what} cannot be written")
    assert snapshot(talk.parent) == before


def test_a_system_error_on_deckgens_own_file_does_not_blame_the_user(
        cli: Cli, talk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    profile = Path("/tmp/deckgen-office-x1/profile/user")

    def refused_profile(*args: object, **kwargs: object) -> Path:
        raise PermissionError(13, "Permission denied", str(profile))

    monkeypatch.setattr("deckgen.share.convert_to_pdf", refused_profile)
    line = refused(cli("build", talk, "--pdf"), profile, "cannot use this file",
                   "(Permission denied)")
    assert "give another one" not in line
    long = talk.parent / ("n" * 300)  # a path the command line gives is to be given otherwise
    refused(cli("build", long), long, "(File name too long); give another one")


@pytest.mark.parametrize("marker", ["folder", "file"])
def test_a_real_git_marker_makes_a_repository_root(tmp_path: Path, marker: str) -> None:
    from deckgen.images import repository_root

    repository = tmp_path / "repo"
    note_folder = repository / "docs"
    note_folder.mkdir(parents=True)
    git = repository / ".git"
    if marker == "folder":
        git.mkdir()
        assert repository_root(note_folder) is None  # an empty .git folder is no repository
        (git / "HEAD").write_text("ref: refs/heads/main\n", encoding="utf-8")
    else:
        git.write_text("not a worktree\n", encoding="utf-8")
        assert repository_root(note_folder) is None
        git.write_text("gitdir: /elsewhere/.git/worktrees/repo\n", encoding="utf-8")
    assert repository_root(note_folder) == repository.resolve()


def test_the_home_folder_is_no_repository_root(cli: Cli, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    (home / ".git").mkdir(parents=True)  # a dotfiles repository
    (home / ".git" / "HEAD").write_text("ref: refs/heads/main\n", encoding="utf-8")
    draw_picture(home / "secret.png", (32, 32), "#B91C1C")
    note = home / "notes" / "talk.md"
    note.parent.mkdir()
    note.write_text("## One\n\n![a](/secret.png)\n\n![b](../secret.png)\n", encoding="utf-8")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    result = cli("build", note)
    assert result.code == 0, result.stderr
    assert len(picture_warnings(result)) == 2, result.stderr
    assert media(note.with_suffix(".pptx")) == []


def test_a_folder_spelled_otherwise_that_holds_an_input_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a case-insensitive disk `-o IMG` is `img/`, yet resolving keeps the case it was
    given: simulated by an alias of the folder that resolving does not follow."""
    from deckgen.build import inside, refuse_overwriting
    from deckgen.errors import DeckgenError

    picture = tmp_path / "talk" / "img" / "p.png"
    draw_picture(picture, (64, 48), "#2563EB")
    alias = tmp_path / "talk" / "IMG"
    alias.symlink_to(picture.parent, target_is_directory=True)
    monkeypatch.setattr(Path, "resolve", lambda self, strict=False: Path(os.path.abspath(self)))
    assert inside(picture, alias) and inside(picture.parent, alias)
    assert not inside(picture, tmp_path / "talk" / "other")
    with pytest.raises(DeckgenError, match="holds a picture the source uses"):
        refuse_overwriting([(picture, "a picture the source uses")], folders=[alias])


def test_help_states_the_output_rules(cli: Cli) -> None:
    def joined(text: str) -> str:
        return " ".join(text.split())

    preview = joined(cli("preview", "--help").stdout)
    assert "deckgen's own" in preview and "symbolic link, is refused" in preview
    build = joined(cli("build", "--help").stdout)
    assert "OUT.handout.md deckgen did not write is refused" in build
    assert "front matter's theme, whose path is relative to the note" in build


def test_shared_outputs_are_checked_once_per_build(cli: Cli, talk: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from deckgen import share

    checks: list[Path] = []
    real_check = share.check_shared_outputs

    def counted(plan: object, pdf: bool, handout: bool) -> None:
        checks.append(talk)
        real_check(plan, pdf, handout)  # type: ignore[arg-type]

    def converted(deck: Path, pdf: Path, *args: object, **kwargs: object) -> Path:
        pdf.write_bytes(b"%PDF")
        return pdf

    monkeypatch.setattr(share, "check_shared_outputs", counted)
    monkeypatch.setattr(share, "convert_to_pdf", converted)
    result = cli("build", talk, "--pdf", "-q")
    assert result.code == 0, result.stderr
    assert len(checks) == 1
    assert talk.with_suffix(".pdf").read_bytes() == b"%PDF"


def test_a_missing_picture_names_only_the_places_looked_in(cli: Cli, tmp_path: Path) -> None:
    note = tmp_path / "talk" / "talk.md"
    note.parent.mkdir()
    note.write_text("## One\n\n![a](absent.png)\n", encoding="utf-8")
    assets = tmp_path / "assets"
    assets.mkdir()

    def said() -> list[str]:
        output = cli("check", note, *arguments).stdout.splitlines()
        [warning] = [line for line in output if "warning: image" in line]
        return [place for place in ("the note's folder", "its repository", "resource paths")
                if place in warning.split("(looked in")[0]]

    arguments: list[object] = []
    assert said() == ["the note's folder"]  # in no repository, no resource path given
    arguments = ["--resource-path", assets]
    assert said() == ["the note's folder", "resource paths"]
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref: refs/heads/main\n", encoding="utf-8")
    assert said() == ["the note's folder", "its repository", "resource paths"]
