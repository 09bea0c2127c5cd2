"""recipes/gradient_check.py: agrees with finite differences, catches a wrong gradient."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import keras_recipes as recipes
from keras_recipes.gradient_check import check_gradients
from keras_recipes.models import build_dnn
from keras_recipes.optimizers import compile_recipe


@pytest.fixture
def small(digits):
    x, y = digits.train
    return x[:300], y[:300]


def test_documented_import_paths_are_one_function():
    from keras_recipes.checks import check_gradients as from_checks

    assert from_checks is check_gradients is recipes.checks.check_gradients
    assert recipes.gradient_check.check_gradients is check_gradients


def test_gradient_check_agrees_and_catches_a_wrong_gradient(small, digits):
    x, y = small
    model = compile_recipe(build_dnn(digits.input_shape, 10, hidden=(16,), activation="tanh"))
    before = [w.copy() for w in model.get_weights()]
    assert check_gradients(model, x[:32], y[:32]).passed
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)

    @keras.saving.register_keras_serializable(package="tests")
    class WrongGradient(keras.layers.Layer):
        def call(self, inputs):
            # forward: inputs * 2; backward claims d/dx = 1 (stop_gradient trick)
            return inputs + keras.ops.stop_gradient(inputs)

    broken = keras.Sequential([keras.Input((64,)), keras.layers.Dense(8), WrongGradient(),
                               keras.layers.Dense(10, activation="softmax")])
    compile_recipe(broken)
    assert not check_gradients(broken, x[:32], y[:32]).passed


def test_gradient_check_catches_wrong_sign_below_a_calibrated_output(small):
    """The calibrated head makes hidden gradients ~1000x smaller; still caught per variable."""
    from keras_recipes.models import output_layer

    x, y = small

    class WrongSignSigmoid(keras.layers.Layer):
        def call(self, inputs):
            s = keras.ops.sigmoid(inputs)
            return 2 * keras.ops.stop_gradient(s) - s  # forward sigmoid, backward -sigmoid'

    healthy = keras.Sequential([keras.Input((64,)), keras.layers.Dense(32, activation="sigmoid"),
                                output_layer(10)])
    broken = keras.Sequential([keras.Input((64,)), keras.layers.Dense(32), WrongSignSigmoid(),
                               output_layer(10)])
    assert check_gradients(compile_recipe(healthy), x[:64], y[:64]).passed
    result = check_gradients(compile_recipe(broken), x[:64], y[:64])
    assert not result.passed and "dense" in result.measured


def test_uncompiled_model_and_bad_arguments(small, digits):
    model = build_dnn(digits.input_shape, 10, hidden=(8,))
    with pytest.raises(RuntimeError, match="compile"):
        check_gradients(model, *small)
    compile_recipe(model)
    with pytest.raises(ValueError, match="epsilon"):
        check_gradients(model, *small, epsilon=-1)
    with pytest.raises(ValueError, match="tolerance"):
        check_gradients(model, *small, tolerance=0)
