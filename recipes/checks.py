"""The training checklists of lecture 000 (and two lecture guidelines) as functions.

Checklist 1: the loss at the random initial weights makes sense (-ln(0.1) =
2.3026 for 10 classes). Checklist 2: use learning-rate decay. Checklist 3: use
SGD with momentum, or Adam. Checklist 4: watch the loss on a validation set
(not the test set) and first overfit a tiny subset. Lecture 001 adds
"normalize the input features"; lecture 004 checks automatic differentiation
against finite differences (`check_gradients`, defined in
`recipes.gradient_check` and importable from here).

Each `check_*` returns a `CheckResult`; `run_checklist` runs them all and
returns a `ChecklistReport` that prints as a table (and renders as HTML in a
notebook). Both types live in `recipes.check_results` and are importable from
here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import keras
import numpy as np

from . import _backend
from .callbacks import _initial_loss, _keras_internals, _structure
from .callbacks._optimizers import inner_optimizer
from .callbacks._validation import check_positive, require_compiled
from .check_results import ChecklistReport, CheckResult
from .gradient_check import check_gradients

SCHEDULING_CALLBACKS = (
    "ReduceLROnPlateau", "LearningRateScheduler", "PowerScheduling", "OneCycleScheduler",
    "ParamScheduler",
)

ADAPTIVE_OPTIMIZERS = ("Adam", "AdamW", "Nadam", "Adamax", "RMSprop", "Adagrad", "Adadelta",
                       "Adafactor")
"""Optimizers that adapt each parameter's step: checklist 2 is met without a schedule."""

NOISE_LAYERS = (keras.layers.Dropout, keras.layers.AlphaDropout, keras.layers.GaussianDropout,
                keras.layers.GaussianNoise, keras.layers.SpatialDropout1D,
                keras.layers.SpatialDropout2D, keras.layers.SpatialDropout3D)
"""Layers that `check_overfit_small_subset` switches off in its copy of the model."""


def expected_initial_loss(y: Any, loss: Any, loss_weights: Any = None) -> float:
    """Return the loss an uninformed (prior-predicting) model scores on labels `y`.

    Cross-entropy: the entropy of the label distribution (ln C for C
    balanced classes); binary cross-entropy: the entropy of P(y = 1); MSE:
    the variance of the targets; MAE: the mean absolute deviation from the
    median. A dict or list of losses (a multi-output model) gives the sum
    weighted by `loss_weights`. This is the lower end of checklist 1's
    accepted band (see `check_initial_loss` for the rule).

    Example:

    ```python
    expected_initial_loss(np.arange(10).repeat(5), "sparse_categorical_crossentropy")  # 2.3026
    expected_initial_loss(y_one_hot, keras.losses.CategoricalCrossentropy(from_logits=True))
    ```

    Args:
        y: the labels (class indices, one-hot rows, 0/1, or regression
            targets); a dict or list with one entry per output when `loss`
            is one.
        loss: sparse / categorical / binary cross-entropy, MSE or MAE, as a
            string, a `keras.losses` object or function; or a dict / list of
            them. Anything else is a `ValueError` naming it.
        loss_weights: weights of a dict / list of losses (default 1 each).
    """
    return _initial_loss.expected(y, loss, loss_weights)[0]


def check_initial_loss(
    model: keras.Model, x: Any, y: Any, *, tolerance: float = _initial_loss.DEFAULT_TOLERANCE
) -> CheckResult:
    """Checklist 1: does the loss at the initial weights make sense?

    The one rule of the package (shared with `callbacks.InitialLossCheck`):
    the compiled loss (without regularization) on `(x, y)` passes when
    `prior * (1 - tolerance) <= measured <= uninformed * (1 + tolerance)`,
    with `prior` the loss of predicting the label priors
    (`expected_initial_loss`) and `uninformed` the loss of uniform
    probabilities (ln C, ln 2) or of a zero prediction (regression). Higher
    means a bad initialization or an uncalibrated output. Lower means the
    model has already been trained, and the check does not apply (passes,
    with a note). Supported losses and label checks: see
    `callbacks.InitialLossCheck`; multi-output models sum the outputs with
    their `loss_weights`.

    Example:

    ```python
    check_initial_loss(model, x_train, y_train)  # measured 2.30, expected 2.3026
    ```

    Args:
        model: a compiled, untrained model.
        x: inputs (at most the first 4096 samples are used).
        y: labels (a list / dict per output for a multi-output model).
        tolerance: relative slack of the accepted band (> 0).
    """
    require_compiled(model, "check_initial_loss")
    check_positive("tolerance", tolerance)
    result = _initial_loss.measure(model, x, y, tolerance)
    shown = f"{result.measured:.4f}" + (" (below the prior: the model is already trained)"
                                        if result.status == "below" else "")
    expected = (f"{result.prior:.4f}" if math.isclose(result.prior, result.uninformed, rel_tol=1e-3)
                else f"{result.prior:.4f} to {result.uninformed:.4f}")
    return CheckResult(
        "1. initial loss", result.passed, shown, f"{expected} (+/-{tolerance:.0%})",
        "the output layer is not calibrated or the initialization is too large: use "
        "recipes.build_dnn (calibrated output) and the initializer that matches the "
        "activation (He for ReLU/ELU, Glorot for tanh/sigmoid, LeCun for SELU)",
    )



def check_learning_rate_decay(
    model: keras.Model, callbacks: Iterable[keras.callbacks.Callback] = ()
) -> CheckResult:
    """Checklist 2: is the learning rate decayed, by a schedule or by a metric?

    The lectures disagree here, and this item follows both: lecture 000's
    checklist 2 says "use learning-rate decay", while lecture 001's
    default-DNN table says "Adam, schedule: none", because an adaptive
    optimizer (Adam, Nadam, RMSprop, Adagrad, ...) already scales each
    parameter's step by its gradient history. So the item passes with a
    schedule, a scheduling callback, or an adaptive optimizer; in the last
    case the result carries a note citing the default-DNN table. Plain SGD
    (with or without momentum) at a constant rate fails. A
    `LossScaleOptimizer` is judged by its inner optimizer.

    Example:

    ```python
    check_learning_rate_decay(model, [keras.callbacks.ReduceLROnPlateau()])
    ```

    Args:
        model: a compiled model.
        callbacks: the callbacks that will be passed to `fit`.
    """
    require_compiled(model, "check_learning_rate_decay")
    optimizer = inner_optimizer(model.optimizer)
    rate = _keras_internals.learning_rate_setting(optimizer)
    found = []
    if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
        found.append(type(rate).__name__)
    found += [type(c).__name__ for c in callbacks if type(c).__name__ in SCHEDULING_CALLBACKS]
    name = type(optimizer).__name__
    note = ""
    if not found and name in ADAPTIVE_OPTIMIZERS:
        note = (f"{name} adapts each parameter's step; lecture 001's default-DNN table uses "
                "Adam with no schedule, so checklist 2 (lecture 000) is met by the optimizer")
    return CheckResult(
        "2. learning-rate decay", bool(found) or bool(note),
        ", ".join(found) or (f"constant rate, adaptive {name}" if note
                             else "constant learning rate"),
        "a schedule, a scheduling callback or an adaptive optimizer",
        "start larger and decay: recipes.PowerSchedule, make_optimizer(..., decay=1e-4), "
        "keras.callbacks.ReduceLROnPlateau (performance scheduling) or callbacks.OneCycleScheduler",
        note,
    )


def check_optimizer(model: keras.Model) -> CheckResult:
    """Checklist 3: SGD with momentum, or Adam (or its relatives)?

    A `LossScaleOptimizer` (mixed precision) is judged by its inner optimizer.

    Example:

    ```python
    check_optimizer(compile_recipe(model, "sgd"))  # fails: plain SGD
    ```

    Args:
        model: a compiled model.
    """
    require_compiled(model, "check_optimizer")
    optimizer = inner_optimizer(model.optimizer)
    name = type(optimizer).__name__
    momentum = float(getattr(optimizer, "momentum", 0.0) or 0.0)
    adam_family = name in ("Adam", "AdamW", "Nadam", "Adamax")
    passed = adam_family or (name == "SGD" and momentum > 0) or name == "RMSprop"
    measured = f"{name}(momentum={momentum})" if name == "SGD" else name
    if optimizer is not model.optimizer:
        measured += f" inside {type(model.optimizer).__name__}"
    return CheckResult(
        "3. optimizer", passed, measured, "SGD with momentum, or Adam",
        "use recipes.make_optimizer('momentum'), 'nesterov', 'adam' or 'nadam'",
    )


def _pair(argument: str, data: Any, optional: bool = False) -> tuple[Any, Any] | None:
    """`data` as an `(x, y)` pair, or a `TypeError` naming `argument`."""
    if data is None and optional:
        return None
    if isinstance(data, (tuple, list)) and len(data) == 2:
        return data[0], data[1]
    if isinstance(data, (tuple, list)):
        received = f"a {type(data).__name__} of {len(data)} items"
    elif hasattr(data, "shape"):
        received = f"an array of shape {tuple(data.shape)}"
    else:
        received = type(data).__name__
    raise TypeError(
        f"`{argument}` must be an `(x, y)` pair of inputs and labels"
        f"{' or None' if optional else ''}; received {received}."
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
    valid = _pair("validation_data", validation_data, optional=True)
    test = _pair("test_data", test_data, optional=True)
    if valid is None:
        return CheckResult(
            "4a. validation set", False, "none", "a validation set",
            "pass validation_data=(x_valid, y_valid) to fit and watch val_loss per epoch",
        )
    x_valid = _structure.arrays(valid[0])
    same = test is not None and any(
        np.shares_memory(a, b) or np.array_equal(a, b)
        for a, b in zip(x_valid, _structure.arrays(test[0]))
    )
    return CheckResult(
        "4a. validation set", not same,
        "the test set" if same else f"{len(x_valid[0])} samples",
        "a validation set that is not the test set",
        "hold out a separate validation set; keep the test set for the very end",
    )


def _without_noise(layer: keras.layers.Layer) -> keras.layers.Layer:
    """Clone function: dropout and noise layers become identities, the `dropout` /
    `recurrent_dropout` settings of other layers (LSTM, GRU, MultiHeadAttention) 0."""
    if isinstance(layer, NOISE_LAYERS):
        return keras.layers.Identity(name=layer.name)
    config = layer.get_config()
    for key in ("dropout", "recurrent_dropout"):
        if isinstance(config.get(key), (int, float)) and not isinstance(config[key], bool):
            config[key] = 0.0
    return layer.__class__.from_config(config)


def check_overfit_small_subset(
    model: keras.Model, x: Any, y: Any, *, n_samples: int = 20, epochs: int = 200,
    target_loss: float = 0.05,
) -> CheckResult:
    """Checklist 4b: can a copy of the model overfit a tiny subset (loss close to zero)?

    Trains a clone (same architecture, weights and optimizer settings) on the
    first `n_samples` samples, full batch, for `epochs` steps; the model
    itself is not changed. Two things keep the check fair to a regularized
    network:

    - the clone has no noise: `Dropout` (and its spatial / alpha / Gaussian
      variants) and `GaussianNoise` become identities, and the `dropout` /
      `recurrent_dropout` of recurrent and attention layers are set to 0.
      Their job is to stop the net from memorizing, which is what this
      check asks of it;
    - the final loss is the compiled loss (weight penalties included) in
      training mode. With the noise gone, that only makes
      BatchNormalization use the subset's own statistics: its moving
      averages still lag after a few hundred steps.

    Measured on lecture 001's default DNN (dropout 0.2, BN) on 20 digits,
    200 steps: 0.08 in inference mode without dropout (0.07 with it), 0.009
    with both rules.

    Example:

    ```python
    check_overfit_small_subset(model, x_train, y_train, n_samples=20)
    ```

    Args:
        model: a compiled model (Sequential or Functional).
        x: training inputs (an array, or a list / dict for several inputs).
        y: training labels (a list / dict per output for several outputs).
        n_samples: size of the subset (> 0).
        epochs: full-batch epochs on the subset (> 0).
        target_loss: the loss to reach (> 0).
    """
    require_compiled(model, "check_overfit_small_subset")
    check_positive("n_samples", n_samples, integer=True)
    check_positive("epochs", epochs, integer=True)
    check_positive("target_loss", target_loss)
    clone = keras.models.clone_model(model, clone_function=_without_noise)
    clone.set_weights(model.get_weights())
    clone.compile(
        optimizer=type(model.optimizer).from_config(model.optimizer.get_config()),
        loss=model.loss,
        loss_weights=_keras_internals.compile_loss_weights(model),
        steps_per_execution=_backend.steps_per_execution(min(int(epochs), 32)),
    )
    x_small, y_small = _structure.take(x, n_samples), _structure.take(y, n_samples)
    size = len(_structure.arrays(x_small)[0])
    # `epochs` full-batch steps, run as one epoch over the subset repeated
    # (same updates as `epochs` epochs, without the per-epoch overhead).
    clone.fit(_structure.repeat(x_small, epochs), _structure.repeat(y_small, epochs),
              epochs=1, batch_size=size, shuffle=False, verbose=0)
    # Training mode: BatchNormalization normalizes with the subset's own statistics (its
    # moving averages still lag after a few hundred steps; with no noise layers left, BN
    # is the only layer the mode changes).
    y_pred = clone(x_small, training=True)
    final = float(keras.ops.convert_to_numpy(
        clone.compute_loss(x=x_small, y=y_small, y_pred=y_pred, training=False)))
    return CheckResult(
        "4b. overfit a tiny subset", final <= target_loss,
        f"loss {final:.4f} after {epochs} epochs on {size} samples (dropout off)",
        f"<= {target_loss}",
        "the model or the optimizer cannot fit even a few samples: raise the learning rate, "
        "check the labels and the loss, or make the model larger",
    )


def check_input_scaling(x: Any, *, max_abs_mean: float = 5.0, max_std: float = 5.0) -> CheckResult:
    """Lecture 001 guideline: are the input features normalized?

    Passes when every feature's mean and standard deviation are small (inputs
    standardized or scaled to [0, 1]). Of several inputs (a list or dict),
    the floating-point ones are checked; integer inputs (token ids for an
    `Embedding`, category codes) are not features to scale and are skipped.

    Example:

    ```python
    check_input_scaling(x_train)  # fails on raw pixel values 0..255
    ```

    Args:
        x: training inputs (an array, or a list / dict for several inputs).
        max_abs_mean: largest accepted |mean| of a feature (> 0).
        max_std: largest accepted standard deviation of a feature (> 0).
    """
    check_positive("max_abs_mean", max_abs_mean)
    check_positive("max_std", max_std)
    inputs = _structure.arrays(x)
    several = len(inputs) > 1
    inputs = [a for a in inputs if a.dtype.kind == "f" or not several]
    if not inputs:
        return CheckResult("normalized inputs", True, "no floating-point inputs",
                           f"<= {max_abs_mean}, <= {max_std}")
    mean = std = 0.0
    for array in inputs:
        features = np.asarray(array, dtype="float64").reshape(len(array), -1)
        mean = max(mean, float(np.abs(features.mean(axis=0)).max()))
        std = max(std, float(features.std(axis=0).max()))
    return CheckResult(
        "normalized inputs", mean <= max_abs_mean and std <= max_std,
        f"max |mean| {mean:.3g}, max std {std:.3g}", f"<= {max_abs_mean}, <= {max_std}",
        "scale the inputs (e.g. pixels / 255) or pass normalize=x_train to recipes.build_dnn",
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
    strict: bool = False,
) -> ChecklistReport:
    """Run every checklist item on a compiled, untrained model before `fit`.

    Item 1 takes the losses of `check_initial_loss` (sparse / categorical /
    binary cross-entropy, `from_logits`, loss objects, MSE / MAE, one per
    output of a multi-output model); multi-input `x` (list or dict) and
    multi-output `y` work in every item.

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
        strict: raise a `ValueError` (with the report) when an item fails,
            instead of returning a failing report.
    """
    x, y = _pair("train", train)
    _pair("valid", valid, optional=True)
    _pair("test", test, optional=True)
    if isinstance(callbacks, keras.callbacks.Callback) or not isinstance(callbacks, Iterable):
        raise TypeError(f"`callbacks` must be a list of keras callbacks; received {callbacks!r}.")
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
        report.append(check_gradients(model, _structure.take(x, 64), _structure.take(y, 64)))
    if strict and not report.passed:
        raise ValueError(f"run_checklist(strict=True): an item failed.\n{report}")
    return report
