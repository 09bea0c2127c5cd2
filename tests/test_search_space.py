"""Typed search-space values (issue 15, item 4)."""

from __future__ import annotations

import keras_tuner
import pytest

from keras_recipes.search_space import (
    Choice,
    Fixed,
    Range,
    categorical_space,
    choices,
    numeric_space,
)


def test_the_language_reads_into_typed_values():
    assert numeric_space("units", 64, integer=True) == Fixed(64)
    assert numeric_space("units", (32, 512), integer=True) == Range(32, 512)
    assert numeric_space("lr", [0.01, 0.001]) == Choice((0.001, 0.01))
    assert categorical_space("opt", "adam", ["adam", "sgd"]) == Fixed("adam")
    assert categorical_space("opt", ("sgd", "adam"), ["adam", "sgd"]) == Choice(("sgd", "adam"))
    assert choices(["adam"]) == Fixed("adam") and choices([1, 2]) == Choice((1, 2))
    assert Range(1, 3).values() == [1, 2, 3] and Choice((1, 2)).values() == [1, 2]
    with pytest.raises(TypeError, match="float range"):
        Range(0.1, 0.5).values()
    with pytest.raises(ValueError, match="`units` range must have low < high"):
        numeric_space("units", (5, 5), integer=True)
    with pytest.raises(ValueError, match="`lr` lists a value twice"):
        numeric_space("lr", [0.1, 0.1])


def test_declare_keeps_a_default_only_inside_the_space():
    hp = keras_tuner.HyperParameters()
    assert Range(32, 512).declare(hp, "units", log=True, default=100) == 100
    assert Range(1e-4, 1e-2).declare(hp, "lr", log=True, default=0.5) == pytest.approx(1e-4)
    assert Choice((16, 64)).declare(hp, "batch", default=32) == 16
    assert Fixed("adam").declare(hp, "optimizer", default="sgd") == "adam"
    kinds = {p.name: type(p).__name__ for p in hp.space}
    assert kinds == {"units": "Int", "lr": "Float", "batch": "Choice", "optimizer": "Fixed"}
