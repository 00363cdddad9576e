"""`python -m trailcheck`."""

from trailcheck.cli import main

raise SystemExit(main())
