"""In-graph learning-rate schedules, power scheduling above all (lecture 001).

Keras already ships exponential, piecewise-constant, cosine and inverse-time
decay; this module adds only what it lacks, the power schedule
eta(t) = eta0 / (1 + t/s)^c (it evaluates `callbacks.curves.Power`, the
curve `callbacks.PowerScheduling` uses too), and a `make_schedule` helper
that builds any of them by name with the lectures' parameter names.
"""

from __future__ import annotations

from typing import Any

import keras

from .callbacks._validation import (
    check_choice,
    check_fraction,
    check_positive,
)
from .callbacks.curves import Power
from .defaults import SCHEDULE_NAMES


@keras.saving.register_keras_serializable(package="recipes")
class PowerSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Power scheduling: eta(t) = eta0 / (1 + t / s) ** c, exact at every step.

    This is lecture 001's "power scheduling". The old Keras spelling
    `SGD(lr=0.01, decay=1e-4)` meant this schedule with `s = 1 / decay` and
    `c = 1`; Keras 3 drops `decay=` with a warning, so use this schedule (or
    `keras_recipes.make_optimizer(..., decay=1e-4)`) instead. With `c = 1` it equals
    `keras.optimizers.schedules.InverseTimeDecay(eta0, s, 1.0)`.

    Example:

    ```python
    schedule = PowerSchedule(initial_learning_rate=0.01, s=10_000)
    optimizer = keras.optimizers.SGD(learning_rate=schedule)
    float(schedule(10_000))  # 0.005
    ```

    Args:
        initial_learning_rate: eta0, the learning rate at step 0 (> 0).
        s: number of steps after which the rate has dropped to
            eta0 / 2**c (> 0).
        c: the power (>= 0). `c = 1` is Keras's old `decay=`.
        name: optional name of the schedule.
    """

    def __init__(
        self,
        initial_learning_rate: float,
        s: float,
        c: float = 1.0,
        name: str | None = None,
    ) -> None:
        super().__init__()
        check_positive("initial_learning_rate", initial_learning_rate)  # named as here
        self.curve = Power(initial_learning_rate, s, c)
        self.name = name

    @property
    def initial_learning_rate(self) -> float:
        """eta0, the rate at step 0."""
        return self.curve.start

    @property
    def s(self) -> float:
        """The steps after which the rate has dropped to eta0 / 2**c."""
        return self.curve.s

    @property
    def c(self) -> float:
        """The power."""
        return self.curve.c

    def __call__(self, step: Any) -> Any:
        return self.curve.value(step)

    def get_config(self) -> dict[str, Any]:
        config = self.curve.get_config()
        return {"initial_learning_rate": config.pop("start"), **config, "name": self.name}


def make_schedule(
    name: str, initial_learning_rate: float, **params: Any
) -> keras.optimizers.schedules.LearningRateSchedule:
    """Build a learning-rate schedule by name, Keras's own where Keras has it.

    Names and parameters:

    - `"power"`: `s`, `c=1.0` (`PowerSchedule`).
    - `"exponential"`: `s`, the steps for one division by 10
      (eta0 * 0.1 ** (t / s), lecture 000's fixed decay), through
      `keras.optimizers.schedules.ExponentialDecay`.
    - `"piecewise_constant"`: `boundaries`, `values`
      (`keras.optimizers.schedules.PiecewiseConstantDecay`; `values[0]` must
      equal `initial_learning_rate`).
    - `"cosine"`: `decay_steps`, `alpha=0.0`
      (`keras.optimizers.schedules.CosineDecay`).

    Performance scheduling (reduce on a plateau of the validation loss) is a
    callback, `keras.callbacks.ReduceLROnPlateau`, not a schedule.

    Example:

    ```python
    schedule = make_schedule("exponential", 0.01, s=20 * steps_per_epoch)
    model.compile(optimizer=keras.optimizers.SGD(schedule), loss="mse")
    ```

    Args:
        name: one of `"power"`, `"exponential"`, `"piecewise_constant"`,
            `"cosine"`.
        initial_learning_rate: the rate at step 0 (> 0).
        **params: the parameters listed above for that name.
    """
    check_choice("name", name, SCHEDULE_NAMES)
    check_positive("initial_learning_rate", initial_learning_rate)
    accepted, required = {
        "power": ({"s", "c"}, {"s"}),
        "exponential": ({"s"}, {"s"}),
        "piecewise_constant": ({"boundaries", "values"}, {"boundaries", "values"}),
        "cosine": ({"decay_steps", "alpha"}, {"decay_steps"}),
    }[name]
    unknown, missing = set(params) - accepted, required - set(params)
    if unknown or missing:
        raise ValueError(
            f"make_schedule({name!r}) takes {sorted(accepted)} (required: {sorted(required)}); "
            f"received {sorted(params)}."
        )
    schedules = keras.optimizers.schedules
    if name == "power":
        return PowerSchedule(initial_learning_rate, params["s"], params.get("c", 1.0))
    if name == "exponential":
        s = check_positive("s", params["s"])
        return schedules.ExponentialDecay(initial_learning_rate, decay_steps=s, decay_rate=0.1)
    if name == "piecewise_constant":
        boundaries, values = list(params["boundaries"]), list(params["values"])
        if len(values) != len(boundaries) + 1:
            raise ValueError(
                "`values` must have one more entry than `boundaries`; received "
                f"{len(values)} values for {len(boundaries)} boundaries."
            )
        if float(values[0]) != float(initial_learning_rate):
            raise ValueError(
                f"`values[0]` ({values[0]!r}) must equal `initial_learning_rate` "
                f"({initial_learning_rate!r})."
            )
        if any(b <= a for a, b in zip(boundaries, boundaries[1:])) or (
            boundaries and boundaries[0] <= 0
        ):
            raise ValueError(
                "`boundaries` must be positive and strictly increasing steps; received "
                f"{boundaries!r}."
            )
        return schedules.PiecewiseConstantDecay(boundaries, values)
    decay_steps = check_positive("decay_steps", params["decay_steps"], integer=True)
    check_fraction("alpha", params.get("alpha", 0.0), include_one=True)
    return schedules.CosineDecay(
        initial_learning_rate, int(decay_steps), alpha=params.get("alpha", 0.0)
    )
