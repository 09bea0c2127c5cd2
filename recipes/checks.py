"""The training checklists of lecture 000 (and two lecture guidelines) as functions.

Checklist 1: the loss at the random initial weights makes sense (-ln(0.1) =
2.3026 for 10 classes). Checklist 2: use learning-rate decay. Checklist 3: use
SGD with momentum, or Adam. Checklist 4: watch the loss on a validation set
(not the test set) and first overfit a tiny subset. Lecture 001 adds
"normalize the input features"; lecture 004 checks automatic differentiation
against finite differences.

Each `check_*` returns a `CheckResult`; `run_checklist` runs them all and
returns a `ChecklistReport` that prints as a table (and renders as HTML in a
notebook).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from callbacks._validation import check_positive, require_compiled
from recipes import _backend

SCHEDULING_CALLBACKS = (
    "ReduceLROnPlateau", "LearningRateScheduler", "PowerScheduling", "OneCycleScheduler",
)


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one checklist item.

    Example:

    ```python
    result = check_optimizer(model)
    if not result.passed:
        print(result.advice)
    ```

    Args:
        name: the checklist item.
        passed: whether the setup follows the lecture.
        measured: what was found.
        expected: what the lecture expects.
        advice: what to change when it did not pass.
    """

    name: str
    passed: bool
    measured: str
    expected: str
    advice: str = ""


class ChecklistReport(list):
    """A list of `CheckResult`s that prints as a table.

    Example:

    ```python
    report = run_checklist(model, data.train, data.valid)
    print(report)          # or just `report` in a notebook
    assert report.passed
    ```
    """

    @property
    def passed(self) -> bool:
        """True when every item passed."""
        return all(result.passed for result in self)

    def __str__(self) -> str:
        lines = []
        for result in self:
            mark = "PASS" if result.passed else "FAIL"
            lines.append(f"[{mark}] {result.name}: {result.measured} (expected {result.expected})")
            if not result.passed and result.advice:
                lines.append(f"       -> {result.advice}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{'✅' if r.passed else '❌'}</td><td>{r.name}</td><td>{r.measured}</td>"
            f"<td>{r.expected}</td><td>{'' if r.passed else r.advice}</td></tr>"
            for r in self
        )
        return (
            "<table><tr><th></th><th>check</th><th>measured</th><th>expected</th>"
            f"<th>advice</th></tr>{rows}</table>"
        )


def expected_initial_loss(y: Any, loss: str) -> float:
    """Return the loss an uninformed (prior-predicting) model scores on labels `y`.

    Cross-entropy: the entropy of the label distribution (ln C for C
    balanced classes); binary cross-entropy: the entropy of P(y = 1); MSE: the
    variance of the targets.

    Example:

    ```python
    expected_initial_loss(np.arange(10).repeat(5), "sparse_categorical_crossentropy")  # 2.3026
    ```

    Args:
        y: the labels (class indices, 0/1, or regression targets).
        loss: `"sparse_categorical_crossentropy"`, `"binary_crossentropy"` or
            `"mse"`.
    """
    labels = np.asarray(y)
    if loss == "sparse_categorical_crossentropy":
        p = np.bincount(labels.astype("int64").ravel()) / labels.size
        p = p[p > 0]
        return float(-(p * np.log(p)).sum())
    if loss == "binary_crossentropy":
        p = float(labels.mean())
        return 0.0 if p in (0.0, 1.0) else float(-(p * math.log(p) + (1 - p) * math.log(1 - p)))
    if loss == "mse":
        return float(labels.var(axis=0).mean())
    raise ValueError(
        "`loss` must be 'sparse_categorical_crossentropy', 'binary_crossentropy' or 'mse' to "
        f"know the initial loss; received {loss!r}."
    )


def check_initial_loss(
    model: keras.Model, x: Any, y: Any, *, tolerance: float = 0.1
) -> CheckResult:
    """Checklist 1: does the loss at the initial weights make sense?

    An untrained model should score about the loss of predicting the label
    priors (`expected_initial_loss`); much higher means a bad initialization
    or an uncalibrated output. A loss far below it means the model has
    already been trained, and the check does not apply.

    Example:

    ```python
    check_initial_loss(model, x_train, y_train)  # measured 2.30, expected 2.3026
    ```

    Args:
        model: a compiled, untrained model.
        x: inputs.
        y: labels.
        tolerance: accepted relative distance from the expected loss (> 0).
    """
    require_compiled(model, "check_initial_loss")
    check_positive("tolerance", tolerance)
    measured = float(model.evaluate(x, y, verbose=0, return_dict=True)["loss"])
    expected = expected_initial_loss(y, model.loss if isinstance(model.loss, str) else "")
    margin = tolerance * max(expected, 1e-8)
    already_trained = measured < expected - margin
    passed = already_trained or abs(measured - expected) <= margin
    shown = f"{measured:.4f}" + (" (below the prior: the model is already trained)"
                                 if already_trained else "")
    return CheckResult(
        "1. initial loss", passed, shown, f"{expected:.4f}",
        "the output layer is not calibrated or the initialization is too large: use "
        "recipes.build_dnn (calibrated output) and the initializer that matches the "
        "activation (He for ReLU/ELU, Glorot for tanh/sigmoid, LeCun for SELU)",
    )


def check_learning_rate_decay(
    model: keras.Model, callbacks: Iterable[keras.callbacks.Callback] = ()
) -> CheckResult:
    """Checklist 2: is the learning rate decayed, by a schedule or by a metric?

    Example:

    ```python
    check_learning_rate_decay(model, [keras.callbacks.ReduceLROnPlateau()])
    ```

    Args:
        model: a compiled model.
        callbacks: the callbacks that will be passed to `fit`.
    """
    require_compiled(model, "check_learning_rate_decay")
    rate = model.optimizer._learning_rate
    found = []
    if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
        found.append(type(rate).__name__)
    found += [type(c).__name__ for c in callbacks if type(c).__name__ in SCHEDULING_CALLBACKS]
    return CheckResult(
        "2. learning-rate decay", bool(found), ", ".join(found) or "constant learning rate",
        "a schedule or a scheduling callback",
        "start larger and decay: recipes.PowerSchedule, make_optimizer(..., decay=1e-4), "
        "keras.callbacks.ReduceLROnPlateau (performance scheduling) or callbacks.OneCycleScheduler",
    )


def check_optimizer(model: keras.Model) -> CheckResult:
    """Checklist 3: SGD with momentum, or Adam (or its relatives)?

    Example:

    ```python
    check_optimizer(compile_recipe(model, "sgd"))  # fails: plain SGD
    ```

    Args:
        model: a compiled model.
    """
    require_compiled(model, "check_optimizer")
    optimizer = model.optimizer
    name = type(optimizer).__name__
    momentum = float(getattr(optimizer, "momentum", 0.0) or 0.0)
    adam_family = name in ("Adam", "AdamW", "Nadam", "Adamax")
    passed = adam_family or (name == "SGD" and momentum > 0) or name == "RMSprop"
    measured = f"{name}(momentum={momentum})" if name == "SGD" else name
    return CheckResult(
        "3. optimizer", passed, measured, "SGD with momentum, or Adam",
        "use recipes.make_optimizer('momentum'), 'nesterov', 'adam' or 'nadam'",
    )


def check_validation(validation_data: Any, test_data: Any = None) -> CheckResult:
    """Checklist 4a: is the loss watched on a validation set that is not the test set?

    Example:

    ```python
    check_validation(data.valid, data.test)
    ```

    Args:
        validation_data: the `(x, y)` passed to `fit`, or `None`.
        test_data: the test `(x, y)`, to make sure it is not the same data.
    """
    if validation_data is None:
        return CheckResult(
            "4a. validation set", False, "none", "a validation set",
            "pass validation_data=(x_valid, y_valid) to fit and watch val_loss per epoch",
        )
    x_valid = np.asarray(validation_data[0])
    same = test_data is not None and (
        np.shares_memory(x_valid, np.asarray(test_data[0]))
        or np.array_equal(x_valid, test_data[0])
    )
    return CheckResult(
        "4a. validation set", not same,
        "the test set" if same else f"{len(validation_data[0])} samples",
        "a validation set that is not the test set",
        "hold out a separate validation set; keep the test set for the very end",
    )


def check_overfit_small_subset(
    model: keras.Model, x: Any, y: Any, *, n_samples: int = 20, epochs: int = 200,
    target_loss: float = 0.05,
) -> CheckResult:
    """Checklist 4b: can a copy of the model overfit a tiny subset (loss close to zero)?

    Trains a clone (same architecture, weights and optimizer settings) on the
    first `n_samples` samples; the model itself is not changed.

    Example:

    ```python
    check_overfit_small_subset(model, x_train, y_train, n_samples=20)
    ```

    Args:
        model: a compiled model.
        x: training inputs.
        y: training labels.
        n_samples: size of the subset (> 0).
        epochs: full-batch epochs on the subset (> 0).
        target_loss: the loss to reach (> 0).
    """
    require_compiled(model, "check_overfit_small_subset")
    check_positive("n_samples", n_samples, integer=True)
    check_positive("epochs", epochs, integer=True)
    check_positive("target_loss", target_loss)
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    clone.compile(
        optimizer=type(model.optimizer).from_config(model.optimizer.get_config()),
        loss=model.loss,
        steps_per_execution=min(int(epochs), 32),
    )
    x_small, y_small = np.asarray(x)[:n_samples], np.asarray(y)[:n_samples]
    # `epochs` full-batch steps, run as one epoch over the subset repeated
    # (same updates as `epochs` epochs, without the per-epoch overhead).
    repeat = (epochs,) + (1,) * (x_small.ndim - 1)
    clone.fit(np.tile(x_small, repeat), np.tile(y_small, (epochs,) + (1,) * (y_small.ndim - 1)),
              epochs=1, batch_size=len(x_small), shuffle=False, verbose=0)
    final = float(clone.evaluate(x_small, y_small, verbose=0, return_dict=True)["loss"])
    return CheckResult(
        "4b. overfit a tiny subset", final <= target_loss,
        f"loss {final:.4f} after {epochs} epochs on {n_samples} samples", f"<= {target_loss}",
        "the model or the optimizer cannot fit even a few samples: raise the learning rate, "
        "check the labels and the loss, or make the model larger",
    )


def check_input_scaling(x: Any, *, max_abs_mean: float = 5.0, max_std: float = 5.0) -> CheckResult:
    """Lecture 001 guideline: are the input features normalized?

    Passes when every feature's mean and standard deviation are small (inputs
    standardized or scaled to [0, 1]).

    Example:

    ```python
    check_input_scaling(x_train)  # fails on raw pixel values 0..255
    ```

    Args:
        x: training inputs.
        max_abs_mean: largest accepted |mean| of a feature (> 0).
        max_std: largest accepted standard deviation of a feature (> 0).
    """
    check_positive("max_abs_mean", max_abs_mean)
    check_positive("max_std", max_std)
    features = np.asarray(x, dtype="float64").reshape(len(x), -1)
    mean, std = float(np.abs(features.mean(axis=0)).max()), float(features.std(axis=0).max())
    return CheckResult(
        "normalized inputs", mean <= max_abs_mean and std <= max_std,
        f"max |mean| {mean:.3g}, max std {std:.3g}", f"<= {max_abs_mean}, <= {max_std}",
        "scale the inputs (e.g. pixels / 255) or pass normalize=x_train to recipes.build_dnn",
    )


def check_gradients(
    model: keras.Model, x: Any, y: Any, *, epsilon: float = 1e-2, tolerance: float = 1e-2,
) -> CheckResult:
    """Lecture 004: do back-propagated gradients agree with finite differences?

    For every trainable variable w with gradient g, compares the directional
    derivative along u = g / ||g|| from back-propagation (which is ||g||)
    with the central difference (L(w + eps u) - L(w - eps u)) / (2 eps), in
    inference mode (no dropout, BN with its moving statistics). A variable
    fails when |analytic - numeric| > tolerance * (|analytic| + |numeric|) +
    noise, where noise is the float32 round-off of the loss divided by eps.
    Judging each variable on its own catches a wrong gradient in a layer whose
    gradients are small, which one global error would hide. The weights are
    restored afterwards. Back-propagation is the backend's own autodiff
    (TensorFlow, JAX or PyTorch).

    Example:

    ```python
    check_gradients(model, x_train[:64], y_train[:64])
    ```

    Args:
        model: a compiled model.
        x: a small batch of inputs.
        y: its labels.
        epsilon: finite-difference step along each gradient direction (> 0).
        tolerance: accepted relative error (> 0).
    """
    require_compiled(model, "check_gradients")
    check_positive("epsilon", epsilon)
    check_positive("tolerance", tolerance)
    x = keras.ops.convert_to_tensor(np.asarray(x, dtype="float32"))
    y = keras.ops.convert_to_tensor(np.asarray(y))

    def loss_value() -> float:
        y_pred = model(x, training=False)
        return float(model.compute_loss(x=x, y=y, y_pred=y_pred, training=False))

    variables = model.trainable_variables
    loss, gradients = _backend.gradients(model, x, y)  # TensorFlow, JAX or PyTorch autodiff
    noise = 20 * abs(float(loss)) * float(np.finfo("float32").eps) / epsilon
    worst, worst_name = 0.0, ""
    for variable, gradient in zip(variables, gradients):
        if gradient is None:
            continue
        g = gradient.astype("float64")
        analytic = float(np.linalg.norm(g))
        if analytic == 0.0:
            continue
        original = keras.ops.convert_to_numpy(variable).copy()
        step = (epsilon * g / analytic).astype(original.dtype)
        variable.assign(original + step)
        plus = loss_value()
        variable.assign(original - step)
        minus = loss_value()
        variable.assign(original)
        numeric = (plus - minus) / (2 * epsilon)
        excess = abs(analytic - numeric) - noise
        error = max(excess, 0.0) / (abs(analytic) + abs(numeric))
        if error > worst:
            worst, worst_name = error, variable.path
    return CheckResult(
        "gradient check", worst <= tolerance,
        f"worst relative error {worst:.2e}" + (f" ({worst_name})" if worst_name else ""),
        f"<= {tolerance}",
        "back-propagated gradients disagree with finite differences: a custom layer or loss "
        "has a wrong or non-differentiable gradient",
    )


def run_checklist(
    model: keras.Model,
    train: Sequence[Any],
    valid: Sequence[Any] | None = None,
    *,
    test: Sequence[Any] | None = None,
    callbacks: Iterable[keras.callbacks.Callback] = (),
    overfit: bool = True,
    gradients: bool = True,
) -> ChecklistReport:
    """Run every checklist item on a compiled, untrained model before `fit`.

    Example:

    ```python
    model = default_dnn(data.input_shape, data.n_classes)
    report = run_checklist(model, data.train, data.valid, test=data.test)
    print(report)
    ```

    Args:
        model: the compiled model about to be trained.
        train: `(x, y)` training data.
        valid: `(x, y)` validation data, or `None`.
        test: `(x, y)` test data, to check it is not used for validation.
        callbacks: the callbacks that will be passed to `fit`.
        overfit: also run the tiny-subset overfitting check (trains a copy).
        gradients: also run the finite-difference gradient check.
    """
    x, y = train
    report = ChecklistReport(
        [
            check_input_scaling(x),
            check_initial_loss(model, x, y),
            check_learning_rate_decay(model, callbacks),
            check_optimizer(model),
            check_validation(valid, test),
        ]
    )
    if overfit:
        report.append(check_overfit_small_subset(model, x, y))
    if gradients:
        report.append(check_gradients(model, x[:64], y[:64]))
    return report
