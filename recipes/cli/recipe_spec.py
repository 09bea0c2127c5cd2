"""A recipe: one small validated mapping of the factory and training arguments.

A recipe names what `build_dnn`, `make_optimizer` / `compile_recipe` and
`fit` take, so that one file (JSON, or TOML read with the standard library's
`tomllib`) describes a whole training run. `keras-recipes train --recipe FILE`
reads one, `keras-recipes tune` writes one, and every key is also a flag of
`train` (`--hidden 100 100`, `--activation sigmoid`, ...) that overrides the
file. A recipe that sets no architecture key (`ARCHITECTURE_KEYS`) is lecture
001's default DNN (He init, ELU, BatchNorm after the activation, dropout 0.2,
Adam 1e-3, no schedule); one that sets any of them describes its own network,
and the unset ones take `build_dnn`'s plain defaults (no BatchNorm, no
dropout), so `{"hidden": [100] * 20, "activation": "sigmoid"}` is the
lectures' deep sigmoid net, not a BatchNorm net. Batch 32, 30 epochs, seed 42.

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

import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..defaults import DEFAULT_DNN, OPTIMIZER_DEFAULTS, canonical_activation

SCHEDULES = ("power", "exponential", "cosine")
BATCH_NORM = ("none", "before", "after")
MOMENTUM_OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop")
CLIPPING_KEYS = ("clipnorm", "clipvalue", "global_clipnorm")


class RecipeError(ValueError):
    """A recipe key with a value it does not accept (`.key` names the key).

    Example:

    ```python
    try:
        validate_recipe({"dropout": 1.5})
    except RecipeError as error:
        error.key  # "dropout"
    ```

    Args:
        key: the recipe key at fault.
        message: what was received and what is accepted.
    """

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def _number(key: str, value: Any, *, integer: bool = False, low: float | None = None,
            high: float | None = None, low_open: bool = False, high_open: bool = True,
            optional: bool = False) -> Any:
    """Validate one number; `what` (the accepted range) goes into the error."""
    if value is None and optional:
        return None
    kind = "an integer" if integer else "a number"
    bounds = ""
    if low is not None:
        bounds += f" {'>' if low_open else '>='} {low:g}"
    if high is not None:
        bounds += f"{' and' if bounds else ''} {'<' if high_open else '<='} {high:g}"
    accepted = f"{kind}{bounds}{' or null' if optional else ''}"
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = ok and math.isfinite(value) and (not integer or float(value).is_integer())
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        raise RecipeError(key, f"`{key}` must be {accepted}; received {value!r}.")
    return int(value) if integer else float(value)


def _choice(key: str, value: Any, accepted: tuple[str, ...]) -> str:
    if value not in accepted:
        raise RecipeError(key, f"`{key}` must be one of {list(accepted)}; received {value!r}.")
    return value


def _hidden(value: Any) -> list[int]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        raise RecipeError("hidden", "`hidden` must be a non-empty list of layer widths "
                          f"(integers >= 1), e.g. [300, 100]; received {value!r}.")
    return [_number("hidden", width, integer=True, low=1) for width in value]


def _activation(value: Any) -> str:
    try:
        return canonical_activation(value)
    except (TypeError, ValueError) as error:
        raise RecipeError("activation", str(error)) from None


def _initializer(value: Any) -> str:
    import keras

    if value == "auto":
        return value
    try:
        if not isinstance(value, str):
            raise ValueError
        keras.initializers.get(value)
    except (TypeError, ValueError):
        raise RecipeError("initializer", "`initializer` must be 'auto' (follows the activation: "
                          "He / Glorot / LeCun) or a Keras initializer name such as "
                          f"'glorot_uniform', 'he_normal', 'lecun_normal'; received {value!r}."
                          ) from None
    return value


def _optional_choice(key: str, accepted: tuple[str, ...]) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        value = "none" if value is None else value
        return None if _choice(key, value, ("none",) + accepted) == "none" else value
    return check


# key -> (default, validator, help)
RECIPE_KEYS: dict[str, tuple[Any, Callable[[Any], Any], str]] = {
    "hidden": (list(DEFAULT_DNN["hidden"]), _hidden, "widths of the hidden layers"),
    "activation": (DEFAULT_DNN["activation"], _activation, "hidden activation (table 11-1)"),
    "initializer": ("auto", _initializer,
                    "kernel initializer; 'auto' follows the activation (He/Glorot/LeCun)"),
    "batch_norm": (DEFAULT_DNN["batch_norm"], _optional_choice("batch_norm", ("before", "after")),
                   "BatchNormalization before or after the activation, or none"),
    "dropout": (DEFAULT_DNN["dropout"], lambda v: _number("dropout", v, low=0, high=1),
                "dropout rate after each hidden layer (AlphaDropout with SELU)"),
    "l1": (0.0, lambda v: _number("l1", v, low=0), "L1 kernel penalty"),
    "l2": (0.0, lambda v: _number("l2", v, low=0), "L2 kernel penalty"),
    "optimizer": (DEFAULT_DNN["optimizer"],
                  lambda v: _choice("optimizer", v, tuple(OPTIMIZER_DEFAULTS)),
                  "optimizer name (make_optimizer)"),
    "learning_rate": (None, lambda v: _number("learning_rate", v, low=0, low_open=True,
                                              optional=True),
                      "(initial) learning rate; null: the optimizer's lecture default "
                      "(Adam 0.001, SGD 0.01)"),
    "momentum": (None, lambda v: _number("momentum", v, low=0, high=1, optional=True),
                 "momentum of sgd/momentum/nesterov/rmsprop; null: the optimizer's default"),
    "decay": (None, lambda v: _number("decay", v, low=0, low_open=True, optional=True),
              "pre-Keras-3 decay=: power schedule with s = 1/decay"),
    "schedule": (None, _optional_choice("schedule", SCHEDULES),
                 "learning-rate schedule (recipes.make_schedule), or none"),
    "schedule_steps": (None, lambda v: _number("schedule_steps", v, integer=True, low=1,
                                               optional=True),
                       "steps of the schedule (power/exponential: s; cosine: decay_steps); "
                       "null: all the run's steps"),
    "clipnorm": (None, lambda v: _number("clipnorm", v, low=0, low_open=True, optional=True),
                 "clip each gradient to this L2 norm"),
    "clipvalue": (None, lambda v: _number("clipvalue", v, low=0, low_open=True, optional=True),
                  "clip each gradient component to [-clipvalue, clipvalue]"),
    "global_clipnorm": (None, lambda v: _number("global_clipnorm", v, low=0, low_open=True,
                                                optional=True),
                        "clip all gradients to this joint L2 norm"),
    "batch_size": (32, lambda v: _number("batch_size", v, integer=True, low=1),
                   "batch size (lecture 001: up to 32)"),
    "epochs": (30, lambda v: _number("epochs", v, integer=True, low=1), "training epochs"),
    "seed": (42, lambda v: _number("seed", v, integer=True, low=0),
             "random seed (weights, dropout, shuffling)"),
}

RECIPE_DEFAULTS: dict[str, Any] = {key: spec[0] for key, spec in RECIPE_KEYS.items()}
"""The defaults of a recipe without architecture keys: the default DNN."""

ARCHITECTURE_KEYS = ("hidden", "activation", "initializer", "batch_norm", "dropout", "l1", "l2")
PLAIN_DEFAULTS: dict[str, Any] = {**RECIPE_DEFAULTS, "batch_norm": None, "dropout": 0.0}
"""The defaults once a recipe sets any architecture key: `build_dnn`'s (no BN, no dropout)."""


def validate_recipe(mapping: Mapping[str, Any], *, complete: bool = True) -> dict[str, Any]:
    """Check every key and value of a recipe; return it (with defaults when `complete`).

    Unknown keys, bad values and keys that contradict each other (`decay`
    with `schedule`, two clipping keys, `momentum` for an Adam-family
    optimizer) raise `RecipeError` naming the key and what is accepted.
    Missing keys come from `RECIPE_DEFAULTS` (the default DNN) when the
    mapping sets no architecture key, else from `PLAIN_DEFAULTS`.

    Example:

    ```python
    recipe = validate_recipe({"hidden": [100] * 20, "activation": "sigmoid"})
    recipe["optimizer"]  # "adam" (the default DNN's)
    ```

    Args:
        mapping: recipe keys and values (a parsed JSON/TOML file, or flags).
        complete: fill the missing keys (see above).
    """
    if not isinstance(mapping, Mapping):
        raise RecipeError("recipe", "a recipe must be a mapping of keys to values; received "
                          f"{type(mapping).__name__}.")
    unknown = [key for key in mapping if key not in RECIPE_KEYS]
    if unknown:
        raise RecipeError(str(unknown[0]), f"unknown recipe key {unknown[0]!r}; accepted keys: "
                          f"{', '.join(RECIPE_KEYS)}.")
    recipe = {key: RECIPE_KEYS[key][1](value) for key, value in mapping.items()}
    plain = any(key in recipe for key in ARCHITECTURE_KEYS)
    full = {**(PLAIN_DEFAULTS if plain else RECIPE_DEFAULTS), **recipe}
    if full["decay"] is not None and full["schedule"] is not None:
        raise RecipeError("decay", "`decay` (power schedule, lecture 001) and `schedule` are "
                          f"exclusive; received decay={full['decay']!r} and "
                          f"schedule={full['schedule']!r}.")
    clipping = [key for key in CLIPPING_KEYS if full[key] is not None]
    if len(clipping) > 1:
        raise RecipeError(clipping[1], f"use only one of {list(CLIPPING_KEYS)}; received "
                          f"{clipping}.")
    if full["momentum"] is not None and full["optimizer"] not in MOMENTUM_OPTIMIZERS:
        raise RecipeError("momentum", f"`momentum` applies to {list(MOMENTUM_OPTIMIZERS)}; "
                          f"received momentum={full['momentum']!r} with optimizer="
                          f"{full['optimizer']!r}.")
    if full["schedule_steps"] is not None and full["schedule"] is None:
        raise RecipeError("schedule_steps", "`schedule_steps` needs a `schedule`; received "
                          f"schedule_steps={full['schedule_steps']!r} and no schedule.")
    return {key: full[key] for key in RECIPE_KEYS} if complete else recipe


def load_recipe(path: str | Path) -> dict[str, Any]:
    """Read and validate a recipe file (`.json`, or `.toml` with Python >= 3.11).

    Returns only the keys the file sets (validated); merge flags over it and
    complete it with `validate_recipe`.

    Example:

    ```python
    recipe = validate_recipe({**load_recipe("recipe.json"), "epochs": 5})
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
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise ValueError(f"{path} is not valid TOML ({error}).") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} is not valid JSON ({error}); a recipe is a JSON object "
                             "or a .toml file.") from None
    return validate_recipe(data, complete=False)


def save_recipe(recipe: Mapping[str, Any], path: str | Path) -> Path:
    """Write a validated recipe as JSON (or TOML for a `.toml` path; null keys left out).

    Example:

    ```python
    save_recipe(validate_recipe({"hidden": [64, 64]}), "recipe.json")
    ```

    Args:
        recipe: a recipe (checked with `validate_recipe`).
        path: the file to write.
    """
    recipe = validate_recipe(recipe)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".toml":
        # TOML has no null: a null batch_norm / schedule is written as "none", others left out
        lines = [f"{key} = {json.dumps('none' if value is None else value)}"
                 for key, value in recipe.items()
                 if value is not None or key in ("batch_norm", "schedule")]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    else:
        path.write_text(json.dumps(recipe, indent=2) + "\n", encoding="utf-8")
    return path


def build_model(recipe: Mapping[str, Any], input_shape: tuple[int, ...], n_outputs: int,
                task: str, *, steps_per_epoch: int, fast: bool = True) -> Any:
    """Build and compile the network a complete recipe describes.

    `build_dnn` makes the layers (SELU gets AlphaDropout, as in
    `self_normalizing_dnn`); `compile_recipe` the optimizer, loss and
    metrics; a `schedule` runs over `schedule_steps` (default: every step of
    the run).

    Example:

    ```python
    model = build_model(validate_recipe({}), (64,), 10, "multiclass", steps_per_epoch=37)
    ```

    Args:
        recipe: a complete recipe (`validate_recipe`).
        input_shape: shape of one sample.
        n_outputs: classes, 1 for binary, targets for regression.
        task: `"multiclass"`, `"binary"` or `"regression"`.
        steps_per_epoch: optimizer steps per epoch (for the schedule's default length).
        fast: `compile_recipe(fast=...)`.
    """
    from ..models import build_dnn
    from ..optimizers import compile_recipe
    from ..schedules import make_schedule

    model = build_dnn(input_shape, n_outputs, hidden=tuple(recipe["hidden"]),
                      activation=recipe["activation"], initializer=recipe["initializer"],
                      batch_norm=recipe["batch_norm"], dropout=recipe["dropout"],
                      alpha_dropout=recipe["activation"] == "selu" and recipe["dropout"] > 0,
                      l1=recipe["l1"], l2=recipe["l2"], task=task, name="recipe_dnn")
    options = {key: recipe[key] for key in ("momentum", "decay", *CLIPPING_KEYS)
               if recipe[key] is not None}
    learning_rate = recipe["learning_rate"]
    if recipe["schedule"] is not None:
        initial = learning_rate or OPTIMIZER_DEFAULTS[recipe["optimizer"]]["learning_rate"]
        steps = recipe["schedule_steps"] or max(1, steps_per_epoch * recipe["epochs"])
        length = {"cosine": "decay_steps"}.get(recipe["schedule"], "s")
        options["schedule"] = make_schedule(recipe["schedule"], initial, **{length: steps})
        learning_rate = None
    return compile_recipe(model, recipe["optimizer"], learning_rate=learning_rate, fast=fast,
                          **options)


def recipe_from_hyperparameters(values: Mapping[str, Any], **fixed: Any) -> dict[str, Any]:
    """Translate a `DNNHyperModel` trial's hyper-parameter values into a recipe.

    Example:

    ```python
    best = tuner.get_best_hyperparameters()[0].values
    save_recipe(recipe_from_hyperparameters(best, epochs=10, seed=42), "best.json")
    ```

    Args:
        values: `HyperParameters.values` of a `DNNHyperModel` trial.
        **fixed: other recipe keys (`epochs`, `seed`).
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
    return validate_recipe({**recipe, **fixed})
