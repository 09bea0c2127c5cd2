"""Checklist 1 (lecture 000), the one implementation: is the loss at the initial weights sensible?

Used by `callbacks.InitialLossCheck`, `recipes.checks.expected_initial_loss`,
`recipes.checks.check_initial_loss` and `recipes.run_checklist` (callbacks
never import recipes, so it lives here).

For each output the labels fix two reference losses:

- `prior`: the loss of the best constant prediction, i.e. an output that
  predicts the label priors. Cross-entropy: the entropy of the label
  distribution (ln C for C balanced classes); binary cross-entropy: the
  entropy of P(y = 1) per unit; MSE: the variance of the targets; MAE: the
  mean absolute deviation from the median.
- `uninformed`: the loss of an output that knows nothing: uniform
  probabilities (ln C; ln 2 per sigmoid unit) or, for regression, a zero
  prediction (mean of y**2 for MSE, mean |y| for MAE).

A calibrated output starts at `prior`, a small uncalibrated one at
`uninformed`; `prior <= uninformed` always. Multi-output models sum both
references with the compiled `loss_weights`, like the loss itself.

The tolerance rule (one rule, everywhere): with `tolerance` t (default
`DEFAULT_TOLERANCE`), the measured loss is

- `"ok"` when prior * (1 - t) <= measured <= uninformed * (1 + t);
- `"below"` when measured < prior * (1 - t): the model already predicts
  better than the priors (it has been trained), so the check does not apply
  (it is not a failure);
- `"above"` otherwise: a failure (bad initialization, uncalibrated or
  too-large output, unscaled inputs, wrong loss for the output).

The measured loss is the compiled loss without regularization penalties,
on at most `MAX_SAMPLES` samples, computed in float32 (mixed precision
included). Labels that do not fit the output are a `ValueError` raised
before any backend computation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from . import _keras_internals
from ._structure import output_names, per_output, take

DEFAULT_TOLERANCE = 0.1
"""Relative slack of the accepted band [prior * (1 - t), uninformed * (1 + t)]."""

MAX_SAMPLES = 4096
"""At most this many (the first) samples are evaluated."""

KINDS = {
    "sparse_categorical_crossentropy": "sparse_categorical_crossentropy",
    "categorical_crossentropy": "categorical_crossentropy",
    "binary_crossentropy": "binary_crossentropy",
    "mean_squared_error": "mse",
    "mse": "mse",
    "mean_absolute_error": "mae",
    "mae": "mae",
}

SUPPORTED = (
    "sparse_categorical_crossentropy, categorical_crossentropy (one-hot labels), "
    "binary_crossentropy (each also with from_logits=True; as a string, a keras.losses "
    "object or the keras.losses function), mse / mean_squared_error and mae / "
    "mean_absolute_error, one per output of a multi-output model"
)


@dataclass(frozen=True)
class LossKind:
    """A loss the check understands: its kind and the settings that change the expectation."""

    kind: str
    from_logits: bool = False
    label_smoothing: float = 0.0
    name: str = ""

    def __call__(self, y: Any, y_pred: Any) -> float:
        """Mean loss of `y_pred` on `y`, computed by Keras's own loss function."""
        y_pred = keras.ops.cast(y_pred, "float32")
        y = keras.ops.convert_to_tensor(y)
        if self.kind == "sparse_categorical_crossentropy":
            values = keras.losses.sparse_categorical_crossentropy(
                y, y_pred, from_logits=self.from_logits)
        elif self.kind == "categorical_crossentropy":
            values = keras.losses.categorical_crossentropy(
                keras.ops.cast(y, "float32"), y_pred, from_logits=self.from_logits,
                label_smoothing=self.label_smoothing)
        elif self.kind == "binary_crossentropy":
            values = keras.losses.binary_crossentropy(
                keras.ops.cast(y, "float32"), y_pred, from_logits=self.from_logits,
                label_smoothing=self.label_smoothing)
        elif self.kind == "mse":
            values = keras.losses.mean_squared_error(keras.ops.cast(y, "float32"), y_pred)
        else:
            values = keras.losses.mean_absolute_error(keras.ops.cast(y, "float32"), y_pred)
        return float(keras.ops.convert_to_numpy(keras.ops.mean(values)))


def loss_kind(loss: Any, where: str = "loss") -> LossKind:
    """Identify `loss` (string, `keras.losses` object or function); else a `ValueError`."""
    shown = (f"{type(loss).__name__}(name={loss.name!r})" if isinstance(loss, keras.losses.Loss)
             else getattr(loss, "__name__", None) or repr(loss))
    shown = repr(shown) if isinstance(loss, str) else shown
    resolved = loss
    if isinstance(loss, str):
        if loss in KINDS:
            return LossKind(KINDS[loss], name=loss)
        try:
            resolved = keras.losses.get(loss)
        except ValueError:
            resolved = None
    fn = getattr(resolved, "fn", resolved)  # a keras.losses.Loss wraps its function in .fn
    fn_name = getattr(fn, "__name__", None)
    if fn_name not in KINDS or (isinstance(resolved, keras.losses.Loss)
                                and not hasattr(resolved, "fn")):
        raise ValueError(
            f"The initial-loss check (checklist 1) does not know what to expect for `{where}`="
            f"{shown}; supported: {SUPPORTED}."
        )
    config = resolved.get_config() if isinstance(resolved, keras.losses.Loss) else {}
    if config.get("ignore_class") is not None:
        raise ValueError(
            f"The initial-loss check does not support `ignore_class` ({where}={shown}); "
            f"supported: {SUPPORTED}."
        )
    return LossKind(KINDS[fn_name], from_logits=bool(config.get("from_logits", False)),
                    label_smoothing=float(config.get("label_smoothing", 0.0) or 0.0),
                    name=getattr(resolved, "name", None) or fn_name)


def _entropy(p: np.ndarray) -> float:
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def _describe(y: np.ndarray) -> str:
    values = np.unique(y)
    shown = (f"values {values.tolist()}" if values.size <= 12
             else f"values from {y.min():g} to {y.max():g}")
    return f"labels of shape {y.shape} ({y.dtype}, {shown})"


def check_labels(kind: LossKind, y: Any, output_shape: tuple | None, output: str) -> np.ndarray:
    """Return `y` as an array shaped like the output; `ValueError` when it does not fit.

    `output_shape` is the model output's shape without the batch axis
    (`None` when unknown: only the label values are checked).
    """
    labels = np.asarray(y)
    units = None if output_shape is None else (int(output_shape[-1]) if output_shape else 1)

    def fail(problem: str, advice: str) -> ValueError:
        return ValueError(
            f"Checklist 1: the {_describe(labels)} do not fit {output} "
            f"(output shape {'unknown' if output_shape is None else (None, *output_shape)}, "
            f"loss {kind.name or kind.kind}): {problem}. {advice}"
        )

    if labels.dtype.kind not in "biuf":
        raise fail("labels must be numbers", "Encode the labels as numbers.")
    if labels.size and not np.all(np.isfinite(labels)):
        raise fail("labels contain NaN or inf", "Remove or impute the missing labels.")
    if kind.kind == "sparse_categorical_crossentropy":
        if output_shape is None:  # no model: one-hot means rows of 0/1 that sum to 1
            one_hot_shape = (labels.ndim == 2 and labels.shape[-1] > 1
                             and bool(np.all((labels == 0) | (labels == 1)))
                             and bool(np.all(labels.sum(axis=-1) == 1)))
        else:
            one_hot_shape = labels.ndim == len(output_shape) + 1 and labels.shape[-1] == units
        if one_hot_shape and units != 1:
            raise fail("these look like one-hot labels, but the loss takes class indices",
                       "Use loss='categorical_crossentropy', or pass y.argmax(axis=-1).")
        if np.any(labels != np.round(labels)) or labels.min(initial=0) < 0:
            raise fail("sparse categorical cross-entropy takes class indices 0 .. C-1",
                       "Pass integer class indices.")
        if units is not None and labels.max(initial=0) >= units:
            raise fail(f"class index {int(labels.max())} is out of range for {units} "
                       f"output units (0 .. {units - 1})",
                       f"Give the output layer {int(labels.max()) + 1} units, or fix the labels.")
        return labels.astype("int64")
    if kind.kind == "categorical_crossentropy":
        if output_shape is not None and (labels.ndim != len(output_shape) + 1
                                         or labels.shape[-1] != units):
            raise fail(f"categorical cross-entropy takes one-hot rows of length {units}",
                       "Use loss='sparse_categorical_crossentropy' for class indices, or "
                       f"keras.utils.to_categorical(y, {units}).")
        if labels.min(initial=0) < 0 or labels.max(initial=0) > 1 or not np.allclose(
                labels.sum(axis=-1), 1.0, atol=1e-3):
            raise fail("categorical cross-entropy takes rows of probabilities summing to 1 "
                       "(one-hot)", "Pass one-hot labels (keras.utils.to_categorical).")
        return labels.astype("float32")
    if kind.kind == "binary_crossentropy" and (labels.min(initial=0) < 0
                                               or labels.max(initial=0) > 1):
        raise fail("binary cross-entropy takes labels in [0, 1]",
                   "For several exclusive classes use a softmax output with "
                   "loss='sparse_categorical_crossentropy'.")
    labels = labels.astype("float32")
    if output_shape is not None:
        if labels.ndim == len(output_shape):  # (n,) labels for an (n, 1) output, like compile
            labels = labels[..., None]
        if labels.shape[1:] != tuple(output_shape):
            raise fail(f"labels of shape {labels.shape[1:]} per sample for outputs of shape "
                       f"{tuple(output_shape)}", "Reshape the labels or the output layer.")
    return labels


def references(kind: LossKind, labels: np.ndarray, units: int | None = None
               ) -> tuple[float, float]:
    """Return `(prior, uninformed)` for checked `labels` (see the module docstring)."""
    if kind.kind in ("sparse_categorical_crossentropy", "categorical_crossentropy"):
        if kind.kind == "sparse_categorical_crossentropy":
            n = max(int(labels.max(initial=0)) + 1, units or 0)
            mean = np.bincount(labels.reshape(-1), minlength=n) / max(labels.size, 1)
        else:
            n = labels.shape[-1]
            mean = labels.reshape(-1, n).mean(axis=0)
        n = max(units or n, 2)
        if kind.label_smoothing:
            mean = mean * (1 - kind.label_smoothing) + kind.label_smoothing / n
        return _entropy(mean), math.log(n)
    if kind.kind == "binary_crossentropy":
        p = labels.reshape(len(labels), -1).mean(axis=0)
        if kind.label_smoothing:
            p = p * (1 - kind.label_smoothing) + kind.label_smoothing / 2
        prior = float(np.mean([_entropy(np.array([q, 1 - q])) for q in p]))
        return prior, math.log(2.0)
    flat = labels.reshape(len(labels), -1).astype("float64")
    if kind.kind == "mse":
        return float(flat.var(axis=0).mean()), float((flat ** 2).mean())
    return (float(np.abs(flat - np.median(flat, axis=0)).mean()), float(np.abs(flat).mean()))


def verdict(measured: float, prior: float, uninformed: float,
            tolerance: float = DEFAULT_TOLERANCE) -> str:
    """`"ok"`, `"below"` (already trained: does not apply) or `"above"` (fails)."""
    if measured < prior * (1 - tolerance):
        return "below"
    return "ok" if measured <= uninformed * (1 + tolerance) else "above"


@dataclass(frozen=True)
class OutputLoss:
    """One output's part of checklist 1."""

    output: str
    kind: LossKind
    weight: float
    measured: float
    prior: float
    uninformed: float


@dataclass(frozen=True)
class InitialLoss:
    """Checklist 1 on a model: the measured loss, the references and the verdict."""

    measured: float
    prior: float
    uninformed: float
    tolerance: float
    outputs: tuple[OutputLoss, ...]

    @property
    def low(self) -> float:
        """Lower end of the accepted band."""
        return self.prior * (1 - self.tolerance)

    @property
    def high(self) -> float:
        """Upper end of the accepted band."""
        return self.uninformed * (1 + self.tolerance)

    @property
    def status(self) -> str:
        """`"ok"`, `"below"` or `"above"` by the module's tolerance rule."""
        return verdict(self.measured, self.prior, self.uninformed, self.tolerance)

    @property
    def passed(self) -> bool:
        """True unless the loss is above the band ("below" means already trained)."""
        return self.status != "above"

    def describe(self) -> str:
        """One line with the measured loss, both references and the accepted band."""
        parts = ", ".join(
            f"{o.output}: {o.measured:.4f} ({o.kind.kind}, prior {o.prior:.4f}, "
            f"uninformed {o.uninformed:.4f}, weight {o.weight:g})" for o in self.outputs
        ) if len(self.outputs) > 1 else ""
        return (
            f"initial loss {self.measured:.4f}; expected about {self.uninformed:.4f} (an "
            f"uninformed output; predicting the label priors gives {self.prior:.4f}); "
            f"accepted [{self.low:.4f}, {self.high:.4f}]" + (f" ({parts})" if parts else "") + "."
        )



def model_losses(model: keras.Model) -> dict[str, tuple[LossKind, float]]:
    """Each output's `(LossKind, loss_weight)` from the model's compile settings."""
    loss = getattr(model, "loss", None)
    if loss is None:
        raise ValueError(
            f"The initial-loss check needs a model compiled with `loss=`; model {model.name!r} "
            f"has none (a custom train_step computing its own loss?). Supported: {SUPPORTED}."
        )
    names = output_names(model)
    losses = per_output(loss, names, "loss")
    weights = _keras_internals.compile_loss_weights(model)
    weights = per_output(weights, names, "loss_weights") if weights is not None else {}
    result = {}
    for name, value in losses.items():
        if value is None:
            continue
        where = "loss" if len(names) == 1 else f"loss[{name!r}]"
        result[name] = (loss_kind(value, where), float(weights.get(name, 1.0)))
    return result


def measure(model: keras.Model, x: Any, y: Any,
            tolerance: float = DEFAULT_TOLERANCE) -> InitialLoss:
    """Checklist 1 on `model` (compiled) with inputs `x` and labels `y`."""
    losses = model_losses(model)
    names = output_names(model)
    x, y = take(x, MAX_SAMPLES), take(y, MAX_SAMPLES)
    labels_by_output = per_output(y, names, "y")
    missing = sorted(set(losses) - set(labels_by_output))
    if missing:
        raise ValueError(f"`y` has no labels for the outputs {missing} (outputs: {names}).")
    outputs = getattr(model, "outputs", None)
    shapes: dict[str, tuple | None] = dict.fromkeys(names)
    if outputs and len(outputs) == len(names):
        shapes = {n: tuple(t.shape[1:]) for n, t in zip(names, outputs)}
    checked = {}
    for name, (kind, _) in losses.items():
        where = f"output {name!r}" if len(names) > 1 else "the model's output"
        checked[name] = check_labels(kind, labels_by_output[name], shapes[name], where)
    y_pred = per_output(model(x, training=False), names, "the model's outputs")
    parts = []
    for name, (kind, weight) in losses.items():
        prediction = y_pred[name]
        labels = checked[name]
        if shapes[name] is None:  # subclassed model: shapes known only now
            where = f"output {name!r}" if len(names) > 1 else "the model's output"
            labels = check_labels(kind, labels_by_output[name], tuple(prediction.shape[1:]), where)
        units = int(prediction.shape[-1]) if len(prediction.shape) > 1 else 1
        prior, uninformed = references(kind, labels, units)
        parts.append(OutputLoss(name, kind, weight, kind(labels, prediction), prior, uninformed))
    return InitialLoss(
        measured=sum(p.weight * p.measured for p in parts),
        prior=sum(p.weight * p.prior for p in parts),
        uninformed=sum(p.weight * p.uninformed for p in parts),
        tolerance=float(tolerance),
        outputs=tuple(parts),
    )


def expected(y: Any, loss: Any, loss_weights: Any = None) -> tuple[float, float]:
    """`(prior, uninformed)` of labels `y` under `loss`, without a model (weighted sum)."""
    if hasattr(loss, "keys") or isinstance(loss, (list, tuple)):
        names = list(loss.keys()) if hasattr(loss, "keys") else [str(i) for i in range(len(loss))]
        losses = per_output(loss, names, "loss")
        labels = per_output(y, names, "y")
        weights = (per_output(loss_weights, names, "loss_weights")
                   if loss_weights is not None else {})
    else:
        names, losses, labels, weights = ["output"], {"output": loss}, {"output": y}, {}
    prior = uninformed = 0.0
    for name in names:
        kind = loss_kind(losses[name], "loss" if len(names) == 1 else f"loss[{name!r}]")
        checked = check_labels(kind, labels[name], None, f"output {name!r}")
        low, high = references(kind, checked)
        weight = float(weights.get(name, 1.0))
        prior, uninformed = prior + weight * low, uninformed + weight * high
    return prior, uninformed
