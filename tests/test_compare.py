"""recipes.compare: the same splits, several seeds, the spread, and the verdicts that follow."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import _comparison_results
import numpy as np
import pytest
from _cli_helpers import read_page, write_csv

import keras_recipes as recipes
from keras_recipes.compare import Recipe
from keras_recipes.comparison import (
    Comparison,
    lower_is_better,
    markdown_table,
    welch_interval,
)
from keras_recipes.data import Splits


def tiny_digits(n_train: int = 300, n_valid: int = 100, n_test: int = 120) -> Splits:
    data = recipes.load_digits()
    return Splits((data.train[0][:n_train], data.train[1][:n_train]),
                  (data.valid[0][:n_valid], data.valid[1][:n_valid]),
                  (data.test[0][:n_test], data.test[1][:n_test]), data.class_names)


def small_mlp(data: Splits, learning_rate: float = 1e-2, fast: bool = True):
    model = recipes.build_dnn(data.input_shape, data.n_classes, hidden=(16,))
    return recipes.compile_recipe(model, "adam", learning_rate=learning_rate, fast=fast)


def runs_of(values: dict[str, list[float]], metric: str = "accuracy") -> dict[str, list[dict]]:
    """Runs as `compare` records them, with the given test values (no training)."""
    return {name: [{"seed": seed, "test": {metric: value, "loss": 1 - value},
                    "curves": {"loss": [2.0, 1 - value], f"val_{metric}": [0.1, value]},
                    "epoch_s": [1.0, 0.1], "findings": None}
                   for seed, value in enumerate(seed_values)]
            for name, seed_values in values.items()}


# The statistics, on numbers whose answer is known


def test_welch_interval_is_the_textbook_one():
    difference, half, df = welch_interval([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
    # se = sqrt(1/3 + 1/3); df = (2/3)^2 / (2 (1/3)^2 / 2) = 4; t(0.975, 4) = 2.7764
    assert difference == 3.0 and df == pytest.approx(4.0)
    assert half == pytest.approx(2.7764451 * math.sqrt(2 / 3), rel=1e-6)
    assert welch_interval([1.0, 2.0, 3.0], [4.0, 5.0, 6.0], confidence=0.5)[1] < half


def test_without_spread_the_interval_has_no_width():
    assert welch_interval([0.5, 0.5], [0.5, 0.5]) == (0.0, 0.0, math.inf)
    assert welch_interval([0.5, 0.5], [0.7, 0.7])[:2] == pytest.approx((0.2, 0.0))


@pytest.mark.parametrize(("a", "b", "confidence"), [([1.0], [1.0, 2.0], 0.95),
                                                    ([1.0, 2.0], [1.0, 2.0], 1.0)])
def test_welch_interval_refuses_what_it_cannot_compute(a, b, confidence):
    with pytest.raises(ValueError, match="at least 2 values|confidence"):
        welch_interval(a, b, confidence)


def test_a_metric_is_better_lower_when_it_is_a_loss_or_an_error():
    assert [lower_is_better(m) for m in ("loss", "val_loss", "mae", "accuracy", "val_auc")] == [
        True, True, True, False, False]


def test_verdicts_follow_from_the_intervals():
    result = Comparison(recipes={}, seeds=[0, 1, 2], runs=runs_of({
        "a": [0.80, 0.82, 0.81], "b": [0.90, 0.91, 0.92], "c": [0.79, 0.83, 0.81]}))
    verdicts = {(v["a"], v["b"]): v for v in result.verdicts}
    assert verdicts["a", "b"]["better"] == "b" and verdicts["b", "c"]["better"] == "b"
    assert verdicts["a", "b"]["verdict"].startswith("b better than a by 0.1000 +- ")
    assert verdicts["a", "b"]["low"] > 0 and verdicts["b", "c"]["high"] < 0
    assert verdicts["a", "c"]["better"] is None
    assert "no difference beyond the spread" in verdicts["a", "c"]["verdict"]
    assert verdicts["a", "c"]["low"] < 0 < verdicts["a", "c"]["high"]


def test_a_loss_is_judged_lower_is_better_and_a_diverged_run_is_not_compared():
    result = Comparison(recipes={}, seeds=[0, 1], metric="loss", runs=runs_of({
        "a": [0.80, 0.81], "b": [0.90, 0.91]}))
    # loss = 1 - accuracy: b has the lower loss
    (verdict,) = result.verdicts
    assert verdict["better"] == "b" and "lower test loss" in verdict["verdict"]
    runs = runs_of({"a": [0.8, 0.81], "b": [0.9, 0.91]})
    runs["b"][0]["test"]["loss"] = float("nan")
    verdict = Comparison(recipes={}, seeds=[0, 1], metric="loss", runs=runs).verdicts[0]
    assert verdict["better"] is None and "not finite" in verdict["verdict"]


def test_the_table_counts_the_runs_that_reach_the_target():
    result = Comparison(recipes={}, seeds=[0, 1], target=0.85, runs=runs_of({
        "a": [0.80, 0.86], "b": [0.90, 0.91]}))
    reach = {name: row["epochs_to_target"] for name, row in result.table.items()}
    assert (reach["a"]["reached"], reach["a"]["epochs"]) == (1, [None, 2])
    assert reach["b"]["median"] == 2.0 and reach["b"]["metric"] == "val_accuracy"
    table = markdown_table(result.summary())
    assert "| a | 0.8300 +- 0.0424 | 0.8000 - 0.8600 |" in table and "2 (1/2)" in table


def test_an_unknown_metric_names_what_the_runs_logged():
    with pytest.raises(ValueError, match=r"'auc'.*\['accuracy', 'loss'\]"):
        Comparison(recipes={}, seeds=[0, 1], metric="auc", runs=runs_of({"a": [0.8, 0.8]}))


# compare itself: bad input fails before any training


@pytest.mark.parametrize(("arguments", "error", "match"), [
    ({"recipes": {"only": small_mlp}}, ValueError, "at least two"),
    ({"seeds": 1}, ValueError, "at least 2"),
    ({"seeds": [3, 3]}, ValueError, "at least 2 different"),
    ({"seeds": [0, 1], "tuning_seed": 1}, ValueError, "tuning_seed"),
    ({"tune_on": "loss"}, ValueError, "validation log"),
    ({"data": ([0], [1])}, TypeError, "Splits"),
])
def test_bad_arguments_fail_early_naming_them(arguments, error, match):
    settings = {"recipes": {"a": small_mlp, "b": small_mlp}, "data": tiny_digits(), **arguments}
    with pytest.raises(error, match=match):
        recipes.compare(settings.pop("recipes"), settings.pop("data"), **settings)


def test_a_recipe_is_checked_when_it_is_made():
    with pytest.raises(TypeError, match="callable"):
        Recipe("default_dnn")
    with pytest.raises(ValueError, match=r"tune\['learning_rate'\]"):
        Recipe(small_mlp, tune={"learning_rate": 0.01})
    assert Recipe(small_mlp, tune={"a": [1, 2], "b": [3]}).grid() == [{"a": 1, "b": 3},
                                                                      {"a": 2, "b": 3}]


def test_a_build_that_returns_an_uncompiled_model_is_named():
    def uncompiled(data):
        return recipes.build_dnn(data.input_shape, data.n_classes, hidden=(4,))

    with pytest.raises(TypeError, match="uncompiled model"):
        recipes.compare({"a": uncompiled, "b": small_mlp}, tiny_digits(), seeds=2, epochs=1,
                        verbose=0)


def test_the_name_is_the_function_even_after_its_module_is_imported():
    import keras_recipes.compare as module  # noqa: F401 (the import is what is tested)

    assert callable(recipes.compare) and recipes.compare.__name__ == "compare"


# Acceptance 1 and 2: real runs on tiny data


def test_a_seed_free_no_op_reports_no_difference():
    """One step per call or 32 per call (compile_recipe(fast=...)): the same maths."""
    result = recipes.compare(
        {"mlp": small_mlp, "mlp_one_step_per_call": lambda data: small_mlp(data, fast=False)},
        tiny_digits(), seeds=2, epochs=2, monitor=False, verbose=0)
    (verdict,) = result.verdicts
    assert verdict["better"] is None and "no difference beyond the spread" in verdict["verdict"]
    same = [[run["test"]["accuracy"] for run in runs] for runs in result.runs.values()]
    assert same[0] == pytest.approx(same[1], abs=1e-6)


def sick_net(data: Splits):
    """Lecture 000/001's sick net: 20 sigmoid layers, Glorot, plain SGD."""
    model = recipes.build_dnn(data.input_shape, data.n_classes, hidden=(100,) * 20,
                              activation="sigmoid")
    return recipes.compile_recipe(model, "sgd")


def deep_recipe(data: Splits, epochs: int = 6):
    steps = epochs * math.ceil(len(data.train[0]) / 32)
    return recipes.deep_dnn(data.input_shape, data.n_classes, depth=20,
                            normalize=data.train[0], total_steps=steps)


@pytest.fixture(scope="module")
def deep_vs_sick():
    return recipes.compare({"sick_net": Recipe(sick_net, description="20 x sigmoid, SGD"),
                            "deep_dnn": Recipe(deep_recipe)},
                           tiny_digits(), seeds=3, epochs=6, target=0.5, verbose=0)


def test_the_deep_net_recipe_beats_the_sick_net_with_the_interval(deep_vs_sick):
    (verdict,) = deep_vs_sick.verdicts
    # the interval is of deep_dnn - sick_net (b - a): above 0, by more than 30 points
    values = {n: row["test"]["accuracy"]["values"] for n, row in deep_vs_sick.table.items()}
    assert verdict["better"] == "deep_dnn" and verdict["low"] > 0.3, (verdict["verdict"], values)
    assert verdict["verdict"].startswith("deep_dnn better than sick_net by ")
    assert f"+- {verdict['half_width']:.4f} test accuracy" in verdict["verdict"]
    table = deep_vs_sick.table
    assert table["sick_net"]["test"]["accuracy"]["max"] < 0.25       # chance is 0.1
    assert table["deep_dnn"]["epochs_to_target"]["reached"] == 3
    assert table["sick_net"]["gradient_findings"]["vanishing"] == 3  # the detector saw why
    assert table["deep_dnn"]["gradient_findings"] == {}                 # monitored, none found


def test_the_report_holds_the_table_the_verdicts_and_the_banded_curves(deep_vs_sick, tmp_path):
    path = deep_vs_sick.save(tmp_path / "deep")
    summary = json.loads(path.read_text())
    for key in ("table", "verdicts", "curves", "runs", "seeds", "method", "recipes", "metric"):
        assert key in summary, key
    assert summary["seeds"] == [0, 1, 2] and summary["judged_on"] == "test split"
    assert set(summary["curves"]["deep_dnn"]) >= {"loss", "val_loss", "val_accuracy"}
    assert np.shape(summary["curves"]["sick_net"]["val_accuracy"]) == (3, 6)  # seeds x epochs
    assert summary["recipes"]["sick_net"]["description"] == "20 x sigmoid, SGD"
    assert markdown_table(summary) == markdown_table(deep_vs_sick.summary())
    axes = recipes.plots.plot_comparison(summary)
    assert [ax.get_ylabel() for ax in axes] == ["loss", "val_accuracy"]
    assert len(axes[1].collections) == 2 and len(axes[1].get_lines()) == 2   # bands and means
    with pytest.raises(ValueError, match="'val_auc'"):
        recipes.plots.plot_comparison(summary, keys=["val_auc"])


def test_tuning_chooses_on_the_validation_split_with_its_own_seed():
    seen = []

    def build(data, learning_rate):
        seen.append((learning_rate, np.random.randint(1 << 30)))
        return small_mlp(data, learning_rate)

    data = tiny_digits()
    result = recipes.compare(
        {"fixed": small_mlp, "tuned": Recipe(build, tune={"learning_rate": [1e-6, 3e-2]})},
        data, seeds=2, epochs=2, tuning_seed=7, monitor=False, verbose=0)
    tuning = result.tuning["tuned"]
    assert tuning["chosen"] == {"learning_rate": 3e-2} and tuning["split"] == "validation"
    assert [t["hyperparameters"]["learning_rate"] for t in tuning["tried"]] == [1e-6, 3e-2]
    np.random.seed(7)
    tuning_draw = np.random.randint(1 << 30)
    assert [draw == tuning_draw for _, draw in seen] == [True, True, False, False]
    assert [rate for rate, _ in seen[2:]] == [3e-2, 3e-2]
    assert "validation split" in result.summary()["tuning_note"]


# The command line


def test_the_compare_command_writes_the_report(tmp_path, capsys):
    from keras_recipes.cli import main

    data = write_csv(tmp_path / "d.csv")
    good, sick = tmp_path / "good.json", tmp_path / "sick.json"
    good.write_text(json.dumps({"hidden": [16], "learning_rate": 0.01, "epochs": 2}))
    sick.write_text(json.dumps({"hidden": [16] * 3, "activation": "sigmoid", "optimizer": "sgd",
                                "learning_rate": 1e-4, "epochs": 2}))
    report = tmp_path / "report"
    assert main(["compare", str(good), str(sick), "--data", data, "--target", "label",
                 "--seeds", "2", "--report", str(report), "--quiet", "--no-monitor",
                 "--cpu-threads", "keep"]) == 0
    printed = capsys.readouterr().out
    assert "| good |" in printed and "| sick |" in printed
    summary = json.loads((report / "summary.json").read_text())
    assert summary["command"] == "compare" and list(summary["table"]) == ["good", "sick"]
    assert summary["verdicts"][0]["verdict"] in printed
    page = read_page(report / "report.html")
    assert page.images["learning curves"].startswith("data:image/png;base64,")
    assert {"metrics", "recipe"} <= page.sections
    assert summary["verdicts"][0]["verdict"] in "".join(page.text)


@pytest.mark.parametrize(("arguments", "message"), [
    (["default"], "RECIPE default: compare needs at least two recipes"),
    (["default", "default", "--seeds", "1"], "--seeds 1: must be at least 2"),
    (["default", "missing.json"], "RECIPE missing.json: no such file"),
])
def test_the_compare_command_names_a_bad_input(arguments, message, capsys):
    from keras_recipes.cli import main

    assert main(["compare", *arguments, "--report", ""]) == 2
    assert message in capsys.readouterr().err


# The committed comparisons (benchmarks/results/): the tables BENCHMARKS.md and the notebooks show


@pytest.mark.parametrize("name", _comparison_results.available())
def test_a_committed_comparison_is_compares_output_and_its_verdicts_follow(name):
    summary = _comparison_results.committed(name)
    assert summary["kind"] == "comparison" and summary["judged_on"] == "test split"
    assert summary["command"].startswith("KERAS_BACKEND=")
    stored = [(v["a"], v["b"], v["better"]) for v in summary["verdicts"]]
    assert stored == [(v["a"], v["b"], v["better"])
                      for v in _comparison_results.recomputed_verdicts(summary)]
    for row in summary["table"].values():
        assert len(row["test"][summary["metric"]]["values"]) == len(summary["seeds"])


@pytest.mark.parametrize("depth", [20, 50])
def test_the_committed_deep_net_sweep_reaches_97_percent_on_every_seed(depth):
    summary = _comparison_results.committed(f"deep_nets_{depth}")
    assert summary["seeds"] == [0, 1, 2, 3, 4]
    assert min(_comparison_results.test_values(summary, "deep_dnn")) >= 0.97
    assert summary["recipes"]["deep_dnn"]["epochs"] <= 40
    better = {(v["a"], v["b"]): v["better"] for v in summary["verdicts"]}
    assert better["deep_dnn", "sick_net"] == "deep_dnn"


# Deep nets on every seed, trained (slow: about 5 minutes per depth on JAX)


@pytest.mark.slow
@pytest.mark.parametrize("depth", [20, 50])
def test_deep_dnn_reaches_97_percent_test_accuracy_on_every_seed(depth):
    data = recipes.load_digits()

    def deep(splits):
        steps = 40 * math.ceil(len(splits.train[0]) / 32)
        return recipes.deep_dnn(splits.input_shape, splits.n_classes, depth=depth,
                                normalize=splits.train[0], total_steps=steps)

    def sick(splits):
        model = recipes.build_dnn(splits.input_shape, splits.n_classes,
                                  hidden=(100,) * depth, activation="sigmoid")
        return recipes.compile_recipe(model, "sgd")

    result = recipes.compare({"sick_net": sick, "deep_dnn": deep}, data, seeds=5, epochs=40,
                             monitor=False, verbose=1)
    accuracy = result.table["deep_dnn"]["test"]["accuracy"]["values"]
    print(f"depth {depth}: deep_dnn test accuracy {accuracy}; "
          f"{sum(a >= 0.97 for a in accuracy)}/5 seeds >= 0.97")
    assert min(accuracy) >= 0.97, accuracy
    assert result.verdicts[0]["better"] == "deep_dnn"


def _stored_text(notebook: str) -> str:
    import nbformat

    path = Path(__file__).resolve().parent.parent / "notebooks" / notebook
    cells = nbformat.read(path, as_version=4).cells
    return "\n".join(o.get("text", "") + o.get("data", {}).get("text/markdown", "")
                     for c in cells if c.cell_type == "code" for o in c.get("outputs", []))


@pytest.mark.parametrize("depth", [20, 50])
def test_notebook_03_and_benchmarks_state_the_committed_deep_net_numbers_and_verdicts(depth):
    summary = _comparison_results.committed(f"deep_nets_{depth}")
    values = _comparison_results.test_values(summary, "deep_dnn")
    text = _stored_text("03_batch_norm_clipping_and_default_dnn.ipynb")
    found = re.search(rf"{depth} layers: deep_dnn test accuracy >= 0.97 on (\d+) of (\d+) seeds "
                      r"\(min ([\d.]+)\)", text)
    assert found, f"notebook 03 shows no {depth}-layer deep_dnn line"
    assert (int(found[1]), int(found[2])) == (sum(v >= 0.97 for v in values), len(values))
    _comparison_results.check_number(float(found[3]), summary, "deep_dnn", margin=5e-5)
    benchmarks = (Path(__file__).resolve().parent.parent / "BENCHMARKS.md").read_text()
    for verdict in summary["verdicts"]:
        assert verdict["verdict"] in text and verdict["verdict"] in benchmarks
