"""Same seed → identical cohort and byte-identical files; patient k independent of n."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from mst.cli.main import app
from mst.io.exchange import read_cohort, write_cohort
from mst.simulate import simulate_cohort


def test_same_seed_same_cohort_and_bytes(tmp_path: Path) -> None:
    a, b = simulate_cohort(40, 7), simulate_cohort(40, 7)
    assert a == b
    write_cohort(a, tmp_path / "a.csv")
    write_cohort(b, tmp_path / "b.csv")
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def test_different_seeds_differ() -> None:
    assert simulate_cohort(20, 7).records != simulate_cohort(20, 8).records


def test_patient_k_does_not_depend_on_n() -> None:
    small, large = simulate_cohort(15, 3), simulate_cohort(45, 3)
    assert large.records[:15] == small.records


def test_exchange_round_trip(tmp_path: Path) -> None:
    cohort = simulate_cohort(25, 5, n_centers=3)
    write_cohort(cohort, tmp_path / "c.csv")
    assert read_cohort(tmp_path / "c.csv") == cohort


def test_recipient_typing_is_in_the_record() -> None:
    cohort = simulate_cohort(20, 9)
    again = simulate_cohort(20, 9)
    assert all(r.patient.hla_typing for r in cohort.records)
    assert [r.patient.hla_typing for r in cohort.records] == [
        r.patient.hla_typing for r in again.records
    ]


def test_cli_twice_gives_identical_files(tmp_path: Path) -> None:
    # issue 2, done when: `mst simulate --n 1000 --seed 7` run twice gives identical files
    runner = CliRunner()
    outs = []
    for name in ("one", "two"):
        out, table = tmp_path / f"{name}.csv", tmp_path / f"{name}_table.csv"
        result = runner.invoke(
            app,
            ["simulate", "--n", "1000", "--seed", "7", "--out", str(out), "--table", str(table)],
        )
        assert result.exit_code == 0, result.output
        assert '"n": 1000' in result.output
        outs.append((out.read_bytes(), table.read_bytes()))
    assert outs[0] == outs[1]
    assert len(outs[0][0]) > 0


def test_cli_rejects_bad_arguments(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["simulate", "--n", "5", "--seed", "1", "--out", str(tmp_path / "x.csv"), "--centers", "0"],
    )
    assert result.exit_code == 2
    assert "n_centers" in result.output
    result = runner.invoke(
        app, ["simulate", "--n", "5", "--seed", "1", "--out", str(tmp_path / "x.txt")]
    )
    assert result.exit_code == 2
    assert "path" in result.output


def test_cli_with_progress_bar_gives_the_same_file(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import mst.cli.simulate_cmds as cmds

    runner = CliRunner()
    plain = tmp_path / "plain.csv"
    assert (
        runner.invoke(app, ["simulate", "--n", "12", "--seed", "3", "--out", str(plain)]).exit_code
        == 0
    )
    monkeypatch.setattr(cmds, "stdout_is_terminal", lambda: True)
    shown = tmp_path / "shown.csv"
    result = runner.invoke(app, ["simulate", "--n", "12", "--seed", "3", "--out", str(shown)])
    assert result.exit_code == 0, result.output
    assert shown.read_bytes() == plain.read_bytes()
