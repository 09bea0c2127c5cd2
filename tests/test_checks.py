"""The training checklists: each item passes on a good setup and fails on the broken one."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from keras_recipes.checks import (
    check_initial_loss,
    check_input_scaling,
    check_learning_rate_decay,
    check_optimizer,
    check_overfit_small_subset,
    check_validation,
    expected_initial_loss,
    run_checklist,
)
from keras_recipes.models import build_dnn
from keras_recipes.optimizers import compile_recipe


@pytest.fixture
def small(digits):
    x, y = digits.train
    return x[:300], y[:300]


def test_expected_initial_loss():
    assert expected_initial_loss(np.arange(10).repeat(3), "sparse_categorical_crossentropy") == (
        pytest.approx(math.log(10))
    )
    assert expected_initial_loss(np.array([0, 1, 0, 1]), "binary_crossentropy") == pytest.approx(
        math.log(2)
    )
    assert expected_initial_loss(np.array([1.0, 3.0]), "mse") == pytest.approx(1.0)
    with pytest.raises(ValueError, match="loss"):
        expected_initial_loss([0, 1], "hinge")


def test_initial_loss_check(small, digits):
    good = compile_recipe(build_dnn(digits.input_shape, 10, hidden=(32,)))
    result = check_initial_loss(good, *small)
    assert result.passed and abs(float(result.measured) - math.log(10)) < 0.1
    bad = compile_recipe(
        build_dnn(digits.input_shape, 10, hidden=(32,), calibrate_output=False,
                  initializer=keras.initializers.RandomNormal(stddev=3.0))
    )
    result = check_initial_loss(bad, *small)
    assert not result.passed and "initialization" in result.advice
    good.fit(*small, epochs=5, verbose=0)
    result = check_initial_loss(good, *small)
    assert result.passed and "already trained" in result.measured


def test_decay_and_optimizer_checks(digits):
    model = build_dnn(digits.input_shape, 10, hidden=(8,))
    adam = check_learning_rate_decay(compile_recipe(model, "adam"))
    assert adam.passed and "default-DNN table" in adam.note  # lecture 001 vs lecture 000
    assert not check_learning_rate_decay(compile_recipe(model, "momentum")).passed
    assert check_learning_rate_decay(model, [keras.callbacks.ReduceLROnPlateau()]).passed
    assert check_learning_rate_decay(compile_recipe(model, "sgd", decay=1e-4)).passed
    assert not check_optimizer(compile_recipe(model, "sgd")).passed
    assert check_optimizer(compile_recipe(model, "momentum")).passed
    assert check_optimizer(compile_recipe(model, "nadam")).passed


def test_validation_check(digits):
    assert check_validation(digits.valid, digits.test).passed
    assert not check_validation(digits.test, digits.test).passed
    assert not check_validation(None).passed


def test_overfit_check_leaves_model_unchanged(small, digits):
    model = compile_recipe(build_dnn(digits.input_shape, 10, hidden=(64,)), "adam",
                           learning_rate=0.01)
    before = [w.copy() for w in model.get_weights()]
    assert check_overfit_small_subset(model, *small, n_samples=10, epochs=100).passed
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)
    tiny_rate = compile_recipe(build_dnn(digits.input_shape, 10, hidden=(64,)), "sgd",
                               learning_rate=1e-6)
    assert not check_overfit_small_subset(tiny_rate, *small, n_samples=10, epochs=20).passed


def test_input_scaling_check(small):
    x, _ = small
    assert check_input_scaling(x).passed
    assert not check_input_scaling(x * 255).passed


def test_run_checklist_report(small, digits):
    model = compile_recipe(build_dnn(digits.input_shape, 10, hidden=(32,)), "adam", decay=1e-3)
    report = run_checklist(model, small, digits.valid, test=digits.test, overfit=False)
    assert report.passed, str(report)
    assert "[PASS] 1. initial loss" in str(report) and "<table>" in report._repr_html_()
    report = run_checklist(model, small, digits.test, test=digits.test, overfit=False,
                           gradients=False)
    assert not report.passed and "[FAIL] 4a. validation set" in str(report)


def test_uncompiled_model_and_bad_arguments(small, digits):
    model = build_dnn(digits.input_shape, 10, hidden=(8,))
    with pytest.raises(RuntimeError, match="compile"):
        check_initial_loss(model, *small)
    compile_recipe(model)
    with pytest.raises(ValueError, match="tolerance"):
        check_initial_loss(model, *small, tolerance=0)
    with pytest.raises(ValueError, match="n_samples"):
        check_overfit_small_subset(model, *small, n_samples=0)


def _items(report):
    return {result.name: result for result in report}


@pytest.mark.parametrize("case", ["loss object", "categorical one-hot", "from_logits", "mse"])
def test_run_checklist_takes_the_initial_loss_checks_losses(case, small, digits):
    x, y = small
    if case == "mse":
        model = build_dnn(digits.input_shape, 1, hidden=(16,), task="regression")
        y = (y / 9.0).astype("float32")
        loss = "mse"
    elif case == "from_logits":
        model = build_dnn(digits.input_shape, 10, hidden=(16,), task="regression")
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    elif case == "categorical one-hot":
        model = build_dnn(digits.input_shape, 10, hidden=(16,))
        y, loss = np.eye(10, dtype="float32")[y], "categorical_crossentropy"
    else:
        model = build_dnn(digits.input_shape, 10, hidden=(16,))
        loss = keras.losses.SparseCategoricalCrossentropy()
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=loss)
    report = _items(run_checklist(model, (x, y), digits.valid, overfit=case != "mse",
                                  gradients=False))
    assert report["1. initial loss"].passed, report["1. initial loss"]
    assert report["3. optimizer"].passed
    if case != "mse":
        assert report["4b. overfit a tiny subset"].passed


def test_run_checklist_on_a_two_output_model(small):
    x, y = small
    inputs = keras.Input((64,), name="pixels")
    hidden = keras.layers.Dense(32, activation="relu")(inputs)
    digit = keras.layers.Dense(10, activation="softmax", name="digit",
                               kernel_initializer=keras.initializers.RandomNormal(stddev=1e-3))(hidden)
    odd = keras.layers.Dense(1, activation="sigmoid", name="odd",
                             kernel_initializer=keras.initializers.RandomNormal(stddev=1e-3))(hidden)
    model = keras.Model(inputs, {"digit": digit, "odd": odd})
    model.compile(keras.optimizers.Adam(0.01), loss={"digit": "sparse_categorical_crossentropy",
                                "odd": keras.losses.BinaryCrossentropy()},
                  loss_weights={"digit": 1.0, "odd": 0.5})
    labels = {"digit": y, "odd": (y % 2).astype("float32")}
    report = _items(run_checklist(model, (x, labels), overfit=True, gradients=False))
    initial = report["1. initial loss"]
    assert initial.passed
    assert float(initial.measured) == pytest.approx(math.log(10) + 0.5 * math.log(2), rel=0.02)
    assert report["4b. overfit a tiny subset"].passed
    assert not report["4a. validation set"].passed  # none given


def test_mixed_precision_adam_is_judged_by_its_inner_optimizer(small, digits):
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = compile_recipe(build_dnn(digits.input_shape, 10, hidden=(16,)), "adam")
        assert type(model.optimizer).__name__ == "LossScaleOptimizer"
        report = _items(run_checklist(model, small, digits.valid, overfit=False,
                                      gradients=False))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert report["3. optimizer"].passed and "Adam" in report["3. optimizer"].measured
    assert report["2. learning-rate decay"].passed
    assert report["1. initial loss"].passed


def test_default_dnn_passes_its_own_checklist_strictly(digits):
    from keras_recipes.models import default_dnn

    keras.utils.set_random_seed(42)
    model = default_dnn(digits.input_shape, digits.n_classes)
    report = run_checklist(model, digits.train, digits.valid, test=digits.test, strict=True)
    assert report.passed
    assert "note: Adam adapts" in str(report) and "dropout off" in str(report)
    sgd = compile_recipe(build_dnn(digits.input_shape, 10, hidden=(8,)), "sgd")
    with pytest.raises(ValueError, match=r"(?s)strict=True.*\[FAIL\] 2\. learning-rate decay"):
        run_checklist(sgd, digits.train, digits.valid, overfit=False, gradients=False,
                      strict=True)


@pytest.mark.parametrize("train, received", [
    ("x", "str"), ((1, 2, 3), "a tuple of 3 items"), (np.zeros((4, 2)), "an array of shape"),
])
def test_run_checklist_names_the_argument(train, received, digits):
    model = compile_recipe(build_dnn(digits.input_shape, 10, hidden=(8,)))
    with pytest.raises(TypeError, match=rf"`train` must be an `\(x, y\)` pair.*{received}"):
        run_checklist(model, train)
    with pytest.raises(TypeError, match="`valid` must be an"):
        run_checklist(model, digits.train, digits.valid[0])
    with pytest.raises(ValueError, match="class index 10 is out of range"):
        run_checklist(model, (digits.train[0], digits.train[1] + 1))


def test_overfit_copy_has_no_noise():
    from keras_recipes.checks import _without_noise

    assert isinstance(_without_noise(keras.layers.SpatialDropout2D(0.3)), keras.layers.Identity)
    lstm = _without_noise(keras.layers.LSTM(4, dropout=0.5, recurrent_dropout=0.3, name="rnn"))
    assert (lstm.dropout, lstm.recurrent_dropout, lstm.name) == (0.0, 0.0, "rnn")
    attention = _without_noise(keras.layers.MultiHeadAttention(2, 4, dropout=0.1))
    assert attention.get_config()["dropout"] == 0.0
    dense = _without_noise(keras.layers.Dense(3, name="kept"))
    assert dense.units == 3 and dense.name == "kept"
