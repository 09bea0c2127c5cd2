"""Honest results on the user's data: baselines, regression in the targets' units, no overwrites."""

from __future__ import annotations

import csv
import json

import pytest
from _cli_helpers import write_csv

from keras_recipes.cli import main

KEEP = ["--cpu-threads", "keep"]


def diabetes_csv(path):
    """scikit-learn's bundled diabetes data (442 patients, 10 features) as a CSV."""
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes()
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*bunch.feature_names, "progression"])
        writer.writerows([*row, value] for row, value in zip(bunch.data, bunch.target))
    return str(path)


def _train(data, target, report, tmp_path, *extra):
    assert main(["train", "--data", data, "--target", target, "--report", str(report),
                 "--output", str(tmp_path / f"{report.name}.keras"), "--quiet", *KEEP,
                 *extra]) == 0
    return json.loads((report / "summary.json").read_text())


def test_regression_beats_the_training_mean_in_the_targets_own_units(tmp_path, capsys):
    summary = _train(diabetes_csv(tmp_path / "diabetes.csv"), "progression",
                     tmp_path / "diabetes", tmp_path, "--epochs", "30")
    data, base = summary["data"], summary["baseline"]
    assert data["task"] == "regression" and data["target_mean"][0] == pytest.approx(152, abs=10)
    assert base["metric"] == "mae" and base["value"] == pytest.approx(65, abs=8)  # target units
    # seeds 0-4, one thread, oneDNN off: test MAE 40.7-44.9, 0.63-0.70 x the baseline's 64.1
    test_mae = summary["metrics"]["test"]["mae"]
    assert test_mae < 0.85 * base["value"], (test_mae, base)
    assert summary["verdict"]["beats_baseline"] is True
    assert "beats the baseline" in capsys.readouterr().out


def test_a_model_that_cannot_beat_its_baseline_is_a_finding(tmp_path, capsys):
    """Constant inputs: every prediction is the same class, never better than the majority."""
    path = tmp_path / "constant.csv"
    path.write_text("a,b,label\n" + "".join(f"1.0,2.0,{int(i % 5 < 2)}\n" for i in range(100)))
    summary = _train(str(path), "label", tmp_path / "constant", tmp_path, "--epochs", "3",
                     "--hidden", "16")
    assert summary["metrics"]["test"]["accuracy"] <= summary["baseline"]["value"] + 1e-6
    assert summary["verdict"]["beats_baseline"] is False
    kinds = [problem["kind"] for problem in summary["verdict"]["problems"]]
    assert "no better than the baseline" in kinds
    printed = capsys.readouterr().out
    assert "does not beat the baseline" in printed and "no better than the baseline" in printed


def test_runs_never_overwrite_each_other(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    first, second = write_csv(tmp_path / "first.csv"), write_csv(tmp_path / "second.csv", seed=1)
    tiny = ["--target", "label", "--hidden", "8", "--epochs", "1", "--quiet", *KEEP]
    for data in (first, second, first):
        assert main(["train", "--data", data, *tiny]) == 0
    models = sorted(path.name for path in (tmp_path / "models").iterdir())
    assert models == ["custom_dnn_first.keras", "custom_dnn_first_2.keras",
                      "custom_dnn_second.keras"]
    reports = sorted(path.name for path in (tmp_path / "reports").iterdir())
    assert reports == ["custom_dnn_first", "custom_dnn_first_2", "custom_dnn_second"]
    model = tmp_path / "models" / "custom_dnn_first.keras"
    written = model.stat().st_mtime_ns
    capsys.readouterr()
    assert main(["train", "--data", first, "--name", "custom_dnn_first", *tiny]) == 2
    err = capsys.readouterr().err
    assert "--name custom_dnn_first" in err and "--overwrite" in err and "Traceback" not in err
    assert model.stat().st_mtime_ns == written
    assert main(["train", "--data", first, "--name", "custom_dnn_first", "--overwrite",
                 *tiny]) == 0
    assert model.stat().st_mtime_ns != written
