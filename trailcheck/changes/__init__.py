"""Who changed what, and when: CloudTrail change events behind failing findings.

* `model` — `ChangeEvent` (one write event, the shape shared by findings and JSON Lines files)
  and `ChangeHistory` (what a lookup found for one resource);
* `catalog` — the problem codes and the events that cause or undo each; which resource-name
  forms each service records, and where its events live;
* `lookup` — source 1, CloudTrail LookupEvents (rate-limited, budgeted, metered);
* `enrich` — the pure step that puts the newest causing change into each finding;
* `logfiles` — source 2, the trail's own log files in S3 (`trailcheck events`).
"""
