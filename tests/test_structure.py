"""callbacks/_structure.py: a model's data as one array or a list / dict per input or output."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_recipes.callbacks._structure import (
    arrays,
    output_names,
    per_output,
    pick_output,
    repeat,
    take,
)


def test_take_repeat_and_arrays_follow_lists_and_dicts():
    a, b = np.arange(6).reshape(3, 2), np.arange(3)
    assert take(a, 2).tolist() == [[0, 1], [2, 3]]
    first = take({"image": a, "label": b}, 1)
    assert first["image"].tolist() == [[0, 1]] and first["label"].tolist() == [0]
    twice = repeat([a, b], 2)
    assert twice[0].shape == (6, 2) and twice[1].tolist() == [0, 1, 2, 0, 1, 2]
    assert [x.shape for x in arrays({"image": a, "label": [b, b]})] == [(3, 2), (3,), (3,)]


def test_per_output_maps_values_lists_and_dicts_onto_output_names():
    names = ["class", "box"]
    assert per_output("mse", names, "loss") == {"class": "mse", "box": "mse"}
    assert per_output(["ce", "mse"], names, "loss") == {"class": "ce", "box": "mse"}
    assert per_output({"box": 2.0}, names, "loss_weights") == {"box": 2.0}
    assert per_output(["ce"], ["out"], "loss") == {"out": "ce"}
    with pytest.raises(ValueError, match="loss_weights.*'size'"):
        per_output({"size": 1.0}, names, "loss_weights")
    with pytest.raises(ValueError, match="3 entries.*2 outputs"):
        per_output([1, 2, 3], names, "y")


def test_output_names_and_pick_output():
    inputs = keras.Input((4,))
    two = keras.Model(inputs, [keras.layers.Dense(3, name="class")(inputs),
                               keras.layers.Dense(1, name="box")(inputs)])
    names = output_names(two)
    assert names == ["class", "box"]
    assert pick_output(names, -1) == "box" and pick_output(names, "class") == "class"
    with pytest.raises(ValueError, match="out of range"):
        pick_output(names, 2)
    with pytest.raises(ValueError, match="one of"):
        pick_output(names, True)
