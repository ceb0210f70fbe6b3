"""Draw the six figures that content/intro.md references into the repository's img/ folder."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from PIL import Image, ImageColor, ImageDraw, ImageFont

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT_DIR = REPO_ROOT / "img"

FONT_DIR = Path("/usr/share/fonts/opentype/noto")
REGULAR_FONT_FILE = FONT_DIR / "NotoSansCJK-Regular.ttc"
BOLD_FONT_FILE = FONT_DIR / "NotoSansCJK-Bold.ttc"
KOREAN_FAMILY = "Noto Sans CJK KR"
KOREAN_MONO_FAMILY = "Noto Sans Mono CJK KR"
FONT_PACKAGE = "fonts-noto-cjk"
MAX_FACES_PER_COLLECTION = 32

WIDTH = 1600
HEIGHT = 1000
TRENDS_HEIGHT = 1020  # the notes show this figure at 550 x 350 (aspect ~1.57)
MARGIN = 70
SUPERSAMPLE = 2  # draw at 2x and downsample, so lines and curves are anti-aliased
PALETTE_SIZE = 256  # PNG palette entries: the deck colors plus anti-aliasing shades
DECK_CLEARANCE = 24  # no palette shade this close to a deck color (RGB distance)
SHADE_SPACING = 6  # minimum RGB distance between two palette shades
LINE_PITCH = 1.25  # line height as a multiple of the font size
RUN_GAP = 6  # extra space between two runs of a stacked label
OPTICAL_CENTER = 0.36  # a line's visual center, in ems above its baseline

# The deck's default palette.
TEXT = "#1E293B"
MUTED = "#475569"
ACCENT = "#2563EB"
DARK = "#1E3A8A"
TEAL = "#0F766E"
ORANGE = "#C2410C"
PANEL = "#F1F5F9"
LIGHT_BLUE = "#EFF6FF"
LINE = "#CBD5E1"
WHITE = "#FFFFFF"
DECK_COLORS = (TEXT, MUTED, ACCENT, DARK, TEAL, ORANGE, PANEL, LIGHT_BLUE, LINE, WHITE)

Weight = Literal["regular", "bold", "mono"]
Box = tuple[float, float, float, float]
Point = tuple[float, float]


class FontsMissingError(RuntimeError):
    """The Noto CJK fonts needed for the Korean labels are not installed."""


class LayoutError(RuntimeError):
    """A label does not fit inside the box it was given."""


@dataclass(frozen=True)
class FontSet:
    """Where the Korean regular, bold and monospace faces live."""

    regular_index: int
    bold_index: int
    mono_index: int


@dataclass(frozen=True)
class Style:
    """Size, weight and color of one run of text."""

    size: int
    color: str = TEXT
    weight: Weight = "regular"


@dataclass(frozen=True)
class Run:
    """A piece of text that is wrapped and drawn in one style."""

    text: str
    style: Style


def find_face_index(path: Path, family: str) -> int:
    """Return the index of the face called `family` inside a font collection."""
    if not path.is_file():
        raise FontsMissingError(f"font file {path} not found")
    for index in range(MAX_FACES_PER_COLLECTION):
        try:
            face = ImageFont.truetype(str(path), 12, index=index)
        except OSError:
            break
        if face.getname()[0] == family:
            return index
    raise FontsMissingError(f"no face named {family!r} in {path}")


def load_fonts() -> FontSet:
    """Locate the Korean faces of Noto Sans CJK, or explain how to install them."""
    try:
        return FontSet(
            regular_index=find_face_index(REGULAR_FONT_FILE, KOREAN_FAMILY),
            bold_index=find_face_index(BOLD_FONT_FILE, KOREAN_FAMILY),
            mono_index=find_face_index(REGULAR_FONT_FILE, KOREAN_MONO_FAMILY),
        )
    except FontsMissingError as error:
        raise FontsMissingError(
            f"{error}. The Noto CJK fonts are needed to draw the Korean labels; "
            f"install the Debian package {FONT_PACKAGE} (sudo apt-get install {FONT_PACKAGE})."
        ) from error


def split_long_word(word: str, fits: Callable[[str], bool]) -> list[str]:
    """Break a word that is wider than the line into pieces that fit, character by character."""
    pieces: list[str] = []
    current = ""
    for char in word:
        if current and not fits(current + char):
            pieces.append(current)
            current = char
        else:
            current += char
    return [*pieces, current] if current else pieces


def wrap_words(text: str, fits: Callable[[str], bool]) -> list[str]:
    """Greedily wrap text at spaces (and at explicit newlines) so every line fits."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        current = ""
        for word in paragraph.split(" "):
            candidate = f"{current} {word}" if current else word
            if fits(candidate):
                current = candidate
                continue
            if current:
                lines.append(current)
            pieces = split_long_word(word, fits) if not fits(word) else [word]
            lines.extend(pieces[:-1])
            current = pieces[-1] if pieces else ""
        lines.append(current)
    return lines


def inset(box: Box, dx: float, dy: float | None = None) -> Box:
    """Shrink a box by dx horizontally and dy (default dx) vertically on each side."""
    dy = dx if dy is None else dy
    return (box[0] + dx, box[1] + dy, box[2] - dx, box[3] - dy)


def center(box: Box) -> Point:
    """The center point of a box."""
    return ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)


def row_of_boxes(
    left: float, top: float, right: float, bottom: float, count: int, gap: float
) -> list[Box]:
    """Split a horizontal band into `count` equal boxes separated by `gap`."""
    width = (right - left - gap * (count - 1)) / count
    return [
        (left + i * (width + gap), top, left + i * (width + gap) + width, bottom)
        for i in range(count)
    ]


class Canvas:
    """A supersampled drawing surface that measures text so that labels always fit their boxes."""

    def __init__(self, fonts: FontSet, width: int = WIDTH, height: int = HEIGHT) -> None:
        self.fonts = fonts
        self.width = width
        self.height = height
        self.image = Image.new("RGB", (width * SUPERSAMPLE, height * SUPERSAMPLE), WHITE)
        self.draw = ImageDraw.Draw(self.image)
        self._font_cache: dict[tuple[Weight, int], ImageFont.FreeTypeFont] = {}

    def font(self, style: Style) -> ImageFont.FreeTypeFont:
        """The (supersampled) font for a style; the basic layout engine keeps output stable."""
        key = (style.weight, style.size)
        if key not in self._font_cache:
            path, index = {
                "regular": (REGULAR_FONT_FILE, self.fonts.regular_index),
                "bold": (BOLD_FONT_FILE, self.fonts.bold_index),
                "mono": (REGULAR_FONT_FILE, self.fonts.mono_index),
            }[style.weight]
            self._font_cache[key] = ImageFont.truetype(
                str(path),
                style.size * SUPERSAMPLE,
                index=index,
                layout_engine=ImageFont.Layout.BASIC,
            )
        return self._font_cache[key]

    def text_width(self, text: str, style: Style) -> float:
        """Width of one line of text in output pixels."""
        return self.font(style).getlength(text) / SUPERSAMPLE

    def wrap(self, run: Run, max_width: float) -> list[str]:
        """The lines a run breaks into when it may be at most `max_width` wide."""
        return wrap_words(run.text, lambda line: self.text_width(line, run.style) <= max_width)

    def measure(self, runs: Sequence[Run], max_width: float) -> tuple[float, float]:
        """Width and height that a stack of wrapped runs needs."""
        width = 0.0
        height = float(RUN_GAP * (len(runs) - 1))
        for run in runs:
            for line in self.wrap(run, max_width):
                width = max(width, self.text_width(line, run.style))
                height += run.style.size * LINE_PITCH
        return width, height

    def text_lines(
        self, box: Box, runs: Sequence[Run], align: Literal["left", "center"] = "center"
    ) -> None:
        """Draw runs wrapped and centered in a box; raise LayoutError if they do not fit."""
        max_width = box[2] - box[0]
        width, height = self.measure(runs, max_width)
        if width > max_width + 0.5 or height > box[3] - box[1] + 0.5:
            raise LayoutError(
                f"{[run.text for run in runs]!r} needs {width:.0f}x{height:.0f}, box is {box}"
            )
        y = (box[1] + box[3] - height) / 2
        for run in runs:
            pitch = run.style.size * LINE_PITCH
            for line in self.wrap(run, max_width):
                baseline = y + pitch / 2 + run.style.size * OPTICAL_CENTER
                x = box[0] if align == "left" else (box[0] + box[2]) / 2
                self.draw.text(
                    (x * SUPERSAMPLE, baseline * SUPERSAMPLE),
                    line,
                    font=self.font(run.style),
                    fill=run.style.color,
                    anchor="ls" if align == "left" else "ms",
                )
                y += pitch
            y += RUN_GAP

    def box(
        self, box: Box, fill: str, outline: str | None = None, width: int = 0, radius: int = 18
    ) -> None:
        """A rounded rectangle."""
        self.draw.rounded_rectangle(
            [c * SUPERSAMPLE for c in box],
            radius=radius * SUPERSAMPLE,
            fill=fill,
            outline=outline,
            width=width * SUPERSAMPLE,
        )

    def labelled_box(
        self,
        box: Box,
        runs: Sequence[Run],
        fill: str,
        outline: str | None = None,
        width: int = 0,
        padding: float = 14,
        radius: int = 18,
        padding_y: float | None = None,
    ) -> None:
        """A rounded rectangle with centered, wrapped text inside its padding."""
        self.box(box, fill, outline, width, radius)
        self.text_lines(
            inset(box, padding + width, (padding / 2 if padding_y is None else padding_y) + width),
            runs,
        )

    def pill(self, left: float, middle_y: float, run: Run, color: str, padding: float = 20) -> Box:
        """An outlined label sized around its text; returns the box it used."""
        text_w = self.text_width(run.text, run.style)
        border = 3
        height = run.style.size * LINE_PITCH + 2 * border + 8
        box = (
            left,
            middle_y - height / 2,
            left + text_w + 2 * (padding + border) + 2,
            middle_y + height / 2,
        )
        self.labelled_box(box, [run], WHITE, color, border, padding, int(height / 2), padding_y=4)
        return box

    def line(self, points: Sequence[Point], color: str, width: int) -> None:
        """A polyline with round joints."""
        scaled = [(x * SUPERSAMPLE, y * SUPERSAMPLE) for x, y in points]
        self.draw.line(scaled, fill=color, width=width * SUPERSAMPLE, joint="curve")

    def arrow(self, start: Point, end: Point, color: str, width: int = 5, head: float = 20) -> None:
        """A straight arrow whose head ends exactly at `end`."""
        angle = math.atan2(end[1] - start[1], end[0] - start[0])
        shaft_end = (end[0] - head * 0.8 * math.cos(angle), end[1] - head * 0.8 * math.sin(angle))
        self.line([start, shaft_end], color, width)
        left = (end[0] - head * math.cos(angle - 0.45), end[1] - head * math.sin(angle - 0.45))
        right = (end[0] - head * math.cos(angle + 0.45), end[1] - head * math.sin(angle + 0.45))
        self.draw.polygon(
            [(x * SUPERSAMPLE, y * SUPERSAMPLE) for x, y in (end, left, right)], fill=color
        )

    def dashed_box(
        self, box: Box, color: str, width: int = 3, dash: float = 18, gap: float = 12
    ) -> None:
        """A rectangle outlined with dashes (marks a placeholder)."""
        x0, y0, x1, y1 = box
        for (ax, ay), (bx, by) in (
            ((x0, y0), (x1, y0)),
            ((x1, y0), (x1, y1)),
            ((x1, y1), (x0, y1)),
            ((x0, y1), (x0, y0)),
        ):
            length = math.hypot(bx - ax, by - ay)
            steps = int(length // (dash + gap)) + 1
            for step in range(steps):
                t0 = step * (dash + gap) / length
                t1 = min(1.0, (step * (dash + gap) + dash) / length)
                self.line(
                    [
                        (ax + (bx - ax) * t0, ay + (by - ay) * t0),
                        (ax + (bx - ax) * t1, ay + (by - ay) * t1),
                    ],
                    color,
                    width,
                )

    def title(self, title: str, subtitle: str | None = None) -> float:
        """Draw the title (and subtitle) at the top; return the y where content may start."""
        runs = [Run(title, Style(52, TEXT, "bold"))]
        if subtitle:
            runs.append(Run(subtitle, Style(32, MUTED)))
        _, height = self.measure(runs, self.width - 2 * MARGIN)
        self.text_lines((MARGIN, 50, self.width - MARGIN, 50 + height), runs, align="left")
        return 50 + height + 30

    def finish(self) -> Image.Image:
        """Downsample to the output size and reduce to a palette image (small PNG)."""
        small = self.image.resize((self.width, self.height), Image.Resampling.LANCZOS)
        return reduce_to_palette(small)


def squared_distance(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    """Squared Euclidean distance between two RGB colors."""
    return sum((x - y) ** 2 for x, y in zip(a, b, strict=True))


def reduce_to_palette(image: Image.Image) -> Image.Image:
    """Map an RGB image onto the exact deck colors plus its most frequent other shades.

    Shades too close to a deck color are left out, so that Pillow's approximate palette
    lookup still maps every flat area to its exact deck color.
    """
    deck = [ImageColor.getrgb(color)[:3] for color in DECK_COLORS]
    counts = image.getcolors(image.width * image.height) or []
    palette: list[tuple[int, ...]] = list(deck)
    for _, rgb in sorted(counts, key=lambda item: (-item[0], item[1])):
        if len(palette) == PALETTE_SIZE:
            break
        if not isinstance(rgb, tuple):
            continue
        near_deck = any(squared_distance(rgb, c) <= DECK_CLEARANCE**2 for c in deck)
        near_shade = any(squared_distance(rgb, c) <= SHADE_SPACING**2 for c in palette)
        if not (near_deck or near_shade):
            palette.append(rgb)
    palette_image = Image.new("P", (1, 1))
    palette_image.putpalette([channel for rgb in palette for channel in rgb])
    return image.quantize(palette=palette_image, dither=Image.Dither.NONE)


@dataclass(frozen=True)
class TimelineCard:
    """One dated milestone in the 1991-era figure."""

    year: str
    name: str
    note: str
    highlight: bool = False


LINUX_ISOLATION = [
    TimelineCard("1979", "chroot", "Unix V7에서 유래"),
    TimelineCard("1991", "Linux", "최초의 리눅스", highlight=True),
    TimelineCard("2002", "namespaces", "mount ns부터\n(Linux 2.4.19)"),
    TimelineCard("2008", "cgroups", "Linux 2.6.24\n커널에 병합"),
    TimelineCard("2008", "LXC", "namespaces +\ncgroups 활용"),
]

VM_VIRTUALIZATION = [
    TimelineCard("1999", "VMware Workstation", "개인 PC에서 VM"),
    TimelineCard("2001", "VMware ESX", "기업용 서버 가상화"),
    TimelineCard("2003", "Xen", "케임브리지 대학\n오픈소스 공개"),
    TimelineCard("2007", "KVM", "Linux 2.6.20\n커널에 병합"),
    TimelineCard("2007", "VirtualBox", "innotek 공개\n무료 데스크톱 VM"),
]


def draw_timeline_lane(
    canvas: Canvas,
    box: Box,
    heading: str,
    verdict: Run,
    year_color: str,
    fill: str,
    cards: Sequence[TimelineCard],
) -> None:
    """One lane of the 1991-era figure: a heading with a verdict pill above a row of dated cards."""
    canvas.box(box, fill, LINE, width=2, radius=24)
    heading_run = Run(heading, Style(40, DARK, "bold"))
    heading_width = canvas.text_width(heading, heading_run.style)
    heading_y = box[1] + 50
    canvas.text_lines(
        (box[0] + 32, heading_y - 28, box[0] + 32 + heading_width, heading_y + 28),
        [heading_run],
        align="left",
    )
    canvas.pill(box[0] + 32 + heading_width + 24, heading_y, verdict, verdict.style.color)
    card_boxes = row_of_boxes(box[0] + 28, box[1] + 100, box[2] - 28, box[3] - 24, len(cards), 36)
    for index, (card, card_box) in enumerate(zip(cards, card_boxes, strict=True)):
        background, ink, note_ink = (DARK, WHITE, WHITE) if card.highlight else (WHITE, TEXT, MUTED)
        year_ink = WHITE if card.highlight else year_color
        runs = [
            Run(card.year, Style(40, year_ink, "bold")),
            Run(card.name, Style(32, ink, "bold")),
            Run(card.note, Style(28, note_ink)),
        ]
        canvas.labelled_box(
            card_box, runs, background, LINE if not card.highlight else None, width=2, padding=12
        )
        if index < len(cards) - 1:
            middle_y = (card_box[1] + card_box[3]) / 2
            canvas.arrow(
                (card_box[2] + 6, middle_y), (card_box[2] + 30, middle_y), LINE, width=4, head=16
            )


def draw_1991_era(fonts: FontSet) -> Image.Image:
    """가상화기술_01: Linux isolation features beside VM virtualization, two lanes."""
    canvas = Canvas(fonts)
    top = canvas.title(
        "1991년 경: 두 갈래로 발전한 가상화 기술",
        "리눅스의 자원 격리 기술은 쓰기 어려워 대중화되지 못했고, "
        "VM 가상화는 기업과 개인에게 널리 퍼졌다",
    )
    lane_height = (HEIGHT - MARGIN - top - 30) / 2
    linux_lane = (MARGIN, top, WIDTH - MARGIN, top + lane_height)
    vm_lane = (MARGIN, top + lane_height + 30, WIDTH - MARGIN, HEIGHT - MARGIN)
    hard_to_use = Run("어렵다 · 대중화 X", Style(30, ORANGE, "bold"))
    easy_to_use = Run("기업 · 개인 모두 쉽게 사용", Style(30, TEAL, "bold"))
    draw_timeline_lane(
        canvas, linux_lane, "리눅스 자원 격리 기술", hard_to_use, ACCENT, PANEL, LINUX_ISOLATION
    )
    draw_timeline_lane(
        canvas, vm_lane, "VM 가상화", easy_to_use, TEAL, LIGHT_BLUE, VM_VIRTUALIZATION
    )
    return canvas.finish()


def bilingual(korean: str, english: str, color: str) -> list[Run]:
    """A Korean label in bold over its English name."""
    return [Run(korean, Style(30, color, "bold")), Run(english, Style(28, color))]


def draw_stack_panel(
    canvas: Canvas,
    box: Box,
    heading: str,
    verdict: Run,
    shared_layers: Sequence[tuple[list[Run], str]],
    unit_name: str,
    unit_layers: Sequence[tuple[list[Run], str, str]],
) -> None:
    """One bottom-up stack: shared full-width layers, then three isolated units on top."""
    canvas.box(box, PANEL, LINE, width=2, radius=24)
    canvas.text_lines(
        (box[0] + 30, box[1] + 18, box[2] - 30, box[1] + 78),
        [Run(heading, Style(44, DARK, "bold"))],
    )
    verdict_width = canvas.text_width(verdict.text, verdict.style) + 46
    canvas.pill((box[0] + box[2] - verdict_width) / 2, box[1] + 112, verdict, verdict.style.color)

    left, right = box[0] + 20, box[2] - 20
    layer_height, block_height, gap = 64.0, 90.0, 10.0
    y = box[3] - 20
    for runs, fill in shared_layers:
        layer = (left, y - layer_height, right, y)
        canvas.labelled_box(layer, runs, fill, radius=14, padding=10)
        y -= layer_height + gap

    unit_height = 8 + 34 + len(unit_layers) * block_height + (len(unit_layers) - 1) * 8 + 8 + 8
    for number, unit in enumerate(row_of_boxes(left, y - unit_height, right, y, 3, 14), start=1):
        canvas.box(unit, WHITE, MUTED, width=2, radius=16)
        canvas.text_lines(
            (unit[0] + 8, unit[1] + 6, unit[2] - 8, unit[1] + 42),
            [Run(f"{unit_name} {number}", Style(28, MUTED, "bold"))],
        )
        block_bottom = unit[3] - 8
        for runs, fill, outline in unit_layers:
            block = (unit[0] + 8, block_bottom - block_height, unit[2] - 8, block_bottom)
            canvas.labelled_box(block, runs, fill, outline, width=2, radius=12, padding=6)
            block_bottom -= block_height + 8


def draw_vm_vs_container(fonts: FontSet) -> Image.Image:
    """가상화기술_02: VM stack (guest OS per app) beside container stack (shared host OS)."""
    canvas = Canvas(fonts)
    top = canvas.title(
        "VM 가상화 vs 컨테이너 가상화", "컨테이너는 Guest OS 없이 호스트 OS의 커널을 함께 쓴다"
    )
    vm_panel, container_panel = row_of_boxes(MARGIN, top, WIDTH - MARGIN, HEIGHT - MARGIN, 2, 30)
    hardware = ([Run("하드웨어 / Hardware", Style(32, WHITE, "bold"))], DARK)
    host_os = ([Run("호스트 OS / Host OS", Style(32, WHITE, "bold"))], ACCENT)
    libs = (bilingual("라이브러리", "Bins/Libs", TEXT), PANEL, LINE)
    app = (bilingual("앱", "App", DARK), LIGHT_BLUE, ACCENT)
    draw_stack_panel(
        canvas,
        vm_panel,
        "VM 가상화",
        Run("앱마다 Guest OS → 무겁다", Style(30, ORANGE, "bold")),
        [hardware, host_os, ([Run("하이퍼바이저 / Hypervisor", Style(32, WHITE, "bold"))], DARK)],
        "VM",
        [(bilingual("게스트 OS", "Guest OS", ORANGE), WHITE, ORANGE), libs, app],
    )
    draw_stack_panel(
        canvas,
        container_panel,
        "컨테이너 가상화",
        Run("Guest OS 없음 → 가볍고 빠르다", Style(30, TEAL, "bold")),
        [
            hardware,
            host_os,
            ([Run("컨테이너 엔진 / Container Engine (Docker)", Style(32, WHITE, "bold"))], TEAL),
        ],
        "컨테이너",
        [libs, app],
    )
    return canvas.finish()


SERVER_CONTAINERS = [
    ["web", "api", "auth", "batch"],
    ["web", "api", "db", "cache"],
    ["web", "auth", "queue", "api"],
    ["web", "api", "cache", "batch"],
]


def draw_server_node(canvas: Canvas, box: Box, number: int, apps: Sequence[str]) -> None:
    """A server node holding a 2 x 2 grid of container boxes."""
    canvas.box(box, PANEL, LINE, width=2, radius=20)
    canvas.text_lines(
        (box[0] + 16, box[1] + 12, box[2] - 16, box[1] + 62),
        [Run(f"서버 {number} · Node {number}", Style(32, DARK, "bold"))],
    )
    grid_top, grid_bottom = box[1] + 76, box[3] - 16
    row_height = (grid_bottom - grid_top - 14) / 2
    for row in range(2):
        top = grid_top + row * (row_height + 14)
        cells = row_of_boxes(box[0] + 16, top, box[2] - 16, top + row_height, 2, 12)
        for cell, app in zip(cells, apps[row * 2 : row * 2 + 2], strict=True):
            runs = [Run(app, Style(32, DARK, "bold")), Run("컨테이너", Style(28, MUTED))]
            canvas.labelled_box(cell, runs, LIGHT_BLUE, ACCENT, width=2, radius=12, padding=6)


def draw_orchestration(fonts: FontSet) -> Image.Image:
    """가상화기술_03: one orchestrator deploying and running containers across four servers."""
    canvas = Canvas(fonts)
    top = canvas.title(
        "컨테이너 오케스트레이션 (Container Orchestration)",
        "수많은 컨테이너를 여러 서버에 일일이 배포하고 운영하는 일을 한 곳에서 자동으로",
    )
    orchestrator = (WIDTH / 2 - 350, top, WIDTH / 2 + 350, top + 170)
    canvas.labelled_box(
        orchestrator,
        [
            Run("오케스트레이터 (Orchestrator)", Style(40, WHITE, "bold")),
            Run("컨트롤 플레인 · Control Plane", Style(32, WHITE)),
            Run("스케줄링 · 배포 · 복구 · 확장", Style(28, WHITE)),
        ],
        DARK,
        radius=22,
    )
    bus_y = orchestrator[3] + 80
    node_top = bus_y + 60
    nodes = row_of_boxes(MARGIN, node_top, WIDTH - MARGIN, HEIGHT - MARGIN, 4, 24)
    canvas.line([(WIDTH / 2, orchestrator[3]), (WIDTH / 2, bus_y)], ACCENT, 5)
    canvas.line([(center(nodes[0])[0], bus_y), (center(nodes[-1])[0], bus_y)], ACCENT, 5)
    for number, (node, apps) in enumerate(zip(nodes, SERVER_CONTAINERS, strict=True), start=1):
        canvas.arrow(
            (center(node)[0], bus_y), (center(node)[0], node[1] - 4), ACCENT, width=5, head=22
        )
        draw_server_node(canvas, node, number, apps)
    label = Run("배포 · 운영 (deploy · run)", Style(32, TEAL, "bold"))
    canvas.text_lines(
        (WIDTH / 2 + 24, orchestrator[3] + 8, WIDTH - MARGIN, bus_y - 8), [label], align="left"
    )
    return canvas.finish()


@dataclass(frozen=True)
class OrchestratorCard:
    """One orchestrator with the company behind it and when it appeared."""

    name: str
    company: str
    when: str


ORCHESTRATORS = [
    OrchestratorCard(
        "Apache Mesos (Marathon)", "Mesosphere", "Mesos: 2009년\nUC Berkeley에서 시작"
    ),
    OrchestratorCard("Amazon ECS", "AWS", "2014년 11월 발표"),
    OrchestratorCard("Docker Swarm", "Docker", "2014년 12월 발표"),
    OrchestratorCard("Nomad", "HashiCorp", "2015년 발표"),
]
KUBERNETES_CARD = OrchestratorCard("Kubernetes", "Google", "2014년 6월 발표")


def draw_orchestrators(fonts: FontSet) -> Image.Image:
    """가상화기술_04: the orchestrators companies released, with Kubernetes highlighted."""
    canvas = Canvas(fonts)
    top = canvas.title(
        "기업들이 출시한 컨테이너 오케스트레이터", "많은 회사가 저마다의 오케스트레이터를 내놓았다"
    )
    cards = row_of_boxes(MARGIN, top + 10, WIDTH - MARGIN, top + 300, len(ORCHESTRATORS), 28)
    for card, item in zip(cards, ORCHESTRATORS, strict=True):
        canvas.box(card, WHITE, LINE, width=3, radius=22)
        canvas.text_lines(
            inset(card, 24, 30),
            [
                Run(item.name, Style(38, TEXT, "bold")),
                Run(item.company, Style(32, TEAL, "bold")),
                Run(item.when, Style(28, MUTED)),
            ],
        )
    highlight = (WIDTH / 2 - 480, cards[0][3] + 60, WIDTH / 2 + 480, HEIGHT - MARGIN)
    canvas.labelled_box(
        highlight,
        [
            Run(KUBERNETES_CARD.name, Style(60, WHITE, "bold")),
            Run(f"{KUBERNETES_CARD.company} · {KUBERNETES_CARD.when}", Style(36, WHITE)),
            Run("여러 기업이 합류 → 사실상의 표준", Style(34, WHITE, "bold")),
        ],
        ACCENT,
        radius=28,
    )
    return canvas.finish()


CONTRIBUTORS = [
    "Google",
    "Red Hat",
    "Microsoft",
    "IBM",
    "VMware",
    "AWS",
    "Docker",
    "CoreOS",
    "Huawei",
    "Intel",
]


def ellipse_points(
    center_point: Point, radius_x: float, radius_y: float, count: int
) -> list[Point]:
    """`count` points spread evenly around an ellipse, starting at the top and going clockwise."""
    cx, cy = center_point
    return [
        (
            cx + radius_x * math.sin(2 * math.pi * i / count),
            cy - radius_y * math.cos(2 * math.pi * i / count),
        )
        for i in range(count)
    ]


def draw_kubernetes_standard(fonts: FontSet) -> Image.Image:
    """가상화기술_05: Kubernetes under the CNCF, surrounded by the companies that joined it."""
    canvas = Canvas(fonts)
    top = canvas.title(
        "Kubernetes, 사실상의 표준 (de facto standard)",
        "여러 기업이 CNCF 아래에서 함께 개발에 참여했다",
    )
    hub = (WIDTH / 2, (top + HEIGHT - MARGIN) / 2 + 10)
    positions = ellipse_points(hub, 600, (HEIGHT - MARGIN - top) / 2 - 40, len(CONTRIBUTORS))
    for point in positions:
        canvas.line([point, hub], LINE, 4)

    cncf = (hub[0] - 340, hub[1] - 165, hub[0] + 340, hub[1] + 165)
    canvas.box(cncf, LIGHT_BLUE, ACCENT, width=3, radius=26)
    canvas.text_lines(
        (cncf[0] + 20, cncf[1] + 12, cncf[2] - 20, cncf[1] + 150),
        [
            Run("CNCF", Style(38, DARK, "bold")),
            Run("Cloud Native Computing Foundation", Style(30, DARK)),
            Run("2015년 설립 · Linux Foundation 산하", Style(28, MUTED)),
        ],
    )
    canvas.labelled_box(
        (cncf[0] + 40, cncf[1] + 162, cncf[2] - 40, cncf[3] - 24),
        [
            Run("Kubernetes", Style(46, WHITE, "bold")),
            Run("1.0 (2015년 7월) · Google이 CNCF에 기증", Style(28, WHITE)),
        ],
        ACCENT,
        radius=20,
    )
    for (x, y), company in zip(positions, CONTRIBUTORS, strict=True):
        canvas.labelled_box(
            (x - 120, y - 34, x + 120, y + 34),
            [Run(company, Style(34, TEXT, "bold"))],
            WHITE,
            TEAL,
            width=3,
            radius=34,
        )
    return canvas.finish()


TRENDS_URL = "https://trends.google.com/trends/explore?q=Kubernetes&date=all"
TRENDS_FACTS = [
    ("검색어 / Search term", "Kubernetes"),
    ("지역 / Region", "전 세계 (Worldwide)"),
    ("기간 / Period", "전체 기간 (2004년 – 현재)"),
    ("지표 / Measure", "시간 흐름에 따른 관심도 (최고점 = 100)"),
]


def draw_trends_card(fonts: FontSet) -> Image.Image:
    """kubernetes.png: a card naming the Google Trends query instead of an invented chart."""
    canvas = Canvas(fonts, WIDTH, TRENDS_HEIGHT)
    top = canvas.title(
        "Google Trends: “Kubernetes” 관심도",
        "원본 노트의 그림: Kubernetes에 대한 전 세계 검색 관심도의 추이",
    )
    table = (MARGIN, top, WIDTH - MARGIN, top + 4 * 72 + 30)
    canvas.box(table, PANEL, LINE, width=2, radius=24)
    for row, (key, value) in enumerate(TRENDS_FACTS):
        y = table[1] + 15 + row * 72
        canvas.text_lines(
            (table[0] + 40, y, table[0] + 420, y + 72),
            [Run(key, Style(32, MUTED, "bold"))],
            align="left",
        )
        canvas.text_lines(
            (table[0] + 440, y, table[2] - 40, y + 72),
            [Run(value, Style(34, TEXT, "bold"))],
            align="left",
        )

    placeholder = (MARGIN, table[3] + 40, WIDTH - MARGIN, TRENDS_HEIGHT - MARGIN)
    canvas.box(placeholder, LIGHT_BLUE, radius=24)
    canvas.dashed_box(inset(placeholder, 14), ACCENT)
    canvas.text_lines(
        inset(placeholder, 50, 30),
        [
            Run("추이 그래프는 이 그림에 재현하지 않았습니다", Style(40, ORANGE, "bold")),
            Run("(오프라인으로 만든 그림이라 실제 데이터가 없습니다)", Style(30, MUTED)),
            Run("", Style(20, MUTED)),  # a blank spacer line
            Run("실시간 추이는 Google Trends에서 확인하세요", Style(40, DARK, "bold")),
            Run(TRENDS_URL, Style(32, ACCENT, "mono")),
        ],
    )
    return canvas.finish()


FIGURES: dict[str, Callable[[FontSet], Image.Image]] = {
    "kubernetes.png": draw_trends_card,
    "가상화기술_01.png": draw_1991_era,
    "가상화기술_02.png": draw_vm_vs_container,
    "가상화기술_03.png": draw_orchestration,
    "가상화기술_04.png": draw_orchestrators,
    "가상화기술_05.png": draw_kubernetes_standard,
}


def save_png(image: Image.Image, path: Path) -> None:
    """Save with fixed options and no metadata, so reruns give identical bytes."""
    image.info.clear()
    image.save(path, format="PNG", optimize=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Draw every figure into the output folder."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT_DIR,
        help=f"output folder (default: {DEFAULT_OUT_DIR})",
    )
    args = parser.parse_args(argv)
    try:
        fonts = load_fonts()
    except FontsMissingError as error:
        print(f"draw_figures: error: {error}", file=sys.stderr)
        return 1
    out_dir: Path = args.out
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, draw in FIGURES.items():
        path = out_dir / name
        save_png(draw(fonts), path)
        print(f"wrote {path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
