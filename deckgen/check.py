"""`deckgen check`: what a build would warn about, plus slides without notes; writes nothing."""

from __future__ import annotations

from deckgen.build import BuildOptions, Plan, plan_build
from deckgen.errors import Diagnostic, Diagnostics
from deckgen.model import Paragraph, SlideKind, plain_text

#: Slides that need no speaker notes of their own: the title page and section dividers.
NOTELESS_KINDS = (SlideKind.TITLE, SlideKind.SECTION)


def check_source(options: BuildOptions, diagnostics: Diagnostics) -> Plan:
    """Plan the build (nothing is written) and add a warning for every slide whose speaker
    notes are only its title, the stand-in a build puts where the notes say nothing."""
    plan = plan_build(options, diagnostics)
    for number, slide in enumerate(plan.slides, start=1):
        if slide.kind in NOTELESS_KINDS:
            continue
        blocks = slide.notes.blocks
        only_title = (len(blocks) == 1 and isinstance(blocks[0], Paragraph)
                      and plain_text(blocks[0].spans).strip() == slide.title.strip())
        if not blocks or only_title:
            diagnostics.warn(f"slide {number} '{slide.title}' has no speaker notes; write "
                             "some as prose or in a '::: notes' block", options.source,
                             slide.line)
    return plan


def findings(items: list[Diagnostic]) -> list[Diagnostic]:
    """Diagnostics once each (a problem may be found twice, e.g. at an HTML tag's start
    and end), sorted by file and line; those without a place come first."""
    return sorted(dict.fromkeys(items), key=lambda item: (str(item.file or ""), item.line or 0))
