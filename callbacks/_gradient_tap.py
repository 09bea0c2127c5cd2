"""The one place that reaches into the train step to see the gradients.

Keras 3 callbacks only ever see `logs`; gradients exist only inside
`train_step` and `Optimizer.apply`. A `GradientTap` is attached to one model
for the duration of a `fit` and shared (reference counted) by every
gradient-aware callback on that model:

* It wraps, on the *instance* of the model's optimizer (the inner optimizer of
  a `LossScaleOptimizer`), `_backend_update_step` (to learn which Keras
  variables the gradients belong to) and `_all_reduce_sum_gradients` (to see
  the gradients the optimizer is about to apply). At that point the gradients
  are unscaled (loss scaling), clipped (`clipnorm` / `clipvalue` /
  `global_clipnorm`) and summed across replicas: they are exactly the
  gradients the update uses, so under `MirroredStrategy` they equal the
  single-device run's gradients, at no extra communication. Norms are
  therefore **after clipping**; with no clipping configured, before and after
  are the same. (Keras clips per replica before the all-reduce, so under a
  strategy "before clipping" would need one extra all-reduce; we do not pay it.)
* In the traced step it computes the halves of the squared norms (few fused
  ops: one `l2_loss` per variable, one `stack`, in float32) and writes them,
  with the step number, to an in-graph ring buffer of `capacity` steps
  (`halves` and `steps`, one scatter each), optionally only every `every`
  optimizer steps (a `tf.cond`). The step's logs take the norms from the
  computed tensor itself, not from a variable read after the write, so the
  chain of ops the step waits for stays short. They come from the ring
  instead in two cases: between two computed steps (`every > 1`: the row of
  the last computed step, NaN before the first), and when the optimizer
  update runs inside a branch of its own (`LossScaleOptimizer`, gradient
  accumulation) or did not run (the latest row; a step the loss scaler skips
  repeats the previous step's norms). Python reads
  them back as float64 rows `[step, squared_norm_0, ...]`
  (`benchmarks/norm_cost.py` measures this recording in isolation). Clients
  read the ring buffer from Python once every `capacity * every / 2` steps or
  less (`drain_interval`), never per
  step unless they must react at once: per-step Python costs more than the
  hook (a variable read is ~35 us, a log key ~2 us per step).
* It wraps `model.train_step` (instance attribute) so that the returned logs
  get `grad_norm/global` (and `grad_norm/<layer>/<variable>` when a client
  asked for per-step per-variable logs) when a client asked for logs: progress
  bar, `History`, `CSVLogger` and `TensorBoard` see them, with any
  `steps_per_execution` (logs are those of the last step of an execution). A
  model that overrides `train_step` is wrapped the same way; its norms are
  recorded as long as its step calls `optimizer.apply` / `apply_gradients`,
  and the keys are added if it returns a dict.
* It wraps `model._get_metrics_result_or_logs` (which `fit` calls once per
  epoch to build the epoch logs from the last step's logs) so that the epoch
  logs also get the per-variable norms of the last computed step (two variable
  reads per epoch): every callback sees them, whatever its place in the list.

Installing and removing the tap forces `model.make_train_function(force=True)`
(fit builds the train function before `on_train_begin`), so a later `fit`
without these callbacks pays nothing. A `fit` aborted by an exception from
elsewhere gets no `on_train_end`: its hook stays on the model until the next
`fit` with a gradient callback, which notices the stale tap (it belongs to
another fit's `History`) and starts afresh.

TensorFlow is imported here (and only here in `callbacks`) because the hook
lives inside the TF train step and must create `tf.distribute`-aware variables.
"""

from __future__ import annotations

import math
import threading
import weakref
from typing import Any

import keras
import numpy as np
import tensorflow as tf  # the hook runs inside the TF train step (see module docstring)

# model -> GradientTap, while at least one client holds it.
_TAPS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


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


def _target_optimizer(optimizer: Any) -> Any:
    """The optimizer whose `_backend_update_step` runs (unwraps LossScaleOptimizer)."""
    while hasattr(optimizer, "inner_optimizer"):
        optimizer = optimizer.inner_optimizer
    if not hasattr(optimizer, "_all_reduce_sum_gradients"):
        raise TypeError(
            "The gradient callbacks need a Keras 3 optimizer on the TensorFlow backend; "
            f"received {type(optimizer).__name__}."
        )
    return optimizer


# The Keras internals the tap wraps (tested with Keras 3.15 on TensorFlow 2.21).
_OPTIMIZER_INTERNALS = ("_backend_update_step", "_all_reduce_sum_gradients")


def _check_keras_internals(model: keras.Model, optimizer: Any) -> None:
    """Fail clearly, naming the versions, if this Keras lacks what the tap wraps."""
    missing = [name for name in _OPTIMIZER_INTERNALS if not hasattr(optimizer, name)]
    if keras.backend.backend() != "tensorflow" or missing:
        raise RuntimeError(
            "The gradient callbacks reach the gradients through Keras's TensorFlow optimizer "
            f"internals {list(_OPTIMIZER_INTERNALS)} (tested with Keras 3.15, TensorFlow 2.21); "
            f"this is Keras {keras.__version__} with the {keras.backend.backend()!r} backend"
            f"{' and the optimizer lacks ' + str(missing) if missing else ''}."
        )


class GradientTap:
    """Records squared gradient norms of one model inside its train step."""

    def __init__(self, model: keras.Model) -> None:
        if keras.backend.backend() != "tensorflow":
            raise RuntimeError(
                "The gradient callbacks support the TensorFlow backend only; "
                f"the Keras backend is {keras.backend.backend()!r}."
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
        spe = int(getattr(model, "steps_per_execution", 1) or 1)
        # ring buffer: holds `capacity` computed steps; clients drain it twice as often
        self.capacity = max(256, 4 * spe)
        self.prefix = "grad_norm"
        self._local = threading.local()  # MirroredStrategy traces replicas in threads
        self.fit: int | None = None  # id of the History of the fit that installed the tap
        self._installed = False
        strategy = model.distribute_strategy
        with strategy.scope():
            # ON_READ + ONLY_FIRST_REPLICA: each replica writes its own copy with no
            # communication (the reduced gradients are identical on every replica);
            # a read outside the step returns the first replica's copy.
            # float32 halves of the squared norms (what `l2_loss` gives), a ring of
            # `capacity` steps with their step numbers beside.
            n = len(self.variables)
            self.halves = self._sync_on_read(
                np.full((self.capacity, n), np.nan), tf.float32, "halves")
            self.steps = self._sync_on_read(
                np.full(self.capacity, -1), tf.int64, "steps")

    @staticmethod
    def _sync_on_read(initial: np.ndarray, dtype: Any, name: str) -> tf.Variable:
        return tf.Variable(
            initial,
            dtype=dtype,
            trainable=False,
            name=f"gradient_tap_{name}",
            synchronization=tf.VariableSynchronization.ON_READ,
            aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
        )

    # ---------------------------------------------------------------- clients
    def add_client(self, client: Any, *, every: int, logs: bool, per_layer: bool,
                   prefix: str = "grad_norm", step_per_layer: bool = False) -> None:
        prefixes = {c["prefix"] for c in self.clients.values() if c["logs"]} - {prefix}
        if logs and prefixes:
            raise ValueError(
                f"Two GradientNormLoggers on one model must share `prefix`; received {prefix!r} "
                f"while {sorted(prefixes)[0]!r} is in use."
            )
        self.clients[id(client)] = {"every": every, "logs": logs, "per_layer": per_layer,
                                    "prefix": prefix, "step_per_layer": step_per_layer}
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
        if loggers:
            self.prefix = loggers[0]["prefix"]

    # ------------------------------------------------------------ installing
    def install(self) -> None:
        if not self._installed:
            model = self.model
            optimizer = _target_optimizer(model.optimizer)
            _check_keras_internals(model, optimizer)
            self._optimizer = optimizer
            self._saved = {
                "train_step": model.__dict__.get("train_step"),
                "_backend_update_step": optimizer.__dict__.get("_backend_update_step"),
                "_all_reduce_sum_gradients": optimizer.__dict__.get("_all_reduce_sum_gradients"),
                "_get_metrics_result_or_logs": model.__dict__.get("_get_metrics_result_or_logs"),
            }
            update_step = optimizer._backend_update_step
            all_reduce = optimizer._all_reduce_sum_gradients
            train_step = model.train_step
            # Plain __dict__ writes: no Keras attribute tracking, easy to undo.
            optimizer.__dict__["_backend_update_step"] = self._wrap_update_step(update_step)
            optimizer.__dict__["_all_reduce_sum_gradients"] = self._wrap_all_reduce(all_reduce)
            model.__dict__["train_step"] = self._wrap_train_step(train_step)
            epoch_logs = getattr(model, "_get_metrics_result_or_logs", None)
            if epoch_logs is not None:
                model.__dict__["_get_metrics_result_or_logs"] = self._wrap_epoch_logs(epoch_logs)
            self._installed = True
        self.model.make_train_function(force=True)

    def uninstall(self) -> None:
        if not self._installed:
            return
        for owner, names in ((self.model, ("train_step", "_get_metrics_result_or_logs")),
                             (self._optimizer, ("_backend_update_step",
                                                "_all_reduce_sum_gradients"))):
            for name in names:
                if self._saved[name] is None:
                    owner.__dict__.pop(name, None)
                else:
                    owner.__dict__[name] = self._saved[name]
        self._installed = False
        self.model.make_train_function(force=True)

    # ------------------------------------------------------ traced wrappers
    def _wrap_update_step(self, original: Any) -> Any:
        def _backend_update_step(grads, trainable_variables, learning_rate):
            self._local.variables = list(trainable_variables)
            self._local.reduced = None
            try:
                result = original(grads, trainable_variables, learning_rate)
            finally:
                self._local.variables = None
            reduced, self._local.reduced = self._local.reduced, None
            if reduced is not None:
                # Recorded after the update ops in program order: the updates never
                # wait for the norms (they are ordered after, not before).
                self._local.halves = self._record(*reduced)
            return result

        return _backend_update_step

    def _wrap_all_reduce(self, original: Any) -> Any:
        def _all_reduce_sum_gradients(grads_and_vars):
            reduced = original(grads_and_vars)
            variables = getattr(self._local, "variables", None)
            if variables is not None and len(variables) == len(reduced):
                self._local.reduced = ([g for g, _ in reduced], variables)
            return reduced

        return _all_reduce_sum_gradients

    def _record(self, grads: list[Any], variables: list[Any]) -> tf.Tensor:
        """Write this step's halves of squared norms to the ring; return the latest."""
        # Few ops on purpose: each graph op costs microseconds per step on a CPU.
        iterations = tf.convert_to_tensor(self._optimizer.iterations)
        slot = (iterations // self.every if self.every > 1 else iterations) % self.capacity

        def compute() -> tf.Tensor:
            zero = tf.constant(0.0, tf.float32)
            parts = [zero] * len(self.variables)
            for grad, variable in zip(grads, variables, strict=False):
                index = self._index.get(id(variable))
                if index is None or grad is None:
                    continue
                if isinstance(grad, tf.IndexedSlices):
                    grad = tf.convert_to_tensor(grad)
                # l2_loss = sum(g**2) / 2 in one fused kernel per variable; the
                # factor 2 is applied when the values are read.
                parts[index] = tf.nn.l2_loss(tf.cast(grad, tf.float32))
            halves = tf.stack(parts)
            # raw ops on the handles: a sync-on-read variable (MirroredStrategy) has no
            # scatter method in replica context, but `.handle` is this replica's copy.
            tf.raw_ops.ResourceScatterUpdate(resource=self.halves.handle, indices=slot,
                                             updates=halves)
            tf.raw_ops.ResourceScatterUpdate(resource=self.steps.handle, indices=slot,
                                             updates=tf.cast(iterations, tf.int64))
            return halves

        if self.every == 1:
            return compute()
        # Between two computed steps the logs repeat the last computed one (its
        # row is at the same slot); NaN before the first.
        return tf.cond(
            tf.equal(iterations % self.every, 0),
            compute,
            lambda: tf.gather(tf.convert_to_tensor(self.halves), slot),
        )

    def _wrap_train_step(self, original: Any) -> Any:
        def train_step(data):
            self._local.halves = None
            logs = original(data)
            halves, self._local.halves = self._local.halves, None
            if self.log_global and isinstance(logs, dict):
                if halves is None or (not tf.executing_eagerly() and
                                       halves.graph is not tf.compat.v1.get_default_graph()):
                    # recorded inside a branch (LossScaleOptimizer, gradient
                    # accumulation) or not at all: the latest row of the ring
                    halves = tf.gather(tf.convert_to_tensor(self.halves),
                                       tf.argmax(tf.convert_to_tensor(self.steps)))
                squared = 2.0 * halves
                logs = dict(logs)
                if self.step_per_layer:
                    norms = tf.unstack(tf.sqrt(squared))
                    for name, norm in zip(self.names, norms, strict=False):
                        logs[f"{self.prefix}/{name}"] = norm
                logs[f"{self.prefix}/global"] = tf.sqrt(tf.reduce_sum(squared))
            return logs

        return train_step

    def _wrap_epoch_logs(self, original: Any) -> Any:
        def _get_metrics_result_or_logs(logs):
            result = original(logs)
            key = f"{self.prefix}/global"
            if (self.log_per_layer and not self.step_per_layer and isinstance(result, dict)
                    and key in result):
                squared = self.snapshot()[1:]
                result = dict(result)
                for name, value in zip(self.names, np.sqrt(squared), strict=False):
                    result.setdefault(f"{self.prefix}/{name}", float(value))
            return result

        return _get_metrics_result_or_logs

    # --------------------------------------------------------------- reading
    @property
    def drain_interval(self) -> int:
        """Optimizer steps after which a client must read `rows` to miss none."""
        return max(1, self.capacity * self.every // 2)

    def _rows(self) -> np.ndarray:
        """The ring buffer as float64 rows `[step, sq_0, ...]` (two reads)."""
        steps = np.asarray(self.steps.numpy(), dtype=np.float64)
        squared = 2.0 * np.asarray(self.halves.numpy(), dtype=np.float64)
        return np.column_stack([steps, squared])

    def snapshot(self) -> np.ndarray:
        """The latest computed row `[step, sq_0, ...]` (step -1 before any)."""
        rows = self._rows()
        return rows[int(np.argmax(rows[:, 0]))]

    def rows_after(self, step: float) -> np.ndarray:
        """Rows of the ring buffer with a step greater than `step`, in step order."""
        rows = self._rows()
        rows = rows[rows[:, 0] > step]
        return rows[np.argsort(rows[:, 0], kind="stable")]


def acquire(model: keras.Model, client: Any, *, every: int = 1, logs: bool = False,
            per_layer: bool = False, prefix: str = "grad_norm",
            step_per_layer: bool = False) -> GradientTap:
    """Attach `client` to the model's tap (creating and installing it if needed)."""
    # Keras gives the model a new History in every fit, before on_train_begin: a tap
    # from another fit was left by a fit aborted before on_train_end (an exception
    # from elsewhere, Ctrl-C); its clients are gone, so start afresh.
    fit = id(getattr(model, "history", None))
    tap = _TAPS.get(model)
    if tap is not None and tap.fit != fit:
        release_all(model)
        tap = None
    if tap is None:
        tap = GradientTap(model)
        tap.fit = fit
        _TAPS[model] = tap
    try:
        tap.add_client(client, every=every, logs=logs, per_layer=per_layer, prefix=prefix,
                       step_per_layer=step_per_layer)
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
        tap.uninstall()
        _TAPS.pop(model, None)
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
