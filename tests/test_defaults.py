"""Table 11-1 (initializer per activation) and the other lecture tables."""

from __future__ import annotations

import keras
import pytest

from keras_recipes.defaults import (
    ACTIVATION_INITIALIZERS,
    DEFAULT_DNN,
    OPTIMIZER_DEFAULTS,
    initializer_for,
)

EXPECTED_FAMILY = {
    None: "glorot", "linear": "glorot", "none": "glorot", "tanh": "glorot",
    "sigmoid": "glorot", "logistic": "glorot", "softmax": "glorot",
    "relu": "he", "leaky_relu": "he", "elu": "he", "gelu": "he", "swish": "he",
    "silu": "he", "prelu": "he", "selu": "lecun",
}


@pytest.mark.parametrize("activation", list(EXPECTED_FAMILY))
@pytest.mark.parametrize("distribution", ["normal", "uniform"])
def test_initializer_follows_table_11_1(activation, distribution):
    name = initializer_for(activation, distribution)
    assert name == f"{EXPECTED_FAMILY[activation]}_{distribution}"
    keras.initializers.get(name)  # a real Keras initializer


def test_every_table_activation_is_a_keras_activation_or_layer():
    for activation in ACTIVATION_INITIALIZERS:
        if activation != "prelu":
            keras.activations.get(activation)


@pytest.mark.parametrize(
    ("activation", "distribution", "message"),
    [("mish", "normal", "activation"), ("relu", "gaussian", "distribution"),
     (3, "normal", "activation")],
)
def test_bad_input_names_argument(activation, distribution, message):
    with pytest.raises((ValueError, TypeError), match=message):
        initializer_for(activation, distribution)


def test_default_dnn_table_and_optimizer_defaults():
    assert DEFAULT_DNN["initializer"].startswith("he_")
    assert DEFAULT_DNN["activation"] == "elu"
    assert DEFAULT_DNN["batch_norm"] in ("before", "after")
    assert DEFAULT_DNN["dropout"] > 0
    assert DEFAULT_DNN["optimizer"] == "adam" and DEFAULT_DNN["schedule"] is None
    assert OPTIMIZER_DEFAULTS["momentum"]["momentum"] == 0.9
    assert OPTIMIZER_DEFAULTS["rmsprop"]["rho"] == 0.9
    adam = OPTIMIZER_DEFAULTS["adam"]
    assert (adam["beta_1"], adam["beta_2"], adam["epsilon"]) == (0.9, 0.999, 1e-7)
    assert OPTIMIZER_DEFAULTS["sgd"]["learning_rate"] == 0.01
