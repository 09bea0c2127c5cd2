"""`MomentumScheduling`: momentum (or Adam's beta_1) that grows over the epochs.

Lecture 000: try momentum 0.5, 0.9, 0.95, 0.99, or start low and increase it
over the epochs. A thin layer over `callbacks.ParamScheduler` (per epoch),
which makes the new value take effect in the compiled step.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from ._optimizers import inner_optimizer
from ._scheduling_base import MOMENTUM_ATTRIBUTES, _check_momentum, _momentum_attribute
from ._validation import check_choice, check_positive
from .curves import Exponential, Linear, OneMinus, Piecewise
from .param_scheduler import Curve, ParamScheduler

MOMENTUM_SCHEDULES = ("linear", "exponential")


@keras.saving.register_keras_serializable(package="recipes")
class MomentumScheduling(ParamScheduler):
    """Momentum (or Adam's beta_1) that starts low and grows over the epochs.

    Lecture 000: try momentum 0.5, 0.9, 0.95, 0.99, "or start with a lower
    value and increase it over the epochs". A `ParamScheduler` with
    `per="epoch"` over `curves.Linear`, `OneMinus(Exponential)` or
    `Piecewise`. Set at the start of every epoch
    and logged as `momentum` (SGD, RMSprop) or `beta_1` (Adam family).

    Schedules:

    - `"linear"`: from `initial_momentum` to `final_momentum` in equal steps
      over `ramp_epochs` epochs, then held.
    - `"exponential"`: `1 - momentum` shrinks geometrically (0.5, 0.27, 0.14,
      ..., 0.01 for 0.5 -> 0.99), the natural scale for momentum: the
      "memory" 1 / (1 - momentum) grows by the same factor each epoch.
    - a sequence of values, one per epoch, the last one held
      (e.g. `[0.5, 0.9, 0.95, 0.99]`).

    The update really uses the new value: the float the optimizer keeps is
    replaced by a variable the compiled step reads (see the module docstring).
    SGD must be created with `momentum > 0` (any value: it is overridden),
    otherwise it has no velocity to apply a momentum to.

    Example:

    ```python
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.5), loss="mse")
    model.fit(x, y, epochs=20, callbacks=[MomentumScheduling(0.5, 0.99)])
    ```

    Args:
        initial_momentum: value in the first epoch, in [0, 1).
        final_momentum: value from `ramp_epochs` on, in [0, 1).
        ramp_epochs: epochs to go from the initial to the final value;
            defaults to the number of epochs of the first `fit` minus one.
        schedule: `"linear"`, `"exponential"` or a sequence of per-epoch values.
        attribute: `"momentum"` or `"beta_1"`; by default whichever the
            optimizer has.
        verbose: 1 prints the value at the start of each epoch.
    """

    _WHO = "MomentumScheduling"
    _CURVES_AT_TRAIN_BEGIN = True

    def __init__(
        self,
        initial_momentum: float = 0.5,
        final_momentum: float = 0.99,
        ramp_epochs: int | None = None,
        schedule: str | Sequence[float] = "linear",
        attribute: str | None = None,
        verbose: int = 0,
    ) -> None:
        super().__init__({"momentum": None}, per="epoch", verbose=verbose)
        self.initial_momentum = _check_momentum("initial_momentum", initial_momentum)
        self.final_momentum = _check_momentum("final_momentum", final_momentum)
        if ramp_epochs is not None:
            ramp_epochs = int(check_positive("ramp_epochs", ramp_epochs, integer=True))
        self.ramp_epochs = ramp_epochs
        if isinstance(schedule, str):
            check_choice("schedule", schedule, MOMENTUM_SCHEDULES)
        else:
            values = list(schedule)
            if not values:
                raise ValueError("`schedule` must not be an empty sequence.")
            schedule = [_check_momentum(f"schedule[{i}]", v) for i, v in enumerate(values)]
        self.schedule = schedule
        if attribute is not None:
            check_choice("attribute", attribute, MOMENTUM_ATTRIBUTES)
        self.attribute = attribute
        self._ramp: int | None = None

    def _curve(self, ramp: int) -> Curve:
        if not isinstance(self.schedule, str):
            return Piecewise(list(range(len(self.schedule) - 1)), self.schedule)
        a, b = self.initial_momentum, self.final_momentum
        if self.schedule == "linear":
            return Linear(a, b, ramp)
        return OneMinus(Exponential(1.0 - a, 1.0 - b, ramp))

    def momentum_at(self, epoch: int, ramp_epochs: int | None = None) -> float:
        """The momentum for (0-based) `epoch`."""
        return self._curve(ramp_epochs or self.ramp_epochs or self._ramp or 1)(epoch)

    def _prepare(self) -> None:
        optimizer = self.model.optimizer
        name = _momentum_attribute(optimizer, self.attribute)
        if name is None:
            wanted = self.attribute or "`momentum` or `beta_1`"
            raise ValueError(
                f"MomentumScheduling needs an optimizer with a {wanted} to schedule; "
                f"{type(inner_optimizer(optimizer)).__name__} has none (SGD and RMSprop must be "
                "created with momentum > 0, e.g. SGD(momentum=0.5), to have a velocity)."
            )
        if self._ramp is None:
            epochs = int((self.params or {}).get("epochs") or 2)
            self._ramp = self.ramp_epochs or max(1, epochs - 1)
        self.schedules = {name: self._curve(self._ramp)}
