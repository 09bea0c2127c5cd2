"""ActivationStats (callbacks/activations.py)."""

from __future__ import annotations

import copy

import keras
import numpy as np
import pytest

from keras_recipes.callbacks.activations import ActivationStats


def _model(bias=0.0, activation="relu", scale=1.0):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6,))
    hidden = keras.layers.Dense(16, activation=activation, name="hidden",
                                kernel_initializer=keras.initializers.RandomNormal(stddev=scale),
                                bias_initializer=keras.initializers.Constant(bias))(inputs)
    outputs = keras.layers.Dense(3, activation="softmax", name="out")(hidden)
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.SGD(0.0), "sparse_categorical_crossentropy")
    return model


def _data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 6)).astype("float32"), rng.integers(0, 3, n)


def test_dead_relu_with_bias_minus_100_and_logs():
    x, y = _data()
    stats = ActivationStats(x[:32])
    history = _model(bias=-100.0).fit(x, y, epochs=2, callbacks=[stats], verbose=0)
    assert stats.epochs == [-1, 0, 1]
    assert stats.history["hidden"]["dead"] == [1.0, 1.0, 1.0]
    assert history.history["act_dead/hidden"] == [1.0, 1.0]
    assert "act_std/out" in history.history and "saturated" not in stats.history["hidden"]


def test_saturated_sigmoid_with_huge_inputs_and_healthy_relu():
    x, y = _data()
    stats = ActivationStats(x[:32] * 1000.0, every=2)
    _model(activation="sigmoid", scale=10.0).fit(x, y, epochs=2, callbacks=[stats], verbose=0)
    assert stats.epochs == [-1, 1]
    assert stats.history["hidden"]["saturated"][-1] > 0.97
    relu = ActivationStats(x)
    _model().fit(x, y, epochs=1, callbacks=[relu], verbose=0)
    assert relu.history["hidden"]["dead"][-1] < 0.5
    assert 0 < relu.history["hidden"]["std"][-1] < 10


def test_sequential_deepcopy_second_fit_and_bad_input():
    x, y = _data()
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4, activation="tanh",
                              name="t"), keras.layers.Dense(3, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy")
    stats = ActivationStats(x[:8], layers=["t"])
    fresh = copy.deepcopy(stats)
    model.fit(x, y, epochs=1, callbacks=[stats], verbose=0)
    used = copy.deepcopy(stats)
    assert used.model is None and used.history == stats.history
    model.fit(x, y, epochs=1, callbacks=[stats], verbose=0)
    model.fit(x, y, epochs=1, callbacks=[used, fresh], verbose=0)
    assert stats.epochs == [-1, 0, 0] and len(used.history["t"]["saturated"]) == 3
    assert set(fresh.history) == {"t"} and stats.get_config()["layers"] == ["t"]
    with pytest.raises(ValueError, match="every.*0"):
        ActivationStats(x, every=0)
    with pytest.raises(ValueError, match="saturation"):
        ActivationStats(x, saturation=0.7)
    bad = ActivationStats(x, layers=["nope"])
    with pytest.raises(ValueError, match="nope"):
        model.fit(x, y, epochs=1, callbacks=[bad], verbose=0)
    uncompiled = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3)])
    stats.set_model(uncompiled)
    with pytest.raises(RuntimeError, match="compile"):
        stats.on_train_begin()


def test_subclassed_model_is_rejected_clearly():
    class Sub(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = keras.layers.Dense(3, activation="relu")

        def call(self, x):
            return self.d(x)

    x, y = _data()
    model = Sub()
    model.compile("sgd", "sparse_categorical_crossentropy")
    with pytest.raises(TypeError, match="Functional"):
        model.fit(x, y, epochs=1, callbacks=[ActivationStats(x)], verbose=0)


def test_conv_channels_recurrent_and_attention_layers():
    keras.utils.set_random_seed(0)
    image = keras.Input((6, 6, 1), name="image")
    # 8 channels, 3 of them dead everywhere (bias -100)
    bias = keras.initializers.Constant([-100.0] * 3 + [0.0] * 5)
    conv = keras.layers.Conv2D(8, 3, activation="relu", bias_initializer=bias, name="conv")(image)
    seq = keras.layers.Reshape((16, 8), name="seq")(conv)
    att = keras.layers.MultiHeadAttention(2, 4, name="att")(seq, seq)
    rec = keras.layers.LSTM(5, name="lstm")(att)
    out = keras.layers.Dense(3, activation="softmax", name="out")(rec)
    model = keras.Model(image, out)
    model.compile(keras.optimizers.SGD(0.0), "sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x, y = rng.random((32, 6, 6, 1)).astype("float32"), rng.integers(0, 3, 32)
    stats = ActivationStats(x)
    model.fit(x, y, epochs=1, callbacks=[stats], verbose=0)
    # dead is per channel: a channel is dead when zero at every sample and position
    assert stats.history["conv"]["dead"] == [3 / 8, 3 / 8]
    assert set(stats.history["lstm"]) == {"mean", "std"} and "gated" in stats.skipped["lstm"]
    assert set(stats.history["att"]) == {"mean", "std"} and "linear" in stats.skipped["att"]
    assert "conv" not in stats.skipped


def test_model_of_models_is_watched_through_the_sub_models_that_take_the_probe():
    import corpus  # tests/ is on sys.path

    if keras.backend.backend() not in ("tensorflow", "torch"):
        pytest.skip("the corpus GAN's train_step is written for TensorFlow and PyTorch")
    case = corpus.build("gan", n=64)
    stats = ActivationStats(case.probe)
    case.model.fit(case.x, epochs=1, callbacks=[stats], verbose=0)
    assert "discriminator/d_logit" in stats.history
    assert not any(name.startswith("generator/") for name in stats.history)
    assert "does not accept the probe" in stats.skipped["generator"]
