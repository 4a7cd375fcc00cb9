"""Reading chimerism assay tables (CSV) and running the quantification on them.

Layouts (one row per allele/assay reading; header names are case-sensitive):

NGS read counts / STR peak areas
    ``kind,sample,date,donor,marker,allele,reads`` (NGS) or ``…,area`` (STR).
    ``kind`` is ``recipient`` (pre-treatment recipient DNA), ``donor``
    (pre-treatment donor DNA; ``donor`` names the donor) or ``sample``
    (post-treatment blood). ``date`` (ISO) is optional.
qPCR Cts
    ``role,sample,date,assay,ct,quantity``. ``role`` is ``standard`` (a
    dilution point: ``quantity`` in any unit, same for both assays),
    ``calibrator`` (``quantity`` = its donor %, default 100) or ``sample``;
    ``assay`` is ``target`` (donor-specific allele) or ``reference``; an empty
    ``ct`` (or ``Undetermined``) means no amplification. Replicate Cts are averaged.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mst.errors import ValidationError
from mst.monitoring.chimerism.genotypes import Genotype, call_genotype, select_informative_markers
from mst.monitoring.chimerism.ngs import quantify_ngs
from mst.monitoring.chimerism.qpcr import curve_percent, ddct_percent, fit_standard_curve
from mst.monitoring.chimerism.str_ import quantify_str


def _rows(path: str | Path, required: Iterable[str]) -> list[tuple[int, dict[str, str]]]:
    p = Path(path)
    with p.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        fields = reader.fieldnames or []
        missing = [f for f in required if f not in fields]
        if missing:
            raise ValidationError(f"{p.name}: header", fields, f"must contain {missing}")
        return [
            (i, {k: (v or "").strip() for k, v in r.items() if k}) for i, r in enumerate(reader, 2)
        ]


def _date(s: str, where: str) -> dt.date | None:
    if not s:
        return None
    try:
        return dt.date.fromisoformat(s[:10])
    except ValueError:
        raise ValidationError(where, s, "must be an ISO date (YYYY-MM-DD)") from None


def _num(s: str, where: str) -> float:
    try:
        v = float(s)
    except ValueError:
        raise ValidationError(where, s, "must be a number") from None
    if math.isnan(v) or v < 0:
        raise ValidationError(where, s, "must be a number >= 0")
    return v


def _allele_table(
    path: str | Path, value_col: str
) -> tuple[
    dict[str, dict[str, float]],
    dict[str, dict[str, dict[str, float]]],
    dict[str, tuple[dt.date | None, dict[str, dict[str, float]]]],
]:
    rows = _rows(path, ("kind", "sample", "marker", "allele", value_col))
    recipient: dict[str, dict[str, float]] = defaultdict(dict)
    donors: dict[str, dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    samples: dict[str, tuple[dt.date | None, dict[str, dict[str, float]]]] = {}
    for i, r in rows:
        where = f"row {i}"
        v = _num(r[value_col], f"{where}: {value_col}")
        kind, marker, allele = r["kind"], r["marker"], r["allele"]
        if not marker or not allele:
            raise ValidationError(f"{where}: marker/allele", (marker, allele), "must not be empty")
        if kind == "recipient":
            recipient[marker][allele] = recipient[marker].get(allele, 0) + v
        elif kind == "donor":
            did = r.get("donor") or "donor"
            donors[did][marker][allele] = donors[did][marker].get(allele, 0) + v
        elif kind == "sample":
            name = r["sample"] or f"sample{i}"
            d = _date(r.get("date", ""), f"{where}: date")
            if name not in samples:
                samples[name] = (d, defaultdict(dict))
            tab = samples[name][1]
            tab[marker][allele] = tab[marker].get(allele, 0) + v
        else:
            raise ValidationError(f"{where}: kind", kind, "must be recipient, donor or sample")
    if not recipient:
        raise ValidationError("kind", "recipient", "no pre-treatment recipient rows")
    if not donors:
        raise ValidationError("kind", "donor", "no pre-treatment donor rows")
    return recipient, donors, samples


def _genotypes(
    recipient: dict[str, dict[str, float]], donors: dict[str, dict[str, dict[str, float]]]
) -> tuple[dict[str, Genotype], dict[str, dict[str, Genotype]]]:
    rg = {m: call_genotype(s, where=f"recipient.{m}") for m, s in recipient.items()}
    dg = {
        d: {m: call_genotype(s, where=f"donor {d}.{m}") for m, s in t.items()}
        for d, t in donors.items()
    }
    return rg, dg


def ngs_from_csv(
    path: str | Path,
    *,
    lod_pct: float | None = None,
    lob_pct: float | None = None,
    confidence: float | None = None,
) -> dict[str, Any]:
    """Genotype, select informative markers and quantify every sample for every donor.

    Returns
    -------
    dict
        ``{"informative": {donor: [markers]}, "results": [NgsResult, ...]}``.
    """
    recipient, donors, samples = _allele_table(path, "reads")
    rg, dg = _genotypes(recipient, donors)
    informative = select_informative_markers(rg, dg)
    results = []
    for name, (d, reads) in samples.items():
        for did, markers in informative.items():
            if not markers:
                raise ValidationError(f"donor {did}", [], "no informative marker")
            int_reads = {m: {a: int(v) for a, v in t.items()} for m, t in reads.items()}
            results.append(
                quantify_ngs(
                    int_reads,
                    markers,
                    sample=name,
                    date=d,
                    lod_pct=lod_pct,
                    lob_pct=lob_pct,
                    confidence=confidence,
                )
            )
    return {"informative": informative, "results": results}


def str_from_csv(path: str | Path, *, lod_pct: float | None = None) -> dict[str, Any]:
    """Genotype from pre-treatment peaks and quantify every sample for every donor."""
    recipient, donors, samples = _allele_table(path, "area")
    rg, dg = _genotypes(recipient, donors)
    informative = select_informative_markers(rg, dg)
    single = len(dg) == 1
    results = []
    for name, (d, areas) in samples.items():
        for did, markers in informative.items():
            if not markers and not single:
                raise ValidationError(f"donor {did}", [], "no donor-specific marker")
            # One donor: every marker whose genotypes differ is usable (incl. markers with
            # recipient-specific peaks only). Several donors: donor-specific markers only.
            use = None if single else markers
            results.append(
                quantify_str(
                    areas, rg, dg[did], use, sample=name, donor_id=did, date=d, lod_pct=lod_pct
                )
            )
    return {"informative": informative, "results": results}


def _ct(s: str, where: str) -> float | None:
    if s == "" or s.lower() in ("undetermined", "na", "nan", "-"):
        return None
    return _num(s, where)


def qpcr_from_csv(
    path: str | Path,
    *,
    method: str = "auto",
    efficiency_target: float | None = None,
    efficiency_reference: float | None = None,
    lod_pct: float | None = None,
) -> dict[str, Any]:
    """Quantify every sample of a qPCR table by ΔΔCt or standard curve.

    Parameters
    ----------
    method : {"auto", "ddct", "curve"}
        ``auto`` uses standard curves when standards for both assays exist.
    efficiency_target, efficiency_reference : float, optional
        ΔΔCt efficiencies (fractions). By default 1.0, or the efficiencies of
        the standard curves when standards are present.

    Returns
    -------
    dict
        ``{"method": ..., "curves": {...}, "results": [{sample, date, value}, ...]}``.
    """
    if method not in ("auto", "ddct", "curve"):
        raise ValidationError("method", method, "must be auto, ddct or curve")
    rows = _rows(path, ("role", "sample", "assay", "ct"))
    std: dict[str, tuple[list[float], list[float]]] = {"target": ([], []), "reference": ([], [])}
    cal: dict[str, list[float]] = {"target": [], "reference": []}
    cal_pct = 100.0
    smp: dict[str, dict[str, list[float | None]]] = {}
    dates: dict[str, dt.date | None] = {}
    for i, r in rows:
        where = f"row {i}"
        assay = r["assay"]
        if assay not in ("target", "reference"):
            raise ValidationError(f"{where}: assay", assay, "must be target or reference")
        ct = _ct(r["ct"], f"{where}: ct")
        role = r["role"]
        if role == "standard":
            if ct is None:
                raise ValidationError(f"{where}: ct", r["ct"], "a standard needs a Ct")
            std[assay][0].append(_num(r.get("quantity", ""), f"{where}: quantity"))
            std[assay][1].append(ct)
        elif role == "calibrator":
            if ct is None:
                raise ValidationError(f"{where}: ct", r["ct"], "a calibrator needs a Ct")
            cal[assay].append(ct)
            if r.get("quantity"):
                cal_pct = _num(r["quantity"], f"{where}: quantity")
        elif role == "sample":
            name = r["sample"] or f"sample{i}"
            smp.setdefault(name, {"target": [], "reference": []})[assay].append(ct)
            dates.setdefault(name, _date(r.get("date", ""), f"{where}: date"))
        else:
            raise ValidationError(f"{where}: role", role, "must be standard, calibrator or sample")
    have_curves = all(len(std[a][0]) >= 3 for a in std)
    use = ("curve" if have_curves else "ddct") if method == "auto" else method
    curves = {a: fit_standard_curve(*std[a]) for a in std} if have_curves else {}
    if use == "curve" and not curves:
        raise ValidationError("method", "curve", "needs >= 3 standards for target and reference")
    if use == "ddct" and not (cal["target"] and cal["reference"]):
        raise ValidationError("role", "calibrator", "ΔΔCt needs calibrator Cts for both assays")

    def mean(v: list[float | None]) -> float | None:
        got = [x for x in v if x is not None]
        return sum(got) / len(got) if got else None

    e_t = (
        efficiency_target
        if efficiency_target is not None
        else (curves["target"].efficiency if curves else 1.0)
    )
    e_r = (
        efficiency_reference
        if efficiency_reference is not None
        else (curves["reference"].efficiency if curves else 1.0)
    )
    results = []
    for name, cts in smp.items():
        t, r = mean(cts["target"]), mean(cts["reference"])
        if r is None:
            raise ValidationError(f"sample {name}", None, "needs a reference-gene Ct")
        if use == "curve":
            val = curve_percent(t, r, curves["target"], curves["reference"], lod_pct=lod_pct)
        else:
            val = ddct_percent(
                t,
                r,
                sum(cal["target"]) / len(cal["target"]),
                sum(cal["reference"]) / len(cal["reference"]),
                calibrator_pct=cal_pct,
                efficiency_target=e_t,
                efficiency_reference=e_r,
                lod_pct=lod_pct,
            )
        results.append(
            {
                "sample": name,
                "date": dates.get(name),
                "ct_target": t,
                "ct_reference": r,
                "value": val,
            }
        )
    return {
        "method": use,
        "curves": curves,
        "efficiencies": {"target": e_t, "reference": e_r},
        "results": results,
    }
