"""What the `keras-recipes` sub-commands share before Keras starts: errors, recipe, data, names.

The command line (`main.py`) parses the arguments and calls
`training_run` (train), `inspection_runs` (lr-find, checklist) or `tune_run`
(tune). They read the user's inputs through the functions here, which turn
every bad input into a `UsageError` naming the flag and the value (the CLI
prints it on one line and exits with status 2). Nothing here imports Keras,
so a bad flag or file is answered before TensorFlow or JAX loads.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

DATA_SETS = ("digits", "fashion-mnist")
REPORT_FILES = ("summary.json", "report.html", "history.csv")
"""Files whose presence makes a report folder taken (an empty folder is free)."""


class UsageError(Exception):
    """A bad command-line input: the flag, the value and what is wrong (one line).

    Example:

    ```python
    raise UsageError("--min-rate", 1.0, "must be below --max-rate 0.1")
    ```

    Args:
        flag: the flag at fault (`--data`).
        value: the value it received.
        message: what is wrong and what is accepted.
    """

    def __init__(self, flag: str, value: Any, message: str) -> None:
        self.flag, self.value = flag, value
        text = " ".join(str(message).split())  # one line
        if isinstance(value, (list, tuple)):
            value = " ".join(map(str, value))
        super().__init__(f"{flag}: {text}" if value is None else f"{flag} {value}: {text}")


@contextlib.contextmanager
def user_input(flag: str, value: Any) -> Iterator[None]:
    """Turn the errors a user's input causes into a `UsageError` for `flag`.

    Example:

    ```python
    with user_input("--recipe", path):
        recipe = load_recipe(path)
    ```

    Args:
        flag: the flag whose value is being read.
        value: that value.
    """
    try:
        yield
    except FileNotFoundError:
        raise UsageError(flag, value, "no such file") from None
    except IsADirectoryError:
        raise UsageError(flag, value, "is a folder, not a file") from None
    except PermissionError:
        raise UsageError(flag, value, "cannot be read (permission denied)") from None
    except UnicodeDecodeError:
        raise UsageError(flag, value, "is not a text file") from None
    except (ValueError, TypeError, OSError) as error:
        raise UsageError(flag, value, str(error)) from None


def flag_name(key: str) -> str:
    """The command-line flag of a recipe key (`batch_size` -> `--batch-size`).

    Example:

    ```python
    flag_name("global_clipnorm")  # "--global-clipnorm"
    ```

    Args:
        key: a recipe key.
    """
    return "--" + key.replace("_", "-")


def recipe_usage_error(error: Exception, flags: Mapping[str, Any],
                       recipe_file: str | None) -> UsageError:
    """A recipe's error in the user's terms: the flag given, else the recipe file's key.

    Example:

    ```python
    recipe_usage_error(RecipeError("dropout", "..."), {"dropout": 1.0}, None)  # --dropout 1.0
    ```

    Args:
        error: a `RecipeError` (its `.keys`), or any error of building the model.
        flags: the recipe keys given as flags, with their values.
        recipe_file: the `--recipe` file, if any.
    """
    keys = getattr(error, "keys", ())
    for key in keys:
        if key in flags:
            return UsageError(flag_name(key), flags[key], str(error))
    where = f"recipe key {keys[0]}: " if keys else ""
    if recipe_file:
        return UsageError("--recipe", recipe_file, f"{where}{error}")
    return UsageError("recipe", None, f"{where}{error}")


def resolve_recipe(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """The complete recipe of a run: `--recipe FILE`, then the recipe flags over it.

    Checked once (`complete_recipe`); the factories check their arguments
    when the model is built. Returns `(recipe, flags_given)`.

    Example:

    ```python
    recipe, flags = resolve_recipe(args)
    ```

    Args:
        args: parsed arguments with `recipe` and one `recipe_<key>` per key.
    """
    from .recipe_spec import RECIPE_KEYS, RecipeError, complete_recipe, load_recipe

    from_file: dict[str, Any] = {}
    recipe_file = getattr(args, "recipe", None)
    if recipe_file:
        with user_input("--recipe", recipe_file):
            from_file = load_recipe(recipe_file)
    flags = {key: getattr(args, f"recipe_{key}") for key in RECIPE_KEYS
             if getattr(args, f"recipe_{key}", None) is not None}
    try:
        recipe = complete_recipe({**from_file, **flags})
    except RecipeError as error:
        raise recipe_usage_error(error, flags, recipe_file) from None
    return recipe, flags


def data_name(source: str) -> str:
    """A name for `--data` fit for file names: `digits`, `fashion_mnist`, a file's stem.

    Example:

    ```python
    data_name("data/wine.csv")  # "wine"
    ```

    Args:
        source: the `--data` value.
    """
    stem = source if source in DATA_SETS else Path(source).stem
    return re.sub(r"[^A-Za-z0-9_.]+", "_", stem).strip("_.") or "data"


def load_data(args: argparse.Namespace, *, scale_targets: bool = True) -> tuple[Any, dict]:
    """Load `--data` (digits, fashion-mnist, PATH.csv with `--target`, PATH.npz).

    The inputs are standardized with the training split's statistics
    (lecture 001); so are regression targets when `scale_targets` (the
    description keeps their mean and std, to report metrics in the
    original units). Returns `(splits, description)`.

    Example:

    ```python
    data, description = load_data(args)
    ```

    Args:
        args: parsed arguments with `data`, `target`, `task`.
        scale_targets: standardize regression targets too.
    """
    from .. import data as datasets
    from . import user_data

    source, target = args.data, getattr(args, "target", None)
    task = getattr(args, "task", "auto")
    suffix = Path(source).suffix.lower()
    if source not in DATA_SETS and suffix not in (".csv", ".npz"):
        raise UsageError("--data", source, "unknown data set; accepted: "
                         f"{', '.join(DATA_SETS)}, PATH.csv (with --target COLUMN) or PATH.npz")
    if suffix == ".csv" and not target:
        raise UsageError("--target", target, f"a CSV --data ({source}) needs --target COLUMN, "
                         "the column to predict")
    if target and suffix != ".csv":
        raise UsageError("--target", target, f"applies to a CSV --data only; --data is {source}")
    if task != "auto" and suffix not in (".csv", ".npz"):
        raise UsageError("--task", task, f"applies to CSV and NPZ files; {source} is a "
                         "classification data set")
    started = time.perf_counter()
    try:
        if source == "digits":
            splits = datasets.load_digits()
        elif source == "fashion-mnist":
            from .startup import import_keras

            import_keras()
            splits = datasets.load_fashion_mnist()
        elif suffix == ".csv":
            splits = user_data.load_csv(source, target, task=task)
        else:
            splits = user_data.load_npz(source, task=task)
    except user_data.DataError as error:
        flag, value = {"target": ("--target", target), "task": ("--task", task)}.get(
            error.argument, ("--data", source))
        raise UsageError(flag, value, str(error)) from None
    except RuntimeError as error:  # the Fashion-MNIST download
        raise UsageError("--data", source, str(error)) from None
    except (FileNotFoundError, IsADirectoryError, PermissionError, UnicodeDecodeError,
            ValueError, OSError) as error:
        with user_input("--data", source):
            raise error
    splits, scaling = user_data.standardize(splits, targets=scale_targets)
    description = {
        "source": source, "target": target, "task": splits.task,
        "classes": list(splits.class_names), "n_outputs": splits.n_outputs,
        "input_shape": list(splits.input_shape), "n_train": len(splits.train[0]),
        "n_valid": len(splits.valid[0]), "n_test": len(splits.test[0]), **scaling,
        "load_seconds": round(time.perf_counter() - started, 3),
    }
    return splits, description


def describe_data(description: Mapping[str, Any]) -> str:
    """One sentence that states the data and the task inferred.

    Example:

    ```python
    print(describe_data(description))
    ```

    Args:
        description: the dictionary `load_data` returned.
    """
    task = description["task"]
    if task == "regression":
        what = f"regression of {description['n_outputs']} target(s)"
        if description.get("target_mean") is not None:
            what += " (standardized for training; metrics in the original units)"
    else:
        names = description["classes"]
        shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
        what = f"{task} classification, {len(names)} classes ({shown})"
    return (f"Data {description['source']}: {what}; {description['n_train']} training / "
            f"{description['n_valid']} validation / {description['n_test']} test samples, "
            f"inputs of shape {tuple(description['input_shape'])}, standardized with the "
            "training split.")


def taken(path: Path) -> bool:
    """Whether writing to `path` would replace a previous run's output.

    Example:

    ```python
    taken(Path("reports/default_dnn_digits"))  # True once a run wrote its report there
    ```

    Args:
        path: a model file or a report folder.
    """
    if path.is_dir():
        return any((path / name).exists() for name in REPORT_FILES)
    return path.exists()


def refuse_taken(flag: str, path: Path | None, overwrite: bool, value: Any = None) -> None:
    """Raise a `UsageError` when `path` holds a previous run's output and not `overwrite`.

    Example:

    ```python
    refuse_taken("--output", Path("models/mine.keras"), args.overwrite)
    ```

    Args:
        flag: the flag that chose the path (`--name` for paths named after it).
        path: the path to write, or `None` (nothing written).
        overwrite: `--overwrite` was given.
        value: the flag's value when it is not the path itself (the name).
    """
    if path is None or overwrite or not taken(path):
        return
    where = "" if value is None else f"{path} "
    raise UsageError(flag, path if value is None else value,
                     f"{where}already holds a previous run's output; pass --overwrite to "
                     "replace it, or choose another --name")


def free_name(base: str, paths: Callable[[str], list[Path]]) -> str:
    """`base`, or `base_2`, `base_3`, ...: the first name whose default paths are all free.

    Example:

    ```python
    free_name("default_dnn_digits", lambda n: [Path("reports") / n])
    ```

    Args:
        base: the name made from the data and the recipe.
        paths: name -> the paths a run of that name writes by default.
    """
    name, number = base, 1
    while any(taken(path) for path in paths(name)):
        number += 1
        name = f"{base}_{number}"
    return name


def report_folder(args: argparse.Namespace, base: str) -> Path | None:
    """The report folder: `--report DIR`, `None` for `--report ''`, else a free `reports/<name>`.

    An explicit folder that holds a report needs `--overwrite`; the default
    one takes a numbered suffix instead of replacing an earlier run's.

    Example:

    ```python
    folder = report_folder(args, "lr_find_digits")
    ```

    Args:
        args: parsed arguments with `report` and `overwrite`.
        base: the default name.
    """
    if args.report == "":
        return None
    if args.report is not None:
        refuse_taken("--report", Path(args.report), args.overwrite)
        return Path(args.report)
    if args.overwrite:
        return Path("reports") / base
    return Path("reports") / free_name(base, lambda name: [Path("reports") / name])


def prepare_run(args: argparse.Namespace, report_name: str,
                outputs: Mapping[str, Any] | None = None, *, scale_targets: bool = True
                ) -> tuple[Path | None, Any, dict, Any]:
    """Check the outputs, read the data, start Keras (seeded): how lr-find, checklist, tune begin.

    Returns `(report folder or None, splits, data description, keras)`.

    Example:

    ```python
    folder, data, description, keras = prepare_run(args, "lr_find_digits", {"--plot": args.plot})
    ```

    Args:
        args: the parsed arguments (`report`, `overwrite`, `seed` and the data flags).
        report_name: the report folder's default name.
        outputs: other output flags and their paths (`None` for not given).
        scale_targets: standardize regression targets (`load_data`).
    """
    folder = report_folder(args, report_name)
    for flag, path in dict(outputs or {}).items():
        if path:
            refuse_taken(flag, Path(path), args.overwrite)
    data, description = load_data(args, scale_targets=scale_targets)
    from .startup import import_keras

    keras = import_keras()
    keras.utils.set_random_seed(args.seed)
    return folder, data, description, keras


def run_header(command: str) -> dict[str, Any]:
    """The start of every summary: command, versions, backend.

    Example:

    ```python
    summary = {**run_header("train"), "recipe": recipe}
    ```

    Args:
        command: the sub-command.
    """
    from .report import versions

    found = versions()
    return {"title": f"keras-recipes {command}", "command": command,
            "backend": found["backend"], "versions": found}
