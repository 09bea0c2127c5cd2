"""Stage 2 of the gradient path: the gradients an update applies, reduced to squared norms.

Runs inside the compiled train step, called by `callbacks._tap.capture` on
the steps it records. The rows hold true squared norms on every backend:
TensorFlow's fused kernel computes half of one (`tf.nn.l2_loss`), and that
half is undone here, once per row. TensorFlow is imported only inside
functions that run on the TensorFlow backend.
"""

from __future__ import annotations

from typing import Any

import keras


def is_due(step: Any, every: int) -> Any:
    """Whether the norms of `step` are computed: `step` a multiple of `every`.

    The one test of `every`: in the compiled step (a step tensor) and in the
    clients (a NumPy array of recorded steps).
    """
    return step % every == 0


def squared_norms(index: dict[int, int], n: int, grads: list[Any], variables: list[Any]) -> Any:
    """A row of `n` float32 squared norms: column `index[id(variable)]`, 0 without a gradient."""
    tf = keras.backend.backend() == "tensorflow"
    parts: list[Any] = [keras.ops.zeros((), "float32")] * n
    for grad, variable in zip(grads, variables, strict=False):
        column = index.get(id(variable))
        if column is not None and grad is not None:
            parts[column] = _tf_half_square(grad) if tf else square_sum(grad)
    row = keras.ops.stack(parts)
    return row * 2.0 if tf else row


def _tf_half_square(grad: Any) -> Any:
    """sum(g**2) / 2 in one fused kernel (TensorFlow; a sparse gradient made dense)."""
    import tensorflow as tf

    if isinstance(grad, tf.IndexedSlices):
        grad = tf.convert_to_tensor(grad)
    return tf.nn.l2_loss(tf.cast(grad, tf.float32))


def _xla_on_cpu() -> bool:
    """JAX compiling for the CPU (on GPU / TPU a float32 matmul may run at TF32 / bfloat16)."""
    if keras.backend.backend() != "jax":
        return False
    import jax

    return jax.default_backend() == "cpu"


def square_sum(grad: Any) -> Any:
    """sum(g**2) in float32 (JAX, torch); on JAX on a CPU, as `square(g) @ ones` for a matrix.

    On JAX a plain `sum(square(g))` over a large gradient is compiled by XLA on
    CPU into a tiled reduce-window, about four times slower inside the train
    step than the same sum as `square(g) @ ones`, which XLA emits as a row loop
    split across the cores (`benchmarks/jax_step_cost.py` measures the tap's
    share of the step).
    """
    ops = keras.ops
    squared = ops.square(ops.cast(grad, "float32"))
    if len(squared.shape) < 2 or not _xla_on_cpu():
        return ops.sum(squared)
    columns = int(squared.shape[-1])
    rows = ops.reshape(squared, (-1, columns))
    return ops.sum(ops.matmul(rows, ops.ones((columns,), "float32")))
