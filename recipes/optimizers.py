"""Optimizers with the lectures' defaults, and compiling a model with the right loss."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from . import _backend
from .callbacks import _keras_internals
from .callbacks._initial_loss import loss_kind
from .callbacks._structure import output_names, pick_output
from .callbacks._validation import (
    check_choice,
    check_fraction,
    check_non_negative,
    check_positive,
)
from .defaults import (
    CLIPPING_ARGUMENTS,
    MOMENTUM_OPTIMIZERS,
    OPTIMIZER_DEFAULTS,
    default_learning_rate,
)
from .schedules import PowerSchedule

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
    learning_rate: float | keras.optimizers.schedules.LearningRateSchedule | None = None,
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
    `keras_recipes.OPTIMIZER_DEFAULTS`. `decay=` keeps the meaning it had in the
    slides' `SGD(lr=0.01, decay=1e-4)`: power scheduling with c = 1 and
    s = 1 / decay (Keras 3 drops `decay=` with a mere warning, and the
    schedule silently vanishes). Like every Keras optimizer, `learning_rate`
    also takes a `keras.optimizers.schedules.LearningRateSchedule`
    (`ExponentialDecay`, `CosineDecay`, `keras_recipes.PowerSchedule`, ...); the
    optimizer and its schedule round-trip through a `.keras` file.

    Example:

    ```python
    optimizer = make_optimizer("sgd", learning_rate=0.01, decay=1e-4)
    float(optimizer.learning_rate)  # 0.01 at iteration 0, 0.005 at 10000
    optimizer = make_optimizer("nesterov", clipnorm=1.0)
    optimizer = make_optimizer(
        "adam", learning_rate=keras.optimizers.schedules.CosineDecay(1e-3, 10_000))
    ```

    Args:
        name: one of the names above.
        learning_rate: the (initial) learning rate (> 0), or a
            `LearningRateSchedule` (then neither `decay` nor `schedule`); the
            lecture's default for `name` when `None`.
        momentum: momentum for `sgd`, `momentum`, `nesterov` and `rmsprop`,
            in [0, 1).
        clipvalue: clip each gradient component to [-clipvalue, clipvalue].
        clipnorm: rescale each variable's gradient to L2 norm <= clipnorm.
        global_clipnorm: rescale all gradients so that their joint L2 norm is
            <= global_clipnorm.
        decay: the pre-Keras-3 `decay=` (> 0): power schedule, s = 1/decay.
        schedule: a `keras.optimizers.schedules.LearningRateSchedule` (e.g.
            `keras_recipes.PowerSchedule`) used instead of a constant rate.
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
    if isinstance(learning_rate, keras.optimizers.schedules.LearningRateSchedule):
        for argument, value in (("decay", decay), ("schedule", schedule)):
            if value is not None:
                raise ValueError(
                    f"`learning_rate` is already a schedule ({type(learning_rate).__name__}); "
                    f"`{argument}=` would be a second one. Pass one of `learning_rate=<schedule>`"
                    f" and `{argument}=`; received {argument}={value!r}."
                )
        schedule, learning_rate = learning_rate, None
    elif learning_rate is not None:
        learning_rate = float(check_positive("learning_rate", learning_rate))
    for argument in ("beta_1", "beta_2", "rho"):
        if argument in kwargs:
            check_fraction(argument, kwargs[argument])
    for argument in ("epsilon", "weight_decay"):
        if argument in kwargs:
            check_non_negative(argument, kwargs[argument])
    given = dict(zip(CLIPPING_ARGUMENTS, (clipvalue, clipnorm, global_clipnorm)))
    for argument, value in given.items():
        if value is not None:
            check_positive(argument, value)
            settings[argument] = float(value)
    clipping = [a for a in CLIPPING_ARGUMENTS if a in settings]
    if len(clipping) > 1:
        raise ValueError(
            f"Use only one of {', '.join(f'`{a}`' for a in CLIPPING_ARGUMENTS)}; received "
            f"{clipping}."
        )
    if momentum is not None:
        if name not in MOMENTUM_OPTIMIZERS:
            raise ValueError(
                f"`momentum` applies to {list(MOMENTUM_OPTIMIZERS)}; received momentum="
                f"{momentum!r} for {name!r} (Adam-family optimizers take `beta_1=`)."
            )
        check_fraction("momentum", momentum)
        settings["momentum"] = float(momentum)
    rate = learning_rate if learning_rate is not None else default_learning_rate(name)
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
                "keras_recipes.PowerSchedule or keras_recipes.make_schedule(...)); "
                f"received {schedule!r}."
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


def _output_layers(model: keras.Model) -> dict[str, tuple[Any, int | None]]:
    """Each output's name -> (the layer that produces it, its units), in output order."""
    outputs = getattr(model, "outputs", None) or []
    names = output_names(model)
    if len(outputs) == len(names) and outputs:
        return {
            name: (_keras_internals.producer(tensor)[0],
                   tensor.shape[-1] if len(tensor.shape) > 1 else 1)
            for name, tensor in zip(names, outputs)
        }
    last = model.layers[-1] if model.layers else None
    return {names[0]: (last, getattr(last, "units", None))}


def _layer_task(layer: Any, units: int | None, where: str) -> str:
    if isinstance(layer, keras.layers.Softmax):
        return "multiclass"
    activation = getattr(getattr(layer, "activation", None), "__name__", None)
    if activation == "softmax":
        return "multiclass"
    if activation == "sigmoid":
        return "binary" if units == 1 else "multilabel"
    if activation == "linear":
        return "regression"
    raise ValueError(
        f"Cannot infer the task of {where} from its layer {getattr(layer, 'name', layer)!r} "
        f"(activation {activation!r}); pass `loss=` and `metrics=` explicitly."
    )


def infer_task(model: keras.Model, output: int | str | None = None) -> str:
    """Return the task that an output layer of the model implies.

    softmax -> `"multiclass"`; one sigmoid unit -> `"binary"`; several
    sigmoid units -> `"multilabel"`; linear -> `"regression"` (the names of
    `recipes.heads.TASKS`).

    Example:

    ```python
    infer_task(build_dnn((64,), 10))  # "multiclass"
    infer_task(two_output_model, output="price")  # "regression"
    ```

    Args:
        model: a built Keras model.
        output: for a model with several outputs, the output's name or
            index (required there: the task is never guessed).
    """
    layers = _output_layers(model)
    names = list(layers)
    if output is None:
        if len(names) > 1:
            raise ValueError(
                f"Cannot infer one task for a model with {len(names)} outputs {names}; pass "
                "`output=` (a name or an index), or `loss=` per output."
            )
        output = names[0]
    output = pick_output(names, output)
    where = f"output {output!r}" if len(names) > 1 else "the output"
    return _layer_task(*layers[output], where)


def _auto_metrics(loss: Any, task: str | None) -> list[str] | None:
    """Metrics for one output: from its loss when that is a known kind, else from its task."""
    try:
        kind = loss_kind(loss).kind
    except ValueError:
        kind = None
    if kind == "binary_crossentropy" and task == "multilabel":
        return ["binary_accuracy"]
    if kind in ("sparse_categorical_crossentropy", "categorical_crossentropy",
                "binary_crossentropy"):
        return ["accuracy"]
    if kind in ("mse", "mae"):
        return ["mae"]
    return None if task is None else list(TASK_LOSSES[task][1])


def _per_output(names: list[str], loss: Any) -> dict[str, Any]:
    """The given `loss` for each output name (`"auto"` everywhere for `"auto"`)."""
    if hasattr(loss, "keys"):
        unknown = sorted(set(loss.keys()) - set(names))
        if unknown:
            raise ValueError(f"`loss` has keys {unknown} that are not outputs of the model "
                             f"(outputs: {names}).")
        return {name: loss.get(name) for name in names}
    if isinstance(loss, (list, tuple)) and len(names) > 1:
        if len(loss) != len(names):
            raise ValueError(f"`loss` has {len(loss)} entries for a model with {len(names)} "
                             f"outputs {names}.")
        return dict(zip(names, loss))
    return dict.fromkeys(names, loss)


def _auto_loss_and_metrics(model: keras.Model, loss: Any, metrics: Any) -> tuple[Any, Any]:
    """Fill an `"auto"` loss / metrics per output from each output's task (or given loss)."""
    names = list(_output_layers(model))
    losses, chosen = {}, {}
    for name, output_loss in _per_output(names, loss).items():
        try:
            task, problem = infer_task(model, name), None
        except ValueError as error:
            task, problem = None, error
        if _is_auto(output_loss):
            if task is None:
                raise ValueError(f"loss='auto': {problem}") from problem
            output_loss = TASK_LOSSES[task][0]
        losses[name] = output_loss
        if output_loss is None:  # an output without a loss has no metrics either
            continue
        chosen[name] = _auto_metrics(output_loss, task)
        if chosen[name] is None and _is_auto(metrics):
            raise ValueError(
                f"metrics='auto': {problem} For several outputs pass a dict keyed by output "
                f"name (outputs: {names})."
            ) from problem
    one = len(names) == 1
    loss = (losses[names[0]] if one else losses) if _is_auto(loss) else loss
    metrics = (chosen.get(names[0]) if one else chosen) if _is_auto(metrics) else metrics
    return loss, metrics


def _is_auto(value: Any) -> bool:
    return isinstance(value, str) and value == "auto"


def compile_recipe(
    model: keras.Model,
    optimizer: str | keras.optimizers.Optimizer = "adam",
    *,
    loss: Any = "auto",
    metrics: Any = "auto",
    fast: bool = True,
    learning_rate: float | keras.optimizers.schedules.LearningRateSchedule | None = None,
    steps_per_execution: int | None = None,
    **optimizer_kwargs: Any,
) -> keras.Model:
    """Compile `model` with the loss and metrics its output layer implies.

    Multiclass (softmax): sparse categorical cross-entropy + accuracy; binary
    (one sigmoid): binary cross-entropy + accuracy; regression (linear): MSE +
    MAE. On a model with several outputs each output gets its own (a dict
    keyed by output name), and `loss=` may be a dict or list.
    `fast=True` runs `FAST_STEPS_PER_EXECUTION` steps per call of the
    compiled train function, which changes no maths (see BENCHMARKS.md for the
    measured speed-up). Batch-level callbacks then fire once every N steps; pass
    `fast=False` for per-step callbacks such as `callbacks.PowerScheduling`.
    For small models on a CPU, the process-wide other half of the fast path
    on TensorFlow is `keras_recipes.set_cpu_threads(1)`, called before any model
    is built; on JAX (XLA-compiled already) `fast=True` is the whole of it.
    Under a `tf.distribute` strategy with several replicas `fast` uses one
    step per execution, because Keras 3.15 cannot run more there; so it does
    on PyTorch, whose Keras trainer runs one step per execution (an explicit
    `steps_per_execution` > 1 is an error there).

    Example:

    ```python
    model = compile_recipe(build_dnn((64,), 10), "nadam", learning_rate=3e-3)
    model = compile_recipe(build_dnn((8,), 1, task="regression"), loss="mae")
    compile_recipe(two_outputs, loss={"digit": "sparse_categorical_crossentropy",
                                      "price": "mse"})   # metrics per output
    ```

    Args:
        model: the model to compile (returned, compiled in place).
        optimizer: a name for `make_optimizer` or a Keras optimizer object.
        loss: `"auto"` or any Keras loss (name or object); for a model with
            several outputs a dict keyed by output name or a list in output
            order (an entry `"auto"` infers that output's loss).
        metrics: `"auto"` (per output: from its loss when it is a cross-
            entropy or MSE / MAE, else from its task; an output whose task
            cannot be inferred is named in the error) or Keras metrics (a
            list, or a dict per output).
        fast: use `steps_per_execution` (identical maths, less overhead).
        learning_rate: passed to `make_optimizer` (names only): a rate or a
            `LearningRateSchedule`.
        steps_per_execution: explicit value, overriding `fast` (1 on PyTorch).
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
    if loss is None:
        raise ValueError("`loss` must be 'auto', a Keras loss, or a dict / list of them (one per "
                         "output); received None.")
    if _is_auto(loss) or _is_auto(metrics):
        loss, metrics = _auto_loss_and_metrics(model, loss, metrics)
    if isinstance(metrics, str):
        metrics = [metrics]
    if metrics is not None and not isinstance(metrics, (Sequence, dict)):
        raise TypeError(f"`metrics` must be 'auto', a list or a dict; received {metrics!r}.")
    if steps_per_execution is None:
        # Keras 3.15 cannot run steps_per_execution > 1 with several tf.distribute
        # replicas ("You must feed a value for placeholder tensor"); JAX can. Its
        # torch trainer accepts only 1.
        several_steps = _backend.replicas_in_sync(model) == 1
        steps_per_execution = _backend.steps_per_execution(
            FAST_STEPS_PER_EXECUTION if fast and several_steps else 1)
    check_positive("steps_per_execution", steps_per_execution, integer=True)
    if _backend.steps_per_execution(steps_per_execution) != steps_per_execution:
        # Keras itself says so only when `fit` starts
        raise ValueError(
            f"`steps_per_execution` > 1 supports the backends ['tensorflow', 'jax']; the "
            f"Keras backend is {_backend.backend()!r}, whose trainer runs one step per "
            f"execution: pass 1 (or `fast=True`, which picks it); received "
            f"steps_per_execution={steps_per_execution!r}.")
    model.compile(
        optimizer=optimizer,
        loss=loss,
        metrics=list(metrics) if isinstance(metrics, Sequence) else metrics,
        steps_per_execution=int(steps_per_execution),
    )
    return model
