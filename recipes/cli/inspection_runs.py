"""`keras-recipes lr-find` and `checklist`: each prints its answer and writes a report.

Both check their arguments, output names and data before Keras starts
(`startup.import_keras`).
"""

from __future__ import annotations

import argparse
import re
import time
import warnings
from pathlib import Path
from typing import Any

from . import commands
from .recipe_spec import RecipeError, factory_arguments
from .verdict import make_verdict


def run_lr_find(args: argparse.Namespace) -> int:
    """Run `keras-recipes lr-find`; returns the exit status.

    Example:

    ```python
    run_lr_find(parser.parse_args(["lr-find", "--max-rate", "1"]))
    ```

    Args:
        args: the parsed `lr-find` arguments.
    """
    report, data, description, _ = commands.prepare_run(
        args, f"lr_find_{commands.data_name(args.data)}", {"--plot": args.plot})
    from ..lr_finder import find_learning_rate
    from ..models import default_dnn
    from .report import write_report

    model = default_dnn(data.input_shape, data.n_outputs, task=data.task)
    print(commands.describe_data(description))
    print(f"Sweeping the learning rate of the default DNN (Adam) from {args.min_rate:g} to "
          f"{args.max_rate:g}, batch {args.batch_size}.")
    started = time.perf_counter()
    flags = {"batch_size": args.batch_size, "min_rate": args.min_rate, "max_rate": args.max_rate}
    try:
        with factory_arguments({"batch_size": "batch_size", "min_learning_rate": "min_rate",
                                "max_learning_rate": "max_rate"}):
            result = find_learning_rate(model, *data.train, batch_size=args.batch_size,
                                        min_learning_rate=args.min_rate,
                                        max_learning_rate=args.max_rate,
                                        verbose=0 if args.quiet else 1)
    except RecipeError as error:
        if not error.keys:
            raise
        raise commands.recipe_usage_error(error, flags, None) from None
    print(f"Lowest smoothed loss at learning rate {result.min_loss_learning_rate:.3g}"
          f"{' (stopped early: the loss diverged)' if result.stopped_early else ''}.")
    why = (" (a tenth of the rate at the minimum: a safe distance below where the loss "
           "bottoms out)" if result.method == "min_loss" else " (steepest descent)")
    print(f"Suggested learning rate: {result.suggested_learning_rate:.3g}{why}")
    import matplotlib

    matplotlib.use("Agg")
    from ..plots import plot_lr_finder

    figure = plot_lr_finder(result).figure
    if args.plot:
        figure.savefig(args.plot, dpi=120, bbox_inches="tight")
        print(f"Saved the plot to {args.plot}")
    if report is not None:
        summary = {
            **commands.run_header("lr-find"),
            "verdict": {"headline": f"Suggested learning rate "
                                    f"{result.suggested_learning_rate:.3g}{why}.",
                        "problems": []},
            "data": description,
            "lr_finder": {"min_rate": args.min_rate, "max_rate": args.max_rate,
                          "batch_size": args.batch_size, "steps": len(result.learning_rates),
                          "suggested_learning_rate": result.suggested_learning_rate,
                          "min_loss_learning_rate": result.min_loss_learning_rate,
                          "steepest_learning_rate": result.steepest_learning_rate,
                          "method": result.method, "stopped_early": result.stopped_early},
            "timings": {"sweep": round(time.perf_counter() - started, 3)},
        }
        paths = write_report(report, summary, {"learning-rate sweep": figure})
        print(f"Saved the report to {paths['html']}")
    return 0


def check_model_file(path: str) -> None:
    """Refuse a `--model PATH` that cannot be a `.keras` file, before Keras starts.

    Example:

    ```python
    check_model_file("models/default_dnn_digits.keras")
    ```

    Args:
        path: the `--model` value.
    """
    import zipfile

    if not Path(path).exists():
        raise commands.UsageError("--model", path, "no such file")
    if Path(path).is_dir():
        raise commands.UsageError("--model", path, "is a folder, not a .keras file")
    if not zipfile.is_zipfile(path):
        raise commands.UsageError("--model", path, "is not a Keras model file (.keras saved "
                                  "with model.save, a zip archive)")


_UNTRAINED_OPTIMIZER = re.compile(r"Skipping variable loading for optimizer .* whereas the "
                                  r"saved optimizer has 2 variables")
"""Keras's warning for a model saved before its optimizer took a step (only the iteration
count and the rate were saved): there is no optimizer state to lose, so it is not shown."""


def load_user_model(path: str) -> Any:
    """Load `--model PATH`, turning every way it can be wrong into a `UsageError`.

    Example:

    ```python
    model = load_user_model("models/default_dnn_digits.keras")
    ```

    Args:
        path: a `.keras` file saved after `compile`.
    """
    import zipfile

    import keras

    check_model_file(path)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = keras.models.load_model(path)
    except (ValueError, OSError, zipfile.BadZipFile, KeyError, TypeError) as error:
        raise commands.UsageError("--model", path, "is not a Keras model file (.keras saved "
                                  f"with model.save): {error}") from None
    if not isinstance(model, keras.Model):
        raise commands.UsageError("--model", path, "is not a Keras model")
    for warning in caught:
        if not _UNTRAINED_OPTIMIZER.search(str(warning.message)):
            warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                   warning.lineno)
    if not getattr(model, "compiled", False) or getattr(model, "optimizer", None) is None:
        raise commands.UsageError("--model", path, "is not compiled (no optimizer or loss): "
                                  "compile it before model.save, e.g. keras_recipes.compile_recipe")
    return model


def run_checklist(args: argparse.Namespace) -> int:
    """Run `keras-recipes checklist`; returns 0, or 1 under `--strict` when an item fails.

    Example:

    ```python
    run_checklist(parser.parse_args(["checklist", "--strict"]))
    ```

    Args:
        args: the parsed `checklist` arguments.
    """
    if args.model:
        check_model_file(args.model)
    # a saved model is checked on the targets as written; the default DNN as train trains it
    folder, data, description, _ = commands.prepare_run(
        args, f"checklist_{commands.data_name(args.data)}", scale_targets=not args.model)
    from ..checks import run_checklist as checklist
    from ..models import default_dnn
    from .fitting import checklist_items
    from .report import write_report

    print(commands.describe_data(description))
    if args.model:
        model = load_user_model(args.model)
        expected = tuple(model.input_shape[1:])
        if expected != tuple(data.input_shape):
            raise commands.UsageError("--model", args.model, f"expects inputs of shape {expected}"
                                      f"; --data {args.data} has {tuple(data.input_shape)}")
        outputs = model.output_shape[-1] if isinstance(model.output_shape, tuple) else None
        if outputs != data.n_outputs:
            raise commands.UsageError("--model", args.model, f"has outputs {model.output_shape}; "
                                      f"--data {args.data} needs {data.n_outputs} "
                                      f"({data.task})")
        print(f"Checking the saved model {args.model} on {args.data}.")
    else:
        model = default_dnn(data.input_shape, data.n_outputs, task=data.task)
        print(f"Checking the lectures' default DNN on {args.data} (use --model for your own).")
    started = time.perf_counter()
    report = checklist(model, data.train, data.valid, test=data.test)
    print(report)
    if folder is not None:
        items = checklist_items(report)
        summary = {**commands.run_header("checklist"),
                   "verdict": make_verdict(f"the checklist on {args.model or 'the default DNN'}",
                                           None, [], items),
                   "model": args.model or "default DNN", "data": description,
                   "checklist": items,
                   "timings": {"checklist": round(time.perf_counter() - started, 3)}}
        paths = write_report(folder, summary)
        print(f"Saved the report to {paths['html']}")
    return 1 if args.strict and not report.passed else 0
