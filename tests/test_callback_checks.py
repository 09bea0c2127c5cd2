"""InitialLossCheck (callbacks/checks.py)."""

from __future__ import annotations

import copy
import math

import keras
import numpy as np
import pytest

from keras_recipes.callbacks.checks import InitialLossCheck, InitialLossWarning


def _model(n_out=10, activation="softmax", scale=1e-3, loss="sparse_categorical_crossentropy"):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
        keras.layers.Dense(n_out, activation=activation,
                           kernel_initializer=keras.initializers.RandomNormal(stddev=scale))])
    model.compile(keras.optimizers.SGD(0.01), loss)
    return model


def _data(n=200, classes=10):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 8)).astype("float32"), np.arange(n) % classes


def test_calibrated_softmax_passes_with_ln_c():
    x, y = _data()
    check = InitialLossCheck(x, y)
    _model().fit(x, y, epochs=1, callbacks=[check], verbose=0)
    assert check.ok is True
    assert check.expected == pytest.approx(math.log(10))
    assert check.label_entropy == pytest.approx(math.log(10))
    assert check.measured == pytest.approx(math.log(10), rel=0.01)


def test_badly_scaled_output_warns_with_values_and_raise():
    x, y = _data()
    check = InitialLossCheck(x, y)
    model = _model(scale=5.0)
    with pytest.warns(InitialLossWarning, match=r"expected about 2\.3026"):
        model.fit(x, y, epochs=1, callbacks=[check], verbose=0)
    assert check.ok is False and check.measured > 3.0
    assert f"{check.measured:.4f}" in check.message
    with pytest.raises(ValueError, match="InitialLossCheck failed"):
        _model(scale=5.0).fit(x, y, epochs=1, verbose=0,
                              callbacks=[InitialLossCheck(x, y, action="raise")])


def test_binary_ln2_deepcopy_second_fit_and_unsupported_loss():
    x, _ = _data()
    y = (np.arange(len(x)) % 2).astype("float32")
    model = _model(n_out=1, activation="sigmoid", loss="binary_crossentropy")
    check = InitialLossCheck(x, y)
    fresh = copy.deepcopy(check)
    model.fit(x, y, epochs=1, callbacks=[check], verbose=0)
    assert check.ok and check.expected == pytest.approx(math.log(2))
    used = copy.deepcopy(check)
    assert used.model is None and used.measured == check.measured
    model.fit(x, y, epochs=1, callbacks=[check, used, fresh], verbose=0)  # trained: skipped
    assert fresh.measured is None
    mse = _model(n_out=1, activation=None, loss="mse")
    other = InitialLossCheck(x, y)
    mse.fit(x, y, epochs=1, callbacks=[other], verbose=0)
    assert other.expected == pytest.approx(0.5) and other.label_entropy == pytest.approx(0.25)
    assert other.ok is True and other.accepted == pytest.approx((0.225, 0.55))
    hinge = _model(n_out=1, activation="tanh", loss="hinge")
    with pytest.raises(ValueError, match="'hinge'.*supported"):
        hinge.fit(x, y, epochs=1, callbacks=[InitialLossCheck(x, y)], verbose=0)


def test_bad_input_and_uncompiled_model():
    x, y = _data()
    with pytest.raises(ValueError, match="action.*'warn', 'raise'.*'stop'"):
        InitialLossCheck(x, y, action="stop")
    with pytest.raises(ValueError, match="tolerance.*0"):
        InitialLossCheck(x, y, tolerance=0)
    check = InitialLossCheck(x, y)
    check.set_model(keras.Sequential([keras.Input((8,)), keras.layers.Dense(3)]))
    with pytest.raises(RuntimeError, match="compile"):
        check.on_train_begin()
