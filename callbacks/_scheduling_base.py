"""Shared plumbing of the scheduling callbacks (`callbacks.scheduling`, `callbacks.lr_finder`).

The one place that reaches into an optimizer's hyperparameters: Keras 3 keeps
`momentum` / `beta_1` as Python floats baked into the compiled train step, so
`install_scheduled_scalar` swaps such a float for a scalar variable the
step reads (untracked by the optimizer, so `optimizer.variables` and
checkpoints are unchanged; the optimizer's `get_config()` still reports a
float) and re-traces the train function once.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from typing import Any

import keras
from keras import ops

from callbacks._validation import check_fraction


class _CallbackBase(keras.callbacks.Callback):
    """Config and deepcopy plumbing shared by the scheduling callbacks."""

    # attributes that hold per-run state (model, variables) and are not copied
    _RUN_STATE: tuple[str, ...] = ("_model",)

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        clone = self.__class__.__new__(self.__class__)
        memo[id(self)] = clone
        for key, value in self.__dict__.items():
            if key in self._RUN_STATE:
                clone.__dict__[key] = None
            else:
                clone.__dict__[key] = copy.deepcopy(value, memo)
        return clone

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Any:
        """Rebuild the callback from `get_config()`."""
        return cls(**config)


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


def _power_rate(eta0: float, s: float, c: float, t: int) -> float:
    """eta0 / (1 + t/s)^c with the very float32 ops `recipes.PowerSchedule` runs."""
    step = ops.cast(t, "float32")
    return float(ops.convert_to_numpy(eta0 / ops.power(1.0 + step / s, c)))


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
        _jax_state(base, current, track=True)
        return current
    strategy = getattr(model, "distribute_strategy", None)
    scope = strategy.scope() if strategy is not None else _NullScope()
    with scope:
        variable = _ScheduledScalar(
            float(current), dtype="float32", trainable=False, name=f"scheduled_{attribute}"
        )
    variable._set_structure(float(current))
    # Bypass the optimizer's tracker: the variable is not optimizer state, so
    # `optimizer.variables` and the checkpoint layout stay what they were.
    object.__setattr__(base, attribute, variable)
    if "get_config" not in base.__dict__:
        original = base.get_config

        def get_config() -> dict[str, Any]:
            config = original()
            for key, value in config.items():
                if isinstance(value, _ScheduledScalar):
                    config[key] = float(value)
            return config

        object.__setattr__(base, "get_config", get_config)
    _jax_state(base, variable, track=True)
    # The train function captured the old float when it was traced: re-trace.
    model.make_train_function(force=True)
    return variable


def _release_scheduled_scalar(model: Any, variable: _ScheduledScalar | None) -> None:
    """At the end of `fit`: leave the optimizer's state as it was (see `_jax_state`)."""
    if variable is not None and getattr(model, "optimizer", None) is not None:
        _jax_state(_base_optimizer(model.optimizer), variable, track=False)


def _jax_state(base: Any, variable: _ScheduledScalar, track: bool) -> None:
    """On JAX, make the variable part of the optimizer's state for the duration of a fit.

    A compiled JAX step is a pure function of its state (the model's, the
    optimizer's and the metrics' variables): any other variable is a constant
    frozen at tracing, so an assigned value would never reach the update. The
    variable rides in `optimizer.variables` while `fit` runs (the JAX trainer
    gathers that list at every epoch) and leaves at `on_train_end`, so saving
    outside `fit` sees the optimizer's usual variables.
    """
    if keras.backend.backend() != "jax":
        return
    tracked = base._variables
    index = next((i for i, v in enumerate(tracked) if v is variable), None)
    if track and index is None:
        tracked.append(variable)
    elif not track and index is not None:
        del tracked[index]


class _NullScope:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *args: Any) -> None:
        return None


def _check_momentum(name: str, value: Any) -> float:
    return float(check_fraction(name, value))
