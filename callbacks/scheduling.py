"""Callbacks that steer the learning rate and the momentum while `fit()` runs.

Lecture 001 teaches power scheduling, lecture 000 asks for learning-rate
decay and for a momentum that starts low and grows over the epochs. Keras
already has `ExponentialDecay`, `PiecewiseConstantDecay`, `CosineDecay`
(in-graph schedules) and `ReduceLROnPlateau` (performance scheduling): use
those. This module adds what Keras lacks, as thin layers over
`callbacks.ParamScheduler` (which schedules any hyper-parameter):

- `PowerScheduling`: eta0 / (1 + t/s)^c per iteration, resume-safe.
- `OneCycleScheduler`: the 1cycle policy, with momentum (or Adam's beta_1)
  cycled the other way.

`MomentumScheduling` (momentum that grows over the epochs) lives in
`callbacks.momentum`, the learning-rate finder in `callbacks.lr_finder`.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from ._scheduling_base import (
    _check_momentum,
    _check_rate_is_settable,
    _current_rate,
    _iterations,
    _momentum_attribute,
)
from ._validation import check_greater, check_non_negative, check_number, check_positive
from .curves import Power, one_cycle
from .param_scheduler import Curve, ParamScheduler

# --------------------------------------------------------------------------
# PowerScheduling
# --------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="recipes")
class PowerScheduling(ParamScheduler):
    """Power scheduling per iteration: eta(t) = eta0 / (1 + t / s) ** c.

    Lecture 001's schedule, written in the slides as
    `SGD(lr=0.01, decay=1e-4)` (`s = 1 / decay`, `c = 1`): Keras 3 rejects
    `lr=` and drops `decay=` with a mere warning, so that schedule silently
    vanishes. This callback sets the rate before every step to exactly the
    value `recipes.PowerSchedule(eta0, s, c)` gives at that step, and logs it
    as `learning_rate`.

    Resume-safe: `t` is the optimizer's `iterations`, so a second `fit`
    (`initial_epoch=...`) or a run restored by
    `keras.callbacks.BackupAndRestore` continues the schedule instead of
    restarting it. `eta0` is resolved once, in this order:

    1. `initial_learning_rate` if given;
    2. the value this instance resolved in an earlier `fit`;
    3. from the optimizer: its current rate if it has taken no step yet,
       otherwise its current rate is read as eta(t) and
       eta0 = rate * (1 + t / s) ** c. This is what lets a *fresh* instance
       continue after `BackupAndRestore` restored the weights, the optimizer's
       `iterations` and its learning-rate variable (it holds the rate for the
       next step, which this callback keeps up to date after every step).
       eta0 is taken as the shortest decimal whose schedule gives exactly
       that rate at step t (the rate a person typed). Exact in practice;
       pass `initial_learning_rate` to make it exact by construction.

    Once resolved, `get_config()` reports it, so a callback rebuilt from its
    config continues exactly too. Place `BackupAndRestore` anywhere in the
    callback list: the rate is recomputed from `iterations` before each step.

    It is `ParamScheduler({"learning_rate": curves.Power(eta0, s, c)})` with
    eta0 resolved as above.

    For training without callbacks or with `steps_per_execution > 1`, use the
    in-graph `recipes.PowerSchedule` (the callback can only act once every N
    steps then, and warns).

    Example:

    ```python
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01), loss="mse")
    model.fit(x, y, epochs=10, callbacks=[PowerScheduling(s=10_000)])
    history.history["learning_rate"]  # rate of the last step of each epoch
    ```

    Args:
        s: steps after which the rate has dropped to eta0 / 2**c (> 0).
            Keras's old `decay=d` is `s = 1 / d`.
        c: the power (>= 0); the slides' Keras spelling had `c = 1`.
        initial_learning_rate: eta0 (> 0). Defaults to the optimizer's rate when
            training first starts (see above).
        verbose: 1 prints the rate at the start of each epoch.
    """

    _WHO = "PowerScheduling"
    _EXACT = "`recipes.PowerSchedule` as the optimizer's rate"
    _CURVES_AT_TRAIN_BEGIN = True

    def __init__(
        self,
        s: float,
        c: float = 1.0,
        initial_learning_rate: float | None = None,
        verbose: int = 0,
    ) -> None:
        super().__init__({"learning_rate": None}, per="step", verbose=verbose)
        self.s = float(check_positive("s", s))
        self.c = float(check_non_negative("c", c))
        if initial_learning_rate is not None:
            initial_learning_rate = float(
                check_positive("initial_learning_rate", initial_learning_rate)
            )
        self.initial_learning_rate = initial_learning_rate

    def rate_at(self, step: int) -> float:
        """The learning rate this schedule gives at iteration `step`."""
        if self.initial_learning_rate is None:
            raise RuntimeError(
                "eta0 is not known yet: pass `initial_learning_rate` or start training."
            )
        return Power(self.initial_learning_rate, self.s, self.c)(step)

    def _infer_eta0(self, rate: float, step: int) -> float:
        """eta0 of the schedule whose rate at `step` is `rate`: the shortest decimal that gives it.

        `rate * (1 + step / s) ** c` recovers eta0 only up to float32 rounding,
        and a neighbouring float32 can give the same rate at `step` but not at
        later steps (`tests/test_scheduling.py` shows one). So eta0 is the
        shortest decimal, of at most 9 significant digits (a float32's
        precision), whose schedule gives exactly `rate` at `step`: the rate a
        person typed.
        """
        estimate = rate * (1.0 + step / self.s) ** self.c
        for digits in range(1, 10):
            candidate = float(np.float32(f"{estimate:.{digits}g}"))
            if Power(candidate, self.s, self.c)(step) == rate:
                return candidate
        return float(np.float32(estimate))

    def _prepare(self) -> None:
        optimizer = self.model.optimizer
        _check_rate_is_settable(optimizer, self._WHO)
        if self.initial_learning_rate is None:
            self.initial_learning_rate = self._infer_eta0(
                _current_rate(optimizer), _iterations(optimizer)
            )
        self.schedules = {"learning_rate": Power(self.initial_learning_rate, self.s, self.c)}


# --------------------------------------------------------------------------
# OneCycleScheduler
# --------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="recipes")
class OneCycleScheduler(ParamScheduler):
    """The 1cycle policy: warm the rate up to a maximum, then anneal it far below the start.

    Per iteration, over `total_steps` steps (Smith 2018; the shape Géron's
    "Hands-On ML" uses). With `p = round(warmup_fraction * total_steps)`:

    1. steps `0 .. p`: linear from `initial_learning_rate` up to
       `max_learning_rate`, reached exactly at step `p`;
    2. steps `p .. 2p`: linear back down to `initial_learning_rate`;
    3. steps `2p .. total_steps`: linear down to `final_learning_rate`
       (far below the start), then held there.

    When the optimizer has a momentum (SGD or RMSprop built with
    `momentum > 0`) or a `beta_1` (Adam, Nadam, Adamax, AdamW, Lion), it moves
    the other way: `max_momentum` at the start, `min_momentum` at step `p`,
    back to `max_momentum` at step `2p` and held. Both values are logged
    (`learning_rate`, and `momentum` or `beta_1`).

    It is a `ParamScheduler` over two `curves.one_cycle` curves (rate and
    momentum). The step counter starts at the optimizer's `iterations` when this
    instance first trains; a later `fit` with the same instance continues the
    cycle (and holds the final values once it is over).

    Example:

    ```python
    model.compile(optimizer=keras.optimizers.SGD(momentum=0.9), loss="mse")
    model.fit(x, y, epochs=10, callbacks=[OneCycleScheduler(max_learning_rate=0.1)])
    ```

    Args:
        max_learning_rate: the peak rate (> `initial_learning_rate`).
        total_steps: iterations in the cycle. Defaults to
            `(epochs - initial_epoch) * steps_per_epoch` of the first `fit`.
        initial_learning_rate: rate at step 0; defaults to
            `max_learning_rate / 10`.
        final_learning_rate: rate at the last step; defaults to
            `initial_learning_rate / 1000`.
        warmup_fraction: where the peak lies, as a fraction of `total_steps`,
            in (0, 0.5]. The default 0.45 leaves the last 10 % for phase 3.
        min_momentum: momentum (or beta_1) at the peak rate, in [0, 1).
        max_momentum: momentum (or beta_1) at the ends, in [0, 1), > `min_momentum`.
        cycle_momentum: cycle the momentum when the optimizer has one.
    """

    _WHO = "OneCycleScheduler"
    _EXACT = "an in-graph schedule"
    _CURVES_AT_TRAIN_BEGIN = True

    def __init__(
        self,
        max_learning_rate: float,
        total_steps: int | None = None,
        initial_learning_rate: float | None = None,
        final_learning_rate: float | None = None,
        warmup_fraction: float = 0.45,
        min_momentum: float = 0.85,
        max_momentum: float = 0.95,
        cycle_momentum: bool = True,
    ) -> None:
        super().__init__({"learning_rate": None}, per="step")
        self.max_learning_rate = float(check_positive("max_learning_rate", max_learning_rate))
        if initial_learning_rate is None:
            initial_learning_rate = self.max_learning_rate / 10.0
        self.initial_learning_rate = float(
            check_positive("initial_learning_rate", initial_learning_rate)
        )
        check_greater("max_learning_rate", self.max_learning_rate, "initial_learning_rate",
                      self.initial_learning_rate)
        if final_learning_rate is None:
            final_learning_rate = self.initial_learning_rate / 1000.0
        self.final_learning_rate = float(
            check_number(
                "final_learning_rate", final_learning_rate, minimum=0,
                maximum=self.initial_learning_rate,
            )
        )
        if total_steps is not None:
            total_steps = int(check_positive("total_steps", total_steps, integer=True))
        self.total_steps = total_steps
        self.warmup_fraction = float(
            check_number(
                "warmup_fraction", warmup_fraction, minimum=0, maximum=0.5, min_inclusive=False
            )
        )
        self.min_momentum = _check_momentum("min_momentum", min_momentum)
        self.max_momentum = _check_momentum("max_momentum", max_momentum)
        if self.max_momentum < self.min_momentum:
            raise ValueError(
                "`max_momentum` must be >= `min_momentum`; received "
                f"max_momentum={max_momentum!r} < min_momentum={min_momentum!r}."
            )
        self.cycle_momentum = bool(cycle_momentum)
        self._start: int | None = None
        self._steps: int | None = None
        self._steps_per_epoch: int | None = None

    @property
    def peak_step(self) -> int:
        """The step (counted from the start of the cycle) where the rate is maximal."""
        if self._steps is None:
            raise RuntimeError("the cycle length is known once training starts.")
        return max(1, round(self.warmup_fraction * self._steps))

    def _curves(self, total: int) -> tuple[Curve, Curve]:
        rate = one_cycle(self.initial_learning_rate, self.max_learning_rate,
                         self.final_learning_rate, total, self.warmup_fraction)
        momentum = one_cycle(self.max_momentum, self.min_momentum, self.max_momentum, total,
                             self.warmup_fraction)
        return rate, momentum

    def values_at(self, step: int, total_steps: int | None = None) -> Any:
        """(learning rate, momentum) at `step` of a cycle of `total_steps` steps."""
        total = total_steps or self._steps
        if total is None:
            raise RuntimeError("pass `total_steps` or start training first.")
        rate, momentum = self._curves(total)
        return rate(step), momentum(step)

    def _prepare(self) -> None:
        optimizer = self.model.optimizer
        if self._start is None:
            self._start = _iterations(optimizer)
            if self.total_steps is not None:
                self._steps = int(self.total_steps)
            else:
                per_epoch = (self.params or {}).get("steps")
                if not per_epoch:
                    raise ValueError(
                        "OneCycleScheduler could not derive `total_steps`: fit() does not know "
                        "the steps per epoch (a dataset of unknown length). Pass `total_steps`."
                    )
                # known at the first epoch: fit(initial_epoch=...) is not on the model
                self._steps_per_epoch = int(per_epoch)
        self._origin = self._start
        names = ["learning_rate"]
        momentum = _momentum_attribute(optimizer, None) if self.cycle_momentum else None
        if momentum is not None:
            names.append(momentum)
        self.schedules = dict.fromkeys(names)
        if self._steps is not None:
            self._fill(self._steps)

    def _fill(self, total: int) -> None:
        for name, curve in zip(self.schedules, self._curves(total), strict=False):
            self.schedules[name] = curve

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if self._steps is None:
            # the cycle spans the epochs this fit runs: (epochs - first epoch) * steps
            self._steps = (int(self.params["epochs"]) - epoch) * self._steps_per_epoch
            self._fill(self._steps)
        super().on_epoch_begin(epoch, logs)
