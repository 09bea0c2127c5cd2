"""VanishingGradientDetector's criterion, findings and remedies (callbacks/_tap/health.py).

Backend-agnostic (no TensorFlow import): runs on KERAS_BACKEND=jax once the
gradient hook supports it (skipped with the reason until then).
"""

from __future__ import annotations

import warnings

import corpus  # tests/ is on sys.path (pytest's rootdir-less test modules)
import keras
import numpy as np
import pytest

from keras_recipes.callbacks.gradients import GradientWarning, VanishingGradientDetector


@pytest.fixture(autouse=True)
def _gradient_hook():
    reason = corpus.gradient_hook_missing()
    if reason:
        pytest.skip(reason)


def _digits():
    x, y = corpus.digits(512, seed=0)  # 16 steps of 32
    return x.reshape(len(x), -1), y


def _deep(activation, initializer, seed, batch_norm=False):
    keras.utils.set_random_seed(seed)
    layers = [keras.Input((64,))]
    for _ in range(10):
        layers.append(keras.layers.Dense(100, kernel_initializer=initializer,
                                         activation=None if batch_norm else activation))
        if batch_norm:
            layers += [keras.layers.BatchNormalization(), keras.layers.Activation(activation)]
    layers.append(keras.layers.Dense(10, activation="softmax"))
    model = keras.Sequential(layers)
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    return model


def _detect(model, x=None, y=None, epochs=1, batch_size=32, **kwargs):
    if x is None:
        x, y = _digits()
    detector = VanishingGradientDetector(**kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GradientWarning)
        model.fit(x, y, batch_size=batch_size, epochs=epochs, callbacks=[detector], verbose=0)
    return detector


def _case(name, **kwargs):
    case = corpus.build(name, seed=0)
    return _detect(case.model, case.x, case.y, batch_size=case.batch_size, **kwargs)


def test_sigmoid_glorot_vanishes_in_first_epoch():
    model = _deep("sigmoid", "glorot_uniform", 0)
    detector = _detect(model)
    (event,) = detector.events
    assert event["kind"] == "vanishing" and event["epoch"] == 0 and event["step"] < 16
    assert event["ratio"] < 1e-4 and event["lower"] != event["upper"]
    assert f"'{event['lower']}'" in event["message"]
    # the model's own layer names: the first and the last hidden Dense
    assert (event["lower"], event["upper"]) == (model.layers[0].name, model.layers[9].name)
    # remedies fit the finding: a vanishing sigmoid net needs no lower learning rate
    assert "He initialization" in event["message"] and "BatchNormalization" in event["message"]
    assert "learning rate" not in event["message"]


def test_tanh_large_normal_init_explodes():
    detector = _detect(_deep("tanh", keras.initializers.RandomNormal(stddev=1.0), 0))
    assert [e["kind"] for e in detector.events] == ["exploding"]
    event = detector.events[0]
    assert event["ratio"] > 100
    assert "RandomNormal(stddev=1)" in event["message"] and "learning rate" in event["message"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_healthy_configurations_never_flag(seed):
    for activation, initializer, batch_norm in [("elu", "he_normal", False),
                                                ("elu", "he_normal", True),
                                                ("selu", "lecun_normal", False)]:
        detector = _detect(_deep(activation, initializer, seed, batch_norm))
        assert detector.events == [], (activation, batch_norm, seed, detector.events)
        assert detector.summary["checks"] == 16
        assert 1e-2 < detector.summary["ratio_min"] <= detector.summary["ratio_max"] < 10


def test_layers_compared_leave_out_embeddings_and_every_output_head():
    from keras_recipes.callbacks._tap import health as _gradient_health

    def compared(name):
        model = corpus.build(name, n=8).model
        return [unit for unit, _ in _gradient_health.describe(model,
                                                              model.trainable_variables).units]

    assert compared("multi_io") == ["lstm", "pixel_features"]  # no embedding, no head
    assert compared("transformer") == ["block", "hidden"]  # custom layers are the units
    assert compared("convnet") == ["conv2d", "conv2d_1"]
    assert compared("lstm") == ["lstm"]  # one hidden layer: absolute checks only
    if keras.backend.backend() == "tensorflow":
        assert compared("gan") == ["discriminator/d_hidden"]  # within one sub-model


def test_remedies_fit_the_model():
    # a convnet with BatchNormalization and ReLU: no "use BN", no activation change
    detector = _case("convnet_bn", vanishing_ratio=1e3, exploding_ratio=1e4)
    remedies = " ".join(detector.events[0]["remedies"])
    assert "BatchNormalization" not in remedies and "He initialization" not in remedies
    assert "residual" in remedies
    # SGD at rate 1 on MSE: the learning rate and clipping, with the rate in use
    detector = _case("high_lr")
    event = next(e for e in detector.events if e["kind"] == "non_finite")
    assert "lower learning rate (now 1)" in event["message"]
    assert "clipping" in event["message"] and "He initialization" not in event["message"]
    assert event["non_finite_layers"][0] in {"hidden1", "hidden2", "value"}
    # the recurrent case: LSTM/GRU and clipping
    detector = _case("rnn_exploding")
    assert detector.events[0]["kind"] == "exploding"
    assert "LSTM or GRU" in detector.events[0]["message"]


def test_clipping_already_there_is_not_prescribed_again():
    case = corpus.build("high_lr")
    case.model.compile(keras.optimizers.SGD(1.0, clipnorm=1e9), "mse")
    detector = _detect(case.model, case.x, case.y)
    assert detector.events and not any("clipping" in r for e in detector.events
                                       for r in e["remedies"])


def test_summary_and_weights_read_only_at_check_points(monkeypatch):
    from keras_recipes.callbacks._tap import health as _gradient_health

    reads = []
    original = _gradient_health.weight_norms
    monkeypatch.setattr(_gradient_health, "weight_norms",
                        lambda *a: reads.append(1) or original(*a))
    case = corpus.build("mlp")
    detector = _detect(case.model, case.x, case.y, epochs=2, action="stop")
    assert detector.events == [] and detector.summary["checks"] == 16
    assert len(reads) == 1 + 2  # train begin and each epoch end, not per step
    assert np.isfinite(detector.summary["global_norm_max"])


def test_a_backbone_model_inside_a_functional_model_is_one_chain():
    from keras_recipes.callbacks._tap import health as _gradient_health

    keras.utils.set_random_seed(0)
    backbone = keras.Sequential([keras.Input((64,)),
                                 keras.layers.Dense(32, activation="relu", name="b1"),
                                 keras.layers.Dense(32, activation="relu", name="b2")],
                                name="backbone")
    inputs = keras.Input((64,))
    hidden = keras.layers.Dense(16, activation="relu", name="head_hidden")(backbone(inputs))
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax", name="out")(hidden))
    facts = _gradient_health.describe(model, model.trainable_variables)
    assert [unit for unit, _ in facts.units] == ["backbone/b1", "backbone/b2", "head_hidden"]


def test_first_run_matches_a_row_by_row_streak():
    from keras_recipes.callbacks.gradient_detector import _first_run

    rng = np.random.default_rng(0)
    for _ in range(300):
        hits = rng.random(rng.integers(0, 12)) < rng.choice([0.3, 0.7, 0.95])
        carried, patience = int(rng.integers(0, 4)), int(rng.integers(1, 5))
        streak, first = carried, None
        for i, hit in enumerate(hits):
            streak = streak + 1 if hit else 0
            if streak >= patience and first is None:
                first = i
        assert _first_run(hits, carried, patience) == (first, streak)


def test_weight_norms_stay_exact_outside_the_float32_range():
    from keras_recipes.callbacks._tap import health as _gradient_health

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu"),
                              keras.layers.Dense(3, activation="relu"), keras.layers.Dense(2)])
    variables = model.trainable_variables
    facts = _gradient_health.describe(model, variables)
    for value in (1e20, 1e-24, 0.5):
        model.layers[0].kernel.assign(np.full((4, 3), value, "float32"))
        norms = _gradient_health.weight_norms(variables, facts)
        kernel = np.full(12, np.float32(value), dtype=np.float64)
        assert np.isclose(norms[0], np.sqrt(np.sum(kernel ** 2)), rtol=1e-5), (value, norms)
