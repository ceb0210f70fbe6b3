"""Errors that stop a build and diagnostics that are collected and reported."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path


class Level(Enum):
    """How serious a diagnostic is."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True)
class Diagnostic:
    """One content problem, located in the source by file and 1-based line."""

    level: Level
    message: str
    file: Path | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = ""
        if self.file is not None:
            where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        return f"{where}{self.level.value}: {self.message}"


@dataclass
class Diagnostics:
    """The diagnostics of one build, in the order they were found."""

    items: list[Diagnostic] = field(default_factory=list)

    def add(self, level: Level, message: str, file: Path | None = None,
            line: int | None = None) -> None:
        """Record a diagnostic."""
        self.items.append(Diagnostic(level, message, file, line))

    def warn(self, message: str, file: Path | None = None, line: int | None = None) -> None:
        """Record a warning."""
        self.add(Level.WARNING, message, file, line)

    def info(self, message: str, file: Path | None = None, line: int | None = None) -> None:
        """Record an informational note (shown with -v, never fails a build)."""
        self.add(Level.INFO, message, file, line)

    @property
    def warnings(self) -> list[Diagnostic]:
        """The warnings and errors, which `--strict` turns into a failure."""
        return [d for d in self.items if d.level is not Level.INFO]


class DeckgenError(Exception):
    """A problem that stops the build; its message says what and where, and what to do."""

    def __init__(self, message: str, file: Path | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line

    def __str__(self) -> str:
        if self.file is None:
            return self.message
        where = f"{self.file}:{self.line}" if self.line else f"{self.file}"
        return f"{where}: {self.message}"


class UsageError(DeckgenError):
    """A command-line usage problem (exit code 2)."""
