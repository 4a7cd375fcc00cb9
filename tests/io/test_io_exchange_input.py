"""Every exchange file gets a clean answer: exit 0 with the data, or exit 2 naming row and
field — never a traceback, never a partial write (issue: registry reliability)."""

from __future__ import annotations

import codecs
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from mst.cli.main import app
from mst.domain import Cohort
from mst.errors import MstError
from mst.io.exchange import read_cohort, write_cohort

from ..conftest import build_record

runner = CliRunner()


@pytest.fixture(scope="module")
def valid_text(tmp_path_factory: pytest.TempPathFactory) -> str:
    from mst.domain import Center

    cohort = Cohort(
        centers=(Center(id="C01", name="Zürich Hämatologie", country="CH"),),
        records=(build_record("C01-0001"), build_record("C01-0002")),
    )
    path = tmp_path_factory.mktemp("x") / "ok.csv"
    write_cohort(cohort, path)
    return path.read_text(encoding="utf-8")


def _import(path: Path, *extra: str) -> tuple[int, str]:
    db = f"sqlite:///{path.parent / 'reg.sqlite'}"
    res = runner.invoke(app, ["import", str(path), "--db", db, *extra])
    return res.exit_code, res.stdout + res.stderr


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


@pytest.mark.parametrize(
    ("encoding", "bom", "declare"),
    [("utf-8", b"", None), ("utf-8", codecs.BOM_UTF8, None), ("utf-16-le", codecs.BOM_UTF16_LE,
     None), ("cp1252", b"", "cp1252"), ("latin-1", b"", "latin-1")],
)
def test_encodings_by_bom_or_declared(
    tmp_path: Path, valid_text: str, encoding: str, bom: bytes, declare: str | None
) -> None:
    p = _write(tmp_path, "f.csv", bom + valid_text.encode(encoding))
    code, out = _import(p, *(["--encoding", declare] if declare else []))
    assert code == 0, out
    assert read_cohort(p, encoding=declare).centers[0].name == "Zürich Hämatologie"


def test_cp1252_without_declaration_is_refused_with_a_hint(tmp_path: Path, valid_text: str) -> None:
    p = _write(tmp_path, "f.csv", valid_text.encode("cp1252"))
    code, out = _import(p)
    assert code == 2 and "--encoding" in out and "Traceback" not in out


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (bytes(range(256)) * 8, "binary"),
        (b"PK\x03\x04" + b"\x00" * 50, "ZIP"),
        (b"", "empty"),
        (b"\xff\xfe\x00", "UTF-16"),
    ],
)
def test_garbage_is_refused_in_one_line(tmp_path: Path, data: bytes, words: str) -> None:
    code, out = _import(_write(tmp_path, "g.csv", data))
    assert code == 2 and "Traceback" not in out
    assert len(out.strip().splitlines()) == 1


def _mutate(text: str, column: str, value: str, row_type: str = "patient") -> str:
    lines = text.splitlines()
    header = lines[0].split(",")
    j = header.index(column)
    for i, line in enumerate(lines[1:], start=1):
        cells = line.split(",")
        if cells[0] == row_type:
            cells[j] = value
            lines[i] = ",".join(cells)
            break
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("column", "value", "row_type", "words"),
    [
        ("birth_date", "1800-01-01", "patient", "birth_date"),
        ("infused_at", "2020-01-20T10:30:00+05:00", "infusion", "UTC offset"),
        ("infused_at", "2020-01-20T10:30:00Z", "infusion", "UTC offset"),
        ("hla_typing", "A*01:01" * 3000, "donor", "longer than the limit"),
        ("diagnosis_date", "2020-02-30", "patient", "diagnosis_date"),
    ],
)
def test_invalid_values_name_row_and_field(
    tmp_path: Path, valid_text: str, column: str, value: str, row_type: str, words: str
) -> None:
    p = tmp_path / "f.csv"
    p.write_text(_mutate(valid_text, column, value, row_type), encoding="utf-8")
    code, out = _import(p)
    assert code == 2, out
    assert "row " in out and words in out and "Traceback" not in out


def test_donor_id_shared_by_two_patients_refused_on_every_path(
    tmp_path: Path, valid_text: str
) -> None:
    text = valid_text.replace("C01-0002-D1", "C01-0001-D1")
    p = tmp_path / "dup.csv"
    p.write_text(text, encoding="utf-8")
    code, out = _import(p)
    assert code == 2 and "donor_id" in out and "C01-0001-D1" in out
    res = runner.invoke(app, ["cohort", "--from", str(p), "--out", str(tmp_path / "t.csv")])
    assert res.exit_code == 2 and "C01-0001-D1" in res.stderr
    assert not (tmp_path / "t.csv").exists()


def test_unknown_column_is_refused(tmp_path: Path, valid_text: str) -> None:
    lines = valid_text.splitlines()
    lines[0] += ",nickname"
    p = tmp_path / "f.csv"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out = _import(p)
    assert code == 2 and "nickname" in out


def test_missing_tokens_read_as_missing_like_blank(tmp_path: Path, valid_text: str) -> None:
    p = tmp_path / "na.csv"
    p.write_text(_mutate(valid_text, "height_cm", "NA"), encoding="utf-8")
    q = tmp_path / "blank.csv"
    q.write_text(_mutate(valid_text, "height_cm", ""), encoding="utf-8")
    assert read_cohort(p) == read_cohort(q)


def _mutations(text: str, seed: int) -> bytes:
    rng = random.Random(seed)
    data = bytearray(text.encode("utf-8"))
    for _ in range(rng.randint(1, 4)):
        op = rng.choice(["flip", "cut", "dup", "cell", "quote", "nul"])
        pos = rng.randrange(len(data))
        if op == "flip":
            data[pos] = rng.randrange(256)
        elif op == "cut":
            del data[pos:]
            if not data:
                data.extend(b"x")
        elif op == "dup":
            data[pos:pos] = data[pos : pos + rng.randint(1, 200)]
        elif op == "cell":
            data[pos:pos] = rng.choice(
                [b",", b"\n", b"NA", b"-1", b"1e309", b"2099-01-01", b"\xe9", b"T25:61"]
            )
        elif op == "quote":
            data[pos:pos] = b'"'
        else:
            data[pos:pos] = b"\x00"
    return bytes(data)


@settings(
    max_examples=40, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(seed=st.integers(0, 10**6))
def test_fuzzed_files_get_a_clean_answer_and_no_partial_write(
    tmp_path_factory: pytest.TempPathFactory, valid_text: str, seed: int
) -> None:
    tmp = tmp_path_factory.mktemp("fuzz")
    p = _write(tmp, "f.csv", _mutations(valid_text, seed))
    try:
        read_cohort(p)
        expect_ok = True
    except MstError as exc:
        expect_ok = False
        message = str(exc)
        assert "Traceback" not in message and "np." not in message
        assert "row" in message or "file" in message or str(p) in message, message
    code, out = _import(p)
    assert "Traceback" not in out
    assert code == (0 if expect_ok else 2), out
    if not expect_ok:  # nothing written
        from mst.registry import open_registry

        with open_registry(f"sqlite:///{tmp / 'reg.sqlite'}") as reg:
            assert reg.counts()["patients"] == 0
