"""`find_learning_rate`: the learning-rate finder in one call."""

from __future__ import annotations

import inspect
import math
from typing import Any

import keras
import numpy as np

from .callbacks._scheduling_base import _check_rate_is_settable
from .callbacks._validation import check_positive, require_compiled
from .callbacks.lr_finder import MIN_SWEEP_STEPS, LRFinder, LRFinderResult

# LRFinder's own arguments (with its defaults); the other keywords go to `fit`.
_FINDER_ARGUMENTS = tuple(
    name for name in inspect.signature(LRFinder).parameters if name != "restore"
)
_REFUSED = ("epochs", "callbacks", "initial_epoch", "restore")


def find_learning_rate(
    model: keras.Model,
    x: Any,
    y: Any = None,
    *,
    batch_size: int | None = 32,
    verbose: int | str = 1,
    **kwargs: Any,
) -> LRFinderResult:
    """Sweep the learning rate exponentially over (at most) one epoch and suggest one.

    Runs `model.fit(x, y, epochs=1, callbacks=[LRFinder(...)])` (Keras's
    progress bar shows the sweep with `verbose=1`), stops when the smoothed
    loss diverges, and leaves the model exactly as it found it: weights,
    BatchNorm statistics, optimizer variables (iterations, rate, moments)
    and `steps_per_execution` (set to 1 during the sweep so that the rate
    changes at every step; the train function is re-made on both sides).

    The suggestion is the rate at the minimum of the smoothed loss divided by
    10 (`method="min_loss"`) or the rate of steepest descent
    (`method="steepest"`); both are on the result. Plot it with
    `recipes.plots.plot_lr_finder(result)`.

    It never suggests nonsense silently: a NaN or inf in array inputs or
    targets, or a non-finite loss at the first step, is a `ValueError` that
    says where to look; a sweep of fewer than 10 steps is a `ValueError`
    naming `batch_size` and the sample count; a suggestion at the edge of the
    sweep is a warning that proposes a wider range (see `LRFinder`).

    Example:

    ```python
    data = keras_recipes.load_digits()
    model = keras_recipes.default_dnn(data.input_shape, data.n_classes)
    result = keras_recipes.find_learning_rate(model, *data.train)
    model.optimizer.learning_rate = result.suggested_learning_rate
    ```

    Args:
        model: a compiled model with a float learning rate.
        x: inputs (anything `fit` accepts).
        y: targets (None when `x` is a dataset).
        batch_size: batch size of the sweep (ignored for datasets).
        verbose: passed to `fit` (1: progress bar, 0: silent).
        **kwargs: `LRFinder`'s arguments, with its defaults (`min_learning_rate`,
            `max_learning_rate`, `num_steps`, `smoothing`, `divergence_factor`,
            `method`), and other `fit` arguments (e.g. `shuffle`, `sample_weight`).
    """
    require_compiled(model, "find_learning_rate")
    if batch_size is not None:
        check_positive("batch_size", batch_size, integer=True)
    for name in _REFUSED:
        if name in kwargs:
            raise TypeError(
                f"find_learning_rate runs one epoch with its own callback; `{name}` is not "
                f"accepted (received {name}={kwargs[name]!r})."
            )
    finder = LRFinder(**{k: kwargs.pop(k) for k in _FINDER_ARGUMENTS if k in kwargs})
    _check_rate_is_settable(model.optimizer, "find_learning_rate")
    is_dataset = isinstance(x, keras.utils.PyDataset) or hasattr(x, "element_spec")
    if is_dataset:
        batch_size = None
    else:
        _check_finite(x, "x")
        _check_finite(y, "y")
        _check_enough_steps(x, batch_size, finder.num_steps)
    steps_per_execution = int(getattr(model, "steps_per_execution", 1) or 1)
    if steps_per_execution > 1:
        model.steps_per_execution = 1
        model.make_train_function(force=True)
    try:
        model.fit(
            x, y, batch_size=batch_size, epochs=1, callbacks=[finder], verbose=verbose, **kwargs
        )
    finally:
        finder.restore_state()  # also after an exception mid-sweep
        if steps_per_execution > 1:
            model.steps_per_execution = steps_per_execution
            model.make_train_function(force=True)
    if finder.result is None:
        raise RuntimeError("find_learning_rate: the sweep ran no step (is the data empty?).")
    return finder.result


def _arrays(value: Any) -> list[np.ndarray]:
    """The NumPy arrays in `value` (an array, or a list / tuple / dict of them)."""
    if isinstance(value, np.ndarray):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [item for item in value if isinstance(item, np.ndarray)]
    return []


def _check_finite(value: Any, name: str) -> None:
    for array in _arrays(value):
        if np.issubdtype(array.dtype, np.inexact) and not np.isfinite(array).all():
            bad = np.argwhere(~np.isfinite(array))
            raise ValueError(
                f"find_learning_rate: `{name}` holds {len(bad)} non-finite value(s) (NaN or inf), "
                f"the first at index {tuple(int(i) for i in bad[0])}; every step that sees one "
                "has a non-finite loss, and the sweep would suggest nonsense. Clean the data "
                f"(e.g. keep the rows where `np.isfinite({name}).all(axis=1)`)."
            )


def _check_enough_steps(x: Any, batch_size: int | None, num_steps: int | None) -> None:
    arrays = _arrays(x)
    samples = len(arrays[0]) if arrays else None
    if samples is None or batch_size is None:
        return
    steps = math.ceil(samples / batch_size)
    if num_steps is not None:
        steps = min(steps, num_steps)
    if steps < MIN_SWEEP_STEPS:
        largest = samples // MIN_SWEEP_STEPS
        raise ValueError(
            f"find_learning_rate: the sweep would run {steps} step(s) ({samples} samples, "
            f"batch_size={batch_size}"
            f"{f', num_steps={num_steps}' if num_steps is not None else ''}), and at least "
            f"{MIN_SWEEP_STEPS} are needed to find a rate. Use batch_size <= {max(1, largest)} "
            "or more samples."
        )
