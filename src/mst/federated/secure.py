"""Secure aggregation of the outcome counts with Flower's SecAgg+ (optional).

With SecAgg+ each center masks its vector with pairwise and private random masks; the
coordinator can only unmask the **sum over the centers**, never one center's vector.
Here the vector is a center's count table laid out on a layout every center shares:

* a **public time grid**: every center coarsens times to the same grid (``--coarsen-months``),
  so a time point is an index ``k`` (time ``k·w``); the coordinator agrees the number of grid
  points from the centers' last occupied index (a plain round that releases labels and that
  index only);
* the union of the group and stratum labels (released as labels, without counts);
* the declared status codes.

**Exact fixed-point encoding.** SecAgg+ quantises every float to an integer grid with
stochastic rounding, which would break the number-for-number equality. Each value ``v`` is
therefore sent as an exact fixed-point integer ``N = round(v·2^64)`` split into eight 16-bit
limbs (plus one limb that is 1 for a negative ``N``), and SecAgg+ is configured so that its
quantisation maps every limb to itself (clipping range 2^16, quantisation range 2^17,
weight 1: ``(limb + 2^16)·1`` is already an integer, so rounding changes nothing). The sums of
the limbs (< number of centers × 2^16) are exact in SecAgg+'s 2^32 modular arithmetic, and the
coordinator reassembles the exact sum of the fixed-point integers. Counts are integers, so
the secure totals are **exact** and the result equals the plain federated (and the pooled)
analysis; a non-integer value would carry at most 2^-65 absolute error per center.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mst.errors import ValidationError
from mst.federated.disclosure import grid_width
from mst.federated.errors import FederationError

FloatArray = NDArray[np.float64]

LIMB_BITS = 16
N_LIMBS = 8
FRACTION_BITS = 64
#: SecAgg+ settings under which its quantisation is the identity on the limbs
CLIPPING_RANGE = float(1 << LIMB_BITS)
QUANTIZATION_RANGE = 1 << (LIMB_BITS + 1)
MODULUS_RANGE = 1 << 32
#: queries whose numbers the coordinator can receive as SecAgg+ totals (the outcome counts
#: here, the regression sums and Table 1 in :mod:`mst.federated.secure_sums`)
SECURE_KINDS = (
    "outcome_counts",
    "regression_setup",
    "regression_moments",
    "cox_cells",
    "cox_residuals",
    "cox_concordance_cells",
    "cox_concordance_influence",
    "finegray_counts",
    "finegray_cells",
    "finegray_residuals",
    "table1_counts",
)


def encode_fixed(values: FloatArray) -> FloatArray:
    """Exact fixed-point limbs of ``values``: ``N_LIMBS + 1`` rows (low limb first, then the
    sign limb), each entry an integer in [0, 2^16)."""
    v = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(v)):
        raise ValidationError("secure aggregation", None, "a value to add is not finite")
    n = np.rint(np.ldexp(v, FRACTION_BITS))
    if np.any(np.abs(n) >= 2.0 ** (LIMB_BITS * N_LIMBS - 1)):
        raise ValidationError(
            "secure aggregation",
            None,
            "a value exceeds ±2^63, the range of the exact fixed-point encoding",
        )
    base = float(1 << LIMB_BITS)
    limbs = []
    for _ in range(N_LIMBS):
        q = np.floor(n / base)
        limbs.append(n - q * base)  # exact: an integer in [0, 2^16)
        n = q
    limbs.append(-n)  # 0, or 1 when the fixed-point integer is negative
    return np.vstack(limbs)


def decode_fixed(sums: FloatArray) -> FloatArray:
    """The sums of the values from the summed limbs (exact up to one final rounding)."""
    s = np.rint(np.asarray(sums, dtype=np.float64)).astype(np.int64)
    if s.ndim != 2 or s.shape[0] != N_LIMBS + 1:
        raise FederationError("coordinator", "secure aggregation returned a malformed sum")
    acc = np.zeros(s.shape[1], dtype=object)
    for k in range(N_LIMBS):
        acc = acc + s[k].astype(object) * (1 << (LIMB_BITS * k))
    acc = acc - s[N_LIMBS].astype(object) * (1 << (LIMB_BITS * N_LIMBS))
    return np.ldexp(acc.astype(np.float64), -FRACTION_BITS)


def _key(label: Any) -> str:
    return json.dumps(label, sort_keys=True)


def outcome_labels(df: Any, q: dict[str, Any], policy: Any, center: str) -> dict[str, Any]:
    """Plain round before a secure one: the labels present and the last grid index.

    No count leaves the node; the last occupied grid point holds at least ``min_cell``
    patients at this center (it is a cell of the count table, checked as in the plain query).
    """
    from mst.federated.aggregates import outcome_counts

    if policy.coarsen_months is None:
        raise FederationError(
            center,
            "refused the query: secure aggregation needs the public time grid of "
            "--coarsen-months at every center",
        )
    rep = outcome_counts(df, q, policy, center)
    w = grid_width(q["time"], policy.coarsen_months)
    k = np.rint(rep["time"] / w)
    return {
        "group_labels": rep["group_labels"],
        "strata_labels": rep["strata_labels"],
        "last_index": int(k.max()) if k.size else 0,
        "grid_width": w,
    }


def layout_size(layout: dict[str, Any]) -> int:
    """Length of the dense count vector (cells, then excluded rows and a contributor count)."""
    ng = max(1, len(layout["group_labels"] or []))
    ns = max(1, len(layout["strata_labels"] or []))
    return ns * ng * len(layout["codes"]) * (int(layout["last_index"]) + 1) + 2


def dense_outcome(rep: dict[str, Any], layout: dict[str, Any], center: str) -> FloatArray:
    """A center's ``outcome_counts`` reply on the shared layout (one value per cell)."""
    w = float(layout["grid_width"])
    nt = int(layout["last_index"]) + 1
    codes = [int(c) for c in layout["codes"]]
    glab = {_key(x): i for i, x in enumerate(layout["group_labels"] or [])}
    slab = {_key(x): i for i, x in enumerate(layout["strata_labels"] or [])}
    ng = max(1, len(glab))
    t = np.asarray(rep["time"], dtype=np.float64)
    k = np.rint(t / w).astype(np.int64)
    if np.any(k * w != t) or np.any(k < 0) or np.any(k >= nt):
        raise FederationError(center, "refused the query: a time is not on the shared grid")
    s = np.array([codes.index(int(x)) for x in rep["status"]], dtype=np.int64)
    gi = np.zeros(t.size, dtype=np.int64)
    si = np.zeros(t.size, dtype=np.int64)
    if rep["group_labels"] is not None:
        own = [glab[_key(x)] for x in rep["group_labels"]]
        gi = np.asarray(own, dtype=np.int64)[np.asarray(rep["group_index"], dtype=np.int64)]
    if rep["strata_labels"] is not None:
        own = [slab[_key(x)] for x in rep["strata_labels"]]
        si = np.asarray(own, dtype=np.int64)[np.asarray(rep["strata_index"], dtype=np.int64)]
    out = np.zeros(layout_size(layout))
    idx = ((si * ng + gi) * len(codes) + s) * nt + k
    np.add.at(out, idx, np.asarray(rep["count"], dtype=np.float64))
    out[-2] = float(rep["excluded_rows"])
    out[-1] = 1.0  # this center contributed
    return out


def sparse_outcome(total: FloatArray, layout: dict[str, Any]) -> dict[str, Any]:
    """The summed dense vector as one ``outcome_counts`` reply (non-empty cells only)."""
    nt = int(layout["last_index"]) + 1
    codes = [int(c) for c in layout["codes"]]
    ng = max(1, len(layout["group_labels"] or []))
    counts = np.rint(total[:-2]).astype(np.int64)
    if np.any(counts < 0) or np.any(np.abs(total[:-2] - counts) > 1e-6):
        raise FederationError("coordinator", "secure aggregation returned non-integer counts")
    nz = np.flatnonzero(counts)
    k = nz % nt
    rest = nz // nt
    s = rest % len(codes)
    rest = rest // len(codes)
    gi = rest % ng
    si = rest // ng
    w = float(layout["grid_width"])
    return {
        "time": k.astype(np.float64) * w,
        "status": np.asarray(codes, dtype=np.int64)[s],
        "group_index": gi if layout["group_labels"] is not None else np.zeros(0, np.int64),
        "strata_index": si if layout["strata_labels"] is not None else np.zeros(0, np.int64),
        "count": counts[nz],
        "group_labels": layout["group_labels"],
        "strata_labels": layout["strata_labels"],
        "excluded_rows": round(float(total[-2])),
    }


def common_grid_width(labels: dict[str, dict[str, Any]]) -> float:
    """The time-grid width every center's labels reply gives (refused if they differ)."""
    widths = {c: float(r["grid_width"]) for c, r in labels.items()}
    if len(set(widths.values())) != 1:
        raise FederationError(
            "coordinator",
            "secure aggregation needs the same time grid at every center (widths: "
            + ", ".join(f"{c} {w:g}" for c, w in sorted(widths.items()))
            + ")",
        )
    return next(iter(widths.values()))


def agree_layout(query: dict[str, Any], labels: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The shared layout from every center's ``outcome_labels`` reply."""
    width = common_grid_width(labels)

    def union(key: str) -> list[Any] | None:
        if all(r[key] is None for r in labels.values()):
            return None
        seen: dict[str, Any] = {}
        for c in sorted(labels):
            for x in labels[c][key] or []:
                seen.setdefault(_key(x), x)
        return [seen[k] for k in sorted(seen)]

    return {
        "codes": [int(c) for c in query["codes"]],
        "group_labels": union("group_labels"),
        "strata_labels": union("strata_labels"),
        "last_index": max(int(r["last_index"]) for r in labels.values()),
        "grid_width": width,
    }
