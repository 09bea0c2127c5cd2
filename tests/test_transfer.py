"""reuse_pretrained and fine_tune: copies, never shared layers; the lecture's two phases."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_recipes.data import split_for_transfer
from keras_recipes.freezing import unfreeze
from keras_recipes.models import build_dnn
from keras_recipes.optimizers import compile_recipe
from keras_recipes.transfer import fine_tune, reuse_pretrained


@pytest.fixture(scope="module")
def split(digits):
    return split_for_transfer(digits, n_train_b=20)


@pytest.fixture(scope="module")
def model_a(split):
    keras.utils.set_random_seed(7)
    model = compile_recipe(build_dnn(split.a.input_shape, 8, hidden=(32, 16), batch_norm="before"))
    model.fit(*split.a.train, epochs=2, verbose=0)
    return model


def _snapshot(model: keras.Model) -> list[np.ndarray]:
    return [np.array(w) for w in model.get_weights()]


def _identical(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_training_b_leaves_a_bit_identical(model_a, split):
    """Acceptance 1: train B frozen, then unfrozen; A's weights do not move by one bit."""
    before = _snapshot(model_a)
    model_b = reuse_pretrained(model_a, head="binary")
    assert not {id(layer) for layer in model_a.layers} & {id(layer) for layer in model_b.layers}
    # the reused layers start with A's weights
    assert _identical(model_b.get_weights()[: len(before) - 2], before[:-2])
    model_b.fit(*split.b.train, epochs=2, verbose=0)
    unfreeze(model_b, learning_rate=1e-3)
    model_b.fit(*split.b.train, epochs=2, verbose=0)
    assert not _identical(model_b.get_weights()[:1], before[:1])  # B did train its copies
    assert _identical(_snapshot(model_a), before)


def test_the_sharing_pitfall_is_real(split):
    """Why we clone: Sequential(model_a.layers[:-1]) shares A's layers (handson-ml2#454)."""
    model_a = compile_recipe(build_dnn(split.a.input_shape, 8, hidden=(8,)))
    before = _snapshot(model_a)
    shared = keras.Sequential([*model_a.layers[:-1], keras.layers.Dense(1, activation="sigmoid")])
    compile_recipe(shared).fit(*split.b.train, epochs=1, verbose=0)
    assert not _identical(_snapshot(model_a), before)


def test_default_head_is_compiled_and_frozen(model_a):
    model_b = reuse_pretrained(model_a, head="binary")
    assert model_b.compiled and model_b.loss == "binary_crossentropy"
    assert [layer.trainable for layer in model_b.layers] == [False] * 6 + [True]
    assert model_b.output_shape == (None, 1)
    features = reuse_pretrained(model_a)  # no head: uncompiled feature extractor
    assert not features.compiled and features.output_shape == (None, 16)
    assert reuse_pretrained(model_a, head="multiclass:3", freeze=False).layers[0].trainable


def test_heads_as_layers_and_task_names(model_a):
    model = reuse_pretrained(model_a, drop=3, head=[keras.layers.Dense(4, activation="relu"),
                                                    keras.layers.Dense(3, activation="softmax")])
    assert model.loss == "sparse_categorical_crossentropy" and model.output_shape == (None, 3)
    model = reuse_pretrained(model_a, head="regression:2")
    assert model.loss == "mse" and model.output_shape == (None, 2)
    model = reuse_pretrained(model_a, head=keras.layers.Dense(5), compile=False)
    assert not model.compiled


def test_functional_source():
    inputs = keras.Input((6,))
    x = keras.layers.Dense(8, activation="relu", name="d1")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="out")(x)
    source = keras.Model(inputs, outputs)
    before = _snapshot(source)
    model = reuse_pretrained(source, head="binary")
    assert [layer.name for layer in model.layers[1:]] == ["d1", "bn", "head_output"]
    x_b = np.random.default_rng(0).normal(size=(32, 6)).astype("float32")
    model.fit(x_b, (x_b[:, 0] > 0).astype("float32"), epochs=1, verbose=0)
    assert _identical(_snapshot(source), before)


def test_keras_applications_source():
    source = keras.applications.MobileNetV2(
        weights=None, input_shape=(32, 32, 3), alpha=0.35, include_top=False
    )
    model = reuse_pretrained(source, drop=0, head="binary")
    assert model.layers[-2].__class__.__name__ == "GlobalAveragePooling2D"
    assert model.output_shape == (None, 1)
    assert not any(layer.trainable for layer in model.layers[1:-2])
    x = np.random.default_rng(0).random((2, 32, 32, 3)).astype("float32")
    base = keras.Model(model.inputs, model.layers[-3].output)
    np.testing.assert_array_equal(base.predict(x, verbose=0), source.predict(x, verbose=0))


def test_bad_arguments_name_what_exists(model_a):
    with pytest.raises(ValueError, match="hidden_1_dense"):
        reuse_pretrained(model_a, drop=7)
    with pytest.raises(ValueError, match="already built"):
        reuse_pretrained(model_a, head=model_a.layers[-1])
    with pytest.raises(ValueError, match="multiclass:5"):
        reuse_pretrained(model_a, head="multiclass")
    with pytest.raises(ValueError, match="binary"):
        reuse_pretrained(model_a, head="classification")
    with pytest.raises(TypeError, match="head"):
        reuse_pretrained(model_a, head=3)
    with pytest.raises(ValueError, match="not built"):
        reuse_pretrained(keras.Sequential([keras.layers.Dense(2)]))
    with pytest.raises(TypeError, match="source"):
        reuse_pretrained("model_a")


def test_fine_tune_runs_two_phases_into_one_history(model_a, split):
    model_b = reuse_pretrained(model_a, head="binary")
    trunk_before = _snapshot(model_b)[:-2]
    history = fine_tune(model_b, split.b.train, split.b.valid, head_epochs=2, epochs=0)
    assert _identical(_snapshot(model_b)[:-2], trunk_before)  # phase 1 trains the head only
    history = fine_tune(model_b, split.b.train, split.b.valid, head_epochs=2, epochs=3,
                        learning_rate=1e-3)
    assert history.epoch == [0, 1, 2, 3, 4]
    assert len(history.history["val_accuracy"]) == 5
    assert history.phases == {"head": range(0, 2), "fine_tune": range(2, 5)}
    assert float(model_b.optimizer.learning_rate) == pytest.approx(1e-4)
    assert not _identical(_snapshot(model_b)[:1], trunk_before[:1])
    bns = [layer for layer in model_b.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert bns and not any(layer.trainable for layer in bns)  # kept in inference mode


def test_fine_tune_compiles_an_uncompiled_model(model_a, split):
    model_b = reuse_pretrained(model_a, head=keras.layers.Dense(1, activation="sigmoid"),
                               compile=False)
    history = fine_tune(model_b, split.b.train, head_epochs=1, epochs=1,
                        fine_tune_learning_rate=3e-5)
    assert model_b.loss == "binary_crossentropy" and history.epoch == [0, 1]
    assert float(model_b.optimizer.learning_rate) == pytest.approx(3e-5)
    with pytest.raises(ValueError, match="nothing to train"):
        fine_tune(model_b, split.b.train, head_epochs=0, epochs=0)


def _two_output_source():
    inputs = keras.Input((6,), name="x")
    shared = keras.layers.Dense(8, activation="relu", name="shared")(inputs)
    digit_features = keras.layers.Dense(5, activation="relu", name="digit_features")(shared)
    digit = keras.layers.Dense(3, activation="softmax", name="digit")(digit_features)
    price = keras.layers.Dense(1, name="price")(shared)
    return keras.Model(inputs, {"digit": digit, "price": price}, name="two")


def test_reuse_pretrained_on_two_outputs_needs_the_output_and_builds_on_it():
    source = _two_output_source()
    before = _snapshot(source)
    with pytest.raises(ValueError, match=r"2 outputs \['digit', 'price'\].*`output=`"):
        reuse_pretrained(source, head="binary")
    for output in ("digit", 0):
        model = reuse_pretrained(source, head="binary", output=output)
        assert [layer.name for layer in model.layers[1:]] == [
            "shared", "digit_features", "head_output"]
        assert model.output_shape == (None, 1) and model.loss == "binary_crossentropy"
        assert [layer.trainable for layer in model.layers[1:]] == [False, False, True]
    price = reuse_pretrained(source, head="multiclass:4", output="price", drop=1)
    assert [layer.name for layer in price.layers[1:]] == ["shared", "head_output"]
    x = np.random.default_rng(0).normal(size=(16, 6)).astype("float32")
    features = keras.Model(price.inputs, price.get_layer("shared").output)
    np.testing.assert_allclose(features.predict(x, verbose=0),
                               keras.Model(source.inputs, source.get_layer("shared").output)
                               .predict(x, verbose=0), rtol=1e-6)
    price.fit(x, np.arange(16) % 4, epochs=1, verbose=0)
    assert _identical(_snapshot(source), before)
    with pytest.raises(ValueError, match="one of"):
        reuse_pretrained(source, head="binary", output="prices")
    with pytest.raises(ValueError, match="out of range"):
        reuse_pretrained(source, head="binary", output=2)
    with pytest.raises(ValueError, match="reaches the input"):
        reuse_pretrained(source, head="binary", output="price", drop=2)


def test_layers_that_cannot_be_cloned_get_a_get_config_hint():
    class Scale(keras.layers.Layer):  # no get_config, __init__ without **kwargs
        def __init__(self, factor):
            super().__init__()
            self.factor = factor

        def call(self, inputs):
            return inputs * self.factor

    inputs = keras.Input((4,))
    outputs = keras.layers.Dense(2)(Scale(2.0)(inputs))
    with pytest.raises(TypeError, match=r"(?s)cannot be cloned.*Scale.*get_config"):
        reuse_pretrained(keras.Model(inputs, outputs))


def test_fine_tune_with_a_loss_for_a_head_that_implies_none(model_a, split):
    logits = reuse_pretrained(model_a, head=keras.layers.Dense(2, name="logits"), compile=False)
    x, y = split.b.train
    history = fine_tune(logits, (x, y.astype("int32")), head_epochs=1, epochs=1,
                        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    assert set(history.history) == {"loss", "accuracy"} and history.epoch == [0, 1]
    extractor = reuse_pretrained(model_a, drop=1)  # relu features: no loss to infer
    assert not extractor.compiled
    with pytest.raises(ValueError, match=r"fine_tune: loss='auto'.*loss="):
        fine_tune(extractor, split.b.train, head_epochs=1, epochs=0)
    history = fine_tune(extractor, (x, np.zeros((len(x), 16), "float32")), head_epochs=0,
                        epochs=1, loss="mse", metrics=["mae"])
    assert set(history.history) == {"loss", "mae"}
    binary = reuse_pretrained(model_a, head="binary")  # compiled: a new loss replaces its loss
    fine_tune(binary, split.b.train, head_epochs=1, epochs=0,
              loss=keras.losses.BinaryCrossentropy(label_smoothing=0.1))
    assert isinstance(binary.loss, keras.losses.BinaryCrossentropy)


def test_tasks_match_infer_task():
    from keras_recipes.heads import TASKS, output_layer
    from keras_recipes.optimizers import infer_task

    for task, units in (("multiclass", 3), ("binary", 1), ("multilabel", 4), ("regression", 2)):
        assert task in TASKS
        model = keras.Sequential([keras.Input((5,)), output_layer(units, task=task)])
        assert infer_task(model) == task
    assert len(TASKS) == 4
    head = output_layer(3, task="multilabel", class_priors=[0.1, 0.5, 0.9])
    model = keras.Sequential([keras.Input((5,)), head])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(head.bias), np.log([1 / 9, 1, 9]),
                               rtol=1e-5)
    assert model.output_shape == (None, 3)
