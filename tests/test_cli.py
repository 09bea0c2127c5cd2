"""The `keras-recipes` command, run in-process through `recipes.cli.main`."""

from __future__ import annotations

import re

import keras
import pytest

from recipes.cli import main


def test_train_one_epoch_saves_a_model(tmp_path, capsys):
    output, report = tmp_path / "model.keras", tmp_path / "report"
    assert main(["train", "--epochs", "2", "--quiet", "--output", str(output),
                 "--report", str(report)]) == 0
    printed = capsys.readouterr().out
    assert "Checklist 1, initial loss" in printed and "Test accuracy" in printed
    initial = float(re.search(r"initial loss: ([0-9.]+)", printed).group(1))
    assert initial == pytest.approx(2.3026, abs=0.05)  # calibrated output: ln(10)
    assert "Gradients: no vanishing, exploding or non-finite gradients found." in printed
    model = keras.models.load_model(output)
    assert model.output_shape == (None, 10)
    for name in ("learning_curves.png", "gradient_norms.png"):
        assert (report / name).stat().st_size > 10_000
    header, *rows = (report / "history.csv").read_text().splitlines()
    assert len(rows) == 2 and "grad_norm/global" in header and "val_loss" in header


@pytest.mark.parametrize("tuner", ["random", "hyperband", "bayesian"])
def test_tune_prints_the_best_configuration(tuner, tmp_path, capsys):
    code = main(["tune", "--data", "digits", "--trials", "2", "--epochs", "1", "--tuner", tuner,
                 "--directory", str(tmp_path), "--quiet", "--seed", "3"])
    assert code == 0
    printed = capsys.readouterr().out
    score = re.search(r"Best trial \S+: val_accuracy = ([0-9.]+)", printed)
    assert score and 0.0 < float(score.group(1)) <= 1.0, printed
    configuration = printed.split("Best configuration:")[1]
    for name in ("n_hidden", "activation", "optimizer", "learning_rate", "batch_size"):
        assert re.search(rf"^\s+{name}\s+\S+", configuration, re.MULTILINE), printed
    assert (tmp_path / f"digits_{tuner}").is_dir()


def test_tune_rejects_bad_arguments(capsys):
    for argv in (["tune", "--tuner", "annealing"], ["tune", "--trials", "0"],
                 ["tune", "--epochs", "-1"]):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
    assert "--trials" in capsys.readouterr().err
