"""Strict JSON for every output of :mod:`mst` (CLI, report, web): NaN → null, ISO dates."""

from __future__ import annotations

import datetime as dt
import json
import math
from enum import Enum
from pathlib import Path
from typing import Any


def _default(obj: Any) -> Any:
    if isinstance(obj, dt.datetime | dt.date):
        return obj.isoformat()
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _clean(obj: Any) -> Any:
    """Replace NaN/inf by None so that the output is strict JSON."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if hasattr(obj, "tolist") and not isinstance(obj, str):
        return _clean(obj.tolist())
    return obj


def to_json(obj: Any) -> str:
    """Serialise ``obj`` as strict JSON (NaN → null, dates ISO 8601).

    Parameters
    ----------
    obj : Any
        Mappings, sequences, numbers, numpy arrays, pydantic models, dates, enums.

    Returns
    -------
    str
        Indented JSON text.
    """
    return json.dumps(
        _clean(json.loads(json.dumps(obj, default=_default, allow_nan=True))),
        indent=2,
        allow_nan=False,
        ensure_ascii=False,
    )
