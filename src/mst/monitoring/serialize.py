"""Plain (JSON-ready) views of the monitoring result dataclasses."""

from __future__ import annotations

import dataclasses
import datetime as dt
from enum import Enum
from typing import Any

from mst.monitoring.chimerism.limits import ChimerismValue

_EXTRA = {ChimerismValue: ("display",)}


def to_plain(obj: Any) -> Any:
    """Convert result dataclasses (recursively) to dicts, lists, str and numbers.

    Dates become ISO strings, enums their value; a :class:`ChimerismValue` also
    carries its ``display`` text ("< 0.01%" when below the LoD).
    """
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out = {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
        for name in _EXTRA.get(type(obj), ()):
            out[name] = getattr(obj, name)
        return out
    if isinstance(obj, dict):
        return {str(k): to_plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_plain(v) for v in obj]
    if isinstance(obj, dt.date):
        return obj.isoformat()
    if isinstance(obj, Enum):
        return obj.value
    return obj
