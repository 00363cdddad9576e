"""How the scanner reports progress without knowing about terminals."""

from __future__ import annotations

from typing import Protocol


class ScanObserver(Protocol):
    """Receives progress; the CLI shows it with rich, tests and --quiet ignore it."""

    def stage(self, name: str, total: int) -> None:
        """A new stage starts with `total` work units."""

    def advance(self, done: int = 1) -> None:
        """`done` more work units of the current stage finished."""


class SilentObserver:
    """An observer that shows nothing."""

    def stage(self, name: str, total: int) -> None:
        return None

    def advance(self, done: int = 1) -> None:
        return None


class StageLog:
    """Remembers where a scan is (and passes progress on to `inner`), so that an interrupted
    scan can say what it had done."""

    def __init__(self, inner: ScanObserver | None = None) -> None:
        self._inner = inner or SilentObserver()
        self.finished: list[str] = []
        self.current: str | None = None
        self.done = 0
        self.total = 0

    def stage(self, name: str, total: int) -> None:
        if self.current is not None:
            self.finished.append(self.current)
        self.current, self.done, self.total = name, 0, total
        self._inner.stage(name, total)

    def advance(self, done: int = 1) -> None:
        self.done += done
        self._inner.advance(done)

    def describe(self) -> str:
        """Where the scan stopped, in one line."""
        if self.current is None:
            return "before any account was scanned"
        finished = f"; stages finished: {', '.join(self.finished)}" if self.finished else ""
        return (
            f"during stage '{self.current}' ({self.done}/{self.total} done{finished}); every "
            "account is scanned stage by stage, so no account was complete"
        )
