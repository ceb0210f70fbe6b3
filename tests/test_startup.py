"""Modules deferred to their first use (deckgen.startup), in a fresh interpreter each."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def run_fresh(code: str, *arguments: str) -> str:
    """`code` run by a new Python (nothing imported yet) with deckgen importable."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *arguments],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_deferred_modules_cost_nothing_until_used_then_work() -> None:
    out = run_fresh("""
        import sys
        from deckgen.startup import defer_unused_imports
        defer_unused_imports()
        import pptx, PIL.Image, xml.sax.saxutils  # the libraries that import them
        import urllib.request, hashlib
        from PIL import ExifTags
        print("urlopen" in vars(urllib.request), "Base" in vars(ExifTags),
              "sha256" in vars(hashlib), "http.client" in sys.modules)
        print(urllib.request.urlopen.__name__, int(ExifTags.Base.Orientation),
              hashlib.sha256(b"").hexdigest()[:8])
        print(sys.modules["urllib"].request is urllib.request, PIL.ExifTags is ExifTags)
    """)
    assert out.split("\n")[:3] == ["False False False False", "urlopen 274 e3b0c442",
                                   "True True"]


def test_a_missing_name_is_still_an_attribute_error() -> None:
    out = run_fresh("""
        from deckgen.startup import defer_unused_imports
        defer_unused_imports(("hashlib",))
        import hashlib
        try:
            hashlib.no_such_digest
        except AttributeError as error:
            print("AttributeError", "no_such_digest" in str(error))
        print(hashlib.md5(b"a").hexdigest()[:6])
    """)
    assert out.split("\n")[:2] == ["AttributeError True", "0cc175"]


def test_threads_that_ask_at_once_all_get_the_module() -> None:
    out = run_fresh("""
        import threading
        from deckgen.startup import defer_unused_imports
        defer_unused_imports(("hashlib",))
        import hashlib
        start, found = threading.Barrier(8), []
        def digest():
            start.wait()
            found.append(hashlib.sha256(b"").hexdigest()[:8])
        threads = [threading.Thread(target=digest) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        print(sorted(set(found)), len(found), "__getattr__" in vars(hashlib))
    """)
    assert out.split("\n")[0] == "['e3b0c442'] 8 False"


def write_module(folder: Path, name: str, body: str) -> None:
    """A module that counts how often its code runs (in `sys.deferred_runs`)."""
    (folder / f"{name}.py").write_text(
        "import sys\nsys.__dict__.setdefault('deferred_runs', []).append(__name__)\n"
        + textwrap.dedent(body), encoding="utf-8")


def test_a_module_whose_code_fails_leaves_sys_modules(tmp_path: Path) -> None:
    write_module(tmp_path, "breaks_on_import", "VALUE = 1\nraise RuntimeError('broken')\n")
    out = run_fresh("""
        import sys
        sys.path.insert(0, sys.argv[1])
        from deckgen.startup import defer_unused_imports
        defer_unused_imports(("breaks_on_import",))
        import breaks_on_import
        try:
            breaks_on_import.VALUE
        except RuntimeError as error:
            print("first:", error, "breaks_on_import" in sys.modules)
        try:
            import breaks_on_import
        except RuntimeError as error:
            print("again:", error, sys.deferred_runs)
    """, str(tmp_path))
    assert out.split("\n")[:2] == ["first: broken False",
                                   "again: broken ['breaks_on_import', 'breaks_on_import']"]


def test_assignments_listings_and_reloads_run_the_module_as_an_import_would(tmp_path: Path) -> None:
    write_module(tmp_path, "counted", "def answer():\n    return 42\n")
    out = run_fresh("""
        import importlib, sys
        sys.path.insert(0, sys.argv[1])
        from deckgen.startup import defer_unused_imports
        defer_unused_imports(("counted", "hashlib"))
        import counted, hashlib
        counted.answer = lambda: 7  # the module's code runs first, then this
        print(counted.answer(), sys.deferred_runs)
        print("sha256" in dir(hashlib))
    """, str(tmp_path))
    assert out.split("\n")[:2] == ["7 ['counted']", "True"]
    write_module(tmp_path, "reloaded", "VALUE = 1\n")
    out = run_fresh("""
        import importlib, sys
        sys.path.insert(0, sys.argv[1])
        from deckgen.startup import defer_unused_imports
        defer_unused_imports(("reloaded",))
        import reloaded
        importlib.reload(reloaded)  # as for any module: its code ran, then runs again
        print(reloaded.VALUE, hasattr(reloaded, "OTHER"), sys.deferred_runs)
    """, str(tmp_path))
    assert out.split("\n")[0] == "1 False ['reloaded', 'reloaded']"


def test_modules_already_imported_or_unknown_are_left_alone() -> None:
    out = run_fresh("""
        import sys, hashlib
        from deckgen.startup import defer_unused_imports
        before = sys.modules["hashlib"]
        defer_unused_imports(("hashlib", "no_such_module", "no_such_package.module"))
        print(sys.modules["hashlib"] is before, "no_such_module" in sys.modules)
    """)
    assert out.split("\n")[0] == "True False"


def test_a_turned_photo_is_still_turned_by_the_command(tmp_path: Path) -> None:
    """The deck command defers PIL.ExifTags: a photo's orientation is still read."""
    stored = Image.new("RGB", (300, 200), (200, 40, 40))
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned 90° clockwise: upright it is 200 wide, 300 high
    stored.save(tmp_path / "turned.jpg", quality=95, exif=exif.tobytes())
    note = tmp_path / "note.md"
    note.write_text("# Deck\n\n## Photo\n\n![a turned photo](turned.jpg)\n", encoding="utf-8")
    out = run_fresh("""
        import io, sys, zipfile
        from deckgen.cli import main
        assert "PIL.ExifTags" not in sys.modules
        code = main(["build", sys.argv[1], "-o", sys.argv[2], "-q"])
        from PIL import Image  # after the build: the command deferred PIL.ExifTags
        with zipfile.ZipFile(sys.argv[2]) as deck:
            media = [name for name in deck.namelist() if name.startswith("ppt/media/")]
            picture = Image.open(io.BytesIO(deck.read(media[0])))
        width, height = picture.size
        print(code, len(media), height > width, picture.getexif().get(0x0112, 1))
    """, str(note), str(tmp_path / "deck.pptx"))
    assert out.split("\n")[0] == "0 1 True 1"
