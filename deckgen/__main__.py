"""Run the command line as `python -m deckgen`."""

from __future__ import annotations

import sys

from deckgen.cli import main

sys.exit(main())
