"""Cohort-level derivations: per-patient endpoints and the flat analysis table."""

from mst.cohort import endpoints
from mst.cohort.endpoints import Endpoints, age_band, age_group, patient_endpoints
from mst.cohort.flat_table import (
    COLUMNS,
    build_flat_table,
    flat_table_from_frames,
    write_flat_table,
)

__all__ = [
    "COLUMNS",
    "Endpoints",
    "age_band",
    "age_group",
    "build_flat_table",
    "endpoints",
    "flat_table_from_frames",
    "patient_endpoints",
    "write_flat_table",
]
