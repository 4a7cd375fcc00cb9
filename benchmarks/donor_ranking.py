"""Benchmark: rank 1,000 candidate donors of one patient (issue 6 target: < 100 ms).

Run with ``python benchmarks/donor_ranking.py`` (``--no-10k`` skips the 10,000-donor
rows). Synthetic, deterministic typings (seeded) from common 2-field alleles of IPD-IMGT/HLA 3.58.0.

Rows:
- ``rank_case`` on a loaded case (typings parsed), comparison caches
  cleared before each run (first ranking of these donors) — the target;
- the same, re-ranking with caches warm (e.g. after a settings change);
- ``load_case + rank_case`` cold (all caches cleared, tables loaded);
- ``load_case + rank_case`` warm (repeat clinic use);
- peer, ARD reduction of the same 12,000 donor alleles: mst (shipped
  tables, allele caches cleared before each run) vs py-ard 2.4.2
  ``redux(..., "lgx")`` with a database built offline from the shipped files
  in a temporary folder, median of 3 alternating runs, with the time ratio
  (skipped if py-ard cannot initialise); the py-ard build time is reported;
- issue 14: the inputs that used to hang (G groups on both sides, a G-typed
  haploidentical pair, 2.3 kB allele lists), each against a time bound;
- issue 14: ``mst donors rank --json`` on 10,000 donors in a separate process
  (default ``--explain`` and ``--explain all``): seconds, output size, peak RSS.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import shutil
import statistics
import subprocess
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
from mst.donors.ranking import DEFAULT_EXPLAIN

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


def make_case(seed: int = 20240, n: int = N_DONORS) -> dict[str, Any]:
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
        for i in range(n)
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
        mm._enumerate,
        dpb1._tce,
        family._haplo,
        dsa._locus_target,
        kir._locus_ligands,
        kir._ligands,
        kir._kir_profile,
    ):
        f.cache_clear()


def clear_caches() -> None:
    """Forget everything, reference tables included (a fresh process)."""
    clear_comparison_caches()
    for f in (
        ref.imgt_tables,
        ard.reduction,
        kir.ligand_table,
        kir._allele_ligands,
        dpb1._side_groups,
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


def alternating(fns: list[Any], repeats: int = 3, setup: Any = None) -> list[float]:
    """Median ms of each function, run alternately (a b a b a b) — the repository's rule."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            if setup is not None:
                setup()
            t0 = time.perf_counter()
            fn()
            times[i].append(time.perf_counter() - t0)
    return [statistics.median(t) * 1000 for t in times]


def pyard_init() -> tuple[Any, float] | None:
    """py-ard 2.4.2 built offline from the shipped files in a temp dir: (ard, build s)."""
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
        return ard, time.perf_counter() - t0
    except Exception as exc:
        print(f"py-ard peer skipped: {type(exc).__name__}: {exc}", file=sys.stderr)
        return None


# Inputs that hung before issue 14 (pairwise expansion), each with a time bound.
HANG_BOUND_MS = 50.0
G_TYPING = "A*01:01:01G+A*02:01:01G"


def hang_cases() -> list[tuple[str, str, str]]:
    a02 = sorted(
        (
            p
            for p in ard.reduction().expressed
            if p.startswith("A*02:") and p.count(":") == 1 and p in ref.imgt_tables().names
        ),
        key=lambda p: int(p.split(":")[1]),
    )
    long1, long2 = "/".join(a02[:280]), "/".join(a02[100:380])
    haplo = "^".join(
        f"{x}:01G+{y}:01G"
        for x, y in (
            ("A*01:01", "A*02:01"),
            ("B*08:01", "B*44:02"),
            ("C*07:01", "C*05:01"),
            ("DRB1*03:01", "DRB1*04:01"),
            ("DQB1*02:01", "DQB1*03:02"),
        )
    )
    return [
        ("G groups, both sides (mst hla mismatch)", G_TYPING, G_TYPING),
        ("G-typed haploidentical pair, 5 loci", haplo, haplo.replace("A*02:01", "A*03:01")),
        (
            f"two {len(long1) / 1000:.1f} kB allele lists per side",
            f"{long1}+{long2}",
            f"{long2}+{long1}",
        ),
    ]


def cli_10k(explain: str) -> tuple[float, float, float]:
    """(seconds, output MB, peak RSS MB) of ``mst donors rank --json`` on 10,000 donors."""
    data = make_case(n=10_000)
    with tempfile.TemporaryDirectory() as tmp:
        case_file = Path(tmp) / "case.json"
        out_file = Path(tmp) / "out.json"
        case_file.write_text(json.dumps(data))
        code = (
            "import resource, sys\n"
            "from mst.cli.main import app\n"
            "try:\n    app()\nexcept SystemExit:\n    pass\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
        )
        t0 = time.perf_counter()
        with out_file.open("w") as fh:
            proc = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    code,
                    "donors",
                    "rank",
                    str(case_file),
                    "--json",
                    "--explain",
                    explain,
                ],
                stdout=fh,
                stderr=subprocess.PIPE,
                text=True,
                check=True,
            )
        secs = time.perf_counter() - t0
        rss_kb = int(proc.stderr.strip().splitlines()[-1])
        return secs, out_file.stat().st_size / 1e6, rss_kb / 1024


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

    bounds: list[tuple[str, float]] = []
    for name, rec, don in hang_cases():
        r, d = nom.parse_gl(rec), nom.parse_gl(don)
        ms = timed(lambda r=r, d=d: mm.compare(r, d), repeats=3, setup=clear_comparison_caches)
        bounds.append((name, ms))

    alleles = [
        part for d in data["donors"] for part in d["hla_typing"].replace("^", "+").split("+")
    ]

    def clear_allele_caches() -> None:
        for f in (nom.parse_allele, mm.allele_proteins, mm.allele_keys):
            f.cache_clear()

    def mst_reduce() -> None:
        for a in alleles:
            mm.allele_keys(parse_allele(a), "ard")

    peer = pyard_init()
    ratio = None
    if peer is not None:
        ard_obj, build = peer

        def clear_both() -> None:
            # cold reduction on both sides: mst's allele caches and py-ard's lru caches
            clear_allele_caches()
            for name in ("redux", "_redux_allele"):
                fn = getattr(type(ard_obj), name, None)
                if hasattr(fn, "cache_clear"):
                    fn.cache_clear()

        def pyard_reduce() -> None:
            for a in alleles:
                ard_obj.redux(a, "lgx")

        mst_ms, pyard_ms = alternating([mst_reduce, pyard_reduce], setup=clear_both)
        mst_warm, pyard_warm = alternating([mst_reduce, pyard_reduce])
        rows.append((f"peer: mst ARD reduction of {len(alleles):,} alleles, cold", mst_ms))
        rows.append((f"peer: py-ard 2.4.2 redux lgx of {len(alleles):,} alleles, cold", pyard_ms))
        rows.append(("peer: mst ARD reduction, warm (cached)", mst_warm))
        rows.append(("peer: py-ard 2.4.2 redux lgx, warm (cached)", pyard_warm))
        rows.append(("peer: py-ard 2.4.2 database build (offline, temp dir, once)", build * 1000))
        ratio = (pyard_ms / mst_ms, pyard_warm / mst_warm)
    else:
        rows.append((f"peer: mst ARD reduction of {len(alleles):,} alleles", timed(mst_reduce, 3)))

    width = max(len(r[0]) for r in rows + bounds)
    print(f"IPD-IMGT/HLA {ref.imgt_release()}; {N_DONORS} donors; median of repeats")
    print(f"{'step':<{width}}  {'ms':>10}")
    for name, ms in rows:
        print(f"{name:<{width}}  {ms:>10.1f}")
    if ratio is not None:
        print(
            f"py-ard lgx / mst ARD reduction time ratio: cold {ratio[0]:.1f}, warm {ratio[1]:.1f}"
        )
    print(f"\ninputs that used to hang (bound {HANG_BOUND_MS:.0f} ms each, cold comparison caches)")
    for name, ms in bounds:
        verdict = "OK" if ms < HANG_BOUND_MS else "OVER"
        print(f"{name:<{width}}  {ms:>10.1f}  {verdict}")
    target = rows[0][1]
    print(
        f"\ntarget < 100 ms for ranking 1,000 donors: {'MET' if target < 100 else 'NOT MET'}"
        f" ({target:.1f} ms)"
    )
    if "--no-10k" not in sys.argv:
        print("\nmst donors rank --json, 10,000 donors (one run each, separate process)")
        print(f"{'--explain':<10} {'seconds':>8} {'output MB':>10} {'peak RSS MB':>12}")
        for explain in (str(DEFAULT_EXPLAIN), "all"):
            secs, mb, rss = cli_10k(explain)
            print(f"{explain:<10} {secs:>8.1f} {mb:>10.1f} {rss:>12.0f}")


if __name__ == "__main__":
    main()
