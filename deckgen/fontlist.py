"""fontconfig's list of installed faces, started early so it runs while deckgen imports."""

from __future__ import annotations

import shutil
import subprocess

FC_LIST_FORMAT = "%{family}\t%{style}\t%{file}\t%{index}\n"
#: Seconds fontconfig may take (a first run after fonts changed rebuilds its cache).
FC_LIST_TIMEOUT = 20

_started: subprocess.Popen[str] | None = None


def start_font_listing() -> None:
    """Start `fc-list` in the background (once): a short build spends ~15 ms waiting for
    it, time it can spend importing the rest of deckgen on the other core instead."""
    global _started
    if _started is not None or shutil.which("fc-list") is None:
        return
    try:
        _started = subprocess.Popen(["fc-list", "--format", FC_LIST_FORMAT],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                    stdin=subprocess.DEVNULL, text=True)
    except OSError:
        _started = None


def font_listing() -> str:
    """fc-list's output (one face per line: family, style, file, index), or "" when
    fontconfig is missing or fails; waits for the listing start_font_listing began."""
    global _started
    start_font_listing()
    listing, _started = _started, None
    if listing is None:
        return ""
    try:
        out, _ = listing.communicate(timeout=FC_LIST_TIMEOUT)
    except subprocess.TimeoutExpired:
        listing.kill()
        listing.communicate()
        return ""
    return out if listing.returncode == 0 else ""
