"""Build ``kir_ligands.csv`` from the IPD-IMGT/HLA protein sequences (run once per release).

Usage::

    python src/mst/data/donors/build_kir_ligands.py /path/to/imgt-hla-3.58.0

reads ``fasta/A_prot.fasta``, ``B_prot.fasta`` and ``C_prot.fasta`` and
``release_version.txt`` of that folder and writes ``kir_ligands.csv`` beside this
script. It is not used at run time (the package reads the CSV).

Method (``docs/donors.md``, "KIR ligands"):

1. Mature residues 77–83 of every allele are located by conserved flanking
   motifs, not by offset (partial records start at different places):
   ``GPEYW`` = mature 56–60, ``QTDR`` = 72–75 and ``YYNQ`` = 84–87. Every
   motif found must give the same position; a record where they disagree or
   none is found, or that does not cover 77–83, is skipped.
2. Null alleles (``N``) are skipped. The alleles of one 2-field protein share
   one sequence; a protein gets a motif when every covering record agrees
   (otherwise it is listed as ``conflict`` and classified ``unknown``).
3. Classification of the motif (KIR-ligand epitopes):

   - HLA-C: residue 80 Asn → ``C1``, Lys → ``C2`` (Colonna M et al., PNAS
     1993;90:12000; Mandelboim O et al., J Exp Med 1996;184:913); any other
     residue → ``unknown``.
   - HLA-B: residues 82–83 Leu-Arg → ``Bw4`` (with residue 80 Ile → ``80I``,
     Thr → ``80T``), Arg-Gly → ``Bw6`` (Wan AM et al., J Immunol
     1986;137:3671; Gumperz JE et al., J Exp Med 1995;181:1133; Cella M et
     al., J Exp Med 1994;180:1235); otherwise ``unknown``.
   - HLA-A: Leu-Arg at 82–83 → ``Bw4`` (A23, A24, A25, A32 family), otherwise
     ``none`` (no KIR3DL1 epitope).

The CSV holds classifications and seven residues per protein — facts derived
from the sequences, not the sequence files or alignments themselves; it names
the release and cites the database (licence CC BY-ND, see ``LICENCE.md``).
"""

from __future__ import annotations

import csv
import sys
from collections import defaultdict
from pathlib import Path

ANCHORS: tuple[tuple[str, int], ...] = (("GPEYW", 21), ("QTDR", 5), ("YYNQ", -7))
"""Motif and offset from its first residue to mature residue 77."""


def read_fasta(path: Path) -> list[tuple[str, str]]:
    """(allele name, protein sequence) of every record of an IPD-IMGT/HLA protein FASTA."""
    records: list[tuple[str, str]] = []
    name: str | None = None
    chunks: list[str] = []
    for line in path.read_text(encoding="ascii").splitlines():
        if line.startswith(">"):
            if name is not None:
                records.append((name, "".join(chunks)))
            name = line[1:].split()[1]
            chunks = []
        else:
            chunks.append(line.strip())
    if name is not None:
        records.append((name, "".join(chunks)))
    return records


def motif_77_83(seq: str) -> str | None:
    """Mature residues 77–83 located by the flanking motifs, or None."""
    starts = set()
    for motif, offset in ANCHORS:
        i = seq.find(motif)
        if i >= 0:
            starts.add(i + offset)
    if len(starts) != 1:
        return None
    start = starts.pop()
    window = seq[start : start + 7]
    if start < 0 or len(window) != 7 or not window.isalpha() or "X" in window:
        return None
    return window


def classify(locus: str, motif: str) -> tuple[str, str]:
    """(ligand, Bw4 residue-80 subtype) of one motif (positions 77–83)."""
    r80, r82_83 = motif[3], motif[5:7]
    if locus == "C":
        return {"N": ("C1", ""), "K": ("C2", "")}.get(r80, ("unknown", ""))
    if r82_83 == "LR":
        return "Bw4", {"I": "80I", "T": "80T"}.get(r80, "")
    if locus == "B":
        return ("Bw6", "") if r82_83 == "RG" else ("unknown", "")
    return "none", ""


def two_field(name: str) -> str:
    """2-field protein of an allele name (expression suffix dropped)."""
    locus, rest = name.split("*", 1)
    fields = rest.rstrip("NLSCAQ").split(":")
    return f"{locus}*{':'.join(fields[:2])}"


def build(release_dir: Path) -> tuple[list[dict[str, str]], str]:
    """Rows of the table and the release version."""
    version = next(
        line.split()[-1]
        for line in (release_dir / "release_version.txt").read_text().splitlines()
        if line.startswith("# version:")
    )
    rows: list[dict[str, str]] = []
    for locus in ("A", "B", "C"):
        motifs: dict[str, set[str]] = defaultdict(set)
        counts: dict[str, int] = defaultdict(int)
        for name, seq in read_fasta(release_dir / "fasta" / f"{locus}_prot.fasta"):
            if name.endswith("N"):
                continue
            motif = motif_77_83(seq)
            if motif is None:
                continue
            protein = two_field(name)
            motifs[protein].add(motif)
            counts[protein] += 1
        for protein in sorted(motifs, key=lambda p: [int(x) for x in p.split("*")[1].split(":")]):
            found = motifs[protein]
            if len(found) == 1:
                motif = next(iter(found))
                ligand, sub = classify(locus, motif)
                note = ""
            else:
                motif, ligand, sub, note = "", "unknown", "", "conflict: " + "/".join(sorted(found))
            rows.append(
                {
                    "protein": protein,
                    "residues_77_83": motif,
                    "residue_80": motif[3] if motif else "",
                    "ligand": ligand,
                    "bw4_80": sub,
                    "records": str(counts[protein]),
                    "note": note,
                }
            )
    return rows, version


HEADER = """# KIR-ligand class of every expressed HLA-A, -B, -C protein, from mature residues 77-83
# source: IPD-IMGT/HLA release {version}, fasta/A_prot.fasta, B_prot.fasta, C_prot.fasta
# (https://github.com/ANHIG/IMGTHLA, commit 64a60b945a32c14dc776ea729d9307b0aa542915)
# built by: src/mst/data/donors/build_kir_ligands.py (method in its docstring)
# licence of the source: CC BY-ND (imgt-hla-3.58.0/LICENCE.md); this file holds derived
# classifications, not the sequences. Cite: Barker D et al., Nucleic Acids Res 2023;51:D948.
"""


def main(argv: list[str]) -> int:
    """Write ``kir_ligands.csv`` next to this script."""
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    rows, version = build(Path(argv[0]))
    out = Path(__file__).with_name("kir_ligands.csv")
    with out.open("w", encoding="utf-8", newline="") as fh:
        fh.write(HEADER.format(version=version))
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"{out}: {len(rows)} proteins (IPD-IMGT/HLA {version})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
