"""Reports: summary.json and one self-contained report.html per run (train, lr-find, checklist)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from _cli_helpers import read_page, write_csv

from keras_recipes.cli import main
from keras_recipes.cli.glossary import explain
from keras_recipes.cli.report import render_html, shown_keys, write_report


def test_lr_find_writes_its_report_with_the_sweep_plot(tmp_path, capsys):
    data, report = write_csv(tmp_path / "d.csv", n=300), tmp_path / "lr"
    assert main(["lr-find", "--data", data, "--target", "label", "--max-rate", "1",
                 "--batch-size", "16", "--quiet", "--report", str(report),
                 "--plot", str(tmp_path / "sweep.png")]) == 0
    assert "Suggested learning rate" in capsys.readouterr().out
    summary = json.loads((report / "summary.json").read_text())
    sweep = summary["lr_finder"]
    assert 1e-6 <= sweep["suggested_learning_rate"] < 1.0 and sweep["steps"] > 1
    assert "a tenth of the rate at the minimum" in summary["verdict"]["headline"]
    assert not [key for key in shown_keys(summary) if not explain(key)]
    page = read_page(report / "report.html")
    assert page.images["learning-rate sweep"].startswith("data:image/png;base64,")
    assert (tmp_path / "sweep.png").stat().st_size > 5_000


def test_checklist_on_a_saved_model_writes_its_report(tmp_path, capsys):
    import keras_recipes as recipes

    data, report = write_csv(tmp_path / "d.csv"), tmp_path / "check"
    model = recipes.compile_recipe(recipes.build_dnn((3,), 3, hidden=(8,)), "adam")
    model.save(tmp_path / "m.keras")
    assert main(["checklist", "--data", data, "--target", "label", "--model",
                 str(tmp_path / "m.keras"), "--report", str(report)]) == 0
    printed = capsys.readouterr().out
    assert "[PASS] 1. initial loss" in printed
    summary = json.loads((report / "summary.json").read_text())
    items = summary["checklist"]
    assert any(item["name"] == "1. initial loss" and item["passed"] for item in items)
    assert not [key for key in shown_keys(summary) if not explain(key)]
    page = read_page(report / "report.html")
    assert "checklist" in page.sections and "1. initial loss" in "".join(page.text)


def test_render_html_leads_with_the_verdict_escapes_embeds_and_lists_remedies_once():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from keras_recipes.cli.verdict import make_verdict

    figure = plt.figure()
    plt.plot([1, 2, 3])
    findings = [{"kind": "vanishing", "message": "vanishing gradients at step 2. Remedies: x.",
                 "remedies": ["He initialization", "BatchNormalization"]}]
    checklist = [{"name": "3. optimizer", "passed": False, "measured": "SGD",
                  "expected": "momentum", "advice": "He initialization"}]
    summary = {"title": "run <1>", "recipe": {"hidden": [8, 4], "activation": "tanh"},
               "metrics": {"test": {"accuracy": 0.5}}, "findings": findings,
               "verdict": make_verdict("net on data", None, findings, checklist)}
    page = render_html(summary, {"curve": figure})
    plt.close(figure)
    assert "<title>run &lt;1&gt;</title>" in page and "<script" not in page
    assert page.count("data:image/png;base64,") == 1
    assert page.index("id='verdict'") < page.index("id='metrics'") < page.index("id='recipe'")
    assert page.count("<li>He initialization</li>") == 1  # a remedy shared by two, listed once
    assert "<li>BatchNormalization</li>" in page and "8, 4" in page
    assert "Remedies: x" not in page  # the detector's own remedy sentence is not repeated
    clean = render_html({"findings": [], "verdict": make_verdict("net", None, [], [])}, {})
    assert "No findings" in clean


def test_every_key_of_a_report_is_explained_once():
    from keras_recipes.cli.glossary import KEY_HELP, explain
    from keras_recipes.cli.recipe_spec import RECIPE_KEYS

    assert all(explain(key) for key in RECIPE_KEYS)
    assert explain("units_3") and explain("tuner/bracket") and explain("no such key") is None
    page = render_html({"data": {"n_train": 3, "target": None}}, {})
    assert page.count(KEY_HELP["n_train"]) == 1 and "target" not in page.split("glossary")[0]


def test_write_report_makes_numpy_and_nan_json_safe(tmp_path):
    paths = write_report(tmp_path / "r", {"metrics": {"test": {"loss": np.float32(0.25)}},
                                          "initial_loss": {"measured": math.nan},
                                          "data": {"shape": (8, 8)}})
    summary = json.loads(paths["summary"].read_text())
    assert summary["metrics"]["test"]["loss"] == pytest.approx(0.25)
    assert summary["initial_loss"]["measured"] == "nan" and summary["data"]["shape"] == [8, 8]
    assert paths["html"].read_text().startswith("<!DOCTYPE html>")
