"""Gradient-aware callbacks: `GradientNormLogger` and `VanishingGradientDetector`.

Both read the gradients the optimizer applies through one shared hook in the
train step (`callbacks._tap.tap`), so they cost a few fused ops per step
instead of a second forward and backward pass. Norms are taken on the
gradients **after clipping** (and after loss-scale unscaling and the
cross-replica sum): the gradients the update actually uses. With no clipping
configured, before and after clipping are the same.

`GradientNormLogger` is defined here; `VanishingGradientDetector` and its
`GradientProblemError` / `GradientWarning` in `callbacks.gradient_detector`,
imported here so that `callbacks.gradients` keeps offering all four names;
`gradient_norm_key` spells the log keys.
"""

from __future__ import annotations

import threading
from typing import Any

import keras
import numpy as np

from ._tap.client import _TapClient
from ._tap.logs import DEFAULT_PREFIX, gradient_norm_key
from ._validation import check_choice, check_positive
from .gradient_detector import (
    GradientProblemError,
    GradientWarning,
    VanishingGradientDetector,
)

__all__ = ["GradientNormLogger", "GradientProblemError", "GradientWarning",
           "VanishingGradientDetector", "gradient_norm_key"]


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
    between). They are then computed inside a `cond`, which on a CPU saves
    little for small models (the conditional costs about what the sums of a
    784-300-100-10 MLP do); the logs' conversion is not saved either.

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

    def __init__(self, every: int = 1, per_layer: bool = True, prefix: str = DEFAULT_PREFIX,
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

    def key(self, name: str = "global") -> str:
        """This logger's log key of `name` (`"global"` or a `layer/variable` name)."""
        return gradient_norm_key(name, self.prefix)

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
                history[self.key(name)] = norms[:, index].tolist()
        history[self.key()] = np.sqrt(rows[:, 1]).tolist()
        return history

    def _consume(self, rows: np.ndarray) -> None:
        if self._offset is None:
            self._offset = max(0, int(self._prior + 1 - rows[0, 0]))
        squared = rows[:, 1:]
        block = np.column_stack([rows[:, 0] + self._offset, squared.sum(axis=1), squared])
        self._blocks.append((self._columns, block))

    def get_config(self) -> dict[str, Any]:
        return {"every": self.every, "per_layer": self.per_layer, "prefix": self.prefix,
                "step_logs": self.step_logs}
