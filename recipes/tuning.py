"""keras-tuner search spaces that already know the lectures: `DNNHyperModel`.

Lecture 001 lists the hyper-parameters worth searching (hidden layers, neurons
per layer, batch size "up to 32", learning rates 0.001, 0.003, 0.01, 0.03 ...)
and notes that the search can be automated. `DNNHyperModel` hands that space to
keras-tuner while keeping the lecture's rules: the initializer follows the
activation (table 11-1, `initializer_for`) and SELU comes with LeCun normal
weights, AlphaDropout and no BatchNormalization (`self_normalizing_dnn`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import keras_tuner

from .callbacks._validation import check_positive
from .defaults import (
    ACTIVATION_ALIASES,
    ACTIVATION_INITIALIZERS,
    DEFAULT_DNN,
    OPTIMIZER_DEFAULTS,
)
from .heads import check_task_outputs
from .models import (
    BATCH_NORM_PLACES,
    _check_input_shape,
    build_dnn,
    self_normalizing_dnn,
)
from .optimizers import compile_recipe
from .search_space import Space, categorical_space, choices, numeric_space

HIDDEN_ACTIVATIONS = tuple(a for a in sorted(ACTIVATION_INITIALIZERS) if a != "softmax")
CLIPPING = ("none", "clipnorm", "clipvalue", "global_clipnorm")

# The lecture's default DNN is the first configuration a tuner tries (GridSearch,
# BayesianOptimization and the first trial use the defaults of the space).
_PREFERRED = {
    "n_hidden": len(DEFAULT_DNN["hidden"]),
    "units": 100,
    "activation": DEFAULT_DNN["activation"],
    "batch_norm": DEFAULT_DNN["batch_norm"],
    "dropout": DEFAULT_DNN["dropout"],
    "optimizer": DEFAULT_DNN["optimizer"],
    "learning_rate": DEFAULT_DNN["learning_rate"],
    "clipping": "none",
    "clip_threshold": 1.0,
    "batch_size": 32,
}


def _declare(hp: keras_tuner.HyperParameters, name: str, space: Space, *,
             log: bool = False, key: str | None = None) -> Any:
    """Register `space` under `name` in `hp` (the lecture's value as default) and return it."""
    return space.declare(hp, name, log=log, default=_PREFERRED.get(key or name))


def _declare_under(hp: keras_tuner.HyperParameters, parent: str, parent_space: Space,
                   active: list[Any], name: str, space: Space, **options: Any) -> Any:
    """Declare `name` only for the values of `parent` (its space `parent_space`) in `active`.

    Returns the value, or None when no value of the parent is active.

    The child lives in a conditional scope when some values of the parent
    leave it out (BatchNorm is not searched for SELU, a clipping threshold
    not without clipping, a layer's width not for shallower networks).
    """
    values = parent_space.values()
    active = [v for v in values if v in active]
    if not active:
        return None
    scope = (hp.conditional_scope(parent, active) if len(active) < len(values)
             else contextlib.nullcontext())
    with scope:
        return _declare(hp, name, space, **options)


class DNNHyperModel(keras_tuner.HyperModel):
    """keras-tuner search space over lecture 001's dense-network hyper-parameters.

    `build(hp)` makes the network with `build_dnn` (or `self_normalizing_dnn`
    when the activation is SELU) and compiles it with `compile_recipe`;
    `fit(hp, model, ...)` also searches the batch size. Searched: number of
    hidden layers (`n_hidden`), neurons per layer (`units`, log scale),
    activation (the initializer follows it: He / Glorot / LeCun), BatchNorm
    placement (never with SELU), dropout (AlphaDropout with SELU), optimizer,
    learning rate (log scale) and gradient clipping.

    Every part of the space can be fixed or narrowed. Numeric arguments take
    a number (fixed), a `(low, high)` tuple (a range) or a list (discrete
    choices, e.g. the lecture's `learning_rate=[0.001, 0.003, 0.01, 0.03]`);
    the others take one value (fixed) or a sequence (choices). The default of
    each hyper-parameter, tried first by GridSearch and BayesianOptimization,
    is the lecture's default DNN where the space allows it (2 layers, ELU,
    BN after, dropout 0.2, Adam 1e-3, batch 32).

    Example:

    ```python
    data = load_digits()
    hypermodel = DNNHyperModel(data.input_shape, data.n_classes,
                               activations=("elu", "selu"), n_hidden=(1, 4))
    tuner = keras_tuner.RandomSearch(hypermodel, objective=hypermodel.objective,
                                     max_trials=10, directory="tuning")
    tuner.search(*data.train, validation_data=data.valid, epochs=10)
    tuner.get_best_hyperparameters()[0].values
    ```

    Args:
        input_shape: shape of one sample (no batch dimension).
        n_outputs: classes (multiclass), 1 (binary) or targets (regression).
        task: `"multiclass"`, `"binary"` or `"regression"`.
        n_hidden: number of hidden layers (int, range or list).
        units: neurons per hidden layer (int, range searched on a log scale,
            or list).
        per_layer_units: one `units_<i>` per layer instead of one shared
            width (HOML: the same width everywhere usually does as well).
        activations: hidden activations (names of table 11-1).
        batch_norm: BN placements among `None`, `"before"`, `"after"`
            (not used with SELU).
        dropout: dropout rate in [0, 1) (number, range or list).
        optimizers: names for `make_optimizer` (sgd, momentum, nesterov,
            adagrad, rmsprop, adam, nadam, adamax, adamw).
        learning_rate: learning rate > 0 (number, range searched on a log
            scale, or list).
        clipping: gradient clipping among `"none"`, `"clipnorm"`,
            `"clipvalue"`, `"global_clipnorm"`.
        clip_threshold: the clipping threshold > 0 (number, log range or list).
        batch_sizes: batch sizes for `fit` (lecture 001: up to 32 preferred).
        normalize: sample inputs to adapt a `Normalization` input layer (SELU
            needs standardized inputs), or `None`.
        fast: `compile_recipe(fast=...)`; pass `False` for per-step callbacks
            such as `callbacks.PowerScheduling`.
        name: name of the hypermodel.
        tunable: keras-tuner's flag (new entries are tuned).
    """

    def __init__(
        self,
        input_shape: int | Sequence[int],
        n_outputs: int,
        *,
        task: str = "multiclass",
        n_hidden: int | tuple[int, int] | list[int] = (1, 5),
        units: int | tuple[int, int] | list[int] = (32, 512),
        per_layer_units: bool = False,
        activations: str | Sequence[str] = ("selu", "elu", "leaky_relu", "relu", "tanh"),
        batch_norm: str | None | Sequence[str | None] = (None, "before", "after"),
        dropout: float | tuple[float, float] | list[float] = (0.0, 0.5),
        optimizers: str | Sequence[str] = ("sgd", "momentum", "nesterov", "rmsprop", "adam",
                                           "nadam"),
        learning_rate: float | tuple[float, float] | list[float] = (1e-4, 1e-1),
        clipping: str | Sequence[str] = ("none", "clipnorm", "clipvalue"),
        clip_threshold: float | tuple[float, float] | list[float] = 1.0,
        batch_sizes: int | Sequence[int] = (16, 32, 64),
        normalize: Any = None,
        fast: bool = True,
        name: str | None = None,
        tunable: bool = True,
    ) -> None:
        super().__init__(name=name, tunable=tunable)
        self.input_shape = _check_input_shape(input_shape)
        check_task_outputs(n_outputs, task)
        self.n_outputs = int(n_outputs)
        self.task = task
        if not isinstance(per_layer_units, bool):
            raise TypeError(f"`per_layer_units` must be a bool; received {per_layer_units!r}.")
        if not isinstance(fast, bool):
            raise TypeError(f"`fast` must be a bool; received {fast!r}.")
        self.per_layer_units = per_layer_units
        self.fast = fast
        self.normalize = normalize
        self._arguments = {
            "n_hidden": n_hidden, "units": units, "activations": activations,
            "batch_norm": batch_norm, "dropout": dropout, "optimizers": optimizers,
            "learning_rate": learning_rate, "clipping": clipping,
            "clip_threshold": clip_threshold, "batch_sizes": batch_sizes,
        }
        accepted_activations = list(HIDDEN_ACTIVATIONS) + sorted(ACTIVATION_ALIASES)
        if isinstance(activations, str):
            activations = (activations,)
        activation_space = categorical_space("activations", activations, accepted_activations)
        names = [ACTIVATION_ALIASES.get(a, a) for a in activation_space.values()]
        if len(set(names)) != len(names):
            raise ValueError(f"`activations` names an activation twice; received {activations!r}.")
        places = [None] if batch_norm is None else batch_norm
        places = [places] if isinstance(places, str) else places
        bn_space = categorical_space("batch_norm", places, BATCH_NORM_PLACES + ("none",))
        bn_names = ["none" if p is None else p for p in bn_space.values()]
        if len(set(bn_names)) != len(bn_names):
            raise ValueError(f"`batch_norm` lists a placement twice; received {batch_norm!r}.")
        if isinstance(batch_sizes, Sequence) and not isinstance(batch_sizes, str):
            for size in batch_sizes:
                check_positive("batch_sizes", size, integer=True)
            sizes: Any = [int(s) for s in batch_sizes]
        else:
            sizes = int(check_positive("batch_sizes", batch_sizes, integer=True))
        self.space: dict[str, Space] = {
            "n_hidden": numeric_space("n_hidden", n_hidden, integer=True, minimum=1),
            "units": numeric_space("units", units, integer=True, minimum=1),
            "activation": choices(names),
            "batch_norm": choices(bn_names),
            "dropout": numeric_space("dropout", dropout, minimum=0, maximum=1,
                                      max_inclusive=False),
            "optimizer": choices(categorical_space(
                "optimizers", (optimizers,) if isinstance(optimizers, str) else optimizers,
                sorted(OPTIMIZER_DEFAULTS)).values()),
            "learning_rate": numeric_space("learning_rate", learning_rate, minimum=0,
                                            min_inclusive=False),
            "clipping": choices(categorical_space(
                "clipping", (clipping,) if isinstance(clipping, str) else clipping,
                CLIPPING).values()),
            "clip_threshold": numeric_space("clip_threshold", clip_threshold, minimum=0,
                                             min_inclusive=False),
            "batch_size": categorical_space("batch_sizes", sizes, [sizes] if isinstance(
                sizes, int) else sizes),
        }

    @property
    def objective(self) -> str:
        """The tuner objective that fits the task: `"val_accuracy"` or `"val_loss"`."""
        return "val_loss" if self.task == "regression" else "val_accuracy"

    def declare_hyperparameters(self, hp: keras_tuner.HyperParameters) -> None:
        """Register the batch size (searched in `fit`) before the first trial.

        Example:

        ```python
        hp = keras_tuner.HyperParameters()
        DNNHyperModel((64,), 10).declare_hyperparameters(hp)
        ```

        Args:
            hp: the `keras_tuner.HyperParameters` of the search.
        """
        _declare(hp, "batch_size", self.space["batch_size"])

    def build(self, hp: keras_tuner.HyperParameters) -> Any:
        """Build and compile one network from the values in `hp`.

        Example:

        ```python
        model = DNNHyperModel((64,), 10).build(keras_tuner.HyperParameters())
        ```

        Args:
            hp: the trial's `keras_tuner.HyperParameters`.
        """
        space = self.space
        n_hidden = _declare(hp, "n_hidden", space["n_hidden"])
        if self.per_layer_units:
            counts = space["n_hidden"].values()
            widths = []
            # every layer's width is in the space, whatever this trial's depth
            for i in range(1, max(counts) + 1):
                width = _declare_under(hp, "n_hidden", space["n_hidden"],
                                       [n for n in counts if n >= i], f"units_{i}",
                                       space["units"], log=True, key="units")
                if i <= n_hidden:
                    widths.append(width)
        else:
            widths = [_declare(hp, "units", space["units"], log=True)] * n_hidden
        activation = _declare(hp, "activation", space["activation"])
        activations = space["activation"].values()
        batch_norm = _declare_under(hp, "activation", space["activation"],
                                    [a for a in activations if a != "selu"],
                                    "batch_norm", space["batch_norm"])
        dropout = _declare(hp, "dropout", space["dropout"])
        optimizer = _declare(hp, "optimizer", space["optimizer"])
        learning_rate = _declare(hp, "learning_rate", space["learning_rate"], log=True)
        clipping = _declare(hp, "clipping", space["clipping"])
        threshold = _declare_under(hp, "clipping", space["clipping"],
                                   [k for k in space["clipping"].values() if k != "none"],
                                   "clip_threshold", space["clip_threshold"], log=True)
        common = {"task": self.task, "normalize": self.normalize, "dropout": dropout}
        if activation == "selu":
            model = self_normalizing_dnn(self.input_shape, self.n_outputs, hidden=widths,
                                         **common)
        else:
            model = build_dnn(
                self.input_shape, self.n_outputs, hidden=widths, activation=activation,
                initializer="auto", batch_norm=None if batch_norm == "none" else batch_norm,
                **common,
            )
        clip = {clipping: threshold} if clipping != "none" else {}
        # compile_recipe drops steps_per_execution to 1 under a multi-replica strategy.
        return compile_recipe(model, optimizer, learning_rate=learning_rate, fast=self.fast,
                              **clip)

    def fit(self, hp: keras_tuner.HyperParameters, model: Any, *args: Any, **kwargs: Any) -> Any:
        """Train `model` with the batch size drawn from `hp`; returns the `History`.

        Example:

        ```python
        history = hypermodel.fit(hp, model, x, y, validation_data=(xv, yv), epochs=5)
        ```

        Args:
            hp: the trial's `keras_tuner.HyperParameters`.
            model: the model `build(hp)` returned.
            *args: positional arguments of `model.fit` (e.g. `x, y`).
            **kwargs: keyword arguments of `model.fit`, without `batch_size`
                (it is searched: narrow it with `batch_sizes=`).
        """
        if "batch_size" in kwargs:
            raise ValueError(
                f"`batch_size={kwargs['batch_size']!r}` was passed to search/fit, but "
                "DNNHyperModel searches the batch size; fix it with "
                "DNNHyperModel(..., batch_sizes=N) instead."
            )
        batch_size = _declare(hp, "batch_size", self.space["batch_size"])
        return model.fit(*args, batch_size=batch_size, **kwargs)

    def get_config(self) -> dict[str, Any]:
        """Return the constructor arguments (`DNNHyperModel(**config)` rebuilds it).

        Example:

        ```python
        clone = DNNHyperModel.from_config(hypermodel.get_config())
        ```
        """
        return {
            "input_shape": self.input_shape, "n_outputs": self.n_outputs, "task": self.task,
            **self._arguments, "per_layer_units": self.per_layer_units,
            "normalize": self.normalize, "fast": self.fast, "name": self.name,
            "tunable": self.tunable,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> DNNHyperModel:
        """Rebuild a `DNNHyperModel` from `get_config()`.

        Example:

        ```python
        clone = DNNHyperModel.from_config(hypermodel.get_config())
        ```

        Args:
            config: the dictionary `get_config()` returned.
        """
        return cls(**config)

