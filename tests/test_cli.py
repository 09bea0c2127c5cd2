"""The `keras-recipes` command, run in-process through `keras_recipes.cli.main`."""

from __future__ import annotations

import csv
import json
import re

import keras
import numpy as np
import pytest
from _cli_helpers import read_page, write_csv

from keras_recipes.cli import main
from keras_recipes.cli.glossary import explain
from keras_recipes.cli.report import shown_keys

# The thread pools are the process's: tests never let `train` change them.
KEEP = ["--cpu-threads", "keep"]


def gradients_note(summary):
    """The reason gradient norms are missing on this backend (None where they work)."""
    return summary.get("gradient_norms_note")


def unexplained(summary):
    """Keys of a summary that the report's glossary does not explain."""
    return [key for key in shown_keys(summary) if not explain(key)]


def test_train_writes_model_summary_report_and_history(tmp_path, capsys):
    output, report = tmp_path / "model.keras", tmp_path / "report"
    assert main(["train", "--epochs", "3", "--output", str(output), "--report", str(report),
                 *KEEP]) == 0
    printed = capsys.readouterr().out
    assert "multiclass classification, 10 classes" in printed
    assert keras.models.load_model(output).output_shape == (None, 10)
    summary = json.loads((report / "summary.json").read_text())
    for key in ("verdict", "baseline", "recipe", "optimizer", "data", "metrics", "initial_loss",
                "checklist", "findings", "timings", "versions", "backend"):
        assert key in summary, key
    assert summary["recipe"]["batch_norm"] == "after"  # no recipe: the default DNN
    assert set(summary["metrics"]) == {"train", "validation", "test"}
    assert summary["metrics"]["test"]["accuracy"] > 0.8
    # one initial-loss number and band: the checklist's item 1
    assert summary["initial_loss"] in summary["checklist"]
    assert float(summary["initial_loss"]["measured"]) == pytest.approx(2.3026, abs=0.05)
    # the optimizer as built: Adam's defaults, not the recipe's nulls
    assert summary["optimizer"]["class"] == "Adam"
    assert summary["optimizer"]["learning_rate"] == pytest.approx(1e-3)
    assert summary["optimizer"]["beta_1"] == pytest.approx(0.9)
    assert summary["baseline"]["metric"] == "accuracy" and summary["baseline"]["value"] < 0.2
    assert summary["verdict"]["beats_baseline"] is True
    assert summary["versions"]["keras"] == keras.__version__
    assert not unexplained(summary)
    header, *rows = (report / "history.csv").read_text().splitlines()
    assert len(rows) == 3 and "val_loss" in header and "act_std/" in header
    assert [row.split(",")[0] for row in rows] == ["1", "2", "3"]  # as Keras prints epochs
    page = read_page(report / "report.html")
    assert page.images["learning curves"].startswith("data:image/png;base64,")
    assert {"learning rate", "confusion matrix"} <= set(page.images)
    assert {"verdict", "recipe", "optimizer", "checklist", "metrics", "glossary"} <= page.sections
    assert page.order[0] == "verdict"  # the report leads with its verdict
    assert "Verdict: " in printed and "beats the baseline" in printed
    if gradients_note(summary) is None:
        assert "grad_norm/hidden_1_dense/kernel" in header
        assert page.images["gradient norms per layer"].startswith("data:image/png;base64,")
        assert len(page.images["gradient norms per layer"]) > 10_000
    else:  # a backend without the gradient hook says so and still reports
        assert "unavailable" in printed and "unavailable" in "".join(page.text)
    # acceptance 6: the progress bar shows loss, metrics and the global norm only
    bar = [line for line in printed.splitlines() if "loss:" in line]
    assert bar and not any(re.search(r"grad_norm/\w+/|act_", line) for line in bar)


def test_a_deep_sigmoid_net_is_diagnosed_with_remedies(tmp_path, capsys):
    report = tmp_path / "report"
    argv = ["train", "--hidden", *["100"] * 20, "--activation", "sigmoid", "--initializer",
            "glorot_uniform", "--optimizer", "sgd", "--epochs", "1", "--quiet",
            "--output", str(tmp_path / "m.keras"), "--report", str(report), *KEEP]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    summary = json.loads((report / "summary.json").read_text())
    assert summary["recipe"]["batch_norm"] is None  # an explicit net: no hidden BatchNorm
    if gradients_note(summary) is not None:
        pytest.skip(f"no gradient hook on this backend: {gradients_note(summary)}")
    assert re.search(r"vanish", printed, re.IGNORECASE) and "remedy: " in printed
    assert any(f["kind"] == "vanishing" and f["remedies"] for f in summary["findings"])
    assert all(f["epoch"] == 1 for f in summary["findings"])  # as the progress bar counts
    # failing checklist items (plain SGD: no decay, no momentum) are in the console's verdict
    assert "checklist 2. learning-rate decay" in printed and "checklist 3. optimizer" in printed
    findings = read_page(report / "report.html")
    text = "".join(findings.text)
    assert "vanishing" in text and "He initialization" in text
    assert text.count("He initialization") == 1  # each remedy once


def _weights(path):
    return keras.models.load_model(path).get_weights()


def test_a_recipe_file_equals_the_same_flags_and_flags_override_it(tmp_path, capsys):
    data = write_csv(tmp_path / "d.csv")
    recipe = {"hidden": [16, 8], "activation": "tanh", "optimizer": "momentum",
              "learning_rate": 0.05, "clipnorm": 1.0, "dropout": 0.1, "epochs": 2, "seed": 3}
    (tmp_path / "r.json").write_text(json.dumps(recipe))
    common = ["--data", data, "--target", "label", "--report", "", "--quiet", *KEEP]
    assert main(["train", "--recipe", str(tmp_path / "r.json"), "--output",
                 str(tmp_path / "file.keras"), *common]) == 0
    flags = ["--hidden", "16", "8", "--activation", "tanh", "--optimizer", "momentum",
             "--learning-rate", "0.05", "--clipnorm", "1", "--dropout", "0.1", "--epochs", "2",
             "--seed", "3"]
    assert main(["train", *flags, "--output", str(tmp_path / "flags.keras"), *common]) == 0
    for a, b in zip(_weights(tmp_path / "file.keras"), _weights(tmp_path / "flags.keras")):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    # a flag overrides the file, key by key
    from keras_recipes.cli.commands import resolve_recipe
    from keras_recipes.cli.main import _build_parser

    args = _build_parser().parse_args(["train", "--recipe", str(tmp_path / "r.json"),
                                       "--learning-rate", "0.01", "--epochs", "1"])
    resolved, flags = resolve_recipe(args)
    assert resolved == {**resolved, **recipe, "learning_rate": 0.01, "epochs": 1}
    assert flags == {"learning_rate": 0.01, "epochs": 1} and resolved["batch_norm"] is None


@pytest.mark.parametrize("regression", [False, True], ids=["classes", "regression"])
def test_train_on_a_csv_states_the_task(regression, tmp_path, capsys):
    data = write_csv(tmp_path / "d.csv", regression=regression)
    target = "price" if regression else "label"
    report = tmp_path / "report"
    assert main(["train", "--data", data, "--target", target, "--hidden", "16", "--epochs", "2",
                 "--output", str(tmp_path / "m.keras"), "--report", str(report),
                 "--tensorboard", str(tmp_path / "tb"), *KEEP]) == 0
    assert list((tmp_path / "tb").rglob("events.out.tfevents.*"))
    printed = re.sub(r"\x1b\[[0-9;]*m", "", capsys.readouterr().out)
    summary = json.loads((report / "summary.json").read_text())
    if regression:
        assert "regression of 1 target(s)" in printed and summary["data"]["task"] == "regression"
        assert set(summary["metrics"]["test"]) == {"loss", "mae"}
    else:
        assert "multiclass classification, 3 classes" in printed
        assert set(summary["metrics"]["test"]) == {"loss", "accuracy"}
    # the steps counter never passes the epoch's steps (here 3 < steps_per_execution 32)
    steps = [tuple(map(int, m)) for m in re.findall(r"\b(\d+)/(\d+) ", printed)]
    assert steps and all(done <= total == 3 for done, total in steps), steps


def test_a_broken_search_then_a_plain_rerun_starts_fresh_and_reports_every_trial(
        tmp_path, capsys, monkeypatch):
    from keras_recipes.tuning import DNNHyperModel

    data = write_csv(tmp_path / "d.csv")
    common = ["tune", "--data", data, "--target", "label", "--trials", "2", "--epochs", "2",
              "--tuner", "random", "--directory", str(tmp_path / "trials")]

    def broken(self, hp, model, *args, **kwargs):
        raise ModuleNotFoundError("No module named 'tensorboard'")  # what a missing dep did

    with monkeypatch.context() as patch:
        patch.setattr(DNNHyperModel, "fit", broken)
        assert main([*common, "--report", "", "--quiet"]) == 1
    assert "no trial completed" in capsys.readouterr().err
    report = tmp_path / "tune"
    assert main([*common, "--report", str(report),
                 "--save-model", str(tmp_path / "best.keras")]) == 0
    printed = capsys.readouterr().out
    best = re.search(r"Best trial (\d+) of 2 completed \(2 run\): val_accuracy = [0-9.]+",
                     printed)
    assert best and f"Trial {best.group(1)} Complete" in printed  # keras-tuner's numbering
    rows = list(csv.DictReader((report / "trials.csv").open()))
    assert [row["trial"] for row in rows] == ["1", "2"]
    assert all(row["status"] == "COMPLETED" for row in rows)
    assert {"trial", "score", "n_hidden", "optimizer"} <= set(rows[0])
    summary = json.loads((report / "summary.json").read_text())
    assert len(summary["trials"]) == 2 and "learning_rate" in summary["search_space"]
    assert "beats the baseline" in summary["verdict"]["headline"]  # the best model on test
    assert not unexplained(summary)
    page = read_page(report / "report.html")
    assert {"trials", "search_space", "verdict"} <= page.sections
    assert {"score per trial", "best trial's learning curves"} <= set(page.images)
    assert keras.models.load_model(tmp_path / "best.keras").output_shape == (None, 3)
    # the best recipe trains for the epochs train is given, not the search's 2 per trial
    recipe = json.loads((report / "best_recipe.json").read_text())
    assert "epochs" not in recipe and recipe["seed"] == 42
    train_report = tmp_path / "train"
    assert main(["train", "--recipe", str(report / "best_recipe.json"), "--data", data,
                 "--target", "label", "--epochs", "3", "--patience", "0", "--quiet",
                 "--report", str(train_report), "--output", str(tmp_path / "m.keras"),
                 *KEEP]) == 0
    assert json.loads((train_report / "summary.json").read_text())["epochs_run"] == 3


def _parser_actions():
    from keras_recipes.cli.main import _build_parser

    parser = _build_parser()
    sub = next(a for a in parser._actions if hasattr(a, "choices") and a.choices)
    yield "", parser
    yield from sub.choices.items()


def test_help_of_every_sub_command_lists_every_flag_with_its_default(capsys):
    for command, parser in _parser_actions():
        assert main([command, "--help"] if command else ["--help"]) == 0
        printed = capsys.readouterr().out
        for action in parser._actions:
            if action.option_strings and action.dest != "help":
                assert action.option_strings[-1] in printed, (command, action.option_strings)
                assert "(default: " in (action.help or ""), (command, action.option_strings)


def test_version(capsys):
    import keras_recipes as recipes

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"keras-recipes {recipes.__version__}"


def test_the_thread_setting_is_left_alone_unless_it_helps():
    from keras_recipes.cli.training_run import SMALL_NET_WEIGHTS, choose_threads, count_weights

    assert count_weights((28, 28), [300, 100], 10) == 266_610
    assert "keep" in choose_threads("keep", 1000, 32)
    big = choose_threads("auto", SMALL_NET_WEIGHTS + 1, 32)
    backend = keras.backend.backend()
    assert big.startswith("left as is")
    assert ("weights" in big) if backend == "tensorflow" else (backend in big)
