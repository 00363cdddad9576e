"""`trailcheck audit`: parse the options, read the inputs, build and write the document."""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Annotated

import typer

from trailcheck.errors import UserError

_CADENCE = re.compile(r"^(\d+(?:\.\d+)?)([dhm])$")


def parse_day(flag: str, value: str, *, end_of_day: bool) -> datetime:
    """A date (whole day, UTC) or an ISO 8601 time."""
    try:
        if len(value) == 10:
            day = datetime.fromisoformat(value).date()
            return datetime.combine(day, time.max if end_of_day else time.min, tzinfo=UTC)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UserError(f"{flag}: {value!r} is not a date (YYYY-MM-DD) or ISO 8601 time") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_cadence(value: str) -> timedelta:
    match = _CADENCE.match(value.strip())
    if not match or float(match.group(1)) <= 0:
        raise UserError(f"--cadence: {value!r} is not a duration like 1d, 12h or 90m")
    unit = {"d": "days", "h": "hours", "m": "minutes"}[match.group(2)]
    return timedelta(**{unit: float(match.group(1))})


def audit(
    start: Annotated[
        str, typer.Option("--from", help="First day of the period (YYYY-MM-DD, UTC).")
    ],
    end: Annotated[str, typer.Option("--to", help="Last day of the period, inclusive.")],
    history: Annotated[
        str, typer.Option("--history", help="History store: sqlite:///path or postgresql://...")
    ],
    framework: Annotated[
        list[str] | None,
        typer.Option("--framework", help="Only this framework (repeatable; default: all)."),
    ] = None,
    output_dir: Annotated[
        Path, typer.Option("--output-dir", help="Where to write audit.html/json(/pdf).")
    ] = Path("trailcheck-audit"),
    pdf: Annotated[
        bool, typer.Option("--pdf", help="Also print audit.pdf (headless Chromium).")
    ] = False,
    verification: Annotated[
        list[Path] | None,
        typer.Option(
            "--verification", help="report.json of `trailcheck verify-logs` (repeatable)."
        ),
    ] = None,
    events: Annotated[
        list[Path] | None,
        typer.Option("--events", help="Change events, JSON Lines (repeatable)."),
    ] = None,
    cadence: Annotated[
        str,
        typer.Option("--cadence", help="Expected time between scans (a longer gap is a finding)."),
    ] = "1d",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
) -> None:
    """Did each framework control hold throughout a period, on what evidence, and who changed it."""
    from trailcheck.history import check_url, require_history

    require_history()
    check_url(history)
    inputs_start = parse_day("--from", start, end_of_day=False)
    inputs_end = parse_day("--to", end, end_of_day=True)
    every = parse_cadence(cadence)
    if output_dir.exists() and not output_dir.is_dir():
        raise UserError(f"--output-dir: {output_dir} exists and is not a directory")

    from trailcheck.audit.build import AuditInputs, build_audit
    from trailcheck.audit.events import load_events
    from trailcheck.audit.render import render_html, render_json
    from trailcheck.history.store import _safe, open_store, sha256_bytes
    from trailcheck.snapshot import load_document, write_text_atomic
    from trailcheck.verify.report import VERIFICATION_KIND, VerificationReport

    verifications = [
        (
            str(p),
            sha256_bytes(p.read_bytes()),
            load_document(p, VerificationReport, VERIFICATION_KIND, "verification report"),
        )
        for p in verification or []
    ]
    event_paths = events or []
    loaded_events = load_events(event_paths)
    inputs = AuditInputs(
        start=inputs_start,
        end=inputs_end,
        history_label=_safe(history),
        frameworks=framework,
        cadence=every,
        verifications=verifications,
        event_files=[(str(p), sha256_bytes(p.read_bytes())) for p in event_paths],
        events=loaded_events,
    )
    store = open_store(history)
    try:
        doc = build_audit(store, inputs)
    finally:
        store.close()
    written = []
    html_path = output_dir / "audit.html"
    write_text_atomic(html_path, render_html(doc))
    json_path = output_dir / "audit.json"
    write_text_atomic(json_path, render_json(doc))
    written += [html_path, json_path]
    if pdf:
        from trailcheck.audit.pdf import print_pdf

        print_path = output_dir / ".audit-print.html"
        write_text_atomic(print_path, render_html(doc, print_mode=True))
        try:
            print_pdf(print_path, output_dir / "audit.pdf")
        finally:
            print_path.unlink(missing_ok=True)
        written.append(output_dir / "audit.pdf")
    if not quiet:
        for f in doc.frameworks:
            counts = ", ".join(f"{n} {v.replace('_', ' ')}" for v, n in f.counts.items() if n)
            sys.stdout.write(f"{f.framework}: {counts}\n")
        for path in written:
            sys.stdout.write(f"wrote {path}\n")
