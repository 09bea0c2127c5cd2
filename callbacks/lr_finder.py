"""The learning-rate finder: an exponential sweep that shows where training diverges.

Keras has none (keras-team/keras#8891 went to keras-contrib and never landed,
and the community versions broke with Keras 3). `LRFinder` raises the rate
exponentially from a tiny to a large value over at most one epoch, records the
loss of every batch, stops once the smoothed loss diverges, and puts the
weights and the optimizer's state back bit for bit. `keras_recipes.find_learning_rate`
wraps it in one call.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
from keras import ops

from ._scheduling_base import _iterations
from ._validation import check_fraction, check_greater, check_number, check_positive
from .curves import Exponential
from .param_scheduler import ParamScheduler

SUGGESTION_METHODS = ("min_loss", "steepest")
MIN_SWEEP_STEPS = 10  # fewer steps cannot tell a falling loss from noise
EDGE = 0.05  # a suggestion in the first 5 % of the sweep (log scale) is at its low edge

WHERE_TO_LOOK = (
    "look at the data (a NaN or inf in x or y: `np.isfinite(x).all()`), the loss (a log of 0, "
    "labels outside the model's classes) and the model's output at initialization"
)


@dataclass(frozen=True)
class LRFinderResult:
    """What an `LRFinder` sweep found.

    The suggested rate (`method="min_loss"`, the default) is the rate at the
    minimum of the smoothed loss divided by 10: the loss is still falling fast
    there and the rate is an order of magnitude away from where it blows up
    (the rule of thumb of Smith 2017 and Géron's "Hands-On ML"). The
    alternative `method="steepest"` is the rate where the smoothed loss falls
    fastest per decade of rate (fastai's default), searched before the minimum.

    Example:

    ```python
    result = keras_recipes.find_learning_rate(model, x, y)
    result.suggested_learning_rate, result.stopped_early
    recipes.plots.plot_lr_finder(result)
    ```

    Args:
        learning_rates: the rate of every step of the sweep.
        losses: the loss of every step (that batch alone).
        smoothed_losses: bias-corrected exponential moving average of `losses`.
        suggested_learning_rate: the rate to train with (see above).
        min_loss_learning_rate: the rate at the minimum of the smoothed loss.
        steepest_learning_rate: the rate of the steepest descent of the smoothed loss.
        stopped_early: whether the sweep stopped because the loss diverged.
        method: how `suggested_learning_rate` was chosen.
        extra: more about the sweep; `"warnings"` lists what makes the
            suggestion doubtful (see `LRFinder`).
    """

    learning_rates: np.ndarray
    losses: np.ndarray
    smoothed_losses: np.ndarray
    suggested_learning_rate: float
    min_loss_learning_rate: float
    steepest_learning_rate: float
    stopped_early: bool
    method: str = "min_loss"
    extra: dict[str, Any] = field(default_factory=dict)


def _suggest(
    rates: np.ndarray, smoothed: np.ndarray, method: str
) -> tuple[float, float, float]:
    """(suggested, at-minimum, steepest) rates from a finished sweep."""
    finite = np.isfinite(smoothed)
    if not finite.any():
        raise RuntimeError("LRFinder: every loss of the sweep was non-finite.")
    masked = np.where(finite, smoothed, np.inf)
    i_min = int(np.argmin(masked))
    at_min = float(rates[i_min])
    start = min(len(rates) // 10, max(0, i_min - 1))
    if i_min - start >= 2:
        slope = np.gradient(masked[start : i_min + 1], np.log10(rates[start : i_min + 1]))
        steepest = float(rates[start + int(np.argmin(slope))])
    else:
        steepest = at_min / 10.0
    suggested = at_min / 10.0 if method == "min_loss" else steepest
    return suggested, at_min, steepest


@keras.saving.register_keras_serializable(package="recipes")
class LRFinder(ParamScheduler):
    """Exponential learning-rate sweep that stops on divergence and restores the model.

    A `ParamScheduler` over `curves.Exponential(min, max, n - 1)`: step `i` of `n` trains with
    `min_learning_rate * (max_learning_rate / min_learning_rate) ** (i / (n - 1))`;
    `n` is `num_steps`, at most the steps of one epoch (the default). The loss
    of every single batch is recorded (the callback resets the running loss
    mean before each step, so `logs["loss"]` is that batch's loss) and smoothed
    with a bias-corrected moving average; once the smoothed loss exceeds
    `divergence_factor` times its best value (or a loss is not finite), the
    sweep stops. At the end of training the weights, every other model
    variable (BatchNorm statistics, seed states) and every optimizer variable
    (iterations, learning rate, moments) are restored bit-identically.

    It never suggests nonsense silently: a non-finite loss at the first step
    (a rate far too small to diverge) raises `ValueError` saying where to look
    (the data, the loss, the initialization); a sweep shorter than 10 steps,
    a suggestion at the low or high edge of the sweep (the loss never fell,
    or was still falling at `max_learning_rate`), or a loss that turned
    non-finite while still falling warns (`UserWarning`) and proposes a wider
    range; the messages are also on `result.extra["warnings"]`.

    The result is on `.result` (an `LRFinderResult`); run it through
    `fit(..., epochs=1)` with `verbose=1` to see Keras's progress bar.
    `keras_recipes.find_learning_rate` does all of this for you (and switches
    `steps_per_execution` to 1 for the sweep).

    Example:

    ```python
    finder = LRFinder(min_learning_rate=1e-6, max_learning_rate=1.0)
    model.fit(x, y, epochs=1, callbacks=[finder])
    finder.result.suggested_learning_rate
    ```

    Args:
        min_learning_rate: first rate of the sweep (> 0).
        max_learning_rate: last rate of the sweep (> `min_learning_rate`).
        num_steps: steps of the sweep; defaults to (and is capped at) the
            steps of one epoch.
        smoothing: weight of the past in the loss's moving average, in [0, 1).
        divergence_factor: stop when the smoothed loss exceeds this multiple
            of its minimum (> 1).
        method: how the suggestion is made, `"min_loss"` or `"steepest"`
            (see `LRFinderResult`).
        restore: put the weights and the optimizer state back at the end.
    """

    _RUN_STATE = (*ParamScheduler._RUN_STATE, "_snapshot")
    _WHO = "LRFinder"
    _EXACT = "recipes.find_learning_rate"
    _CURVES_AT_TRAIN_BEGIN = True

    def __init__(
        self,
        min_learning_rate: float = 1e-7,
        max_learning_rate: float = 10.0,
        num_steps: int | None = None,
        smoothing: float = 0.9,
        divergence_factor: float = 4.0,
        method: str = "min_loss",
        restore: bool = True,
    ) -> None:
        super().__init__({"learning_rate": None}, per="step")
        self.min_learning_rate = float(check_positive("min_learning_rate", min_learning_rate))
        self.max_learning_rate = float(check_positive("max_learning_rate", max_learning_rate))
        check_greater("max_learning_rate", self.max_learning_rate, "min_learning_rate",
                      self.min_learning_rate)
        if num_steps is not None:
            num_steps = int(check_number("num_steps", num_steps, minimum=2, integer=True))
        self.num_steps = num_steps
        self.smoothing = float(check_fraction("smoothing", smoothing))
        self.divergence_factor = float(
            check_number("divergence_factor", divergence_factor, minimum=1, min_inclusive=False)
        )
        if method not in SUGGESTION_METHODS:
            raise ValueError(
                f"`method` must be one of {', '.join(map(repr, SUGGESTION_METHODS))}; "
                f"received {method!r}."
            )
        self.method = method
        self.restore = bool(restore)
        self.result: LRFinderResult | None = None
        self._snapshot: list[tuple[Any, np.ndarray]] | None = None
        self._reset_run()

    def _reset_run(self) -> None:
        self.learning_rates: list[float] = []
        self.losses: list[float] = []
        self.smoothed_losses: list[float] = []
        self._avg = 0.0
        self._best = math.inf
        self._steps = 0
        self._stopped_early = False

    def _variables(self) -> list[Any]:
        return list(self.model.variables) + list(self.model.optimizer.variables)

    def _prepare(self) -> None:
        self._reset_run()
        self.result = None
        # Pairs (variable, value): variables created during the sweep (metric
        # accumulators built lazily) are not part of the state to put back.
        self._snapshot = [
            (v, np.array(ops.convert_to_numpy(v), copy=True)) for v in self._variables()
        ]
        per_epoch = (self.params or {}).get("steps")
        steps = self.num_steps or per_epoch
        if steps is None:
            raise ValueError(
                "LRFinder could not tell the steps of one epoch (a dataset of unknown length): "
                "pass `num_steps`."
            )
        if per_epoch and steps > per_epoch:
            warnings.warn(
                f"LRFinder: num_steps={steps} is more than one epoch ({per_epoch} steps); the "
                f"sweep is capped at {per_epoch} steps.",
                UserWarning,
                stacklevel=2,
            )
            steps = per_epoch
        self._steps = max(2, int(steps))
        if self._steps < MIN_SWEEP_STEPS:
            warnings.warn(
                f"LRFinder: a sweep of {self._steps} steps is too short to find a learning rate "
                f"(at least {MIN_SWEEP_STEPS}); one epoch has {per_epoch} steps here. Use a "
                "smaller batch_size or more samples (or a larger `num_steps`).",
                UserWarning,
                stacklevel=2,
            )
        self._origin = _iterations(self.model.optimizer)
        self.schedules = {"learning_rate": Exponential(
            self.min_learning_rate, self.max_learning_rate, self._steps - 1
        )}

    def _on_idle_optimizer(self) -> None:
        self.restore_state()
        raise RuntimeError(
            "LRFinder: `model.optimizer` took no step during the first batch: this model's "
            "train_step applies its gradients with other optimizers (e.g. a GAN), so a sweep of "
            "model.optimizer's learning rate would measure nothing. Sweep the rate of the "
            "optimizer the train_step uses instead."
        )

    def rate_at(self, step: int) -> float:
        """The rate of step `step` of the sweep."""
        return Exponential(self.min_learning_rate, self.max_learning_rate, self._steps - 1)(step)

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        super().on_train_batch_begin(batch, logs)
        self.learning_rates.append(self._last["learning_rate"])
        self.model.reset_metrics()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        super().on_train_batch_end(batch, logs)
        loss = float((logs or {}).get("loss", math.nan))
        self.losses.append(loss)
        i = len(self.losses)
        if math.isfinite(loss):
            self._avg = self.smoothing * self._avg + (1.0 - self.smoothing) * loss
            smoothed = self._avg / (1.0 - self.smoothing**i)
        else:
            smoothed = math.inf
            if i == 1:
                self.restore_state()
                raise ValueError(
                    f"LRFinder: the loss of the first step is {loss} at learning rate "
                    f"{self.learning_rates[0]:.3g}, far too small a rate to diverge, so the "
                    f"learning rate is not the cause: {WHERE_TO_LOOK}."
                )
        self.smoothed_losses.append(smoothed)
        self._best = min(self._best, smoothed)
        if not math.isfinite(smoothed) or smoothed > self.divergence_factor * self._best:
            self._stopped_early = True
            self.model.stop_training = True
        elif i >= self._steps:
            self.model.stop_training = True

    def on_train_end(self, logs: dict | None = None) -> None:
        super().on_train_end(logs)
        self.restore_state()
        if not self.losses:
            return
        rates = np.asarray(self.learning_rates[: len(self.losses)], dtype="float64")
        smoothed = np.asarray(self.smoothed_losses, dtype="float64")
        suggested, at_min, steepest = _suggest(rates, smoothed, self.method)
        self.result = LRFinderResult(
            learning_rates=rates,
            losses=np.asarray(self.losses, dtype="float64"),
            smoothed_losses=smoothed,
            suggested_learning_rate=suggested,
            min_loss_learning_rate=at_min,
            steepest_learning_rate=steepest,
            stopped_early=self._stopped_early,
            method=self.method,
        )
        for message in self._diagnose(self.result):
            self.result.extra.setdefault("warnings", []).append(message)
            warnings.warn(f"LRFinder: {message}", UserWarning, stacklevel=2)

    def _diagnose(self, result: LRFinderResult) -> list[str]:
        """What makes this sweep's suggestion doubtful, in words (empty when nothing does)."""
        lo, hi = self.min_learning_rate, self.max_learning_rate
        smoothed, losses = result.smoothed_losses, result.losses
        finite = np.flatnonzero(np.isfinite(smoothed))
        i_min = int(np.argmin(np.where(np.isfinite(smoothed), smoothed, np.inf)))
        span = f"[{lo:g}, {hi:g}]"
        if not np.isfinite(losses[-1]) and len(finite) and i_min == finite[-1]:
            return [
                f"the loss became {losses[-1]} at step {len(losses) - 1} (learning rate "
                f"{result.learning_rates[-1]:.3g}) while it was still falling, without the rise "
                f"a too-high rate produces first, so the suggestion "
                f"{result.suggested_learning_rate:.3g} is not to be trusted: {WHERE_TO_LOOK}."
            ]
        position = math.log(result.suggested_learning_rate / lo) / math.log(hi / lo)
        if position < EDGE:
            return [
                f"the suggested learning rate {result.suggested_learning_rate:.3g} lies at (or "
                f"below) the low edge of the sweep {span}: the smoothed loss was lowest at "
                f"{result.min_loss_learning_rate:.3g}, near the start (it hardly fell). Sweep a "
                f"wider range, e.g. min_learning_rate={lo / 100:g}; if the loss never falls, "
                f"{WHERE_TO_LOOK}."
            ]
        if not result.stopped_early and i_min >= len(smoothed) - max(2, len(smoothed) // 20):
            return [
                f"the smoothed loss was lowest at the high edge of the sweep {span} (at "
                f"{result.min_loss_learning_rate:.3g}): it was still falling at its end (it never "
                f"diverged), so the suggestion {result.suggested_learning_rate:.3g} may be too "
                f"low. Sweep a wider range, e.g. max_learning_rate={hi * 100:g}."
            ]
        return []

    def restore_state(self) -> None:
        """Put back the weights and optimizer variables saved when training began."""
        if not self.restore or self._snapshot is None:
            return
        for variable, value in self._snapshot:
            variable.assign(value)
        self._snapshot = None
