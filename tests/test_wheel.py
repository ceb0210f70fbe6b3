"""The built wheel works on its own: installed into a fresh virtual environment, its
`deckgen` builds the sample deck from another folder and finds every built-in theme."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pptx import Presentation

REPO_ROOT = Path(__file__).resolve().parent.parent
#: What a wheel is built from (copied, so the build writes nothing into the checkout).
SOURCES = ("pyproject.toml", "README.md", "deckgen", "themes")
#: Slides of content/intro.md.
INTRO_SLIDES = 8

#: One environment for the module: under pytest-xdist (--dist loadgroup) its tests share a worker.
pytestmark = pytest.mark.xdist_group("wheel")


def clean_env() -> dict[str, str]:
    """The environment without what would put the checkout's deckgen before the wheel's."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def run(argv: list[str | Path], cwd: Path,
        timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run a command in `cwd` with the clean environment, its output captured."""
    return subprocess.run([str(arg) for arg in argv], cwd=cwd, env=clean_env(),
                          capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with only the built wheel (and what it requires)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    for name in SOURCES:
        origin = REPO_ROOT / name
        if origin.is_dir():
            shutil.copytree(origin, source / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(origin, source / name)
    dist = work / "dist"
    # Built as `python -m build` would, in an isolated environment with pyproject's setuptools
    # (from the index, as `scripts/setup` gets it for the editable install).
    built = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
                 "--wheel-dir", dist, source], cwd=work, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    [wheel] = dist.glob("deckgen-*.whl")
    env = work / "venv"
    made = run([sys.executable, "-m", "venv", "--without-pip", env], cwd=work)
    assert made.returncode == 0, made.stdout + made.stderr
    python = env / "bin" / "python"
    installed = run([sys.executable, "-m", "pip", "--python", python, "install", "--quiet",
                     "--no-warn-script-location", wheel], cwd=work, timeout=300)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return env


@pytest.mark.slow
def test_the_wheel_installs_alone(venv: Path) -> None:
    """The environment's deckgen is the wheel's, not the checkout's."""
    where = run([venv / "bin" / "python", "-c", "import deckgen; print(deckgen.__file__)"],
                cwd=venv)
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout


@pytest.mark.slow
def test_the_wheel_builds_the_sample_from_another_folder(venv: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = run([venv / "bin" / "deckgen", "build", REPO_ROOT / "content" / "intro.md",
                  "-o", "out.pptx"], cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    deck = elsewhere / "out.pptx"
    assert len(Presentation(str(deck)).slides) == INTRO_SLIDES
    assert sorted(path.name for path in elsewhere.iterdir()) == ["out.pptx"]


@pytest.mark.slow
@pytest.mark.parametrize("theme", sorted(path.stem
                                         for path in (REPO_ROOT / "themes").glob("*.toml")))
def test_the_wheel_finds_every_built_in_theme(venv: Path, tmp_path: Path, theme: str) -> None:
    listed = run([venv / "bin" / "deckgen", "themes"], cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert theme in listed.stdout.split(), listed.stdout
    result = run([venv / "bin" / "deckgen", "build", REPO_ROOT / "content" / "intro.md",
                  "--theme", theme, "-o", f"{theme}.pptx"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(Presentation(str(tmp_path / f"{theme}.pptx")).slides) == INTRO_SLIDES
