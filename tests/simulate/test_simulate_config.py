"""Simulator parameters: every default cites its source; overrides are validated and used."""

from __future__ import annotations

import pytest

from mst.errors import ValidationError
from mst.simulate import SimConfig, parameter_sources, simulate_cohort
from mst.simulate.config import calibration_targets


def test_every_parameter_has_a_source() -> None:
    sources = parameter_sources()
    assert set(sources) == set(SimConfig.model_fields)
    assert all(s.strip() for s in sources.values())
    assert "002 Table 2" in sources["p_early_death"]
    assert "004 §2.2" in sources["mnc_1e8_per_kg"]


def test_targets_have_seed_figures_and_intervals() -> None:
    from mst.simulate.calibration_report import target_interval

    targets = calibration_targets()
    assert {"cr_rate", "early_death_rate", "os_1y"} <= set(targets)
    for t in targets.values():
        assert "range" not in t  # 002's own interval only, never a range of ours
        lo, hi, _ = target_interval(t)
        assert lo <= hi and t["seed"] and t["definition"]


def test_default_is_frozen() -> None:
    cfg = SimConfig.default()
    with pytest.raises(Exception, match="frozen"):
        cfg.p_male = 0.9  # type: ignore[misc]


@pytest.mark.parametrize(
    ("updates", "field"),
    [
        ({"p_eln_risk": {"favorable": 0.5, "intermediate": 0.3, "adverse": 0.3}}, "p_eln_risk"),
        ({"p_male": 1.01}, "p_male"),
        ({"p_male": -0.01}, "p_male"),
        ({"p_relapse": {"<60": 0.4, "60-70": 0.5}}, "p_relapse"),
        ({"p_early_death": {"<60": 0.1, "60-70": 1.1, ">70": 0.1}}, "p_early_death"),
        ({"accrual_end": "2030-01-01"}, "accrual_end"),
        ({"hla_model": "linkage"}, "hla_model"),
        ({"hla_mismatches_10": {"5": 0.5, "11": 0.5}}, "hla_mismatches_10"),
        ({"hla_mismatches_10": {"5": 0.5, "6": 0.6}}, "hla_mismatches_10"),
        ({"nausea_vomiting": {"nausea": 0.5}}, "nausea_vomiting"),
        ({"nausea_vomiting": {"nausea": 0.5, "vomiting": 1.2}}, "nausea_vomiting"),
        ({"child_age_gap": {"<60": [30, 20], "60-70": [25, 33], ">70": [30, 38]}},
         "child_age_gap"),
        ({"unrelated_donor_age": [35, -1]}, "unrelated_donor_age"),
        ({"other_related_donor_age": [56, 60]}, "other_related_donor_age"),
    ],
)
def test_bad_overrides_are_rejected(updates: dict, field: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValidationError, match=field):
        SimConfig.default().with_updates(**updates)


@pytest.mark.parametrize("p", [0.0, 1.0])
def test_probability_bounds_accepted(p: float) -> None:
    assert SimConfig.default().with_updates(p_male=p).p_male == p


def test_overrides_change_the_cohort() -> None:
    cfg = SimConfig.default().with_updates(
        p_early_death={"<60": 0.0, "60-70": 0.0, ">70": 0.0},
        p_relationship={
            "child": 0.0,
            "sibling": 0.0,
            "other_related": 0.0,
            "parent": 0.0,
            "unrelated": 1.0,
        },
        p_male=1.0,
        p_gvhd=0.0,
    )
    cohort = simulate_cohort(60, 4, config=cfg)
    cohort.check_consistency()
    for r in cohort.records:
        assert r.patient.sex.value == "M"
        assert all(d.relationship.value == "unrelated" for d in r.donors)
        assert not any(e.kind.value == "gvhd" for e in r.events)
        death = r.death
        if death is not None:
            assert (death.date - min(c.start_date for c in r.courses)).days > 28


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"n": -1, "seed": 1}, "n"),
        ({"n": 5, "seed": -1}, "seed"),
        ({"n": 5, "seed": 1, "n_centers": 0}, "n_centers"),
        ({"n": 5, "seed": 1, "n_centers": 100}, "n_centers"),
        ({"n": True, "seed": 1}, "n"),
    ],
)
def test_bad_arguments(kwargs: dict, field: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValidationError, match=field):
        simulate_cohort(**kwargs)


@pytest.mark.parametrize("n_centers", [1, 99])
def test_center_bounds_accepted(n_centers: int) -> None:
    cohort = simulate_cohort(3, 1, n_centers=n_centers)
    assert len(cohort.centers) == n_centers
    cohort.check_consistency()


def test_age_range_parameter_defaults_to_002(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from typer.testing import CliRunner

    from mst.cli.main import app
    from mst.simulate.config import SimConfig

    assert SimConfig.default().p_age_group["<60"] == 0.0  # 002 Methods: >= 60 only
    res = CliRunner().invoke(app, ["simulate", "--n", "40", "--seed", "3", "--out",
                                   str(tmp_path / "c.csv"), "--table", str(tmp_path / "t.csv"),
                                   "--under-60", "0.5"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["n"] == 40
    import pandas as pd

    ages = pd.read_csv(tmp_path / "t.csv")["age"]
    assert (ages < 60).sum() > 5
    bad = CliRunner().invoke(app, ["simulate", "--n", "4", "--seed", "3", "--out",
                                   str(tmp_path / "d.csv"), "--under-60", "1"])
    assert bad.exit_code == 2 and "--under-60" in bad.output


def test_cli_hla_model(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd
    from typer.testing import CliRunner

    from mst.cli.main import app

    runner = CliRunner()
    counts = {}
    for model in ("seed_002", "haplotype"):
        res = runner.invoke(app, ["simulate", "--n", "30", "--seed", "4", "--out",
                                  str(tmp_path / f"{model}.csv"), "--table",
                                  str(tmp_path / f"{model}_t.csv"), "--hla-model", model])
        assert res.exit_code == 0, res.output
        counts[model] = set(pd.read_csv(tmp_path / f"{model}_t.csv")["hla_mismatches_10"])
    assert counts["seed_002"] <= {5, 6} and counts["haplotype"] - {5, 6}
    bad = runner.invoke(app, ["simulate", "--n", "2", "--seed", "4", "--out",
                              str(tmp_path / "x.csv"), "--hla-model", "linkage"])
    assert bad.exit_code == 2 and "--hla-model" in bad.output and "Traceback" not in bad.output
