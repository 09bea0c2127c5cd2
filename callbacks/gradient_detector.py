"""`VanishingGradientDetector`: flags vanishing, exploding and non-finite gradients during `fit`.

It reads the gradients the optimizer applies through the train-step hook it
shares with `GradientNormLogger` (`callbacks._tap.tap`), judges them with
the criterion of `callbacks._tap.health` and reports what it finds
(`GradientWarning`, `GradientProblemError`). Also importable from
`callbacks.gradients` and `callbacks`.
"""

from __future__ import annotations

import warnings
from typing import Any

import keras
import numpy as np

from ._tap import health as _gradient_health
from ._tap import tap as _gradient_tap
from ._tap.client import _TapClient
from ._validation import check_choice, check_positive

ACTIONS = ("warn", "stop", "raise")


class GradientProblemError(RuntimeError):
    """Raised by `VanishingGradientDetector(action="raise")`, naming the layers and the step.

    Example:

    ```python
    try:
        model.fit(x, y, callbacks=[VanishingGradientDetector(action="raise")])
    except GradientProblemError as error:
        print(error)  # what was found, where, and the lectures' remedies
    ```
    """


class GradientWarning(UserWarning):
    """Category of the warnings issued by `VanishingGradientDetector`.

    Example:

    ```python
    import warnings
    warnings.simplefilter("error", GradientWarning)  # turn findings into errors
    ```
    """


@keras.saving.register_keras_serializable(package="recipes")
class VanishingGradientDetector(_TapClient):
    """Flag vanishing, exploding and non-finite gradients while `fit` runs.

    The criterion is comparable across layer types (dense, conv, depthwise,
    recurrent, attention): per layer of the model, the gradient norm relative to
    the weight norm, `r = ||g|| / ||w||` over the layer's kernels, compared
    between the lowest and the highest hidden layer (embedding tables and output
    layers left out; weights read at train begin and epoch ends, not per step;
    see `callbacks/_tap/health.py`). Findings:

    * `"vanishing"`: r(lowest) / r(highest) below `vanishing_ratio`, or the
      lowest layer's gradient RMS below `min_rms`, for `patience` consecutive
      checks (lecture 001: sigmoid + Glorot on a deep net);
    * `"exploding"`: that ratio above `exploding_ratio` for `patience` checks,
      or the global norm above `max_norm` at any single step;
    * `"non_finite"`: a NaN/Inf gradient, reported at once with the exact
      optimizer step (even inside a `steps_per_execution` block).

    Vanishing is not reported after an exploding or non-finite finding (a
    diverged network's gradients say nothing more).

    Each kind is reported once per `fit`, naming the step and the model's layer
    names, with the lectures' remedies that fit the model (chosen from its
    activations, initializers, BatchNormalization, recurrent cells, clipping and
    learning rate). It goes to `.events` (dicts) and then, per `action`:
    `"warn"` issues a `GradientWarning`; `"stop"` also sets
    `model.stop_training`; `"raise"` raises `GradientProblemError`. `.summary`
    keeps the extremes measured (`ratio_min`, `ratio_max`, `global_norm_max`,
    `checks`). Norms are after clipping (see `GradientNormLogger`), whose
    train-step hook it shares; it adds nothing to `logs`. Every computed step is
    checked; with `"stop"`/`"raise"` the rows are read after every batch, with
    `"warn"` every `128 * every` steps and at epoch ends (the step named is exact).

    Example:

    ```python
    detector = VanishingGradientDetector(action="stop")
    model.fit(x, y, epochs=5, callbacks=[detector])
    for event in detector.events:
        print(event["kind"], event["step"], event["message"])
    ```

    Args:
        vanishing_ratio: flag vanishing below this lowest/highest ratio of the
            layers' relative gradients (> 0).
        exploding_ratio: flag exploding above this ratio (> `vanishing_ratio`).
        max_norm: flag exploding above this global gradient norm (> 0).
        min_rms: flag vanishing when the lowest hidden layer's gradient RMS is
            below this (> 0).
        patience: consecutive checks a ratio condition must hold (integer > 0).
        every: check every `every` optimizer steps (integer > 0).
        action: `"warn"`, `"stop"` or `"raise"`.
    """

    def __init__(
        self,
        vanishing_ratio: float = 1e-4,
        exploding_ratio: float = 100.0,
        max_norm: float = 1e4,
        min_rms: float = 1e-9,
        patience: int = 3,
        every: int = 1,
        action: str = "warn",
    ) -> None:
        super().__init__()
        self.vanishing_ratio = float(check_positive("vanishing_ratio", vanishing_ratio))
        self.exploding_ratio = float(check_positive("exploding_ratio", exploding_ratio))
        if self.exploding_ratio <= self.vanishing_ratio:
            raise ValueError(
                "`exploding_ratio` must be greater than `vanishing_ratio`; received "
                f"exploding_ratio={exploding_ratio!r}, vanishing_ratio={vanishing_ratio!r}."
            )
        self.max_norm = float(check_positive("max_norm", max_norm))
        self.min_rms = float(check_positive("min_rms", min_rms))
        self.patience = int(check_positive("patience", patience, integer=True))
        self.every = int(check_positive("every", every, integer=True))
        self.action = check_choice("action", action, ACTIONS)
        self.events: list[dict[str, Any]] = []
        self.summary: dict[str, Any] = {}

    def on_train_begin(self, logs: dict | None = None) -> None:
        super().on_train_begin(logs)
        self.summary = {"checks": 0, "ratio_min": np.nan, "ratio_max": np.nan,
                        "global_norm_max": np.nan}
        self._reported: set[str] = set()
        self._streak = {"vanishing": 0, "exploding": 0}
        self._facts = _gradient_health.describe(self.model, self._tap.variables)
        self._refresh_weights(self._first_step)

    def _refresh_weights(self, step: int) -> None:
        self._weights = _gradient_health.weight_norms(self._tap.variables, self._facts)
        self._weights_step = step

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        super().on_epoch_end(epoch, logs)  # checks this epoch's rows with the weights in use
        if getattr(self, "_tap", None) is not None:
            self._refresh_weights(self._epoch_base)

    def _interval(self) -> int:
        return 1 if self.action in ("stop", "raise") else self._tap.drain_interval

    def _wants(self, rows: np.ndarray) -> np.ndarray:
        # non-finite rows are reported whatever `every`: the step must be exact
        return super()._wants(rows) | ~np.isfinite(rows[:, 1:]).all(axis=1)

    def _consume(self, rows: np.ndarray) -> None:
        if rows[-1, 0] - self._weights_step >= self._tap.drain_interval:
            self._refresh_weights(int(rows[-1, 0]))
        steps = rows[:, 0]
        m = _gradient_health.measure(rows[:, 1:], self._facts, self._weights, self._tap.sizes)
        vanishing = (m.ratio < self.vanishing_ratio) | (m.lowest_rms < self.min_rms)
        too_steep, huge = m.ratio > self.exploding_ratio, m.global_norm > self.max_norm
        checked = _TapClient._wants(self, rows) & m.finite  # non-finite: whatever `every`
        _gradient_health.summarize(self.summary, m.ratio[checked], m.global_norm[checked])
        # The first row of each finding, as a row-by-row pass meets them: a non-finite
        # row, a huge global norm, then `patience` checked rows in a row of a steep
        # ratio (runs continue across reads; unchecked rows neither count nor break them).
        found: list[tuple[int, int, str]] = []  # (row, order within the row, kind)
        for order, (kind, rows_hit) in enumerate((("non_finite", ~m.finite),
                                                  ("exploding", checked & huge))):
            first = np.flatnonzero(rows_hit)
            if len(first):
                found.append((int(first[0]), order, kind))
        positions = np.flatnonzero(checked)
        for order, (kind, hit) in enumerate((("vanishing", vanishing), ("exploding", too_steep)),
                                            start=2):
            first, self._streak[kind] = _first_run(hit[positions], self._streak[kind],
                                                   self.patience)
            if first is not None:
                found.append((int(positions[first]), order, kind))
        for i, _, kind in sorted(found):
            self._report(kind, int(steps[i]), _gradient_health.finding_info(
                rows[i, 1:], m.relative[i], self._facts, self._tap.names))

    def on_train_end(self, logs: dict | None = None) -> None:
        self._drain()
        tap = getattr(self, "_tap", None)
        if tap is not None and tap.snapshot()[0] < 0:
            warnings.warn(
                "VanishingGradientDetector saw no gradients: the model's train_step never "
                "called optimizer.apply / apply_gradients.",
                GradientWarning,
                stacklevel=2,
            )
        super().on_train_end(logs)

    def _report(self, kind: str, step: int, info: dict[str, Any]) -> None:
        if kind in self._reported or (kind == "vanishing" and self._reported):
            return  # once gradients exploded or turned non-finite, small ones mean nothing
        self._reported.add(kind)
        where = f"at step {step} (epoch {self._epoch + 1} of the progress bar)"
        names = [name for name, _ in self._facts.units] or ["the first layer"]
        remedies = _gradient_health.remedies(kind, self._facts, names)
        what = _gradient_health.describe_finding(kind, where, info, self.max_norm, self.min_rms)
        message = f"{what}. Remedies: " + "; ".join(remedies) + "."
        event = {"kind": kind, "step": step, "epoch": self._epoch, **info,
                 "message": message, "remedies": remedies}
        self.events.append(event)
        if self.action == "raise":
            # fit aborts without on_train_end: take the hook out for every client.
            _gradient_tap.release_all(self.model)
            self._tap = None
            raise GradientProblemError(message)
        warnings.warn(message, GradientWarning, stacklevel=2)
        if self.action == "stop":
            self.model.stop_training = True

    def get_config(self) -> dict[str, Any]:
        return {
            "vanishing_ratio": self.vanishing_ratio,
            "exploding_ratio": self.exploding_ratio,
            "max_norm": self.max_norm,
            "min_rms": self.min_rms,
            "patience": self.patience,
            "every": self.every,
            "action": self.action,
        }


def _first_run(hits: np.ndarray, carried: int, patience: int) -> tuple[int | None, int]:
    """Where a run of hits (continuing a run of `carried`) first reaches `patience`.

    Returns that index (None if never) and the length of the run at the end.
    """
    if not len(hits):
        return None, carried
    index = np.arange(len(hits))
    last_miss = np.maximum.accumulate(np.where(hits, -1, index))
    run = np.where(last_miss >= 0, index - last_miss, index + 1 + carried)
    reached = np.flatnonzero(run >= patience)
    return (int(reached[0]) if len(reached) else None), int(run[-1])
