"""The one place that hooks the train step to see the gradients the optimizer applies.

Keras 3 callbacks only ever see `logs`; gradients exist only inside
`train_step` and the optimizer. A `GradientTap` is attached to one model for
the duration of a `fit` and shared (reference counted) by every
gradient-aware callback on that model. Its arithmetic and ring buffers are in
`callbacks._tap.norms`; the wrappers it patches in (the traced step, the epoch
logs) are in `callbacks._tap.step`.

**Where it hooks (Keras's public optimizer API).** It wraps, on the optimizer
*instance* (the inner optimizer of a `LossScaleOptimizer`), the public
`apply`: TensorFlow's `apply_gradients` and the torch train step call it, and
on JAX the train step's `stateless_apply` runs it in a `StatelessScope`.
`apply` receives the gradients before Keras unscales (`loss_scale_factor`),
accumulates (`gradient_accumulation_steps`) and clips them; the tap applies
the same arithmetic to the squared norms (re-applying the clip from the public
`clipnorm` / `global_clipnorm` / `clipvalue`), so the norms are those of the
gradients the update **applies**: after unscaling, after clipping. A
`LossScaleOptimizer` skips `apply` on non-finite steps (the logs then repeat
the previous step's norms). The thin TensorFlow-only part: under a
multi-replica `tf.distribute` strategy Keras clips per replica, then sums, so
there the tap records after the sum (`_all_reduce_sum_gradients`), which equals
the one-device run. On TensorFlow and torch, every optimizer the model keeps
as an attribute (a GAN's two) gets its own channel and ring; the step logs
then add `grad_norm/<attribute>/global` per optimizer. On JAX only
`model.optimizer`'s state leaves the step: the others are named in one warning.

**Where the norms go.** Per-variable squared norms go, with the optimizer
step, into a ring buffer of `capacity` rows: two `tf.Variable`s outside the
optimizer on TensorFlow; on JAX two optimizer variables made with
`add_variable` (a JAX step keeps state only through its returned state),
hidden from `save_own_variables` while attached and removed at release, so a
`.keras` file saved during or after the fit holds the optimizer's own
variables only; plain Keras variables on torch. `model.train_step` is wrapped
on the instance so that the step logs get `grad_norm/global` (and, with
`step_per_layer`, one key per variable); `_get_metrics_result_or_logs` so that
the epoch logs get every variable's norm of the last computed step (NaN for a
variable a layer trains when unfrozen but that is frozen in this fit),
whatever the callback's place in the list.

**Client contract.** A client acquires the tap in `on_train_begin`, reads rows
`[step, squared_norm_0, ...]` (float64) whose columns follow `tap.variables` /
`tap.names` / `tap.sizes` of the current fit through `rows_after(step)` and
`snapshot()`, and releases in `on_train_end`. `tap.all_names` names every
variable the model's layers train when unfrozen (stable across freezing). On
TensorFlow and torch a client may read at any time (every `drain_interval`
steps misses no row); on JAX the values live in the training state, so
clients read at epoch end and train end only (the ring holds an epoch).

**Leaving nothing behind.** Install and release force
`model.make_train_function(force=True)`. A `fit` aborted by an exception gets
no `on_train_end`; the instance-level `make_train_function` wrapper the tap
leaves is called by the next `fit` before `on_train_begin` (with a new
`History` on the model) and drops the stale hook there, so a plain fit runs
the plain step. TensorFlow is imported only inside functions that run on the
TensorFlow backend.
"""

from __future__ import annotations

import math
import threading
import warnings
import weakref
from typing import Any

import keras
import numpy as np

from .norms import (
    Channel,
    drop_variables,
    is_tf,
    merged_rows,
    optimizer_chain,
    optimizer_ring,
    saving_without,
    tf_ring,
    trainable_by_nature,
    variable_names,
)
from .step import (
    wrap_all_reduce,
    wrap_apply,
    wrap_epoch_logs,
    wrap_outer_apply,
    wrap_train_step,
)

__all__ = ["GradientTap", "acquire", "release", "release_all", "tap_for", "variable_names"]

# model -> GradientTap, while at least one client holds it.
_TAPS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

BACKENDS = ("tensorflow", "jax", "torch")


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
        # names over every variable a layer trains when unfrozen, so that a name
        # stays the same across freeze / unfreeze
        everything = trainable_by_nature(model)
        self.all_names = variable_names(model, everything)
        by_id = {id(v): n for v, n in zip(everything, self.all_names, strict=True)}
        if all(id(v) in by_id for v in self.variables):
            self.names = [by_id[id(v)] for v in self.variables]
        else:
            self.names = variable_names(model, self.variables)
        self.sizes = [int(np.prod(v.shape)) for v in self.variables]
        self.index = {id(v): i for i, v in enumerate(self.variables)}
        self.clients: dict[int, dict[str, Any]] = {}
        self.every = 1
        self.log_global = False
        self.log_per_layer = False  # per-variable norms in the epoch logs
        self.step_per_layer = False  # ... and in every step's logs
        self.columns: list[str] = []  # names a client keeps (NaN in the epoch logs if absent)
        spe = int(getattr(model, "steps_per_execution", 1) or 1)
        capacity = max(256, 4 * spe)
        if backend == "jax":  # read once per epoch: hold an epoch
            capacity = max(capacity, int(steps_per_epoch or 4096) + 2 * spe)
        self.capacity = capacity
        self.prefix = "grad_norm"
        # TensorFlow stores l2_loss (half the squared norm: one fused kernel)
        self.factor = 2.0 if is_tf() else 1.0
        self.local = threading.local()  # MirroredStrategy traces replicas in threads
        self.fit: int | None = None  # id of the History of the fit that installed the tap
        self.installed = False
        self.warned = False  # the 'applies no gradients' warning was given
        self.replicas = 1
        if is_tf():
            self.replicas = int(model.distribute_strategy.num_replicas_in_sync)
        # One channel per optimizer that may apply gradients: `model.optimizer` and,
        # on the stateful backends, the optimizers a custom train_step keeps as
        # attributes (a GAN's two); each has its own ring, keyed by its own steps.
        found = {"optimizer": model.optimizer}
        self.unseen: list[str] = []
        for label, value in vars(model).items():
            if (isinstance(value, keras.optimizers.Optimizer) and label != "optimizer"
                    and all(value is not v for v in found.values())):
                if backend == "jax" or self.replicas > 1:
                    self.unseen.append(f"{label} ({type(value).__name__})")
                else:
                    found[label.lstrip("_")] = value
        self.channels = [Channel(label, optimizer_chain(optimizer))
                         for label, optimizer in found.items()]
        if self.unseen:
            warnings.warn(
                f"The gradient callbacks see the gradients that `model.optimizer` applies; "
                f"on the {backend!r} backend{' with several replicas' if backend != 'jax' else ''}"
                f" the gradients applied by {', '.join(self.unseen)} cannot be seen.",
                stacklevel=3)
        for channel in self.channels:
            if is_tf():
                channel.ring = tf_ring(model, self.capacity, len(self.variables))
            elif backend == "torch":
                channel.ring = (
                    keras.Variable(np.full((self.capacity, len(self.variables)), np.nan,
                                           "float32"), trainable=False, name="gradient_tap_norms"),
                    keras.Variable(np.full(self.capacity, -1, "int32"), trainable=False,
                                   name="gradient_tap_steps"))

    @property
    def ring(self) -> Any:
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
        names = set(self.names)
        self.columns = [n for n in dict.fromkeys(
            [*self.all_names, *(n for c in loggers for n in c["columns"])]) if n not in names]
        if loggers:
            self.prefix = loggers[0]["prefix"]

    # ------------------------------------------------------------ installing
    def install(self) -> None:
        if not self.installed:
            model, main = self.model, self.channels[0]
            target = main.chain[-1]
            self._saved: list[tuple[Any, str, Any]] = []
            if keras.backend.backend() == "jax":
                main.ring = optimizer_ring(target, self.capacity, len(self.variables))
                for optimizer in main.chain:  # not saved in a .keras file
                    self._patch(optimizer, "save_own_variables",
                                saving_without(optimizer, main.ring))
            for channel in self.channels:
                inner = channel.chain[-1]
                self._patch(inner, "apply", wrap_apply(self, channel, inner.apply))
                outer = channel.chain[0]
                if outer is not inner and self.replicas == 1:  # a LossScaleOptimizer
                    self._patch(outer, "apply", wrap_outer_apply(self, channel, outer.apply))
            if self.replicas > 1:  # the post-sum point (see the module docstring)
                self._patch(target, "_all_reduce_sum_gradients",
                            wrap_all_reduce(self, target._all_reduce_sum_gradients))
            self._patch(model, "train_step", wrap_train_step(self, model.train_step))
            epoch_logs = getattr(model, "_get_metrics_result_or_logs", None)
            if epoch_logs is not None:
                self._patch(model, "_get_metrics_result_or_logs",
                            wrap_epoch_logs(self, epoch_logs))
            self._patch(model, "make_train_function",
                        self._wrap_make_train_function(model.make_train_function))
            self.installed = True
        self.model.make_train_function(force=True)

    def _patch(self, owner: Any, name: str, value: Any) -> None:
        # Plain __dict__ writes: no Keras attribute tracking, easy to undo.
        self._saved.append((owner, name, owner.__dict__.get(name)))
        owner.__dict__[name] = value

    def uninstall(self) -> None:
        if not self.installed:
            return
        for owner, name, previous in reversed(self._saved):
            if previous is None:
                owner.__dict__.pop(name, None)
            else:
                owner.__dict__[name] = previous
        if keras.backend.backend() == "jax":
            drop_variables(self.channels[0].chain[-1], self.ring)
        self.installed = False
        self.model.make_train_function(force=True)

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
        return merged_rows([c.ring for c in self.channels], self.factor)

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
