"""Loading of the protocol reference data files (``mst/data/protocol/*.yaml``)."""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import yaml

from mst.errors import ValidationError


@functools.cache
def load_yaml(name: str) -> dict[str, Any]:
    """Read one YAML file of ``mst/data/protocol`` (cached).

    Parameters
    ----------
    name : str
        File name, e.g. ``"rules.yaml"``.

    Returns
    -------
    dict
        The parsed document.

    Raises
    ------
    mst.errors.ValidationError
        If the file is not a YAML mapping.
    """
    text = resources.files("mst.data").joinpath("protocol", name).read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValidationError(f"data/protocol/{name}", type(data).__name__, "must be a mapping")
    return data


def rules() -> dict[str, Any]:
    """The numeric consensus rules (``rules.yaml``)."""
    return load_yaml("rules.yaml")
