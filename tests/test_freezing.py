"""freeze / unfreeze / trainable_summary: exact layers, recompiled, frozen BN stays put."""

from __future__ import annotations

import warnings

import keras
import numpy as np
import pytest

from keras_recipes.freezing import freeze, trainable_summary, unfreeze
from keras_recipes.models import build_dnn
from keras_recipes.optimizers import compile_recipe


def _model(batch_norm: str = "before") -> keras.Sequential:
    model = build_dnn((6,), 3, hidden=(8, 8), batch_norm=batch_norm, name="m")
    return compile_recipe(model, "sgd", learning_rate=0.05, momentum=0.9)


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6)).astype("float32") * 3 + 1
    return x, rng.integers(0, 3, size=64)


def _flags(model):
    return [layer.trainable for layer in model.layers]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, [False] * 6 + [True]),
        ({"until": 2}, [False, False] + [True] * 5),
        ({"until": -3}, [False] * 4 + [True] * 3),
        ({"until": "hidden_2_dense"}, [False] * 3 + [True] * 4),
        ({"until": 7}, [False] * 7),
        ({"layers": ["hidden_1_bn", 5]}, [True, False, True, True, True, False, True]),
    ],
)
def test_freeze_sets_exactly_the_requested_layers(kwargs, expected):
    assert _flags(freeze(_model(), **kwargs)) == expected


def test_unfreeze_by_start_index_name_or_list():
    model = freeze(_model(), until=7)
    assert _flags(unfreeze(model, start=-2)) == [False] * 5 + [True] * 2
    assert _flags(unfreeze(model, start="hidden_2_dense")) == [False] * 3 + [True] * 4
    assert _flags(unfreeze(model, layers=[0])) == [True, False, False] + [True] * 4
    assert _flags(unfreeze(model)) == [True] * 7


@pytest.mark.parametrize("batch_norm", ["before", "after"])
def test_frozen_layers_stay_bit_identical_and_unfreeze_trains_them(batch_norm):
    model = _model(batch_norm)
    x, y = _data()
    model.fit(x, y, epochs=1, verbose=0)
    frozen = model.layers[:-1]
    before = [[np.array(w) for w in layer.weights] for layer in frozen]
    head_before = np.array(model.layers[-1].kernel)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Keras warns when trainable changed without compile
        # (not NumPy 2's DeprecationWarning about Keras's JAX Variable.__array__)
        warnings.simplefilter("ignore", DeprecationWarning)
        freeze(model)
        model.fit(x, y, epochs=2, verbose=0)
    for layer, weights in zip(frozen, before, strict=True):  # BN moving mean/variance included
        for w, w0 in zip(layer.weights, weights, strict=True):
            np.testing.assert_array_equal(np.array(w), w0, err_msg=f"{layer.name}/{w.name}")
    assert not np.array_equal(np.array(model.layers[-1].kernel), head_before)
    bn = next(la for la in frozen if isinstance(la, keras.layers.BatchNormalization))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", DeprecationWarning)
        unfreeze(model, learning_rate=0.01)
        model.fit(x, y, epochs=1, verbose=0)
    assert not np.array_equal(np.array(bn.moving_mean), np.array(before[frozen.index(bn)][2]))
    assert not np.array_equal(np.array(frozen[0].kernel), before[0][0])


def test_recompile_keeps_loss_metrics_and_optimizer_settings():
    model = _model()
    freeze(model, learning_rate=0.01)
    assert model.loss == "sparse_categorical_crossentropy"
    assert model.get_compile_config()["metrics"] == ["accuracy"]
    # compile_recipe's fast path; Keras's torch trainer runs one step per execution
    assert model.steps_per_execution == (1 if keras.backend.backend() == "torch" else 32)
    config = model.optimizer.get_config()
    assert config["momentum"] == 0.9 and config["learning_rate"] == pytest.approx(0.01)
    unfreeze(model)
    assert model.optimizer.get_config()["learning_rate"] == pytest.approx(0.01)


def test_keep_batch_norm_frozen():
    model = freeze(_model(), until=7)
    unfreeze(model, keep_batch_norm_frozen=True)
    assert [la.name for la in model.layers if not la.trainable] == ["hidden_1_bn", "hidden_2_bn"]


def test_bad_selections_name_what_exists():
    model = _model()
    with pytest.raises(ValueError, match=r"out of range.*'hidden_1_dense'"):
        freeze(model, until=8)
    with pytest.raises(ValueError, match=r"no layer named 'nope'.*'output'"):
        unfreeze(model, start="nope")
    with pytest.raises(ValueError, match="out of range"):
        freeze(model, layers=[-8])
    with pytest.raises(ValueError, match="selects no layer"):
        freeze(model, until=0)
    with pytest.raises(ValueError, match="not both"):
        freeze(model, until=2, layers=[1])
    with pytest.raises(TypeError, match="until"):
        freeze(model, until=1.5)
    with pytest.raises(ValueError, match="not compiled"):
        freeze(build_dnn((6,), 3), learning_rate=0.1)


def test_trainable_summary_rows_and_text():
    lines = []
    rows = trainable_summary(freeze(_model(), until=2), print_fn=lines.append)
    assert [r["state"] for r in rows] == ["frozen", "frozen"] + ["trainable"] * 5
    assert rows[0]["trainable_params"] == 0 and rows[0]["non_trainable_params"] == 48
    assert rows[-1]["trainable_params"] == 27
    assert "hidden_1_dense" in lines[0] and "total:" in lines[0]
    outer = keras.Sequential([keras.Input((6,)), _model(), keras.layers.Dense(1)])
    outer.layers[0].layers[0].trainable = False
    assert trainable_summary(outer, print_fn=None)[0]["state"] == "partly frozen"
