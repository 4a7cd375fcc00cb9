"""Loading of the monitoring reference tables (``mst/data/monitoring/*.yaml``)."""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import yaml


@functools.cache
def load(name: str) -> dict[str, Any]:
    """Return the parsed YAML table ``mst/data/monitoring/<name>.yaml`` (cached).

    Parameters
    ----------
    name : str
        File stem, e.g. ``"gvhd_magic"``.

    Returns
    -------
    dict
        The parsed document. Treat as read-only.
    """
    text = resources.files("mst.data").joinpath(f"monitoring/{name}.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    return data
