"""`MomentumScheduling`: momentum (or Adam's beta_1) that grows over the epochs.

Lecture 000: try momentum 0.5, 0.9, 0.95, 0.99, or start low and increase it
over the epochs. Keras 3 bakes `momentum` / `beta_1` into the traced train
function as plain floats; see `callbacks.scheduling` for how the callbacks of
this package make a new value take effect at the next step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from callbacks._scheduling_base import (
    MOMENTUM_ATTRIBUTES,
    _base_optimizer,
    _CallbackBase,
    _check_momentum,
    _install_scheduled_scalar,
    _momentum_attribute,
    _release_scheduled_scalar,
)
from callbacks._validation import (
    check_choice,
    check_positive,
    require_compiled,
)

MOMENTUM_SCHEDULES = ("linear", "exponential")


@keras.saving.register_keras_serializable(package="recipes")
class MomentumScheduling(_CallbackBase):
    """Momentum (or Adam's beta_1) that starts low and grows over the epochs.

    Lecture 000: try momentum 0.5, 0.9, 0.95, 0.99, "or start with a lower
    value and increase it over the epochs". Set at the start of every epoch
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

    _RUN_STATE = ("_model", "_variable")

    def __init__(
        self,
        initial_momentum: float = 0.5,
        final_momentum: float = 0.99,
        ramp_epochs: int | None = None,
        schedule: str | Sequence[float] = "linear",
        attribute: str | None = None,
        verbose: int = 0,
    ) -> None:
        super().__init__()
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
        self.verbose = int(verbose)
        self._variable: Any = None
        self._name: str | None = None
        self._ramp: int | None = None
        self._value: float | None = None

    def momentum_at(self, epoch: int, ramp_epochs: int | None = None) -> float:
        """The momentum for (0-based) `epoch`."""
        if not isinstance(self.schedule, str):
            return self.schedule[min(epoch, len(self.schedule) - 1)]
        ramp = ramp_epochs or self.ramp_epochs or self._ramp or 1
        f = min(1.0, epoch / ramp)
        a, b = self.initial_momentum, self.final_momentum
        if self.schedule == "linear":
            return a + (b - a) * f
        return 1.0 - (1.0 - a) * ((1.0 - b) / (1.0 - a)) ** f

    def on_train_begin(self, logs: dict | None = None) -> None:
        require_compiled(self.model, "MomentumScheduling")
        optimizer = self.model.optimizer
        name = _momentum_attribute(optimizer, self.attribute)
        if name is None:
            wanted = self.attribute or "`momentum` or `beta_1`"
            raise ValueError(
                f"MomentumScheduling needs an optimizer with a {wanted} to schedule; "
                f"{type(_base_optimizer(optimizer)).__name__} has none (SGD and RMSprop must be "
                "created with momentum > 0, e.g. SGD(momentum=0.5), to have a velocity)."
            )
        self._name = name
        if self._ramp is None:
            epochs = int((self.params or {}).get("epochs") or 2)
            self._ramp = self.ramp_epochs or max(1, epochs - 1)
        self._variable = _install_scheduled_scalar(self.model, name)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._value = self.momentum_at(epoch)
        self._variable.assign(self._value)
        if self.verbose:
            keras.utils.io_utils.print_msg(
                f"\nEpoch {epoch + 1}: MomentumScheduling {self._name} = {self._value:.4g}."
            )

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None and self._value is not None:
            logs[self._name] = self._value

    def on_train_end(self, logs: dict | None = None) -> None:
        _release_scheduled_scalar(self.model, self._variable)

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_momentum": self.initial_momentum,
            "final_momentum": self.final_momentum,
            "ramp_epochs": self.ramp_epochs,
            "schedule": self.schedule,
            "attribute": self.attribute,
            "verbose": self.verbose,
        }
