"""Reading and writing cohort files (exchange format: CSV/XLSX)."""
