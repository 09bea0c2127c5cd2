"""Independent reference gradients for the gradient-callback tests, on the backend in use.

`jax.grad` of the loss over `stateless_call` on JAX, `tf.GradientTape` on
TensorFlow, `torch.autograd.grad` on PyTorch: nothing here goes through `fit`,
the optimizer or the tap.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np


def sparse_ce(y: Any, y_pred: Any) -> Any:
    """Mean sparse categorical cross-entropy (what the tests compile with)."""
    return keras.ops.mean(keras.losses.sparse_categorical_crossentropy(y, y_pred))


def reference_grads(model: keras.Model, x: Any, y: Any, loss: Any = sparse_ce,
                    variables: list[Any] | None = None) -> list[np.ndarray]:
    """d loss(y, model(x)) / d variables (default: the trainable ones), as NumPy arrays."""
    variables = list(model.trainable_variables if variables is None else variables)
    if keras.backend.backend() == "jax":
        import jax

        everything = model.trainable_variables + model.non_trainable_variables
        positions = [next(i for i, v in enumerate(everything) if v is w) for w in variables]

        def loss_of(values):
            state = [v.value for v in everything]
            for position, value in zip(positions, values, strict=True):
                state[position] = value
            n = len(model.trainable_variables)
            y_pred, _ = model.stateless_call(state[:n], state[n:], x)
            return loss(y, y_pred)

        grads = jax.grad(loss_of)([v.value for v in variables])
    elif keras.backend.backend() == "torch":
        import torch

        grads = torch.autograd.grad(loss(y, model(x)), [v.value for v in variables])
    else:
        import tensorflow as tf

        with tf.GradientTape() as tape:
            value = loss(y, model(x))
        grads = tape.gradient(value, variables)
    return [np.asarray(keras.ops.convert_to_numpy(g), dtype=np.float64) for g in grads]


def reference_norms(model: keras.Model, x: Any, y: Any, **kwargs: Any) -> tuple[list[float],
                                                                               float]:
    """Per-variable L2 norms of `reference_grads` and their global norm."""
    norms = [float(np.linalg.norm(g)) for g in reference_grads(model, x, y, **kwargs)]
    return norms, float(np.sqrt(np.sum(np.square(norms))))


def toy_data(n: int = 64, d: int = 8, classes: int = 3, seed: int = 0) -> tuple[Any, Any]:
    """`n` standard-normal rows of `d` features and integer labels in [0, classes)."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)).astype("float32"), rng.integers(0, classes, n)


class ToySubclassed(keras.Model):
    """The toy network (8 -> 5 tanh -> 3 softmax) as a subclassed model."""

    def __init__(self):
        super().__init__(name="sub")
        self.hidden = keras.layers.Dense(5, activation="tanh", name="hidden")
        self.out = keras.layers.Dense(3, activation="softmax", name="out")

    def call(self, x):
        return self.out(self.hidden(x))


def toy_model(kind: str = "sequential", seed: int = 1, functional_class: Any = keras.Model
              ) -> keras.Model:
    """8 -> 5 tanh (`hidden`) -> 3 softmax (`out`): Sequential, Functional or subclassed."""
    keras.utils.set_random_seed(seed)
    if kind == "subclassed":
        model = ToySubclassed()
        model(np.zeros((1, 8), "float32"))
        return model
    hidden = keras.layers.Dense(5, activation="tanh", name="hidden")
    out = keras.layers.Dense(3, activation="softmax", name="out")
    if kind == "sequential":
        return keras.Sequential([keras.Input((8,)), hidden, out])
    inputs = keras.Input((8,))
    return functional_class(inputs, out(hidden(inputs)))
