"""Stage 1 of the gradient path: in the compiled step, the applied gradients into a ring buffer.

For each optimizer the tap watches (a `Channel`), two hooks go on for one fit
(`hook`, through `callbacks._keras_internals`):

* on the optimizer that does the work (the inner one of a
  `LossScaleOptimizer`), Keras's own call that receives the gradients the
  update applies, after unscaling, accumulation and clipping
  (`_keras_internals.on_applied_gradients`): it reduces them to squared
  norms (`callbacks._tap.norms`) and writes one row per computed step into
  the channel's ring;
* on the outermost optimizer, the public `apply`: it marks the channel as
  used by this step, so that a step whose update is skipped (a
  LossScaleOptimizer's non-finite step, a gradient-accumulation step) takes
  the latest row in its logs instead of a warning.

The ring is two variables: `capacity` rows of squared norms and the
optimizer step of each row (-1: empty). On TensorFlow they are
`tf.Variable`s written with in-place scatters, also per replica; elsewhere
Keras variables (on JAX attached to the optimizer, the only state a JAX step
returns). The rows of the step being traced are kept per channel label in
`rows_of_step(tap)` for `callbacks._tap.logs` (thread-local:
`MirroredStrategy` traces its replicas in threads).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import keras
import numpy as np

from .. import _keras_internals
from . import norms

if TYPE_CHECKING:
    from .tap import GradientTap


class Channel:
    """One optimizer the tap hooks: its label, chain (outer to inner) and ring."""

    def __init__(self, label: str, chain: list[Any]) -> None:
        self.label = label
        self.chain = chain
        self.ring: Any = None  # (norms, steps) variables


def _is_tf() -> bool:
    return keras.backend.backend() == "tensorflow"


def make_ring(model: keras.Model, capacity: int, n: int) -> tuple[Any, Any]:
    """Two empty variables: `(capacity, n)` squared norms (NaN) and `(capacity,)` steps (-1)."""
    norms_value, steps_value = np.full((capacity, n), np.nan), np.full(capacity, -1)
    if not _is_tf():
        return (keras.Variable(norms_value.astype("float32"), trainable=False,
                               name="gradient_tap_norms"),
                keras.Variable(steps_value.astype("int32"), trainable=False,
                               name="gradient_tap_steps"))
    import tensorflow as tf

    def variable(initial: np.ndarray, dtype: Any, name: str) -> Any:
        # ON_READ + ONLY_FIRST_REPLICA: each replica writes its own copy with no
        # communication (the reduced gradients are identical on every replica);
        # a read outside the step returns the first replica's copy.
        return tf.Variable(initial, dtype=dtype, trainable=False, name=f"gradient_tap_{name}",
                           synchronization=tf.VariableSynchronization.ON_READ,
                           aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)

    with model.distribute_strategy.scope():
        return variable(norms_value, tf.float32, "norms"), variable(steps_value, tf.int64, "steps")


def hook(tap: GradientTap, channel: Channel, patches: _keras_internals.Patches) -> None:
    """Put the channel's two hooks on (see the module docstring)."""
    optimizer = channel.chain[-1]

    def record_gradients(grads: list[Any], variables: list[Any]) -> None:
        if not any(g is not None and id(v) in tap.index for g, v in zip(grads, variables,
                                                                        strict=False)):
            return  # none of the watched variables (an optimizer of another part)

        def row() -> Any:  # on the computed steps only
            return norms.squared_norms(tap.index, len(tap.variables), grads, variables)

        step = read(optimizer.iterations)  # `apply` increments it after the update
        rows_of_step(tap)[channel.label] = record(channel.ring, row, step, tap.every,
                                                  tap.capacity)

    def marking(apply: Any) -> Any:
        def marked_apply(grads, trainable_variables=None):
            rows_of_step(tap).setdefault(channel.label, None)
            return apply(grads, trainable_variables)

        return marked_apply

    _keras_internals.on_applied_gradients(patches, optimizer, record_gradients)
    patches.wrap(channel.chain[0], "apply", marking)


def rows_of_step(tap: GradientTap) -> dict[str, Any]:
    """The rows of the step being traced, per channel label (None: used, nothing recorded)."""
    rows = getattr(tap.local, "rows", None)
    if rows is None:
        rows = tap.local.rows = {}
    return rows


def record(ring: tuple[Any, Any], row: Any, step: Any, every: int, capacity: int) -> Any:
    """Write the row of `step` into the ring and return it (the step's logs show it).

    `row()` computes the squared norms; with `every > 1` it runs inside a
    `cond` on the due steps only (`norms.is_due`), and the other steps keep
    the latest computed row (NaN before the first).
    """
    ops = keras.ops
    norms_var, steps_var = ring
    step = ops.cast(step, "int64" if _is_tf() else "int32")
    slot = (step // every) % capacity
    if every == 1:
        values, kept = row(), step
    else:
        due = norms.is_due(step, every)
        values = ops.cond(due, row, lambda: ops.take(read(norms_var), slot, axis=0))
        kept = ops.where(due, step, ops.take(read(steps_var), slot))
    if _is_tf():
        import tensorflow as tf

        # a sync-on-read variable (MirroredStrategy) has no scatter method in replica
        # context, but `.handle` is this replica's copy.
        tf.raw_ops.ResourceScatterUpdate(resource=norms_var.handle, indices=slot, updates=values)
        tf.raw_ops.ResourceScatterUpdate(resource=steps_var.handle, indices=slot, updates=kept)
    else:
        norms_var.assign(ops.slice_update(norms_var.value, ops.stack([slot, 0 * slot]),
                                          values[None]))
        steps_var.assign(ops.slice_update(steps_var.value, ops.reshape(slot, (1,)),
                                          ops.reshape(kept, (1,))))
    return values


def read(variable: Any) -> Any:
    """The variable's value now, as a tensor that later writes to it leave unchanged."""
    if _is_tf():
        import tensorflow as tf

        # a Keras variable's tf.Variable; a tf.Variable or tensor (`iterations` under
        # gradient accumulation) as it is
        return tf.convert_to_tensor(variable.value if isinstance(variable, keras.Variable)
                                    else variable)
    value = keras.ops.convert_to_tensor(variable)
    # torch: the variable's own tensor, which `assign` overwrites in place: a copy
    return keras.ops.copy(value) if keras.backend.backend() == "torch" else value


def latest(norms_value: Any, steps_value: Any) -> Any:
    """The ring's row with the highest step (NaN before any)."""
    return keras.ops.take(norms_value, keras.ops.argmax(steps_value), axis=0)


def in_other_graph(tensor: Any) -> bool:
    """True for a TF tensor made inside a cond branch (not usable in the step's graph)."""
    if not _is_tf():
        return False
    import tensorflow as tf

    return not tf.executing_eagerly() and tensor.graph is not tf.compat.v1.get_default_graph()
