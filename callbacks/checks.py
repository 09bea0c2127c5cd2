"""`InitialLossCheck`: training checklist 1, the loss before the first step."""

from __future__ import annotations

import warnings
from typing import Any

import keras
import numpy as np

from ._base import CallbackBase
from ._initial_loss import DEFAULT_TOLERANCE, InitialLoss, measure
from ._validation import check_choice, check_positive, require_compiled


class InitialLossWarning(UserWarning):
    """Category of the warning issued by `InitialLossCheck`.

    Example:

    ```python
    import warnings
    with warnings.catch_warnings(record=True) as caught:
        model.fit(x, y, callbacks=[InitialLossCheck()])
    [w for w in caught if issubclass(w.category, InitialLossWarning)]
    ```
    """


class InitialLossCheck(CallbackBase):
    """Compare the loss before the first training step with what the labels imply.

    Lecture 000, checklist 1: at initialization a softmax over C classes
    should give a loss of about ln(C) (2.3026 for 10 classes); an output
    calibrated to the class priors gives the label entropy (ln(C) for
    balanced classes). At `on_train_begin` (only when the optimizer has not
    stepped yet) the callback measures the compiled loss (without
    regularization) on `(x, y)` and judges it by the package's one rule for
    checklist 1, shared with `recipes.checks.check_initial_loss` and
    `recipes.run_checklist`: accepted when
    `prior * (1 - tolerance) <= measured <= uninformed * (1 + tolerance)`,
    where `prior` is the loss of predicting the label priors (label entropy;
    the target variance for MSE) and `uninformed` the loss of uniform
    probabilities (ln C, ln 2) or of a zero prediction (regression). A loss
    below the band means the model is already trained: the check does not
    apply (`.ok` is True). Above it, the callback warns (or raises).

    Supported: sparse / categorical (one-hot) / binary cross-entropy (also
    `from_logits=True`), MSE and MAE, as strings, `keras.losses` objects or
    functions, one per output of a multi-output model (summed with
    `loss_weights`). Another loss, or labels that do not fit the output
    (class index out of range, 0-9 for one sigmoid unit, one-hot labels
    with a sparse loss), raise a `ValueError` that says so, before any
    backend error. (On JAX, `fit` checks label shapes itself before any
    callback runs; call `.check()` after `set_model`, or
    `recipes.checks.check_initial_loss`, to get this message for them.)

    Results are kept on the object: `.measured`, `.expected` (the
    uninformed-output loss, ln C), `.label_entropy` (the prior-predicting
    loss), `.accepted` (the band), `.ok`, `.message` and `.result` (the
    per-output details).

    Example:

    ```python
    check = InitialLossCheck(x_train[:512], y_train[:512])
    model.fit(x_train, y_train, callbacks=[check])
    check.measured, check.expected, check.ok
    ```

    Args:
        x: input batch (an array, or a list / dict for several inputs).
        y: labels of `x` (a list / dict with one entry per output for a
            multi-output model).
        tolerance: relative slack of the accepted band (> 0).
        action: `"warn"` or `"raise"` (`ValueError`) when the check fails.
    """

    def __init__(self, x: Any, y: Any, tolerance: float = DEFAULT_TOLERANCE,
                 action: str = "warn") -> None:
        super().__init__()
        if x is None or y is None:
            raise ValueError("`x` and `y` must be a batch of inputs and labels; received None.")
        self.x = x
        self.y = y if isinstance(y, (dict, list, tuple)) else np.asarray(y)
        self.tolerance = float(check_positive("tolerance", tolerance))
        self.action = check_choice("action", action, ("warn", "raise"))
        self.measured: float | None = None
        self.expected: float | None = None
        self.label_entropy: float | None = None
        self.accepted: tuple[float, float] | None = None
        self.ok: bool | None = None
        self.message: str | None = None
        self.result: InitialLoss | None = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        require_compiled(self.model, "InitialLossCheck")
        if int(keras.ops.convert_to_numpy(self.model.optimizer.iterations)) > 0:
            return  # the model has trained already: "before the first step" is past
        self.check()

    def check(self) -> bool:
        """Run the check now and return `.ok`."""
        result = measure(self.model, self.x, self.y, self.tolerance)
        self.result = result
        self.measured, self.expected = result.measured, result.uninformed
        self.label_entropy, self.accepted = result.prior, (result.low, result.high)
        self.ok = result.passed
        self.message = result.describe()
        if result.status == "below":
            self.message += " The loss is below the priors: the model is already trained."
        if not self.ok:
            self.message += (
                " Check the output activation and loss, scale the inputs, and initialize the "
                "output layer small (or with the class priors as bias)."
            )
            if self.action == "raise":
                raise ValueError("InitialLossCheck failed: " + self.message)
            warnings.warn("InitialLossCheck: " + self.message, InitialLossWarning, stacklevel=2)
        return self.ok

    def get_config(self) -> dict[str, Any]:
        """The settings, without the data batch (so not a full recipe to rebuild it)."""
        return {"tolerance": self.tolerance, "action": self.action}
