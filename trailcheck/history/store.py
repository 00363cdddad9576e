"""The history store: record reports as status intervals, read them back for an audit period.

One code path for SQLite and PostgreSQL (SQLAlchemy 2 Core). Writers are serialised — SQLite
`BEGIN IMMEDIATE`, a PostgreSQL transaction-scoped advisory lock — so two CI jobs recording at
once both land, whole, one after the other; a write touches only what changed, so the lock is
held briefly. Opening a store brings its schema to the newest Alembic revision under the same
lock; a store written by a newer trailcheck is refused rather than misread.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from trailcheck.baseline import fingerprint
from trailcheck.errors import UserError
from trailcheck.extras import missing_extra_message
from trailcheck.history import check_url
from trailcheck.model import Report

MIGRATIONS = Path(__file__).parent / "migrations"
_ADVISORY_LOCK = 0x74726169  # "trai": the one PostgreSQL advisory lock writers take
_CHUNK = 500

TS = sa.DateTime(timezone=True)
metadata = sa.MetaData()
documents = sa.Table(
    "documents",
    metadata,
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("body", sa.Text),
)
scans = sa.Table(
    "scans",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("started_at", TS),
    sa.Column("finished_at", TS),
    sa.Column("recorded_at", TS),
    sa.Column("tool_version", sa.String(64)),
    sa.Column("partition", sa.String(32)),
    sa.Column("organization_id", sa.String(64)),
    sa.Column("management_account_id", sa.String(32)),
    sa.Column("regions", sa.Text),
    sa.Column("source", sa.Text),
    sa.Column("report_sha256", sa.String(64)),
    sa.Column("snapshot_sha256", sa.String(64)),
    sa.Column("rules_doc", sa.String(64)),
    sa.Column("accounts_doc", sa.String(64)),
    sa.Column("waivers_doc", sa.String(64)),
)
scan_accounts = sa.Table(
    "scan_accounts",
    metadata,
    sa.Column("scan_id", sa.Integer, primary_key=True),
    sa.Column("account_id", sa.String(32), primary_key=True),
    sa.Column("reachable", sa.Boolean),
)
findings = sa.Table(
    "findings",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("fingerprint", sa.String(32)),
    sa.Column("rule_id", sa.String(128)),
    sa.Column("account_id", sa.String(32)),
    sa.Column("region", sa.String(32)),
    sa.Column("resource_arn", sa.Text),
    sa.Column("resource_type", sa.String(128)),
)
intervals = sa.Table(
    "intervals",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("finding_id", sa.Integer),
    sa.Column("status", sa.String(16)),
    sa.Column("severity", sa.String(16)),
    sa.Column("waived", sa.Boolean),
    sa.Column("reason", sa.Text),
    sa.Column("first_scan_id", sa.Integer),
    sa.Column("first_seen", TS),
    sa.Column("last_scan_id", sa.Integer),
    sa.Column("last_seen", TS),
    sa.Column("ended_scan_id", sa.Integer),
    sa.Column("ended_at", TS),
)


def utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes: every stored time is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ----------------------------------------------------------------------------- records


@dataclass(frozen=True)
class ScanRecord:
    """One recorded scan (what the cover page and the coverage timeline need)."""

    id: int
    started_at: datetime
    finished_at: datetime
    tool_version: str
    organization_id: str | None
    source: str
    report_sha256: str
    snapshot_sha256: str | None
    accounts: dict[str, bool]  # account id -> reachable
    regions: tuple[str, ...]
    rules_doc: str
    accounts_doc: str
    waivers_doc: str


@dataclass(frozen=True)
class IntervalRecord:
    """One finding holding one status from `first_seen` to `last_seen`; `ended_at` is the
    scan that saw it change (another status, or gone), None while it still holds."""

    fingerprint: str
    rule_id: str
    account_id: str
    region: str | None
    resource_arn: str
    resource_type: str
    status: str
    severity: str
    waived: bool
    reason: str
    first_seen: datetime
    last_seen: datetime
    ended_at: datetime | None


@dataclass(frozen=True)
class Recorded:
    scan_id: int
    new: bool  # False: this report was already recorded (same SHA-256)
    opened: int  # intervals started (new findings or changed statuses)
    closed: int  # intervals ended
    extended: int  # intervals whose status this scan confirmed


# ----------------------------------------------------------------------------- opening


def _engine(url: str) -> Engine:
    check_url(url)
    if url.startswith("sqlite:"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.parent.is_dir():
            raise UserError(f"--history: directory {path.parent} does not exist")
        engine = sa.create_engine(url, connect_args={"timeout": 60})

        @sa.event.listens_for(engine, "connect")
        def _connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            dbapi_conn.execute("PRAGMA foreign_keys=ON")
            dbapi_conn.execute("PRAGMA journal_mode=WAL")

        @sa.event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("write") else "BEGIN")

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    try:
        return sa.create_engine(url, pool_pre_ping=True)
    except ModuleNotFoundError as exc:
        missing = [exc.name or "psycopg"]
        message = missing_extra_message("postgresql", "--history postgresql://", missing)
        raise UserError(message) from None


@contextmanager
def _write(engine: Engine) -> Iterator[Connection]:
    """A transaction that holds the store's single writer lock until it commits."""
    with engine.connect() as conn:
        conn.info["write"] = True
        try:
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_LOCK})
                yield conn
        finally:
            conn.info.pop("write", None)


def _alembic_config(conn: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    return config


def schema_head() -> str:
    """The newest schema revision this trailcheck knows."""
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


class HistoryStore:
    """An open history: `record()` a report, `scans()` and `intervals()` for a period."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def close(self) -> None:
        self.engine.dispose()

    # -------------------------------------------------------------------- writing

    def record(
        self,
        report: Report,
        report_sha256: str,
        *,
        source: str,
        snapshot_sha256: str | None = None,
        recorded_at: datetime | None = None,
    ) -> Recorded:
        """Record one report: a new interval only where a finding's status changed."""
        with _write(self.engine) as conn:
            return _record(
                conn,
                report,
                report_sha256,
                source,
                snapshot_sha256,
                recorded_at or datetime.now(UTC),
            )

    # -------------------------------------------------------------------- reading

    def scans(self, until: datetime | None = None) -> list[ScanRecord]:
        """Every recorded scan started at or before `until`, oldest first, with its accounts."""
        query = sa.select(scans).order_by(scans.c.started_at, scans.c.id)
        if until is not None:
            query = query.where(scans.c.started_at <= until)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
            covered: dict[int, dict[str, bool]] = {}
            for ids in _chunks([r["id"] for r in rows]):
                for sid, account, reachable in conn.execute(
                    sa.select(
                        scan_accounts.c.scan_id,
                        scan_accounts.c.account_id,
                        scan_accounts.c.reachable,
                    ).where(scan_accounts.c.scan_id.in_(ids))
                ):
                    covered.setdefault(sid, {})[account] = bool(reachable)
        return [
            ScanRecord(
                id=r["id"],
                started_at=utc(r["started_at"]),
                finished_at=utc(r["finished_at"]),
                tool_version=r["tool_version"],
                organization_id=r["organization_id"],
                source=r["source"],
                report_sha256=r["report_sha256"],
                snapshot_sha256=r["snapshot_sha256"],
                accounts=dict(sorted(covered.get(r["id"], {}).items())),
                regions=tuple(json.loads(r["regions"])),
                rules_doc=r["rules_doc"],
                accounts_doc=r["accounts_doc"],
                waivers_doc=r["waivers_doc"],
            )
            for r in rows
        ]

    def intervals(self, start: datetime, end: datetime) -> list[IntervalRecord]:
        """Intervals that overlap [start, end]: began by `end`, not ended before `start`."""
        query = (
            sa.select(intervals, findings)
            .join(findings, findings.c.id == intervals.c.finding_id)
            .where(intervals.c.first_seen <= end)
            .where(sa.or_(intervals.c.ended_at.is_(None), intervals.c.ended_at >= start))
            .order_by(findings.c.fingerprint, intervals.c.first_seen)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [
            IntervalRecord(
                fingerprint=r["fingerprint"],
                rule_id=r["rule_id"],
                account_id=r["account_id"],
                region=r["region"],
                resource_arn=r["resource_arn"],
                resource_type=r["resource_type"],
                status=r["status"],
                severity=r["severity"],
                waived=bool(r["waived"]),
                reason=r["reason"],
                first_seen=utc(r["first_seen"]),
                last_seen=utc(r["last_seen"]),
                ended_at=utc(r["ended_at"]) if r["ended_at"] is not None else None,
            )
            for r in rows
        ]

    def document(self, sha: str) -> Any:
        """A stored JSON document (rule catalogue, account names, waivers) by its SHA-256."""
        with self.engine.connect() as conn:
            body = conn.execute(
                sa.select(documents.c.body).where(documents.c.sha256 == sha)
            ).scalar_one()
        return json.loads(body)

    def revision(self) -> str | None:
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()


def open_store(url: str) -> HistoryStore:
    """Open (creating or upgrading as needed) the history at `url`."""
    engine = _engine(url)
    head = schema_head()
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    except sa.exc.OperationalError as exc:
        engine.dispose()
        raise UserError(f"--history: cannot open {_safe(url)}: {_first_line(exc)}") from None
    if current != head:
        known = {
            s.revision for s in ScriptDirectory.from_config(_alembic_config()).walk_revisions()
        }
        if current is not None and current not in known:
            engine.dispose()
            raise UserError(
                f"--history: {_safe(url)} has schema revision {current}, newer than this "
                f"trailcheck knows ({head}); upgrade trailcheck"
            )
        with _write(engine) as conn:
            command.upgrade(_alembic_config(conn), "head")
    return HistoryStore(engine)


def _safe(url: str) -> str:
    """The URL without a password."""
    return sa.engine.make_url(url).render_as_string(hide_password=True)


def _first_line(exc: BaseException) -> str:
    return str(getattr(exc, "orig", exc)).strip().splitlines()[0]


# ----------------------------------------------------------------------------- recording


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _put_document(conn: Connection, value: Any) -> str:
    body = json.dumps(value, sort_keys=True, separators=(",", ":"))
    sha = sha256_bytes(body.encode("utf-8"))
    exists = conn.execute(sa.select(documents.c.sha256).where(documents.c.sha256 == sha)).first()
    if exists is None:
        conn.execute(documents.insert().values(sha256=sha, body=body))
    return sha


def _record(
    conn: Connection,
    report: Report,
    report_sha256: str,
    source: str,
    snapshot_sha256: str | None,
    recorded_at: datetime,
) -> Recorded:
    existing = conn.execute(
        sa.select(scans.c.id).where(scans.c.report_sha256 == report_sha256)
    ).scalar()
    if existing is not None:
        return Recorded(existing, False, 0, 0, 0)
    meta = report.metadata
    when = utc(meta.scan_started_at)
    covered = sorted(set(meta.accounts))
    _refuse_other_organization(conn, meta.organization_id, source)
    # only the small parts: dumping every finding's evidence would cost more than the rest
    rules_doc = _put_document(
        conn, {rid: info.model_dump(mode="json") for rid, info in report.rules.items()}
    )
    meta_data = meta.model_dump(mode="json", include={"account_info", "skipped_accounts"})
    accounts_doc = _put_document(
        conn,
        {
            "account_info": meta_data["account_info"],
            "skipped_accounts": meta_data["skipped_accounts"],
            "management_account_id": meta.management_account_id,
        },
    )
    waivers_doc = _put_document(conn, [w.model_dump(mode="json") for w in report.waivers])
    scan_id = conn.execute(
        scans.insert()
        .values(
            started_at=when,
            finished_at=utc(meta.scan_finished_at),
            recorded_at=recorded_at,
            tool_version=meta.tool_version,
            partition=meta.partition,
            organization_id=meta.organization_id,
            management_account_id=meta.management_account_id,
            regions=json.dumps(sorted(meta.regions)),
            source=source,
            report_sha256=report_sha256,
            snapshot_sha256=snapshot_sha256,
            rules_doc=rules_doc,
            accounts_doc=accounts_doc,
            waivers_doc=waivers_doc,
        )
        .returning(scans.c.id)
    ).scalar_one()
    unreachable = set(meta.unreachable_accounts)
    if covered:
        conn.execute(
            scan_accounts.insert(),
            [
                {"scan_id": scan_id, "account_id": a, "reachable": a not in unreachable}
                for a in covered
            ],
        )
    seen: dict[str, Any] = {fingerprint(f): f for f in report.findings}
    accounts = sorted(set(covered) | {f.account_id for f in seen.values()})
    observed = {fp: _Obs(scan_id, when, _state(f), f.reason) for fp, f in seen.items()}
    return _replay(conn, scan_id, when, covered, accounts, set(report.rules), observed, seen)


@dataclass(frozen=True)
class _Obs:
    """What one scan saw of one finding: its (status, severity, waived), None if not reported."""

    scan_id: int
    time: datetime
    state: tuple[str, bool, str] | None
    reason: str = ""


def _state(finding: Any) -> tuple[str, bool, str]:
    return (finding.status.value, finding.waiver is not None, finding.severity.value)


def _row_state(row: Any) -> tuple[str, bool, str]:
    return (row["status"], bool(row["waived"]), row["severity"])


def _replay(
    conn: Connection,
    scan_id: int,
    when: datetime,
    covered: list[str],
    accounts: list[str],
    ran: set[str],
    observed: dict[str, _Obs],
    seen: dict[str, Any],
) -> Recorded:
    """Put one scan's observations into the intervals of its accounts' findings (of the rules
    it ran). A scan newer than every recorded scan of its accounts extends, ends or opens the
    open intervals; an older one (a long scan recorded after a quick one) re-derives the
    intervals from its time on, from what the later scans recorded: the same intervals as if
    the reports had come oldest first."""
    scope = set(covered)  # a finding of these accounts that the scan did not report is gone
    later = _later_scans(conn, accounts, when)
    finding_ids = _finding_ids(conn, seen, accounts)
    in_force: dict[str, list[Any]] = {}
    for ids in _chunks(accounts):
        condition = intervals.c.ended_at.is_(None)
        if later:
            condition = sa.or_(condition, intervals.c.ended_at >= when)
        for row in conn.execute(
            sa.select(intervals, findings.c.fingerprint, findings.c.account_id, findings.c.rule_id)
            .join(findings, findings.c.id == intervals.c.finding_id)
            .where(condition)
            .where(findings.c.account_id.in_(ids))
            .order_by(intervals.c.first_seen, intervals.c.id)
        ).mappings():
            in_force.setdefault(row["fingerprint"], []).append(row)
    updates: dict[tuple[tuple[str, Any], ...], list[int]] = {}
    deletes: list[int] = []
    inserts: list[dict[str, Any]] = []
    opened = closed = extended = 0
    for fp in sorted(set(observed) | set(in_force)):
        rows = in_force.get(fp, [])
        account, rule = (
            (rows[0]["account_id"], rows[0]["rule_id"])
            if rows
            else (seen[fp].account_id, seen[fp].rule_id)
        )
        if rule not in ran or (fp not in observed and account not in scope):
            continue
        before = [r for r in rows if utc(r["first_seen"]) <= when]
        current = before[-1] if before else None
        ended = current["ended_at"] if current is not None else None
        if ended is not None and utc(ended) <= when:
            current = None
        after = [r for r in rows if utc(r["first_seen"]) > when]
        steps = [observed.get(fp, _Obs(scan_id, when, None))]
        steps += [
            _observed_at(scan, [*before[-1:], *after]) for scan in later.get((account, rule), [])
        ]
        deletes.extend(r["id"] for r in after)
        open_row: dict[str, Any] | None = None  # an interval being (re)built
        if current is not None:
            last_seen, last_id = utc(current["last_seen"]), current["last_scan_id"]
            if last_seen > when:  # this scan lands inside it: it holds until the scan before
                last_seen, last_id = _last_scan_before(conn, scan_id, account, rule, current)
            open_row = {
                "id": current["id"],
                "state": _row_state(current),
                "last_scan_id": last_id,
                "last_seen": last_seen,
            }
        for index, step in enumerate(steps):
            if open_row is not None and step.state == open_row["state"]:
                open_row["last_scan_id"], open_row["last_seen"] = step.scan_id, step.time
                extended += index == 0
                continue
            if open_row is not None:
                _finish(open_row, step, updates, inserts)
                closed += index == 0
            open_row = None
            if step.state is not None:
                status, waived, severity = step.state
                open_row = {
                    "id": None,
                    "state": step.state,
                    "finding_id": finding_ids[fp],
                    "status": status,
                    "severity": severity,
                    "waived": waived,
                    "reason": step.reason,
                    "first_scan_id": step.scan_id,
                    "first_seen": step.time,
                    "last_scan_id": step.scan_id,
                    "last_seen": step.time,
                }
                opened += index == 0
        if open_row is not None:
            _finish(open_row, None, updates, inserts)
    for ids in _chunks(deletes):
        conn.execute(intervals.delete().where(intervals.c.id.in_(ids)))
    for values, ids in updates.items():
        for chunk in _chunks(ids):
            conn.execute(intervals.update().where(intervals.c.id.in_(chunk)).values(dict(values)))
    if inserts:
        conn.execute(intervals.insert(), inserts)
    return Recorded(scan_id, True, opened, closed, extended)


def _finish(
    row: dict[str, Any],
    ended_by: _Obs | None,
    updates: dict[tuple[tuple[str, Any], ...], list[int]],
    inserts: list[dict[str, Any]],
) -> None:
    """An interval rebuilt: an update of a recorded one, or a new row."""
    values = {
        "last_scan_id": row["last_scan_id"],
        "last_seen": row["last_seen"],
        "ended_scan_id": ended_by.scan_id if ended_by else None,
        "ended_at": ended_by.time if ended_by else None,
    }
    if row["id"] is None:
        inserts.append({k: v for k, v in row.items() if k not in ("id", "state")} | values)
    else:
        updates.setdefault(tuple(sorted(values.items())), []).append(row["id"])


def _observed_at(scan: tuple[int, datetime, bool], rows: list[Any]) -> _Obs:
    """What a recorded later scan saw of a finding, read back from its intervals."""
    scan_id, time, reachable = scan
    if reachable:
        for r in rows:
            if utc(r["first_seen"]) <= time <= utc(r["last_seen"]):
                return _Obs(scan_id, time, _row_state(r), r["reason"])
    return _Obs(scan_id, time, None)


def _later_scans(
    conn: Connection, accounts: list[str], when: datetime
) -> dict[tuple[str, str], list[tuple[int, datetime, bool]]]:
    """(account, rule) -> the recorded scans after `when` that ran the rule over the account."""
    found: dict[tuple[str, str], list[tuple[int, datetime, bool]]] = {}
    rules_of: dict[str, list[str]] = {}
    for ids in _chunks(accounts):
        rows = conn.execute(
            sa.select(
                scans.c.id,
                scans.c.started_at,
                scans.c.rules_doc,
                scan_accounts.c.account_id,
                scan_accounts.c.reachable,
            )
            .join(scan_accounts, scan_accounts.c.scan_id == scans.c.id)
            .where(scans.c.started_at > when)
            .where(scan_accounts.c.account_id.in_(ids))
            .order_by(scans.c.started_at, scans.c.id)
        ).all()
        for sid, started, doc, account, reachable in rows:
            if doc not in rules_of:
                body = conn.execute(
                    sa.select(documents.c.body).where(documents.c.sha256 == doc)
                ).scalar_one()
                rules_of[doc] = list(json.loads(body))
            for rule in rules_of[doc]:
                found.setdefault((account, rule), []).append((sid, utc(started), bool(reachable)))
    return found


def _last_scan_before(
    conn: Connection, scan_id: int, account: str, rule: str, row: Any
) -> tuple[datetime, int]:
    """The last recorded scan before scan `scan_id` (within the interval `row`) that ran
    `rule` over `account`: it saw the interval's state."""
    when = conn.execute(sa.select(scans.c.started_at).where(scans.c.id == scan_id)).scalar_one()
    candidates = conn.execute(
        sa.select(scans.c.id, scans.c.started_at, scans.c.rules_doc)
        .join(scan_accounts, scan_accounts.c.scan_id == scans.c.id)
        .where(scan_accounts.c.account_id == account)
        .where(scans.c.started_at >= row["first_seen"])
        .where(scans.c.started_at <= when)
        .where(scans.c.id != scan_id)
        .order_by(scans.c.started_at.desc(), scans.c.id.desc())
    ).all()
    for sid, started, doc in candidates:
        if sid == row["first_scan_id"]:
            break
        if not _reachable(conn, sid, account):
            continue
        body = conn.execute(sa.select(documents.c.body).where(documents.c.sha256 == doc)).scalar()
        if body is not None and rule in json.loads(body):
            return utc(started), sid
    return utc(row["first_seen"]), row["first_scan_id"]


def _reachable(conn: Connection, scan_id: int, account: str) -> bool:
    return bool(
        conn.execute(
            sa.select(scan_accounts.c.reachable)
            .where(scan_accounts.c.scan_id == scan_id)
            .where(scan_accounts.c.account_id == account)
        ).scalar()
    )


def _refuse_other_organization(conn: Connection, organization: str | None, source: str) -> None:
    """One history, one organization: a report of another one is refused (their accounts,
    rules and audit periods are not one story)."""
    if organization is None:
        return
    other = conn.execute(
        sa.select(scans.c.organization_id)
        .where(scans.c.organization_id.is_not(None))
        .where(scans.c.organization_id != organization)
        .limit(1)
    ).scalar()
    if other is not None:
        raise UserError(
            f"{source}: a scan of organization {organization}, but this history records "
            f"{other}; use one --history per organization"
        )


def _finding_ids(conn: Connection, seen: dict[str, Any], accounts: list[str]) -> dict[str, int]:
    """Fingerprint -> findings.id, inserting the identities seen for the first time."""

    def known() -> dict[str, int]:
        found: dict[str, int] = {}
        for chunk in _chunks(accounts):
            rows = conn.execute(
                sa.select(findings.c.fingerprint, findings.c.id).where(
                    findings.c.account_id.in_(chunk)
                )
            )
            found.update((fp, fid) for fp, fid in rows)
        return found

    ids = known()
    missing = sorted(fp for fp in seen if fp not in ids)
    if missing:
        conn.execute(
            findings.insert(),
            [
                {
                    "fingerprint": fp,
                    "rule_id": seen[fp].rule_id,
                    "account_id": seen[fp].account_id,
                    "region": seen[fp].region,
                    "resource_arn": seen[fp].resource_arn,
                    "resource_type": seen[fp].resource_type,
                }
                for fp in missing
            ],
        )
        ids = known()
    return ids


def record_files(store: HistoryStore, paths: Iterable[Path]) -> list[tuple[Path, Recorded]]:
    """Import JSON reports (oldest scan first, whatever the order given)."""
    from trailcheck.snapshot import load_report

    loaded = []
    for path in paths:
        report = load_report(path)
        loaded.append((report.metadata.scan_started_at, str(path), path, report))
    loaded.sort(key=lambda item: (item[0], item[1]))
    results = []
    for _, _, path, report in loaded:
        sha = sha256_bytes(path.read_bytes())
        results.append((path, store.record(report, sha, source=str(path))))
    return results
