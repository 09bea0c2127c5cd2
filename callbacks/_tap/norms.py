"""What the gradient tap computes in the train step, and where it keeps it.

`callbacks._tap.tap` is the one place that hooks the train step; this
module holds its arithmetic, with no hook of its own: the squared norms of the
gradients an optimizer applies (`squared_parts`: the unscaling, accumulation
and clipping of `BaseOptimizer.apply`, re-applied to the norms), the ring
buffers they go into (`record`; TensorFlow: two `tf.Variable`s written with
in-place scatters, also per replica; elsewhere Keras variables updated with
`keras.ops`), and the naming of the variables.

TensorFlow is imported only inside functions that run on the TensorFlow
backend.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np


def variable_names(model: keras.Model, variables: list[Any]) -> list[str]:
    """Readable, unique names `layer/variable` for `variables` (model prefix stripped)."""
    prefix = model.name + "/"
    names: list[str] = []
    seen: dict[str, int] = {}
    for variable in variables:
        name = getattr(variable, "path", None) or variable.name
        if name.startswith(prefix):
            name = name[len(prefix):]
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        else:
            seen[name] = 0
        names.append(name)
    return names


def trainable_by_nature(model: keras.Model) -> list[Any]:
    """The model's variables that its layers train when unfrozen, in model order."""
    created = {id(v) for layer in model._flatten_layers()
               for v in getattr(layer, "_trainable_variables", ())}  # kept while frozen
    return [v for v in model.weights if v.trainable or id(v) in created]


def optimizer_chain(optimizer: Any) -> list[Any]:
    """`[optimizer, its inner optimizer, ...]` (a LossScaleOptimizer wraps one)."""
    chain = [optimizer]
    while hasattr(chain[-1], "inner_optimizer"):
        chain.append(chain[-1].inner_optimizer)
    if not isinstance(chain[-1], keras.optimizers.Optimizer):
        raise TypeError(
            "The gradient callbacks need a Keras 3 optimizer (`model.optimizer`); "
            f"received {type(optimizer).__name__}."
        )
    return chain


def is_tf() -> bool:
    return keras.backend.backend() == "tensorflow"


class Channel:
    """One optimizer the tap hooks: its label, chain (outer to inner) and ring."""

    def __init__(self, label: str, chain: list[Any]) -> None:
        self.label = label
        self.chain = chain
        self.ring: Any = None  # (norms, steps) variables


def read(variable: Any) -> Any:
    """The variable's value now (TensorFlow: a read op ordered before later writes)."""
    if is_tf():
        if not hasattr(variable, "value"):
            return variable  # already a tensor (`iterations` under gradient accumulation)
        import tensorflow as tf

        return tf.convert_to_tensor(variable.value)  # the read op is made here
    value = keras.ops.convert_to_tensor(variable)
    # torch: the variable's own tensor, which `assign` overwrites in place (a read
    # before `apply` would show the incremented step): a copy
    return keras.ops.copy(value) if keras.backend.backend() == "torch" else value


def latest(norms: Any, steps: Any) -> Any:
    """The ring's row with the highest step (NaN before any)."""
    return keras.ops.take(norms, keras.ops.argmax(steps), axis=0)


def accumulated_gradients(optimizer: Any, variables: list[Any]) -> list[Any] | None:
    """Accumulated gradients to add on an update step (gradient accumulation), else None."""
    if not optimizer.gradient_accumulation_steps:
        return None
    if not optimizer.built:  # what `apply` does first
        with keras.name_scope(optimizer.name):
            optimizer.build(variables)
    # the accumulators are the optimizer's own (no public accessor); values read
    # before `apply` resets them
    return [read(optimizer._accumulated_gradients[optimizer._get_variable_index(v)])
            for v in variables]


def _is_sparse(grad: Any) -> bool:
    import tensorflow as tf

    return isinstance(grad, tf.IndexedSlices)


def _densify(grad: Any) -> Any:
    import tensorflow as tf

    return tf.convert_to_tensor(grad)


def tf_half_square(grad: Any) -> Any:
    """sum(g**2) / 2 in one fused kernel (TensorFlow)."""
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
    split across the cores (`benchmarks/jax_step_cost.py`: the tap's cost on the
    784-300-100-10 MLP fell from 1.22 to about 1.07 of the plain step).
    """
    ops = keras.ops
    squared = ops.square(ops.cast(grad, "float32"))
    if len(squared.shape) < 2 or not _xla_on_cpu():
        return ops.sum(squared)
    columns = int(squared.shape[-1])
    rows = ops.reshape(squared, (-1, columns))
    return ops.sum(ops.matmul(rows, ops.ones((columns,), "float32")))


def in_other_graph(tensor: Any) -> bool:
    """True for a TF tensor made inside a cond branch (not usable in the step's graph)."""
    if not is_tf():
        return False
    import tensorflow as tf

    return not tf.executing_eagerly() and tensor.graph is not tf.compat.v1.get_default_graph()


def tf_ring(model: keras.Model, capacity: int, n: int) -> tuple[Any, Any]:
    import tensorflow as tf

    def variable(initial: np.ndarray, dtype: Any, name: str) -> Any:
        # ON_READ + ONLY_FIRST_REPLICA: each replica writes its own copy with no
        # communication (the reduced gradients are identical on every replica);
        # a read outside the step returns the first replica's copy.
        return tf.Variable(initial, dtype=dtype, trainable=False, name=f"gradient_tap_{name}",
                           synchronization=tf.VariableSynchronization.ON_READ,
                           aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)

    with model.distribute_strategy.scope():
        return (variable(np.full((capacity, n), np.nan), tf.float32, "halves"),
                variable(np.full(capacity, -1), tf.int64, "steps"))


def _tf_record(ring: Any, parts: Any, iterations: Any, applied: Any, every: int,
               capacity: int) -> Any:
    """TensorFlow: two in-place scatters into the ring (raw ops: also per replica)."""
    import tensorflow as tf

    halves_var, steps_var = ring
    iterations = tf.cast(iterations, tf.int64)
    slot = (iterations // every if every > 1 else iterations) % capacity

    def compute() -> Any:
        halves = tf.stack([tf.cast(p, tf.float32) for p in parts()])
        # a sync-on-read variable (MirroredStrategy) has no scatter method in replica
        # context, but `.handle` is this replica's copy.
        tf.raw_ops.ResourceScatterUpdate(resource=halves_var.handle, indices=slot,
                                         updates=halves)
        tf.raw_ops.ResourceScatterUpdate(resource=steps_var.handle, indices=slot,
                                         updates=iterations)
        return halves

    due = tf.equal(iterations % every, 0) if every > 1 else None
    if applied is not None:
        due = applied if due is None else tf.logical_and(due, applied)
    if due is None:
        return compute()
    # Between two computed steps the logs repeat the last computed one; NaN before
    # the first.
    return tf.cond(due, compute, lambda: latest(tf.convert_to_tensor(halves_var),
                                                 tf.convert_to_tensor(steps_var)))


def squared_parts(index: dict[int, int], n: int, optimizer: Any, grads: list[Any],
                  variables: list[Any], accumulated: list[Any] | None) -> list[Any]:
    """Per column, the squared norm (TF: half) of the gradient the update applies.

    `index` maps `id(variable)` to its column (of `n`). The arithmetic of
    `BaseOptimizer.apply` on the squared norms: divided by the square of
    `loss_scale_factor`, accumulated gradients added on update steps, then
    the clip of `clipnorm` / `global_clipnorm` (on the squared norms) or
    `clipvalue` (on the gradient). Columns without a gradient get 0. Called
    only when some gradient has a column (`has_columns`).
    """
    ops = keras.ops
    scale = optimizer.loss_scale_factor
    steps = optimizer.gradient_accumulation_steps
    clipvalue = optimizer.clipvalue
    pairs = []
    for position, (grad, variable) in enumerate(zip(grads, variables, strict=False)):
        column = index.get(id(variable))
        if column is None or grad is None:
            continue
        if (clipvalue or accumulated is not None) and (is_tf() and _is_sparse(grad)):
            grad = _densify(grad)
        if clipvalue or accumulated is not None:
            grad = ops.cast(grad, "float32")
            if scale:
                grad = grad / scale
            if accumulated is not None:
                grad = (grad + ops.cast(accumulated[position], "float32")) / steps
            if clipvalue and not (optimizer.clipnorm or optimizer.global_clipnorm):
                grad = ops.clip(grad, -clipvalue, clipvalue)
            scale_squared = None
        else:
            scale_squared = float(scale) ** 2 if scale else None
        part = tf_half_square(grad) if is_tf() else square_sum(grad)
        if scale_squared:
            part = part / scale_squared
        pairs.append((column, part))
    unit = 0.5 if is_tf() else 1.0  # the stored value of a squared norm of 1
    if optimizer.clipnorm:
        limit = unit * float(optimizer.clipnorm) ** 2
        pairs = [(c, ops.minimum(p, limit)) for c, p in pairs]
    elif optimizer.global_clipnorm:
        limit = unit * float(optimizer.global_clipnorm) ** 2
        total = ops.sum(ops.stack([p for _, p in pairs]))
        factor = limit / ops.maximum(total, limit)
        pairs = [(c, p * factor) for c, p in pairs]
    parts: list[Any] = [None] * n
    for column, part in pairs:
        parts[column] = part
    zero = ops.zeros((), "float32")
    return [zero if p is None else p for p in parts]

def has_columns(index: dict[int, int], grads: list[Any], variables: list[Any]) -> bool:
    """Whether any gradient belongs to a variable with a column in `index`."""
    return any(grad is not None and id(variable) in index
               for grad, variable in zip(grads, variables, strict=False))


def record(ring: Any, parts: Any, iterations: Any, applied: Any, every: int,
           capacity: int) -> Any:
    """Write this step's row to the ring when it is due; return the row or None.

    `parts` is a function returning the row's squared norms (`squared_parts`):
    it runs on due steps only (inside a `cond` when `every > 1` or under
    gradient accumulation), so that `every=N` saves the arithmetic.

    On TensorFlow the returned row is the logs' (this step's, or the latest
    recorded one on a step that records nothing); elsewhere this step's row
    when every step is recorded, else None (the logs then read the latest
    row of the ring).
    """
    if is_tf():
        return _tf_record(ring, parts, iterations, applied, every, capacity)
    ops = keras.ops
    norms, steps = ring
    iterations = ops.cast(iterations, "int32")
    slot = ((iterations // every) if every > 1 else iterations) % capacity
    due = ops.equal(iterations % every, 0) if every > 1 else None
    if applied is not None:
        due = applied if due is None else ops.logical_and(due, applied)
    if due is None:
        row = ops.stack(parts())
    else:  # computed on due steps only; other steps write the slot's row back
        row = ops.cond(due, lambda: ops.stack(parts()),
                       lambda: ops.take(norms.value, slot, axis=0))
        iterations = ops.where(due, iterations, ops.take(steps.value, slot))
    norms.assign(ops.slice_update(norms.value, ops.stack([slot, 0 * slot]), row[None]))
    steps.assign(ops.slice_update(steps.value, ops.reshape(slot, (1,)),
                                  ops.reshape(iterations, (1,))))
    return row if due is None else None  # computed at every step: the logs' row


def optimizer_ring(optimizer: Any, capacity: int, n: int) -> tuple[Any, Any]:
    """A ring as two variables of `optimizer` (JAX: state leaves the step only so)."""
    return (optimizer.add_variable((capacity, n), keras.initializers.Constant(np.nan),
                                   "float32", name="gradient_tap_norms"),
            optimizer.add_variable((capacity,), keras.initializers.Constant(-1), "int32",
                                   name="gradient_tap_steps"))


def drop_variables(optimizer: Any, variables: tuple[Any, ...]) -> None:
    """Take `variables` (made with `add_variable`) out of `optimizer` again."""
    ours = {id(v) for v in variables}
    # the optimizer has no public way to drop a variable
    optimizer._variables[:] = [v for v in optimizer._variables if id(v) not in ours]
    optimizer._tracker.stored_ids["variables"].difference_update(ours)


def saving_without(optimizer: Any, variables: tuple[Any, ...]) -> Any:
    """A `save_own_variables` for `optimizer` that leaves `variables` out."""
    ours = {id(v) for v in variables}

    def save_own_variables(store):
        kept = [v for v in optimizer.variables if id(v) not in ours]
        for i, variable in enumerate(kept):  # BaseOptimizer's format
            store[str(i)] = keras.ops.convert_to_numpy(variable)

    return save_own_variables


def merged_rows(rings: list[tuple[Any, Any]], factor: float) -> np.ndarray:
    """The rings as float64 rows `[step, squared_0, ...]`; several rings merged by step.

    With several optimizers each variable's column comes from the optimizer
    that applies it (the other rings hold zeros there), so rows of one step add.
    """
    blocks = []
    for norms, steps in rings:
        squared = factor * np.asarray(keras.ops.convert_to_numpy(norms), dtype=np.float64)
        steps = np.asarray(keras.ops.convert_to_numpy(steps), dtype=np.float64)
        blocks.append(np.column_stack([steps, squared]))
    if len(blocks) == 1:
        return blocks[0]
    rows = np.concatenate([b[b[:, 0] >= 0] for b in blocks])
    if not len(rows):
        return blocks[0][:1]
    steps, where = np.unique(rows[:, 0], return_inverse=True)
    merged = np.zeros((len(steps), rows.shape[1]))
    np.add.at(merged, where, rows)
    merged[:, 0] = steps
    return merged
