"""Deck audit: every .pptx the tests write is checked against the Open XML SDK's rules.

openxml-audit (the rules of Microsoft's Open XML SDK, in Python) validates each deck as
`openxml-audit -f microsoft365 DECK` would; a deck passes with 0 errors (warnings are not
reported). After each test that passed, conftest.py hands the audit

- the decks deckgen wrote in this process (`deckgen.build.write_atomically` is watched, so a
  deck in a folder the test deletes before it ends is checked too), and
- every *.pptx under pytest's temporary folders (tmp_path, tmp_path_factory) that is new or
  changed since the last test: decks written by a `deckgen` subprocess, templates a test
  made.

A snapshot of each deck goes to a validator process of its own, which works while the next
tests run (validation costs about as much CPU as the tests themselves, and a test run leaves
the second core mostly idle), with a memory limit and a time limit per deck, so a hostile deck
costs a clear finding, not the suite. At the end of the session the run waits for the last
results; a deck with errors fails the run, and the summary names the test that wrote it, the
deck and the validator's messages. Results are kept by the SHA-256 of the deck's bytes (in
memory, and in pytest's cache between runs), so a deck is validated once however often it is
written. Under pytest-xdist each worker has its own validator and sends its findings home.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatch
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
    "pytest_configure",
    "pytest_runtest_call",
    "pytest_sessionfinish",
    "pytest_terminal_summary",
    "pytest_testnodedown",
]

#: The Office version decks are validated against (the CLI's `-f microsoft365`).
AUDIT_FORMAT = "microsoft365"
#: Errors reported per deck at most (the CLI's default).
MAX_ERRORS = 100
#: Error lines quoted per deck in the summary.
QUOTED_ERRORS = 10
#: A deck whose zip says it holds more than this (uncompressed) is reported, not validated:
#: the largest deck the suite builds (10 000 slides) holds 72 MB.
MAX_DECK_BYTES = 512 * 1024 * 1024
#: Address space of the validator's process.
WORKER_MEMORY_BYTES = 4 * 1024 * 1024 * 1024
#: Time one deck may take (the 10 000-slide deck takes about 50 s on an idle core).
TIME_LIMIT_S = 300


# --- the validator's process --------------------------------------------------------------

class _OutOfTime(Exception):
    """SIGALRM: the deck took over TIME_LIMIT_S."""


def _serve() -> None:
    """Validate each {"digest", "path"} line read from stdin; answer one JSON line each."""
    import resource
    import signal

    resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY_BYTES, WORKER_MEMORY_BYTES))

    def out_of_time(_signum: int, _frame: object) -> None:
        raise _OutOfTime

    signal.signal(signal.SIGALRM, out_of_time)
    from openxml_audit import FileFormat, OpenXmlValidator, ValidationSeverity

    validator = OpenXmlValidator(file_format=FileFormat(AUDIT_FORMAT), max_errors=MAX_ERRORS)
    for line in sys.stdin:
        request = json.loads(line)
        start = time.process_time()
        signal.alarm(TIME_LIMIT_S)
        try:
            result = validator.validate(request["path"])
            errors = [str(error) for error in result.errors
                      if error.severity == ValidationSeverity.ERROR]
        except _OutOfTime:
            errors = [f"not validated: the validator took over {TIME_LIMIT_S} s"]
        except MemoryError:
            errors = [f"not validated: the validator ran out of memory "
                      f"({WORKER_MEMORY_BYTES >> 20} MB)"]
        except Exception as exc:  # the validator's own failure is the finding
            errors = [f"the validator failed: {type(exc).__name__}: {exc}"]
        finally:
            signal.alarm(0)
        answer = {"digest": request["digest"], "errors": errors,
                  "seconds": time.process_time() - start}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


@dataclass
class _Worker:
    """The validator's process, started when first needed and again after it died; a
    thread reads its answers into `answers` as (generation, answer or None at its end)."""

    answers: queue.Queue[tuple[int, dict[str, Any] | None]] = field(default_factory=queue.Queue)
    process: subprocess.Popen[str] | None = None
    generation: int = 0

    def submit(self, digest: str, path: Path) -> int:
        """Send one deck; the generation of the process that got it."""
        if self.process is None or self.process.poll() is not None:
            self._start()
        assert self.process is not None and self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps({"digest": digest, "path": str(path)}) + "\n")
            self.process.stdin.flush()
        except OSError:  # it died: the reader reports its end, which fails what it had
            pass
        return self.generation

    def _start(self) -> None:
        self.generation += 1
        process = subprocess.Popen([sys.executable, __file__, "--serve"], text=True,
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL)
        self.process = process
        generation = self.generation

        def read() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                self.answers.put((generation, json.loads(line)))
            self.answers.put((generation, None))

        threading.Thread(target=read, name="deck-audit-reader", daemon=True).start()

    def stop(self) -> None:
        if self.process is not None:
            if self.process.stdin is not None:
                with contextlib.suppress(OSError):  # it died with a request unread
                    self.process.stdin.close()
            self.process.kill()
            self.process.wait(10)
            self.process = None


# --- what the test process keeps ----------------------------------------------------------

@dataclass(frozen=True)
class Finding:
    """One deck with errors: the test that wrote it, where it was, what the validator said."""

    test: str
    deck: str
    errors: tuple[str, ...]

    def describe(self) -> str:
        lines = [f"{self.test}: {self.deck}: {len(self.errors)} error(s)"]
        lines += [f"  {number}. {error}"
                  for number, error in enumerate(self.errors[:QUOTED_ERRORS], start=1)]
        if len(self.errors) > QUOTED_ERRORS:
            lines.append(f"  ... and {len(self.errors) - QUOTED_ERRORS} more")
        return "\n".join(lines)


@dataclass
class _Pending:
    """A deck sent to the validator: its snapshot, the process that has it, who wants it."""

    snapshot: Path
    generation: int
    waiting: list[tuple[str, str]]


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
    """The audit of one test session (one xdist worker): what was seen, sent, found."""

    basetemp: Path
    stash: Path
    results: dict[str, tuple[str, ...]] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)
    seen: dict[Path, tuple[int, int, int]] = field(default_factory=dict)
    written: list[tuple[Path, bytes]] = field(default_factory=list)
    finished: set[Path] = field(default_factory=set)
    pending: dict[str, _Pending] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    worker: _Worker = field(default_factory=_Worker)
    checked: int = 0
    validated: int = 0
    seconds: float = 0.0  # in this process: scans, hashes, snapshots
    validator_seconds: float = 0.0  # CPU time of the validator
    waited: float = 0.0  # at the end, for the last results

    def record_write(self, path: Path, data: bytes) -> None:
        """deckgen wrote `data` to `path` in this process (called from the watch)."""
        if data[:2] == b"PK":
            self.written.append((path, data))

    def after_test(self, test: str, tmp_path: Path | None, exempt: Iterable[str] | None,
                   check: bool) -> None:
        """Send the decks written since the last call to the validator, unless exempt or
        not checked; collect the answers that have come.

        `exempt` is None when nothing is exempt, an empty list when every deck is, else the
        file-name patterns of the exempt decks."""
        start = time.perf_counter()
        patterns = None if exempt is None else list(exempt)

        def skipped(path: Path) -> bool:
            if not check or patterns is None:
                return not check
            return not patterns or any(fnmatch(path.name, pattern) for pattern in patterns)

        written, self.written = self.written, []
        for path, data in written:
            if not skipped(path):
                self._check(test, path, data)
        for path in self._changed_decks(tmp_path):
            if skipped(path):
                continue
            try:
                data = path.read_bytes()
            except OSError:
                continue
            self._check(test, path, data)
        self._collect(block=False)
        self.seconds += time.perf_counter() - start

    def finish(self) -> None:
        """Wait for the validator's last answers, then stop it."""
        start = time.perf_counter()
        self._collect(block=True)
        self.worker.stop()
        shutil.rmtree(self.stash, ignore_errors=True)
        self.waited = time.perf_counter() - start

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

    def _check(self, test: str, path: Path, data: bytes) -> None:
        """Note the deck's result if known, else send a snapshot of it to the validator."""
        self.checked += 1
        digest = hashlib.sha256(data).hexdigest()
        self.used.add(digest)
        if digest in self.results:
            self._found(test, str(path), self.results[digest])
        elif digest in self.pending:
            if (test, str(path)) not in self.pending[digest].waiting:
                self.pending[digest].waiting.append((test, str(path)))
        else:
            self.stash.mkdir(parents=True, exist_ok=True)
            snapshot = self.stash / f"{digest}.pptx"
            snapshot.write_bytes(data)
            declared = _declared_size(snapshot)
            if declared > MAX_DECK_BYTES:
                snapshot.unlink()
                self.results[digest] = (f"not validated: the zip says it holds "
                                        f"{declared >> 20} MB, over the audit's "
                                        f"{MAX_DECK_BYTES >> 20} MB",)
                self._found(test, str(path), self.results[digest])
                return
            generation = self.worker.submit(digest, snapshot)
            self.pending[digest] = _Pending(snapshot, generation, [(test, str(path))])

    def _found(self, test: str, deck: str, errors: tuple[str, ...]) -> None:
        finding = Finding(test, deck, errors)
        if errors and finding not in self.findings:
            self.findings.append(finding)

    def _collect(self, block: bool) -> None:
        """Take the validator's answers: those there now, or (block) until none is owed."""
        while self.pending:
            try:
                generation, answer = self.worker.answers.get(
                    block=block, timeout=TIME_LIMIT_S + 60 if block else None)
            except queue.Empty:
                if not block:
                    return
                self.worker.stop()  # stuck where SIGALRM cannot reach it
                self._fail_pending(None, f"not validated: no answer in {TIME_LIMIT_S + 60} s")
                return
            if answer is None:
                self._fail_pending(generation, "not validated: the validator's process died")
                continue
            self.validated += 1
            self.validator_seconds += float(answer["seconds"])
            errors = tuple(str(error) for error in answer["errors"])
            pending = self.pending.pop(answer["digest"], None)
            if not any(error.startswith("not validated: ") for error in errors):
                self.results[answer["digest"]] = errors
            if pending is not None:
                pending.snapshot.unlink(missing_ok=True)
                for test, deck in pending.waiting:
                    self._found(test, deck, errors)

    def _fail_pending(self, generation: int | None, reason: str) -> None:
        for digest, pending in list(self.pending.items()):
            if generation is None or pending.generation == generation:
                del self.pending[digest]
                for test, deck in pending.waiting:
                    self._found(test, deck, (reason,))

    def cached(self) -> dict[str, list[str]]:
        """The results used in this session, to keep for the next one."""
        return {digest: list(self.results[digest]) for digest in sorted(self.used)
                if digest in self.results}

    def totals(self) -> dict[str, float]:
        return {"checked": self.checked, "validated": self.validated,
                "seconds": self.seconds, "validator_seconds": self.validator_seconds,
                "waited": self.waited}


# --- the pytest side: conftest.py imports these, which makes them its hooks and fixture ---

AUDIT_KEY = pytest.StashKey[DeckAudit]()
REPORT_KEY = pytest.StashKey[dict[str, Any]]()
CACHE_KEY = "deckgen/deck-audit"


def _cache_name() -> str:
    from openxml_audit import __version__

    return f"{CACHE_KEY}/openxml-audit-{__version__}-{AUDIT_FORMAT}"


def pytest_configure(config: pytest.Config) -> None:
    try:
        import openxml_audit  # noqa: F401
    except ImportError as exc:
        raise pytest.UsageError("the deck audit needs openxml-audit, a test requirement: "
                                "scripts/setup --test (or pip install -e '.[test]')") from exc
    config.stash[REPORT_KEY] = {"findings": [], "totals": {}}


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
            audit.after_test("(session teardown)", None, None, check=True)
            audit.finish()
            report = request.config.stash[REPORT_KEY]
            report["findings"].extend(
                {"test": finding.test, "deck": finding.deck, "errors": list(finding.errors)}
                for finding in audit.findings)
            report["totals"] = audit.totals()
            if cache is not None:
                cache.set(_cache_name(), audit.cached())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """After a test passes, send the decks it (or a fixture it used) wrote to the audit."""
    audit = item.config.stash.get(AUDIT_KEY, None)
    tmp_path = getattr(item, "funcargs", {}).get("tmp_path")
    marker = item.get_closest_marker("invalid_deck")
    exempt = None if marker is None else [str(name) for name in marker.args]
    try:
        result = yield
    except BaseException:
        if audit is not None:
            audit.after_test(item.nodeid, tmp_path, exempt, check=False)
        raise
    if audit is not None:
        audit.after_test(item.nodeid, tmp_path, exempt, check=True)
    return result


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """pytest-xdist: a worker is done; keep what its audit found."""
    sent = getattr(node, "workeroutput", {}).get("deck_audit")
    if sent:
        report = node.config.stash[REPORT_KEY]
        report["findings"].extend(sent["findings"])
        totals = report["totals"]
        for key, value in sent["totals"].items():
            totals[key] = totals.get(key, 0) + value


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A deck with errors fails the run (and an xdist worker sends its findings home)."""
    report = session.config.stash.get(REPORT_KEY, None)
    if report is None:
        return
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["deck_audit"] = report
    elif report["findings"] and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """The decks with errors, with the tests that wrote them; one line of cost."""
    report = config.stash.get(REPORT_KEY, None)
    if report is None or hasattr(config, "workeroutput"):
        return
    findings = [Finding(item["test"], item["deck"], tuple(item["errors"]))
                for item in report["findings"]]
    if findings:
        terminalreporter.section("deck audit: decks with errors", sep="=", red=True)
        terminalreporter.write_line(
            f"openxml-audit -f {AUDIT_FORMAT} finds errors in {len(findings)} deck(s); a "
            "test that spoils a deck on purpose says so with @pytest.mark.invalid_deck")
        for finding in findings:
            terminalreporter.write_line(finding.describe())
    totals = report["totals"]
    if totals.get("checked"):
        terminalreporter.write_line(
            f"deck audit: {int(totals['checked'])} deck(s) checked, "
            f"{int(totals['validated'])} validated (openxml-audit -f {AUDIT_FORMAT}, "
            f"{totals['validator_seconds']:.1f} s CPU beside the tests), "
            f"{len(findings)} with errors; {totals['seconds']:.1f} s in the tests, "
            f"{totals['waited']:.1f} s waited at the end")


if __name__ == "__main__" and sys.argv[1:] == ["--serve"]:
    _serve()
