"""Secure aggregation of the regression sums and of Table 1 (SecAgg+, see :mod:`.secure`).

Every reply that a secure analysis needs is a sum over patients, hence additive over the
centers once all centers lay it out the same way:

* **cell sums** (``cox_cells``, ``finegray_counts``, ``finegray_cells``,
  ``cox_concordance_cells``): one row per cell *(label keys, time point, value keys)*; the
  coordinator adds the rows of equal cells. On the public layout — the union of the label
  sets, the shared ``--coarsen-months`` grid up to the last occupied grid index, the union of
  the value keys — every center's rows become one dense vector, and the dense vectors add up
  to the dense sum of the pooled cells. The cells whose patient count ``n`` is 0 in the
  total are dropped, so the coordinator receives exactly the rows the plain federation would
  have merged (the union of the centers' cells, summed).
* **totals** (``regression_moments``, ``cox_residuals``, ``finegray_residuals``): whole-center
  arrays (n, Σx, Σxxᵀ; Σrrᵀ, r rᵀ; Σ(η+ψ)(η+ψ)ᵀ) that simply add.
* ``regression_setup`` (the level counts of the categorical covariates on the union of the
  levels, the numbers of rows) and ``table1_counts`` (per variable, the counts of each value
  in each ``by`` group on the union of the values).

The layout is agreed in one plain round (``secure_labels``) that releases, per center, the
labels (strata, censoring groups, covariate levels, Table 1 values, risk scores for the
concordance), the last occupied grid index and the shapes of the summed fields — never a
count or a sum. The summed vector travels as exact fixed-point limbs
(:func:`mst.federated.secure.encode_fixed`), masked by SecAgg+.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mst.federated.disclosure import grid_width
from mst.federated.errors import FederationError
from mst.federated.secure import common_grid_width

FloatArray = NDArray[np.float64]

#: a dense layout larger than this (cells × width) is refused (the SecAgg+ vector would
#: be hundreds of megabytes); the concordance is then reported as not computed
MAX_DENSE = 2_000_000


@dataclass(frozen=True)
class CellKind:
    """How one query kind's reply is laid out for summing.

    Attributes
    ----------
    index : tuple of (index field, labels field)
        Keys given as an index into a list of labels (e.g. ``("stratum", "strata_labels")``).
    time : bool
        Cells are keyed by the time grid (field ``time``).
    values : tuple of str
        Keys given by value (e.g. the risk score); their distinct values are labels.
    sums : tuple of str
        Per-cell fields, the first one ``n`` (patients in the cell).
    ints : tuple of str
        Fields that are counts.
    totals : tuple of str
        Whole-center arrays.
    """

    index: tuple[tuple[str, str], ...] = ()
    time: bool = False
    values: tuple[str, ...] = ()
    sums: tuple[str, ...] = ()
    ints: tuple[str, ...] = ()
    totals: tuple[str, ...] = ()


_COX = ("n", "d", "c0", "c1", "c2", "d0", "d1", "d2", "xd", "etad")
_FG = ("n", "d", "c0", "c1", "c2", "k0", "k1", "k2", "xf", "etaf")
CELL_KINDS: dict[str, CellKind] = {
    "cox_cells": CellKind((("stratum", "strata_labels"),), True, (), _COX, ("n", "d")),
    "cox_concordance_cells": CellKind(
        (("stratum", "strata_labels"),), True, ("event", "risk"), ("n",), ("n",)
    ),
    "finegray_counts": CellKind(
        (("group", "group_labels"),),
        True,
        (),
        ("n", "cens", "fail", "comp"),
        ("n", "cens", "fail", "comp"),
    ),
    "finegray_cells": CellKind((("group", "group_labels"),), True, (), _FG, ("n", "d")),
    "regression_moments": CellKind(ints=("n",), totals=("n", "sum_x", "sum_xx")),
    "cox_residuals": CellKind(totals=("rr", "rcrc")),
    "cox_concordance_influence": CellKind(totals=("dd",)),
    "finegray_residuals": CellKind(totals=("uu",)),
}
#: kinds with their own layout
SPECIAL_KINDS = ("regression_setup", "table1_counts")
#: query fields that change between the Newton steps of one analysis (the layout does not)
VOLATILE = ("beta", "per_stratum", "u", "h", "xbar", "uc", "groups", "cells")


def _key(label: Any) -> str:
    return json.dumps(label, sort_keys=True)


def layout_key(query: dict[str, Any]) -> str:
    """The query without its per-step fields: one layout serves all its Newton steps.

    The concordance keys its cells by the risk score at β, so its layout is per β.
    """
    kind = query.get("kind")
    drop = () if kind == "cox_concordance_cells" else VOLATILE
    return _key({k: v for k, v in query.items() if k not in drop})


def _union(lists: list[list[Any]]) -> list[Any]:
    """Union of label lists, in order of first appearance (centers in sorted order)."""
    seen: dict[str, Any] = {}
    for lab in lists:
        for x in lab:
            seen.setdefault(_key(x), x)
    return list(seen.values())


# -- node side --------------------------------------------------------------------------------


def labels_of(kind: str, rep: dict[str, Any], q: dict[str, Any], policy: Any, center: str) -> dict:
    """What a center releases to agree the layout of ``kind``: labels and shapes, no number
    computed from patients other than the index of the last occupied grid point."""
    if kind == "regression_setup":
        return {
            "kinds": rep["kinds"],
            "levels": {col: sorted(c) for col, c in rep["level_counts"].items()},
        }
    if kind == "table1_counts":
        nv = len(rep["variables"])
        return {
            "by_dtype": rep["by_dtype"],
            "by_labels": rep["by_labels"],
            "variables": rep["variables"],
            "dtypes": rep["dtypes"],
            **{f"v{j}_values": rep[f"v{j}_values"] for j in range(nv)},
        }
    spec = CELL_KINDS[kind]
    out: dict[str, Any] = {
        "shapes": {f: list(np.shape(rep[f])[1:]) for f in spec.sums},
        "total_shapes": {f: list(np.shape(rep[f])) for f in spec.totals},
    }
    for _, lab in spec.index:
        out[lab] = rep[lab]
    for f in spec.values:
        out[f"{f}_values"] = np.unique(np.asarray(rep[f])).tolist()
    if spec.time:
        if policy.coarsen_months is None:
            raise FederationError(
                center,
                "refused the query: secure aggregation needs the public time grid of "
                "--coarsen-months at every center",
            )
        w = grid_width(q["time"], policy.coarsen_months)
        k = np.rint(np.asarray(rep["time"], dtype=np.float64) / w)
        out["last_index"] = int(k.max()) if k.size else 0
        out["grid_width"] = w
    return out


def _positions(own: list[Any], union: list[Any], center: str, what: str) -> NDArray[np.int64]:
    pos = {_key(x): i for i, x in enumerate(union)}
    try:
        return np.array([pos[_key(x)] for x in own], dtype=np.int64)
    except KeyError as exc:
        raise FederationError(center, f"refused the query: a {what} is not in the layout") from exc


def dense(kind: str, rep: dict[str, Any], layout: dict[str, Any], center: str) -> FloatArray:
    """A center's reply on the shared layout (one vector; the last entry is 1, "this center
    contributed")."""
    if kind == "regression_setup":
        parts = []
        for col, levels in layout["levels"].items():
            own = rep["level_counts"].get(col, {})
            if any(lv not in levels for lv in own):
                raise FederationError(center, "refused the query: a level is not in the layout")
            parts.append([float(own.get(lv, 0)) for lv in levels])
        flat = [x for p in parts for x in p]
        return np.array([*flat, float(rep["n_rows"]), float(rep["n_complete"]), 1.0])
    if kind == "table1_counts":
        nb = len(layout["by_labels"])
        bpos = _positions(rep["by_labels"], layout["by_labels"], center, "group")
        blocks = []
        for j in range(len(layout["variables"])):
            union = layout[f"v{j}_values"]
            vpos = _positions(rep[f"v{j}_values"], union, center, "value")
            block = np.zeros((nb, len(union)))
            bi = bpos[np.asarray(rep[f"v{j}_by"], dtype=np.int64)]
            vi = vpos[np.asarray(rep[f"v{j}_value"], dtype=np.int64)]
            np.add.at(block, (bi, vi), np.asarray(rep[f"v{j}_count"], dtype=np.float64))
            blocks.append(block.ravel())
        return np.concatenate([*blocks, [1.0]])
    spec = CELL_KINDS[kind]
    parts = []
    if spec.sums:
        dims, idx = _cell_index(spec, rep, layout, center)
        ncell = int(np.prod(dims))
    for f in spec.sums:
        width = int(np.prod(layout["shapes"][f]))
        vals = np.asarray(rep[f], dtype=np.float64).reshape(-1, width)
        block = np.zeros((ncell, width))
        np.add.at(block, idx, vals)
        parts.append(block.ravel())
    for f in spec.totals:
        shape = tuple(layout["total_shapes"][f])
        a = np.asarray(rep[f], dtype=np.float64)
        if a.shape != shape:
            raise FederationError(center, f"refused the query: {f} does not fit the layout")
        parts.append(a.ravel())
    return np.concatenate([*parts, [1.0]])


def _cell_index(
    spec: CellKind, rep: dict[str, Any], layout: dict[str, Any], center: str
) -> tuple[list[int], NDArray[np.int64]]:
    """Dimensions of the cell grid and the flat cell of every reply row."""
    dims: list[int] = []
    cols: list[NDArray[np.int64]] = []
    for ifield, lfield in spec.index:
        union = layout[lfield]
        own = _positions(rep[lfield], union, center, "label")
        cols.append(own[np.asarray(rep[ifield], dtype=np.int64)])
        dims.append(len(union))
    if spec.time:
        w = float(layout["grid_width"])
        nt = int(layout["last_index"]) + 1
        t = np.asarray(rep["time"], dtype=np.float64)
        k = np.rint(t / w).astype(np.int64)
        if np.any(k * w != t) or np.any(k < 0) or np.any(k >= nt):
            raise FederationError(center, "refused the query: a time is not on the shared grid")
        cols.append(k)
        dims.append(nt)
    for f in spec.values:
        union = layout[f"{f}_values"]
        cols.append(_positions(np.asarray(rep[f]).tolist(), union, center, f"{f} value"))
        dims.append(len(union))
    flat = np.zeros(np.shape(rep[spec.sums[0]])[0], dtype=np.int64)
    for c, d in zip(cols, dims, strict=True):
        flat = flat * d + c
    return dims, flat


# -- coordinator side -------------------------------------------------------------------------


def agree(kind: str, labels: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The shared layout of ``kind`` from every center's ``secure_labels`` reply."""
    centers = sorted(labels)
    reps = [labels[c] for c in centers]
    if kind == "regression_setup":
        kinds: dict[str, str] = {}
        for col in reps[0]["kinds"]:
            ks = {c: labels[c]["kinds"][col] for c in centers}
            if len(set(ks.values())) > 1:
                detail = ", ".join(f"{c}: {k}" for c, k in sorted(ks.items()))
                raise FederationError(
                    centers[0],
                    f"covariate {col} has a different kind at different centers ({detail})",
                )
            kinds[col] = ks[centers[0]]
        cats = [col for col, k in kinds.items() if k == "categorical"]
        levels = {
            col: sorted({lv for r in reps for lv in r["levels"].get(col, [])}) for col in cats
        }
        return {"kinds": kinds, "levels": levels}
    if kind == "table1_counts":

        def one(values: set[str]) -> str:
            return next(iter(values)) if len(values) == 1 else "object"

        variables = reps[0]["variables"]
        out: dict[str, Any] = {
            "variables": variables,
            "by_dtype": one({r["by_dtype"] for r in reps}),
            "dtypes": {v: one({r["dtypes"][v] for r in reps}) for v in variables},
            "by_labels": _union([r["by_labels"] for r in reps]),
        }
        for j in range(len(variables)):
            out[f"v{j}_values"] = _union([r[f"v{j}_values"] for r in reps])
        return out
    spec = CELL_KINDS[kind]
    for key in ("shapes", "total_shapes"):
        if any(r[key] != reps[0][key] for r in reps):
            raise FederationError(
                "coordinator",
                f"the centers' {kind} replies have different shapes (different designs?)",
            )
    out = {"shapes": reps[0]["shapes"], "total_shapes": reps[0]["total_shapes"]}
    for _, lfield in spec.index:
        out[lfield] = _union([r[lfield] for r in reps])
    for f in spec.values:
        out[f"{f}_values"] = sorted(_union([r[f"{f}_values"] for r in reps]))
    if spec.time:
        out["grid_width"] = common_grid_width({c: labels[c] for c in centers})
        out["last_index"] = max(int(r["last_index"]) for r in reps)
    return out


def _cell_dims(spec: CellKind, layout: dict[str, Any]) -> list[int]:
    dims = [len(layout[lfield]) for _, lfield in spec.index]
    if spec.time:
        dims.append(int(layout["last_index"]) + 1)
    dims += [len(layout[f"{f}_values"]) for f in spec.values]
    return dims


def size(kind: str, layout: dict[str, Any]) -> int:
    """Length of the dense vector of ``kind`` on ``layout`` (refused when too large)."""
    if kind == "regression_setup":
        n = sum(len(v) for v in layout["levels"].values()) + 3
    elif kind == "table1_counts":
        nb = len(layout["by_labels"])
        n = sum(nb * len(layout[f"v{j}_values"]) for j in range(len(layout["variables"]))) + 1
    else:
        spec = CELL_KINDS[kind]
        ncell = int(np.prod(_cell_dims(spec, layout))) if spec.sums else 0
        n = ncell * sum(int(np.prod(layout["shapes"][f])) for f in spec.sums)
        n += sum(int(np.prod(layout["total_shapes"][f])) for f in spec.totals) + 1
    if n > MAX_DENSE:
        raise FederationError(
            "coordinator",
            f"refused the query: the secure layout of {kind} has {n:,} entries (more than "
            f"{MAX_DENSE:,}); use a coarser time grid or fewer covariate patterns",
        )
    return n


def _counts(a: FloatArray, what: str) -> NDArray[np.int64]:
    n = np.rint(a)
    if np.any(n < 0) or np.any(np.abs(a - n) > 1e-6):
        raise FederationError("coordinator", f"secure aggregation returned non-integer {what}")
    return n.astype(np.int64)


def sparse(kind: str, total: FloatArray, layout: dict[str, Any]) -> dict[str, Any]:
    """The summed dense vector as one reply in the plain format of ``kind`` (the pooled
    cells, as if one center held every patient)."""
    if kind == "regression_setup":
        cnt = _counts(total[:-1], "level counts")
        level_counts: dict[str, dict[str, int]] = {}
        i = 0
        for col, levels in layout["levels"].items():
            level_counts[col] = {lv: int(cnt[i + j]) for j, lv in enumerate(levels)}
            i += len(levels)
        return {
            "kinds": layout["kinds"],
            "level_counts": level_counts,
            "n_rows": int(cnt[i]),
            "n_complete": int(cnt[i + 1]),
        }
    if kind == "table1_counts":
        nb = len(layout["by_labels"])
        out: dict[str, Any] = {
            "by_dtype": layout["by_dtype"],
            "by_labels": layout["by_labels"],
            "variables": layout["variables"],
            "dtypes": layout["dtypes"],
        }
        i = 0
        for j in range(len(layout["variables"])):
            nv = len(layout[f"v{j}_values"])
            cnt = _counts(total[i : i + nb * nv], "Table 1 counts")
            i += nb * nv
            nz = np.flatnonzero(cnt)
            out[f"v{j}_values"] = layout[f"v{j}_values"]
            out[f"v{j}_by"] = nz // nv
            out[f"v{j}_value"] = nz % nv
            out[f"v{j}_count"] = cnt[nz]
        return out
    spec = CELL_KINDS[kind]
    dims = _cell_dims(spec, layout)
    ncell = int(np.prod(dims)) if spec.sums else 0
    out = {}
    i = 0
    keep: NDArray[np.int64] = np.zeros(0, dtype=np.int64)
    for f in spec.sums:
        shape = list(layout["shapes"][f])
        width = int(np.prod(shape))
        block = total[i : i + ncell * width].reshape(ncell, width)
        i += ncell * width
        if f == spec.sums[0]:
            keep = np.flatnonzero(_counts(block[:, 0], "patient counts"))
        vals = block[keep]
        if f in spec.ints:
            vals = _counts(vals, f).astype(np.float64 if f != "n" else np.int64)
        out[f] = vals.reshape([keep.size, *shape])
    for f in spec.totals:
        shape = tuple(layout["total_shapes"][f])
        width = int(np.prod(shape))
        vals = total[i : i + width]
        i += width
        out[f] = (_counts(vals, f) if f in spec.ints else vals).reshape(shape)
    if spec.sums:
        rest = keep.copy()
        coords: list[NDArray[np.int64]] = []
        for d in reversed(dims):
            coords.append(rest % d)
            rest = rest // d
        coords.reverse()
        j = 0
        for ifield, lfield in spec.index:
            out[ifield] = coords[j]
            out[lfield] = layout[lfield]
            j += 1
        if spec.time:
            out["time"] = coords[j].astype(np.float64) * float(layout["grid_width"])
            j += 1
        for f in spec.values:
            out[f] = np.asarray(layout[f"{f}_values"])[coords[j]]
            j += 1
    return out
