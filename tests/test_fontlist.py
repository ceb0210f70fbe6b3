"""fontconfig's listing, started before it is needed (deckgen.fontlist)."""

from __future__ import annotations

import shutil

import pytest

from deckgen import fontlist, measure


@pytest.fixture(autouse=True)
def no_listing_started(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fontlist, "_started", None)


@pytest.mark.skipif(shutil.which("fc-list") is None, reason="fontconfig is not installed")
def test_a_started_listing_is_the_one_read() -> None:
    fontlist.start_font_listing()
    started = fontlist._started
    assert started is not None
    fontlist.start_font_listing()  # once: a second call starts nothing new
    assert fontlist._started is started
    listing = fontlist.font_listing()
    assert fontlist._started is None and started.returncode == 0
    families = {line.split("\t")[0] for line in listing.splitlines()}
    assert any("Noto Sans CJK KR" in family for family in families)


@pytest.mark.skipif(shutil.which("fc-list") is None, reason="fontconfig is not installed")
def test_listing_without_an_early_start_still_lists() -> None:
    assert fontlist.font_listing().count("\n") > 10


def test_without_fontconfig_the_listing_is_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fontlist.shutil, "which", lambda name: None)
    fontlist.start_font_listing()
    assert fontlist._started is None
    assert fontlist.font_listing() == ""


def test_without_fontconfig_fonts_are_found_by_scanning_folders(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fontlist.shutil, "which", lambda name: None)
    measure.installed_fonts.cache_clear()
    try:
        faces = measure.installed_fonts()
    finally:
        measure.installed_fonts.cache_clear()
    assert any(family == "Liberation Sans" for family, *_ in faces)
