"""Every user error of `keras-recipes` exits 2 with one line naming the flag and the value."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from keras_recipes.cli import main


def _files(tmp):
    """The bad inputs the cases below point at."""
    (tmp / "notes.keras").write_text("not a model")
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10, activation="softmax")])
    model.save(tmp / "uncompiled.keras")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.save(tmp / "wide.keras")  # 64 inputs, 10 classes
    (tmp / "unknown_key.json").write_text(json.dumps({"hidden": [8], "layers": 3}))
    (tmp / "bad_value.json").write_text(json.dumps({"dropout": 1.5}))
    (tmp / "broken.json").write_text("{hidden: [8]")
    (tmp / "binary.json").write_bytes(bytes(range(128, 256)))
    (tmp / "clash.json").write_text(json.dumps({"decay": 0.01, "schedule": "cosine"}))
    (tmp / "text.csv").write_text("a,colour,label\n" + "".join(
        f"{i},red,{i % 2}\n" for i in range(30)))
    (tmp / "few.csv").write_text("a,label\n" + "".join(f"{i},{i % 15}\n" for i in range(30)))
    (tmp / "ok.csv").write_text("a,b,label\n" + "".join(f"{i},{i},{i % 2}\n" for i in range(30)))
    np.savez(tmp / "no_y.npz", x=np.zeros((30, 4)))
    (tmp / "text.npz").write_text("x,y\n1,2\n")
    (tmp / "folder.keras").mkdir()
    x = np.random.default_rng(0).normal(size=(30, 3))
    x[7, 1] = np.nan
    np.savez(tmp / "nan.npz", x=x, y=np.arange(30) % 2)
    np.savez(tmp / "inf_test.npz", x=np.zeros((30, 3)), y=np.arange(30) % 2,
             x_test=np.full((5, 3), np.inf), y_test=np.arange(5) % 2)
    (tmp / "blank.csv").write_text("a,b,label\n1,2,0\n3,,1\n" + "".join(
        f"{i},{i},{i % 2}\n" for i in range(30)))
    (tmp / "nan.csv").write_text("a,b,label\n1,nan,0\n" + "".join(
        f"{i},{i},{i % 2}\n" for i in range(30)))
    (tmp / "header_only.csv").write_text("a,b,label\n")
    (tmp / "taken.keras").write_text("a previous run's model")


CASES = {
    # flag, then the argv (paths are relative to the test's folder)
    "checklist-missing-model": ("--model", ["checklist", "--model", "{tmp}/missing.keras"]),
    "checklist-model-folder": ("--model", ["checklist", "--model", "{tmp}/folder.keras"]),
    "checklist-not-a-model": ("--model", ["checklist", "--model", "{tmp}/notes.keras"]),
    "checklist-uncompiled": ("--model", ["checklist", "--model", "{tmp}/uncompiled.keras"]),
    "checklist-unknown-data": ("--data", ["checklist", "--data", "mnist"]),
    # LRFinder owns the rule and names max_learning_rate first
    "lr-find-inverted-range": ("--max-rate", ["lr-find", "--min-rate", "1", "--max-rate", "0.1"]),
    "lr-find-zero-rate": ("--min-rate", ["lr-find", "--min-rate", "0"]),
    "lr-find-negative-batch": ("--batch-size", ["lr-find", "--batch-size", "-4"]),
    "lr-find-unknown-data": ("--data", ["lr-find", "--data", "cifar"]),
    "lr-find-too-few-steps": ("--batch-size", ["lr-find", "--batch-size", "1000"]),
    "train-unknown-data": ("--data", ["train", "--data", "imagenet"]),
    "train-missing-csv": ("--data", ["train", "--data", "{tmp}/missing.csv", "--target", "y"]),
    "train-csv-without-target": ("--target", ["train", "--data", "{tmp}/ok.csv"]),
    "train-missing-column": ("--target", ["train", "--data", "{tmp}/ok.csv", "--target", "y"]),
    "train-text-feature": ("--data", ["train", "--data", "{tmp}/text.csv", "--target", "label"]),
    "train-few-per-class": ("--data", ["train", "--data", "{tmp}/few.csv", "--target", "label"]),
    "train-npz-without-y": ("--data", ["train", "--data", "{tmp}/no_y.npz"]),
    "train-text-as-npz": ("--data", ["train", "--data", "{tmp}/text.npz"]),
    "train-nan-in-npz": ("--data", ["train", "--data", "{tmp}/nan.npz"]),
    "train-inf-in-npz-test": ("--data", ["train", "--data", "{tmp}/inf_test.npz"]),
    "train-blank-csv-cell": ("--data", ["train", "--data", "{tmp}/blank.csv", "--target", "label"]),
    "train-nan-csv-cell": ("--data", ["train", "--data", "{tmp}/nan.csv", "--target", "label"]),
    "train-header-only-csv": ("--data", ["train", "--data", "{tmp}/header_only.csv", "--target",
                                         "label"]),
    "train-output-taken": ("--output", ["train", "--output", "{tmp}/taken.keras"]),
    "checklist-model-for-other-data": ("--model", ["checklist", "--model", "{tmp}/wide.keras",
                                                   "--data", "{tmp}/ok.csv", "--target", "label"]),
    "train-target-on-digits": ("--target", ["train", "--target", "label"]),
    "train-missing-recipe": ("--recipe", ["train", "--recipe", "{tmp}/missing.json"]),
    "train-unknown-recipe-key": ("--recipe", ["train", "--recipe", "{tmp}/unknown_key.json"]),
    "train-bad-recipe-value": ("--recipe", ["train", "--recipe", "{tmp}/bad_value.json"]),
    "train-broken-recipe": ("--recipe", ["train", "--recipe", "{tmp}/broken.json"]),
    "train-binary-recipe": ("--recipe", ["train", "--recipe", "{tmp}/binary.json"]),
    "train-recipe-clash": ("--recipe", ["train", "--recipe", "{tmp}/clash.json"]),
    "train-zero-epochs": ("--epochs", ["train", "--epochs", "0"]),
    "train-dropout-one": ("--dropout", ["train", "--dropout", "1"]),
    "train-unknown-activation": ("--activation", ["train", "--activation", "sigmoidal"]),
    "train-unknown-initializer": ("--initializer", ["train", "--initializer", "zeroes_please"]),
    "train-momentum-with-adam": ("--momentum", ["train", "--momentum", "0.9"]),
    "train-two-clippings": ("--clipvalue", ["train", "--clipnorm", "1", "--clipvalue", "1"]),
    "train-bad-threads": ("--cpu-threads", ["train", "--cpu-threads", "many"]),
    "tune-zero-trials": ("--trials", ["tune", "--trials", "0"]),
    "tune-unknown-tuner": ("--tuner", ["tune", "--tuner", "annealing"]),
    "unknown-command": ("COMMAND", ["fit"]),
}


@pytest.mark.parametrize(("flag", "argv"), CASES.values(), ids=CASES)
def test_user_error_exits_2_with_one_line_naming_the_flag(flag, argv, tmp_path, capsys):
    _files(tmp_path)
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert flag in err, err
    value = argv[argv.index(flag) + 1] if flag in argv else None
    if value is not None and flag != "--clipvalue":
        assert value in err, err


WHERE = {
    # case -> words the message must hold: the file's name and where in it
    "train-nan-in-npz": ("nan.npz", "array x", "sample 7"),
    "train-inf-in-npz-test": ("inf_test.npz", "array x_test", "inf"),
    "train-blank-csv-cell": ("blank.csv", "line 3", "'b'", "blank"),
    "train-nan-csv-cell": ("nan.csv", "line 2", "'b'"),
    "train-header-only-csv": ("header_only.csv", "no data rows"),
    "train-output-taken": ("taken.keras", "--overwrite"),
}


@pytest.mark.parametrize("case", WHERE)
def test_bad_data_and_taken_outputs_say_where(case, tmp_path, capsys):
    _files(tmp_path)
    argv = [a.replace("{tmp}", str(tmp_path)) for a in CASES[case][1]]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert all(word in err for word in WHERE[case]), err


def test_unknown_recipe_key_is_named(tmp_path, capsys):
    _files(tmp_path)
    assert main(["train", "--recipe", str(tmp_path / "unknown_key.json")]) == 2
    assert "'layers'" in capsys.readouterr().err


def test_a_model_saved_before_training_loads_without_keras_optimizer_warning(tmp_path):
    import warnings

    import keras

    from keras_recipes.cli.inspection_runs import load_user_model

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    model.save(tmp_path / "untrained.keras")  # Adam saved before its first step: 2 variables
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = load_user_model(str(tmp_path / "untrained.keras"))
    assert loaded.optimizer is not None
