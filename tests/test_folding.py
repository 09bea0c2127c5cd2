"""fold_batch_norm: same outputs (1e-5), fewer layers, unfoldable layouts reported."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_recipes.folding import fold_batch_norm
from keras_recipes.models import build_dnn


def _randomize_bn(model: keras.Model, seed: int = 0) -> None:
    """Give every BN non-trivial statistics, as after training."""
    rng = np.random.default_rng(seed)
    layers = [model]
    while layers:
        layer = layers.pop()
        layers += list(getattr(layer, "layers", []) or [])
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.moving_mean.shape[0]
            values = {"gamma": rng.uniform(0.7, 1.3, n), "beta": rng.normal(0, 0.2, n),
                      "moving_mean": rng.normal(0, 0.3, n),
                      "moving_variance": rng.uniform(0.5, 2.0, n)}
            for w in layer.weights:
                w.assign(values[w.name].astype("float32"))


def _numpy(tensor) -> np.ndarray:
    return keras.ops.convert_to_numpy(tensor)  # a torch output requires grad: np.asarray fails


def _max_diff(a: keras.Model, b: keras.Model, x: np.ndarray) -> float:
    difference = _numpy(a(x, training=False)) - _numpy(b(x, training=False))
    return float(np.max(np.abs(difference)))


@pytest.mark.parametrize("batch_norm", ["before", "after"])
def test_dense_bn_folds_with_equal_outputs(batch_norm):
    model = build_dnn((12,), 4, hidden=(32,) * 5, batch_norm=batch_norm, dropout=0.1,
                      task="regression", calibrate_output=False)
    _randomize_bn(model)
    before = [np.array(w) for w in model.get_weights()]
    folded = fold_batch_norm(model)
    assert isinstance(folded, keras.Model)
    x = np.random.default_rng(1).normal(size=(128, 12)).astype("float32")
    assert _max_diff(model, folded, x) < 1e-5
    np.testing.assert_allclose(folded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=0, atol=1e-5)
    assert not any(isinstance(la, keras.layers.BatchNormalization) for la in folded.layers)
    report = folded.fold_report
    assert len(report.folded) == 5 and report.left == []
    into = "hidden_1_dense" if batch_norm == "before" else "hidden_2_dense"
    assert report.folded[0] == ("hidden_1_bn", into)
    after = model.get_weights()
    assert all(np.array_equal(w, np.array(v)) for w, v in zip(before, after, strict=True))
    assert "folded 5" in str(report)


def test_conv_before_activation_folds_and_unfoldable_layouts_are_reported():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", use_bias=False, name="c1")(inputs)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.ReLU(name="r1")(x)
    y = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="c2")(x)
    y = keras.layers.BatchNormalization(name="bn2")(y)  # after ReLU, then a Conv: not exact
    y = keras.layers.Conv2D(4, 1, name="c3")(y)
    z = keras.layers.Add(name="add")([x, y])
    z = keras.layers.BatchNormalization(name="bn3")(z)  # after Add, then pooling: stays
    outputs = keras.layers.GlobalAveragePooling2D(name="pool")(z)
    model = keras.Model(inputs, outputs)
    _randomize_bn(model)
    folded = fold_batch_norm(model)
    done, left = folded.fold_report.folded, folded.fold_report.left
    assert done == [("bn1", "c1")]
    assert [bn for bn, _ in left] == ["bn2", "bn3"]
    assert "'c2'" in left[0][1] and "Add" in left[1][1]
    assert [la.name for la in folded.layers if "bn" in la.name] == ["bn2", "bn3"]
    x = np.random.default_rng(2).normal(size=(4, 8, 8, 3)).astype("float32")
    assert _max_diff(model, folded, x) < 1e-5


def test_keras_applications_model_folds():
    model = keras.applications.MobileNetV2(
        weights=None, input_shape=(32, 32, 3), alpha=0.35, include_top=False, pooling="avg"
    )
    _randomize_bn(model)
    folded = fold_batch_norm(model)
    report = folded.fold_report
    assert len(report.folded) == 52 and not report.left  # every Conv/DepthwiseConv -> BN pair
    x = np.random.default_rng(3).random((2, 32, 32, 3)).astype("float32")
    reference = _numpy(model(x, training=False))
    np.testing.assert_allclose(_numpy(folded(x, training=False)), reference,
                               rtol=1e-4, atol=1e-5)


def test_nested_models_and_bad_input():
    inner = build_dnn((5,), 2, hidden=(6,), batch_norm="before", name="inner")
    _randomize_bn(inner)
    outer = keras.Sequential([keras.Input((5,)), inner, keras.layers.Dense(1)], name="outer")
    folded = fold_batch_norm(outer)
    assert folded.fold_report.folded == [("inner/hidden_1_bn", "inner/hidden_1_dense")]
    assert folded.get_layer("inner").fold_report.folded == [("hidden_1_bn", "hidden_1_dense")]
    x = np.random.default_rng(4).normal(size=(16, 5)).astype("float32")
    assert _max_diff(outer, folded, x) < 1e-5
    with pytest.raises(TypeError, match="model"):
        fold_batch_norm("model")
    with pytest.raises(ValueError, match="not built"):
        fold_batch_norm(keras.Sequential([keras.layers.Dense(2)]))
