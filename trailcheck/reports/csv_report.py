"""CSV: one row per finding, for spreadsheets and ad-hoc analysis.

RFC 4180 (CRLF line ends, quoted as needed). A cell that a spreadsheet would run as a formula
(starting with `=`, `+`, `-`, `@`, tab or CR) gets a leading `'`: AWS names and messages are
data, never formulas.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from typing import ClassVar

from trailcheck.baseline import baseline_states, fingerprint
from trailcheck.model import Report
from trailcheck.reports._util import controls_text, display_status, printable, related_text

COLUMNS = (
    "status",
    "verdict",
    "severity",
    "rule_id",
    "title",
    "account_id",
    "region",
    "resource_type",
    "resource_arn",
    "sub_resource",
    "reason",
    "controls",
    "related_controls",
    "waiver_reason",
    "waiver_owner",
    "waiver_expires",
    "baseline_state",
    "fingerprint",
)


class CsvReporter:
    """`status` is what a person sees (WAIVED included); `verdict` the real one."""

    name: ClassVar[str] = "csv"
    filename: ClassVar[str] = "report.csv"

    def render(self, report: Report) -> str:
        return "".join(self.chunks(report))

    def chunks(self, report: Report) -> Iterator[str]:
        """The header, then one row per finding."""
        yield _row(COLUMNS)
        states = baseline_states(report)
        for f in report.findings:
            fp = fingerprint(f)
            w = f.waiver
            row = (
                display_status(f),
                f.status.value,
                f.severity.value,
                f.rule_id,
                f.title,
                f.account_id,
                f.region or "",
                f.resource_type,
                f.resource_arn,
                f.sub_resource or "",
                f.reason,
                controls_text(f),
                related_text(f),
                w.reason if w else "",
                (w.owner or "") if w else "",
                (w.expires or "") if w else "",
                states.get(fp, "") if f.status.value == "FAIL" else "",
                fp,
            )
            yield _row([_safe(cell) for cell in row])


def _row(cells: Sequence[str]) -> str:
    """One RFC 4180 record (CRLF end, quoted as needed)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(cells)
    return buffer.getvalue()


def _safe(cell: str) -> str:
    """No spreadsheet formula, no raw control character (shown as escapes)."""
    cell = f"'{cell}" if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell
    return printable(cell)
