"""A model's data by input and output: one array, or a list / dict of them.

Keras takes the inputs, the labels, the losses and the loss weights of a
model as a single value, a list (in output order) or a dict (by output name).
These helpers read that structure the same way everywhere: the initial-loss
check (`callbacks._initial_loss`), the checklists (`recipes.checks`) and the
output selection of `recipes.compile_recipe` and `recipes.reuse_pretrained`
(callbacks never import recipes, so they live here).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras
import numpy as np

from . import _keras_internals


def _map(fn: Any, data: Any) -> Any:
    if isinstance(data, Mapping) or hasattr(data, "keys"):
        return {key: _map(fn, data[key]) for key in data.keys()}
    if isinstance(data, (list, tuple)):
        return [_map(fn, item) for item in data]
    return fn(np.asarray(data))


def take(data: Any, n: int) -> Any:
    """The first `n` samples of an array or of each array in a list / dict."""
    return _map(lambda a: a[:n], data)


def repeat(data: Any, times: int) -> Any:
    """Each array of `data` repeated `times` times along the sample axis."""
    return _map(lambda a: np.tile(a, (times,) + (1,) * (a.ndim - 1)), data)


def arrays(data: Any) -> list[np.ndarray]:
    """The arrays of `data` (one array, or those of a list / dict), flat, in order."""
    found: list[np.ndarray] = []
    _map(found.append, data)
    return found


def per_output(structure: Any, names: list[str], what: str) -> dict[str, Any]:
    """Map a single value, a list (output order) or a dict onto the output names."""
    if hasattr(structure, "keys") and not isinstance(structure, np.ndarray):
        unknown = sorted(set(structure.keys()) - set(names))
        if unknown:
            raise ValueError(f"`{what}` has keys {unknown} that are not outputs of the model "
                             f"(outputs: {names}).")
        return {name: structure[name] for name in names if name in structure}
    if isinstance(structure, (list, tuple)) and len(names) > 1:
        if len(structure) != len(names):
            raise ValueError(f"`{what}` has {len(structure)} entries for a model with "
                             f"{len(names)} outputs {names}.")
        return dict(zip(names, structure))
    if len(names) == 1:
        return {names[0]: structure[0] if isinstance(structure, (list, tuple))
                and len(structure) == 1 else structure}
    return dict.fromkeys(names, structure)  # one loss for every output, as compile does


def output_names(model: keras.Model) -> list[str]:
    """The model's output names (one name for a single-output or subclassed model)."""
    names = getattr(model, "output_names", None)
    if names:
        return list(names)
    outputs = getattr(model, "outputs", None) or []
    if len(outputs) > 1:
        return [_keras_internals.producer(t)[0].name for t in outputs]
    return ["output"]


def pick_output(names: list[str], output: int | str) -> str:
    """The output name that `output` (a name or an index into `names`) denotes."""
    if isinstance(output, int) and not isinstance(output, bool):
        if not -len(names) <= output < len(names):
            raise ValueError(f"`output`={output} is out of range for the outputs {names}.")
        return names[output]
    if output not in names:
        raise ValueError(f"`output` must be one of {names} or an index; received {output!r}.")
    return output
