"""Render tests: decks drawn by LibreOffice, every word checked against its shape's box."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import draw_picture, run_main
from pptx import Presentation
from rendercheck import (
    SOFFICE_MISSING_REASON,
    misplaced_words,
    read_pages,
    render_pdf,
    soffice_available,
)

pytestmark = pytest.mark.skipif(not soffice_available(), reason=SOFFICE_MISSING_REASON)

POLICIES = ["notes", "continue"]

KOREAN = ("컨테이너 가상화 기술은 서비스를 격리시켜주는 것은 물론이며 별도의 운영체제를 구동할 "
          "필요가 없다. 또한 운영체제를 구동하지 않기에 속도가 엄청 빠르고 자원을 효율적으로 "
          "사용할 수 있다. 하지만 도커는 하나의 서비스를 컨테이너로 가상화 시켜서 배포를 해주는 "
          "역할을 하는 것이지, 이렇게 배포된 수많은 서비스들을 일일이 배포하거나 운영하는 역할을 "
          "해주는 것은 아니다. ")
LONG_URL = "https://example.com/" + "/".join(
    f"segment{i}-with-a-long-name" for i in range(12)) + "/index.html"


def stress_markdown() -> str:
    """A note that pushes every part of the layout: long Korean prose, a 40-item list, a
    long URL, a 6-column table, a code block with a very long line and 3 pictures."""
    paragraphs = "\n\n".join(KOREAN * 2 for _ in range(4))
    items = "\n".join(f"- 항목 {i}: 쿠버네티스 리소스 `Pod` 설명 {i}" for i in range(1, 41))
    table = ("| 이름 | 종류 | 버전 | 설명 | 상태 | 비고 |\n|---|:---:|---:|---|---|---|\n"
             + "\n".join(f"| 리소스{r} | Deployment | 1.{r} | 긴 설명 텍스트 {r} | Running | 없음 |"
                         for r in range(6)))
    long_line = " + ".join(f"compute_something_long_{i}(argument_{i})" for i in range(12))
    return f"""---
title: "스트레스 테스트: 긴 노트"
subtitle: "넘치는 내용을 어떻게 다루는가"
author: "테스터"
---

## 긴 한국어 섹션

{paragraphs}

## 마흔 개 항목

{items}

## 긴 주소

참고 주소는 [{LONG_URL}]({LONG_URL}) 이다.

주소 그대로: {LONG_URL}

## 여섯 열 표

{table}

## 긴 코드

```python
def main():
    value = {long_line}
    return value
```

## 그림 세 장

세 가지 비율의 그림이다.

![넓은 그림](img/wide.png)

![높은 그림](img/tall.png)

<img src="img/square.jpg" alt="정사각형" width="400">
"""


@pytest.fixture(scope="module")
def stress_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("stress")
    draw_picture(folder / "img" / "wide.png", (1600, 400), "#2563EB")
    draw_picture(folder / "img" / "tall.png", (400, 1200), "#0F766E")
    draw_picture(folder / "img" / "square.jpg", (800, 800), "#B45309")
    source = folder / "stress.md"
    source.write_text(stress_markdown(), encoding="utf-8")
    return source


@pytest.fixture(scope="module", params=POLICIES)
def stress_render(request: pytest.FixtureRequest, stress_source: Path,
                  tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The stress note built with one overflow policy, and its PDF (once per policy)."""
    policy = request.param
    folder = tmp_path_factory.mktemp(f"stress-{policy}")
    deck = folder / f"stress-{policy}.pptx"
    result = run_main("build", stress_source, "-o", deck, "--overflow", policy)
    assert result.code == 0, result.stderr
    return deck, render_pdf(deck, folder)


def slide_count(deck: Path) -> int:
    return len(Presentation(str(deck)).slides)


def embedded_fonts(pdf: Path) -> list[str]:
    if shutil.which("pdffonts") is None:
        pytest.skip("pdffonts (poppler-utils) not installed")
    listing = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True,
                             check=True, timeout=60).stdout.splitlines()[2:]
    return [line for line in listing if line.strip()]


def assert_hangul_font_embedded(pdf: Path) -> None:
    fonts = embedded_fonts(pdf)
    cjk = [line for line in fonts if "NotoSansCJK" in line.split()[0]]
    assert cjk, "\n".join(fonts)
    # columns: name, type, encoding, emb, sub, uni, object id; "emb" is "yes"
    assert all(" yes " in line for line in cjk), "\n".join(cjk)


# --- the intro deck --------------------------------------------------------------------------


def test_intro_words_are_where_they_belong(intro_deck: Path, intro_pdf: Path) -> None:
    problems = misplaced_words(intro_deck, intro_pdf)
    assert problems == [], "\n".join(problems)


def test_intro_pdf_has_a_page_per_slide(intro_deck: Path, intro_pdf: Path) -> None:
    assert len(read_pages(intro_pdf)) == slide_count(intro_deck) == 8


def test_intro_hangul_drawn_in_a_hangul_font(intro_pdf: Path) -> None:
    assert_hangul_font_embedded(intro_pdf)
    words = [word.text for page in read_pages(intro_pdf) for word in page.words]
    assert any("쿠버네티스" in word for word in words)
    assert not any("\ufffd" in word or "□" in word for word in words)


# --- the stress note -------------------------------------------------------------------------


def test_stress_words_are_where_they_belong(stress_render: tuple[Path, Path]) -> None:
    deck, pdf = stress_render
    problems = misplaced_words(deck, pdf)
    assert problems == [], "\n".join(problems)


def test_stress_pdf_has_a_page_per_slide(stress_render: tuple[Path, Path]) -> None:
    deck, pdf = stress_render
    assert len(read_pages(pdf)) == slide_count(deck)


def test_stress_hangul_drawn_in_a_hangul_font(stress_render: tuple[Path, Path]) -> None:
    _, pdf = stress_render
    assert_hangul_font_embedded(pdf)


def test_stress_deck_shows_all_three_pictures(stress_render: tuple[Path, Path]) -> None:
    deck, _ = stress_render
    last = list(Presentation(str(deck)).slides)[-1]
    assert len([shape for shape in last.shapes if shape.shape_type == 13]) == 3
