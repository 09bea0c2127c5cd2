"""What the `keras-recipes` sub-commands share: user errors, data, recipe, progress bar, report.

The `keras-recipes` command line (cli.py) parses the arguments and calls
`recipes.cli.training_run` (train) or `recipes.cli.inspection_runs` (lr-find,
checklist, tune); they read the user's
inputs through the functions here, which turn every bad input into a
`UsageError` naming the flag and the value (the CLI prints it on one line and
exits with status 2).
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keras

from ..callbacks.gradients import gradient_norm_key

DATA_SETS = ("digits", "fashion-mnist")


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


def resolve_recipe(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """The complete recipe of a run: `--recipe FILE`, then the recipe flags over it.

    Returns `(recipe, flags_given)`.

    Example:

    ```python
    recipe, flags = resolve_recipe(args)
    ```

    Args:
        args: parsed arguments with `recipe` and one `recipe_<key>` per key.
    """
    from .recipe_spec import RECIPE_KEYS, RecipeError, load_recipe, validate_recipe

    from_file: dict[str, Any] = {}
    if getattr(args, "recipe", None):
        with user_input("--recipe", args.recipe):
            from_file = load_recipe(args.recipe)
    flags = {key: getattr(args, f"recipe_{key}") for key in RECIPE_KEYS
             if getattr(args, f"recipe_{key}", None) is not None}
    try:
        flags = validate_recipe(flags, complete=False)
    except RecipeError as error:
        raise UsageError(flag_name(error.key), flags.get(error.key), str(error)) from None
    try:
        recipe = validate_recipe({**from_file, **flags})
    except RecipeError as error:
        if error.key in flags:
            raise UsageError(flag_name(error.key), flags[error.key], str(error)) from None
        raise UsageError("--recipe", args.recipe, str(error)) from None
    return recipe, flags


def load_data(args: argparse.Namespace, *, standardize: bool = True) -> tuple[Any, dict]:
    """Load `--data` (digits, fashion-mnist, PATH.csv with `--target`, PATH.npz).

    The inputs are standardized with the training split's statistics
    (lecture 001). Returns `(splits, description)`.

    Example:

    ```python
    data, description = load_data(args)
    ```

    Args:
        args: parsed arguments with `data`, `target`, `task`.
        standardize: rescale the inputs (training-split mean and std).
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
    stats = {}
    if standardize:
        splits, stats = user_data.standardize(splits)
    description = {
        "source": source, "target": target, "task": splits.task,
        "classes": list(splits.class_names), "n_outputs": splits.n_outputs,
        "input_shape": list(splits.input_shape), "n_train": len(splits.train[0]),
        "n_valid": len(splits.valid[0]), "n_test": len(splits.test[0]),
        "standardized": bool(standardize), "standardization": "training-split mean and std"
        if standardize else "none", **stats,
        "load_s": round(time.perf_counter() - started, 3),
    }
    return splits, description


def describe_data(description: dict) -> str:
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
    else:
        names = description["classes"]
        shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
        what = f"{task} classification, {len(names)} classes ({shown})"
    return (f"Data {description['source']}: {what}; {description['n_train']} training / "
            f"{description['n_valid']} validation / {description['n_test']} test samples, "
            f"inputs of shape {tuple(description['input_shape'])}"
            f"{', standardized with the training split' if description['standardized'] else ''}.")


def shown_in_progress_bar(key: str) -> bool:
    """Whether a log key belongs on the progress bar (loss, metrics, global gradient norm).

    Per-variable gradient norms and activation statistics (`<prefix>/<name>`
    keys) stay out; they go to history.csv, the report and TensorBoard.

    Example:

    ```python
    shown_in_progress_bar("grad_norm/dense/kernel")  # False
    ```

    Args:
        key: a key of Keras's logs.
    """
    return "/" not in key or key.endswith(gradient_norm_key())


class CleanProgressBar(keras.callbacks.ProgbarLogger):
    """Keras's progress bar with loss, metrics and `grad_norm/global` only.

    It also counts steps right when `steps_per_execution` is larger than
    the steps left in an epoch (Keras reports the end of the execution
    block, e.g. "32/19"): the count stops at the epoch's steps.

    Example:

    ```python
    model.fit(x, y, epochs=3, callbacks=[CleanProgressBar()])
    ```
    """

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.target is not None:
            batch = min(batch, self.target - 1)
        super().on_train_batch_end(batch, _kept(logs))

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        super().on_epoch_end(epoch, _kept(logs))


def _kept(logs: dict | None) -> dict | None:
    return None if logs is None else {k: v for k, v in logs.items() if shown_in_progress_bar(k)}


def evaluate_splits(model: Any, data: Any, batch_size: int) -> dict[str, dict[str, float]]:
    """Loss and metrics of `model` on the training, validation and test splits.

    Example:

    ```python
    evaluate_splits(model, data, 256)["test"]["accuracy"]
    ```

    Args:
        model: a compiled model.
        data: the `Splits`.
        batch_size: evaluation batch size.
    """
    return {name: {k: float(v) for k, v in model.evaluate(
        *pair, batch_size=batch_size, verbose=0, return_dict=True).items()}
        for name, pair in (("train", data.train), ("validation", data.valid), ("test", data.test))}


def checklist_items(report: Any) -> list[dict[str, Any]]:
    """A `ChecklistReport` as JSON-ready dictionaries.

    Example:

    ```python
    checklist_items(run_checklist(model, data.train, data.valid))
    ```

    Args:
        report: what `recipes.run_checklist` returned.
    """
    return [{"name": r.name, "passed": bool(r.passed), "measured": r.measured,
             "expected": r.expected, "advice": r.advice} for r in report]


def report_folder(args: argparse.Namespace, name: str) -> Path | None:
    """`--report DIR`, or `reports/<name>` when not given; `None` for `--report ''`.

    Example:

    ```python
    folder = report_folder(args, "default_dnn")
    ```

    Args:
        args: parsed arguments with `report`.
        name: the run's name.
    """
    if args.report is None:
        return Path("reports") / name
    return Path(args.report) if args.report else None


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
