"""Reporters by format name: built-ins plus `trailcheck.reporters` entry points."""

from __future__ import annotations

from importlib.metadata import entry_points

from trailcheck.errors import UserError
from trailcheck.reports.asff import AsffReporter
from trailcheck.reports.base import Reporter
from trailcheck.reports.csv_report import CsvReporter
from trailcheck.reports.html_report import HtmlReporter
from trailcheck.reports.json_report import JsonReporter
from trailcheck.reports.junit import JunitReporter
from trailcheck.reports.markdown import MarkdownReporter
from trailcheck.reports.ocsf import OcsfReporter
from trailcheck.reports.sarif import SarifReporter

ENTRY_POINT_GROUP = "trailcheck.reporters"


def builtin_reporters() -> dict[str, type[Reporter]]:
    return {
        cls.name: cls
        for cls in (
            JsonReporter,
            HtmlReporter,
            SarifReporter,
            JunitReporter,
            MarkdownReporter,
            CsvReporter,
            OcsfReporter,
            AsffReporter,
        )
    }


def available() -> dict[str, type[Reporter]]:
    """Every reporter by format name (plugins cannot replace a built-in)."""
    found: dict[str, type[Reporter]] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found[ep.name] = ep.load()
    return found | builtin_reporters()


def get_reporters(formats: str) -> list[Reporter]:
    """Parse a comma list like `json,html` into reporters; an unknown name is a UserError."""
    known = available()
    names = [f.strip().lower() for f in formats.split(",") if f.strip()]
    if not names:
        raise UserError("--format: give at least one format")
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UserError(
            f"--format: unknown format {unknown[0]!r} (choose from {', '.join(sorted(known))})"
        )
    return [known[n]() for n in dict.fromkeys(names)]
