"""`trailcheck export ...`: send a report's findings where a team already looks (Security Hub)."""
