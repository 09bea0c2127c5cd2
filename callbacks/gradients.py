"""Gradient-aware callbacks: `GradientNormLogger` and `VanishingGradientDetector`.

Both read the gradients the optimizer applies through one shared hook in the
train step (`callbacks._gradient_tap`), so they cost a few fused ops per step
instead of a second forward and backward pass. Norms are taken on the
gradients **after clipping** (and after loss-scale unscaling and the
cross-replica sum): the gradients the update actually uses. With no clipping
configured, before and after clipping are the same.
"""

from __future__ import annotations

import threading
import warnings
from typing import Any

import keras
import numpy as np

from callbacks import _gradient_health, _gradient_tap
from callbacks._base import CallbackBase
from callbacks._validation import check_choice, check_positive, require_compiled

ACTIONS = ("warn", "stop", "raise")


class _TapClient(CallbackBase):
    """Shared plumbing: attach to the tap at train begin, read its rows, detach at train end.

    The tap writes one row per computed step into an in-graph ring buffer; a
    client reads the buffer (one variable read) every `_interval()` steps, at
    each epoch end and at train end, and consumes every new row whose step is a
    multiple of its `every`. Per batch it does no tensor work otherwise.
    """

    _tap_logs = False
    _RUN_STATE = ("_tap", "_lock")
    # Keras then runs batch-end hooks in a worker thread, overlapped with the next
    # step, instead of on the main thread.
    async_safe = True

    def _tap_options(self) -> dict[str, Any]:
        return {"every": self.every, "logs": self._tap_logs}

    def _interval(self) -> int:
        """Steps between two reads of the tap's rows (at most its drain interval)."""
        return self._tap.drain_interval

    def on_train_begin(self, logs: dict | None = None) -> None:
        require_compiled(self.model, type(self).__name__)
        steps = (self.params or {}).get("steps")
        self._tap = _gradient_tap.acquire(self.model, self, steps_per_epoch=steps,
                                          **self._tap_options())
        # JAX keeps the ring in the training state: read it at epoch end only
        self._mid_epoch_reads = keras.backend.backend() != "jax"
        self._epoch = 0
        self._lock = threading.Lock()
        self._first_step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        self._last_step = self._first_step - 1.0  # last row consumed
        self._last_read = self._first_step - 1  # Python step count at the last read
        self._epoch_base = self._first_step
        self._epoch_steps = 0

    def on_train_end(self, logs: dict | None = None) -> None:
        self._drain()
        self._detach()

    def _detach(self) -> None:
        _gradient_tap.release(self.model, self)
        self._tap = None

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch
        self._epoch_steps = 0

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        # batch-end hooks of this epoch have all run (Keras flushes them first)
        self._drain()
        self._epoch_base += self._epoch_steps

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        # `batch` is the last step of the execution (steps_per_execution counts).
        tap = getattr(self, "_tap", None)
        if tap is None:
            return
        with self._lock:
            self._epoch_steps = max(self._epoch_steps, batch + 1)
            if not self._mid_epoch_reads:
                return
            step = self._epoch_base + batch
            due = step - self._last_read >= self._interval()
        if due:
            self._drain(step)

    def _drain(self, step: int | None = None) -> None:
        """Consume the rows the tap wrote since the last read, in step order."""
        tap = getattr(self, "_tap", None)
        if tap is None:
            return
        with self._lock:
            if step is not None:
                self._last_read = max(self._last_read, step)
            rows = tap.rows_after(self._last_step)
            if not len(rows):
                return
            self._last_step = float(rows[-1, 0])
            rows = rows[self._wants(rows)]
            if len(rows):
                self._consume(rows)

    def _wants(self, rows: np.ndarray) -> np.ndarray:
        """Mask of the rows this client looks at (steps that are multiples of `every`)."""
        return rows[:, 0] % self.every == 0

    def _consume(self, rows: np.ndarray) -> None:
        """Handle rows `[step, sq_0, ...]` in step order (lock held), vectorized."""


@keras.saving.register_keras_serializable(package="recipes")
class GradientNormLogger(_TapClient):
    """Log per-variable and global L2 norms of the gradients into `logs`.

    Where the values appear (every callback sees the same logs):

    * step logs (progress bar, `TensorBoard(update_freq="batch")`):
      `grad_norm/global`; with `step_logs="all"` also one
      `grad_norm/<layer>/<variable>` per trainable variable (`per_layer=True`);
    * epoch logs (`History`, `CSVLogger`, `TensorBoard`, progress bar):
      `grad_norm/global` and, with `per_layer=True`, every
      `grad_norm/<layer>/<variable>`, all of the last computed step of the
      epoch, whatever the callback's place in the `callbacks` list;
    * `.history`: every computed step (every `every` optimizer steps, also
      inside a `steps_per_execution` block), `"step"` plus one list per key,
      for `recipes.plots.plot_gradient_norms`. The norms are recorded in the
      train step into a ring buffer that the callback reads every
      `128 * every` steps (on JAX: at each epoch end only) and at each epoch
      end, so `.history` is complete at the end of each epoch.

    Across fits (freeze / unfreeze / `recipes.fine_tune`), `.history` and the
    epoch logs keep one column per variable the model's layers train when
    unfrozen, NaN on the steps where it was frozen; the steps continue (a
    recompiled optimizer that restarts at 0 is shifted past the record). A
    `train_step` that applies gradients through several optimizers kept as
    model attributes (a GAN) gets per-variable norms from the optimizer that
    applies each variable and one `grad_norm/<attribute>/global` per
    optimizer (TensorFlow, torch); what cannot be seen (other optimizers on
    JAX) is named in one warning, and a step that applies nothing through the
    hooked optimizers logs no `grad_norm` key (one warning), never NaN.
    Works on the TensorFlow, JAX and torch backends.

    Per-variable step logs are off by default because Keras converts every log
    value on every batch (about 2 us per key and step on a CPU): with hundreds
    of variables the keys would cost more than the norms.

    The norms are those of the gradients the optimizer applies: **after**
    loss-scale unscaling, **after clipping** (`clipnorm`, `clipvalue`,
    `global_clipnorm`) and after the cross-replica sum under `tf.distribute`
    (so they equal a single-device run's). Without clipping, before and after
    clipping are the same. With `every > 1` the norms are computed every
    `every` optimizer steps only (the logs repeat the last computed values in
    between).

    Example:

    ```python
    logger = GradientNormLogger(every=10)
    model.fit(x, y, epochs=5, callbacks=[logger])
    model.history.history["grad_norm/global"]      # one value per epoch
    model.history.history["grad_norm/dense/kernel"]
    logger.history["step"], logger.history["grad_norm/dense/kernel"]
    ```

    Args:
        every: compute the norms every `every` optimizer steps (integer > 0).
        per_layer: also log one norm per trainable variable (else only the
            global norm).
        prefix: prefix of the log keys.
        step_logs: `"global"` (default) puts only the global norm in the
            logs of each step; `"all"` also the per-variable norms (one more
            log value per variable and step, for per-batch TensorBoard).
    """

    _tap_logs = True

    def __init__(self, every: int = 1, per_layer: bool = True, prefix: str = "grad_norm",
                 step_logs: str = "global") -> None:
        super().__init__()
        self.every = int(check_positive("every", every, integer=True))
        if not isinstance(per_layer, bool):
            raise TypeError(f"`per_layer` must be a bool; received {per_layer!r}.")
        if not isinstance(prefix, str) or not prefix:
            raise ValueError(f"`prefix` must be a non-empty string; received {prefix!r}.")
        self.per_layer = per_layer
        self.prefix = prefix
        self.step_logs = check_choice("step_logs", step_logs, ("global", "all"))
        # blocks (columns, rows [step, global_sq, sq_0, ...]) with this fit's columns
        self._blocks: list[tuple[tuple[int, ...], np.ndarray]] = []
        self._names: list[str] = []  # every variable seen in any fit, first-seen order
        self._offset: int | None = 0  # added to this fit's steps to continue the record

    def _tap_options(self) -> dict[str, Any]:
        return {"every": self.every, "logs": True, "per_layer": self.per_layer,
                "prefix": self.prefix, "step_per_layer": self.step_logs == "all",
                "columns": list(getattr(self, "_names", []))}

    def on_train_begin(self, logs: dict | None = None) -> None:
        super().on_train_begin(logs)
        names = getattr(self, "_names", [])
        self._names = list(dict.fromkeys([*names, *self._tap.all_names, *self._tap.names]))
        self._columns = tuple(self._names.index(n) for n in self._tap.names)
        # a fresh optimizer (recompiled after freeze / unfreeze) restarts at step 0:
        # this fit's steps are shifted past the record (set by the first rows read)
        self._prior = self._last_recorded()
        self._offset = None

    def _last_recorded(self) -> int:
        blocks = getattr(self, "_blocks", [])
        return int(max(block[1][:, 0].max() for block in blocks)) if blocks else -1

    @property
    def clipping(self) -> str:
        """`"after clipping"`, the point where the norms are taken."""
        return "after clipping"

    @property
    def history(self) -> dict[str, list[float]]:
        """Per-step record: `{"step": [...], key: [...]}` in step order.

        One column per variable seen in any fit of this logger; NaN on the
        steps where the variable was not trained (frozen).
        """
        lock = getattr(self, "_lock", None) or threading.Lock()
        with lock:
            blocks = list(self._blocks)
            names = list(self._names)
        history: dict[str, list[float]] = {"step": []}
        if not blocks:
            return history
        full = []
        for columns, rows in blocks:
            block = np.full((len(rows), 2 + len(names)), np.nan)
            block[:, :2] = rows[:, :2]
            block[:, 2 + np.asarray(columns, dtype=int)] = rows[:, 2:]
            full.append(block)
        rows = np.concatenate(full)
        steps, first = np.unique(rows[:, 0], return_index=True)  # sorted; first kept
        rows = rows[first]
        history["step"] = [int(step) for step in steps]
        if self.per_layer:
            norms = np.sqrt(rows[:, 2:])
            for index, name in enumerate(names):
                history[f"{self.prefix}/{name}"] = norms[:, index].tolist()
        history[f"{self.prefix}/global"] = np.sqrt(rows[:, 1]).tolist()
        return history

    def _consume(self, rows: np.ndarray) -> None:
        if self._offset is None:
            self._offset = max(0, int(self._prior + 1 - rows[0, 0]))
        squared = rows[:, 1:]
        block = np.column_stack([rows[:, 0] + self._offset, squared.sum(axis=1), squared])
        self._blocks.append((self._columns, block))

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        super().on_epoch_end(epoch, logs)
        # Fallback when the tap could not extend the epoch logs itself.
        if self.per_layer and logs is not None and f"{self.prefix}/global" in logs:
            with self._lock:
                latest = self._blocks[-1][1][-1] if self._blocks else None
            values = dict.fromkeys(self._names, float("nan"))
            if latest is not None:
                values.update(zip(self._tap.names, np.sqrt(latest[2:]).tolist(), strict=False))
            for name, value in values.items():
                logs.setdefault(f"{self.prefix}/{name}", value)

    def get_config(self) -> dict[str, Any]:
        return {"every": self.every, "per_layer": self.per_layer, "prefix": self.prefix,
                "step_logs": self.step_logs}


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
    see `callbacks/_gradient_health.py`). Findings:

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
        return (rows[:, 0] % self.every == 0) | ~np.isfinite(rows[:, 1:]).all(axis=1)

    def _consume(self, rows: np.ndarray) -> None:
        if rows[-1, 0] - self._weights_step >= self._tap.drain_interval:
            self._refresh_weights(int(rows[-1, 0]))
        steps = rows[:, 0]
        m = _gradient_health.measure(rows[:, 1:], self._facts, self._weights, self._tap.sizes)
        vanishing = (m.ratio < self.vanishing_ratio) | (m.lowest_rms < self.min_rms)
        too_steep, huge = m.ratio > self.exploding_ratio, m.global_norm > self.max_norm
        own = steps % self.every == 0
        _gradient_health.summarize(self.summary, m.ratio[own & m.finite],
                                   m.global_norm[own & m.finite])

        def info(i: int) -> dict[str, Any]:
            return _gradient_health.finding_info(rows[i, 1:], m.relative[i], self._facts,
                                                 self._tap.names)

        for i in range(len(rows)):
            if not m.finite[i]:
                self._report("non_finite", int(steps[i]), info(i))
                continue
            if not own[i]:
                continue
            if huge[i]:
                self._report("exploding", int(steps[i]), info(i))
            for kind, hit in (("vanishing", vanishing[i]), ("exploding", too_steep[i])):
                self._streak[kind] = self._streak[kind] + 1 if hit else 0
                if self._streak[kind] >= self.patience:
                    self._report(kind, int(steps[i]), info(i))

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
        where = f"at step {step} (epoch {self._epoch})"
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
