"""What the gradient tap runs inside the train step, and the epoch logs it fills.

`callbacks._tap.tap.GradientTap.install` patches these wrappers onto one
model and its optimizers for the duration of a `fit`:

* `wrap_apply`: the public `optimizer.apply` (TensorFlow's `apply_gradients`
  and the torch train step call it; on JAX `stateless_apply` runs it in a
  `StatelessScope`). It computes this step's squared norms of the gradients
  the update applies (`_tap_norms.squared_parts`) and writes them to the
  channel's ring (`_tap_norms.record`).
* `wrap_all_reduce`: TensorFlow with several replicas only, the post-sum
  `_all_reduce_sum_gradients` (Keras clips per replica, then sums there).
* `wrap_train_step`: adds `grad_norm/global` (and, with `step_per_layer`, one
  key per variable) to the step logs; on JAX from the ring in the returned
  state (the row at the step count's slot when every step is recorded, else
  the latest row): a row made inside a `cond` branch cannot leave it.
* `wrap_epoch_logs`: `_get_metrics_result_or_logs`, so that the epoch logs get
  every variable's norm of the last computed step, whatever the callback's
  place in the list.

The rows of one trace are kept per channel label in `rows_of_step(tap)`
(thread-local: `MirroredStrategy` traces its replicas in threads).
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import keras
import numpy as np

from .norms import (
    Channel,
    accumulated_gradients,
    has_columns,
    in_other_graph,
    latest,
    read,
    record,
    squared_parts,
    tf_half_square,
)

if TYPE_CHECKING:
    from .tap import GradientTap

__all__ = ["rows_of_step", "wrap_all_reduce", "wrap_apply", "wrap_epoch_logs", "wrap_outer_apply",
           "wrap_train_step"]


def wrap_apply(tap: GradientTap, channel: Channel, original: Any) -> Any:
    optimizer = channel.chain[-1]

    def apply(grads, trainable_variables=None):
        if tap.replicas > 1:  # recorded after the cross-replica sum instead
            return original(grads, trainable_variables)
        grads = list(grads)
        variables = (list(trainable_variables) if trainable_variables is not None
                     else list(getattr(optimizer, "_trainable_variables", [])))
        iterations = read(optimizer.iterations)  # before `apply` increments it
        accumulated = accumulated_gradients(optimizer, variables)
        # the raw step counter (`iterations` counts updates under accumulation)
        raw = read(optimizer._iterations) if accumulated is not None else None
        result = original(grads, trainable_variables)
        rows_of_step(tap)[channel.label] = None
        if has_columns(tap.index, grads, variables):
            applied = None  # with gradient accumulation, only update steps apply
            if accumulated is not None:
                steps = optimizer.gradient_accumulation_steps
                applied = keras.ops.equal((raw + 1) % steps, 0)

            def parts() -> list[Any]:  # run by `record` on due steps only
                return squared_parts(tap.index, len(tap.variables), optimizer, grads,
                                     variables, accumulated)

            rows_of_step(tap)[channel.label] = record(
                channel.ring, parts, iterations, applied, tap.every, tap.capacity)
        return result

    return apply


def wrap_outer_apply(tap: GradientTap, channel: Channel, original: Any) -> Any:
    """A LossScaleOptimizer's `apply`: the step uses this channel even when the
    inner `apply` is skipped (a non-finite step: on torch its `cond` is a Python
    `if`), so the logs repeat the latest row instead of warning of no gradients."""

    def apply(grads, trainable_variables=None):
        rows_of_step(tap).setdefault(channel.label, None)
        return original(grads, trainable_variables)

    return apply


def wrap_all_reduce(tap: GradientTap, original: Any) -> Any:
    index = dict(tap.index)
    index.update({id(v.value): i for i, v in enumerate(tap.variables)})

    def _all_reduce_sum_gradients(grads_and_vars):
        reduced = original(grads_and_vars)
        import tensorflow as tf  # this wrapper exists on TensorFlow only

        def parts() -> list[Any]:  # run by `record` on due steps only
            halves = [tf.constant(0.0, tf.float32)] * len(tap.variables)
            for grad, variable in reduced:
                position = index.get(id(variable))
                if position is not None and grad is not None:
                    halves[position] = tf_half_square(grad)
            return halves

        main = tap.channels[0]
        iterations = read(main.chain[-1].iterations)
        rows_of_step(tap)[main.label] = record(
            main.ring, parts, iterations, None, tap.every, tap.capacity)
        return reduced

    return _all_reduce_sum_gradients


def rows_of_step(tap: GradientTap) -> dict[str, Any]:
    """This trace's rows, per channel label (thread-local: replicas trace in threads)."""
    rows = getattr(tap.local, "rows", None)
    if rows is None:
        rows = tap.local.rows = {}
    return rows


def norm_logs(tap: GradientTap, logs: dict, squared: Any) -> dict:
    ops = keras.ops
    logs = dict(logs)
    if tap.step_per_layer:
        norms = ops.sqrt(squared)
        for i, name in enumerate(tap.names):
            logs[f"{tap.prefix}/{name}"] = norms[i]
    logs[f"{tap.prefix}/global"] = ops.sqrt(ops.sum(squared))
    return logs


def wrap_train_step(tap: GradientTap, original: Any) -> Any:
    if keras.backend.backend() == "jax":
        return _wrap_jax_train_step(tap, original)

    def train_step(data):
        tap.local.rows = {}
        logs = original(data)
        rows, tap.local.rows = tap.local.rows, {}
        if not rows:
            warn_unseen(tap)
        elif tap.log_global and isinstance(logs, dict):
            squared = {}
            for channel in tap.channels:
                if channel.label not in rows:
                    continue
                row = rows[channel.label]
                if row is None or in_other_graph(row):
                    # recorded inside a branch (LossScaleOptimizer, gradient
                    # accumulation) or not at all: the latest row of the ring
                    row = latest(*(keras.ops.convert_to_tensor(v) for v in channel.ring))
                squared[channel.label] = tap.factor * row
            rows = list(squared.values())
            total = rows[0] if len(rows) == 1 else sum(rows[1:], rows[0])
            logs = norm_logs(tap, logs, total)
            if len(squared) > 1:  # several optimizers: a global norm per optimizer
                for label, row in squared.items():
                    logs[f"{tap.prefix}/{label}/global"] = keras.ops.sqrt(
                        keras.ops.sum(row))
        return logs

    return train_step


def _wrap_jax_train_step(tap: GradientTap, original: Any) -> Any:
    def train_step(state, data):
        tap.local.rows = {}
        logs, state = original(state, data)
        if not tap.local.rows:
            warn_unseen(tap)
        elif tap.log_global and isinstance(logs, dict) and len(state) == 4:
            # From the returned state: a row made inside the step may sit in a
            # `cond` branch (LossScaleOptimizer, a custom step) and cannot leave it.
            ids = [id(v) for v in tap.model.optimizer.variables]
            norms = state[2][ids.index(id(tap.ring[0]))]
            inner = tap.channels[0].chain[-1]
            if tap.every == 1 and not inner.gradient_accumulation_steps:
                # every applied step is recorded at the slot of its step count: the
                # latest row is the one before the count (a slice, no search)
                count = state[2][ids.index(id(inner.iterations))]
                slot = (keras.ops.cast(count, "int32") - 1) % tap.capacity
                row = keras.ops.take(norms, slot, axis=0)
            else:
                row = latest(norms, state[2][ids.index(id(tap.ring[1]))])
            logs = norm_logs(tap, logs, row)
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


def wrap_epoch_logs(tap: GradientTap, original: Any) -> Any:
    def _get_metrics_result_or_logs(logs):
        result = original(logs)
        key = f"{tap.prefix}/global"
        if tap.log_per_layer and isinstance(result, dict) and key in result:
            squared = tap.snapshot()[1:]
            result = dict(result)
            if not tap.step_per_layer:
                for name, value in zip(tap.names, np.sqrt(squared), strict=False):
                    result.setdefault(f"{tap.prefix}/{name}", float(value))
            for name in tap.columns:  # known to a client, not trained in this fit
                result.setdefault(f"{tap.prefix}/{name}", float("nan"))
        return result

    return _get_metrics_result_or_logs
