"""Named curves of the step, the building blocks of every schedule in this package.

A curve is a small serializable object called with a step (an `int`) that
returns a value: `Linear(0.1, 0.0, steps=100)(50) == 0.05`. Give curves to
`callbacks.ParamScheduler` for any optimizer hyper-parameter, or compose
them: `Chain` runs curves one after the other (1cycle is three `Linear`
phases, `one_cycle` builds it), `OneMinus` turns a curve of `1 - momentum`
into a curve of momentum.

Each curve is defined once. `Power` is also the in-graph
`recipes.PowerSchedule` (its `value` runs on a step tensor with `keras.ops`,
in float32, so the callback and the in-graph schedule give the very same
values); the others are evaluated in Python (float64) by the callbacks.
Keras's own schedules (`keras.optimizers.schedules.ExponentialDecay`,
`PiecewiseConstantDecay`, `CosineDecay`, ...) are curves too: a callable of
the step with a config.
"""

from __future__ import annotations

import bisect
import inspect
import math
from collections.abc import Callable, Sequence
from typing import Any

import keras
from keras import ops

from ._validation import check_non_negative, check_number, check_positive


class _Curve:
    """Config plumbing of the curves: the constructor arguments are the attributes."""

    _ARGUMENTS: tuple[str, ...] = ()

    def get_config(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._ARGUMENTS}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Any:
        return cls(**config)

    def __repr__(self) -> str:
        arguments = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({arguments})"

    def __eq__(self, other: Any) -> bool:
        return type(other) is type(self) and other.get_config() == self.get_config()

    __hash__ = object.__hash__


def _fraction(step: int, steps: float) -> float:
    return min(1.0, step / steps)


@keras.saving.register_keras_serializable(package="recipes")
class Power(_Curve):
    """Power decay start / (1 + t / s) ** c (lecture 001), the values of `recipes.PowerSchedule`.

    The one definition of the power schedule: `recipes.PowerSchedule` (the
    in-graph `LearningRateSchedule`) holds one of these and evaluates
    `value`, and `callbacks.PowerScheduling` calls it, so both give the very
    same float32 values.

    Example:

    ```python
    Power(0.01, s=10_000)(10_000)  # 0.005
    ```

    Args:
        start: value at step 0 (> 0).
        s: steps after which the value has dropped to start / 2**c (> 0).
        c: the power (>= 0).
    """

    _ARGUMENTS = ("start", "s", "c")

    def __init__(self, start: float, s: float, c: float = 1.0) -> None:
        self.start = float(check_positive("start", start))
        self.s = float(check_positive("s", s))
        self.c = float(check_non_negative("c", c))

    def value(self, step: Any) -> Any:
        """The value at `step` (an int or a step tensor), with float32 `keras.ops` (in-graph)."""
        t = ops.cast(step, "float32")
        return self.start / ops.power(1.0 + t / self.s, self.c)

    def __call__(self, step: int) -> float:
        return float(ops.convert_to_numpy(self.value(step)))


class _Annealing(_Curve):
    _ARGUMENTS = ("start", "end", "steps")

    def __init__(self, start: float, end: float, steps: float) -> None:
        self.start = float(check_number("start", start))
        self.end = float(check_number("end", end))
        self.steps = float(check_positive("steps", steps))


@keras.saving.register_keras_serializable(package="recipes")
class Linear(_Annealing):
    """Linear from `start` at step 0 to `end` at step `steps`, then held.

    Example:

    ```python
    Linear(0.85, 0.95, steps=100)(50)  # 0.9
    ```

    Args:
        start: value at step 0.
        end: value from step `steps` on.
        steps: length of the ramp (> 0).
    """

    def __call__(self, step: int) -> float:
        return self.start + (self.end - self.start) * _fraction(step, self.steps)


@keras.saving.register_keras_serializable(package="recipes")
class Cosine(_Annealing):
    """Cosine annealing: half a cosine from `start` at step 0 to `end` at step `steps`, then held.

    Example:

    ```python
    Cosine(0.1, 0.0, steps=100)(50)  # 0.05
    ```

    Args:
        start: value at step 0.
        end: value from step `steps` on.
        steps: length of the half cosine (> 0).
    """

    def __call__(self, step: int) -> float:
        f = _fraction(step, self.steps)
        return self.end + (self.start - self.end) * 0.5 * (1.0 + math.cos(math.pi * f))


@keras.saving.register_keras_serializable(package="recipes")
class Exponential(_Annealing):
    """Geometric from `start` at step 0 to `end` at step `steps`, then held (both > 0).

    The learning-rate finder's sweep, and exponential decay: lecture 000's
    eta0 * 0.1 ** (t / s) up to step `steps` is `Exponential(eta0, eta0 / 10, s)`
    (Keras's `ExponentialDecay` goes on decaying past it).

    Example:

    ```python
    Exponential(1e-7, 10.0, steps=99)(0)  # 1e-07
    ```

    Args:
        start: value at step 0 (> 0).
        end: value from step `steps` on (> 0).
        steps: length of the ramp (> 0).
    """

    def __init__(self, start: float, end: float, steps: float) -> None:
        super().__init__(check_positive("start", start), check_positive("end", end), steps)

    def __call__(self, step: int) -> float:
        return self.start * (self.end / self.start) ** _fraction(step, self.steps)


@keras.saving.register_keras_serializable(package="recipes")
class Piecewise(_Curve):
    """Piecewise constant: `values[i]` for `boundaries[i-1] < step <= boundaries[i]`.

    The rule of `keras.optimizers.schedules.PiecewiseConstantDecay`, evaluated
    in Python.

    Example:

    ```python
    Piecewise([10, 20], [0.1, 0.01, 0.001])(15)  # 0.01
    ```

    Args:
        boundaries: increasing steps.
        values: one more value than `boundaries`.
    """

    _ARGUMENTS = ("boundaries", "values")

    def __init__(self, boundaries: Sequence[int], values: Sequence[float]) -> None:
        self.boundaries = [int(check_non_negative("boundaries", b, integer=True))
                           for b in boundaries]
        self.values = [float(check_number("values", v)) for v in values]
        if len(self.values) != len(self.boundaries) + 1:
            raise ValueError(
                "`values` must have one more entry than `boundaries`; received "
                f"{len(self.values)} values for {len(self.boundaries)} boundaries."
            )
        if any(b <= a for a, b in zip(self.boundaries, self.boundaries[1:])):
            raise ValueError(f"`boundaries` must increase strictly; received {boundaries!r}.")

    def __call__(self, step: int) -> float:
        return self.values[bisect.bisect_left(self.boundaries, step)]


@keras.saving.register_keras_serializable(package="recipes")
class OneMinus(_Curve):
    """1 - curve(step): a curve of `1 - momentum` read as a curve of momentum.

    Example:

    ```python
    OneMinus(Exponential(0.5, 0.01, steps=4))(4)  # 0.99
    ```

    Args:
        curve: the curve to complement.
    """

    def __init__(self, curve: Callable[[int], float]) -> None:
        self.curve = _check_curve("curve", curve)

    def __call__(self, step: int) -> float:
        return 1.0 - self.curve(step)

    def get_config(self) -> dict[str, Any]:
        return {"curve": keras.saving.serialize_keras_object(self.curve)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> OneMinus:
        return cls(keras.saving.deserialize_keras_object(config["curve"]))


@keras.saving.register_keras_serializable(package="recipes")
class Chain(_Curve):
    """Curves one after the other, each counting its own steps from 0 (fastai's `combine_scheds`).

    Phase `i` of length `n_i` covers the steps after the previous phases up
    to `n_0 + ... + n_i` included, and its curve sees the step counted from
    the end of the previous phase; the last curve goes on after its phase.

    Example:

    ```python
    warmup_then_decay = Chain([(100, Linear(0.0, 0.1, 100)), (900, Cosine(0.1, 0.0, 900))])
    ```

    Args:
        phases: `(length, curve)` pairs; lengths >= 0.
    """

    def __init__(self, phases: Sequence[tuple[int, Callable[[int], float]]]) -> None:
        phases = list(phases)
        if not phases:
            raise ValueError("`phases` must hold at least one (length, curve) pair; received [].")
        self.phases = [
            (int(check_non_negative(f"phases[{i}] length", n, integer=True)),
             _check_curve(f"phases[{i}] curve", curve))
            for i, (n, curve) in enumerate(phases)
        ]

    def __call__(self, step: int) -> float:
        begin = 0
        for length, curve in self.phases[:-1]:
            if step <= begin + length:
                return curve(step - begin)
            begin += length
        return self.phases[-1][1](step - begin)

    def get_config(self) -> dict[str, Any]:
        return {"phases": [[n, keras.saving.serialize_keras_object(c)] for n, c in self.phases]}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Chain:
        return cls([(n, keras.saving.deserialize_keras_object(c)) for n, c in config["phases"]])


def one_cycle(
    low: float, high: float, final: float, total_steps: int, warmup_fraction: float
) -> Chain:
    """The 1cycle curve: `low` up to `high` at the peak, back to `low`, down to `final`.

    With `p = max(1, round(warmup_fraction * total_steps))`: linear up over
    steps `0..p`, down over `p..2p`, then to `final` at step `total_steps - 1`,
    held after. For the momentum pass `final=low` (and high < low).

    Example:

    ```python
    rate = one_cycle(0.01, 0.1, 1e-5, total_steps=1000, warmup_fraction=0.45)
    ```

    Args:
        low: value at step 0 and at step 2p.
        high: value at the peak.
        final: value at the last step.
        total_steps: steps of the cycle (> 0).
        warmup_fraction: where the peak lies, in (0, 0.5].
    """
    peak = max(1, round(warmup_fraction * total_steps))
    down = min(2 * peak, total_steps)
    return Chain([
        (peak, Linear(low, high, peak)),
        (down - peak, Linear(high, low, max(1, down - peak))),
        (0, Linear(low, final, max(1, total_steps - 1 - down))),
    ])


def _check_curve(name: str, curve: Any) -> Callable[[int], float]:
    if not callable(curve):
        raise TypeError(
            f"`{name}` must be a curve, a callable of the step; received {curve!r} "
            f"({type(curve).__name__})."
        )
    return curve


def check_serializable(name: str, curve: Any) -> None:
    """Raise `TypeError` unless `curve` survives `keras.saving.serialize_keras_object`.

    Accepted: objects with `get_config` (the curves here, Keras's
    `LearningRateSchedule`s, registered classes) and functions registered with
    `keras.saving.register_keras_serializable`.
    """
    if hasattr(curve, "get_config") and not inspect.isfunction(curve):
        return
    registered = keras.saving.get_registered_name(curve)
    if keras.saving.get_registered_object(registered) is not curve:
        raise TypeError(
            f"`{name}` ({curve!r}) cannot be saved in a config: a schedule must be a curve "
            "from `callbacks.curves` (Linear, Cosine, Exponential, Power, Piecewise, Chain, ...), "
            "a `keras.optimizers.schedules.LearningRateSchedule`, or a function registered with "
            "`@keras.saving.register_keras_serializable(package=...)` (a lambda cannot be). "
            "Training with it works; only `get_config()` / saving needs this."
        )

