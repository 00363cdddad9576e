"""Where CloudTrail puts a trail's log files and digest files in its S3 bucket.

    [<prefix>/]AWSLogs/[<org-id>/]<account>/CloudTrail/<region>/YYYY/MM/DD/
        <account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<unique>.json.gz
    [<prefix>/]AWSLogs/[<org-id>/]<account>/CloudTrail-Digest/<region>/YYYY/MM/DD/
        <account>_CloudTrail-Digest_<region>_<trail-name>_<home-region>_<YYYYMMDDTHHMMSSZ>.json.gz

Log file times are the delivery time (minutes); digest times and folders are the digest end time.
Backfill digests (`..._backfill.json.gz`) are a separate chain and are not matched here.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from pydantic import BaseModel, ConfigDict, model_validator

_TRAIL_ARN = re.compile(
    r"^arn:(?P<partition>[^:]+):cloudtrail:(?P<region>[^:]+):(?P<account>\d{12}):trail/(?P<name>.+)$"
)


class TrailLocation(BaseModel):
    """Which trail, account and region to verify, and where its files are.

    `account_id` is the account whose logs are verified (a member account for an organization
    trail; defaults to the trail's own account). `region` is the region whose digest chain is
    verified (each region of a multi-region trail has its own chain; defaults to the home region).
    """

    model_config = ConfigDict(frozen=True)

    trail_arn: str
    prefix: str | None = None
    account_id: str | None = None
    organization_id: str | None = None
    region: str | None = None

    @model_validator(mode="after")
    def _check_arn(self) -> TrailLocation:
        if not _TRAIL_ARN.match(self.trail_arn):
            raise ValueError(f"not a CloudTrail trail ARN: {self.trail_arn}")
        return self

    @property
    def trail_name(self) -> str:
        """The trail name from the ARN."""
        return self._arn_part("name")

    @property
    def home_region(self) -> str:
        """The trail's home region from the ARN."""
        return self._arn_part("region")

    @property
    def log_account(self) -> str:
        """The account whose files are verified."""
        return self.account_id or self._arn_part("account")

    @property
    def source_region(self) -> str:
        """The region whose digests and log files are verified."""
        return self.region or self.home_region

    def _arn_part(self, name: str) -> str:
        match = _TRAIL_ARN.match(self.trail_arn)
        assert match is not None  # checked by the validator
        return match.group(name)

    def _base(self, kind: str) -> str:
        parts = [self.prefix.strip("/")] if self.prefix else []
        parts.append("AWSLogs")
        if self.organization_id:
            parts.append(self.organization_id)
        parts += [self.log_account, kind, self.source_region]
        return "/".join(parts) + "/"

    def digest_day_prefix(self, day: date) -> str:
        """The key prefix of this trail's digests delivered on `day` (UTC)."""
        return f"{self._base('CloudTrail-Digest')}{day:%Y/%m/%d}/"

    def log_day_prefix(self, day: date) -> str:
        """The key prefix of the log files delivered on `day` (UTC)."""
        return f"{self._base('CloudTrail')}{day:%Y/%m/%d}/"

    def digest_key_pattern(self) -> re.Pattern[str]:
        """Match this trail's digest keys; group `time` is the end time (`%Y%m%dT%H%M%SZ`)."""
        account = re.escape(self.log_account)
        region = re.escape(self.source_region)
        name = (
            f"{account}_CloudTrail-Digest_{region}_{re.escape(self.trail_name)}_"
            f"{re.escape(self.home_region)}_(?P<time>\\d{{8}}T\\d{{6}}Z)\\.json\\.gz"
        )
        folder = re.escape(self._base("CloudTrail-Digest"))
        return re.compile(f"^{folder}\\d{{4}}/\\d{{2}}/\\d{{2}}/{name}$")

    def log_key_pattern(self) -> re.Pattern[str]:
        """Match log file keys; group `time` is the delivery time (`%Y%m%dT%H%MZ`)."""
        account = re.escape(self.log_account)
        region = re.escape(self.source_region)
        folder = re.escape(self._base("CloudTrail"))
        name = f"{account}_CloudTrail_{region}_(?P<time>\\d{{8}}T\\d{{4}}Z)_[^/]+\\.json\\.gz"
        return re.compile(f"^{folder}\\d{{4}}/\\d{{2}}/\\d{{2}}/{name}$")


def digest_key_time(match: re.Match[str]) -> datetime:
    """The end time encoded in a digest key matched by `digest_key_pattern()`."""
    return datetime.strptime(match.group("time"), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def log_key_time(match: re.Match[str]) -> datetime:
    """The delivery time (to the minute) in a log key matched by `log_key_pattern()`."""
    return datetime.strptime(match.group("time"), "%Y%m%dT%H%MZ").replace(tzinfo=UTC)


def days(start: datetime, end: datetime) -> list[date]:
    """The UTC calendar days from `start` to `end`, inclusive."""
    first, last = start.astimezone(UTC).date(), end.astimezone(UTC).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]
