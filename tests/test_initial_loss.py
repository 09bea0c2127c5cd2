"""Checklist 1, the one implementation (callbacks/_initial_loss.py): every loss kind against a
hand computation, every unsupported or mismatched case on its message, and the function and
the callback agreeing on a grid of models and labels."""

from __future__ import annotations

import math
import warnings

import keras
import numpy as np
import pytest

from keras_recipes.callbacks import _initial_loss
from keras_recipes.callbacks.checks import InitialLossCheck, InitialLossWarning
from keras_recipes.checks import check_initial_loss, expected_initial_loss
from keras_recipes.models import build_dnn

N = 60
RNG = np.random.default_rng(0)
X = RNG.normal(size=(N, 5)).astype("float32")


def _constant(units, activation, bias, loss, **compile_kwargs):
    """A model whose output is activation(bias) for every sample: the hand computation is easy."""
    model = keras.Sequential([
        keras.Input((5,)),
        keras.layers.Dense(units, activation=activation, kernel_initializer="zeros",
                           bias_initializer=keras.initializers.Constant(bias), name="out"),
    ])
    model.compile(optimizer="sgd", loss=loss, **compile_kwargs)
    return model


def _softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


BIAS3 = np.array([0.5, -0.2, 0.1])
Y3 = np.arange(N) % 3
Y3[:10] = 0  # imbalanced: priors 30/60, 20/60... (not uniform)
P3 = np.bincount(Y3) / N
H3 = float(-(P3 * np.log(P3)).sum())


@pytest.mark.parametrize("loss", [
    "sparse_categorical_crossentropy",
    keras.losses.SparseCategoricalCrossentropy(),
    keras.losses.sparse_categorical_crossentropy,
])
def test_sparse_categorical_against_hand(loss):
    model = _constant(3, "softmax", BIAS3, loss)
    result = _initial_loss.measure(model, X, Y3)
    hand = -np.log(_softmax(BIAS3)[Y3]).mean()
    assert result.measured == pytest.approx(hand, rel=1e-5)
    assert result.prior == pytest.approx(H3) and result.uninformed == pytest.approx(math.log(3))


def test_from_logits_and_one_hot_categorical_against_hand():
    logits = _constant(3, None, BIAS3,
                       keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    hand = -np.log(_softmax(BIAS3)[Y3]).mean()
    assert _initial_loss.measure(logits, X, Y3).measured == pytest.approx(hand, rel=1e-5)
    one_hot = np.eye(3)[Y3]
    for loss in ("categorical_crossentropy",
                 keras.losses.CategoricalCrossentropy(from_logits=True)):
        activation = None if isinstance(loss, keras.losses.Loss) else "softmax"
        result = _initial_loss.measure(_constant(3, activation, BIAS3, loss), X, one_hot)
        assert result.measured == pytest.approx(hand, rel=1e-5)
        assert result.prior == pytest.approx(H3)


def test_binary_against_hand_function_and_logits():
    y = (np.arange(N) % 4 == 0).astype("float32")  # P(y=1) = 1/4
    p, q = _sigmoid(0.3), 0.25
    hand = -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean()
    entropy = -(q * math.log(q) + (1 - q) * math.log(1 - q))
    for activation, loss in (("sigmoid", keras.losses.binary_crossentropy),
                             (None, keras.losses.BinaryCrossentropy(from_logits=True)),
                             ("sigmoid", "BinaryCrossentropy")):
        result = _initial_loss.measure(_constant(1, activation, 0.3, loss), X, y)
        assert result.measured == pytest.approx(hand, rel=1e-5)
        assert result.prior == pytest.approx(entropy)
        assert result.uninformed == pytest.approx(math.log(2))


def test_regression_mse_and_mae_against_hand():
    y = RNG.normal(2.0, 3.0, size=(N,)).astype("float32")
    mse = _initial_loss.measure(_constant(1, None, 0.5, "mse"), X, y)
    assert mse.measured == pytest.approx(((y - 0.5) ** 2).mean(), rel=1e-5)
    assert mse.prior == pytest.approx(y.var(), rel=1e-5)
    assert mse.uninformed == pytest.approx((y.astype("float64") ** 2).mean(), rel=1e-5)
    mae = _initial_loss.measure(_constant(1, None, 0.5, keras.losses.MeanAbsoluteError()), X, y)
    assert mae.measured == pytest.approx(np.abs(y - 0.5).mean(), rel=1e-5)
    assert mae.prior == pytest.approx(np.abs(y - np.median(y)).mean(), rel=1e-5)
    assert mae.uninformed == pytest.approx(np.abs(y).mean(), rel=1e-5)


def test_two_output_model_is_the_weighted_sum():
    inputs = keras.Input((5,))
    cls = keras.layers.Dense(3, activation="softmax", kernel_initializer="zeros",
                             bias_initializer=keras.initializers.Constant(BIAS3),
                             name="cls")(inputs)
    reg = keras.layers.Dense(1, kernel_initializer="zeros", name="reg")(inputs)
    model = keras.Model(inputs, {"cls": cls, "reg": reg})
    model.compile("adam", loss={"cls": keras.losses.SparseCategoricalCrossentropy(),
                                "reg": "mae"}, loss_weights={"cls": 1.0, "reg": 0.5})
    y_reg = RNG.normal(size=(N, 1)).astype("float32")
    result = _initial_loss.measure(model, X, {"cls": Y3, "reg": y_reg})
    hand = -np.log(_softmax(BIAS3)[Y3]).mean() + 0.5 * np.abs(y_reg).mean()
    assert result.measured == pytest.approx(hand, rel=1e-5)
    assert [o.output for o in result.outputs] == ["cls", "reg"]
    assert result.prior == pytest.approx(H3 + 0.5 * np.abs(y_reg - np.median(y_reg)).mean())
    losses = {"cls": "sparse_categorical_crossentropy", "reg": "mae"}
    assert expected_initial_loss({"cls": Y3, "reg": y_reg}, losses, {"cls": 1.0, "reg": 0.5}) == (
        pytest.approx(result.prior, rel=1e-6))
    evaluated = model.evaluate(X, {"cls": Y3, "reg": y_reg}, verbose=0, return_dict=True)
    assert evaluated["loss"] == pytest.approx(result.measured, rel=1e-4)


def test_expected_initial_loss_kinds():
    assert expected_initial_loss(np.eye(4)[np.arange(8) % 4],
                                 "categorical_crossentropy") == pytest.approx(math.log(4))
    assert expected_initial_loss(np.array([0.0, 2.0, 10.0]), "mae") == pytest.approx(10 / 3)
    assert expected_initial_loss(np.arange(10) % 2, keras.losses.BinaryCrossentropy(
        from_logits=True)) == pytest.approx(math.log(2))


@pytest.mark.parametrize("loss, named", [
    ("hinge", "'hinge'"),
    (keras.losses.Huber(), "Huber.*huber_loss"),
    (lambda y, p: keras.ops.mean(p), "lambda"),
    (keras.losses.SparseCategoricalCrossentropy(ignore_class=0), "ignore_class"),
])
def test_unsupported_losses_are_named(loss, named):
    model = _constant(3, "softmax", BIAS3, loss)
    with pytest.raises(ValueError, match=named) as caught:
        _initial_loss.measure(model, X, Y3)
    assert "supported: sparse_categorical_crossentropy" in str(caught.value)
    with pytest.raises(ValueError, match="supported"):
        expected_initial_loss(Y3, loss)


def test_model_without_loss_is_named():
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3)])
    model.compile("adam")
    with pytest.raises(ValueError, match="compiled with `loss=`"):
        check_initial_loss(model, X, Y3)


@pytest.mark.parametrize("units, activation, loss, labels, problem", [
    (10, "softmax", "sparse_categorical_crossentropy", np.arange(N) % 11,
     "class index 10 is out of range for 10 output units"),
    (1, "sigmoid", "binary_crossentropy", np.arange(N) % 10, r"labels in \[0, 1\]"),
    (3, "softmax", "sparse_categorical_crossentropy", np.eye(3)[Y3], "one-hot"),
    (3, "softmax", "categorical_crossentropy", Y3, "one-hot rows of length 3"),
    (2, None, "mse", RNG.normal(size=(N, 3)), r"shape \(3,\) per sample"),
])
def test_labels_that_do_not_fit_the_output(units, activation, loss, labels, problem):
    model = _constant(units, activation, np.zeros(units), loss)
    with pytest.raises(ValueError, match=problem) as caught:
        check_initial_loss(model, X, labels)
    message = str(caught.value)
    assert "labels of shape" in message and f"output shape (None, {units})" in message
    check = InitialLossCheck(X, labels)
    check.set_model(model)
    with pytest.raises(ValueError, match=problem):
        check.on_train_begin()
    if "one-hot" not in problem and "shape" not in problem:
        # Wrong values pass Keras's own shape checks: the callback stops `fit` before the
        # backend computes a loss on them. (Wrong shapes: on JAX, `fit` checks them itself,
        # before any callback runs.)
        with pytest.raises(ValueError, match=problem):
            model.fit(X, labels, epochs=1, verbose=0, callbacks=[InitialLossCheck(X, labels)])


def _grid_models():
    def small(scale, activation="softmax", loss="sparse_categorical_crossentropy", units=4):
        keras.utils.set_random_seed(3)
        model = keras.Sequential([
            keras.Input((5,)), keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(units, activation=activation,
                               kernel_initializer=keras.initializers.RandomNormal(stddev=scale))])
        model.compile("sgd", loss)
        return model

    calibrated = build_dnn((5,), 4, hidden=(16,))
    calibrated.compile("sgd", "sparse_categorical_crossentropy")
    return {
        "calibrated": calibrated,
        "uncalibrated": small(1e-3),
        "badly initialized": small(3.0),
        "binary": small(1e-2, "sigmoid", "binary_crossentropy", 1),
        "logits": small(0.5, None, keras.losses.SparseCategoricalCrossentropy(from_logits=True)),
    }


@pytest.mark.parametrize("labels", ["balanced", "imbalanced"])
def test_function_and_callback_agree_on_a_grid(labels):
    y4 = np.arange(N) % 4 if labels == "balanced" else np.where(np.arange(N) < 45, 0, 1 + (
        np.arange(N) % 3))
    verdicts = {}
    for name, model in _grid_models().items():
        y = (y4 == 0).astype("float32") if name == "binary" else y4
        result = check_initial_loss(model, X, y)
        check = InitialLossCheck(X, y)
        check.set_model(model)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InitialLossWarning)
            check.on_train_begin()
        assert check.ok == result.passed, (name, result, check.message)
        assert check.measured == pytest.approx(float(result.measured.split()[0]), abs=1e-4)
        verdicts[name] = result.passed
    assert verdicts["badly initialized"] is False
    assert verdicts["calibrated"] and verdicts["uncalibrated"] and verdicts["binary"]
