"""The CloudTrail log bucket: exposure, delivery grant, readers, protection, retention, logging.

Every rule judges each bucket a trail writes to once, in the account that owns it, through
`RuleContext.per_log_bucket`; every trail that writes there is named in the evidence and
inherits the verdict. A bucket outside the scan gets ERROR with a hint, never PASS.

The rules live by concern in `access`, `protection` and `delivery`; this module re-exports
them so `load_rules` finds every bucket rule under one module name.
"""

from trailcheck.rules.buckets.access import (
    delivery_scoped,
    log_readers,
    not_public,
    public_access_block,
    public_access_block_account_level,
    public_access_block_bucket_level,
    ssl_requests_only,
    tls_only,
)
from trailcheck.rules.buckets.delivery import (
    access_logging,
    access_logging_enabled,
    notifications,
    separate_account,
)
from trailcheck.rules.buckets.protection import (
    default_encryption_kms,
    delete_protection,
    encryption,
    lifecycle,
    lifecycle_configured,
    mfa_delete,
    object_lock,
    object_lock_enabled,
    versioning,
)

__all__ = [
    "access_logging",
    "access_logging_enabled",
    "default_encryption_kms",
    "delete_protection",
    "delivery_scoped",
    "encryption",
    "lifecycle",
    "lifecycle_configured",
    "log_readers",
    "mfa_delete",
    "not_public",
    "notifications",
    "object_lock",
    "object_lock_enabled",
    "public_access_block",
    "public_access_block_account_level",
    "public_access_block_bucket_level",
    "separate_account",
    "ssl_requests_only",
    "tls_only",
    "versioning",
]
