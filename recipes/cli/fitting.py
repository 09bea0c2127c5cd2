"""What the sub-commands that fit share once Keras has started: progress, logs, evaluation.

Imported only after `startup.import_keras()`: the classes here subclass
Keras's own callbacks.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

EVALUATION_BATCH = 4096
"""Validation and evaluation run in batches this large: a split of the lectures' data in one,
so a compiling backend (JAX) compiles one test step per split size, not a full and a partial."""


def shown_in_progress_bar(key: str) -> bool:
    """Whether a log key belongs on the progress bar (loss, metrics, global gradient norm).

    Per-variable gradient norms and activation statistics (`<prefix>/<name>`
    keys) stay out; they go to history.csv, the report and TensorBoard.

    Example:

    ```python
    shown_in_progress_bar("grad_norm/dense/kernel")  # False
    ```

    Args:
        key: a key of Keras's logs.
    """
    return "/" not in key or key.endswith("/global")


class CleanProgressBar(keras.callbacks.ProgbarLogger):
    """Keras's progress bar with loss, metrics and the global gradient norm only.

    It also counts steps right when `steps_per_execution` is larger than
    the steps left in an epoch (Keras reports the end of the execution
    block, e.g. "32/19"): the count stops at the epoch's steps.

    Example:

    ```python
    model.fit(x, y, epochs=3, callbacks=[CleanProgressBar()])
    ```
    """

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.target is not None:
            batch = min(batch, self.target - 1)
        super().on_train_batch_end(batch, _kept(logs))

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        super().on_epoch_end(epoch, _kept(logs))


def _kept(logs: dict | None) -> dict | None:
    return None if logs is None else {k: v for k, v in logs.items() if shown_in_progress_bar(k)}


class EpochCSVLogger(keras.callbacks.CSVLogger):
    """Keras's `CSVLogger` with epochs numbered as the progress bar prints them (from 1).

    Example:

    ```python
    model.fit(x, y, epochs=3, callbacks=[EpochCSVLogger("history.csv")])
    ```

    Args:
        filename: the CSV file.
    """

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        super().on_epoch_end(epoch + 1, logs)


def in_original_units(model: keras.Model, mean: list[float], std: list[float]) -> keras.Model:
    """The trained regression model with its output mapped back to the targets' units.

    It is compiled with the model's loss and metrics (and a fresh copy of
    its optimizer), so `evaluate` reports them in the original units and
    the saved file predicts what the user's data holds.

    Example:

    ```python
    deployed = in_original_units(model, [152.1], [77.0])
    ```

    Args:
        model: a compiled model trained on standardized targets.
        mean: the training targets' mean, one per target.
        std: their standard deviation, one per target.
    """
    inputs = keras.Input(model.input_shape[1:])
    outputs = keras.layers.Normalization(
        axis=-1, mean=np.asarray(mean), variance=np.square(np.asarray(std)), invert=True,
        name="original_units")(model(inputs))
    deployed = keras.Model(inputs, outputs, name=f"{model.name}_original_units")
    optimizer = model.optimizer.__class__.from_config(model.optimizer.get_config())
    deployed.compile(optimizer=optimizer, loss=model.loss, metrics=["mae"],
                     steps_per_execution=model.steps_per_execution)
    return deployed


def evaluate_splits(model: keras.Model, data: Any, *, targets: tuple | None = None
                    ) -> dict[str, dict[str, float]]:
    """Loss and metrics of `model` on the training, validation and test splits.

    Each split is evaluated in one batch (up to `EVALUATION_BATCH` samples).

    Example:

    ```python
    evaluate_splits(model, data)["test"]["accuracy"]
    ```

    Args:
        model: a compiled model.
        data: the `Splits`.
        targets: `(mean, std)` to evaluate on targets in their original units.
    """
    found = {}
    for name, (x, y) in (("train", data.train), ("validation", data.valid), ("test", data.test)):
        if targets is not None:
            mean, std = (np.asarray(v, dtype="float64").reshape(y.shape[1:]) for v in targets)
            y = y * std + mean
        found[name] = {k: float(v) for k, v in model.evaluate(
            x, y, batch_size=min(len(x), EVALUATION_BATCH), verbose=0, return_dict=True).items()}
    return found


def checklist_items(report: Any) -> list[dict[str, Any]]:
    """A `ChecklistReport` as JSON-ready dictionaries.

    Example:

    ```python
    checklist_items(run_checklist(model, data.train, data.valid))
    ```

    Args:
        report: what `keras_recipes.run_checklist` returned.
    """
    return [{"name": r.name, "passed": bool(r.passed), "measured": r.measured,
             "expected": r.expected, "advice": r.advice} for r in report]
