"""summary.json's number rules: NumPy scalars and non-finite floats survive the round trip."""

import json
import math

import numpy as np

from keras_recipes.summary_json import from_json, to_json_ready


def test_round_trip_keeps_numbers_and_non_finite_values():
    summary = {"loss": np.float32(0.5), "epochs": np.int64(3), "best": float("nan"),
               "range": (float("-inf"), math.inf), 1: ["text", None, True]}
    text = json.dumps(to_json_ready(summary))  # plain json: no NumPy, no NaN token
    assert "NaN" not in text and "Infinity" not in text
    back = from_json(json.loads(text))
    assert back["loss"] == 0.5 and back["epochs"] == 3 and isinstance(back["epochs"], int)
    assert math.isnan(back["best"]) and back["range"] == [-math.inf, math.inf]
    assert back["1"] == ["text", None, True]
