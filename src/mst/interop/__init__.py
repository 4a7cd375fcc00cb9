"""Import and export around the flat analysis table and the cohort.

* :mod:`mst.interop.flat_import` — validate a flat table row by row (CSV/XLSX/SAV);
* :mod:`mst.interop.mapping` — column/code mapping files (YAML or TOML);
* :mod:`mst.interop.redcap` — REDCap CSV export + data dictionary;
* :mod:`mst.interop.spss` — SPSS ``.sav`` (pyreadstat);
* :mod:`mst.interop.fhir` — FHIR R4 bundle (``fhir.resources.R4B`` models);
* :mod:`mst.interop.deidentify` — pseudonymous ids and per-patient date shifts.
"""

from mst.interop.flat_import import ImportResult as ImportResult
from mst.interop.flat_import import Rejection as Rejection
from mst.interop.flat_import import read_flat_file as read_flat_file
from mst.interop.flat_import import validate_flat_table as validate_flat_table
from mst.interop.mapping import Mapping as Mapping
from mst.interop.mapping import apply_mapping as apply_mapping
from mst.interop.mapping import load_mapping as load_mapping
