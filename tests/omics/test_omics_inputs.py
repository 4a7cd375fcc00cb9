"""Reading counts and sample sheets; every bad input is refused with a message naming the
row, field and rule (issue 17: non-integer, negative, missing samples, duplicated genes,
design not full rank)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mst.errors import ValidationError
from mst.omics.de import Contrast, design_matrix, design_terms, differential_expression
from mst.omics.io import align, read_counts, read_sample_sheet


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


MATRIX = "gene_id,S1,S2,S3,S4\nG1,10,12,30,33\nG2,0,1,5,4\nG3,100,90,80,70\n"
SHEET = (
    "sample_id,condition,patient_id,batch\nS1,healthy,,b1\nS2,healthy,,b2\n"
    "S3,MST,C01-0001,b1\nS4,MST,C01-0002,b2\n"
)


def test_matrix_and_sheet_read_and_align(tmp_path: Path) -> None:
    cm = read_counts(write(tmp_path, "c.csv", MATRIX))
    assert cm.source_format == "matrix"
    assert cm.counts.loc["G3", "S4"] == 70
    assert cm.counts.dtypes.unique().tolist() == [np.dtype("int64")]
    sheet = read_sample_sheet(write(tmp_path, "s.csv", SHEET))
    counts, meta = align(cm, sheet)
    assert list(counts.columns) == ["S1", "S2", "S3", "S4"]
    assert meta.loc["S3", "patient_id"] == "C01-0001"


def test_tsv_with_na_patient_and_reordered_columns(tmp_path: Path) -> None:
    cm = read_counts(write(tmp_path, "c.tsv", MATRIX.replace(",", "\t")))
    sheet = read_sample_sheet(
        write(
            tmp_path,
            "s.tsv",
            "sample_id\tcondition\tpatient_id\nS3\tMST\tNA\nS1\thealthy\t\n"
            "S2\thealthy\t\nS4\tMST\tC01-0002\n",
        )
    )
    counts, meta = align(cm, sheet)
    assert list(counts.columns) == ["S3", "S1", "S2", "S4"]
    assert pd.isna(meta.loc["S3", "patient_id"])


def test_featurecounts_table(tmp_path: Path) -> None:
    text = (
        '# Program:featureCounts v2.0.3; Command:"featureCounts" "-a" "genes.gtf"\n'
        "Geneid\tChr\tStart\tEnd\tStrand\tLength\t/data/bam/S1.bam\t/data/bam/S2.bam\n"
        "ENSG00000141510.17\tchr17\t7661779\t7687538\t-\t2579\t15\t20\n"
        "ENSG00000012048.23\tchr17\t43044295\t43170245\t-\t7088\t3\t0\n"
    )
    cm = read_counts(write(tmp_path, "fc.txt", text))
    assert cm.source_format == "featurecounts"
    assert list(cm.counts.columns) == ["S1", "S2"]
    assert cm.counts.loc["ENSG00000141510.17", "S2"] == 20


def test_htseq_files_drop_counter_rows(tmp_path: Path) -> None:
    body = "G1\t{a}\nG2\t{b}\n__no_feature\t7\n__ambiguous\t2\n__alignment_not_unique\t11\n"
    p1 = write(tmp_path, "S1.counts.txt", body.format(a=5, b=0))
    p2 = write(tmp_path, "S2.counts.txt", body.format(a=8, b=3))
    cm = read_counts([p1, p2])
    assert cm.source_format == "htseq"
    assert list(cm.counts.columns) == ["S1", "S2"]
    assert list(cm.counts.index) == ["G1", "G2"]
    assert cm.dropped_rows["__no_feature"] == 14


def test_htseq_files_with_different_genes_are_refused(tmp_path: Path) -> None:
    p1 = write(tmp_path, "S1.txt", "G1\t5\nG2\t0\n")
    p2 = write(tmp_path, "S2.txt", "G1\t5\nG3\t0\n")
    with pytest.raises(ValidationError, match=r"S2\.txt.*differs from the first"):
        read_counts([p1, p2])


@pytest.mark.parametrize(
    ("cell", "field", "rule"),
    [
        ("1.5", r"c.csv row 3 \(G2\), sample S3", "whole numbers of reads"),
        ("-3", r"c.csv row 3 \(G2\), sample S3", "must not be negative"),
        ("NA", r"c.csv row 3 \(G2\), sample S3", "count is missing"),
        ("", r"c.csv row 3 \(G2\), sample S3", "count is missing"),
        ("abc", r"c.csv row 3 \(G2\), sample S3", "whole number >= 0"),
    ],
)
def test_bad_counts_are_refused(tmp_path: Path, cell: str, field: str, rule: str) -> None:
    text = MATRIX.replace("G2,0,1,5,4", f"G2,0,1,{cell},4")
    with pytest.raises(ValidationError, match=f"{field}.*{rule}"):
        read_counts(write(tmp_path, "c.csv", text))


def test_integer_valued_decimal_is_still_refused(tmp_path: Path) -> None:
    """'5.0' is how normalised tables look; DESeq2 needs raw integer counts."""
    with pytest.raises(ValidationError, match="whole numbers"):
        read_counts(write(tmp_path, "c.csv", MATRIX.replace("G2,0,1,5,4", "G2,0,1,5.0,4")))


def test_duplicated_gene_is_refused(tmp_path: Path) -> None:
    text = MATRIX + "G2,1,1,1,1\n"
    with pytest.raises(ValidationError, match=r"rows \[3, 5\].*'G2'.*more than once"):
        read_counts(write(tmp_path, "c.csv", text))


def test_duplicated_sample_column_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="sample appears in two columns"):
        read_counts(write(tmp_path, "c.csv", MATRIX.replace("S4", "S3", 1)))


def test_sample_missing_from_sheet_is_refused(tmp_path: Path) -> None:
    cm = read_counts(write(tmp_path, "c.csv", MATRIX))
    sheet = read_sample_sheet(write(tmp_path, "s.csv", SHEET.replace("S4,MST,C01-0002,b2\n", "")))
    with pytest.raises(ValidationError, match=r"sample S4.*missing from the sample sheet"):
        align(cm, sheet)


def test_sheet_sample_without_counts_is_refused(tmp_path: Path) -> None:
    cm = read_counts(write(tmp_path, "c.csv", MATRIX))
    sheet = read_sample_sheet(write(tmp_path, "s.csv", SHEET + "S5,MST,,b1\n"))
    with pytest.raises(ValidationError, match=r"sample S5.*no column in the count matrix"):
        align(cm, sheet)


@pytest.mark.parametrize(
    ("sheet", "match"),
    [
        ("sample_id,group\nS1,a\n", "column condition.*is required"),
        ("sample_id,condition\nS1,MST\nS1,healthy\n", "'S1'.*appears more than once"),
        ("sample_id,condition\nS1,MST\nS2,\n", r"row 3 \(S2\), condition.*is missing"),
        ("sample_id,condition\nS1,MST\n,healthy\n", "row 3, sample_id.*is missing"),
        ("sample_id,condition\nS1,MST patient\n", "single word"),
    ],
)
def test_bad_sample_sheets(tmp_path: Path, sheet: str, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        read_sample_sheet(write(tmp_path, "s.csv", sheet))


def _meta(cond: list[str], batch: list[str] | None = None) -> pd.DataFrame:
    d = {"condition": cond}
    if batch is not None:
        d["batch"] = batch
    return pd.DataFrame(d, index=[f"S{i}" for i in range(len(cond))])


def test_design_not_full_rank_is_refused() -> None:
    meta = _meta(["MST", "MST", "healthy", "healthy"], ["b1", "b1", "b2", "b2"])
    with pytest.raises(ValidationError, match="not full rank"):
        design_matrix(meta, ["batch", "condition"], Contrast("condition", "MST", "healthy"))


def test_design_with_crossed_batch_is_accepted() -> None:
    meta = _meta(["MST", "MST", "healthy", "healthy", "MST"], ["b1", "b2", "b1", "b2", "b1"])
    X = design_matrix(meta, ["batch", "condition"], Contrast("condition", "MST", "healthy"))
    assert list(X.columns) == ["Intercept", "batch[T.b2]", "condition[T.MST]"]


def test_design_without_replicates_is_refused() -> None:
    with pytest.raises(ValidationError, match="no replicates: 2 samples for 2 coefficients"):
        design_matrix(
            _meta(["MST", "healthy"]), ["condition"], Contrast("condition", "MST", "healthy")
        )


@pytest.mark.parametrize(
    ("design", "contrast", "match"),
    [
        ("condition", "condition,MST,healthy", "must start with '~'"),
        ("~condition*batch", "condition,MST,healthy", "additive formula"),
        ("~age", "condition,MST,healthy", "design variable age.*not a sample-sheet column"),
        ("~condition", "condition,AML,healthy", "test level.*'AML'.*not a value"),
        ("~condition", "condition,MST", "FACTOR,TEST_LEVEL,REFERENCE_LEVEL"),
        ("~condition", "condition,MST,MST", "must differ"),
    ],
)
def test_bad_design_or_contrast(design: str, contrast: str, match: str) -> None:
    counts = pd.DataFrame({"S0": [5, 6], "S1": [7, 8], "S2": [1, 2], "S3": [3, 4]})
    meta = _meta(["MST", "MST", "healthy", "healthy"])
    with pytest.raises(ValidationError, match=match):
        differential_expression(counts, meta, design, contrast)


def test_design_terms() -> None:
    assert design_terms("~ batch + condition") == ["batch", "condition"]
    with pytest.raises(ValidationError, match="twice"):
        design_terms("~condition + condition")
