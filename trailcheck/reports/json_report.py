"""The JSON report: the machine-readable contract (see `trailcheck schema`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, ClassVar

from trailcheck.model import SHARE_FROM, SHARED, Report, dump_json, iter_json


class JsonReporter:
    """Deterministic JSON: sorted keys, the same inventory gives the same bytes."""

    name: ClassVar[str] = "json"
    filename: ClassVar[str] = "report.json"

    def render(self, report: Report) -> str:
        return dump_json(report)

    def chunks(self, report: Report) -> Iterator[str]:
        """`render` in pieces, the same bytes (streamed to the file, one finding at a time)."""
        return iter_json(report)


def report_schema() -> dict[str, Any]:
    """The JSON Schema of the JSON report."""
    schema = Report.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://trailcheck.dev/schemas/report.json"
    schema["properties"]["shared_evidence"] = {
        "title": "Shared Evidence",
        "description": (
            "Schema version 2: evidence values stated once. A finding's evidence value "
            f'{{"{SHARED}": ID}} stands for shared_evidence[ID] (values of {SHARE_FROM} '
            "compact JSON characters or more; version 1 reports have every value inline)."
        ),
        "type": "object",
        "additionalProperties": True,
    }
    return schema


def schema_text() -> str:
    return json.dumps(report_schema(), sort_keys=True, indent=2) + "\n"
