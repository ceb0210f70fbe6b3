"""Run the command line as `python -m deckgen`."""

from __future__ import annotations

from deckgen.cli import entry

entry()
