"""Optimizers with the lectures' defaults, and compiling a model with the right loss."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from callbacks._validation import (
    check_choice,
    check_fraction,
    check_non_negative,
    check_positive,
)
from recipes import _backend
from recipes.defaults import OPTIMIZER_DEFAULTS
from recipes.schedules import PowerSchedule

MOMENTUM_OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop")

FAST_STEPS_PER_EXECUTION = 32
"""Steps run per call of the compiled train function when `compile_recipe(fast=True)`.

Chosen from `benchmarks/fast_path.py` (see BENCHMARKS.md): it removes most of
the per-step Python and dispatch cost of small models and changes no maths.
"""

TASK_LOSSES = {
    "multiclass": ("sparse_categorical_crossentropy", ["accuracy"]),
    "binary": ("binary_crossentropy", ["accuracy"]),
    "multilabel": ("binary_crossentropy", ["binary_accuracy"]),
    "regression": ("mse", ["mae"]),
}


def make_optimizer(
    name: str,
    learning_rate: float | None = None,
    *,
    momentum: float | None = None,
    clipvalue: float | None = None,
    clipnorm: float | None = None,
    global_clipnorm: float | None = None,
    decay: float | None = None,
    schedule: keras.optimizers.schedules.LearningRateSchedule | None = None,
    **kwargs: Any,
) -> keras.optimizers.Optimizer:
    """Build a Keras optimizer by the lectures' name and defaults.

    Names: `sgd` (rate 0.01), `momentum` (SGD, momentum 0.9), `nesterov`,
    `adagrad`, `rmsprop` (rho 0.9), `adam` (0.9, 0.999, eps 1e-7), `nadam`,
    `adamax`, `adamw` (rate 0.001 unless said otherwise): see
    `recipes.OPTIMIZER_DEFAULTS`. `decay=` keeps the meaning it had in the
    slides' `SGD(lr=0.01, decay=1e-4)`: power scheduling with c = 1 and
    s = 1 / decay (Keras 3 drops `decay=` with a mere warning, and the
    schedule silently vanishes).

    Example:

    ```python
    optimizer = make_optimizer("sgd", learning_rate=0.01, decay=1e-4)
    float(optimizer.learning_rate)  # 0.01 at iteration 0, 0.005 at 10000
    optimizer = make_optimizer("nesterov", clipnorm=1.0)
    ```

    Args:
        name: one of the names above.
        learning_rate: the (initial) learning rate (> 0); the lecture's
            default for `name` when `None`.
        momentum: momentum for `sgd`, `momentum`, `nesterov` and `rmsprop`,
            in [0, 1).
        clipvalue: clip each gradient component to [-clipvalue, clipvalue].
        clipnorm: rescale each variable's gradient to L2 norm <= clipnorm.
        global_clipnorm: rescale all gradients so that their joint L2 norm is
            <= global_clipnorm.
        decay: the pre-Keras-3 `decay=` (> 0): power schedule, s = 1/decay.
        schedule: a `keras.optimizers.schedules.LearningRateSchedule` (e.g.
            `recipes.PowerSchedule`) used instead of a constant rate.
        **kwargs: other arguments of the Keras optimizer class (`rho`,
            `beta_1`, `weight_decay`, ...).
    """
    check_choice("name", name, sorted(OPTIMIZER_DEFAULTS))
    if "lr" in kwargs:
        raise TypeError(
            "`lr=` is the pre-Keras-3 spelling (lecture 001's snippets); Keras 3 rejects it. "
            f"Use `learning_rate={kwargs['lr']!r}`."
        )
    settings = dict(OPTIMIZER_DEFAULTS[name])
    optimizer_class = getattr(keras.optimizers, settings.pop("class"))
    if learning_rate is not None:
        learning_rate = float(check_positive("learning_rate", learning_rate))
    for argument in ("beta_1", "beta_2", "rho"):
        if argument in kwargs:
            check_fraction(argument, kwargs[argument])
    for argument in ("epsilon", "weight_decay"):
        if argument in kwargs:
            check_non_negative(argument, kwargs[argument])
    for argument, value in (
        ("clipvalue", clipvalue),
        ("clipnorm", clipnorm),
        ("global_clipnorm", global_clipnorm),
    ):
        if value is not None:
            check_positive(argument, value)
            settings[argument] = float(value)
    clipping = [a for a in ("clipvalue", "clipnorm", "global_clipnorm") if a in settings]
    if len(clipping) > 1:
        raise ValueError(
            f"Use only one of `clipvalue`, `clipnorm`, `global_clipnorm`; received {clipping}."
        )
    if momentum is not None:
        if name not in MOMENTUM_OPTIMIZERS:
            raise ValueError(
                f"`momentum` applies to {list(MOMENTUM_OPTIMIZERS)}; received momentum="
                f"{momentum!r} for {name!r} (Adam-family optimizers take `beta_1=`)."
            )
        check_fraction("momentum", momentum)
        settings["momentum"] = float(momentum)
    rate = learning_rate if learning_rate is not None else settings["learning_rate"]
    if decay is not None and schedule is not None:
        raise ValueError(
            "Pass either `decay=` (power schedule, lecture 001) or `schedule=`, not both; "
            f"received decay={decay!r} and schedule={schedule!r}."
        )
    if decay is not None:
        check_positive("decay", decay)
        rate = PowerSchedule(rate, s=1.0 / float(decay), c=1.0)
    elif schedule is not None:
        if not isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
            raise TypeError(
                "`schedule` must be a keras.optimizers.schedules.LearningRateSchedule (e.g. "
                f"recipes.PowerSchedule or recipes.make_schedule(...)); received {schedule!r}."
            )
        if learning_rate is not None:
            raise ValueError(
                "`learning_rate` and `schedule` are both set; the schedule carries its own "
                f"initial rate. Received learning_rate={learning_rate!r}."
            )
        rate = schedule
    settings["learning_rate"] = rate
    settings.update(kwargs)
    return optimizer_class(**settings)


def infer_task(model: keras.Model) -> str:
    """Return the task that the model's output layer implies.

    softmax -> `"multiclass"`; one sigmoid unit -> `"binary"`; several
    sigmoid units -> `"multilabel"`; linear -> `"regression"`.

    Example:

    ```python
    infer_task(build_dnn((64,), 10))  # "multiclass"
    ```

    Args:
        model: a built Keras model with one output.
    """
    outputs = getattr(model, "outputs", None) or []
    if len(outputs) > 1:
        raise ValueError(
            f"Cannot infer the loss of a model with {len(outputs)} outputs; pass `loss=`."
        )
    last = model.layers[-1] if model.layers else None
    if isinstance(last, keras.layers.Softmax):
        return "multiclass"
    activation = getattr(getattr(last, "activation", None), "__name__", None)
    units = getattr(last, "units", None)
    if activation == "softmax":
        return "multiclass"
    if activation == "sigmoid":
        return "binary" if units == 1 else "multilabel"
    if activation == "linear":
        return "regression"
    raise ValueError(
        f"Cannot infer the task from the output layer {getattr(last, 'name', last)!r} "
        f"(activation {activation!r}); pass `loss=` and `metrics=` explicitly."
    )


def compile_recipe(
    model: keras.Model,
    optimizer: str | keras.optimizers.Optimizer = "adam",
    *,
    loss: Any = "auto",
    metrics: Any = "auto",
    fast: bool = True,
    learning_rate: float | None = None,
    steps_per_execution: int | None = None,
    **optimizer_kwargs: Any,
) -> keras.Model:
    """Compile `model` with the loss and metrics its output layer implies.

    Multiclass (softmax): sparse categorical cross-entropy + accuracy; binary
    (one sigmoid): binary cross-entropy + accuracy; regression (linear): MSE +
    MAE. `fast=True` runs `FAST_STEPS_PER_EXECUTION` steps per call of the
    compiled train function, which changes no maths (see BENCHMARKS.md for the
    measured speed-up). Batch-level callbacks then fire once every N steps; pass
    `fast=False` for per-step callbacks such as `callbacks.PowerScheduling`.
    For small models on a CPU, the process-wide other half of the fast path
    is `recipes.set_cpu_threads(1)`, called before any model is built.
    Under a `tf.distribute` strategy with several replicas `fast` uses one
    step per execution, because Keras 3.15 cannot run more there.

    Example:

    ```python
    model = compile_recipe(build_dnn((64,), 10), "nadam", learning_rate=3e-3)
    model = compile_recipe(build_dnn((8,), 1, task="regression"), loss="mae")
    ```

    Args:
        model: the model to compile (returned, compiled in place).
        optimizer: a name for `make_optimizer` or a Keras optimizer object.
        loss: `"auto"` or any Keras loss (name or object).
        metrics: `"auto"` or a list of Keras metrics.
        fast: use `steps_per_execution` (identical maths, less overhead).
        learning_rate: passed to `make_optimizer` (names only).
        steps_per_execution: explicit value, overriding `fast`.
        **optimizer_kwargs: passed to `make_optimizer` (e.g. `clipnorm=1.0`,
            `decay=1e-4`, `momentum=0.9`).
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a keras.Model; received {type(model).__name__}.")
    if isinstance(optimizer, str):
        optimizer = make_optimizer(optimizer, learning_rate, **optimizer_kwargs)
    elif isinstance(optimizer, keras.optimizers.Optimizer):
        if learning_rate is not None or optimizer_kwargs:
            raise ValueError(
                "`learning_rate` and optimizer keyword arguments apply only when `optimizer` is "
                f"a name; received an optimizer object with {sorted(optimizer_kwargs)}"
                f"{' and learning_rate' if learning_rate is not None else ''}."
            )
    else:
        raise TypeError(
            "`optimizer` must be a name accepted by make_optimizer or a keras Optimizer; "
            f"received {optimizer!r}."
        )
    if loss == "auto" or metrics == "auto":
        task_loss, task_metrics = TASK_LOSSES[infer_task(model)]
        loss = task_loss if loss == "auto" else loss
        metrics = task_metrics if metrics == "auto" else metrics
    if isinstance(metrics, str):
        metrics = [metrics]
    if metrics is not None and not isinstance(metrics, (Sequence, dict)):
        raise TypeError(f"`metrics` must be 'auto', a list or a dict; received {metrics!r}.")
    if steps_per_execution is None:
        # Keras 3.15 cannot run steps_per_execution > 1 with several tf.distribute
        # replicas ("You must feed a value for placeholder tensor"); JAX can.
        replicas = _backend.replicas_in_sync(model)
        steps_per_execution = FAST_STEPS_PER_EXECUTION if fast and replicas == 1 else 1
    check_positive("steps_per_execution", steps_per_execution, integer=True)
    model.compile(
        optimizer=optimizer,
        loss=loss,
        metrics=list(metrics) if isinstance(metrics, Sequence) else metrics,
        steps_per_execution=int(steps_per_execution),
    )
    return model
