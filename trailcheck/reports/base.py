"""The reporter contract: a pure function of a `Report` to text."""

from __future__ import annotations

from typing import ClassVar, Protocol

from trailcheck.model import Report


class Reporter(Protocol):
    """Renders a report. No file I/O, no printing, no re-judging."""

    name: ClassVar[str]  # the --format value
    filename: ClassVar[str]  # written as DIR/<filename>

    def render(self, report: Report) -> str: ...
