"""The lectures' tables as data: initializer per activation, default DNN, optimizer defaults.

Everything else in the package reads its defaults and its vocabularies (the
names an argument accepts) from here, so a table in the slides, or a list of
names, has exactly one place in the code. The module imports no Keras, so the
command line can offer the names before Keras starts.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from .callbacks._validation import check_choice

# Lecture 001, table 11-1 (Hands-On ML 2nd ed.): initialization per activation.
#   Glorot  None, tanh, logistic, softmax   sigma^2 = 1 / fan_avg
#   He      ReLU and variants               sigma^2 = 2 / fan_in
#   LeCun   SELU                            sigma^2 = 1 / fan_in
ACTIVATION_INITIALIZERS: MappingProxyType[str, str] = MappingProxyType(
    {
        "linear": "glorot",
        "tanh": "glorot",
        "sigmoid": "glorot",
        "softmax": "glorot",
        "relu": "he",
        "leaky_relu": "he",
        "elu": "he",
        "gelu": "he",
        "swish": "he",
        "silu": "he",
        "prelu": "he",
        "selu": "lecun",
    }
)
"""Activation name -> initializer family ("glorot", "he" or "lecun")."""

ACTIVATION_ALIASES: MappingProxyType[str, str] = MappingProxyType(
    {"none": "linear", "logistic": "sigmoid"}
)
"""Names the slides use for Keras activations (`None` also means linear)."""

DISTRIBUTIONS = ("normal", "uniform")

BATCH_NORM_PLACES = (None, "before", "after")
"""Where `build_dnn` puts BatchNormalization: nowhere, before or after the activation."""

# Lecture 001, "Default DNN configuration": He init, ELU, BN, dropout, Adam, no schedule.
DEFAULT_DNN: MappingProxyType[str, Any] = MappingProxyType(
    {
        "hidden": (300, 100),
        "activation": "elu",
        "initializer": "he_normal",
        "batch_norm": "after",
        "dropout": 0.2,
        "optimizer": "adam",
        "learning_rate": 1e-3,
        "schedule": None,
    }
)
"""The default DNN configuration table of lecture 001."""

# Lecture 001's optimizer snippets (Keras spelling brought to Keras 3) and
# lecture 000's default learning rate for plain SGD (0.01).
OPTIMIZER_DEFAULTS: MappingProxyType[str, MappingProxyType[str, Any]] = MappingProxyType(
    {
        "sgd": MappingProxyType({"class": "SGD", "learning_rate": 0.01}),
        "momentum": MappingProxyType(
            {"class": "SGD", "learning_rate": 0.001, "momentum": 0.9}
        ),
        "nesterov": MappingProxyType(
            {"class": "SGD", "learning_rate": 0.001, "momentum": 0.9, "nesterov": True}
        ),
        "adagrad": MappingProxyType({"class": "Adagrad", "learning_rate": 0.001}),
        "rmsprop": MappingProxyType({"class": "RMSprop", "learning_rate": 0.001, "rho": 0.9}),
        "adam": MappingProxyType(
            {
                "class": "Adam",
                "learning_rate": 0.001,
                "beta_1": 0.9,
                "beta_2": 0.999,
                "epsilon": 1e-7,
            }
        ),
        "nadam": MappingProxyType(
            {"class": "Nadam", "learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999}
        ),
        "adamax": MappingProxyType(
            {"class": "Adamax", "learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999}
        ),
        "adamw": MappingProxyType(
            {"class": "AdamW", "learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999}
        ),
    }
)
"""Optimizer name -> Keras class and the lectures' default arguments."""

MOMENTUM_OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop")
"""The `make_optimizer` names that take `momentum=` (the Adam family takes `beta_1=`)."""

CLIPPING_ARGUMENTS = ("clipvalue", "clipnorm", "global_clipnorm")
"""`make_optimizer`'s gradient-clipping arguments, of which one at most is used."""

SCHEDULE_NAMES = ("power", "exponential", "piecewise_constant", "cosine")
"""The schedules `make_schedule` builds by name."""


def default_learning_rate(optimizer: str) -> float:
    """The lectures' learning rate for an optimizer name (SGD 0.01, the others 0.001).

    Example:

    ```python
    default_learning_rate("adam")  # 0.001
    ```

    Args:
        optimizer: a name of `OPTIMIZER_DEFAULTS`.
    """
    check_choice("optimizer", optimizer, sorted(OPTIMIZER_DEFAULTS))
    return float(OPTIMIZER_DEFAULTS[optimizer]["learning_rate"])


def canonical_activation(activation: str | None) -> str:
    """Return the Keras name of `activation` (`None`, "none" -> "linear").

    Example:

    ```python
    canonical_activation("logistic")  # "sigmoid"
    ```

    Args:
        activation: an activation name from table 11-1, or `None`.
    """
    if activation is None:
        return "linear"
    if not isinstance(activation, str):
        raise TypeError(
            f"`activation` must be a string name or None; received {activation!r} "
            f"({type(activation).__name__}). Accepted: {sorted(ACTIVATION_INITIALIZERS)}."
        )
    name = ACTIVATION_ALIASES.get(activation.lower(), activation.lower())
    check_choice("activation", name, sorted(ACTIVATION_INITIALIZERS))
    return name


def initializer_for(activation: str | None, distribution: str = "normal") -> str:
    """Return the Keras initializer that table 11-1 pairs with `activation`.

    Glorot for none/linear, tanh, sigmoid (logistic) and softmax; He for ReLU
    and its variants (leaky ReLU, ELU, GELU, swish/SiLU, PReLU); LeCun for
    SELU. This is the single place in the package that knows the table.

    Example:

    ```python
    initializer_for("elu")                # "he_normal"
    initializer_for("tanh", "uniform")    # "glorot_uniform"
    initializer_for("selu")               # "lecun_normal"
    ```

    Args:
        activation: activation name (see `ACTIVATION_INITIALIZERS`), or
            `None` for a linear layer.
        distribution: `"normal"` (truncated normal, Keras's `*_normal`) or
            `"uniform"`.
    """
    family = ACTIVATION_INITIALIZERS[canonical_activation(activation)]
    check_choice("distribution", distribution, DISTRIBUTIONS)
    return f"{family}_{distribution}"
