"""A recipe: one mapping of the factory and training arguments, read, written and built.

A recipe names what `build_dnn`, `make_optimizer` / `compile_recipe`,
`make_schedule` and `fit` take, so that one file (JSON, or TOML read with the
standard library's `tomllib`) describes a whole training run.
`keras-recipes train --recipe FILE` reads one, `keras-recipes tune` writes
one, and every key is also a flag of `train` (`--hidden 100 100`,
`--activation sigmoid`, ...) that overrides the file. A recipe that sets no
architecture key (`ARCHITECTURE_KEYS`) is lecture 001's default DNN (He init,
ELU, BatchNorm after the activation, dropout 0.2, Adam 1e-3, no schedule);
one that sets any of them describes its own network, and the unset ones take
`build_dnn`'s plain defaults (no BatchNorm, no dropout), so
`{"hidden": [100] * 20, "activation": "sigmoid"}` is the lectures' deep
sigmoid net, not a BatchNorm net. Batch 32, 30 epochs, seed 42.

Who checks what: a key that is a factory's argument is checked by that
factory when `build_model` calls it, and its error comes back as a
`RecipeError` naming the key; this module checks only what belongs to the
recipe itself (unknown keys, `batch_size`, `epochs`, `seed`, and
`schedule_steps` without a `schedule`). It imports no Keras.

Keys (`RECIPE_KEYS`): `hidden`, `activation`, `initializer`, `batch_norm`,
`dropout`, `l1`, `l2`, `optimizer`, `learning_rate`, `momentum`, `decay`,
`schedule`, `schedule_steps`, `clipnorm`, `clipvalue`, `global_clipnorm`,
`batch_size`, `epochs`, `seed`.

Example:

```json
{"hidden": [100, 100, 100], "activation": "selu", "optimizer": "nadam",
 "learning_rate": 0.003, "clipnorm": 1.0, "epochs": 20}
```
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ..callbacks._validation import check_number
from ..defaults import (
    CLIPPING_ARGUMENTS,
    DEFAULT_DNN,
    SCHEDULE_NAMES,
    canonical_activation,
    default_learning_rate,
)

SCHEDULE_LENGTH = {"power": "s", "exponential": "s", "cosine": "decay_steps"}
"""`schedule_steps` is this argument of `make_schedule` for each schedule a recipe can name."""

RECIPE_SCHEDULES = tuple(name for name in SCHEDULE_NAMES if name in SCHEDULE_LENGTH)
"""The `make_schedule` names a recipe takes (the others need more than a length)."""

# key -> (default, help)
RECIPE_KEYS: dict[str, tuple[Any, str]] = {
    "hidden": (list(DEFAULT_DNN["hidden"]), "widths of the hidden layers"),
    "activation": (DEFAULT_DNN["activation"], "hidden activation (table 11-1)"),
    "initializer": ("auto", "kernel initializer; 'auto' follows the activation (He/Glorot/LeCun)"),
    "batch_norm": (DEFAULT_DNN["batch_norm"],
                   "BatchNormalization before or after the activation, or none"),
    "dropout": (DEFAULT_DNN["dropout"],
                "dropout rate after each hidden layer (AlphaDropout with SELU)"),
    "l1": (0.0, "L1 kernel penalty"),
    "l2": (0.0, "L2 kernel penalty"),
    "optimizer": (DEFAULT_DNN["optimizer"], "optimizer name (make_optimizer)"),
    "learning_rate": (None, "(initial) learning rate; null: the optimizer's lecture default "
                            "(Adam 0.001, SGD 0.01)"),
    "momentum": (None, "momentum of sgd/momentum/nesterov/rmsprop; null: the optimizer's "
                       "default"),
    "decay": (None, "pre-Keras-3 decay=: power schedule with s = 1/decay"),
    "schedule": (None, "learning-rate schedule (make_schedule), or none"),
    "schedule_steps": (None, "steps of the schedule (power/exponential: s; cosine: "
                             "decay_steps); null: all the run's steps"),
    "clipnorm": (None, "clip each gradient to this L2 norm"),
    "clipvalue": (None, "clip each gradient component to [-clipvalue, clipvalue]"),
    "global_clipnorm": (None, "clip all gradients to this joint L2 norm"),
    "batch_size": (32, "batch size (lecture 001: up to 32)"),
    "epochs": (30, "training epochs (early stopping may end the run sooner)"),
    "seed": (42, "random seed (weights, dropout, shuffling)"),
}

RECIPE_DEFAULTS: dict[str, Any] = {key: spec[0] for key, spec in RECIPE_KEYS.items()}
"""The defaults of a recipe without architecture keys: the default DNN."""

ARCHITECTURE_KEYS = ("hidden", "activation", "initializer", "batch_norm", "dropout", "l1", "l2")
PLAIN_DEFAULTS: dict[str, Any] = {**RECIPE_DEFAULTS, "batch_norm": None, "dropout": 0.0}
"""The defaults once a recipe sets any architecture key: `build_dnn`'s (no BN, no dropout)."""

OWN_KEYS = {"batch_size": 1, "epochs": 1, "seed": 0}
"""The keys no factory takes (they go to `fit` and the seed), each with its lowest value."""

NONE_WORDS = ("batch_norm", "schedule")
"""Keys whose `"none"` means null (TOML has no null; the command line writes none)."""


class RecipeError(ValueError):
    """A recipe that cannot be used; `.keys` names the keys at fault (maybe none).

    Example:

    ```python
    try:
        complete_recipe({"epochs": 0})
    except RecipeError as error:
        error.key  # "epochs"
    ```

    Args:
        keys: the recipe keys the message is about, most specific first.
        message: what was received and what is accepted.
    """

    def __init__(self, keys: tuple[str, ...] | str, message: str) -> None:
        super().__init__(message)
        self.keys = (keys,) if isinstance(keys, str) else tuple(keys)

    @property
    def key(self) -> str | None:
        """The first key at fault, or `None`."""
        return self.keys[0] if self.keys else None


def complete_recipe(mapping: Mapping[str, Any], *, complete: bool = True) -> dict[str, Any]:
    """Check a recipe's own rules; return it (with every key, defaults filled, when `complete`).

    Unknown keys, a bad `batch_size` / `epochs` / `seed` and `schedule_steps`
    without a `schedule` raise `RecipeError`; the factories' arguments are
    checked by the factories (`build_model`). Missing keys come from
    `RECIPE_DEFAULTS` (the default DNN) when the mapping sets no architecture
    key, else from `PLAIN_DEFAULTS`.

    Example:

    ```python
    recipe = complete_recipe({"hidden": [100] * 20, "activation": "sigmoid"})
    recipe["optimizer"], recipe["batch_norm"]  # "adam", None
    ```

    Args:
        mapping: recipe keys and values (a parsed JSON/TOML file, or flags).
        complete: fill the missing keys (see above).
    """
    if not isinstance(mapping, Mapping):
        raise RecipeError((), "a recipe must be a mapping of keys to values; received "
                          f"{type(mapping).__name__}.")
    unknown = [key for key in mapping if key not in RECIPE_KEYS]
    if unknown:
        raise RecipeError(str(unknown[0]), f"unknown recipe key {unknown[0]!r}; accepted keys: "
                          f"{', '.join(RECIPE_KEYS)}.")
    recipe = dict(mapping)
    for key in NONE_WORDS:
        if recipe.get(key) == "none":
            recipe[key] = None
    for key, lowest in OWN_KEYS.items():
        if key in recipe:
            try:
                recipe[key] = int(check_number(key, recipe[key], minimum=lowest, integer=True))
            except (TypeError, ValueError) as error:
                raise RecipeError(key, str(error)) from None
    full = {**(PLAIN_DEFAULTS if set(recipe) & set(ARCHITECTURE_KEYS) else RECIPE_DEFAULTS),
            **recipe}
    if full["schedule_steps"] is not None and full["schedule"] is None:
        raise RecipeError("schedule_steps", "`schedule_steps` needs a `schedule`; received "
                          f"schedule_steps={full['schedule_steps']!r} and no schedule.")
    return {key: full[key] for key in RECIPE_KEYS} if complete else recipe


def load_recipe(path: str | Path) -> dict[str, Any]:
    """Read a recipe file (`.json`, or `.toml` with Python >= 3.11): the keys it sets.

    Merge flags over it and complete it with `complete_recipe` (which checks
    it once).

    Example:

    ```python
    recipe = complete_recipe({**load_recipe("recipe.json"), "epochs": 5})
    ```

    Args:
        path: the recipe file.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")  # FileNotFoundError / OSError for the caller
    if path.suffix.lower() == ".toml":
        try:
            import tomllib
        except ImportError:  # Python 3.10
            raise ValueError(f"reading TOML needs Python >= 3.11 (tomllib); use JSON for {path}."
                             ) from None
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise ValueError(f"{path} is not valid TOML ({error}).") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error}); a recipe is a JSON object "
                         "or a .toml file.") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} holds a JSON {type(data).__name__}; a recipe is a JSON object "
                         "of keys and values.")
    return data


def save_recipe(recipe: Mapping[str, Any], path: str | Path) -> Path:
    """Write a recipe as JSON (or TOML for a `.toml` path; null keys left out there).

    Example:

    ```python
    save_recipe(complete_recipe({"hidden": [64, 64]}), "recipe.json")
    ```

    Args:
        recipe: recipe keys (checked with `complete_recipe(complete=False)`).
        path: the file to write.
    """
    recipe = complete_recipe(recipe, complete=False)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".toml":
        # TOML has no null: a null batch_norm / schedule is written as "none", others left out
        lines = [f"{key} = {json.dumps('none' if value is None else value)}"
                 for key, value in recipe.items() if value is not None or key in NONE_WORDS]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    else:
        path.write_text(json.dumps(recipe, indent=2) + "\n", encoding="utf-8")
    return path


@contextlib.contextmanager
def factory_arguments(keys: Mapping[str, str]) -> Iterator[None]:
    """Turn a factory's argument error into a `RecipeError` naming the recipe keys.

    The factories name the argument at fault, in backquotes (`` `dropout` must
    be in [0, 1) ``) or as `name=value`; `keys` maps those argument names to
    recipe keys (names it does not hold are left out).

    Example:

    ```python
    with factory_arguments({"name": "optimizer", "learning_rate": "learning_rate"}):
        make_optimizer(recipe["optimizer"], recipe["learning_rate"])
    ```

    Args:
        keys: factory argument name -> recipe key.
    """
    try:
        yield
    except (TypeError, ValueError) as error:
        if isinstance(error, RecipeError):
            raise
        names = [a or b for a, b in re.findall(r"`(\w+)=?`|\b(\w+)=", str(error))]
        named = [keys[name] for name in names if name in keys]
        raise RecipeError(tuple(dict.fromkeys(named)), str(error)) from None


_DNN_ARGUMENTS = {**{key: key for key in ARCHITECTURE_KEYS}, "units": "hidden"}
_SCHEDULE_ARGUMENTS = {"name": "schedule", "initial_learning_rate": "learning_rate",
                       "s": "schedule_steps", "decay_steps": "schedule_steps"}
_OPTIMIZER_ARGUMENTS = {"name": "optimizer", "optimizer": "optimizer",
                        **{key: key for key in ("learning_rate", "momentum", "decay", "schedule",
                                                *CLIPPING_ARGUMENTS)}}


def build_model(recipe: Mapping[str, Any], input_shape: tuple[int, ...], n_outputs: int,
                task: str, *, steps_per_epoch: int, fast: bool = True) -> Any:
    """Build and compile the network a complete recipe describes.

    `build_dnn` makes the layers (SELU gets AlphaDropout, as in
    `self_normalizing_dnn`); `compile_recipe` the optimizer, loss and
    metrics; a `schedule` (`make_schedule`) starts at the learning rate (or
    the optimizer's default) and runs over `schedule_steps` (default: every
    step of the run). A value a factory refuses is a `RecipeError` naming the
    recipe key.

    Example:

    ```python
    model = build_model(complete_recipe({}), (64,), 10, "multiclass", steps_per_epoch=37)
    ```

    Args:
        recipe: a complete recipe (`complete_recipe`).
        input_shape: shape of one sample.
        n_outputs: classes, 1 for binary, targets for regression.
        task: `"multiclass"`, `"binary"` or `"regression"`.
        steps_per_epoch: optimizer steps per epoch (for the schedule's default length).
        fast: `compile_recipe(fast=...)`.
    """
    from ..models import build_dnn
    from ..optimizers import compile_recipe
    from ..schedules import make_schedule

    with factory_arguments(_DNN_ARGUMENTS):
        hidden = recipe["hidden"]
        selu = canonical_activation(recipe["activation"]) == "selu"
        model = build_dnn(input_shape, n_outputs,
                          hidden=tuple(hidden) if isinstance(hidden, list) else hidden,
                          activation=recipe["activation"], initializer=recipe["initializer"],
                          batch_norm=recipe["batch_norm"], dropout=recipe["dropout"],
                          alpha_dropout=selu and bool(recipe["dropout"]), l1=recipe["l1"],
                          l2=recipe["l2"], task=task, name="recipe_dnn")
    options = {key: recipe[key] for key in ("momentum", "decay", *CLIPPING_ARGUMENTS)
               if recipe[key] is not None}
    learning_rate = recipe["learning_rate"]
    if recipe["schedule"] is not None:
        with factory_arguments(_SCHEDULE_ARGUMENTS):
            if recipe["schedule"] not in RECIPE_SCHEDULES:
                raise RecipeError("schedule", f"`schedule` must be one of "
                                  f"{list(RECIPE_SCHEDULES)} or none in a recipe; received "
                                  f"{recipe['schedule']!r}.")
            with factory_arguments(_OPTIMIZER_ARGUMENTS):
                initial = (default_learning_rate(recipe["optimizer"]) if learning_rate is None
                           else learning_rate)
            steps = recipe["schedule_steps"]
            if steps is None:
                steps = max(1, steps_per_epoch * recipe["epochs"])
            options["schedule"] = make_schedule(
                recipe["schedule"], initial, **{SCHEDULE_LENGTH[recipe["schedule"]]: steps})
        learning_rate = None
    with factory_arguments(_OPTIMIZER_ARGUMENTS):
        return compile_recipe(model, recipe["optimizer"], learning_rate=learning_rate,
                              fast=fast, **options)


def recipe_from_hyperparameters(values: Mapping[str, Any], **fixed: Any) -> dict[str, Any]:
    """Translate a `DNNHyperModel` trial's hyper-parameter values into recipe keys.

    Example:

    ```python
    best = tuner.get_best_hyperparameters()[0].values
    save_recipe(recipe_from_hyperparameters(best, seed=42), "best.json")
    ```

    Args:
        values: `HyperParameters.values` of a `DNNHyperModel` trial.
        **fixed: other recipe keys (`seed`, ...).
    """
    n_hidden = int(values["n_hidden"])
    if "units" in values:
        hidden = [int(values["units"])] * n_hidden
    else:
        hidden = [int(values[f"units_{i}"]) for i in range(1, n_hidden + 1)]
    recipe: dict[str, Any] = {
        "hidden": hidden,
        "activation": values["activation"],
        "initializer": "auto",
        "batch_norm": values.get("batch_norm", "none") if values["activation"] != "selu"
        else "none",
        "dropout": float(values.get("dropout", 0.0)),
        "optimizer": values["optimizer"],
        "learning_rate": float(values["learning_rate"]),
    }
    clipping = values.get("clipping", "none")
    if clipping != "none":
        recipe[clipping] = float(values["clip_threshold"])
    if "batch_size" in values:
        recipe["batch_size"] = int(values["batch_size"])
    return complete_recipe({**recipe, **fixed}, complete=False)
