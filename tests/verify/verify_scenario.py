"""The trail, bucket and times the log-integrity tests use (a module, not conftest, so test
files can import them without depending on which conftest is imported as `conftest`)."""

from datetime import UTC, datetime

BUCKET = "trail-bucket"
ACCOUNT = "111122223333"
REGION = "us-east-1"
TRAIL = "org-audit"
# Four hourly digests crossing midnight, so the verifier must list two day-folders.
FIRST_END = datetime(2026, 2, 28, 22, 1, 31, tzinfo=UTC)
