"""`find_learning_rate`: the learning-rate finder in one call."""

from __future__ import annotations

from typing import Any

import keras

from callbacks._validation import check_positive, require_compiled
from callbacks.lr_finder import LRFinder, LRFinderResult


def find_learning_rate(
    model: keras.Model,
    x: Any,
    y: Any = None,
    *,
    batch_size: int | None = 32,
    min_learning_rate: float = 1e-7,
    max_learning_rate: float = 10.0,
    num_steps: int | None = None,
    smoothing: float = 0.9,
    divergence_factor: float = 4.0,
    method: str = "min_loss",
    verbose: int | str = 1,
    **fit_kwargs: Any,
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

    Example:

    ```python
    data = recipes.load_digits()
    model = recipes.default_dnn(data.input_shape, data.n_classes)
    result = recipes.find_learning_rate(model, *data.train)
    model.optimizer.learning_rate = result.suggested_learning_rate
    ```

    Args:
        model: a compiled model with a float learning rate.
        x: inputs (anything `fit` accepts).
        y: targets (None when `x` is a dataset).
        batch_size: batch size of the sweep (ignored for datasets).
        min_learning_rate: first rate of the sweep (> 0).
        max_learning_rate: last rate of the sweep (> `min_learning_rate`).
        num_steps: steps of the sweep; defaults to one epoch, at most one epoch.
        smoothing: weight of the past in the loss's moving average, in [0, 1).
        divergence_factor: stop when the smoothed loss exceeds this multiple of
            its minimum (> 1).
        method: `"min_loss"` or `"steepest"` (see above).
        verbose: passed to `fit` (1: progress bar, 0: silent).
        **fit_kwargs: other `fit` arguments (e.g. `shuffle`, `sample_weight`).
    """
    require_compiled(model, "find_learning_rate")
    if batch_size is not None:
        check_positive("batch_size", batch_size, integer=True)
    for name in ("epochs", "callbacks", "initial_epoch"):
        if name in fit_kwargs:
            raise TypeError(
                f"find_learning_rate runs one epoch with its own callback; `{name}` is not "
                f"accepted (received {name}={fit_kwargs[name]!r})."
            )
    finder = LRFinder(
        min_learning_rate=min_learning_rate,
        max_learning_rate=max_learning_rate,
        num_steps=num_steps,
        smoothing=smoothing,
        divergence_factor=divergence_factor,
        method=method,
    )
    steps_per_execution = int(getattr(model, "steps_per_execution", 1) or 1)
    if steps_per_execution > 1:
        model.steps_per_execution = 1
        model.make_train_function(force=True)
    try:
        if isinstance(x, keras.utils.PyDataset) or hasattr(x, "element_spec"):
            batch_size = None
        model.fit(
            x, y, batch_size=batch_size, epochs=1, callbacks=[finder], verbose=verbose,
            **fit_kwargs,
        )
    finally:
        finder.restore_state()  # also after an exception mid-sweep
        if steps_per_execution > 1:
            model.steps_per_execution = steps_per_execution
            model.make_train_function(force=True)
    if finder.result is None:
        raise RuntimeError("find_learning_rate: the sweep ran no step (is the data empty?).")
    return finder.result
