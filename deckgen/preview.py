"""Pictures of a deck without PowerPoint: LibreOffice to PDF, poppler to PNGs, a contact sheet."""

from __future__ import annotations

import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

from deckgen.errors import DeckgenError

if TYPE_CHECKING:
    from PIL.ImageFont import FreeTypeFont, ImageFont

    from deckgen.theme import Theme

#: Where LibreOffice puts soffice when it is not on PATH (macOS app bundle, Windows).
SOFFICE_LOCATIONS = (
    Path("/Applications/LibreOffice.app/Contents/MacOS/soffice"),
    Path("C:/Program Files/LibreOffice/program/soffice.exe"),
    Path("C:/Program Files (x86)/LibreOffice/program/soffice.exe"),
)
INSTALL_LIBREOFFICE = ("LibreOffice (soffice) is needed to draw slides without PowerPoint but "
                       "was not found; install it with 'apt-get install libreoffice-impress' "
                       "(Debian/Ubuntu) or 'brew install --cask libreoffice' (macOS), or set "
                       "SOFFICE to its soffice program")
INSTALL_POPPLER = ("pdftoppm (poppler) is needed to turn the PDF into pictures but was not "
                   "found; install it with 'apt-get install poppler-utils' (Debian/Ubuntu) or "
                   "'brew install poppler' (macOS)")
#: Seconds LibreOffice may take to convert one deck (its first start is the slow part).
DEFAULT_TIMEOUT = 180.0
#: Width in pixels of every slide picture (the height follows the slide's aspect ratio).
DEFAULT_WIDTH = 1280
SLIDE_PICTURE = re.compile(r"^slide-(\d+)\.png$")
SLIDE_SIZE = re.compile(r"<p:sldSz\b[^>]*>")
CONTACT_SHEET = "contact-sheet.png"
#: Contact sheet geometry in pixels, and its colours.
SHEET_THUMB_WIDTH = 320
SHEET_MARGIN = 24
SHEET_GAP = 20
SHEET_LABEL_SIZE = 18
SHEET_BACKGROUND = "#E2E8F0"
SHEET_FRAME = "#94A3B8"
SHEET_LABEL = "#1E293B"
#: Faces tried, in order, for the contact sheet's slide numbers.
LABEL_FONTS = ("DejaVu Sans", "Liberation Sans", "Noto Sans", "Arial", "Helvetica")
#: The system fontconfig file a generated one builds on.
SYSTEM_FONTCONFIG = "/etc/fonts/fonts.conf"
#: The file that marks a folder of pictures as deckgen's (a preview's, a handout's): only
#: such a folder, a new one or an empty one is written into, and its old pictures replaced.
FOLDER_MARK = ".deckgen-output"
#: Files the system leaves in any folder it shows (macOS Finder, Windows Explorer): they
#: do not make a folder someone else's.
SYSTEM_FILES = (".DS_Store", "Thumbs.db")
FOLDER_MARK_TEXT = ("deckgen made this folder; it replaces the slide pictures, the PDF and "
                    "the contact sheet in it on every run.\n")


@dataclass(frozen=True)
class Preview:
    """What `preview_deck` wrote: the PDF, one PNG per slide and the contact sheet."""

    pdf: Path
    slides: tuple[Path, ...]
    sheet: Path


class ToolMissing(DeckgenError):
    """An external program deckgen needs for pictures of slides is not installed."""


def find_soffice() -> Path | None:
    """LibreOffice's soffice: $SOFFICE, else on PATH, else where its installers put it."""
    configured = os.environ.get("SOFFICE", "").strip()
    if configured:
        found = shutil.which(configured)
        return Path(found) if found else None
    for name in ("soffice", "libreoffice"):
        found = shutil.which(name)
        if found:
            return Path(found)
    return next((path for path in SOFFICE_LOCATIONS if path.is_file()), None)


def find_pdftoppm() -> Path | None:
    """poppler's pdftoppm, if installed."""
    found = shutil.which("pdftoppm")
    return Path(found) if found else None


def require_tools() -> tuple[Path, Path]:
    """soffice and pdftoppm, or a ToolMissing error that says how to install them."""
    soffice = find_soffice()
    if soffice is None:
        raise ToolMissing(INSTALL_LIBREOFFICE)
    pdftoppm = find_pdftoppm()
    if pdftoppm is None:
        raise ToolMissing(INSTALL_POPPLER)
    return soffice, pdftoppm


def convert_to_pdf(deck: Path, pdf: Path, timeout: float = DEFAULT_TIMEOUT,
                   faces: Iterable[tuple[str, bool]] = ()) -> Path:
    """Convert a .pptx to `pdf` with headless LibreOffice; the PDF appears whole or not at all.

    LibreOffice runs with a private profile in a temporary folder, so parallel runs do not
    clash with each other or with an open LibreOffice, and is killed after `timeout`
    seconds. `faces` are the (typeface, east_asian) pairs the deck asks for: on systems
    that use fontconfig they are bound to the fonts deckgen measured text with, so the
    PDF shows the line breaks the build computed (unless FONTCONFIG_FILE is already set).
    """
    soffice = find_soffice()
    if soffice is None:
        raise ToolMissing(INSTALL_LIBREOFFICE)
    if not deck.is_file():
        raise DeckgenError("deck not found", deck)
    with tempfile.TemporaryDirectory(prefix="deckgen-office-") as work:
        work_dir = Path(work)
        out_dir = work_dir / "out"
        command = [str(soffice), f"-env:UserInstallation={(work_dir / 'profile').as_uri()}",
                   "--headless", "--invisible", "--norestore", "--nologo", "--nolockcheck",
                   "--convert-to", "pdf", "--outdir", str(out_dir), str(deck.resolve())]
        output = _run(command, timeout, office_environment(work_dir, faces), "LibreOffice")
        produced = out_dir / f"{deck.stem}.pdf"
        if not produced.is_file() or produced.stat().st_size == 0:
            raise DeckgenError("LibreOffice made no PDF of the deck; its output was: "
                               + (_tail(output) or "(nothing)"), deck)
        move_into_place(produced, pdf)
    return pdf


def pdf_to_pictures(pdf: Path, out_dir: Path, width: int = DEFAULT_WIDTH,
                    height: int | None = None,
                    timeout: float = DEFAULT_TIMEOUT) -> tuple[Path, ...]:
    """One PNG per page, `width` pixels wide, as out_dir/slide-01.png, slide-02.png, …;
    `height` pixels high, else as high as the page's shape makes it.

    Pictures of an earlier, longer deck (slide-NN.png beyond the last page) are removed,
    so the folder always holds exactly the current slides.
    """
    pdftoppm = find_pdftoppm()
    if pdftoppm is None:
        raise ToolMissing(INSTALL_POPPLER)
    if width < 16:
        raise DeckgenError(f"a picture width of {width} pixels is too small")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="deckgen-pages-") as work:
        prefix = Path(work) / "page"
        _run([str(pdftoppm), "-png", "-scale-to-x", str(width), "-scale-to-y",
              str(height or -1), str(pdf), str(prefix)], timeout, dict(os.environ), "pdftoppm")
        pages = sorted(Path(work).glob("page-*.png"), key=lambda p: int(p.stem.split("-")[-1]))
        if not pages:
            raise DeckgenError("pdftoppm drew no pages", pdf)
        digits = max(2, len(str(len(pages))))
        for stale in out_dir.iterdir():
            if SLIDE_PICTURE.match(stale.name):
                stale.unlink()
        pictures = []
        for number, page in enumerate(pages, start=1):
            picture = out_dir / f"slide-{number:0{digits}d}.png"
            move_into_place(page, picture)
            pictures.append(picture)
    return tuple(pictures)


def contact_sheet(pictures: Sequence[Path], sheet: Path,
                  thumb_width: int = SHEET_THUMB_WIDTH) -> Path:
    """One PNG with every slide picture in a grid, each numbered beneath."""
    from PIL import Image, ImageDraw

    if not pictures:
        raise DeckgenError("no slide pictures to put on a contact sheet")
    columns = min(len(pictures), max(4, math.ceil(math.sqrt(len(pictures)))))
    rows = math.ceil(len(pictures) / columns)
    with Image.open(pictures[0]) as first:
        thumb_height = round(thumb_width * first.height / first.width)
    font = label_font(SHEET_LABEL_SIZE)
    label_height = SHEET_LABEL_SIZE + 12
    cell_width, cell_height = thumb_width + SHEET_GAP, thumb_height + label_height + SHEET_GAP
    canvas = Image.new("RGB", (2 * SHEET_MARGIN + columns * cell_width - SHEET_GAP,
                               2 * SHEET_MARGIN + rows * cell_height - SHEET_GAP),
                       SHEET_BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    for index, path in enumerate(pictures):
        left = SHEET_MARGIN + (index % columns) * cell_width
        top = SHEET_MARGIN + (index // columns) * cell_height
        with Image.open(path) as picture:
            thumb = picture.convert("RGB").resize((thumb_width, thumb_height),
                                                  Image.Resampling.LANCZOS)
        canvas.paste(thumb, (left, top))
        draw.rectangle((left - 1, top - 1, left + thumb_width, top + thumb_height),
                       outline=SHEET_FRAME)
        draw.text((left + thumb_width / 2, top + thumb_height + 6), str(index + 1),
                  fill=SHEET_LABEL, font=font, anchor="mt")
    sheet.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=sheet.parent, prefix=f".{sheet.name}.", suffix=".tmp",
                                     delete=False) as handle:
        canvas.save(handle, format="PNG")
    publish(Path(handle.name), sheet)
    return sheet


def label_font(size: int) -> FreeTypeFont | ImageFont:
    """A Pillow font for labels: the first of LABEL_FONTS installed, else Pillow's own."""
    from PIL import ImageFont

    from deckgen.measure import find_font

    for family in LABEL_FONTS:
        found = find_font(family, bold=True)
        if found is not None:
            try:
                return ImageFont.truetype(str(found.path), size, index=found.index)
            except OSError:
                continue
    return ImageFont.load_default(size)


def preview_deck(deck: Path, out_dir: Path, width: int = DEFAULT_WIDTH,
                 timeout: float = DEFAULT_TIMEOUT,
                 faces: Iterable[tuple[str, bool]] = ()) -> Preview:
    """The deck as a PDF, one PNG per slide and a contact sheet, all in `out_dir`, which
    must be deckgen's own (claim_folder)."""
    require_tools()
    claim_folder(out_dir, "the preview", pdf=f"{deck.stem}.pdf")
    pdf = convert_to_pdf(deck, out_dir / f"{deck.stem}.pdf", timeout, faces)
    slides = pdf_to_pictures(pdf, out_dir, width, picture_height(deck, width), timeout)
    return Preview(pdf, slides, contact_sheet(slides, out_dir / CONTACT_SHEET))


def check_own_folder(folder: Path, what: str, advice: str = "choose another -o folder",
                     pdf: str | None = None) -> None:
    """Refuse, writing nothing, a folder deckgen may not write `what` into: a file, a
    symbolic link (its pictures would go wherever it points), or a folder that holds files
    deckgen did not write. A new folder, an empty one, one deckgen marked (FOLDER_MARK) and
    one holding only what deckgen writes there (own_output: an older deckgen made it) are
    fine; the caller refuses one that holds an input of the build (build.refuse_overwriting).
    `pdf` is the name of the PDF written into the folder, if any."""
    try:
        if folder.is_symlink():
            raise DeckgenError(f"is a symbolic link (to {os.readlink(folder)}), so {what} "
                               f"would be written there instead; remove the link or {advice}",
                               folder)
        if not folder.exists():
            return
        if not folder.is_dir():
            raise DeckgenError(f"is a file, not a folder, so {what} cannot go in it; {advice}",
                               folder)
        entries = list(folder.iterdir())
        blocked = sorted(entry.name for entry in entries
                         if output_name(entry.name, pdf) and not own_output(entry, pdf))
        if blocked:  # a folder or link where a picture or the PDF goes, even if marked
            raise DeckgenError(f"holds {blocked[0]}, which is not a plain file, where deckgen "
                               f"writes {what}; remove it or {advice}", folder)
        if (folder / FOLDER_MARK).is_file():
            return
        foreign = sorted(entry.name for entry in entries if not own_output(entry, pdf))
    except OSError as exc:
        raise DeckgenError(f"cannot use this folder for {what} ({exc.strerror or exc}); "
                           f"{advice}", folder) from exc
    if foreign:
        raise DeckgenError(f"holds files deckgen did not write (e.g. {foreign[0]}); empty it "
                           f"or {advice}", folder)


def own_output(entry: Path, pdf: str | None = None) -> bool:
    """Whether a folder's entry is one deckgen writes there (a slide picture, the contact
    sheet, the deck's PDF: a plain file, not a link) or a file the system leaves in any
    folder (.DS_Store, Thumbs.db)."""
    if entry.name in SYSTEM_FILES:
        return True
    if not output_name(entry.name, pdf):
        return False
    return entry.is_file() and not entry.is_symlink()


def output_name(name: str, pdf: str | None = None) -> bool:
    """Whether deckgen writes a file of this name into its own folder: a slide picture,
    the contact sheet or the deck's PDF (`pdf`)."""
    return bool(SLIDE_PICTURE.match(name)) or name in (CONTACT_SHEET, pdf)


def claim_folder(folder: Path, what: str, advice: str = "choose another -o folder",
                 pdf: str | None = None) -> None:
    """Make `folder` deckgen's own, creating it and marking it (FOLDER_MARK), once
    check_own_folder allows it."""
    check_own_folder(folder, what, advice, pdf)
    mark = folder / FOLDER_MARK
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not mark.is_file():
            mark.write_text(FOLDER_MARK_TEXT, encoding="utf-8")
    except OSError as exc:
        raise DeckgenError(f"cannot make the folder for {what} ({exc.strerror or exc}); "
                           f"{advice}", folder) from exc


def picture_height(deck: Path, width: int) -> int | None:
    """The height in pixels of a `width`-pixel picture of the deck's slides, from the slide
    size in its presentation.xml (the PDF's page size is rounded); None if unreadable."""
    try:
        with zipfile.ZipFile(deck) as package:
            head = package.read("ppt/presentation.xml")[:20_000].decode("utf-8", "replace")
    except (OSError, KeyError, zipfile.BadZipFile):
        return None
    size = SLIDE_SIZE.search(head)
    if size is None:
        return None
    attributes = dict(re.findall(r'(cx|cy)="(\d+)"', size.group(0)))
    if "cx" not in attributes or "cy" not in attributes or not int(attributes["cx"]):
        return None
    return max(1, round(width * int(attributes["cy"]) / int(attributes["cx"])))


def office_environment(work_dir: Path, faces: Iterable[tuple[str, bool]]) -> dict[str, str]:
    """The environment LibreOffice runs in: ours, plus (where fontconfig chooses fonts and
    FONTCONFIG_FILE is not set) a fontconfig file binding the deck's faces to the fonts
    deckgen measures with, and colour emoji (which LibreOffice leaves out of PDFs) to Symbola
    when it is installed."""
    environment = dict(os.environ)
    if "FONTCONFIG_FILE" in environment or sys.platform in ("darwin", "win32"):
        return environment
    if not Path(SYSTEM_FONTCONFIG).is_file():
        return environment
    config = work_dir / "fonts.conf"
    config.write_text(fontconfig_text(font_bindings(faces)), encoding="utf-8")
    environment["FONTCONFIG_FILE"] = str(config)
    return environment


def font_bindings(faces: Iterable[tuple[str, bool]]) -> dict[str, str]:
    """Each requested face that is not installed, mapped to the family deckgen measures it
    with (its metric equivalent, else a wide fallback)."""
    from deckgen.measure import find_font, measure_file_for

    bindings: dict[str, str] = {}
    for face, east_asian in faces:
        if face in bindings or find_font(face, bold=False) is not None:
            continue
        measured = measure_file_for(face, bold=False, east_asian=east_asian)
        if measured is not None and measured.family.casefold() != face.casefold():
            bindings[face] = measured.family
    if find_font("Symbola", bold=False) is not None:
        for emoji_face in ("Segoe UI Emoji", "Apple Color Emoji", "Noto Color Emoji"):
            bindings.setdefault(emoji_face, "Symbola")
    return bindings


def fontconfig_text(bindings: dict[str, str]) -> str:
    """A fontconfig file: the system's configuration, then strong family bindings."""
    lines = ['<?xml version="1.0"?>', '<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">',
             "<fontconfig>",
             f'  <include ignore_missing="yes">{escape(SYSTEM_FONTCONFIG)}</include>']
    if bindings.get("Noto Color Emoji") == "Symbola":
        lines.append("  <selectfont><rejectfont><glob>*NotoColorEmoji*</glob></rejectfont>"
                     "</selectfont>")
    for face, family in bindings.items():
        lines += ['  <match target="pattern">',
                  f'    <test qual="any" name="family"><string>{escape(face)}</string></test>',
                  '    <edit name="family" mode="assign" binding="strong">'
                  f"<string>{escape(family)}</string></edit>",
                  "  </match>"]
    lines.append("</fontconfig>")
    return "\n".join(lines) + "\n"


def theme_faces(themes: Sequence[Theme] = ()) -> list[tuple[str, bool]]:
    """The (typeface, east_asian) pairs themes ask for; with no theme given, those of every
    built-in theme."""
    from deckgen.errors import Diagnostics
    from deckgen.theme import builtin_themes, load_theme

    chosen = list(themes)
    if not chosen:
        for name in builtin_themes():
            try:
                chosen.append(load_theme(name, Diagnostics()))
            except DeckgenError:
                continue
    faces: list[tuple[str, bool]] = []
    for theme in chosen:
        for face in theme.fonts.values():
            faces += [(face.latin, False), (face.east_asian, True)]
    return list(dict.fromkeys(faces))


def move_into_place(produced: Path, destination: Path) -> None:
    """Put a finished file at `destination` whole: a rename, or a copy beside it then one."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(produced, destination)
        return
    except OSError:
        pass  # another file system: copy beside the destination, then rename
    with tempfile.NamedTemporaryFile(dir=destination.parent, prefix=f".{destination.name}.",
                                     suffix=".tmp", delete=False) as handle:
        temporary = Path(handle.name)
    try:
        shutil.copyfile(produced, temporary)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    publish(temporary, destination)


def publish(temporary: Path, destination: Path) -> None:
    """Rename a finished temporary file (beside `destination`) into place, readable as a
    file the user created would be (temporary files are private)."""
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, destination)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _run(command: list[str], timeout: float, environment: dict[str, str], name: str) -> str:
    """Run a program in its own process group, killing the whole group on a timeout; its
    combined output, or a DeckgenError when it cannot start, fails or times out."""
    posix = os.name == "posix"
    try:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env=environment,
                                   start_new_session=posix)
    except OSError as exc:
        raise DeckgenError(f"cannot run {name} ({command[0]}): {exc.strerror}") from exc
    try:
        raw, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(process, posix)
        raw, _ = process.communicate()
        raise DeckgenError(f"{name} did not finish within {timeout:g} s and was stopped; "
                           "its output was: " + (_tail(raw.decode("utf-8", "replace"))
                                                 or "(nothing)")) from None
    except BaseException:
        _kill(process, posix)
        process.communicate()
        raise
    output = raw.decode("utf-8", "replace")
    if process.returncode != 0:
        raise DeckgenError(f"{name} failed (exit status {process.returncode}): "
                           + (_tail(output) or "(no output)"))
    return output


def _kill(process: subprocess.Popen[bytes], posix: bool) -> None:
    try:
        if posix:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
    except OSError:
        pass


def _tail(output: str, lines: int = 8) -> str:
    return " | ".join(line.strip() for line in output.strip().splitlines()[-lines:])
