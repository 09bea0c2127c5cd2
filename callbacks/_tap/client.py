"""Stage 3 of the gradient path, for callbacks: `_TapClient` reads the tap's rows.

`callbacks._tap.capture` records one row of squared gradient norms per
computed step into an in-graph ring buffer; a client attaches to the model's
tap at train begin, reads the new rows at its own pace and detaches at train
end. `GradientNormLogger` (`callbacks.gradients`) and
`VanishingGradientDetector` (`callbacks.gradient_detector`) are its two
clients.
"""

from __future__ import annotations

import threading
from typing import Any

import keras
import numpy as np

from .._base import CallbackBase
from .._validation import require_compiled
from . import tap as _gradient_tap
from .norms import is_due


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
        if getattr(self, "_tap", None) is None:
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
        return is_due(rows[:, 0], self.every)

    def _consume(self, rows: np.ndarray) -> None:
        """Handle rows `[step, sq_0, ...]` in step order (lock held), vectorized."""
