"""Seeded synthetic MST cohort simulator.

:func:`simulate_cohort` draws a multi-center cohort of patient records from a multi-state
model calibrated to seed 002 (see ``docs/simulator.md`` and
``python -m mst.simulate.calibration_report``). Same arguments, same cohort: every patient
has its own generator derived from ``(seed, k)`` with :class:`numpy.random.SeedSequence`, so
patient ``k`` is the same whatever ``n``.
"""

from mst.simulate.cohort import (
    iter_records,
    simulate_cohort,
    simulated_centers,
)
from mst.simulate.config import SimConfig, calibration_version, parameter_sources

__all__ = [
    "SimConfig",
    "calibration_version",
    "iter_records",
    "parameter_sources",
    "simulate_cohort",
    "simulated_centers",
]
