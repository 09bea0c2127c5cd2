"""Model factories: every argument shows up in the layers, and the output is calibrated."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from keras_recipes.models import (
    build_dnn,
    default_dnn,
    dense_block,
    output_layer,
    self_normalizing_dnn,
)
from keras_recipes.optimizers import compile_recipe


def dense_layers(model):
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]


def initializer_name(layer):
    config = layer.get_config()["kernel_initializer"]
    return config["class_name"], config["config"]


@pytest.mark.parametrize(
    ("activation", "family"),
    [("relu", ("HeNormal", None)), ("tanh", ("GlorotNormal", None)),
     ("selu", ("LecunNormal", None)), ("elu", ("HeNormal", None))],
)
def test_hidden_initializer_follows_activation(activation, family):
    model = build_dnn((8,), 3, hidden=(5, 4), activation=activation)
    for layer in dense_layers(model)[:-1]:
        assert initializer_name(layer)[0] == family[0]
        assert layer.get_config()["activation"] == activation


def test_explicit_initializer_wins():
    model = build_dnn((8,), 3, hidden=(5,), activation="relu", initializer="glorot_uniform")
    assert initializer_name(dense_layers(model)[0])[0] == "GlorotUniform"


def test_prelu_and_leaky_relu_layers():
    model = build_dnn((8,), 3, hidden=(5,), activation="prelu")
    assert any(isinstance(layer, keras.layers.PReLU) for layer in model.layers)
    assert dense_layers(model)[0].get_config()["activation"] == "linear"
    assert initializer_name(dense_layers(model)[0])[0] == "HeNormal"
    model = build_dnn((8,), 3, hidden=(5,), activation="leaky_relu")
    assert dense_layers(model)[0].get_config()["activation"] == "leaky_relu"


def test_batch_norm_before_drops_bias_and_moves_activation():
    model = build_dnn((8,), 3, hidden=(5, 4), activation="elu", batch_norm="before")
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Dense", "BatchNormalization", "Activation"] * 2 + ["Dense"]
    for layer in dense_layers(model)[:-1]:
        assert layer.get_config()["use_bias"] is False
        assert layer.get_config()["activation"] == "linear"
    assert model.layers[2].get_config()["activation"] == "elu"


def test_batch_norm_after_keeps_bias():
    model = build_dnn((8,), 3, hidden=(5,), activation="elu", batch_norm="after")
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Dense", "BatchNormalization", "Dense"]
    assert model.layers[0].get_config()["use_bias"] is True
    assert model.layers[0].get_config()["activation"] == "elu"


def test_dropout_regularizers_and_max_norm():
    model = build_dnn((8,), 3, hidden=(5, 4), dropout=0.3, l1=1e-4, l2=2e-4, max_norm=2.0)
    drops = [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    assert len(drops) == 2 and all(layer.rate == 0.3 for layer in drops)
    hidden = dense_layers(model)[0].get_config()
    regularizer = hidden["kernel_regularizer"]["config"]
    assert regularizer["l1"] == pytest.approx(1e-4) and regularizer["l2"] == pytest.approx(2e-4)
    assert hidden["kernel_constraint"]["config"]["max_value"] == 2.0
    assert len(model.losses) == 2  # one penalty per hidden kernel


def test_no_regularization_by_default():
    config = dense_layers(build_dnn((8,), 3, hidden=(5,)))[0].get_config()
    assert config["kernel_regularizer"] is None and config["kernel_constraint"] is None


def test_normalize_adapts_input_layer():
    data = np.random.default_rng(0).normal(5.0, 3.0, size=(200, 4)).astype("float32")
    model = build_dnn((4,), 2, hidden=(3,), normalize=data)
    norm = model.layers[0]
    assert isinstance(norm, keras.layers.Normalization)
    out = keras.ops.convert_to_numpy(norm(data))
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(out.std(axis=0), 1, atol=1e-3)


def test_images_are_flattened():
    model = build_dnn((8, 8), 10, hidden=(5,))
    assert isinstance(model.layers[0], keras.layers.Flatten)
    assert model.output_shape == (None, 10)


@pytest.mark.parametrize(
    ("task", "n_outputs", "activation"),
    [("multiclass", 10, "softmax"), ("binary", 1, "sigmoid"), ("regression", 3, "linear")],
)
def test_output_layer_follows_task(task, n_outputs, activation):
    model = build_dnn((8,), n_outputs, hidden=(5,), task=task)
    head = model.layers[-1]
    assert head.units == n_outputs and head.get_config()["activation"] == activation


def test_calibrated_initial_loss_is_ln10_on_digits(digits):
    """Checklist 1: a 10-layer He+ELU net starts at ln(10), not ~3.3."""
    losses = {}
    for calibrate in (True, False):
        keras.utils.set_random_seed(0)
        model = build_dnn(digits.input_shape, 10, hidden=(100,) * 10, calibrate_output=calibrate)
        compile_recipe(model)
        losses[calibrate] = model.evaluate(*digits.train, verbose=0)[0]
    assert abs(losses[True] - math.log(10)) < 0.05
    assert abs(losses[False] - math.log(10)) > abs(losses[True] - math.log(10))


def test_class_priors_set_output_bias():
    priors = [0.7, 0.2, 0.1]
    model = build_dnn((4,), 3, hidden=(3,), class_priors=priors)
    probabilities = keras.ops.convert_to_numpy(model(np.zeros((1, 4), "float32")))[0]
    np.testing.assert_allclose(probabilities, priors, atol=1e-3)
    head = output_layer(1, task="binary", class_priors=0.2)
    model = keras.Sequential([keras.Input((4,)), head])
    output = keras.ops.convert_to_numpy(model(np.zeros((1, 4), "float32")))
    assert float(output[0, 0]) == pytest.approx(0.2, abs=1e-3)


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"input_shape": (0,)}, "input_shape"),
        ({"n_outputs": 0}, "n_outputs"),
        ({"hidden": 100}, "hidden"),
        ({"hidden": (10, -1)}, "hidden"),
        ({"hidden": ()}, "hidden"),
        ({"hidden": (10, 0)}, "hidden"),
        ({"initializer": "nope"}, "initializer"),
        ({"initializer": 5}, "initializer"),
        ({"calibrate_output": "no"}, "calibrate_output"),
        ({"alpha_dropout": True}, "alpha_dropout"),
        ({"activation": "mish"}, "activation"),
        ({"batch_norm": "middle"}, "batch_norm"),
        ({"dropout": 1.0}, "dropout"),
        ({"l1": -1.0}, "l1"),
        ({"max_norm": 0.0}, "max_norm"),
        ({"task": "ranking"}, "task"),
        ({"task": "binary", "n_outputs": 2}, "n_outputs"),
        ({"normalize": np.zeros((10, 3))}, "normalize"),
        ({"class_priors": [0.5, 0.5]}, "class_priors"),
    ],
)
def test_bad_input_fails_early_naming_the_argument(kwargs, argument):
    arguments = {"input_shape": (4,), "n_outputs": 3, **kwargs}
    with pytest.raises((ValueError, TypeError), match=argument):
        build_dnn(arguments.pop("input_shape"), arguments.pop("n_outputs"), **arguments)


def test_dense_block_layers_and_names():
    layers = dense_block(7, activation="tanh", batch_norm="before", dropout=0.1, name="b")
    assert [layer.name for layer in layers] == ["b_dense", "b_bn", "b_tanh", "b_dropout"]


def test_default_dnn_initializer_follows_an_overridden_activation():
    model = default_dnn((8,), 3, activation="tanh", compile=False)
    assert all(initializer_name(layer)[0] == "GlorotNormal" for layer in dense_layers(model)[:-1])
    with pytest.raises(ValueError, match="learning_rate"):
        default_dnn((8,), 3, learning_rate=0.0)
    with pytest.raises(ValueError, match="learning_rate"):
        default_dnn((8,), 3, learning_rate=0.01, compile=False)
    assert default_dnn((8,), 3, learning_rate=0.05).optimizer.get_config()[
        "learning_rate"] == pytest.approx(0.05)


def test_default_dnn_is_the_lecture_table(digits):
    model = default_dnn(digits.input_shape, 10)
    hidden = dense_layers(model)[:-1]
    assert all(initializer_name(layer)[0] == "HeNormal" for layer in hidden)
    assert all(layer.get_config()["activation"] == "elu" for layer in hidden)
    assert any(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers)
    assert any(isinstance(layer, keras.layers.Dropout) for layer in model.layers)
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert not isinstance(
        model.optimizer._learning_rate, keras.optimizers.schedules.LearningRateSchedule
    )
    history = model.fit(*digits.train, epochs=3, verbose=0, validation_data=digits.valid)
    assert history.history["val_accuracy"][-1] > 0.9


def test_self_normalizing_dnn_layers():
    model = self_normalizing_dnn((8,), 3, hidden=(6, 5), dropout=0.1)
    hidden = dense_layers(model)[:-1]
    assert all(layer.get_config()["activation"] == "selu" for layer in hidden)
    assert all(initializer_name(layer)[0] == "LecunNormal" for layer in hidden)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers)
    drops = [layer for layer in model.layers if "dropout" in layer.name]
    assert drops and all(isinstance(layer, keras.layers.AlphaDropout) for layer in drops)


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"batch_norm": "after"}, "BatchNormalization"),
        ({"dropout_layer": "standard"}, "AlphaDropout"),
        ({"l1": 1e-3}, "LeCun"),
        ({"l2": 1e-3}, "LeCun"),
        ({"activation": "elu"}, "SELU"),
        ({"initializer": "he_normal"}, "LeCun"),
    ],
)
def test_self_normalizing_dnn_refuses_what_breaks_it(kwargs, reason):
    with pytest.raises(ValueError, match=f"breaks self-normalization.*{reason}"):
        self_normalizing_dnn((8,), 3, **kwargs)


def test_self_normalizing_dnn_keeps_unit_variance_through_depth():
    x = np.random.default_rng(0).normal(size=(512, 64)).astype("float32")
    model = self_normalizing_dnn((64,), 10, hidden=(128,) * 20)
    probe = keras.Model(model.inputs[0], model.layers[-2].output)
    out = keras.ops.convert_to_numpy(probe(x))
    assert abs(out.mean()) < 0.2 and 0.7 < out.std() < 1.3
