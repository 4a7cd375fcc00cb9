"""Cohort-level simulation: centers, patient ids and per-patient random streams."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from mst.domain import Center, Cohort, PatientRecord
from mst.errors import ValidationError
from mst.simulate.config import SimConfig
from mst.simulate.records import simulate_patient

MAX_CENTERS = 99


def _check(n: int, seed: int, n_centers: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ValidationError("n", n, "must be an integer >= 0")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValidationError("seed", seed, "must be an integer >= 0")
    if (
        isinstance(n_centers, bool)
        or not isinstance(n_centers, int | np.integer)
        or not (1 <= n_centers <= MAX_CENTERS)
    ):
        raise ValidationError("n_centers", n_centers, f"must be an integer from 1 to {MAX_CENTERS}")


def simulated_centers(n_centers: int, config: SimConfig | None = None) -> tuple[Center, ...]:
    """The centers ``C01``… with the fictional names of the calibration file.

    Parameters
    ----------
    n_centers : int
        Number of centers (1–99); beyond the named ones, centers are called "Center NN".
    config : SimConfig, optional
        Parameters (defaults: the calibrated ones).

    Returns
    -------
    tuple of mst.domain.Center
    """
    _check(0, 0, n_centers)
    cfg = config or SimConfig.default()
    out = []
    for i in range(n_centers):
        named = cfg.centers[i] if i < len(cfg.centers) else {"name": f"Center {i + 1:02d}"}
        out.append(Center(id=f"C{i + 1:02d}", name=named["name"], country=named.get("country")))
    return tuple(out)


def _streams(
    seed: int, k: int
) -> tuple[np.random.Generator, np.random.Generator, np.random.Generator]:
    # spawn(3) gives the same first two children as spawn(2) did: the clinical and HLA
    # streams of calibration 2026.11.1 are unchanged; the third (nausea, vomiting) is new.
    base = np.random.SeedSequence(int(seed), spawn_key=(int(k),))
    clinical, hla, ae = base.spawn(3)
    return tuple(np.random.Generator(np.random.PCG64(s)) for s in (clinical, hla, ae))  # type: ignore[return-value]


def _center_cumulative(n_centers: int, cfg: SimConfig) -> np.ndarray:
    w = np.array([1.0 / (1.0 + cfg.center_size_decay * i) for i in range(n_centers)])
    return np.cumsum(w / w.sum())


def _ids(
    n: int, seed: int, n_centers: int, cfg: SimConfig
) -> Iterator[
    tuple[int, str, str, np.random.Generator, np.random.Generator, np.random.Generator]
]:
    cum = _center_cumulative(n_centers, cfg)
    counters = [0] * n_centers
    width = 4
    for k in range(n):
        rng, hla_rng, ae_rng = _streams(seed, k)
        c = min(int(np.searchsorted(cum, rng.random(), side="right")), n_centers - 1)
        counters[c] += 1
        center_id = f"C{c + 1:02d}"
        yield k, f"{center_id}-{counters[c]:0{width}d}", center_id, rng, hla_rng, ae_rng


def iter_records(
    n: int, seed: int, *, n_centers: int = 4, config: SimConfig | None = None
) -> Iterator[PatientRecord]:
    """Yield the ``n`` simulated patient records one by one (for progress reporting).

    Same arguments as :func:`simulate_cohort`.
    """
    _check(n, seed, n_centers)
    cfg = config or SimConfig.default()
    for _, pid, center_id, rng, hla_rng, ae_rng in _ids(n, seed, n_centers, cfg):
        yield simulate_patient(rng, cfg, pid, center_id, hla_rng, ae_rng)


def simulate_cohort(
    n: int, seed: int, *, n_centers: int = 4, config: SimConfig | None = None
) -> Cohort:
    """Simulate a multi-center MST cohort.

    Parameters
    ----------
    n : int
        Number of patients (>= 0).
    seed : int
        Seed (>= 0). Same ``(n, seed, n_centers, config)`` → identical cohort; patient ``k``
        does not depend on ``n``.
    n_centers : int, optional
        Number of centers (1–99, default 4); center sizes decrease with their number.
    config : SimConfig, optional
        Parameters; default :meth:`SimConfig.default` (calibrated to seed 002).

    Returns
    -------
    mst.domain.Cohort
        Centers and patient records (ids ``C01-0001``…), each consistent.

    Raises
    ------
    mst.errors.ValidationError
        If ``n``, ``seed`` or ``n_centers`` is out of range.
    """
    _check(n, seed, n_centers)
    cfg = config or SimConfig.default()
    records = tuple(iter_records(n, seed, n_centers=n_centers, config=cfg))
    return Cohort(centers=simulated_centers(n_centers, cfg), records=records)
