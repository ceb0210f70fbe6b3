"""Reference decks: build a fixed set of decks and compare them byte for byte.

    python scripts/reference_decks.py build DIR [--deckgen CHECKOUT|REV] [--jobs N]
    python scripts/reference_decks.py compare DIR [--deckgen CHECKOUT|REV] [--jobs N]
    python scripts/reference_decks.py compare DIR --only 'intro-*' --only 'stress-*'

`build` writes the reference set into DIR: the decks (DIR/decks/NAME.pptx), the notes,
pictures and template it generates (DIR/inputs/) and DIR/manifest.json (per deck its
sha256, size and the exact command that built it; the sha256 of every input; the versions
of what shapes the bytes). `compare` builds the same set into a temporary folder and
compares it with DIR byte for byte: one line per deck, `same` or `DIFFERENT` with the
first zip member that differs and a short hint of how; it exits 1 on any difference (a
changed input, a deck that differs, is missing or failed). The rebuilt decks are kept (and
their folder printed) when something differs.

Every deck is built by `python -m deckgen build` in a child process whose PYTHONPATH is the
chosen checkout (`--deckgen DIR`, default: the checkout holding this script) or a git
revision of this repository (`--deckgen REV`, exported with `git archive` into a
temporary folder), with SOURCE_DATE_EPOCH set. Running `build` and then `compare` with the
same checkout shows whether builds are reproducible.

The set (issue 14):
- `intro-THEME-POLICY`: content/intro.md in every built-in theme (themes/*.toml) with
  `--overflow notes` and `--overflow continue`, built from the repository root;
- `template-THEME-POLICY`: the same on a company template the script generates with
  python-pptx (its default template: a 16:10 slide, renamed layouts, theme fonts and an
  accent colour; written with fixed zip dates so it is the same bytes every time);
- `stress-THEME-POLICY`: a stress note the script generates (Korean and English, long
  paragraphs, two histories of eras, tables, code, lists, blockquotes, pictures of many aspect
  ratios and formats drawn with Pillow, a missing picture, references) in two themes;
- `bench-text-500` and `bench-photos-500`: the 500-slide text note and the 500-slide note
  with 100 photos, made by benchmarks/bench_build.py's generators (its photos by
  benchmarks/bench_images.py, in that script's cache folder);
- `corpus-NAME`: each note in /work/shared/corpus/*/note.md (or `--corpus DIR`), built from
  its own folder as a user would, written to DIR (the corpus is read-only and is not copied).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import difflib
import fnmatch
import hashlib
import io
import json
import os
import platform
import random
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
import bench_build  # noqa: E402  (benchmarks/ is not a package)
import bench_images  # noqa: E402

#: 2026-01-01T00:00:00Z: the time every reference deck carries.
SOURCE_DATE_EPOCH = "1767225600"
DEFAULT_CORPUS = Path("/work/shared/corpus")
OVERFLOW_POLICIES = ("notes", "continue")
STRESS_THEMES = ("default", "seminar")
MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
#: Builds slower than this are a failure (a hung child must not hang the comparison).
BUILD_TIMEOUT = 1800
#: Fixed zip date of the generated template's members (python-pptx writes the clock's).
ZIP_DATE = (2026, 1, 1, 0, 0, 0)


# --- the inputs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Inputs:
    """Where the generated inputs of one build are, and every input file by a stable key."""

    folder: Path
    template: Path
    stress: Path
    text_note: Path
    photo_note: Path
    photo_folder: Path
    corpus: tuple[Path, ...]
    files: dict[str, Path]


def write_bytes(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def company_template() -> bytes:
    """A small company template: python-pptx's default template on a 16:10 slide, three
    layouts renamed (one to its Korean Office name, one to a name found only by its type),
    other theme fonts and accent colour; the same bytes on every call."""
    from pptx import Presentation
    from pptx.util import Emu

    presentation = Presentation()
    presentation.slide_width, presentation.slide_height = Emu(9144000), Emu(5715000)
    renames = {"Title Slide": "Company Title", "Title and Content": "제목 및 내용",
               "Section Header": "Company Section"}
    for layout in presentation.slide_layouts:
        layout.name = renames.get(layout.name, layout.name)
    saved = io.BytesIO()
    presentation.save(saved)
    theme_edits = (('<a:majorFont><a:latin typeface="Calibri"/><a:ea typeface=""/>',
                    '<a:majorFont><a:latin typeface="Liberation Serif"/>'
                    '<a:ea typeface="Noto Sans CJK KR"/>'),
                   ('<a:minorFont><a:latin typeface="Calibri"/><a:ea typeface=""/>',
                    '<a:minorFont><a:latin typeface="Carlito"/>'
                    '<a:ea typeface="Noto Sans CJK KR"/>'),
                   ('<a:accent1><a:srgbClr val="4F81BD"/>', '<a:accent1><a:srgbClr val="B22234"/>'))
    result = io.BytesIO()
    with zipfile.ZipFile(saved) as source, \
            zipfile.ZipFile(result, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "ppt/theme/theme1.xml":
                text = data.decode("utf-8")
                for old, new in theme_edits:
                    if old not in text:
                        raise SystemExit(f"python-pptx's default theme lacks {old!r}")
                    text = text.replace(old, new)
                data = text.encode("utf-8")
            member = zipfile.ZipInfo(info.filename, date_time=ZIP_DATE)
            member.compress_type = zipfile.ZIP_DEFLATED
            member.external_attr = 0o644 << 16
            target.writestr(member, data)
    return result.getvalue()


def draw_diagram(seed: int, size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    """A diagram-like picture: a gradient ground and boxes, circles and lines in flat
    colours, from a fixed seed (no text: fonts differ between machines)."""
    rng = random.Random(seed)
    width, height = size
    ground = Image.linear_gradient("L").resize(size).point(lambda value: 150 + value // 3)
    picture = Image.merge("RGB", (ground, ground, Image.new("L", size, 235))).convert("RGBA")
    draw = ImageDraw.Draw(picture)
    for _ in range(12):
        x, y = rng.randrange(width), rng.randrange(height)
        w, h = rng.randrange(8, max(9, width // 3)), rng.randrange(8, max(9, height // 3))
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256),
                  rng.choice((255, 160)))
        if rng.random() < 0.5:
            draw.rectangle((x, y, x + w, y + h), fill=colour, outline=(30, 41, 59, 255),
                           width=max(1, min(size) // 100))
        else:
            draw.ellipse((x, y, x + w, y + h), fill=colour)
        draw.line((rng.randrange(width), rng.randrange(height), x, y),
                  fill=(15, 23, 42, 255), width=max(1, min(size) // 150))
    if mode == "RGBA":
        hole = Image.new("L", size, 255)
        ImageDraw.Draw(hole).ellipse((width // 4, height // 4, 3 * width // 4, 3 * height // 4),
                                     fill=0)
        picture.putalpha(hole)
        return picture
    return picture.convert(mode) if mode != "P" else picture.convert("RGB").quantize(16)


def encoded(picture: Image.Image, format_: str, **options: object) -> bytes:
    data = io.BytesIO()
    picture.save(data, format_, **options)
    return data.getvalue()


def stress_pictures() -> dict[str, bytes]:
    """The stress note's pictures by file name: wide, tall, square, screen-shaped,
    portrait and panorama photos, a tiny palette picture, a grey one, an animated GIF."""
    frames = [draw_diagram(40 + frame, (200, 150), "P") for frame in range(2)]
    gif = io.BytesIO()
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:], duration=200, loop=0)
    return {
        "wide.png": encoded(draw_diagram(1, (1600, 400)), "PNG"),
        "tall.png": encoded(draw_diagram(2, (300, 900)), "PNG"),
        "square.png": encoded(draw_diagram(3, (600, 600), "RGBA"), "PNG"),
        "screen.png": encoded(draw_diagram(4, (1280, 720)), "PNG"),
        "tiny.png": encoded(draw_diagram(5, (48, 32), "P"), "PNG"),
        "gray.png": encoded(draw_diagram(6, (800, 600), "L"), "PNG"),
        "portrait.jpg": encoded(bench_images.draw_photo(7, (900, 1200)), "JPEG", quality=90),
        "panorama.jpg": encoded(bench_images.draw_photo(8, (3000, 600)), "JPEG", quality=90),
        "anim.gif": gif.getvalue(),
    }


KOREAN = (
    "패킷 교환은 메시지를 작은 조각으로 나누어 각자 다른 길로 보낸다",
    "초기의 연구망은 몇 개의 대학과 연구소만을 잇는 실험이었다",
    "프로토콜을 계층으로 나누면 한 계층을 바꿔도 나머지는 그대로 둘 수 있다",
    "이름 서버는 사람이 읽는 이름을 기계가 쓰는 주소로 바꾸어 준다",
    "하이퍼텍스트는 문서와 문서를 링크로 이어 하나의 거대한 그물을 만든다",
    "브라우저가 널리 퍼지면서 웹은 연구자의 도구에서 모두의 매체가 되었다",
    "검색 엔진은 링크의 구조를 읽어 어떤 문서가 중요한지 가늠한다",
    "스마트폰이 나오자 사람들은 하루 종일 네트워크에 연결된 채로 지내게 되었다",
    "클라우드는 서버를 사지 않고 필요한 만큼 빌려 쓰는 방식을 일반화했다",
    "암호화된 연결이 기본이 되면서 중간에서 내용을 엿보기가 어려워졌다",
    "새 전송 프로토콜은 연결을 맺는 데 드는 왕복 시간을 줄이려 한다",
    "표준은 여러 회사가 서로 다른 구현을 만들어도 함께 동작하게 해 준다",
)
ENGLISH = (
    "Packet switching splits a message into small pieces that travel independently",
    "The first research network joined only a handful of universities and laboratories",
    "Layering lets one protocol change while the layers above and below stay the same",
    "A name server turns names people can read into addresses machines can route",
    "Hypertext links documents to each other until they form one enormous web",
    "Once browsers spread, the web went from a researchers' tool to everyone's medium",
    "A search engine reads the structure of links to judge which pages matter",
    "With the smartphone, people stayed connected to the network all day long",
    "The cloud made renting exactly as many servers as needed the ordinary way",
    "When encrypted connections became the default, eavesdropping got much harder",
    "Newer transports try to cut the round trips it takes to open a connection",
    "Standards let many vendors build different implementations that still work together",
)
TERMS = ("TCP/IP", "DNS", "HTTP/1.1", "TLS", "QUIC", "BGP", "IPv6", "HTML", "URL", "CDN")
EMOJI = ("🤔", "❌", "✅", "💡", "⚠️", "📌")
#: The eras of the history section, in the order the note gives them (not quite
#: chronological: the timeline sorts them).
ERAS = ("1969년 10월 경", "1970년대 초반", "1983-01", "Early 1990s", "1991년 8월", "July 1995",
        "1998년", "Mid 2000s", "2007년 1월 경", "1980s", "2014-06", "2020년대")
#: A second, shorter history: a timeline that is drawn with every label.
BROWSER_ERAS = ("1993년", "1995년 8월", "Late 2000s", "2015-07")


def sentence(rng: random.Random, language: str = "mixed") -> str:
    pool = {"ko": KOREAN, "en": ENGLISH}.get(language) or (
        KOREAN if rng.random() < 0.5 else ENGLISH)
    text = rng.choice(pool)
    roll = rng.random()
    if roll < 0.2:
        text = f"`{rng.choice(TERMS)}`: {text}"
    elif roll < 0.3:
        text = f"**{rng.choice(TERMS)}** — {text}"
    elif roll < 0.35:
        text = f"{text} (*{rng.choice(TERMS)}*)"
    return text + "."


def paragraph(rng: random.Random, sentences: int, language: str = "mixed") -> str:
    return " ".join(sentence(rng, language) for _ in range(sentences))


def stress_note() -> str:
    """A note that exercises as much of deckgen as one note can, from a fixed seed."""
    rng = random.Random(14)
    lines = ["---", 'title: "네트워크와 웹의 역사: a stress note"',
             'subtitle: "한국어와 English, eras, tables, code, pictures"',
             'author: "deckgen reference decks"', 'date: "2026-12-01"', "---", ""]

    def add(*parts: str) -> None:
        lines.extend(parts)
        lines.append("")

    add("# 들어가며 Introduction")
    add("> 💡 이 노트는 deckgen이 할 수 있는 일을 한 번에 시험한다.  ",
        "> It mixes Korean and English, long paragraphs and every kind of block.")
    add(paragraph(rng, 5))
    add("<!-- notes: 발표자 노트: the introduction takes two minutes. -->")

    add("## 넓은 그림 A wide picture")
    add("![넓은 다이어그램 wide diagram](img/wide.png)")
    add(paragraph(rng, 2))
    add("## 세로 그림 A tall picture")
    add('<img src="./img/tall.png" width="240px">')
    add(*(f"- {sentence(rng)}" for _ in range(4)))
    add("## 두 장 Two pictures")
    add('<img src="img/square.png" width="300px"> <img src="img/screen.png" width="500px">')
    add(paragraph(rng, 2, "en"))
    add("## 세 장 Three pictures")
    add("![portrait](img/portrait.jpg) ![grey](img/gray.png) ![tiny](img/tiny.png)")
    add("## 네 장 Four pictures")
    add("![panorama](img/panorama.jpg)", "![animated](img/anim.gif)",
        '<img src="img/wide.png" height="120px">', "![screen again](img/screen.png)")
    add(paragraph(rng, 1, "ko"))
    add("## 사진만 Only a photo")
    add('<img src="img/panorama.jpg" width="800px" height="160px">')
    add("## 없는 그림 A missing picture")
    add("![빠진 그림](img/does-not-exist.png)")
    add(paragraph(rng, 2))

    add("# 네트워크의 역사 A history of networks")
    add(paragraph(rng, 3))
    pictures = ("wide.png", "screen.png", "tall.png", "square.png")
    for number, era in enumerate(ERAS):
        add(f"## {era}")
        if number % 3 == 0:
            add(f"![{era}](img/{pictures[number // 3 % len(pictures)]})")
        add(paragraph(rng, 2 + number % 3))
        if number % 4 == 1:
            add(*(f"- {sentence(rng)}" for _ in range(3)))
        if number % 4 == 2:
            add(f"> {EMOJI[number % len(EMOJI)]} {sentence(rng)}")
        if number % 5 == 3:
            add("::: notes", paragraph(rng, 3), ":::")

    add("# 브라우저 Browsers")
    add(paragraph(rng, 2, "en"))
    for number, era in enumerate(BROWSER_ERAS):
        add(f"### {era}")
        add(paragraph(rng, 1 + number % 2))

    add("# 표 Tables")
    add("## 작은 표 A small table")
    add("| 프로토콜 | layer | 등장 |", "|:---|:---:|---:|",
        *(f"| `{term}` | **{rng.choice(('L3', 'L4', 'L7'))}** | {1970 + 4 * index} |"
          for index, term in enumerate(TERMS[:5])))
    add("## 넓은 표 A wide table")
    add("| 이름 | name | 계층 | port | 표준 | year | 비고 |", "|---|---|---|--:|---|--:|---|",
        *(f"| {term}의 예 | {term} example | L{index % 7 + 1} | {80 + index * 363} | "
          f"RFC {791 + index * 977} | {1981 + index * 4} | {sentence(rng, 'ko')[:24]} |"
          for index, term in enumerate(TERMS[:6])))
    add("## 긴 표 A long table")
    add("| # | 용어 term | 설명 description |", "|--:|---|---|",
        *(f"| {row} | {TERMS[row % len(TERMS)]} | {sentence(rng)} |" for row in range(1, 29)))

    add("# 코드 Code")
    add("## 짧은 코드 Short code")
    add("`socket.create_connection()`은 이름을 풀고 연결을 맺는다. "
        "Call `close()` when done.")
    add("```python", "import socket", "", "", "def fetch(host: str, path: str = \"/\") -> bytes:",
        '    """한 번의 HTTP/1.0 요청: one request, one response."""',
        "    with socket.create_connection((host, 80), timeout=5) as conn:",
        '        conn.sendall(f"GET {path} HTTP/1.0\\r\\nHost: {host}\\r\\n\\r\\n".encode())',
        "        chunks = []", "        while chunk := conn.recv(4096):",
        "            chunks.append(chunk)", '    return b"".join(chunks)', "```")
    add("## 긴 코드 Long code")
    add("```c", *(f"int step_{index:02d}(int x) {{ return x * {index + 2} + "
                  f"{(index * 37) % 101}; }}  /* 단계 {index} */" for index in range(60)),
        "```")
    add("## 여러 언어 Several languages")
    add("```yaml", "server:", "  listen: 443", "  tls: {min_version: '1.3'}", "  http3: true",
        "```")
    add("```bash", "curl --http3 -sS https://example.com/ -o /dev/null -w '%{http_version}\\n'",
        "dig +short example.com AAAA", "```")

    add("# 목록 Lists")
    add("## 중첩 목록 Nested lists")
    add("- 첫째 수준 first level", "  - 둘째 수준 second level with `code`",
        "    - 셋째 수준 third level: " + sentence(rng), "  - " + sentence(rng),
        "- " + sentence(rng), "", "3. 세 번째부터 starting at three", "4. " + sentence(rng),
        "5. **굵게** and *기울여* and [a link](https://example.com/list)")
    add("## 긴 목록 A long list")
    add(*(f"- {sentence(rng)}" for _ in range(30)))
    add("## 노트가 있는 목록 A list with notes")
    add(*(f"- {sentence(rng, 'en')}" for _ in range(3)))
    add("Note: 이 문단은 슬라이드에 나오지 않고 노트에만 나온다. "
        "This paragraph is speaker notes only.")
    add("::: notes", "- 목록도 노트에서 목록으로 남는다", "- lists stay lists in the notes", ":::")

    add("# 인용 Blockquotes")
    add("## 콜아웃 Callouts")
    for emoji in EMOJI:
        add(f"> {emoji} {sentence(rng)}")
    add("## 중첩 인용 Nested quotes")
    add(f"> {sentence(rng, 'ko')}", ">", f"> > {sentence(rng, 'en')}", "> >",
        f"> > > {sentence(rng)}")
    add("## 여러 문단 인용 A quote of several paragraphs")
    add(f"> {paragraph(rng, 3, 'en')}", ">", f"> {paragraph(rng, 3, 'ko')}")

    add("# 긴 글 Long prose")
    add("## 긴 문단 Long paragraphs")
    for language in ("ko", "en", "mixed"):
        add(paragraph(rng, 10, language))
    add("## A long English paragraph")
    add(paragraph(rng, 12, "en") + " See [the RFC index](https://www.rfc-editor.org/rfc-index"
        ".html) and ~~older drafts~~ *newer ones*.")
    add("---")
    add("구분선 뒤의 글: the text after a rule starts a new slide. " + paragraph(rng, 2))

    add("# 참고 자료")
    add("- [RFC 791: Internet Protocol](https://www.rfc-editor.org/rfc/rfc791)",
        "- [RFC 9000: QUIC](https://www.rfc-editor.org/rfc/rfc9000)",
        "- [RFC 9114: HTTP/3](https://www.rfc-editor.org/rfc/rfc9114)",
        "- [웹의 역사 (History of the Web)](https://webfoundation.org/about/vision/"
        "history-of-the-web/)",
        "- [인터넷 표준화 기구 IETF](https://www.ietf.org/)",
        "- [W3C](https://www.w3.org/)")
    return "\n".join(lines)


def file_tree(folder: Path, prefix: str) -> dict[str, Path]:
    """Every file under a folder by `prefix/relative path`, in a stable order."""
    return {f"{prefix}/{path.relative_to(folder).as_posix()}": path
            for path in sorted(folder.rglob("*")) if path.is_file()}


def prepare_inputs(folder: Path, corpus: Path) -> Inputs:
    """Generate the notes, pictures and template into `folder`; draw the benchmark photos
    into bench_images.py's cache if they are not there yet."""
    if folder.exists():
        shutil.rmtree(folder)
    template = write_bytes(folder / "company-template.pptx", company_template())
    stress = folder / "stress" / "note.md"
    write_bytes(stress, stress_note().encode("utf-8"))
    for name, data in stress_pictures().items():
        write_bytes(folder / "stress" / "img" / name, data)
    text_note = folder / "bench-text-500" / "note.md"
    write_bytes(text_note, bench_build.text_note(500).encode("utf-8"))
    photos = bench_images.photos(bench_build.PHOTO_COUNT)
    photo_note = folder / "bench-photos-500" / "note.md"
    write_bytes(photo_note, bench_build.photo_note(bench_build.PHOTO_SLIDES, photos)
                .encode("utf-8"))
    notes = tuple(sorted(corpus.glob("*/note.md")))
    files = file_tree(folder, "generated")
    files["repo/content/intro.md"] = REPO_ROOT / "content" / "intro.md"
    files.update(file_tree(REPO_ROOT / "img", "repo/img"))
    files.update({f"bench-photos/{path.name}": path for path in photos})
    for note in notes:
        files.update(file_tree(note.parent, f"corpus/{note.parent.name}"))
    return Inputs(folder, template, stress, text_note, photo_note, bench_images.CACHE, notes,
                  files)


def check_photo(seed: int = 0) -> str | None:
    """Draw one benchmark photo again: None if it matches the cached file, else a message."""
    cached = bench_images.CACHE / "photos" / f"photo-{seed:03d}.jpg"
    drawn = encoded(bench_images.draw_photo(seed), "JPEG", quality=bench_images.PHOTO_QUALITY)
    if cached.read_bytes() != drawn:
        return (f"{cached} differs from bench_images.draw_photo({seed}) drawn again: "
                "the photo generator is not deterministic, or the cache is stale")
    return None


# --- the decks --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deck:
    """One reference deck: its name, the folder it is built from, the note (relative to
    that folder) and the build options."""

    name: str
    cwd: Path
    source: str
    options: tuple[str, ...] = ()

    def argv(self, output: Path) -> list[str]:
        return [sys.executable, "-m", "deckgen", "build", self.source, "-o", str(output), "-q",
                *self.options]


def builtin_themes() -> list[str]:
    return sorted(path.stem for path in (REPO_ROOT / "themes").glob("*.toml"))


def reference_set(inputs: Inputs) -> list[Deck]:
    """Every deck of the reference set, the slowest first (so parallel builds end together)."""
    decks = [Deck("bench-photos-500", inputs.photo_note.parent, "note.md",
                  ("--resource-path", str(inputs.photo_folder))),
             Deck("bench-text-500", inputs.text_note.parent, "note.md")]
    for theme in STRESS_THEMES:
        for policy in OVERFLOW_POLICIES:
            decks.append(Deck(f"stress-{theme}-{policy}", inputs.stress.parent, "note.md",
                              ("--theme", theme, "--overflow", policy)))
    for note in inputs.corpus:
        decks.append(Deck(f"corpus-{note.parent.name}", note.parent, note.name))
    for theme in builtin_themes():
        for policy in OVERFLOW_POLICIES:
            options = ("--theme", theme, "--overflow", policy)
            decks.append(Deck(f"intro-{theme}-{policy}", REPO_ROOT, "content/intro.md",
                              options))
            decks.append(Deck(f"template-{theme}-{policy}", REPO_ROOT, "content/intro.md",
                              (*options, "--template", str(inputs.template))))
    return decks


def selected(decks: Iterable[Deck], patterns: Sequence[str]) -> list[Deck]:
    return [deck for deck in decks
            if not patterns or any(fnmatch.fnmatchcase(deck.name, p) for p in patterns)]


# --- building ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Built:
    """What building one deck gave: its file's digest and size (None if it failed)."""

    deck: Deck
    output: Path
    command: str
    seconds: float
    sha256: str | None
    size: int
    error: str = ""


def environment(checkout: Path) -> dict[str, str]:
    """The children's environment: ours, the checkout alone on PYTHONPATH, a fixed time."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(checkout)
    env["SOURCE_DATE_EPOCH"] = SOURCE_DATE_EPOCH
    return env


def digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(1 << 20):
            sha.update(block)
    return sha.hexdigest()


def build_one(deck: Deck, decks_folder: Path, checkout: Path) -> Built:
    output = decks_folder / f"{deck.name}.pptx"
    argv = deck.argv(output)
    command = (f"cd {shlex.quote(str(deck.cwd))} && SOURCE_DATE_EPOCH={SOURCE_DATE_EPOCH} "
               f"PYTHONPATH={shlex.quote(str(checkout))} {shlex.join(argv)}")
    started = time.perf_counter()
    try:
        process = subprocess.run(argv, cwd=deck.cwd, env=environment(checkout),
                                 stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                 timeout=BUILD_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        return Built(deck, output, command, time.perf_counter() - started, None, 0,
                     f"timed out after {BUILD_TIMEOUT} s")
    seconds = time.perf_counter() - started
    if process.returncode != 0 or not output.is_file():
        lines = (process.stderr or process.stdout).strip().splitlines()
        return Built(deck, output, command, seconds, None, 0,
                     f"exit {process.returncode}: {' / '.join(lines[-3:])}")
    return Built(deck, output, command, seconds, digest(output), output.stat().st_size)


def build_all(decks: Sequence[Deck], decks_folder: Path, checkout: Path, jobs: int,
              report: Callable[[Built], None]) -> list[Built]:
    """Build the decks, `jobs` at a time; the results in the decks' order."""
    decks_folder.mkdir(parents=True, exist_ok=True)
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(build_one, deck, decks_folder, checkout) for deck in decks]
        for future in concurrent.futures.as_completed(futures):
            report(future.result())
        return [future.result() for future in futures]


def verify_checkout(checkout: Path) -> None:
    """Check that the children import deckgen from the checkout (not an installed copy)."""
    found = subprocess.run([sys.executable, "-c", "import deckgen; print(deckgen.__file__)"],
                           cwd=tempfile.gettempdir(), env=environment(checkout),
                           capture_output=True, text=True, check=False).stdout.strip()
    if not found or Path(found).resolve().parent != (checkout / "deckgen").resolve():
        raise SystemExit(f"deckgen from {checkout} is not what `python -m deckgen` imports "
                         f"there (it imports {found or 'nothing'})")


def git(*args: str, cwd: Path = REPO_ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          check=False).stdout.strip()


def resolve_deckgen(value: str | None, scratch: Path) -> tuple[Path, dict[str, object]]:
    """The checkout to build with: a folder holding deckgen/, else a git revision of this
    repository exported into `scratch`; and how to name it in the manifest."""
    if value is None or (Path(value) / "deckgen").is_dir():
        checkout = Path(value or REPO_ROOT).resolve()
        status = git("status", "--porcelain", "--", "deckgen", "themes", "pyproject.toml",
                     cwd=checkout)
        return checkout, {"checkout": str(checkout),
                          "revision": git("rev-parse", "HEAD", cwd=checkout) or None,
                          "uncommitted changes": bool(status)}
    revision = git("rev-parse", "--verify", "--quiet", f"{value}^{{commit}}")
    if not revision:
        raise SystemExit(f"--deckgen {value}: neither a folder holding deckgen/ nor a git "
                         "revision of this repository")
    archive = subprocess.run(["git", "archive", "--format=tar", revision], cwd=REPO_ROOT,
                             capture_output=True, check=True).stdout
    checkout = scratch / f"deckgen-{revision[:12]}"
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(checkout, filter="data")
    return checkout, {"checkout": f"git archive {revision}", "revision": revision,
                      "uncommitted changes": False}


def versions() -> dict[str, str]:
    """What else shapes the bytes of a deck (compared when decks differ)."""
    import PIL
    import pptx

    return {"python": platform.python_version(), "pillow": PIL.__version__,
            "python-pptx": pptx.__version__, "zlib": zlib.ZLIB_RUNTIME_VERSION}


def run_build(folder: Path, checkout: Path, corpus: Path, jobs: int,
              patterns: Sequence[str], verbose: bool) -> tuple[Inputs, list[Built], float]:
    started = time.perf_counter()
    inputs = prepare_inputs(folder / "inputs", corpus)
    decks = selected(reference_set(inputs), patterns)
    if not decks:
        raise SystemExit("no deck matches --only")
    verify_checkout(checkout)
    decks_folder = folder / "decks"
    if decks_folder.exists():
        shutil.rmtree(decks_folder)

    def report(built: Built) -> None:
        if built.error:
            print(f"FAILED     {built.deck.name}: {built.error}", flush=True)
        elif verbose:
            print(f"built      {built.deck.name} ({built.seconds:.1f} s)", flush=True)

    results = build_all(decks, decks_folder, checkout, jobs, report)
    return inputs, results, time.perf_counter() - started


# --- comparing --------------------------------------------------------------------------------


def xml_tokens(text: str) -> list[str]:
    return text.replace("><", ">\n<").splitlines()


def clip(text: str, limit: int = 90) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def around(was: str, now: str) -> tuple[str, str]:
    """Two texts from a little before where they part, clipped."""
    common = next((i for i, (x, y) in enumerate(zip(was, now, strict=False)) if x != y),
                  min(len(was), len(now)))
    start = max(0, common - 30)
    lead = "…" if start else ""
    return clip(lead + was[start:]), clip(lead + now[start:])


def member_hint(old: bytes, new: bytes) -> str:
    """How two versions of a zip member differ, in a line: the first changed XML element
    (with its text), else the first differing byte."""
    try:
        old_text, new_text = old.decode("utf-8"), new.decode("utf-8")
    except UnicodeDecodeError:
        at = next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b),
                  min(len(old), len(new)))
        return f"binary, {len(old)} vs {len(new)} bytes, first difference at byte {at}"
    a, b = xml_tokens(old_text), xml_tokens(new_text)
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        was, now = "".join(a[i1:i2][:3]), "".join(b[j1:j2][:3])
        before = f" after {clip(a[i1 - 1], 60)!r}" if i1 else ""
        if tag == "insert":
            return f"inserted{before}: +{clip(now)!r}"
        if tag == "delete":
            return f"removed{before}: -{clip(was)!r}"
        was, now = around(was, now)
        return f"-{was!r} +{now!r}"
    return "same text, other bytes"


def zip_difference(old: bytes, new: bytes) -> str:
    """The first zip member that differs between two decks, and how."""
    with zipfile.ZipFile(io.BytesIO(old)) as a, zipfile.ZipFile(io.BytesIO(new)) as b:
        names_a, names_b = a.namelist(), b.namelist()
        only_b = [name for name in names_b if name not in set(names_a)]
        differing = [name for name in names_a
                     if name not in names_b or a.read(name) != b.read(name)]
        more = f" (and {len(differing) - 1} more members differ)" if len(differing) > 1 else ""
        for name in differing[:1]:
            if name not in names_b:
                return f"{name}: only in the reference{more}"
            return f"{name}: {member_hint(a.read(name), b.read(name))}{more}"
        if only_b:
            return f"{only_b[0]}: only in the rebuilt deck"
        if names_a != names_b:
            return "the same members in another order"
        for info_a, info_b in zip(a.infolist(), b.infolist(), strict=True):
            for field in ("date_time", "compress_type", "external_attr", "extra", "comment",
                          "create_system", "flag_bits"):
                if getattr(info_a, field) != getattr(info_b, field):
                    return (f"{info_a.filename}: zip header {field} "
                            f"{getattr(info_a, field)!r} vs {getattr(info_b, field)!r}")
        return "same members and headers; the compressed bytes differ"


def compare(reference: Path, manifest: dict[str, object], inputs: Inputs,
            results: list[Built], patterns: Sequence[str]) -> int:
    """Print one line per deck; the number of decks (and inputs) that differ."""
    problems = 0
    recorded_inputs = manifest.get("inputs", {})
    assert isinstance(recorded_inputs, dict)
    now_inputs = {key: digest(path) for key, path in inputs.files.items()}
    for key in sorted(set(recorded_inputs) | set(now_inputs)):
        if recorded_inputs.get(key) != now_inputs.get(key):
            state = ("new" if key not in recorded_inputs else
                     "gone" if key not in now_inputs else "changed")
            print(f"INPUT      {key}: {state}")
            problems += 1
    recorded = manifest.get("decks", {})
    assert isinstance(recorded, dict)
    rebuilt = {built.deck.name: built for built in results}
    names = [built.deck.name for built in results] + sorted(
        name for name in recorded if name not in rebuilt and
        (not patterns or any(fnmatch.fnmatchcase(name, p) for p in patterns)))
    for name in names:
        entry = recorded.get(name)
        built = rebuilt.get(name)
        if built is None:
            print(f"MISSING    {name}: in the manifest, not in the set built now")
        elif built.sha256 is None:
            print(f"FAILED     {name}: {built.error}")
        elif entry is None:
            print(f"NEW        {name}: not in the manifest")
        elif entry["sha256"] == built.sha256:
            print(f"same       {name}")
            continue
        else:
            old = reference / "decks" / f"{name}.pptx"
            if old.is_file() and digest(old) == entry["sha256"]:
                hint = zip_difference(old.read_bytes(), built.output.read_bytes())
            else:
                hint = f"(the reference deck {old} is missing or not the manifest's)"
            print(f"DIFFERENT  {name}: {entry['size']} → {built.size} bytes; {hint}")
        problems += 1
    return problems


# --- the command line -------------------------------------------------------------------------


def manifest_of(inputs: Inputs, results: list[Built], deckgen: dict[str, object],
                seconds: float) -> dict[str, object]:
    return {
        "format": MANIFEST_FORMAT,
        "what": "reference decks of deckgen: scripts/reference_decks.py",
        "source_date_epoch": int(SOURCE_DATE_EPOCH),
        "deckgen": deckgen,
        "versions": versions(),
        "build_seconds": round(seconds, 1),
        "decks": {built.deck.name: {"sha256": built.sha256, "size": built.size,
                                    "command": built.command,
                                    "seconds": round(built.seconds, 2)}
                  for built in results if built.sha256 is not None},
        "inputs": {key: digest(path) for key, path in inputs.files.items()},
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Build deckgen's reference decks, or rebuild and compare them byte for "
                    "byte.", epilog=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("build", "compare"))
    parser.add_argument("folder", type=Path, metavar="DIR",
                        help="where the reference set is (written by build, read by compare)")
    parser.add_argument("--deckgen", metavar="CHECKOUT|REV",
                        help="build with the deckgen of this checkout (a folder holding "
                             "deckgen/) or git revision (default: this checkout)")
    parser.add_argument("--jobs", type=int, default=2, metavar="N",
                        help="decks built at once (default 2)")
    parser.add_argument("--only", action="append", default=[], metavar="GLOB",
                        help="only the decks whose name matches, e.g. 'intro-*'; repeatable")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, metavar="DIR",
                        help=f"the real notes, DIR/*/note.md (default {DEFAULT_CORPUS})")
    parser.add_argument("--check-photos", action="store_true",
                        help="also draw a benchmark photo again and compare it with the cache")
    parser.add_argument("-v", "--verbose", action="store_true", help="a line per deck built")
    args = parser.parse_args(argv)
    folder: Path = args.folder.resolve()
    scratch = Path(tempfile.mkdtemp(prefix="deckgen-reference-"))
    keep_scratch = False
    try:
        checkout, deckgen = resolve_deckgen(args.deckgen, scratch)
        if args.check_photos:
            bench_images.photos(1)
            problem = check_photo()
            if problem:
                print(f"INPUT      {problem}")
                return 1
        if args.command == "build":
            if folder.is_dir() and any(folder.iterdir()) and not (folder / MANIFEST).is_file():
                raise SystemExit(f"{folder} holds other files and no {MANIFEST}: give an "
                                 "empty or new folder, or one an earlier build wrote")
            folder.mkdir(parents=True, exist_ok=True)
            inputs, results, seconds = run_build(folder, checkout, args.corpus.resolve(),
                                                 args.jobs, args.only, args.verbose)
            manifest = manifest_of(inputs, results, deckgen, seconds)
            (folder / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2)
                                           + "\n", encoding="utf-8")
            failed = sum(built.sha256 is None for built in results)
            print(f"built {len(results) - failed} decks into {folder / 'decks'} in "
                  f"{seconds:.0f} s with deckgen from {deckgen['checkout']}"
                  + (f"; {failed} FAILED" if failed else ""))
            return 1 if failed else 0
        manifest_path = folder / MANIFEST
        if not manifest_path.is_file():
            raise SystemExit(f"{manifest_path} does not exist: run `build {args.folder}` first")
        reference = json.loads(manifest_path.read_text(encoding="utf-8"))
        inputs, results, seconds = run_build(scratch / "rebuilt", checkout,
                                             args.corpus.resolve(), args.jobs, args.only,
                                             args.verbose)
        problems = compare(folder, reference, inputs, results, args.only)
        if reference.get("versions") != versions():
            print(f"note: built with {reference.get('versions')}, now {versions()}")
        print(f"{len(results)} decks rebuilt in {seconds:.0f} s with deckgen from "
              f"{deckgen['checkout']}: " + (f"{problems} differ" if problems
                                            else "all byte-identical"))
        if problems:
            keep_scratch = True
            print(f"rebuilt decks kept in {scratch / 'rebuilt' / 'decks'}")
        return 1 if problems else 0
    finally:
        if not keep_scratch:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
