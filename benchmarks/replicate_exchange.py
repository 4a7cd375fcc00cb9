"""Make a large exchange file from a simulated one: K copies with suffixed ids.

Run with ``python benchmarks/replicate_exchange.py cohort10k.csv --copies 10 --out
cohort100k.csv``. The simulator keeps its whole cohort in memory (about 11 GB at 100,000
patients), so the 100,000-patient import figure of ``benchmarks/import.py`` is measured on
ten copies of the 10,000-patient file instead: copy k (k = 1..K) keeps every row and value
and appends ``-k<k>`` to every patient id and donor id (so ids stay unique and valid); the
center rows are written once. The rows per patient, the value distributions and the file
size per patient are those of the simulated file.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path


def replicate(source: Path, out: Path, copies: int) -> int:
    """Write ``copies`` copies of ``source`` to ``out``; return the number of data rows."""
    rows = 0
    with out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        for k in range(1, copies + 1):
            with source.open(encoding="utf-8", newline="") as src:
                reader = csv.reader(src)
                header = next(reader)
                if k == 1:
                    writer.writerow(header)
                kind = header.index("record_type")
                pid = header.index("patient_id")
                did = header.index("donor_id")
                suffix = f"-k{k}"
                for row in reader:
                    if row[kind] == "center":
                        if k == 1:
                            writer.writerow(row)
                            rows += 1
                        continue
                    if row[pid]:
                        row[pid] += suffix
                    if row[did]:
                        row[did] += suffix
                    writer.writerow(row)
                    rows += 1
    return rows


def main() -> None:
    """Parse the arguments and write the file."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("source", type=Path)
    parser.add_argument("--copies", type=int, default=10)
    parser.add_argument("--out", type=Path, required=True)
    opts = parser.parse_args()
    if opts.copies < 1:
        parser.error("--copies must be at least 1")
    n = replicate(opts.source, opts.out, opts.copies)
    print(f"{opts.out}: {n} rows from {opts.copies} copies of {opts.source}")


if __name__ == "__main__":
    main()
