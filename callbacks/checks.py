"""`InitialLossCheck`: training checklist 1, the loss before the first step."""

from __future__ import annotations

import math
import warnings
from typing import Any

import keras
import numpy as np

from callbacks._base import CallbackBase
from callbacks._validation import check_choice, check_positive, require_compiled

_MULTICLASS = {"sparse_categorical_crossentropy", "categorical_crossentropy"}
_BINARY = {"binary_crossentropy"}


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


def _loss_name(loss: Any) -> str | None:
    if isinstance(loss, str):
        return loss
    if isinstance(loss, keras.losses.Loss):
        return getattr(loss, "fn", None).__name__ if hasattr(loss, "fn") else None
    return getattr(loss, "__name__", None)


def _entropy(probabilities: np.ndarray) -> float:
    p = probabilities[probabilities > 0]
    return float(-(p * np.log(p)).sum())


class InitialLossCheck(CallbackBase):
    """Compare the loss before the first training step with what the output implies.

    Lecture 000, checklist 1: at initialization a softmax over C classes
    should give a loss of about ln(C) (2.3026 for 10 classes); a model whose
    output is calibrated to the class priors gives the label entropy, which
    equals ln(C) for balanced classes; a sigmoid output gives ln 2 (binary
    cross-entropy, or the label entropy with calibrated priors). At
    `on_train_begin` (only when the optimizer has not stepped yet) the
    callback evaluates the compiled loss (without regularization) on the
    batch `(x, y)` and accepts a measured loss in
    `[entropy * (1 - tolerance), uniform * (1 + tolerance)]`. Otherwise it
    warns (or raises) with the expected and measured values. Results are kept
    on the object: `.measured`, `.expected` (uniform-prediction loss),
    `.label_entropy`, `.ok`. Losses other than (sparse) categorical and binary
    cross-entropy have no expectation: `.expected` stays `None`.

    Example:

    ```python
    check = InitialLossCheck(x_train[:512], y_train[:512])
    model.fit(x_train, y_train, callbacks=[check])
    check.measured, check.expected, check.ok
    ```

    Args:
        x: input batch.
        y: labels of `x`.
        tolerance: relative slack around the accepted interval (> 0).
        action: `"warn"` or `"raise"` (`ValueError`) when the check fails.
    """

    def __init__(self, x: Any, y: Any, tolerance: float = 0.15, action: str = "warn") -> None:
        super().__init__()
        if x is None or y is None:
            raise ValueError("`x` and `y` must be a batch of inputs and labels; received None.")
        self.x = x
        self.y = np.asarray(y)
        self.tolerance = float(check_positive("tolerance", tolerance))
        self.action = check_choice("action", action, ("warn", "raise"))
        self.measured: float | None = None
        self.expected: float | None = None
        self.label_entropy: float | None = None
        self.ok: bool | None = None
        self.message: str | None = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        require_compiled(self.model, "InitialLossCheck")
        if int(keras.ops.convert_to_numpy(self.model.optimizer.iterations)) > 0:
            return  # the model has trained already: "before the first step" is past
        self.check()

    def check(self) -> bool | None:
        """Run the check now; return `.ok` (None when the loss has no expectation)."""
        model = self.model
        loss = keras.losses.get(model.loss) if isinstance(model.loss, str) else model.loss
        if not callable(loss):
            raise TypeError(
                "InitialLossCheck supports models compiled with a single loss; "
                f"received loss={model.loss!r}."
            )
        y_pred = model(self.x, training=False)
        name = _loss_name(model.loss)
        y = self.y
        if name != "sparse_categorical_crossentropy" and y.ndim == len(y_pred.shape) - 1:
            y = y[..., None]  # (n,) labels for an (n, 1) output, as compile's loss does
        self.measured = float(keras.ops.convert_to_numpy(keras.ops.mean(loss(y, y_pred))))
        n_outputs = int(y_pred.shape[-1])
        if name in _MULTICLASS:
            if name == "sparse_categorical_crossentropy":
                counts = np.bincount(self.y.reshape(-1).astype(int), minlength=n_outputs)
            else:
                counts = self.y.reshape(-1, n_outputs).sum(axis=0)
            self.expected = math.log(n_outputs)
            self.label_entropy = _entropy(counts / counts.sum())
            what = f"ln({n_outputs}) for {n_outputs} classes"
        elif name in _BINARY:
            p = np.clip(self.y.reshape(-1, n_outputs).astype(float).mean(axis=0), 0, 1)
            entropies = [_entropy(np.array([q, 1 - q])) for q in p]
            self.expected = math.log(2.0)
            self.label_entropy = float(np.mean(entropies))
            what = "ln 2 for a sigmoid output"
        else:
            self.expected = self.label_entropy = None
            self.ok = None
            self.message = f"InitialLossCheck: no expected initial loss for loss {name!r}."
            return None
        low = self.label_entropy * (1 - self.tolerance)
        high = self.expected * (1 + self.tolerance)
        self.ok = bool(low <= self.measured <= high)
        self.message = (
            f"initial loss {self.measured:.4f}; expected about {self.expected:.4f} ({what}; "
            f"label entropy {self.label_entropy:.4f}; accepted [{low:.4f}, {high:.4f}])."
        )
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
