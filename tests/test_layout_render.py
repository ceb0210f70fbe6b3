"""The layout under pressure, as LibreOffice draws it: every theme, both overflow policies."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import draw_picture, run_main
from pptx import Presentation
from rendercheck import SOFFICE_MISSING_REASON, misplaced_words, render_pdf, soffice_available

from deckgen.errors import Diagnostics
from deckgen.theme import builtin_themes, load_theme

THEMES = sorted(builtin_themes())
POLICIES = ("notes", "continue")
SENTENCE = ("컨테이너 가상화 기술은 서비스를 격리시켜주는 것은 물론이며 별도의 운영체제를 구동할 "
            "필요가 없어서 가볍고 빠르다. ")
URL = "https://example.com/" + "a-long-path-segment/" * 9 + "?query=" + "x" * 12
#: Shapes whose text is smaller than the body on purpose.
SMALL_BY_DESIGN = ("Footer", "Slide number", "Kicker", "Footer date", "Code", "Picture")


def stress_note() -> str:
    """The notes issue 4 names: a long Korean era of 900+ words, a 40-item list, a
    12-column table, a 200-character URL and four pictures of mixed aspect ratios."""
    era = "".join(SENTENCE for _ in range(80))
    assert len(era.split()) >= 900
    assert len(URL) >= 200
    items = "\n".join(f"- 항목 {i}: `Pod` 리소스 {i}번 설명" for i in range(1, 41))
    header = "| " + " | ".join(f"열{i}" for i in range(1, 13)) + " |"
    rule = "|" + "---|" * 12
    rows = "\n".join("| " + " | ".join(f"값{r}-{c}" for c in range(1, 13)) + " |"
                     for r in range(1, 9))
    return f"""---
title: 레이아웃 스트레스
---

## 역사

### 2001년 3월 경

{era}

### 2005년

짧은 시대.

## 마흔 개 항목

{items}

## 열두 열 표

{header}
{rule}
{rows}

## 긴 주소

참고: {URL}

## 그림 네 장

비율이 다른 그림 네 장.

![wide](img/wide.png) ![tall](img/tall.png)
![square](img/square.png) ![photo](img/photo.jpg)
"""


@pytest.fixture(scope="module")
def stress_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("layout-stress")
    draw_picture(folder / "img" / "wide.png", (2400, 800), "#2563EB")
    draw_picture(folder / "img" / "tall.png", (600, 1200), "#0F766E")
    draw_picture(folder / "img" / "square.png", (900, 900), "#C2410C")
    draw_picture(folder / "img" / "photo.jpg", (1500, 1000), "#475569")
    source = folder / "stress.md"
    source.write_text(stress_note(), encoding="utf-8")
    return source


@pytest.mark.skipif(not soffice_available(), reason=SOFFICE_MISSING_REASON)
@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("theme", THEMES)
def test_no_word_leaves_its_box_under_any_theme_or_policy(
        stress_source: Path, tmp_path: Path, theme: str, policy: str) -> None:
    deck = tmp_path / f"stress-{theme}-{policy}.pptx"
    result = run_main("build", stress_source, "-o", deck, "--theme", theme,
                      "--overflow", policy)
    assert result.code == 0, result.stderr
    pdf = render_pdf(deck, tmp_path)
    assert misplaced_words(deck, pdf) == []

    prs = Presentation(str(deck))
    minimum = load_theme(theme, Diagnostics()).sizes.body_min
    titles = [slide.shapes.title.text if slide.shapes.title is not None else ""
              for slide in prs.slides]
    pictures = next(slide for slide, title in zip(prs.slides, titles, strict=True)
                    if title.startswith("그림 네 장"))
    assert sum(1 for shape in pictures.shapes if shape.shape_type == 13) == 4
    if policy == "continue":
        assert any(title.startswith("마흔 개 항목 (2/") for title in titles)
        assert any(title.startswith("2001년 3월 경 (2/") for title in titles)
    for slide in prs.slides:
        for shape in slide.shapes:
            if not shape.has_text_frame or shape.name.startswith(SMALL_BY_DESIGN):
                continue
            for paragraph in shape.text_frame.paragraphs:
                for run in paragraph.runs:
                    if run.font.size is not None and run.text.strip():
                        assert run.font.size.pt >= minimum, (shape.name, run.text)
