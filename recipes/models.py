"""Model factories with the lectures' defaults: dense blocks, DNNs, self-normalizing DNNs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from .callbacks._validation import (
    check_choice,
    check_fraction,
    check_non_negative,
    check_positive,
)
from .defaults import BATCH_NORM_PLACES, DEFAULT_DNN, canonical_activation, initializer_for
from .heads import TASKS, output_layer

__all__ = [
    "TASKS", "build_dnn", "default_dnn", "dense_block", "output_layer", "self_normalizing_dnn",
]


def dense_block(
    units: int,
    *,
    activation: str | None = "elu",
    initializer: str | keras.initializers.Initializer = "auto",
    batch_norm: str | None = None,
    dropout: float = 0.0,
    alpha_dropout: bool = False,
    l1: float = 0.0,
    l2: float = 0.0,
    max_norm: float | None = None,
    name: str | None = None,
) -> list[keras.layers.Layer]:
    """Return the layers of one hidden block: Dense, BatchNormalization, activation, dropout.

    With `batch_norm="before"` the Dense layer has no bias (the BN shift
    replaces it) and the activation follows the normalization; with
    `batch_norm="after"` the BN layer follows the activated Dense layer, as in
    lecture 001's Keras snippet. `"prelu"` adds a `PReLU` layer, the other
    activations are Keras activation names.

    Example:

    ```python
    layers = dense_block(100, activation="relu", batch_norm="before", dropout=0.2)
    model = keras.Sequential([keras.Input((64,)), *layers, keras.layers.Dense(10)])
    ```

    Args:
        units: number of neurons (> 0).
        activation: activation name from table 11-1 (`None` for linear).
        initializer: `"auto"` (table 11-1 via `initializer_for`), or any
            Keras initializer name or object, which wins.
        batch_norm: `None`, `"before"` or `"after"` the activation.
        dropout: dropout rate in [0, 1).
        alpha_dropout: use `AlphaDropout` (for SELU) instead of `Dropout`.
        l1: L1 penalty on the kernel (>= 0; lecture 001: for sparse models).
        l2: L2 penalty on the kernel (>= 0).
        max_norm: max-norm constraint on each unit's incoming weights (> 0),
            or `None`.
        name: prefix of the layer names.
    """
    check_positive("units", units, integer=True)
    activation = canonical_activation(activation)
    check_choice("batch_norm", batch_norm, BATCH_NORM_PLACES)
    check_fraction("dropout", dropout)
    check_non_negative("l1", l1)
    check_non_negative("l2", l2)
    if max_norm is not None:
        check_positive("max_norm", max_norm)
    if initializer == "auto":
        initializer = initializer_for(activation)
    else:
        try:
            keras.initializers.get(initializer)
        except (ValueError, TypeError) as error:
            raise ValueError(
                "`initializer` must be 'auto', a Keras initializer name such as 'he_normal' or "
                f"an initializer object; received {initializer!r}."
            ) from error
    if alpha_dropout and not dropout:
        raise ValueError(
            "`alpha_dropout=True` needs a dropout rate: pass `dropout` in (0, 1); received "
            f"dropout={dropout!r}."
        )

    def layer_name(suffix: str) -> str | None:
        return f"{name}_{suffix}" if name else None

    separate_activation = batch_norm == "before" or activation == "prelu"
    layers: list[keras.layers.Layer] = [
        keras.layers.Dense(
            int(units),
            activation=None if separate_activation else activation,
            use_bias=batch_norm != "before",
            kernel_initializer=initializer,
            kernel_regularizer=keras.regularizers.L1L2(l1, l2) if (l1 or l2) else None,
            kernel_constraint=keras.constraints.MaxNorm(max_norm) if max_norm else None,
            name=layer_name("dense"),
        )
    ]
    if batch_norm == "before":
        layers.append(keras.layers.BatchNormalization(name=layer_name("bn")))
    if separate_activation:
        if activation == "prelu":
            layers.append(keras.layers.PReLU(name=layer_name("prelu")))
        else:
            layers.append(keras.layers.Activation(activation, name=layer_name(activation)))
    if batch_norm == "after":
        layers.append(keras.layers.BatchNormalization(name=layer_name("bn")))
    if dropout:
        dropout_class = keras.layers.AlphaDropout if alpha_dropout else keras.layers.Dropout
        layers.append(dropout_class(float(dropout), name=layer_name("dropout")))
    return layers


def _check_input_shape(input_shape: Any) -> tuple[int, ...]:
    shape = (input_shape,) if isinstance(input_shape, int) else tuple(input_shape)
    if not shape or not all(isinstance(d, (int, np.integer)) and d > 0 for d in shape):
        raise ValueError(
            "`input_shape` must be a positive int or a tuple of positive ints (no batch "
            f"dimension); received {input_shape!r}."
        )
    return tuple(int(d) for d in shape)


def _check_hidden(hidden: Any) -> tuple[int, ...]:
    if isinstance(hidden, (int, str)) or not isinstance(hidden, Sequence):
        raise TypeError(
            f"`hidden` must be a sequence of layer widths such as (300, 100); received {hidden!r}."
        )
    if not hidden:
        raise ValueError(
            "`hidden` must list at least one layer width such as (300, 100); received "
            f"{hidden!r}."
        )
    for units in hidden:
        check_positive("hidden", units, integer=True)
    return tuple(int(u) for u in hidden)


def _normalization_layer(normalize: Any, input_shape: tuple[int, ...]) -> keras.layers.Layer:
    data = np.asarray(normalize, dtype="float32")
    if data.ndim < 2 or data.shape[1:] != input_shape:
        raise ValueError(
            f"`normalize` must be sample data of shape (n, *{input_shape}) to adapt the "
            f"Normalization layer; received an array of shape {data.shape}."
        )
    layer = keras.layers.Normalization(name="normalize")
    layer.adapt(data)
    return layer


def build_dnn(
    input_shape: int | Sequence[int],
    n_outputs: int,
    *,
    hidden: Sequence[int] = (300, 100),
    activation: str | None = "elu",
    initializer: str | keras.initializers.Initializer = "auto",
    batch_norm: str | None = None,
    dropout: float = 0.0,
    l1: float = 0.0,
    l2: float = 0.0,
    max_norm: float | None = None,
    task: str = "multiclass",
    normalize: Any = None,
    calibrate_output: bool = True,
    class_priors: Sequence[float] | float | None = None,
    alpha_dropout: bool = False,
    name: str = "dnn",
) -> keras.Sequential:
    """Build an uncompiled dense network whose initializer follows its activation.

    Inputs of rank > 1 (e.g. 28x28 images) are flattened. Each hidden layer is
    a `dense_block`; the output layer follows `task` and is calibrated so the
    initial loss is the label entropy (`output_layer`).

    Example:

    ```python
    model = build_dnn((64,), 10, hidden=(100,) * 10, activation="elu", batch_norm="before")
    model = compile_recipe(model)
    model.fit(x_train, y_train, epochs=10, validation_data=(x_valid, y_valid))
    ```

    Args:
        input_shape: shape of one sample, without the batch dimension.
        n_outputs: classes (multiclass), 1 (binary) or targets (regression).
        hidden: widths of the hidden layers, input side first.
        activation: hidden activation (table 11-1 names; `"prelu"` adds PReLU
            layers).
        initializer: `"auto"` follows the activation (He / Glorot / LeCun);
            an explicit Keras initializer wins.
        batch_norm: `None`, `"before"` (Dense without bias, BN, activation)
            or `"after"` the activation.
        dropout: dropout rate after each hidden block, in [0, 1).
        l1: L1 kernel penalty (>= 0).
        l2: L2 kernel penalty (>= 0).
        max_norm: max-norm kernel constraint (> 0) or `None`.
        task: `"multiclass"` (softmax), `"binary"` (sigmoid) or
            `"regression"` (linear).
        normalize: sample inputs to adapt a `Normalization` input layer
            ("normalize the input features", lecture 001), or `None`.
        calibrate_output: start at the label entropy (checklist 1).
        class_priors: class frequencies used by the calibrated output bias.
        alpha_dropout: use `AlphaDropout` instead of `Dropout`.
        name: the model name.
    """
    shape = _check_input_shape(input_shape)
    widths = _check_hidden(hidden)
    if not isinstance(calibrate_output, bool):
        raise TypeError(f"`calibrate_output` must be a bool; received {calibrate_output!r}.")
    layers: list[keras.layers.Layer] = [keras.Input(shape=shape, name="features")]
    if normalize is not None:
        layers.append(_normalization_layer(normalize, shape))
    if len(shape) > 1:
        layers.append(keras.layers.Flatten(name="flatten"))
    for index, units in enumerate(widths, start=1):
        layers += dense_block(
            units,
            activation=activation,
            initializer=initializer,
            batch_norm=batch_norm,
            dropout=dropout,
            alpha_dropout=alpha_dropout,
            l1=l1,
            l2=l2,
            max_norm=max_norm,
            name=f"hidden_{index}",
        )
    layers.append(
        output_layer(n_outputs, task=task, calibrate=calibrate_output, class_priors=class_priors)
    )
    return keras.Sequential(layers, name=name)


def default_dnn(
    input_shape: int | Sequence[int],
    n_outputs: int,
    *,
    task: str = "multiclass",
    compile: bool = True,
    learning_rate: float | None = None,
    **overrides: Any,
) -> keras.Sequential:
    """Build lecture 001's default DNN: He init, ELU, BatchNorm, dropout, Adam, no schedule.

    Returns the model compiled with Adam (`recipes.compile_recipe`) unless
    `compile=False`. Any `build_dnn` argument can be overridden.

    Example:

    ```python
    data = load_digits()
    model = default_dnn(data.input_shape, data.n_classes)
    model.fit(*data.train, validation_data=data.valid, epochs=10)
    ```

    Args:
        input_shape: shape of one sample.
        n_outputs: classes, 1 for binary, targets for regression.
        task: `"multiclass"`, `"binary"` or `"regression"`.
        compile: compile with Adam and the loss/metrics that fit the task.
        learning_rate: Adam's rate (default from `DEFAULT_DNN`: 1e-3).
        **overrides: other `build_dnn` arguments (e.g. `hidden`, `dropout`,
            `normalize`).
    """
    settings = {
        "hidden": DEFAULT_DNN["hidden"],
        "activation": DEFAULT_DNN["activation"],
        "initializer": "auto",  # He for the table's ELU; follows an overridden activation
        "batch_norm": DEFAULT_DNN["batch_norm"],
        "dropout": DEFAULT_DNN["dropout"],
    }
    settings.update(overrides)
    if learning_rate is not None:
        check_positive("learning_rate", learning_rate)
        if not compile:
            raise ValueError(
                "`learning_rate` is Adam's rate and applies only with compile=True; received "
                f"learning_rate={learning_rate!r} with compile=False."
            )
    model = build_dnn(input_shape, n_outputs, task=task, name="default_dnn", **settings)
    if compile:
        from .optimizers import compile_recipe

        compile_recipe(
            model,
            DEFAULT_DNN["optimizer"],
            learning_rate=DEFAULT_DNN["learning_rate"] if learning_rate is None else learning_rate,
        )
    return model


_SELU_RULES = {
    "activation": "self-normalization is a property of SELU's fixed point (mean 0, "
    "variance 1); other activations do not converge to it",
    "initializer": "each layer keeps unit variance only with LeCun normal weights "
    "(variance 1/fan_in)",
    "batch_norm": "SELU normalizes the activations itself; BatchNormalization rescales them "
    "and the network is no longer self-normalizing (drop BN, or use default_dnn)",
    "dropout_layer": "regular Dropout zeroes units and rescales the rest by 1/(1-rate), "
    "which moves the mean and variance off the fixed point; AlphaDropout keeps them",
    "l1": "weight penalties pull the weights away from the LeCun normal distribution "
    "the fixed point relies on",
    "l2": "weight penalties pull the weights away from the LeCun normal distribution "
    "the fixed point relies on",
    "max_norm": "a max-norm constraint clips the weights away from the LeCun normal "
    "distribution the fixed point relies on",
}


def self_normalizing_dnn(
    input_shape: int | Sequence[int],
    n_outputs: int,
    *,
    hidden: Sequence[int] = (300, 100),
    dropout: float = 0.0,
    task: str = "multiclass",
    normalize: Any = None,
    activation: str = "selu",
    initializer: str = "lecun_normal",
    batch_norm: str | None = None,
    dropout_layer: str = "alpha",
    l1: float = 0.0,
    l2: float = 0.0,
    max_norm: float | None = None,
    name: str = "self_normalizing_dnn",
) -> keras.Sequential:
    """Build a self-normalizing network: SELU, LeCun normal, AlphaDropout, no BN.

    Lecture 001 ranks SELU first (SELU > ELU > leaky ReLU > ReLU > tanh >
    logistic) for plain stacks of dense layers, provided the inputs are
    standardized (pass `normalize=x_train`) and nothing breaks
    self-normalization. Arguments that would break it are refused with a
    `ValueError` that says why.

    Example:

    ```python
    model = self_normalizing_dnn((64,), 10, hidden=(100,) * 10, normalize=x_train)
    compile_recipe(model, "nadam")
    ```

    Args:
        input_shape: shape of one sample.
        n_outputs: classes, 1 for binary, targets for regression.
        hidden: widths of the hidden layers.
        dropout: AlphaDropout rate in [0, 1).
        task: `"multiclass"`, `"binary"` or `"regression"`.
        normalize: sample inputs to adapt a `Normalization` input layer.
        activation: must be `"selu"`.
        initializer: must be `"lecun_normal"`.
        batch_norm: must be `None`.
        dropout_layer: must be `"alpha"`.
        l1: must be 0.
        l2: must be 0.
        max_norm: must be `None`.
        name: the model name.
    """
    requested = {
        "activation": activation,
        "initializer": initializer,
        "batch_norm": batch_norm,
        "dropout_layer": dropout_layer,
        "l1": l1,
        "l2": l2,
        "max_norm": max_norm,
    }
    required = {
        "activation": "selu",
        "initializer": "lecun_normal",
        "batch_norm": None,
        "dropout_layer": "alpha",
        "l1": 0.0,
        "l2": 0.0,
        "max_norm": None,
    }
    for argument, value in requested.items():
        if value != required[argument]:
            raise ValueError(
                f"self_normalizing_dnn: `{argument}={value!r}` breaks self-normalization: "
                f"{_SELU_RULES[argument]}. Accepted: {argument}={required[argument]!r}."
            )
    return build_dnn(
        input_shape,
        n_outputs,
        hidden=hidden,
        activation="selu",
        initializer="lecun_normal",
        dropout=dropout,
        alpha_dropout=bool(dropout),
        task=task,
        normalize=normalize,
        name=name,
    )
