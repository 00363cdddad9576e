"""Migration from other tools' files to trailcheck's (a Prowler mutelist → waivers)."""
