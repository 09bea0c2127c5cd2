"""The one place that reaches into an optimizer's hyper-parameters (`ParamScheduler`).

Keras 3 keeps `momentum`, `beta_1`, `weight_decay`, ... as Python floats
baked into the compiled train step, so `_install_scheduled_scalar` swaps such
a float for a scalar variable the step reads, and re-traces the train
function once. During `fit` the variable joins the optimizer's variables,
so the JAX trainer passes it into the jitted step with the rest of the
optimizer state (a variable outside that state would be frozen into the
step as a constant); the optimizer's `save_own_variables` /
`load_own_variables` leave it out, so checkpoints (`.keras`,
`BackupAndRestore`) keep their layout, and its `get_config()` still reports
a float.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import keras
from keras import ops

from ._validation import check_fraction


def _base_optimizer(optimizer: Any) -> Any:
    """The optimizer that owns the hyperparameters (unwraps LossScaleOptimizer)."""
    return getattr(optimizer, "inner_optimizer", optimizer)


def _check_rate_is_settable(optimizer: Any, who: str) -> None:
    """Raise if the optimizer's learning rate is a schedule or a callable."""
    rate = getattr(_base_optimizer(optimizer), "_learning_rate", None)
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


class _ScheduledScalar(keras.Variable):
    """A scalar variable that stands in for an optimizer's float hyperparameter.

    The optimizers compare the hyperparameter with Python numbers to decide
    their structure (`if self.momentum != 0:` creates the velocity slots), so
    comparisons with numbers answer from the value at install time, which
    keeps that structure; arithmetic and `ops.cast` read the variable, so the
    compiled step sees every new value.
    """

    def _set_structure(self, value: float) -> None:
        self._structure_value = float(value)

    def _cmp(self, other: Any, op: Callable[[float, float], bool]) -> Any:
        if isinstance(other, (int, float)) and not isinstance(other, bool):
            return op(self._structure_value, float(other))
        return NotImplemented

    def __eq__(self, other: Any) -> Any:  # noqa: D105
        result = self._cmp(other, lambda a, b: a == b)
        return self is other if result is NotImplemented else result

    def __ne__(self, other: Any) -> Any:  # noqa: D105
        result = self._cmp(other, lambda a, b: a != b)
        return self is not other if result is NotImplemented else result

    def __lt__(self, other: Any) -> Any:  # noqa: D105
        return self._cmp(other, lambda a, b: a < b)

    def __le__(self, other: Any) -> Any:  # noqa: D105
        return self._cmp(other, lambda a, b: a <= b)

    def __gt__(self, other: Any) -> Any:  # noqa: D105
        return self._cmp(other, lambda a, b: a > b)

    def __ge__(self, other: Any) -> Any:  # noqa: D105
        return self._cmp(other, lambda a, b: a >= b)

    __hash__ = object.__hash__

    def __float__(self) -> float:
        return float(ops.convert_to_numpy(self.value))


MOMENTUM_ATTRIBUTES = ("momentum", "beta_1")


def _momentum_attribute(optimizer: Any, attribute: str | None) -> str | None:
    """The name of the optimizer's momentum-like float, or None if it has none."""
    base = _base_optimizer(optimizer)
    names = MOMENTUM_ATTRIBUTES if attribute is None else (attribute,)
    for name in names:
        value = getattr(base, name, None)
        if isinstance(value, _ScheduledScalar):
            return name
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if name == "momentum" and float(value) == 0.0:
                # SGD / RMSprop built without momentum have no velocity slots.
                return None
            return name
    return None


def _install_scheduled_scalar(model: Any, attribute: str) -> _ScheduledScalar:
    """Make `optimizer.<attribute>` a variable the compiled step reads every step."""
    base = _base_optimizer(model.optimizer)
    current = getattr(base, attribute)
    if isinstance(current, _ScheduledScalar):
        _track(base, current, True)
        return current
    strategy = getattr(model, "distribute_strategy", None)
    scope = strategy.scope() if strategy is not None else _NullScope()
    with scope:
        variable = _ScheduledScalar(
            float(current), dtype="float32", trainable=False, name=f"scheduled_{attribute}"
        )
    variable._set_structure(float(current))
    # Not through the optimizer's __setattr__ (its tracker): the attribute keeps its name.
    object.__setattr__(base, attribute, variable)
    _track(base, variable, True)
    _leave_out_of_checkpoints(base, model.optimizer)
    # The train function captured the old float when it was traced: re-trace.
    model.make_train_function(force=True)
    return variable


def _release_scheduled_scalars(model: Any, variables: list[Any]) -> None:
    """At the end of `fit`: the optimizer's variables are its own again (see `_track`)."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None:
        for variable in variables:
            _track(_base_optimizer(optimizer), variable, False)


def _track(base: Any, variable: _ScheduledScalar, track: bool) -> None:
    """Put the variable in the optimizer's variables for the duration of a `fit`, or take it out.

    A compiled JAX step is a pure function of its state (the model's, the
    optimizer's and the metrics' variables): any other variable is a constant
    frozen at tracing, so an assigned value would never reach the update.
    The variable rides in `optimizer.variables` while `fit` runs (the JAX
    trainer gathers that list at every epoch; TensorFlow does not mind) and
    leaves at `on_train_end`, so `optimizer.variables` outside `fit` is the
    optimizer's own; checkpoints written during `fit` skip it
    (`_leave_out_of_checkpoints`).
    """
    tracked = base._variables
    index = next((i for i, v in enumerate(tracked) if v is variable), None)
    if track and index is None:
        tracked.append(variable)
    elif not track and index is not None:
        del tracked[index]


def _leave_out_of_checkpoints(base: Any, outer: Any) -> None:
    """Patch (once) the optimizer's config and checkpoint methods to skip the scheduled scalars."""
    if "_scheduled_patch" in base.__dict__:
        return
    object.__setattr__(base, "_scheduled_patch", True)
    original_config = base.get_config

    def get_config() -> dict[str, Any]:
        config = original_config()
        for key, value in config.items():
            if isinstance(value, _ScheduledScalar):
                config[key] = float(value)
        return config

    object.__setattr__(base, "get_config", get_config)
    for optimizer in {id(base): base, id(outer): outer}.values():
        for name in ("save_own_variables", "load_own_variables"):
            object.__setattr__(optimizer, name, _without_scheduled(base, getattr(optimizer, name)))


def _without_scheduled(base: Any, method: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def run(store: Any) -> Any:
        kept = base._variables
        object.__setattr__(
            base, "_variables", [v for v in kept if not isinstance(v, _ScheduledScalar)]
        )
        try:
            return method(store)
        finally:
            object.__setattr__(base, "_variables", kept)

    return run


def _hyperparameters(optimizer: Any) -> list[str]:
    """The optimizer hyper-parameters a `ParamScheduler` can set."""
    base = _base_optimizer(optimizer)
    names = ["learning_rate"]
    for name, value in base.get_config().items():
        current = getattr(base, name, None)
        if name != "learning_rate" and isinstance(value, float) and (
            isinstance(current, (float, _ScheduledScalar))
        ):
            names.append(name)
    return names


class _NullScope:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *args: Any) -> None:
        return None


def _check_momentum(name: str, value: Any) -> float:
    return float(check_fraction(name, value))
