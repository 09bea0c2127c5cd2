"""The one place that reaches into the train step to see the applied gradients.

Keras 3 callbacks only ever see `logs`; gradients exist only inside
`train_step` and the optimizer. A `GradientTap` is attached to one model for
the duration of a `fit` and shared (reference counted) by every
gradient-aware callback on that model.

**Where it hooks (Keras's public optimizer API).** It wraps, on the optimizer
*instance* (the inner optimizer of a `LossScaleOptimizer`), the public
`apply`: TensorFlow's `apply_gradients` and the torch train step call it, and
on JAX the train step's `stateless_apply` runs it inside a `StatelessScope`.
`apply` receives the gradients before Keras unscales (`loss_scale_factor`),
accumulates (`gradient_accumulation_steps`) and clips them, so the tap applies
the same arithmetic to the squared norms: it divides by the loss scale,
adds the accumulated gradients on the update steps, and re-applies the clip
from the public `clipnorm` / `global_clipnorm` / `clipvalue`. The norms are
therefore those of the gradients the update **applies**, after unscaling and
after clipping. A `LossScaleOptimizer` unscales before calling the inner
`apply` and skips it on non-finite steps (the logs then repeat the previous
step's norms). The thin TensorFlow-only part: under a multi-replica
`tf.distribute` strategy Keras clips per replica and then sums across
replicas, so there the tap records at the post-sum point
(`_all_reduce_sum_gradients`) instead, which equals the one-device run.

**Where the norms go.** Per variable squared norms go, with the optimizer
step, into a ring buffer of `capacity` rows. On TensorFlow the ring is two
`tf.Variable`s outside the optimizer (sync-on-read under a strategy); on JAX
it is two optimizer variables made with `add_variable` (state survives a JAX
step only as the step's returned state), hidden from `save_own_variables`
while attached and removed at release, so a `.keras` file saved during or
after the fit has the optimizer's own variables only. On torch, two plain
Keras variables. The model's `train_step` is wrapped on the instance so that
the step logs get `grad_norm/global` (and per-variable keys with
`step_per_layer`), and `_get_metrics_result_or_logs` so that the epoch logs
get the per-variable norms of the last computed step, whatever the callback's
place in the list.

**Client contract.** A client acquires the tap in `on_train_begin`, reads rows
`[step, squared_norm_0, ...]` (float64) whose columns follow `tap.variables` /
`tap.names` / `tap.sizes` of the current fit through `rows_after(step)` and
`snapshot()`, and releases in `on_train_end`. On TensorFlow and torch it may
read at any time (reading every `drain_interval` steps misses no row); on
JAX the values live in the training state, so clients read only at epoch end
and train end (the ring holds a whole epoch: `capacity` follows the epoch's
step count).

**Leaving nothing behind.** Install and release force
`model.make_train_function(force=True)`. A `fit` aborted by an exception gets
no `on_train_end`; the tap leaves an instance-level `make_train_function`
wrapper on the model which the next `fit` calls before `on_train_begin`: it
drops the stale hook there, so the next plain fit runs the plain step.

TensorFlow is imported only inside functions that run on the TensorFlow
backend: under JAX this module imports no TensorFlow.
"""

from __future__ import annotations

import math
import threading
import warnings
import weakref
from typing import Any

import keras
import numpy as np

# model -> GradientTap, while at least one client holds it.
_TAPS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

BACKENDS = ("tensorflow", "jax", "torch")


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


def _is_tf() -> bool:
    return keras.backend.backend() == "tensorflow"


class GradientTap:
    """Records squared gradient norms of one model inside its train step."""

    def __init__(self, model: keras.Model, steps_per_epoch: int | None = None) -> None:
        backend = keras.backend.backend()
        if backend not in BACKENDS:
            raise RuntimeError(
                f"The gradient callbacks support the backends {list(BACKENDS)}; "
                f"the Keras backend is {backend!r}."
            )
        self.model = model
        self.variables = list(model.trainable_variables)
        if not self.variables:
            raise ValueError("The model has no trainable variables: there are no gradients.")
        self.names = variable_names(model, self.variables)
        self.sizes = [int(np.prod(v.shape)) for v in self.variables]
        self._index = {id(v): i for i, v in enumerate(self.variables)}
        self.clients: dict[int, dict[str, Any]] = {}
        self.every = 1
        self.log_global = False
        self.log_per_layer = False  # per-variable norms in the epoch logs
        self.step_per_layer = False  # ... and in every step's logs
        self.columns: list[str] = []  # names a client keeps (NaN in the epoch logs if absent)
        spe = int(getattr(model, "steps_per_execution", 1) or 1)
        capacity = max(256, 4 * spe)
        if backend == "jax":  # read once per epoch: hold an epoch
            capacity = max(capacity, int(steps_per_epoch or 4096) * spe + 2 * spe)
        self.capacity = capacity
        self.prefix = "grad_norm"
        # TensorFlow stores l2_loss (half the squared norm: one fused kernel)
        self.factor = 2.0 if _is_tf() else 1.0
        self._local = threading.local()  # MirroredStrategy traces replicas in threads
        self.fit: int | None = None  # id of the History of the fit that installed the tap
        self._installed = False
        self._replicas = 1
        if _is_tf():
            self._replicas = int(model.distribute_strategy.num_replicas_in_sync)
        # One channel per optimizer that may apply gradients: `model.optimizer` and,
        # on the stateful backends, the optimizers a custom train_step keeps as
        # attributes (a GAN's two); each has its own ring, keyed by its own steps.
        found = {"optimizer": model.optimizer}
        self.unseen: list[str] = []
        for label, value in vars(model).items():
            if (isinstance(value, keras.optimizers.Optimizer) and label != "optimizer"
                    and all(value is not v for v in found.values())):
                if backend == "jax" or self._replicas > 1:
                    self.unseen.append(f"{label} ({type(value).__name__})")
                else:
                    found[label.lstrip("_")] = value
        self.channels = [_Channel(label, optimizer_chain(optimizer))
                         for label, optimizer in found.items()]
        if self.unseen:
            warnings.warn(
                f"The gradient callbacks see the gradients that `model.optimizer` applies; "
                f"on the {backend!r} backend{' with several replicas' if backend != 'jax' else ''}"
                f" the gradients applied by {', '.join(self.unseen)} cannot be seen.",
                stacklevel=3)
        for channel in self.channels:
            if _is_tf():
                channel.ring = _tf_ring(model, self.capacity, len(self.variables))
            elif backend == "torch":
                channel.ring = (
                    keras.Variable(np.full((self.capacity, len(self.variables)), np.nan,
                                           "float32"), trainable=False, name="gradient_tap_norms"),
                    keras.Variable(np.full(self.capacity, -1, "int32"), trainable=False,
                                   name="gradient_tap_steps"))

    @property
    def _ring(self) -> Any:
        return self.channels[0].ring

    # ---------------------------------------------------------------- clients
    def add_client(self, client: Any, *, every: int, logs: bool, per_layer: bool,
                   prefix: str = "grad_norm", step_per_layer: bool = False,
                   columns: list[str] | None = None) -> None:
        prefixes = {c["prefix"] for c in self.clients.values() if c["logs"]} - {prefix}
        if logs and prefixes:
            raise ValueError(
                f"Two GradientNormLoggers on one model must share `prefix`; received {prefix!r} "
                f"while {sorted(prefixes)[0]!r} is in use."
            )
        self.clients[id(client)] = {"every": every, "logs": logs, "per_layer": per_layer,
                                    "prefix": prefix, "step_per_layer": step_per_layer,
                                    "columns": list(columns or [])}
        self._configure()

    def remove_client(self, client: Any) -> bool:
        """Forget `client`; return True when no client is left."""
        self.clients.pop(id(client), None)
        if self.clients:
            self._configure()
        return not self.clients

    def _configure(self) -> None:
        everies = [c["every"] for c in self.clients.values()]
        self.every = math.gcd(*everies) if everies else 1
        loggers = [c for c in self.clients.values() if c["logs"]]
        self.log_global = bool(loggers)
        self.log_per_layer = any(c["per_layer"] for c in loggers)
        self.step_per_layer = any(c["per_layer"] and c["step_per_layer"] for c in loggers)
        self.columns = [n for c in loggers for n in c["columns"] if n not in self.names]
        if loggers:
            self.prefix = loggers[0]["prefix"]

    # ------------------------------------------------------------ installing
    def install(self) -> None:
        if not self._installed:
            model, main = self.model, self.channels[0]
            target = main.chain[-1]
            self._saved: list[tuple[Any, str, Any]] = []
            if keras.backend.backend() == "jax":
                main.ring = (
                    target.add_variable((self.capacity, len(self.variables)),
                                        keras.initializers.Constant(np.nan), "float32",
                                        name="gradient_tap_norms"),
                    target.add_variable((self.capacity,), keras.initializers.Constant(-1),
                                        "int32", name="gradient_tap_steps"))
                for optimizer in main.chain:  # not saved in a .keras file
                    self._patch(optimizer, "save_own_variables",
                                self._wrap_save(optimizer))
            for channel in self.channels:
                inner = channel.chain[-1]
                self._patch(inner, "apply", self._wrap_apply(channel, inner.apply))
            if self._replicas > 1:  # the post-sum point (see the module docstring)
                self._patch(target, "_all_reduce_sum_gradients",
                            self._wrap_all_reduce(target._all_reduce_sum_gradients))
            self._patch(model, "train_step", self._wrap_train_step(model.train_step))
            epoch_logs = getattr(model, "_get_metrics_result_or_logs", None)
            if epoch_logs is not None:
                self._patch(model, "_get_metrics_result_or_logs",
                            self._wrap_epoch_logs(epoch_logs))
            self._patch(model, "make_train_function",
                        self._wrap_make_train_function(model.make_train_function))
            self._installed = True
        self.model.make_train_function(force=True)

    def _patch(self, owner: Any, name: str, value: Any) -> None:
        # Plain __dict__ writes: no Keras attribute tracking, easy to undo.
        self._saved.append((owner, name, owner.__dict__.get(name)))
        owner.__dict__[name] = value

    def uninstall(self) -> None:
        if not self._installed:
            return
        for owner, name, previous in reversed(self._saved):
            if previous is None:
                owner.__dict__.pop(name, None)
            else:
                owner.__dict__[name] = previous
        if keras.backend.backend() == "jax":
            target = self.channels[0].chain[-1]
            ours = {id(v) for v in self._ring}
            # the optimizer has no public way to drop a variable
            target._variables[:] = [v for v in target._variables if id(v) not in ours]
            target._tracker.stored_ids["variables"].difference_update(ours)
        self._installed = False
        self.model.make_train_function(force=True)

    # ------------------------------------------------------- traced wrappers
    def _wrap_apply(self, channel: _Channel, original: Any) -> Any:
        optimizer = channel.chain[-1]

        def apply(grads, trainable_variables=None):
            if self._replicas > 1:  # recorded after the cross-replica sum instead
                return original(grads, trainable_variables)
            grads = list(grads)
            variables = (list(trainable_variables) if trainable_variables is not None
                         else list(getattr(optimizer, "_trainable_variables", [])))
            iterations = _read(optimizer.iterations)  # before `apply` increments it
            accumulated = _accumulated(optimizer, variables)
            # the raw step counter (`iterations` counts updates under accumulation)
            raw = _read(optimizer._iterations) if accumulated is not None else None
            result = original(grads, trainable_variables)
            parts = self._squared_parts(optimizer, grads, variables, accumulated)
            self._rows_of_step()[channel.label] = None
            if parts is not None:
                applied = None  # with gradient accumulation, only update steps apply
                if accumulated is not None:
                    steps = optimizer.gradient_accumulation_steps
                    applied = keras.ops.equal((raw + 1) % steps, 0)
                self._rows_of_step()[channel.label] = self._record(channel, parts, iterations,
                                                                   applied)
            return result

        return apply

    def _wrap_all_reduce(self, original: Any) -> Any:
        index = dict(self._index)
        index.update({id(v.value): i for i, v in enumerate(self.variables)})

        def _all_reduce_sum_gradients(grads_and_vars):
            reduced = original(grads_and_vars)
            import tensorflow as tf  # this wrapper exists on TensorFlow only

            parts = [tf.constant(0.0, tf.float32)] * len(self.variables)
            for grad, variable in reduced:
                position = index.get(id(variable))
                if position is not None and grad is not None:
                    parts[position] = _tf_half_square(grad)
            main = self.channels[0]
            iterations = _read(main.chain[-1].iterations)
            self._rows_of_step()[main.label] = self._record(main, parts, iterations)
            return reduced

        return _all_reduce_sum_gradients

    def _rows_of_step(self) -> dict[str, Any]:
        """This trace's rows, per channel label (thread-local: replicas trace in threads)."""
        rows = getattr(self._local, "rows", None)
        if rows is None:
            rows = self._local.rows = {}
        return rows

    def _squared_parts(self, optimizer: Any, grads: list[Any], variables: list[Any],
                       accumulated: list[Any] | None) -> list[Any] | None:
        """Per column, the squared norm (TF: half) of the gradient the update applies."""
        ops = keras.ops
        scale = optimizer.loss_scale_factor
        steps = optimizer.gradient_accumulation_steps
        clipvalue = optimizer.clipvalue
        pairs = []
        for position, (grad, variable) in enumerate(zip(grads, variables, strict=False)):
            column = self._index.get(id(variable))
            if column is None or grad is None:
                continue
            if (clipvalue or accumulated is not None) and (_is_tf() and _is_sparse(grad)):
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
            part = _tf_half_square(grad) if _is_tf() else ops.sum(
                ops.square(ops.cast(grad, "float32")))
            if scale_squared:
                part = part / scale_squared
            pairs.append((column, part))
        if not pairs:
            return None
        unit = 0.5 if _is_tf() else 1.0  # the stored value of a squared norm of 1
        if optimizer.clipnorm:
            limit = unit * float(optimizer.clipnorm) ** 2
            pairs = [(c, ops.minimum(p, limit)) for c, p in pairs]
        elif optimizer.global_clipnorm:
            limit = unit * float(optimizer.global_clipnorm) ** 2
            total = ops.sum(ops.stack([p for _, p in pairs]))
            factor = limit / ops.maximum(total, limit)
            pairs = [(c, p * factor) for c, p in pairs]
        parts: list[Any] = [None] * len(self.variables)
        for column, part in pairs:
            parts[column] = part
        zero = ops.zeros((), "float32")
        return [zero if p is None else p for p in parts]

    def _record(self, channel: _Channel, parts: list[Any], iterations: Any,
                applied: Any = None) -> Any:
        """Write this step's row to the ring when it is due; return the row or None.

        On TensorFlow the returned row is the logs' (this step's, or the latest
        recorded one on a step that records nothing); elsewhere None (the logs
        read the latest row of the ring).
        """
        if _is_tf():
            return _tf_record(self, channel.ring, parts, iterations, applied)
        ops = keras.ops
        norms, steps = channel.ring
        iterations = ops.cast(iterations, "int32")
        every = self.every
        slot = ((iterations // every) if every > 1 else iterations) % self.capacity
        row = ops.stack(parts)
        due = ops.equal(iterations % every, 0) if every > 1 else None
        if applied is not None:
            due = applied if due is None else ops.logical_and(due, applied)
        if due is not None:  # computed every step, written only on due steps (no cond)
            row = ops.where(due, row, ops.take(norms.value, slot, axis=0))
            iterations = ops.where(due, iterations, ops.take(steps.value, slot))
        norms.assign(ops.slice_update(norms.value, ops.stack([slot, 0 * slot]), row[None]))
        steps.assign(ops.slice_update(steps.value, ops.reshape(slot, (1,)),
                                      ops.reshape(iterations, (1,))))
        return None

    def _norm_logs(self, logs: dict, squared: Any) -> dict:
        ops = keras.ops
        logs = dict(logs)
        if self.step_per_layer:
            norms = ops.sqrt(squared)
            for i, name in enumerate(self.names):
                logs[f"{self.prefix}/{name}"] = norms[i]
        logs[f"{self.prefix}/global"] = ops.sqrt(ops.sum(squared))
        return logs

    def _wrap_train_step(self, original: Any) -> Any:
        if keras.backend.backend() == "jax":
            return self._wrap_jax_train_step(original)

        def train_step(data):
            self._local.rows = {}
            logs = original(data)
            rows, self._local.rows = self._local.rows, {}
            if not rows:
                self._warn_unseen()
            elif self.log_global and isinstance(logs, dict):
                squared = {}
                for channel in self.channels:
                    if channel.label not in rows:
                        continue
                    row = rows[channel.label]
                    if row is None or _in_other_graph(row):
                        # recorded inside a branch (LossScaleOptimizer, gradient
                        # accumulation) or not at all: the latest row of the ring
                        row = _latest(*(keras.ops.convert_to_tensor(v) for v in channel.ring))
                    squared[channel.label] = self.factor * row
                logs = self._norm_logs(logs, sum(squared.values()))
                if len(squared) > 1:  # several optimizers: a global norm per optimizer
                    for label, row in squared.items():
                        logs[f"{self.prefix}/{label}/global"] = keras.ops.sqrt(
                            keras.ops.sum(row))
            return logs

        return train_step

    def _wrap_jax_train_step(self, original: Any) -> Any:
        def train_step(state, data):
            self._local.rows = {}
            logs, state = original(state, data)
            if not self._local.rows:
                self._warn_unseen()
            elif self.log_global and isinstance(logs, dict) and len(state) == 4:
                ids = [id(v) for v in self.model.optimizer.variables]
                norms = state[2][ids.index(id(self._ring[0]))]
                steps = state[2][ids.index(id(self._ring[1]))]
                logs = self._norm_logs(logs, _latest(norms, steps))
            return logs, state

        return train_step

    def _warn_unseen(self) -> None:
        """One warning per trace when the step applies no gradients through the hook."""
        others = self.unseen
        if others:
            return  # said when the tap was made
        warnings.warn(
            "The gradient callbacks see the gradients that `model.optimizer` "
            f"({type(self.model.optimizer).__name__}) applies, and this model's train_step "
            "applies none through it"
            + (f"; the gradients applied by {', '.join(others)} cannot be seen" if others
               else "") + ". No `grad_norm` keys are logged and the callbacks record nothing.",
            stacklevel=2)

    def _wrap_epoch_logs(self, original: Any) -> Any:
        def _get_metrics_result_or_logs(logs):
            result = original(logs)
            key = f"{self.prefix}/global"
            if self.log_per_layer and isinstance(result, dict) and key in result:
                squared = self.snapshot()[1:]
                result = dict(result)
                if not self.step_per_layer:
                    for name, value in zip(self.names, np.sqrt(squared), strict=False):
                        result.setdefault(f"{self.prefix}/{name}", float(value))
                for name in self.columns:  # known to a client, not trained in this fit
                    result.setdefault(f"{self.prefix}/{name}", float("nan"))
            return result

        return _get_metrics_result_or_logs

    def _wrap_make_train_function(self, original: Any) -> Any:
        def make_train_function(force=False):
            # `fit` calls this before on_train_begin, with a new History on the model:
            # a tap still here then was left by a fit aborted before on_train_end.
            if _TAPS.get(self.model) is self and self.fit != id(
                    getattr(self.model, "history", None)):
                release_all(self.model)
                return self.model.make_train_function(force=force)
            return original(force)

        return make_train_function

    def _wrap_save(self, optimizer: Any) -> Any:
        def save_own_variables(store):
            ours = {id(v) for v in self._ring}
            kept = [v for v in optimizer.variables if id(v) not in ours]
            for i, variable in enumerate(kept):  # BaseOptimizer's format
                store[str(i)] = keras.ops.convert_to_numpy(variable)

        return save_own_variables

    # --------------------------------------------------------------- reading
    @property
    def drain_interval(self) -> int:
        """Optimizer steps after which a client must read `rows` to miss none."""
        return max(1, self.capacity * self.every // 2)

    def _rows(self) -> np.ndarray:
        """The ring buffer as float64 rows `[step, sq_0, ...]` (two reads)."""
        sync = getattr(self.model, "jax_state_sync", None)
        if sync is not None:
            sync()  # JAX: the values live in the training state during fit
        blocks = []
        for channel in self.channels:
            norms, steps = (keras.ops.convert_to_numpy(v) for v in channel.ring)
            squared = self.factor * np.asarray(norms, dtype=np.float64)
            blocks.append(np.column_stack([np.asarray(steps, dtype=np.float64), squared]))
        if len(blocks) == 1:
            return blocks[0]
        # several optimizers: one row per step, each variable's column from the
        # optimizer that applies it (the others hold zeros there)
        rows = np.concatenate([b[b[:, 0] >= 0] for b in blocks])
        if not len(rows):
            return blocks[0][:1]
        steps, where = np.unique(rows[:, 0], return_inverse=True)
        merged = np.zeros((len(steps), rows.shape[1]))
        np.add.at(merged, where, rows)
        merged[:, 0] = steps
        return merged

    def snapshot(self) -> np.ndarray:
        """The latest computed row `[step, sq_0, ...]` (step -1 before any)."""
        rows = self._rows()
        return rows[int(np.argmax(rows[:, 0]))]

    def rows_after(self, step: float) -> np.ndarray:
        """Rows of the ring buffer with a step greater than `step`, in step order."""
        rows = self._rows()
        rows = rows[rows[:, 0] > step]
        return rows[np.argsort(rows[:, 0], kind="stable")]


# ----------------------------------------------------------------- helpers
class _Channel:
    """One optimizer the tap hooks: its label, chain (outer to inner) and ring."""

    def __init__(self, label: str, chain: list[Any]) -> None:
        self.label = label
        self.chain = chain
        self.ring: Any = None  # (norms, steps) variables


def _read(variable: Any) -> Any:
    """The variable's value now (TensorFlow: a read op ordered before later writes)."""
    if _is_tf():
        return variable.value.read_value() if hasattr(variable, "value") else variable
    return keras.ops.convert_to_tensor(variable)


def _latest(norms: Any, steps: Any) -> Any:
    """The ring's row with the highest step (NaN before any)."""
    return keras.ops.take(norms, keras.ops.argmax(steps), axis=0)


def _accumulated(optimizer: Any, variables: list[Any]) -> list[Any] | None:
    """Accumulated gradients to add on an update step (gradient accumulation), else None."""
    if not optimizer.gradient_accumulation_steps:
        return None
    if not optimizer.built:  # what `apply` does first
        with keras.name_scope(optimizer.name):
            optimizer.build(variables)
    # the accumulators are the optimizer's own (no public accessor); values read
    # before `apply` resets them
    return [_read(optimizer._accumulated_gradients[optimizer._get_variable_index(v)])
            for v in variables]


def _is_sparse(grad: Any) -> bool:
    import tensorflow as tf

    return isinstance(grad, tf.IndexedSlices)


def _densify(grad: Any) -> Any:
    import tensorflow as tf

    return tf.convert_to_tensor(grad)


def _tf_half_square(grad: Any) -> Any:
    """sum(g**2) / 2 in one fused kernel (TensorFlow)."""
    import tensorflow as tf

    if isinstance(grad, tf.IndexedSlices):
        grad = tf.convert_to_tensor(grad)
    return tf.nn.l2_loss(tf.cast(grad, tf.float32))


def _in_other_graph(tensor: Any) -> bool:
    """True for a TF tensor made inside a cond branch (not usable in the step's graph)."""
    if not _is_tf():
        return False
    import tensorflow as tf

    return not tf.executing_eagerly() and tensor.graph is not tf.compat.v1.get_default_graph()


def _tf_ring(model: keras.Model, capacity: int, n: int) -> tuple[Any, Any]:
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


def _tf_record(tap: GradientTap, ring: Any, parts: list[Any], iterations: Any,
               applied: Any) -> Any:
    """TensorFlow: two in-place scatters into the ring (raw ops: also per replica)."""
    import tensorflow as tf

    halves_var, steps_var = ring
    iterations = tf.cast(iterations, tf.int64)
    slot = (iterations // tap.every if tap.every > 1 else iterations) % tap.capacity

    def compute() -> Any:
        halves = tf.stack([tf.cast(p, tf.float32) for p in parts])
        # a sync-on-read variable (MirroredStrategy) has no scatter method in replica
        # context, but `.handle` is this replica's copy.
        tf.raw_ops.ResourceScatterUpdate(resource=halves_var.handle, indices=slot,
                                         updates=halves)
        tf.raw_ops.ResourceScatterUpdate(resource=steps_var.handle, indices=slot,
                                         updates=iterations)
        return halves

    due = tf.equal(iterations % tap.every, 0) if tap.every > 1 else None
    if applied is not None:
        due = applied if due is None else tf.logical_and(due, applied)
    if due is None:
        return compute()
    # Between two computed steps the logs repeat the last computed one; NaN before
    # the first.
    return tf.cond(due, compute, lambda: _latest(tf.convert_to_tensor(halves_var),
                                                 tf.convert_to_tensor(steps_var)))


def acquire(model: keras.Model, client: Any, *, every: int = 1, logs: bool = False,
            per_layer: bool = False, prefix: str = "grad_norm",
            step_per_layer: bool = False, columns: list[str] | None = None,
            steps_per_epoch: int | None = None) -> GradientTap:
    """Attach `client` to the model's tap (creating and installing it if needed)."""
    # Keras gives the model a new History in every fit, before make_train_function
    # and on_train_begin: a tap from another fit was left by an aborted fit.
    fit = id(getattr(model, "history", None))
    tap = _TAPS.get(model)
    if tap is not None and tap.fit != fit:
        release_all(model)
        tap = None
    if tap is None:
        tap = GradientTap(model, steps_per_epoch)
        tap.fit = fit
        _TAPS[model] = tap
    try:
        tap.add_client(client, every=every, logs=logs, per_layer=per_layer, prefix=prefix,
                       step_per_layer=step_per_layer, columns=columns)
    except ValueError:
        # fit aborts without on_train_end: take the hook out for every client.
        release_all(model)
        raise
    tap.install()
    return tap


def release(model: keras.Model | None, client: Any) -> None:
    """Detach `client`; the last one out removes the hook and rebuilds the step."""
    if model is None:
        return
    tap = _TAPS.get(model)
    if tap is None:
        return
    if tap.remove_client(client):
        _TAPS.pop(model, None)
        tap.uninstall()
    else:
        tap.install()  # configuration changed: retrace


def tap_for(model: keras.Model) -> GradientTap | None:
    """The tap currently attached to `model`, if any."""
    return _TAPS.get(model)


def release_all(model: keras.Model | None) -> None:
    """Remove the model's tap whatever its clients (used when `fit` is aborted)."""
    tap = _TAPS.pop(model, None) if model is not None else None
    if tap is not None:
        tap.clients.clear()
        tap.uninstall()
