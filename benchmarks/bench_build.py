"""Build benchmark: wall time, peak memory and deck size of deckgen beside a bare python-pptx.

    python3 benchmarks/bench_build.py                 # every case (a few minutes)
    python3 benchmarks/bench_build.py --cases intro text --runs 5
    python3 benchmarks/bench_build.py --photo-runs 3  # photo, headings, watch 3 times too
    git archive REV | tar -x -C /tmp/old && python3 benchmarks/bench_build.py --deckgen /tmp/old

Cases: `intro` (content/intro.md); `photos` (500 slides of prose, lists, callouts, code and
tables, 100 of them with a 3000 × 2000 JPEG photo beside the text, the photos drawn by
benchmarks/bench_images.py's generator); `text` (500, 1,000 and 2,000 such slides without
photos, to show that the cost grows linearly); `headings` (notes of 5,000, 10,000 and
19,999 short headings, a slide each: time and memory grow linearly up to the 20,000-slide
cap; and 100,000 headings, which the cap refuses: what refusing costs); `watch` (`build
--watch` of the photos note: the first build, then the rebuild after a one-line edit, timed
inside the process).

The notes are generated from fixed seeds once into a cache folder in the temporary directory
(the photos into bench_images.py's cache) and reused. Every build runs in a child process
(`python3 -m deckgen build NOTE -o DECK -q`) after one untimed warm-up build of the case (so
that Python's bytecode caches are written and the files are in the page cache, as for anyone
who builds twice). Wall time is the median of the runs; peak memory is the largest resident
set size of a run's process tree: `ru_maxrss` of the rusage `os.wait4` returns for that one
child, which is what `resource.getrusage(RUSAGE_CHILDREN)` reports in a parent that ran only
that build (the picture pool's workers count as the largest single process, not their sum).
The deck size is that of the last run's deck.

Beside each case a bare python-pptx script places the same content (the title, the body text
as plain paragraphs, the same picture files at a fixed box, the speaker notes) and saves it,
measured the same way in the same run: what any python-pptx writer costs at least. pandoc
(`pandoc NOTE -o DECK`) is measured too where it is installed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_images

REPO_ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(tempfile.gettempdir()) / "deckgen-bench-build-v1"
INTRO = REPO_ROOT / "content" / "intro.md"
PHOTO_SLIDES = 500
PHOTO_COUNT = 100
TEXT_SIZES = (500, 1000, 2000)
HEADING_COUNTS = (5000, 10_000, 19_999)  # the last with its title slide: 20,000 slides
#: A note of this many headings makes more slides than a note may (structure.MAX_SLIDES).
REFUSED_HEADINGS = 100_000

# --- corpora ---------------------------------------------------------------------------------

KOREAN = (
    "컨테이너는 호스트의 커널을 공유하면서 프로세스를 격리한다",
    "가상 머신은 게스트 운영체제를 통째로 띄워야 하므로 무겁다",
    "쿠버네티스는 선언한 상태와 실제 상태의 차이를 계속 줄여 나간다",
    "파드는 함께 배포되는 컨테이너들의 가장 작은 단위이다",
    "서비스는 바뀌는 파드 주소 앞에 변하지 않는 이름을 붙여 준다",
    "자원을 효율적으로 쓰려면 요청량과 제한량을 알맞게 정해야 한다",
    "롤링 업데이트는 새 버전을 조금씩 늘리고 옛 버전을 줄인다",
    "네임스페이스로 팀마다 자원을 나누어 관리할 수 있다",
)
ENGLISH = (
    "A controller compares the desired state with the observed state and acts on the gap",
    "Images are built once and run the same way on a laptop and in production",
    "The scheduler places each pod on a node that has room for its requests",
    "Liveness probes restart a container that stopped answering",
    "A deployment keeps a fixed number of replicas running behind a service",
    "Config maps keep settings out of the image so one build serves every stage",
    "Horizontal autoscaling adds replicas when the average load stays high",
    "Labels and selectors tie services, deployments and pods together",
)
TERMS = ("Pod", "Deployment", "Service", "kubelet", "etcd", "Ingress", "ReplicaSet", "CRI")
EMOJI = ("🤔", "❌", "✅", "💡")


def sentence(rng: random.Random) -> str:
    """One sentence, Korean or English, with a backticked term now and then."""
    text = rng.choice(KOREAN if rng.random() < 0.5 else ENGLISH)
    if rng.random() < 0.5:
        text = f"`{rng.choice(TERMS)}`: {text}"
    return text + "."


def text_section(rng: random.Random, number: int) -> list[str]:
    """A `##` section of prose that fits one slide: a paragraph, a short list, now and then
    a callout, a code block or a table, and speaker notes."""
    lines = [f"## {number}. {rng.choice(TERMS)} {rng.choice(('개요', 'in practice', '정리'))}",
             "", " ".join(sentence(rng) for _ in range(2)), ""]
    lines += [f"- {sentence(rng)}" for _ in range(2)] + [""]
    kind = number % 6
    if kind == 1:
        lines += [f"> {rng.choice(EMOJI)} {sentence(rng)}", ""]
    elif kind == 3:
        lines += ["```yaml", "apiVersion: apps/v1", "kind: Deployment",
                  f"  replicas: {rng.randrange(1, 9)}", "```", ""]
    elif kind == 5:
        lines += ["| 이름 | kind | replicas |", "|---|---|---:|"]
        lines += [f"| web-{row} | {rng.choice(TERMS)} | {rng.randrange(1, 9)} |"
                  for row in range(3)] + [""]
    lines += ["::: notes", " ".join(sentence(rng) for _ in range(3)), ":::", ""]
    return lines


def front_matter(title: str) -> list[str]:
    return ["---", f'title: "{title}"', 'author: "deckgen benchmark"', 'date: "2026-11-26"',
            "---", ""]


def text_note(slides: int) -> str:
    """A note of `slides` slides: a title slide and `slides - 1` text sections."""
    rng = random.Random(slides)
    lines = front_matter(f"Benchmark: {slides} text slides")
    for number in range(1, slides):
        lines += text_section(rng, number)
    return "\n".join(lines)


def headings_note(headings: int) -> str:
    """A note of `headings` level-2 headings, each over one short line: a slide each."""
    return "".join(f"## Heading {number}\n\nPoint {number}.\n\n" for number in range(headings))


def photo_note(slides: int, photos: list[Path]) -> str:
    """A note of `slides` slides, all text sections; every (slides / photos)-th also shows
    one photo beside its text, as study notes do."""
    rng = random.Random(7)
    every = max(1, (slides - 1) // len(photos))
    lines = front_matter(f"Benchmark: {slides} slides, {len(photos)} photos")
    used = 0
    for number in range(1, slides):
        section = text_section(rng, number)
        if number % every == 0 and used < len(photos):
            section[2:2] = [f"![photo {used + 1}](photos/{photos[used].name})", ""]
            used += 1
        lines += section
    return "\n".join(lines)


def write_if_changed(path: Path, text: str) -> Path:
    """Write a generated note unless it is already there, unchanged."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return path


@dataclass(frozen=True)
class Case:
    """One benchmarked note: its file, the folder its pictures are found in, how often it is
    built."""

    name: str
    note: Path
    resources: Path
    runs: int
    #: The build's exit code: 1 for a note deckgen refuses (no deck).
    code: int = 0
    #: Whether the bare python-pptx script and pandoc are measured too (not beside the
    #: headings cases: python-pptx alone adds slides in quadratic time).
    others: bool = True


def corpora(cases: list[str], runs: int, photo_runs: int) -> list[Case]:
    """The notes of the chosen cases, generated (and cached) as needed."""
    chosen: list[Case] = []
    if "intro" in cases:
        chosen.append(Case("intro", INTRO, REPO_ROOT, runs))
    if "photos" in cases or "watch" in cases:
        photos = bench_images.photos(PHOTO_COUNT)
        note = write_if_changed(bench_images.CACHE / f"bench-build-{PHOTO_SLIDES}.md",
                                photo_note(PHOTO_SLIDES, photos))
        if "photos" in cases:
            chosen.append(Case(f"{PHOTO_SLIDES} slides, {PHOTO_COUNT} photos", note,
                               bench_images.CACHE, photo_runs))
    if "text" in cases:
        for slides in TEXT_SIZES:
            note = write_if_changed(CACHE / f"text-{slides}.md", text_note(slides))
            chosen.append(Case(f"{slides} text slides", note, CACHE, runs))
    if "headings" in cases:
        for headings in HEADING_COUNTS:
            note = write_if_changed(CACHE / f"headings-{headings}.md", headings_note(headings))
            chosen.append(Case(f"{headings} headings", note, CACHE, photo_runs, others=False))
        note = write_if_changed(CACHE / f"headings-{REFUSED_HEADINGS}.md",
                                headings_note(REFUSED_HEADINGS))
        chosen.append(Case(f"{REFUSED_HEADINGS} headings (refused)", note, CACHE, photo_runs,
                           code=1, others=False))
    return chosen


# --- the bare python-pptx script --------------------------------------------------------------


def bare_spec(case: Case) -> Path:
    """What the bare script places, from deckgen's own reading of the note (not timed): per
    slide its title, body text, picture files and speaker notes."""
    from deckgen.errors import Diagnostics
    from deckgen.images import OUTSIDE, resolve_image_path
    from deckgen.model import Callout, Code, Points, plain_text
    from deckgen.parse import parse_document, read_source
    from deckgen.structure import build_deck, notes_lines

    diagnostics = Diagnostics()
    deck = build_deck(parse_document(case.note, read_source(case.note), diagnostics),
                      diagnostics)
    slides = []
    for slide in deck.slides:
        body: list[str] = []
        for block in slide.body:
            if isinstance(block, Points | Callout):
                body += [plain_text(point.spans) for point in block.items]
            elif isinstance(block, Code):
                body += block.text.split("\n")
            else:
                body += [" | ".join(plain_text(cell) for cell in row)
                         for row in (block.header, *block.rows)]
        pictures = []
        for image in slide.images:
            found = resolve_image_path(image.src, [case.note.parent, case.resources])
            if found is not None and found != OUTSIDE:
                pictures.append(str(found))
        notes = "\n".join(prefix + plain_text(spans)
                          for _, prefix, spans, _ in notes_lines(slide.notes.blocks))
        slides.append({"title": slide.title, "body": body, "pictures": pictures,
                       "notes": notes})
    spec = CACHE / "specs" / f"{case.note.stem}.json"
    spec.parent.mkdir(parents=True, exist_ok=True)
    spec.write_text(json.dumps(slides, ensure_ascii=False), encoding="utf-8")
    return spec


#: Places the spec's slides with python-pptx's plain API and saves the deck.
BARE_SCRIPT = """\
import json, sys
from pptx import Presentation
from pptx.util import Emu, Pt
slides = json.load(open(sys.argv[1], encoding="utf-8"))
prs = Presentation()
prs.slide_width, prs.slide_height = Emu(12192000), Emu(6858000)
for spec in slides:
    slide = prs.slides.add_slide(prs.slide_layouts[5])
    slide.shapes.title.text = spec["title"]
    if spec["body"]:
        frame = slide.shapes.add_textbox(Emu(600000), Emu(1500000), Emu(5400000),
                                         Emu(4800000)).text_frame
        frame.word_wrap = True
        for index, line in enumerate(spec["body"]):
            paragraph = frame.paragraphs[0] if index == 0 else frame.add_paragraph()
            paragraph.text = line
            paragraph.font.size = Pt(20)
    for index, path in enumerate(spec["pictures"]):
        slide.shapes.add_picture(path, Emu(6300000 + index * 100000), Emu(1500000),
                                 width=Emu(5300000))
    if spec["notes"]:
        slide.notes_slide.notes_text_frame.text = spec["notes"]
prs.save(sys.argv[2])
"""


# --- measuring --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One measured child process (or the median of several)."""

    seconds: float
    peak_bytes: int
    deck_bytes: int
    #: Processor time (user and system) of the process tree, which other work on the
    #: machine disturbs less than the wall time.
    cpu_seconds: float = 0.0


@dataclass(frozen=True)
class Child:
    """How the measured processes start: in the folder holding the deckgen package measured
    (first on Python's path, also for `python3 -m deckgen`), that folder on PYTHONPATH too,
    bytecode caches allowed (as in any installed deckgen; PYTHONDONTWRITEBYTECODE would
    compile deckgen again on every run)."""

    folder: Path
    environment: dict[str, str]


def child(deckgen_root: Path) -> Child:
    environment = dict(os.environ)
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    environment["PYTHONPATH"] = os.pathsep.join(
        filter(None, (str(deckgen_root), environment.get("PYTHONPATH", ""))))
    return Child(deckgen_root, environment)


def measure(command: list[str], deck: Path, child: Child, code: int = 0) -> Run:
    """Run a command once; its wall time, its process tree's peak RSS and the deck's size
    (0 when it is to fail with exit `code`)."""
    deck.unlink(missing_ok=True)
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=child.folder, env=child.environment,
                                   stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != code:
            errors.seek(0)
            raise SystemExit(f"failed ({process.returncode}): {' '.join(command)}\n"
                             f"{errors.read().decode(errors='replace')}")
    return Run(seconds, usage.ru_maxrss * 1024, deck.stat().st_size if code == 0 else 0,
               usage.ru_utime + usage.ru_stime)


#: What the speed targets were set against: importing the three libraries a build needs took
#: about this long on the machine they were set on (Python's own start included).
REFERENCE_IMPORT_SECONDS = 0.16


def machine_reference(runs: int, child: Child) -> tuple[float, float]:
    """Median seconds of starting Python, and of importing python-pptx, markdown-it-py and
    Pillow, each run `runs` times, interleaved: how fast this machine is right now (a
    shared machine's speed drifts by half within a day)."""
    commands = ([sys.executable, "-c", "pass"],
                [sys.executable, "-c", "import pptx, markdown_it, PIL.Image"])
    seconds: tuple[list[float], list[float]] = ([], [])
    for turn in range(runs + 1):
        for command, times in zip(commands, seconds, strict=True):
            started = time.perf_counter()
            subprocess.run(command, cwd=child.folder, env=child.environment, check=True,
                           stdout=subprocess.DEVNULL)
            if turn:  # the first turn warms the caches up
                times.append(time.perf_counter() - started)
    return statistics.median(seconds[0]), statistics.median(seconds[1])


def measure_runs(command: list[str], deck: Path, runs: int,
                 child: Child, code: int = 0) -> Run:
    """One warm-up, then `runs` runs: the median time, the largest peak, the deck size."""
    measure(command, deck, child, code)
    measured = [measure(command, deck, child, code) for _ in range(runs)]
    return Run(statistics.median(run.seconds for run in measured),
               max(run.peak_bytes for run in measured), measured[-1].deck_bytes,
               statistics.median(run.cpu_seconds for run in measured))


#: Runs `deckgen build NOTE --watch` in this process (cli.main, as the command line does),
#: edits one line of the note once the first build is done, stops the watch with SIGINT
#: (Ctrl-C) once the second is, and prints the seconds of each build as JSON.
WATCH_SCRIPT = """\
import io, json, os, signal, sys, threading, time
from pathlib import Path
from deckgen import cli

note, deck, resources = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
seconds = []
build_once = cli.build_once

def edit():
    text = note.read_text(encoding="utf-8")
    note.write_text(text.replace("## 250. ", "## 250. Edited: ", 1), encoding="utf-8")

def timed(args, out, err):
    started = time.perf_counter()
    try:
        return build_once(args, out, err)
    finally:
        seconds.append(time.perf_counter() - started)
        if len(seconds) == 1:
            threading.Timer(0.1, edit).start()
        else:
            threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGINT)).start()

cli.build_once = timed
signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started in background
code = cli.main(["build", str(note), "-o", deck, "-q", "--watch", "--resource-path",
                 resources], stdout=io.StringIO(), stderr=sys.stderr)
print(json.dumps(seconds))
sys.exit(code)
"""


def measure_watch(note: Path, resources: Path, work: Path, runs: int,
                  child: Child) -> tuple[Run, Run]:
    """The first build and the rebuild after a one-line edit (a heading in the middle) in
    one `--watch` process, on a copy of the note; medians over `runs` processes."""
    firsts, rebuilds, peaks = [], [], []
    copy, deck = work / "watched.md", work / "watched.pptx"
    for _ in range(runs):
        copy.write_text(note.read_text(encoding="utf-8"), encoding="utf-8")
        command = [sys.executable, "-c", WATCH_SCRIPT, str(copy), str(deck), str(resources)]
        process = subprocess.Popen(command, cwd=child.folder, env=child.environment,
                                   stdout=subprocess.PIPE)
        assert process.stdout is not None
        output = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit("the --watch benchmark failed")
        first, second = json.loads(output)[:2]
        firsts.append(first)
        rebuilds.append(second)
        peaks.append(usage.ru_maxrss * 1024)
    size = deck.stat().st_size
    return (Run(statistics.median(firsts), max(peaks), size),
            Run(statistics.median(rebuilds), max(peaks), size))


# --- the report -------------------------------------------------------------------------------

HEADER = (f"{'case':<24} {'deckgen':>9} {'cpu':>7} {'peak':>7} {'deck':>8}   "
          f"{'python-pptx':>11} {'cpu':>7} {'peak':>7} {'deck':>8}   {'ratio':>6}")


def figures(run: Run | None, width: int = 9) -> str:
    if run is None:
        return f"{'—':>{width}} {'':>7} {'':>7} {'':>8}"
    cpu = f"{run.cpu_seconds:5.2f} s" if run.cpu_seconds else ""
    digits = 3 if run.seconds < 1 else 2
    return (f"{run.seconds:{width - 2}.{digits}f} s {cpu:>7} {run.peak_bytes / 2**20:4.0f} MB "
            f"{run.deck_bytes / 1e6:5.1f} MB")


def row(label: str, deckgen: Run, other: Run | None) -> str:
    """deckgen's figures, the other writer's, and deckgen's time as a multiple of it."""
    ratio = f"{deckgen.seconds / other.seconds:5.2f}×" if other else ""
    return f"{label:<24} {figures(deckgen)}   {figures(other, 11)}   {ratio:>6}"


def main() -> int:
    """Generate (or reuse) the corpora, measure every case, print the table."""
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--cases", nargs="+",
                         default=["intro", "photos", "text", "headings", "watch"],
                         choices=["intro", "photos", "text", "headings", "watch"])
    options.add_argument("--runs", type=int, default=3, help="runs per case (default 3)")
    options.add_argument("--photo-runs", type=int, default=1,
                         help="runs of the photo, headings and watch cases (default 1)")
    options.add_argument("--no-bare", action="store_true", help="skip the python-pptx script")
    options.add_argument("--deckgen", type=Path, default=REPO_ROOT, metavar="DIR",
                         help="measure the deckgen package found in DIR, e.g. an older "
                              "version unpacked with `git archive REV | tar -x -C DIR` "
                              "(default: this checkout)")
    args = options.parse_args()
    children = child(args.deckgen.resolve())

    print(f"corpora in {CACHE} and {bench_images.CACHE}; deckgen from {args.deckgen}",
          flush=True)
    cases = corpora(args.cases, args.runs, args.photo_runs)
    pandoc = shutil.which("pandoc")
    work = Path(tempfile.mkdtemp(prefix="deckgen-bench-build-"))
    print(f"python {sys.version.split()[0]}, {_cores()} cores, load average "
          f"{os.getloadavg()[0]:.2f}; wall and cpu: median of {args.runs} runs "
          f"({args.photo_runs} for photos, headings and watch) after a warm-up; peak: largest "
          "RSS of a run's process tree")
    start, imports = machine_reference(max(args.runs, 5), children)
    print(f"this machine now: starting Python {start:.3f} s; importing python-pptx, "
          f"markdown-it-py and Pillow {imports:.3f} s (the targets were set where that "
          f"import took about {REFERENCE_IMPORT_SECONDS} s)")
    print(HEADER)
    try:
        for case in cases:
            deck = work / "deck.pptx"
            deckgen = measure_runs([sys.executable, "-m", "deckgen", "build", str(case.note),
                                    "-o", str(deck), "-q", "--resource-path",
                                    str(case.resources)], deck, case.runs, children,
                                   case.code)
            bare = None
            if not args.no_bare and case.others:
                spec = bare_spec(case)
                bare = measure_runs([sys.executable, "-c", BARE_SCRIPT, str(spec),
                                     str(work / "bare.pptx")], work / "bare.pptx", case.runs,
                                    children)
            print(row(case.name, deckgen, bare), flush=True)
            if pandoc and case.others:
                run = measure_runs([pandoc, str(case.note), "-o", str(work / "pandoc.pptx"),
                                    f"--resource-path={case.note.parent}:{case.resources}"],
                                   work / "pandoc.pptx", case.runs, children)
                print(row(f"  pandoc: {case.name}", run, deckgen), flush=True)
        if "watch" in args.cases:
            note = bench_images.CACHE / f"bench-build-{PHOTO_SLIDES}.md"
            if not note.is_file():
                corpora(["photos"], 1, 1)
            first, second = measure_watch(note, bench_images.CACHE, work, args.photo_runs,
                                          children)
            print(row("--watch: first build", first, None), flush=True)
            print(row("--watch: after an edit", second, None), flush=True)
        if not pandoc:
            print("pandoc: not installed")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _cores() -> int:
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1


if __name__ == "__main__":
    sys.exit(main())
