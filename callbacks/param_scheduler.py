"""`ParamScheduler`: any optimizer hyper-parameter from a curve of the optimizer step.

fastai builds `fit_one_cycle` and `lr_find` on one `ParamScheduler` that
takes `{hyper-parameter: f(progress)}`; this is that idea for Keras 3.
`PowerScheduling`, `OneCycleScheduler` (`callbacks.scheduling`),
`MomentumScheduling` (`callbacks.momentum`) and `LRFinder`
(`callbacks.lr_finder`) are thin layers over it.

How a hyper-parameter other than the learning rate reaches the compiled
step: Keras 3 optimizers keep `momentum`, `beta_1`, ... as plain Python
floats that are baked into the train function when it is traced, so
assigning a new float changes the attribute but *not* the update.
`ParamScheduler` replaces that float by a scalar variable of the optimizer
and re-traces the train function once; from then on every assignment takes
effect at the next step, on TensorFlow and on JAX. Checkpoints and the
optimizer's `get_config()` are unchanged, and when `fit` ends the optimizer
holds a float again, the last value (see `callbacks._scheduling_base`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

import keras
from keras import ops

from ._base import CallbackBase
from ._optimizers import inner_optimizer
from ._scheduling_base import (
    _check_rate_is_settable,
    _hyperparameters,
    _install_scheduled_scalar,
    _iterations,
    _progress,
    _release_scheduled_scalars,
    _warn_steps_per_execution,
)
from ._validation import check_choice
from .curves import check_serializable

Curve = Callable[[int], Any]


class TrainingOptimizerWarning(UserWarning):
    """`model.optimizer` is not the optimizer that trains: its schedule would change nothing.

    Example:

    ```python
    warnings.simplefilter("error", TrainingOptimizerWarning)
    ```
    """


@keras.saving.register_keras_serializable(package="recipes")
class ParamScheduler(CallbackBase):
    """Set optimizer hyper-parameters before every step from curves of the optimizer step.

    `ParamScheduler({"learning_rate": f, "momentum": g})` sets, before the
    step `t` (the optimizer's `iterations`), `learning_rate = f(t)` and
    `momentum = g(t)`, and logs both (batch and epoch logs, so `History`,
    `CSVLogger` and progress bars see them). Any float hyper-parameter of the
    optimizer can be scheduled: `learning_rate`, `momentum`, `rho`, `beta_1`,
    `beta_2`, `epsilon`, `weight_decay`, ... (the float is replaced by a
    variable the compiled step reads; see the module docstring). Create the
    optimizer with a value for the hyper-parameter (e.g. `SGD(momentum=0.9)`,
    `Adam(weight_decay=0.0)`): a missing one is an error.

    Resume-safe: `t` is the optimizer's `iterations`, so a second `fit`,
    `fit(initial_epoch=...)` or a run restored by
    `keras.callbacks.BackupAndRestore` continues the curves where they were.
    With `per="epoch"` the curves receive the epoch index instead and the
    values are set at the start of each epoch.

    The curves: the named ones of `callbacks.curves` (`Linear`, `Cosine`,
    `Exponential`, `Power`, `Piecewise`, composed with `Chain` /
    `OneMinus`), any `keras.optimizers.schedules.LearningRateSchedule`, or
    any function of the step. `get_config()` (and so keras-tuner and
    `keras.saving`) needs them serializable: the objects above, or functions
    registered with `keras.saving.register_keras_serializable` (not lambdas).

    Layer attributes (a `Dropout` rate) are refused: Keras layers read them
    as Python floats baked into the traced step, and a JAX step only sees
    the variables passed in as model state, so a new value would be ignored.

    If `model.optimizer` takes no step during the first batch (a custom
    `train_step` that applies its gradients with optimizers of its own, e.g.
    a GAN), the callback warns once (`TrainingOptimizerWarning`) and stops
    scheduling a value nobody uses.

    Example:

    ```python
    from keras_recipes.callbacks.curves import Cosine, Linear
    steps = 10 * len(x) // 32
    scheduler = ParamScheduler({
        "learning_rate": Cosine(1e-3, 1e-5, steps=steps),
        "weight_decay": Linear(0.0, 0.05, steps=steps),
    })
    model.compile(optimizer=keras.optimizers.AdamW(1e-3, weight_decay=0.0), loss="mse")
    model.fit(x, y, batch_size=32, epochs=10, callbacks=[scheduler])
    ```

    Args:
        schedules: maps a hyper-parameter name to a curve of the step.
        per: `"step"` (set before every step from `iterations`) or `"epoch"`
            (set at the start of every epoch from the epoch index).
        verbose: 1 prints the values at the start of each epoch.
    """

    _RUN_STATE: tuple[str, ...] = ("_targets", "_next_step")
    _WHO = "ParamScheduler"
    _EXACT = "in-graph schedules, or compile with steps_per_execution=1"
    # A subclass that builds its curves at train begin (from fit's epochs and steps, or
    # the optimizer) passes None for them and fills `schedules` in `_prepare`.
    _CURVES_AT_TRAIN_BEGIN = False

    def __init__(
        self, schedules: Mapping[str, Curve], per: str = "step", verbose: int = 0
    ) -> None:
        super().__init__()
        if not isinstance(schedules, Mapping) or not schedules:
            raise TypeError(
                "`schedules` must be a non-empty mapping {hyper-parameter name: curve of the "
                f"step}}; received {schedules!r}."
            )
        for name, curve in schedules.items():
            _check_name(name)
            if not callable(curve) and not (curve is None and self._CURVES_AT_TRAIN_BEGIN):
                raise TypeError(
                    f"`schedules[{name!r}]` must be a callable of the step (a curve); received "
                    f"{curve!r} ({type(curve).__name__})."
                )
        self.schedules = dict(schedules)
        self.per = check_choice("per", per, ("step", "epoch"))
        self.verbose = int(verbose)
        self._origin = 0
        self._targets: dict[str, Any] | None = None
        self._next_step: int | None = None
        self._last: dict[str, float] = {}
        self._next_values: dict[str, float] = {}
        self._active = True
        self._probe: tuple[float, ...] | None = None

    # ---------------------------------------------------------------- hooks

    def _prepare(self) -> None:
        """Subclasses resolve their curves here (start of every `fit`)."""

    def _on_idle_optimizer(self) -> None:
        warnings.warn(
            f"{self._WHO}: `model.optimizer` ({type(self.model.optimizer).__name__}) took no "
            "step during the first batch: this model's train_step applies its gradients with "
            "other optimizers (e.g. a GAN with one optimizer per network), so its "
            f"{', '.join(self.schedules)} would change nothing. The schedule is switched off "
            "for this fit; schedule the optimizers the train_step uses (e.g. their "
            "learning_rate as a keras.optimizers.schedules.LearningRateSchedule).",
            TrainingOptimizerWarning,
            stacklevel=3,
        )
        self._active = False

    # ---------------------------------------------------------------- values

    def schedule_at(self, position: int) -> dict[str, float]:
        """The value of every scheduled hyper-parameter at step (or epoch) `position`."""
        return {name: _as_float(curve(position)) for name, curve in self.schedules.items()}

    def _apply(self, position: int) -> None:
        values = self.schedule_at(position - self._origin)
        optimizer = self.model.optimizer
        for name, value in values.items():
            target = self._targets[name]
            if target is None:
                optimizer.learning_rate = value
            else:
                target.assign(value)
        self._next_step, self._next_values = position, values

    # ---------------------------------------------------------------- Keras hooks

    def on_train_begin(self, logs: dict | None = None) -> None:
        model = self.model
        if model is None or not getattr(model, "compiled", False):
            raise RuntimeError(
                f"{self._WHO} needs a compiled model: call `model.compile(optimizer=..., "
                "loss=...)` before `fit`."
            )
        self._active = model.optimizer is not None
        self._probe = None
        if not self._active:
            self._on_idle_optimizer()
            return
        self._prepare()
        if self.per == "step":
            _warn_steps_per_execution(model, self._WHO, self._EXACT)
        self._targets = self._resolve_targets()
        self._probe = _progress(model.optimizer)
        if self.per == "step" and self._ready():
            self._apply(_iterations(model.optimizer))

    def _ready(self) -> bool:
        return all(curve is not None for curve in self.schedules.values())

    def _resolve_targets(self) -> dict[str, Any]:
        optimizer = self.model.optimizer
        accepted = _hyperparameters(optimizer)
        targets: dict[str, Any] = {}
        for name in self.schedules:
            if name == "learning_rate":
                _check_rate_is_settable(optimizer, self._WHO)
                targets[name] = None
                continue
            base = inner_optimizer(optimizer)
            if name == "momentum" and getattr(base, "momentum", None) == 0:
                raise ValueError(
                    f"{self._WHO}: {type(base).__name__} was created without momentum, so it "
                    "has no velocity to apply one to: create it with momentum > 0, e.g. "
                    "SGD(momentum=0.5) (the value is overridden by the schedule)."
                )
            if name not in accepted:
                raise ValueError(
                    f"{self._WHO}: {type(base).__name__} has no float hyper-parameter "
                    f"{name!r} to schedule (one it was created without, like weight_decay=None, "
                    f"cannot be added later). It has: {', '.join(accepted)}."
                )
            targets[name] = _install_scheduled_scalar(self.model, name)
        return targets

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if not self._active:
            return
        if self.per == "epoch":
            self._apply(epoch + self._origin)
            self._last = dict(self._next_values)
        if self.verbose:
            step = epoch if self.per == "epoch" else _iterations(self.model.optimizer)
            shown = ", ".join(f"{k} {v:.6g}" for k, v in self.schedule_at(step - self._origin)
                              .items())
            print(f"\nEpoch {epoch + 1}: {self._WHO} {shown}.")

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        if not self._active or self.per != "step":
            return
        step = _iterations(self.model.optimizer)
        if step != self._next_step:  # e.g. BackupAndRestore restored an older state
            self._apply(step)
        self._last = dict(self._next_values)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if not self._active:
            return
        if self._probe is not None:
            moved = _progress(self.model.optimizer) != self._probe
            self._probe = None
            if not moved:
                self._on_idle_optimizer()
                return
        if self.per != "step":
            return
        if logs is not None:
            logs.update(self._last)
        # Keep the optimizer's values those of the *next* step, so a checkpoint
        # holds (iterations, values) that agree with the curves.
        self._apply(_iterations(self.model.optimizer))

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self._active and logs is not None:
            logs.update(self._last)

    def on_train_end(self, logs: dict | None = None) -> None:
        if any(v is not None for v in (self._targets or {}).values()):
            _release_scheduled_scalars(self.model)

    # ---------------------------------------------------------------- config

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        if "schedules" in config:  # ParamScheduler itself; subclasses keep their settings
            for name, curve in self.schedules.items():
                check_serializable(f"schedules[{name!r}]", curve)
            config["schedules"] = {
                name: keras.saving.serialize_keras_object(curve)
                for name, curve in self.schedules.items()
            }
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ParamScheduler:
        """Rebuild the callback from `get_config()`."""
        config = dict(config)
        if "schedules" in config:
            config["schedules"] = {
                name: keras.saving.deserialize_keras_object(curve)
                for name, curve in config["schedules"].items()
            }
        return cls(**config)


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not name:
        raise TypeError(f"hyper-parameter names must be strings; received {name!r}.")
    if "." in name or "/" in name:
        raise ValueError(
            f"`schedules` key {name!r} names a layer attribute; ParamScheduler schedules "
            "optimizer hyper-parameters only. Keras layers (e.g. Dropout's `rate`) read such "
            "attributes as Python floats baked into the traced step, and a JAX step only sees "
            "the variables passed in as model state, so a new value would be silently "
            "ignored. Write a layer that reads its rate from a variable to schedule it."
        )


def _as_float(value: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return float(ops.convert_to_numpy(value))
