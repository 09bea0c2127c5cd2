"""Data loaders: offline digits, Fashion-MNIST's real code path (no download), transfer split."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_recipes.data import (
    FASHION_MNIST_CLASSES,
    Splits,
    load_digits,
    load_fashion_mnist,
    split_for_transfer,
)


def test_digits_splits_are_disjoint_scaled_and_stratified(digits):
    x_train, y_train = digits.train
    sizes = [len(pair[0]) for pair in (digits.train, digits.valid, digits.test)]
    assert sum(sizes) == 1797 and sizes[2] == 360
    assert digits.input_shape == (64,) and digits.n_classes == 10
    assert x_train.dtype == np.float32 and 0.0 <= x_train.min() and x_train.max() <= 1.0
    rows = {row.tobytes() for row in x_train}
    assert not any(row.tobytes() in rows for row in digits.test[0] if (row != 0).sum() > 20)
    counts = np.bincount(y_train, minlength=10) / len(y_train)
    assert counts.min() > 0.09 and counts.max() < 0.11


def test_digits_images_and_seed():
    images = load_digits(flatten=False)
    assert images.input_shape == (8, 8)
    again = load_digits(seed=1)
    assert not np.array_equal(again.train[1], load_digits(seed=2).train[1])


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [({"valid_size": 0}, "valid_size"), ({"test_size": 1.5}, "test_size"),
     ({"valid_size": 0.5, "test_size": 0.5}, "valid_size")],
)
def test_digits_bad_input(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        load_digits(**kwargs)


def fake_fashion(monkeypatch, n_train=100, n_test=20):
    rng = np.random.default_rng(0)

    def load_data():
        return (
            (rng.integers(0, 256, (n_train, 28, 28), dtype="uint8"), rng.integers(0, 10, n_train)),
            (rng.integers(0, 256, (n_test, 28, 28), dtype="uint8"), rng.integers(0, 10, n_test)),
        )

    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", load_data)


def test_fashion_mnist_code_path_without_download(monkeypatch):
    fake_fashion(monkeypatch)
    data = load_fashion_mnist(n_valid=30)
    assert len(data.valid[0]) == 30 and len(data.train[0]) == 70 and len(data.test[0]) == 20
    assert data.input_shape == (28, 28) and data.class_names == FASHION_MNIST_CLASSES
    assert data.train[0].dtype == np.float32 and data.train[0].max() <= 1.0
    assert load_fashion_mnist(n_valid=30, flatten=True).input_shape == (784,)
    with pytest.raises(ValueError, match="n_valid"):
        load_fashion_mnist(n_valid=60000)


def test_failed_download_says_so_and_suggests_digits(monkeypatch):
    def offline():
        raise OSError("Temporary failure in name resolution")

    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", offline)
    with pytest.raises(RuntimeError, match="download.*load_digits"):
        load_fashion_mnist()


def test_split_for_transfer(digits):
    split = split_for_transfer(digits, task_b_classes=(3, 8), n_train_b=25)
    assert split.a.n_classes == 8 and "3" not in split.a.class_names
    assert set(np.unique(split.a.train[1])) == set(range(8))
    assert split.b.train[0].shape == (25, 64)
    assert set(np.unique(split.b.test[1])) == {0.0, 1.0}
    original_b = np.isin(digits.test[1], (3, 8)).sum()
    assert len(split.b.test[0]) == original_b
    assert len(split.a.test[0]) + original_b == len(digits.test[0])
    # Positive label is the second class; the samples really are those digits.
    x_eights = digits.test[0][digits.test[1] == 8]
    positives = split.b.test[0][split.b.test[1] == 1]
    assert {r.tobytes() for r in positives} == {r.tobytes() for r in x_eights}


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [({"task_b_classes": (3, 3)}, "task_b_classes"),
     ({"task_b_classes": (3, 12)}, "task_b_classes"),
     ({"n_train_b": 0}, "n_train_b"), ({"n_train_b": 10_000}, "n_train_b")],
)
def test_split_for_transfer_bad_input(digits, kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        split_for_transfer(digits, **kwargs)
    with pytest.raises(TypeError, match="data"):
        split_for_transfer(digits.train)
    assert isinstance(digits, Splits)


# ---------------------------------------------------------------------------
# The user's own data: recipes.cli.user_data (CSV, NPZ, task inference, standardization)
# ---------------------------------------------------------------------------


def _csv(path, header, rows):
    path.write_text(",".join(header) + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))
    return path


def test_csv_text_labels_are_classes_and_binary_gets_one_output(tmp_path):
    from keras_recipes.cli.user_data import load_csv

    rows = [(i, i % 7, "cat" if i % 2 else "dog") for i in range(40)]
    data = load_csv(_csv(tmp_path / "d.csv", ["a", "b", "animal"], rows), "animal")
    assert data.task == "binary" and data.class_names == ("cat", "dog") and data.n_outputs == 1
    sizes = [len(pair[0]) for pair in (data.train, data.valid, data.test)]
    assert sum(sizes) == 40 and min(sizes) >= 6 and data.input_shape == (2,)
    assert set(np.unique(data.train[1])) == {0.0, 1.0}


def test_csv_task_inference_and_override(tmp_path):
    from keras_recipes.cli.user_data import load_csv

    few = _csv(tmp_path / "few.csv", ["a", "y"], [(i, i % 4) for i in range(60)])
    assert load_csv(few, "y").task == "multiclass" and load_csv(few, "y").n_outputs == 4
    forced = load_csv(few, "y", task="regression")
    assert forced.task == "regression" and forced.class_names == () and forced.n_outputs == 1
    real = _csv(tmp_path / "real.csv", ["a", "y"], [(i, i * 0.37) for i in range(60)])
    assert load_csv(real, "y").task == "regression"


def test_npz_with_a_test_set_and_standardization_from_the_training_split(tmp_path):
    from keras_recipes.cli.user_data import load_npz, standardize

    rng = np.random.default_rng(0)
    x, y = rng.normal(5.0, 3.0, size=(100, 4)), rng.integers(0, 3, size=100)
    x_test = rng.normal(50.0, 1.0, size=(20, 4))  # far off: must not move the statistics
    np.savez(tmp_path / "d.npz", x=x, y=y, x_test=x_test, y_test=rng.integers(0, 3, 20))
    data = load_npz(tmp_path / "d.npz")
    assert data.task == "multiclass" and len(data.test[0]) == 20 and len(data.train[0]) == 85
    scaled, stats = standardize(data)
    np.testing.assert_allclose(scaled.train[0].mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(scaled.train[0].std(axis=0), 1.0, atol=1e-4)
    assert scaled.test[0].mean() > 5 and scaled.task == "multiclass"
    assert stats["constant_features"] == 0 and stats["target_mean"] is None  # classes: as is


def test_regression_targets_are_standardized_with_the_training_split(tmp_path):
    from keras_recipes.cli.user_data import load_csv, standardize

    rows = [(i, 100 + 7.0 * i) for i in range(60)]
    data = load_csv(_csv(tmp_path / "r.csv", ["a", "y"], rows), "y")
    scaled, stats = standardize(data)
    np.testing.assert_allclose(scaled.train[1].mean(), 0.0, atol=1e-5)
    np.testing.assert_allclose(scaled.train[1].std(), 1.0, atol=1e-4)
    assert stats["target_mean"] == [pytest.approx(data.train[1].mean())]
    restored = scaled.test[1] * stats["target_std"][0] + stats["target_mean"][0]
    np.testing.assert_allclose(restored, data.test[1], rtol=1e-5)
    assert standardize(data, targets=False)[1]["target_mean"] is None


def test_labels_keep_the_spelling_of_the_file(tmp_path):
    from keras_recipes.cli.user_data import load_csv, load_npz

    ints = _csv(tmp_path / "i.csv", ["a", "y"], [(i, i % 3) for i in range(30)])
    assert load_csv(ints, "y").class_names == ("0", "1", "2")
    np.savez(tmp_path / "f.npz", x=np.arange(30.0)[:, None], y=np.arange(30) % 2 * 1.0)
    assert load_npz(tmp_path / "f.npz").class_names == ("0.0", "1.0")  # the array's own dtype


@pytest.mark.parametrize(("rows", "argument", "words"), [
    ([(1, 0)] * 5, "target", "not in"),
    ([(i, i % 20) for i in range(30)], "path", "at least 3 per class"),
    ([(i, 1) for i in range(30)], "path", "one class only (1)"),
    ([], "path", "no data rows"),
    ([(1, 0), ("", 1)] + [(i, i % 2) for i in range(30)], "path", "line 3"),
    ([(1, 0), ("inf", 1)] + [(i, i % 2) for i in range(30)], "path", "'inf'"),
    ([(1, 0), (2, "nan")] + [(i, i % 2) for i in range(30)], "path", "column 'label'"),
], ids=["missing-column", "few-per-class", "one-class", "header-only", "blank", "inf", "nan"])
def test_csv_errors_name_the_argument(tmp_path, rows, argument, words):
    from keras_recipes.cli.user_data import DataError, load_csv

    path = _csv(tmp_path / "d.csv", ["a", "label"], rows)
    with pytest.raises(DataError) as error:
        load_csv(path, "y" if argument == "target" else "label")
    assert error.value.argument == argument and words in str(error.value)
