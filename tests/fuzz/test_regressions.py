"""Inputs the fuzzers found, kept as plain regression cases."""

from __future__ import annotations

import pytest

from trailcheck.rules import _policy as pol

REQUEST = pol.Request(pol.Principal.anonymous(), "s3:GetObject", "arn:aws:s3:::logs/x", {})


@pytest.mark.parametrize("policy", [False, 1, 2.5])
def test_a_policy_that_is_not_a_document_is_a_policy_error(policy: object) -> None:
    # found by test_bucket_policy_evaluator_raises_only_policy_error: TypeError before
    with pytest.raises(pol.PolicyError, match="must be a JSON object"):
        pol.evaluate(policy, REQUEST)  # type: ignore[arg-type]
