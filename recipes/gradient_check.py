"""Lecture 004's gradient check: back-propagation against finite differences.

`check_gradients` is also one item of `recipes.checks.run_checklist` and is
importable as `recipes.checks.check_gradients`.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from . import _backend
from .callbacks._validation import check_positive, require_compiled
from .check_results import CheckResult

__all__ = ["check_gradients"]


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
        return float(keras.ops.convert_to_numpy(
            model.compute_loss(x=x, y=y, y_pred=y_pred, training=False)))

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
