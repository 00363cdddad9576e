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
