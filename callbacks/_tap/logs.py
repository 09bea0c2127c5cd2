"""Stage 3 of the gradient path: the norms in the logs every Keras callback sees.

Two hooks go on the model for one fit (`hook`):

* `train_step`: the step logs get `<prefix>/global` (with several
  optimizers also `<prefix>/<attribute>/global` per optimizer, and with
  `step_per_layer` one key per variable), computed in the step from the row
  the capture recorded (`callbacks._tap.capture.rows_of_step`), or from the
  ring's latest row when the step recorded none or recorded it inside a
  `cond` branch; on JAX from the ring in the returned state (a row made
  inside a `cond` branch cannot leave it);
* the epoch logs (`_keras_internals.EPOCH_LOGS`): every variable's norm of
  the last computed step (NaN for a variable a client knows that this fit
  does not train), before the first callback sees them.

`gradient_norm_key` spells every key.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import keras
import numpy as np

from .. import _keras_internals
from .capture import in_other_graph, latest

if TYPE_CHECKING:
    from .tap import GradientTap

DEFAULT_PREFIX = "grad_norm"


def gradient_norm_key(name: str = "global", prefix: str = DEFAULT_PREFIX) -> str:
    """The log key under which `GradientNormLogger` puts a gradient norm.

    Example:

    ```python
    gradient_norm_key()                          # "grad_norm/global"
    gradient_norm_key("dense/kernel")            # "grad_norm/dense/kernel"
    gradient_norm_key("global", prefix="grads")  # "grads/global"
    ```

    Args:
        name: `"global"`, a variable's `layer/variable` name, or
            `"<optimizer attribute>/global"`.
        prefix: the logger's `prefix`.
    """
    return f"{prefix}/{name}"


def hook(tap: GradientTap, patches: _keras_internals.Patches) -> None:
    """Put the step-logs and epoch-logs hooks on `tap.model` (see the module docstring)."""
    step = _jax_train_step if keras.backend.backend() == "jax" else _train_step
    patches.wrap(tap.model, "train_step", lambda original: step(tap, original))
    patches.wrap(tap.model, _keras_internals.EPOCH_LOGS,
                 lambda original: _epoch_logs(tap, original))


def _with_norms(tap: GradientTap, logs: dict, squared: Any) -> dict:
    ops = keras.ops
    logs = dict(logs)
    if tap.step_per_layer:
        norms = ops.sqrt(squared)
        for i, name in enumerate(tap.names):
            logs[gradient_norm_key(name, tap.prefix)] = norms[i]
    logs[gradient_norm_key("global", tap.prefix)] = ops.sqrt(ops.sum(squared))
    return logs


def _train_step(tap: GradientTap, original: Any) -> Any:
    def train_step(data):
        tap.local.rows = {}
        logs = original(data)
        rows, tap.local.rows = tap.local.rows, {}
        if not rows:
            warn_unseen(tap)
        elif tap.log_global and isinstance(logs, dict):
            squared = {}
            for channel in tap.channels:
                if channel.label in rows:
                    row = rows[channel.label]
                    if row is None or in_other_graph(row):
                        row = latest(*(keras.ops.convert_to_tensor(v) for v in channel.ring))
                    squared[channel.label] = row
            values = list(squared.values())
            logs = _with_norms(tap, logs, sum(values[1:], values[0]))
            if len(squared) > 1:  # several optimizers: a global norm per optimizer
                for label, row in squared.items():
                    logs[gradient_norm_key(f"{label}/global", tap.prefix)] = keras.ops.sqrt(
                        keras.ops.sum(row))
        return logs

    return train_step


def _jax_train_step(tap: GradientTap, original: Any) -> Any:
    def train_step(state, data):
        tap.local.rows = {}
        logs, state = original(state, data)
        if not tap.local.rows:
            warn_unseen(tap)
        elif tap.log_global and isinstance(logs, dict) and len(state) == 4:
            ids = [id(v) for v in tap.model.optimizer.variables]
            norms_var, steps_var = tap.channels[0].ring
            norms = state[2][ids.index(id(norms_var))]
            inner = tap.channels[0].chain[-1]
            if tap.every == 1 and not inner.gradient_accumulation_steps:
                # every applied step is recorded at the slot of its step count: the
                # latest row is the one before the count (a slice, no search)
                count = state[2][ids.index(id(inner.iterations))]
                slot = (keras.ops.cast(count, "int32") - 1) % tap.capacity
                row = keras.ops.take(norms, slot, axis=0)
            else:
                row = latest(norms, state[2][ids.index(id(steps_var))])
            logs = _with_norms(tap, logs, row)
        return logs, state

    return train_step


def warn_unseen(tap: GradientTap) -> None:
    """One warning per tap when the step applies no gradients through the hook."""
    # said when the tap was made (optimizers it cannot see), or already; or the tap
    # was released while a step ran (torch calls this wrapper at every step)
    if tap.unseen or tap.warned or not tap.installed:
        return
    tap.warned = True
    warnings.warn(
        "The gradient callbacks see the gradients that `model.optimizer` "
        f"({type(tap.model.optimizer).__name__}) applies, and this model's train_step "
        "applies none through it. No `grad_norm` keys are logged and the callbacks "
        "record nothing.", stacklevel=2)


def _epoch_logs(tap: GradientTap, original: Any) -> Any:
    def epoch_logs(logs):
        result = original(logs)
        if (tap.log_per_layer and isinstance(result, dict)
                and gradient_norm_key("global", tap.prefix) in result):
            result = dict(result)
            if not tap.step_per_layer:
                squared = tap.snapshot()[1:]
                for name, value in zip(tap.names, np.sqrt(squared), strict=False):
                    result.setdefault(gradient_norm_key(name, tap.prefix), float(value))
            for name in tap.columns:  # known to a client, not trained in this fit
                result.setdefault(gradient_norm_key(name, tap.prefix), float("nan"))
        return result

    return epoch_logs
