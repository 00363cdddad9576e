"""Strict types for what users write: a boolean is not a number, a number is not a date.

pydantic's lax mode reads `true` as 1 where an integer belongs (`max_delivery_age_hours =
true` would be one hour) and a number as a Unix time where a date belongs. Values a user wrote
(the config file, rule parameters) are validated for their shape as given, then strictly in
their JSON form, where texts still stand for dates, times and enum members. The JSON documents
trailcheck reads (snapshots, reports, baselines) are validated strictly as JSON in
`trailcheck.snapshot`.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic_core import to_json

M = TypeVar("M", bound=BaseModel)


def validate_strictly(model: type[M], data: Any) -> M:
    """`data` (Python values, e.g. parsed TOML) as `model`, with no lax conversion between
    booleans, numbers and dates; raises pydantic's `ValidationError`."""
    built = model.model_validate(data)  # the shape as given: a TOML date is not a text
    model.model_validate_json(to_json(data), strict=True)
    return built
