"""The gradient tap: one per model while a fit runs, shared by the gradient callbacks.

Keras 3 callbacks only ever see `logs`; gradients exist only inside the train
step and the optimizer. The gradient path runs in one direction, one module
per stage:

1. `callbacks._tap.capture`: in the compiled step, Keras's own call that
   receives the gradients an update applies (after loss-scale unscaling,
   gradient accumulation and clipping; on TensorFlow after the
   cross-replica sum, which equals the one-device run) hands them to
2. `callbacks._tap.norms`, which reduces them to a row of squared norms, one
   per variable, written into a ring buffer on the computed steps;
3. `callbacks._tap.logs` puts the norms into the step and epoch logs
   (History, CSVLogger, TensorBoard, progress bar), and
   `callbacks._tap.client` lets the callbacks (`GradientNormLogger`,
   `VanishingGradientDetector`) read the ring's rows.

This module ties them together: which variables and optimizers are watched,
the clients and their options, putting the hooks on and taking them off.

**Optimizers.** On TensorFlow and torch, every optimizer the model keeps as
an attribute (a GAN's two) gets its own channel and ring; the step logs then
add `<prefix>/<attribute>/global` per optimizer. On JAX only
`model.optimizer`'s state leaves the step (its ring is attached to it and
hidden from its checkpoints, `_keras_internals.attach_variables`), and under
a multi-replica `tf.distribute` strategy only `model.optimizer` is watched:
the others are named in one warning.

**Client contract.** A client acquires the tap in `on_train_begin`, reads
rows `[step, squared_norm_0, ...]` (float64) whose columns follow
`tap.variables` / `tap.names` / `tap.sizes` of the current fit through
`rows_after(step)` and `snapshot()`, and releases in `on_train_end`.
`tap.all_names` names every variable the model's layers train when unfrozen
(stable across freezing). On TensorFlow and torch a client may read at any
time (every `drain_interval` steps misses no row); on JAX the values live in
the training state, so clients read at epoch end and train end only (the
ring holds an epoch).

**Leaving nothing behind.** Install and release force
`model.make_train_function(force=True)`. A `fit` aborted by an exception gets
no `on_train_end`; the `make_train_function` wrapper the tap leaves is called
by the next `fit` before `on_train_begin` (with a new `History` on the model)
and drops the stale hooks there, so a plain fit runs the plain step.
"""

from __future__ import annotations

import math
import threading
import warnings
import weakref
from typing import Any

import keras
import numpy as np

from .. import _keras_internals
from .._optimizers import optimizer_chain
from . import capture
from . import logs as log_stage
from .capture import Channel
from .logs import DEFAULT_PREFIX

__all__ = ["GradientTap", "acquire", "release", "release_all", "tap_for", "variable_names"]

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
        everything = _keras_internals.trainable_when_unfrozen(model)
        self.all_names = variable_names(model, everything)
        by_id = {id(v): n for v, n in zip(everything, self.all_names, strict=True)}
        if all(id(v) in by_id for v in self.variables):
            self.names = [by_id[id(v)] for v in self.variables]
        else:
            self.names = variable_names(model, self.variables)
        self.sizes = [int(np.prod(v.shape)) for v in self.variables]
        # the column of each variable (on TensorFlow also of the tf.Variable behind it)
        self.index = {id(v): i for i, v in enumerate(self.variables)}
        if backend == "tensorflow":
            self.index.update({id(v.value): i for i, v in enumerate(self.variables)})
        self.clients: dict[int, dict[str, Any]] = {}
        self.every = 1
        self.log_global = False
        self.log_per_layer = False  # per-variable norms in the epoch logs
        self.step_per_layer = False  # ... and in every step's logs
        self.columns: list[str] = []  # names a client keeps (NaN in the epoch logs if absent)
        self.prefix = DEFAULT_PREFIX
        spe = int(getattr(model, "steps_per_execution", 1) or 1)
        capacity = max(256, 4 * spe)
        if backend == "jax":  # read once per epoch: hold an epoch
            capacity = max(capacity, int(steps_per_epoch or 4096) + 2 * spe)
        self.capacity = capacity
        self.local = threading.local()  # MirroredStrategy traces replicas in threads
        self.fit_id: int | None = None  # id of the History of the fit that installed the tap
        self.installed = False
        self.warned = False  # the 'applies no gradients' warning was given
        self.patches = _keras_internals.Patches()
        replicas = 1
        if backend == "tensorflow":
            replicas = int(model.distribute_strategy.num_replicas_in_sync)
        # One channel per optimizer that may apply gradients: `model.optimizer` and,
        # on the stateful backends, the optimizers a custom train_step keeps as
        # attributes (a GAN's two); each has its own ring, keyed by its own steps.
        found = {"optimizer": model.optimizer}
        self.unseen: list[str] = []
        for label, value in vars(model).items():
            if (isinstance(value, keras.optimizers.Optimizer) and label != "optimizer"
                    and all(value is not v for v in found.values())):
                if backend == "jax" or replicas > 1:
                    self.unseen.append(f"{label} ({type(value).__name__})")
                else:
                    found[label.lstrip("_")] = value
        self.channels = []
        for label, optimizer in found.items():
            chain = optimizer_chain(optimizer)
            if not isinstance(chain[-1], keras.optimizers.Optimizer):
                raise TypeError(
                    "The gradient callbacks need a Keras 3 optimizer (`model.optimizer`); "
                    f"received {type(optimizer).__name__}."
                )
            channel = Channel(label, chain)
            channel.ring = capture.make_ring(model, self.capacity, len(self.variables))
            self.channels.append(channel)
        if self.unseen:
            warnings.warn(
                f"The gradient callbacks see the gradients that `model.optimizer` applies; "
                f"on the {backend!r} backend{' with several replicas' if backend != 'jax' else ''}"
                f" the gradients applied by {', '.join(self.unseen)} cannot be seen.",
                stacklevel=3)

    # ---------------------------------------------------------------- clients
    def add_client(self, client: Any, *, every: int, logs: bool, per_layer: bool,
                   prefix: str = DEFAULT_PREFIX, step_per_layer: bool = False,
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
            main = self.channels[0]
            if keras.backend.backend() == "jax":
                _keras_internals.attach_variables(main.chain, list(main.ring))
            for channel in self.channels:
                capture.hook(self, channel, self.patches)
            log_stage.hook(self, self.patches)
            self.patches.wrap(self.model, "make_train_function", self._wrap_make_train_function)
            self.installed = True
        self.model.make_train_function(force=True)

    def uninstall(self) -> None:
        if not self.installed:
            return
        self.patches.undo()
        if keras.backend.backend() == "jax":
            main = self.channels[0]
            _keras_internals.detach_variables(main.chain[-1], list(main.ring))
        self.installed = False
        self.model.make_train_function(force=True)

    def _wrap_make_train_function(self, original: Any) -> Any:
        def make_train_function(force=False):
            # `fit` calls this before on_train_begin, with a new History on the model:
            # a tap still here then was left by a fit aborted before on_train_end.
            if _TAPS.get(self.model) is self and self.fit_id != id(
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
        """The rings as float64 rows `[step, squared_0, ...]`, several rings merged by step.

        With several optimizers each variable's column comes from the optimizer
        that applies it (the other rings hold zeros there), so rows of one step add.
        """
        sync = getattr(self.model, "jax_state_sync", None)
        if sync is not None:
            sync()  # JAX: the values live in the training state during fit
        blocks = [np.column_stack([keras.ops.convert_to_numpy(steps).astype(np.float64),
                                   keras.ops.convert_to_numpy(norms).astype(np.float64)])
                  for norms, steps in (channel.ring for channel in self.channels)]
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
            per_layer: bool = False, prefix: str = DEFAULT_PREFIX,
            step_per_layer: bool = False, columns: list[str] | None = None,
            steps_per_epoch: int | None = None) -> GradientTap:
    """Attach `client` to the model's tap (creating and installing it if needed)."""
    # Keras gives the model a new History in every fit, before make_train_function
    # and on_train_begin: a tap from another fit was left by an aborted fit.
    fit = id(getattr(model, "history", None))
    tap = _TAPS.get(model)
    if tap is not None and tap.fit_id != fit:
        release_all(model)
        tap = None
    if tap is None:
        tap = GradientTap(model, steps_per_epoch)
        tap.fit_id = fit
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
