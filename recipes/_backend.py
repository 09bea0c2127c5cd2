"""The few places in `recipes` where the Keras backend matters.

Keras 3 has a backend-neutral API for almost everything this package does; it
has none for these, so they live here, each with one branch per backend:

- `gradients`: the loss and d(loss)/d(trainable variables) on one batch,
  outside `fit` (`recipes.gradient_check.check_gradients`). TensorFlow:
  `tf.GradientTape`; JAX: `jax.value_and_grad` over the model's stateless
  forward pass and loss (`compute_loss_and_updates`, what Keras's own JAX
  train step differentiates); PyTorch: `torch.autograd.grad`.
- `replicas_in_sync`: how many replicas a `tf.distribute` strategy runs the
  model on (1 on the other backends, which have no strategies).
- `steps_per_execution`: how many steps one execution may run (PyTorch's
  Keras trainer accepts only 1).
- `require_backend`: the one error for a feature that exists on some backends
  only (`set_cpu_threads`: TensorFlow's thread pools).

Every backend import happens inside a function, behind the backend check, so
that nothing here imports TensorFlow under JAX.
"""

from __future__ import annotations

from typing import Any

import keras


def backend() -> str:
    """The Keras backend in force (`"tensorflow"`, `"jax"`, `"torch"`, `"numpy"`)."""
    return keras.backend.backend()


def require_backend(feature: str, supported: tuple[str, ...], hint: str = "") -> None:
    """Raise a `RuntimeError` naming the backend when `feature` does not run on it."""
    current = backend()
    if current not in supported:
        names = " and ".join(repr(name) for name in supported)
        raise RuntimeError(
            f"{feature} supports the {names} backend{'s' if len(supported) > 1 else ''} only; "
            f"the Keras backend is {current!r}.{' ' + hint if hint else ''}"
        )


def replicas_in_sync(model: keras.Model) -> int:
    """Replicas of the model's `tf.distribute` strategy (1 without one, or on other backends)."""
    if backend() != "tensorflow":
        return 1  # JAX's keras.distribution and torch run steps_per_execution as usual
    strategy = getattr(model, "distribute_strategy", None)
    return int(getattr(strategy, "num_replicas_in_sync", 1))


def steps_per_execution(wanted: int) -> int:
    """`wanted`, or 1 on PyTorch, whose Keras trainer runs one step per execution."""
    return 1 if backend() == "torch" else int(wanted)


def gradients(model: keras.Model, x: Any, y: Any) -> tuple[float, list[Any]]:
    """Loss and gradients of the compiled loss w.r.t. `model.trainable_variables`, inference mode.

    Inference mode: no dropout, BatchNormalization with its moving statistics,
    so that the result is a deterministic function of the weights (what a
    finite-difference check needs). A variable the loss does not depend on
    gets `None`. Gradients come back as NumPy arrays.
    """
    require_backend("recipes' gradient computation (check_gradients)",
                    ("tensorflow", "jax", "torch"))
    x = keras.ops.convert_to_tensor(x)
    y = keras.ops.convert_to_tensor(y)
    variables = model.trainable_variables
    name = backend()
    if name == "jax":
        import jax  # JAX's autodiff: the backend's own gradient API

        non_trainable = [v.value for v in model.non_trainable_variables]
        metrics = [v.value for v in model.metrics_variables]

        def loss_of(trainable: list[Any]) -> tuple[Any, Any]:
            return model.compute_loss_and_updates(
                trainable, non_trainable, metrics, x, y, None, training=False)

        (loss, _), grads = jax.value_and_grad(loss_of, has_aux=True)(
            [v.value for v in variables])
        # jax.grad gives zeros where the loss does not depend on a variable
    elif name == "tensorflow":
        import tensorflow as tf  # TensorFlow's autodiff: the backend's own gradient API

        with tf.GradientTape() as tape:
            loss = model.compute_loss(x=x, y=y, y_pred=model(x, training=False), training=False)
        grads = tape.gradient(loss, variables)
    else:
        import torch  # PyTorch's autograd: the backend's own gradient API

        loss = model.compute_loss(x=x, y=y, y_pred=model(x, training=False), training=False)
        grads = torch.autograd.grad(loss, [v.value for v in variables], allow_unused=True)
    return float(keras.ops.convert_to_numpy(loss)), [
        None if g is None else keras.ops.convert_to_numpy(g) for g in grads]
