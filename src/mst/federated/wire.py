"""The bytes that travel between a node and the coordinator.

A message is a flat mapping of names to numpy arrays (numbers only) and to JSON values
(numbers, strings, booleans, lists of them). It is encoded as one ``.npz`` archive whose
``__meta__`` member holds the JSON part, so that every transport (in-process simulation,
Flower) carries exactly the same bytes, the bytes can be counted, and a test can decode and
inspect every message that leaves a node. Pickle is never used.
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np

from mst.federated.errors import FederationError

META = "__meta__"


def encode(payload: dict[str, Any]) -> bytes:
    """Encode a message.

    Parameters
    ----------
    payload : dict
        Names to numpy arrays (numeric dtypes only) or JSON-serialisable values.

    Returns
    -------
    bytes
        The ``.npz`` archive.
    """
    arrays: dict[str, np.ndarray] = {}
    meta: dict[str, Any] = {}
    for k, v in payload.items():
        if isinstance(v, np.ndarray):
            if v.dtype.kind not in "biuf":
                raise FederationError("coordinator", f"message field {k} is not numeric")
            arrays[k] = v
        else:
            meta[k] = v
    arrays[META] = np.frombuffer(
        json.dumps(meta, sort_keys=True, allow_nan=True).encode("utf-8"), dtype=np.uint8
    )
    buf = io.BytesIO()
    np.savez(buf, allow_pickle=False, **arrays)
    return buf.getvalue()


def decode(data: bytes, center: str) -> dict[str, Any]:
    """Decode a message, naming ``center`` when the bytes are not a valid message.

    Parameters
    ----------
    data : bytes
        What :func:`encode` produced.
    center : str
        Sender, for the error message.

    Returns
    -------
    dict
        The payload.
    """
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            out: dict[str, Any] = {k: z[k] for k in z.files if k != META}
            meta = json.loads(bytes(z[META]).decode("utf-8"))
    except Exception as exc:  # any corruption: zip, npy header, JSON, missing member
        raise FederationError(center, f"sent a malformed message ({type(exc).__name__})") from exc
    if not isinstance(meta, dict):
        raise FederationError(center, "sent a malformed message (header is not a mapping)")
    out.update(meta)
    return out
