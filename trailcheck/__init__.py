"""trailcheck: evidence-based compliance checks for AWS CloudTrail set-ups."""

__version__ = "0.1.0"
