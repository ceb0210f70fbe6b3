"""Deck audit: every .pptx the tests write is checked against the Open XML SDK's rules.

openxml-audit (the rules of Microsoft's Open XML SDK, in Python) validates each deck as
`openxml-audit -f microsoft365 DECK` would; a deck passes with 0 errors (warnings are not
reported). conftest.py runs the audit after each test on

- the decks deckgen wrote in this process (`deckgen.build.write_atomically` is watched, so a
  deck in a folder the test deletes before it ends is checked too), and
- every *.pptx under pytest's temporary folders (tmp_path, tmp_path_factory) that is new or
  changed since the last test: decks written by a `deckgen` subprocess, templates a test
  made.

The validator runs in a worker process of its own, with a memory limit and a time limit per
deck, so a hostile deck a test makes on purpose costs a clear failure, not the suite. Results
are kept by the SHA-256 of the deck's bytes (in memory, and in pytest's cache between runs),
so a deck is validated once however often it is written.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import time
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatch
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pytest

__all__ = [
    "AUDIT_FORMAT",
    "MAX_DECK_BYTES",
    "TIME_LIMIT_S",
    "WORKER_MEMORY_BYTES",
    "DeckAudit",
    "Finding",
    "deck_audit",
    "pytest_runtest_call",
    "pytest_terminal_summary",
    "validate_deck",
]

#: The Office version decks are validated against (the CLI's `-f microsoft365`).
AUDIT_FORMAT = "microsoft365"
#: Errors reported per deck at most (the CLI's default).
MAX_ERRORS = 100
#: Error lines quoted per deck in a failure message.
QUOTED_ERRORS = 10
#: A deck whose zip says it holds more than this (uncompressed) is reported, not validated:
#: the largest deck the suite builds (10 000 slides) holds 72 MB.
MAX_DECK_BYTES = 512 * 1024 * 1024
#: Address space of the validator's worker process.
WORKER_MEMORY_BYTES = 4 * 1024 * 1024 * 1024
#: Wall time one deck may take (the 10 000-slide deck takes about 50 s on one core).
TIME_LIMIT_S = 300.0


def validate_deck(path: Path) -> list[str]:
    """The validator's error lines for one deck, in this process ([] when it is valid)."""
    from openxml_audit import FileFormat, OpenXmlValidator, ValidationSeverity

    validator = OpenXmlValidator(file_format=FileFormat(AUDIT_FORMAT), max_errors=MAX_ERRORS)
    result = validator.validate(path)
    return [str(error) for error in result.errors
            if error.severity == ValidationSeverity.ERROR]


def _serve(connection: Connection) -> None:
    """The worker: validate each path received, answer with its error lines."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY_BYTES, WORKER_MEMORY_BYTES))
    from openxml_audit import FileFormat, OpenXmlValidator, ValidationSeverity

    validator = OpenXmlValidator(file_format=FileFormat(AUDIT_FORMAT), max_errors=MAX_ERRORS)
    while True:
        try:
            path = connection.recv()
        except EOFError:
            return
        try:
            result = validator.validate(path)
            lines = [str(error) for error in result.errors
                     if error.severity == ValidationSeverity.ERROR]
        except MemoryError:
            lines = [f"the validator ran out of memory ({WORKER_MEMORY_BYTES >> 20} MB)"]
        except Exception as exc:  # the validator's own failure is the finding
            lines = [f"the validator failed: {type(exc).__name__}: {exc}"]
        connection.send(lines)


@dataclass
class _Worker:
    """One validator process, started when first needed and restarted after a crash."""

    process: Any = None
    connection: Connection | None = None

    def validate(self, path: Path) -> list[str]:
        if self.process is None or not self.process.is_alive():
            self._start()
        assert self.connection is not None
        self.connection.send(str(path))
        try:
            if self.connection.poll(TIME_LIMIT_S):
                answer: list[str] = self.connection.recv()
                return answer
            reason = f"the validator took over {TIME_LIMIT_S:.0f} s"
        except (EOFError, OSError):
            reason = "the validator's process died (out of memory?)"
        self.stop()
        return [reason]

    def _start(self) -> None:
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        self.process = context.Process(target=_serve, args=(theirs,), daemon=True,
                                       name="deck-audit")
        self.process.start()
        theirs.close()
        self.connection = ours

    def stop(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None
        if self.process is not None:
            self.process.kill()
            self.process.join(5)
            self.process = None


@dataclass(frozen=True)
class Finding:
    """One deck with errors: where it was and what the validator said."""

    deck: str
    errors: tuple[str, ...]

    def describe(self) -> str:
        lines = [f"{self.deck}: {len(self.errors)} error(s)"]
        lines += [f"  {number}. {error}"
                  for number, error in enumerate(self.errors[:QUOTED_ERRORS], start=1)]
        if len(self.errors) > QUOTED_ERRORS:
            lines.append(f"  ... and {len(self.errors) - QUOTED_ERRORS} more")
        return "\n".join(lines)


def _signature(stat: os.stat_result) -> tuple[int, int, int]:
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


def _declared_size(path: Path) -> int:
    """What the deck's zip says it holds, uncompressed (0 when it is not a zip)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return 0


@dataclass
class DeckAudit:
    """The audit of one test session: what was seen, what was validated, what it cost."""

    basetemp: Path
    stash: Path
    results: dict[str, tuple[str, ...]] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)
    seen: dict[Path, tuple[int, int, int]] = field(default_factory=dict)
    written: list[tuple[Path, bytes]] = field(default_factory=list)
    finished: set[Path] = field(default_factory=set)
    validated: int = 0
    checked: int = 0
    seconds: float = 0.0
    worker: _Worker = field(default_factory=_Worker)

    def record_write(self, path: Path, data: bytes) -> None:
        """deckgen wrote `data` to `path` in this process (called from the watch)."""
        if data[:2] == b"PK":
            self.written.append((path, data))

    def after_test(self, tmp_path: Path | None, exempt: Iterable[str] | None,
                   check: bool) -> list[Finding]:
        """The decks written since the last call, validated unless exempt or not checked.

        `exempt` is None when nothing is exempt, an empty list when every deck is, else the
        file-name patterns of the exempt decks."""
        start = time.perf_counter()
        try:
            return self._after_test(tmp_path, exempt, check)
        finally:
            self.seconds += time.perf_counter() - start

    def _after_test(self, tmp_path: Path | None, exempt: Iterable[str] | None,
                    check: bool) -> list[Finding]:
        patterns = None if exempt is None else list(exempt)

        def skipped(path: Path) -> bool:
            if not check or patterns is None:
                return not check
            return not patterns or any(fnmatch(path.name, pattern) for pattern in patterns)

        findings: list[Finding] = []
        written, self.written = self.written, []
        for path, data in written:
            if skipped(path):
                continue
            finding = self._check_bytes(path, data)
            if finding is not None:
                findings.append(finding)
        for path in self._changed_decks(tmp_path):
            if skipped(path):
                continue
            finding = self._check_file(path)
            if finding is not None and finding not in findings:
                findings.append(finding)
        return findings

    def _changed_decks(self, tmp_path: Path | None) -> Iterator[Path]:
        """*.pptx files under the temporary folders that are new or changed (marked seen)."""
        try:
            entries = [Path(entry.path) for entry in os.scandir(self.basetemp)
                       if entry.is_dir(follow_symlinks=False)]
        except OSError:
            entries = []
        roots = []
        for entry in entries:
            if entry in self.finished or entry == self.stash:
                continue
            if tmp_path is not None and entry == tmp_path:
                self.finished.add(entry)  # a test's own folder: done when the test is
            roots.append(entry)  # else a fixture's folder: later tests may write in it
        for root in roots:
            for folder, _dirs, files in os.walk(root):
                for name in files:
                    if not name.lower().endswith(".pptx"):
                        continue
                    path = Path(folder, name)
                    try:
                        signature = _signature(path.stat())
                    except OSError:
                        continue
                    if self.seen.get(path) != signature:
                        self.seen[path] = signature
                        yield path

    def _check_file(self, path: Path) -> Finding | None:
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            return None
        return self._check(path, digest, path)

    def _check_bytes(self, path: Path, data: bytes) -> Finding | None:
        digest = hashlib.sha256(data).hexdigest()
        if digest in self.results:
            return self._check(path, digest, path)
        try:
            same = path.read_bytes() == data
        except OSError:
            same = False
        if not same:  # gone or rewritten since: validate a copy of what deckgen wrote
            copy = self.stash / f"{digest[:16]}.pptx"
            self.stash.mkdir(parents=True, exist_ok=True)
            copy.write_bytes(data)
            return self._check(path, digest, copy)
        return self._check(path, digest, path)

    def _check(self, shown: Path, digest: str, path: Path) -> Finding | None:
        self.checked += 1
        self.used.add(digest)
        if digest not in self.results:
            declared = _declared_size(path)
            if declared > MAX_DECK_BYTES:
                errors = [f"not validated: the zip says it holds {declared >> 20} MB, over "
                          f"the audit's {MAX_DECK_BYTES >> 20} MB"]
            else:
                errors = self.worker.validate(path)
            self.results[digest] = tuple(errors)
            self.validated += 1
        errors_found = self.results[digest]
        return Finding(str(shown), errors_found) if errors_found else None

    def cached(self) -> dict[str, list[str]]:
        """The results used in this session, to keep for the next one."""
        return {digest: list(self.results[digest]) for digest in sorted(self.used)}

    def close(self) -> None:
        self.worker.stop()


# The pytest side: conftest.py imports these, which makes them its hooks and fixtures.

AUDIT_KEY = pytest.StashKey[DeckAudit]()
CACHE_KEY = "deckgen/deck-audit"


def _cache_name() -> str:
    from openxml_audit import __version__

    return f"{CACHE_KEY}/openxml-audit-{__version__}-{AUDIT_FORMAT}"


@pytest.fixture(scope="session", autouse=True)
def deck_audit(request: pytest.FixtureRequest,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeckAudit]:
    """The session's deck audit, watching deckgen's deck writes in this process."""
    basetemp = tmp_path_factory.getbasetemp()
    audit = DeckAudit(basetemp=basetemp, stash=basetemp / "deck-audit")
    cache = getattr(request.config, "cache", None)
    if cache is not None:
        kept = cache.get(_cache_name(), {})
        if isinstance(kept, dict):
            audit.results.update((digest, tuple(errors)) for digest, errors in kept.items())
    request.config.stash[AUDIT_KEY] = audit
    with pytest.MonkeyPatch.context() as patch:
        import deckgen.build

        original = getattr(deckgen.build, "write_atomically", None)
        if original is not None:

            def watched(path: Path, data: bytes, *args: Any, **kwargs: Any) -> None:
                original(path, data, *args, **kwargs)
                audit.record_write(Path(path), data)

            patch.setattr(deckgen.build, "write_atomically", watched)
        try:
            yield audit
        finally:
            audit.close()
            if cache is not None:
                cache.set(_cache_name(), audit.cached())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """After a test passes, validate the decks it (or a fixture it used) wrote."""
    audit = item.config.stash.get(AUDIT_KEY, None)
    funcargs = getattr(item, "funcargs", {})
    tmp_path = funcargs.get("tmp_path")
    marker = item.get_closest_marker("invalid_deck")
    exempt = None if marker is None else [str(name) for name in marker.args]
    try:
        result = yield
    except BaseException:
        if audit is not None:
            audit.after_test(tmp_path, exempt, check=False)
        raise
    if audit is not None:
        findings = audit.after_test(tmp_path, exempt, check=True)
        if findings:
            pytest.fail(f"openxml-audit -f {AUDIT_FORMAT} finds errors in "
                        f"{len(findings)} deck(s) this test wrote (if it spoils them on "
                        "purpose, mark it @pytest.mark.invalid_deck):\n"
                        + "\n".join(finding.describe() for finding in findings),
                        pytrace=False)
    return result


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """One line: how many decks were checked and validated, and what that cost."""
    audit = config.stash.get(AUDIT_KEY, None)
    if audit is not None and audit.checked:
        terminalreporter.write_line(
            f"deck audit: {audit.checked} deck(s) checked, {audit.validated} validated "
            f"(openxml-audit -f {AUDIT_FORMAT}) in {audit.seconds:.1f} s")
