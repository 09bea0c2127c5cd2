"""How `ParamScheduler` reaches an optimizer's hyper-parameters, and what it reads of it.

Keras 3 keeps `momentum`, `beta_1`, `weight_decay`, ... as Python floats
baked into the compiled train step, so `_install_scheduled_scalar` swaps such
a float for a `ScheduledHyperparameter`, a scalar variable the step reads,
and re-traces the train function once. For the fit the variable joins the
optimizer's variables, so the JAX trainer passes it into the jitted step with
the rest of the optimizer state, while checkpoints (`.keras`,
`BackupAndRestore`) keep their layout (`_keras_internals.attach_variables`)
and `get_config()` reports a float; when the fit ends
(`_release_scheduled_scalars`) the optimizer holds a float again, the last
value, and nothing of the schedule is left on it.
"""

from __future__ import annotations

import contextlib
import warnings
import weakref
from collections.abc import Callable
from typing import Any

import keras
from keras import ops

from . import _keras_internals
from ._optimizers import inner_optimizer, optimizer_chain
from ._validation import check_fraction


def _check_rate_is_settable(optimizer: Any, who: str) -> None:
    """Raise if the optimizer's learning rate is a schedule or a callable."""
    rate = _keras_internals.learning_rate_setting(inner_optimizer(optimizer))
    if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule) or (
        callable(rate) and not isinstance(rate, keras.Variable)
    ):
        raise ValueError(
            f"{who} sets the learning rate itself, but this optimizer's `learning_rate` is "
            f"already a schedule ({type(rate).__name__}). Use one or the other: compile with "
            "a float learning rate, or drop the callback and keep the in-graph schedule."
        )


def _iterations(optimizer: Any) -> int:
    return int(ops.convert_to_numpy(optimizer.iterations))


def _progress(optimizer: Any) -> tuple[float, ...]:
    """What moves when the optimizer handles a step: `iterations`, and the loss scale's state.

    A `LossScaleOptimizer` skips the steps whose gradients overflow without
    counting them in `iterations`, but it halves its `dynamic_scale` (and
    resets `step_counter`) then.
    """
    state = [getattr(optimizer, name, None) for name in ("dynamic_scale", "step_counter")]
    return (_iterations(optimizer),) + tuple(
        float(ops.convert_to_numpy(v)) for v in state if v is not None
    )


def _current_rate(optimizer: Any) -> float:
    return float(ops.convert_to_numpy(optimizer.learning_rate))


def _warn_steps_per_execution(model: Any, who: str, exact: str) -> None:
    steps = int(getattr(model, "steps_per_execution", 1) or 1)
    if steps > 1:
        warnings.warn(
            f"{who}: the model runs steps_per_execution={steps} steps per call, so batch "
            f"callbacks fire once every {steps} steps and the value is held for {steps} steps. "
            f"For an exact per-step schedule use {exact}, or compile with "
            "steps_per_execution=1.",
            UserWarning,
            stacklevel=3,
        )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class ScheduledHyperparameter(keras.Variable):
    """A float hyper-parameter of an optimizer, as a variable its compiled step reads.

    Arithmetic, `ops.cast` and `float()` read the variable, so the compiled
    step sees every value the schedule assigns. A comparison with a number
    answers for `built_value`, the value the optimizer's slots were built
    for, because that is the question Keras's optimizers ask with it: SGD's
    `if self.momentum != 0` and RMSprop's `if self.momentum > 0` decide, in
    `build`, whether velocity slots exist and, in every traced `update_step`,
    whether to use them. There the answer must be a Python bool (a plain
    variable gives a tensor, which a TensorFlow graph or `jax.jit` refuses
    as a condition) and must stay the one `build` got, whatever value the
    schedule passes through, 0 included (`tests/test_scheduling.py` pins
    both).

    Example:

    ```python
    momentum = ScheduledHyperparameter(0.0, built_value=0.9, name="momentum")
    momentum != 0, float(momentum)  # (True, 0.0)
    ```

    Args:
        value: the initial value.
        built_value: the value the optimizer's slots were built for.
        name: the variable's name.
    """

    def __init__(self, value: float, *, built_value: float, name: str) -> None:
        super().__init__(float(value), dtype="float32", trainable=False, name=name)
        self.built_value = float(built_value)

    def __eq__(self, other: Any) -> Any:  # noqa: D105
        return self.built_value == other if _is_number(other) else self is other

    def __ne__(self, other: Any) -> Any:  # noqa: D105
        return self.built_value != other if _is_number(other) else self is not other

    def __lt__(self, other: Any) -> Any:  # noqa: D105
        return self.built_value < other if _is_number(other) else NotImplemented

    def __le__(self, other: Any) -> Any:  # noqa: D105
        return self.built_value <= other if _is_number(other) else NotImplemented

    def __gt__(self, other: Any) -> Any:  # noqa: D105
        return self.built_value > other if _is_number(other) else NotImplemented

    def __ge__(self, other: Any) -> Any:  # noqa: D105
        return self.built_value >= other if _is_number(other) else NotImplemented

    __hash__ = object.__hash__

    def __float__(self) -> float:
        return float(ops.convert_to_numpy(self.value))


MOMENTUM_ATTRIBUTES = ("momentum", "beta_1")


def _momentum_attribute(optimizer: Any, attribute: str | None) -> str | None:
    """The name of the optimizer's momentum-like float, or None if it has none."""
    base = inner_optimizer(optimizer)
    names = MOMENTUM_ATTRIBUTES if attribute is None else (attribute,)
    for name in names:
        value = getattr(base, name, None)
        if isinstance(value, ScheduledHyperparameter):
            return name
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if name == "momentum" and float(value) == 0.0:
                # SGD / RMSprop built without momentum have no velocity slots.
                return None
            return name
    return None


# inner optimizer -> (the patches of this fit, {attribute: its ScheduledHyperparameter})
_SCHEDULED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
# inner optimizer -> {attribute: the value when first scheduled, which its slots were built for}
_BUILT: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _install_scheduled_scalar(model: Any, attribute: str) -> ScheduledHyperparameter:
    """Make `optimizer.<attribute>` a variable the compiled step reads, until the fit ends.

    For the fit, the variable also rides in `optimizer.variables` (a JAX step
    carries only those as state) and stays out of checkpoints
    (`_keras_internals.attach_variables`), and `optimizer.get_config()`
    reports its value as a float. `_release_scheduled_scalars` puts the float
    back.
    """
    chain = optimizer_chain(model.optimizer)
    base = chain[-1]
    patches, scheduled = _SCHEDULED.setdefault(base, (_keras_internals.Patches(), {}))
    if attribute in scheduled:
        return scheduled[attribute]
    current = float(getattr(base, attribute))
    built = _BUILT.setdefault(base, {}).setdefault(attribute, current)
    strategy = getattr(model, "distribute_strategy", None)
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        variable = ScheduledHyperparameter(current, built_value=built,
                                           name=f"scheduled_{attribute}")
    if not scheduled:
        patches.wrap(base, "get_config", _config_with_floats)
    patches.put(base, attribute, variable)  # outside the optimizer's variable tracking
    _keras_internals.attach_variables(chain, [variable])
    scheduled[attribute] = variable
    # The train function captured the old float when it was traced: re-trace.
    model.make_train_function(force=True)
    return variable


def _release_scheduled_scalars(model: Any) -> None:
    """At the end of `fit`: the optimizer's hyper-parameters are floats again (the last values)."""
    optimizer = getattr(model, "optimizer", None)
    base = inner_optimizer(optimizer) if optimizer is not None else None
    patches, scheduled = _SCHEDULED.pop(base, (None, {})) if base is not None else (None, {})
    if not scheduled:
        return
    values = {attribute: float(variable) for attribute, variable in scheduled.items()}
    _keras_internals.detach_variables(base, list(scheduled.values()))
    patches.undo()
    for attribute, value in values.items():
        _keras_internals.set_untracked(base, attribute, value)
    model.make_train_function(force=True)


def _config_with_floats(get_config: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    def config() -> dict[str, Any]:
        return {key: float(value) if isinstance(value, ScheduledHyperparameter) else value
                for key, value in get_config().items()}

    return config


def _hyperparameters(optimizer: Any) -> list[str]:
    """The optimizer hyper-parameters a `ParamScheduler` can set."""
    base = inner_optimizer(optimizer)
    names = ["learning_rate"]
    for name, value in base.get_config().items():
        current = getattr(base, name, None)
        if name != "learning_rate" and isinstance(value, float) and (
            isinstance(current, (float, ScheduledHyperparameter))
        ):
            names.append(name)
    return names


def _check_momentum(name: str, value: Any) -> float:
    return float(check_fraction(name, value))
