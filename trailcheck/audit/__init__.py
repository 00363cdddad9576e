"""`trailcheck audit`: did each framework control hold throughout a period, on what evidence,
and who changed it — built from the scan history, change events and verify-logs results."""
