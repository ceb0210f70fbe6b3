"""deckgen: Markdown study notes to a themed, editable PowerPoint deck."""

from __future__ import annotations

__version__ = "0.1.0"
