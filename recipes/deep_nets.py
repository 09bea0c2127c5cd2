"""A recipe that trains deep plain dense networks (20, 50 hidden layers) on every seed.

Lecture 001's remedies for deep nets, and only those: He initialization
matched to ELU, BatchNormalization before each activation (the Dense layers
drop their bias), standardized inputs, Adam, global gradient clipping and a
learning-rate schedule that warms up and then anneals (1cycle's shape, in
graph: Keras's `CosineDecay` with a warm-up). No dropout: at these depths the
noise of one dropout layer per hidden layer compounds until the net cannot fit
its own training set (BENCHMARKS.md, "Deep nets on every seed").
"""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType
from typing import Any

import keras

from .callbacks._validation import check_fraction, check_positive
from .models import build_dnn

__all__ = ["DEEP_DNN", "deep_dnn", "warmup_cosine"]

DEEP_DNN: MappingProxyType[str, Any] = MappingProxyType(
    {
        "width": 100,
        "activation": "elu",
        "initializer": "he_normal",
        "batch_norm": "before",
        "dropout": 0.0,
        "optimizer": "adam",
        "learning_rate": 1e-3,
        "warmup_fraction": 0.1,
        "global_clipnorm": 1.0,
    }
)
"""The deep-net recipe as data: `learning_rate` is the peak of the warm-up / cosine schedule."""


def warmup_cosine(peak_learning_rate: float, total_steps: int,
                  warmup_fraction: float = 0.1) -> keras.optimizers.schedules.CosineDecay:
    """A 1cycle-shaped in-graph schedule: linear warm-up to the peak, then cosine to 0.

    It starts at a tenth of the peak, reaches the peak after
    `warmup_fraction * total_steps` steps and anneals to 0 at `total_steps`
    (Keras's `CosineDecay` with `warmup_target`), so it needs no callback and
    runs with `steps_per_execution` > 1.

    Example:

    ```python
    schedule = warmup_cosine(1e-3, total_steps=40 * 37)
    optimizer = make_optimizer("adam", learning_rate=schedule, global_clipnorm=1.0)
    ```

    Args:
        peak_learning_rate: the rate at the end of the warm-up (> 0).
        total_steps: optimizer steps of the whole run (> 0).
        warmup_fraction: share of the steps spent warming up, in [0, 1).
    """
    check_positive("peak_learning_rate", peak_learning_rate)
    check_positive("total_steps", total_steps, integer=True)
    check_fraction("warmup_fraction", warmup_fraction)
    warmup = int(round(warmup_fraction * total_steps))
    return keras.optimizers.schedules.CosineDecay(
        float(peak_learning_rate) / 10, max(1, int(total_steps) - warmup),
        warmup_target=float(peak_learning_rate), warmup_steps=warmup)


def deep_dnn(
    input_shape: int | Sequence[int],
    n_outputs: int,
    *,
    total_steps: int | None = None,
    depth: int = 20,
    normalize: Any = None,
    task: str = "multiclass",
    compile: bool = True,
    learning_rate: float | None = None,
    **overrides: Any,
) -> keras.Sequential:
    """Build a deep dense net with the lecture's remedies, one that trains at 20 or 50 layers.

    `depth` hidden layers of `DEEP_DNN["width"]` units: Dense without bias,
    BatchNormalization, ELU, He normal weights; a `Normalization` input layer
    when `normalize` is given (pass the training inputs). Compiled with Adam,
    `global_clipnorm=1.0` and `warmup_cosine` over `total_steps` (the whole
    run: epochs x steps per epoch), with `compile_recipe(fast=True)`.

    Example:

    ```python
    data = load_digits()
    steps = 40 * math.ceil(len(data.train[0]) / 32)
    model = deep_dnn(data.input_shape, data.n_classes, depth=50, normalize=data.train[0],
                     total_steps=steps)
    model.fit(*data.train, validation_data=data.valid, epochs=40, batch_size=32)
    ```

    Args:
        input_shape: shape of one sample.
        n_outputs: classes, 1 for binary, targets for regression.
        total_steps: optimizer steps of the run, the schedule's length
            (required with `compile=True`).
        depth: number of hidden layers (> 0).
        normalize: sample inputs to adapt a `Normalization` input layer, or
            `None` for inputs that are standardized already.
        task: `"multiclass"`, `"binary"` or `"regression"`.
        compile: compile with the recipe's optimizer and schedule.
        learning_rate: the schedule's peak (default `DEEP_DNN["learning_rate"]`).
        **overrides: other `build_dnn` arguments (e.g. `activation="selu"`,
            `dropout`); the initializer follows an overridden activation.
    """
    check_positive("depth", depth, integer=True)
    settings = {"hidden": (DEEP_DNN["width"],) * int(depth), "activation": DEEP_DNN["activation"],
                "initializer": "auto", "batch_norm": DEEP_DNN["batch_norm"],
                "dropout": DEEP_DNN["dropout"]}
    settings.update(overrides)
    if compile and total_steps is None:
        raise ValueError("`total_steps` (epochs x steps per epoch of the run, the length of the "
                         "learning-rate schedule) is required with compile=True; received None.")
    if not compile and (total_steps is not None or learning_rate is not None):
        raise ValueError("`total_steps` and `learning_rate` configure the optimizer and apply "
                         "only with compile=True.")
    model = build_dnn(input_shape, n_outputs, task=task, normalize=normalize, name="deep_dnn",
                      **settings)
    if compile:
        from .optimizers import compile_recipe

        peak = DEEP_DNN["learning_rate"] if learning_rate is None else learning_rate
        schedule = warmup_cosine(peak, total_steps, DEEP_DNN["warmup_fraction"])
        compile_recipe(model, DEEP_DNN["optimizer"], learning_rate=schedule,
                       global_clipnorm=DEEP_DNN["global_clipnorm"])
    return model
