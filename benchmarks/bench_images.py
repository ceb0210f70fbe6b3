"""Image pipeline benchmark: a 100-slide deck of phone-like photos; prints time, memory, size.

    python3 benchmarks/bench_images.py                 # 100 photos, default 220 dpi
    python3 benchmarks/bench_images.py --serial        # without the process pool
    python3 benchmarks/bench_images.py --count 20 --image-dpi 150 --keep
    python3 benchmarks/bench_images.py --per-photo     # processor time of each stage, in process

The photos (3000 × 2000 JPEG, about 2 MB each: smooth luminance texture over several octaves,
fine grain, softer colour, translucent shapes — so JPEG cannot squeeze them to nothing) are
drawn from fixed seeds once into a cache folder in the temporary directory and reused. The
build runs `deckgen build` in a child process; its peak memory is the child's maximum
resident set size (`resource.getrusage(RUSAGE_CHILDREN)`, which covers the pool's workers as
the largest single process, not their sum). Target: a deck under 25 MB for 100 photos.

`--per-photo` builds nothing: it encodes each photo in this process, as a worker of the
build's pool does, for the size the 500-slide benchmark of bench_build.py places it at
(1536 × 1024 pixels at 220 dpi; `--target` to change), and prints the processor time of the
decoding (at the JPEG decoder's reduced scale) and of the rest (downscaling, choosing the
quality, encoding), the median over the photos.
"""

from __future__ import annotations

import argparse
import io
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw

PHOTO_SIZE = (3000, 2000)
PHOTO_QUALITY = 93
CACHE = Path(tempfile.gettempdir()) / "deckgen-bench-photos-v2"
#: (divisor of the photo size, weight) of each luminance octave: coarse shapes strongest.
LUMA_OCTAVES = ((128, 0.45), (32, 0.2), (8, 0.15), (3, 0.1), (1, 0.1))
CHROMA_OCTAVES = ((256, 0.6), (64, 0.4))
REPO_ROOT = Path(__file__).resolve().parent.parent
#: The pixels the 500-slide benchmark note places each photo at (220 dpi).
PLACED_PIXELS = (1536, 1024)


def texture(rng: random.Random, size: tuple[int, int],
            octaves: tuple[tuple[int, float], ...]) -> Image.Image:
    """Grey value noise summed over octaves (coarse noise enlarged smoothly)."""
    width, height = size
    texture_so_far: Image.Image | None = None
    total = 0.0
    for divisor, weight in octaves:
        small = (max(2, width // divisor), max(2, height // divisor))
        layer = Image.frombytes("L", small, rng.randbytes(small[0] * small[1]))
        if divisor > 1:
            layer = layer.resize(size, Image.Resampling.BICUBIC)
        total += weight
        texture_so_far = (layer if texture_so_far is None
                          else Image.blend(texture_so_far, layer, weight / total))
    assert texture_so_far is not None
    return texture_so_far


def draw_photo(seed: int, size: tuple[int, int] = PHOTO_SIZE) -> Image.Image:
    """A phone-like photo: detailed luminance, calmer colour, a few translucent shapes."""
    rng = random.Random(seed)
    gradient = Image.linear_gradient("L").rotate(rng.choice((0, 90, 180, 270))).resize(size)
    luma = ImageChops.overlay(texture(rng, size, LUMA_OCTAVES), gradient)
    grey = Image.new("L", size, 128)
    chroma = [Image.blend(texture(rng, size, CHROMA_OCTAVES), grey, 0.4) for _ in range(2)]
    photo = Image.merge("YCbCr", [luma, *chroma]).convert("RGB")
    for _ in range(25):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        radius = rng.randrange(60, 500)
        mask = Image.new("L", size, 0)
        ImageDraw.Draw(mask).ellipse((x - radius, y - radius, x + radius, y + radius // 2),
                                     fill=255)
        tint = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
        photo.paste(Image.blend(photo, tint, 0.5), (0, 0), mask)
    return photo


def photos(count: int) -> list[Path]:
    """The first `count` benchmark photos, drawn once into the cache folder."""
    folder = CACHE / "photos"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for seed in range(count):
        path = folder / f"photo-{seed:03d}.jpg"
        if not path.is_file():
            data = io.BytesIO()
            draw_photo(seed).save(data, "JPEG", quality=PHOTO_QUALITY)
            temporary = path.with_suffix(".tmp")
            temporary.write_bytes(data.getvalue())
            temporary.replace(path)
            print(f"  drew {path.name} ({len(data.getvalue()) / 1e6:.2f} MB)", flush=True)
        paths.append(path)
    return paths


def notes(paths: list[Path]) -> str:
    """Markdown with one slide per photo."""
    lines = ["# Photo benchmark", ""]
    for number, path in enumerate(paths, start=1):
        lines += [f"## Photo {number}", "", f"![photo {number}](photos/{path.name})", ""]
    return "\n".join(lines)


#: Runs `deckgen build` in the child, optionally without the process pool.
CHILD = """\
import sys
import deckgen.images
if sys.argv[1] == "serial":
    deckgen.images.POOL_MIN_LARGE = 10 ** 9
from deckgen.cli import main
sys.exit(main(sys.argv[2:]))
"""


def main() -> int:
    """Draw (or reuse) the photos, build the deck in a child process, print the figures."""
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--count", type=int, default=100, help="photos (default 100)")
    options.add_argument("--image-dpi", type=int, default=None, help="passed to the build")
    options.add_argument("--serial", action="store_true", help="no process pool")
    options.add_argument("--keep", action="store_true",
                         help="keep the deck (its path is printed)")
    options.add_argument("--per-photo", action="store_true",
                         help="time each stage of encoding a photo instead of building")
    options.add_argument("--target", default="x".join(map(str, PLACED_PIXELS)),
                         help="the placed size in pixels for --per-photo (default %(default)s)")
    args = options.parse_args()

    print(f"photos in {CACHE / 'photos'}", flush=True)
    paths = photos(args.count)
    if args.per_photo:
        width, height = (int(number) for number in args.target.split("x"))
        return per_photo(paths, (width, height))
    source_bytes = sum(path.stat().st_size for path in paths)
    markdown = CACHE / f"bench-{args.count}.md"
    markdown.write_text(notes(paths), encoding="utf-8")
    output = Path(tempfile.mkdtemp(prefix="deckgen-bench-")) / "bench.pptx"
    command = [sys.executable, "-c", CHILD, "serial" if args.serial else "pool", "build",
               str(markdown), "-o", str(output), "-q", "--resource-path", str(CACHE)]
    if args.image_dpi:
        command += ["--image-dpi", str(args.image_dpi)]

    started = time.perf_counter()
    finished = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True,
                              check=False)
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak_kib, cpu_seconds = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
    if finished.returncode != 0:
        print(finished.stderr, file=sys.stderr)
        return 1

    deck_bytes = output.stat().st_size
    with zipfile.ZipFile(output) as deck:
        media = [info for info in deck.infolist() if info.filename.startswith("ppt/media/")]
        first = sorted(media, key=lambda info: info.filename)[0]
        with Image.open(io.BytesIO(deck.read(first))) as picture:
            embedded = f"{picture.format} {picture.width}×{picture.height}"
    print(f"photos          {len(paths)} × {PHOTO_SIZE[0]}×{PHOTO_SIZE[1]} JPEG, "
          f"{source_bytes / 1e6:.1f} MB ({source_bytes / len(paths) / 1e6:.2f} MB each)")
    print(f"build           {seconds:.2f} s wall, {cpu_seconds:.2f} s CPU "
          f"({'serial' if args.serial else 'pool allowed'}; wall time suffers when other "
          "work shares the cores)")
    print(f"peak memory     {peak_kib / 1024:.0f} MB (max RSS of the build process tree's "
          "largest process)")
    print(f"deck            {deck_bytes / 1e6:.1f} MB = {deck_bytes / source_bytes:.1%} of "
          f"the sources; {len(media)} pictures, {deck_bytes / len(paths) / 1e3:.0f} kB "
          f"per slide; first embedded as {embedded}")
    target = 25e6 * len(paths) / 100
    print(f"target          under {target / 1e6:.0f} MB: "
          f"{'met' if deck_bytes < target else 'MISSED'}")
    if args.keep:
        print(f"kept            {output}")
    else:
        output.unlink()
        output.parent.rmdir()
    return 0


def per_photo(paths: list[Path], target: tuple[int, int]) -> int:
    """Print the median processor time of decoding and of encoding one photo."""
    sys.path.insert(0, str(REPO_ROOT))
    from deckgen import images

    decoding, encoding, sizes = [], [], []
    for path in paths:
        job = images.EncodeJob(images.inspect_file(path), target)
        started = time.process_time()
        with Image.open(path) as opened:
            opened.draft(opened.mode, images.draft_request(opened.size, target))
            opened.load()
        decoded = time.process_time()
        encoded = images.encode_job(job)
        finished = time.process_time()
        if encoded.problem:
            print(f"{path.name}: {encoded.problem}", file=sys.stderr)
            return 1
        decoding.append(decoded - started)
        encoding.append(finished - decoded - (decoded - started))
        sizes.append(len(encoded.data))
    print(f"photos          {len(paths)} placed at {target[0]}×{target[1]} pixels, embedded "
          f"at {encoded.size[0]}×{encoded.size[1]}, {statistics.mean(sizes) / 1e3:.0f} kB "
          "each on average")
    print(f"decoding        {statistics.median(decoding) * 1e3:.1f} ms per photo (median)")
    print(f"the rest        {statistics.median(encoding) * 1e3:.1f} ms per photo (median): "
          "downscaling, choosing the quality, encoding")
    return 0


if __name__ == "__main__":
    sys.exit(main())
