"""Benchmark: rank 1,000 candidate donors of one patient (issue 6 target: < 100 ms).

Run with ``python benchmarks/donor_ranking.py``. Synthetic, deterministic
typings (seeded) from common 2-field alleles of IPD-IMGT/HLA 3.58.0.

Rows:
- ``rank_case`` on a loaded case (typings parsed), comparison caches
  cleared before each run (first ranking of these donors) — the target;
- the same, re-ranking with caches warm (e.g. after a settings change);
- ``load_case + rank_case`` cold (all caches cleared, tables loaded);
- ``load_case + rank_case`` warm (repeat clinic use);
- peer, 2-field reduction of the same 12,000 donor alleles: mst (shipped
  tables) vs py-ard 2.4.2 ``redux(..., "lgx")`` with a database built offline
  from the shipped files in a temporary folder (skipped if py-ard cannot
  initialise). py-ard database build time is reported too.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any

from mst.donors import ard, dpb1, dsa, family, kir, load_case, parse_allele, rank_case
from mst.donors import mismatch as mm
from mst.donors import nomenclature as nom
from mst.donors import reference as ref

N_DONORS = 1000
REPEATS = 7
LOCI = ("A", "B", "C", "DRB1", "DQB1", "DPB1")
KIR = [
    "KIR3DL3,KIR2DL4,KIR3DL2,KIR2DL1,KIR2DL3,KIR3DL1,KIR2DS4",
    "KIR3DL3,KIR2DL4,KIR3DL2,KIR2DL2,KIR2DS2,KIR3DL1,KIR2DS4",
    "KIR3DL3,KIR2DL4,KIR3DL2,KIR2DL1,KIR2DL3,KIR2DL2,KIR3DS1,KIR2DS1,KIR3DL1,KIR2DS4",
]


def common_alleles(per_locus: int = 25) -> dict[str, list[str]]:
    """The first ``per_locus`` expressed 2-field names with a known serology (DPB1: TCE table)."""
    from mst.donors.dpb1 import tce_table

    tables = ref.imgt_tables()
    out: dict[str, list[str]] = {}
    for locus in LOCI:
        if locus == "DPB1":
            names = [p for p in tce_table() if p in tables.names]
        else:
            names = [
                k
                for k, v in tables.serology.items()
                if k.startswith(locus + "*") and k.count(":") == 1 and v is not None
            ]
        out[locus] = sorted(names)[:per_locus]
    return out


def make_case(seed: int = 20240) -> dict[str, Any]:
    rng = random.Random(seed)
    pool = common_alleles()

    def typing() -> str:
        return "^".join(f"{rng.choice(pool[k])}+{rng.choice(pool[k])}" for k in LOCI)

    donors = [
        {
            "id": f"D{i:04d}",
            "relationship": rng.choice(["child", "sibling", "parent", "unrelated"]),
            "sex": rng.choice("MF"),
            "age": rng.randint(16, 60),
            "hla_typing": typing(),
            "kir_genotype": rng.choice(KIR),
        }
        for i in range(N_DONORS)
    ]
    antibodies = [
        {"specificity": rng.choice(pool["A"]), "mfi": 3000},
        {"specificity": "B7", "mfi": 1200},
    ]
    return {
        "patient": {"id": "P1", "sex": "F", "hla_typing": typing(), "antibodies": antibodies},
        "donors": donors,
    }


def clear_comparison_caches() -> None:
    """Forget every recipient–donor result (first ranking of new donors)."""
    for f in (
        mm.locus_sides,
        mm.compare_locus,
        dpb1._tce,
        family._haplo,
        dsa._locus_target,
        kir._locus_ligands,
        kir._kir_profile,
    ):
        f.cache_clear()


def clear_caches() -> None:
    """Forget everything, reference tables included (a fresh process)."""
    clear_comparison_caches()
    for f in (
        ref.imgt_tables,
        ard.reduction,
        mm.allele_proteins,
        mm.allele_keys,
        nom.parse_allele,
        nom.parse_gl,
        nom._parse_block,
    ):
        f.cache_clear()


def timed(fn: Any, repeats: int = REPEATS, setup: Any = None) -> float:
    times = []
    for _ in range(repeats):
        if setup is not None:
            setup()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def pyard_peer(alleles: list[str]) -> tuple[float, float] | None:
    """(build seconds, ms to reduce ``alleles``) with py-ard offline, or None."""
    src = resources.files("mst.data").joinpath("donors/imgt-hla-3.58.0")
    tmp = Path(tempfile.mkdtemp(prefix="mst-pyard-"))
    try:
        latest = tmp / "root" / "Latest"
        (latest / "wmda").mkdir(parents=True)
        for name in ("Allelelist.txt", "release_version.txt"):
            shutil.copy(str(src.joinpath(name)), latest / name)
        for name in ("hla_nom_g.txt", "hla_nom_p.txt", "rel_dna_ser.txt", "rel_ser_ser.txt"):
            shutil.copy(str(src.joinpath("wmda").joinpath(name)), latest / "wmda" / name)
        os.environ["IMGT_HLA_URL"] = f"file://{tmp / 'root'}/"
        os.environ["PYARD_RC"] = "no"
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            import pyard

            ard = pyard.init(imgt_version="Latest", data_dir=str(tmp / "db"), load_mac=False)
        build = time.perf_counter() - t0
        t1 = time.perf_counter()
        for a in alleles:
            ard.redux(a, "lgx")
        return build, (time.perf_counter() - t1) * 1000
    except Exception as exc:
        print(f"py-ard peer skipped: {type(exc).__name__}: {exc}", file=sys.stderr)
        return None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    data = make_case()
    case = load_case(data)
    rank_case(case)  # warm
    rows: list[tuple[str, float]] = []
    rows.append(
        (
            "rank_case, 1,000 parsed donors, first ranking",
            timed(lambda: rank_case(case), setup=clear_comparison_caches),
        )
    )
    rank_case(case)
    rows.append(
        ("rank_case, 1,000 parsed donors, re-ranking (cached)", timed(lambda: rank_case(case)))
    )
    rows.append(
        (
            "load_case + rank_case (cold caches)",
            timed(lambda: rank_case(load_case(data)), repeats=3, setup=clear_caches),
        )
    )
    rank_case(load_case(data))
    rows.append(("load_case + rank_case (warm)", timed(lambda: rank_case(load_case(data)))))

    alleles = [
        part for d in data["donors"] for part in d["hla_typing"].replace("^", "+").split("+")
    ]

    def mst_reduce() -> None:
        for a in alleles:
            mm.allele_keys(parse_allele(a), "ard")

    rows.append(
        (f"peer: mst 2-field reduction of {len(alleles):,} alleles (warm)", timed(mst_reduce))
    )
    peer = pyard_peer(alleles)
    if peer is not None:
        rows.append(("peer: py-ard 2.4.2 database build (offline, temp dir)", peer[0] * 1000))
        rows.append((f"peer: py-ard redux lgx of {len(alleles):,} alleles", peer[1]))

    width = max(len(r[0]) for r in rows)
    print(f"IPD-IMGT/HLA {ref.imgt_release()}; {N_DONORS} donors; median of repeats")
    print(f"{'step':<{width}}  {'ms':>10}")
    for name, ms in rows:
        print(f"{name:<{width}}  {ms:>10.1f}")
    target = rows[0][1]
    print(
        f"\ntarget < 100 ms for ranking 1,000 donors: {'MET' if target < 100 else 'NOT MET'}"
        f" ({target:.1f} ms)"
    )


if __name__ == "__main__":
    main()
