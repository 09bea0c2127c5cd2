"""`keras-recipes lr-find`, `checklist` and `tune`: each prints its answer and writes a report."""

from __future__ import annotations

import argparse
import csv
import math
import time
from pathlib import Path
from typing import Any

import keras

from . import commands


def _figure_backend() -> None:
    import matplotlib

    matplotlib.use("Agg")


def run_lr_find(args: argparse.Namespace) -> int:
    """Run `keras-recipes lr-find`; returns the exit status.

    Example:

    ```python
    run_lr_find(parser.parse_args(["lr-find", "--max-rate", "1"]))
    ```

    Args:
        args: the parsed `lr-find` arguments.
    """
    from ..lr_finder import MIN_SWEEP_STEPS, find_learning_rate
    from ..models import default_dnn
    from .report import write_report

    if args.min_rate >= args.max_rate:
        raise commands.UsageError("--min-rate", args.min_rate,
                                  f"must be below --max-rate {args.max_rate}")
    data, description = commands.load_data(args)
    samples = len(data.train[0])
    if math.ceil(samples / args.batch_size) < MIN_SWEEP_STEPS:
        raise commands.UsageError(
            "--batch-size", args.batch_size,
            f"gives {math.ceil(samples / args.batch_size)} step(s) on {samples} training samples; "
            f"the sweep needs at least {MIN_SWEEP_STEPS}: use "
            f"--batch-size {max(1, samples // MIN_SWEEP_STEPS)} or less")
    keras.utils.set_random_seed(args.seed)
    model = default_dnn(data.input_shape, data.n_outputs, task=data.task)
    print(commands.describe_data(description))
    print(f"Sweeping the learning rate of the default DNN (Adam) from {args.min_rate:g} to "
          f"{args.max_rate:g}, batch {args.batch_size}.")
    started = time.perf_counter()
    result = find_learning_rate(model, *data.train, batch_size=args.batch_size,
                                min_learning_rate=args.min_rate, max_learning_rate=args.max_rate,
                                verbose=0 if args.quiet else 1)
    print(f"Lowest smoothed loss at learning rate {result.min_loss_learning_rate:.3g}"
          f"{' (stopped early: the loss diverged)' if result.stopped_early else ''}.")
    print(f"Suggested learning rate: {result.suggested_learning_rate:.3g}")
    _figure_backend()
    from ..plots import plot_lr_finder

    figure = plot_lr_finder(result).figure
    if args.plot:
        figure.savefig(args.plot, dpi=120, bbox_inches="tight")
        print(f"Saved the plot to {args.plot}")
    report = commands.report_folder(args, "lr_find")
    if report is not None:
        summary = {
            **commands.run_header("lr-find"),
            "headline": f"Suggested learning rate {result.suggested_learning_rate:.3g} "
                        f"({result.method}).",
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


def load_user_model(path: str) -> keras.Model:
    """Load `--model PATH`, turning every way it can be wrong into a `UsageError`.

    Example:

    ```python
    model = load_user_model("models/default_dnn.keras")
    ```

    Args:
        path: a `.keras` file saved after `compile`.
    """
    import zipfile

    from .. import schedules  # noqa: F401 - registers the package's serializable objects

    if not Path(path).exists():
        raise commands.UsageError("--model", path, "no such file")
    if Path(path).is_dir():
        raise commands.UsageError("--model", path, "is a folder, not a .keras file")
    try:
        model = keras.models.load_model(path)
    except (ValueError, OSError, zipfile.BadZipFile, KeyError, TypeError) as error:
        raise commands.UsageError("--model", path, "is not a Keras model file (.keras saved "
                                  f"with model.save): {error}") from None
    if not isinstance(model, keras.Model):
        raise commands.UsageError("--model", path, "is not a Keras model")
    if not getattr(model, "compiled", False) or getattr(model, "optimizer", None) is None:
        raise commands.UsageError("--model", path, "is not compiled (no optimizer or loss): "
                                  "compile it before model.save, e.g. recipes.compile_recipe")
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
    from ..checks import run_checklist as checklist
    from ..models import default_dnn
    from .report import write_report

    data, description = commands.load_data(args)
    print(commands.describe_data(description))
    keras.utils.set_random_seed(args.seed)
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
    folder = commands.report_folder(args, "checklist")
    if folder is not None:
        summary = {**commands.run_header("checklist"),
                   "headline": f"{sum(r.passed for r in report)} of {len(report)} items pass.",
                   "model": args.model or "default DNN", "data": description,
                   "checklist": commands.checklist_items(report),
                   "timings": {"checklist": round(time.perf_counter() - started, 3)}}
        paths = write_report(folder, summary)
        print(f"Saved the report to {paths['html']}")
    return 1 if args.strict and not report.passed else 0


TUNERS = ("random", "hyperband", "bayesian", "grid")


def _trial_rows(tuner: Any) -> list[dict[str, Any]]:
    rows = []
    for trial in tuner.oracle.trials.values():
        rows.append({"trial": trial.trial_id, "status": str(trial.status),
                     "score": trial.score, **trial.hyperparameters.values})
    return sorted(rows, key=lambda r: r["trial"])


def run_tune(args: argparse.Namespace) -> int:
    """Run `keras-recipes tune`; writes the best recipe, the trial table and a report.

    Example:

    ```python
    run_tune(parser.parse_args(["tune", "--trials", "2", "--epochs", "2"]))
    ```

    Args:
        args: the parsed `tune` arguments.
    """
    import keras_tuner

    from ..tuning import DNNHyperModel
    from .recipe_spec import recipe_from_hyperparameters, save_recipe
    from .report import write_report

    data, description = commands.load_data(args)
    keras.utils.set_random_seed(args.seed)
    hypermodel = DNNHyperModel(data.input_shape, data.n_outputs, task=data.task)
    stem = Path(args.data).stem if args.data.endswith((".csv", ".npz")) else args.data
    common = {"objective": hypermodel.objective, "seed": args.seed, "directory": args.directory,
              "project_name": args.project_name or f"{stem}_{args.tuner}",
              "overwrite": args.overwrite}
    if args.tuner == "hyperband":
        tuner = keras_tuner.Hyperband(hypermodel, max_epochs=args.epochs, factor=3, **common)
        tuner.oracle.max_trials = args.trials  # Hyperband sizes brackets from max_epochs
    else:
        tuner_class = {"random": keras_tuner.RandomSearch, "grid": keras_tuner.GridSearch,
                       "bayesian": keras_tuner.BayesianOptimization}[args.tuner]
        tuner = tuner_class(hypermodel, max_trials=args.trials, **common)
    print(commands.describe_data(description))
    print(f"Searching {args.trials} trials of the lectures' DNN space with {args.tuner} "
          f"({args.epochs} epochs per trial; trials in {tuner.project_dir}).")
    search_args: dict[str, Any] = {"validation_data": data.valid,
                                   "verbose": 0 if args.quiet else 1}
    if args.tuner != "hyperband":
        search_args["epochs"] = args.epochs
    started = time.perf_counter()
    tuner.search(*data.train, **search_args)
    best = tuner.oracle.get_best_trials(1)
    if not best:
        print("No trial completed; see the messages above.", file=__import__("sys").stderr)
        return 1
    trial = best[0]
    print(f"Best trial {trial.trial_id}: {hypermodel.objective} = {trial.score:.4f}")
    print("Best configuration:")
    values = trial.hyperparameters.values
    width = max(len(name) for name in values)
    for name, value in values.items():
        print(f"  {name:<{width}}  {f'{value:.4g}' if isinstance(value, float) else value}")
    recipe = recipe_from_hyperparameters(values, epochs=args.epochs, seed=args.seed)
    folder = commands.report_folder(args, f"tune_{stem}")
    paths: dict[str, Any] = {}
    if folder is not None:
        paths["recipe"] = save_recipe(recipe, folder / "best_recipe.json")
        rows = _trial_rows(tuner)
        paths["trials"] = folder / "trials.csv"
        columns = list(dict.fromkeys(key for row in rows for key in row))
        with paths["trials"].open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
        print(f"Best recipe: {paths['recipe']} (keras-recipes train --recipe {paths['recipe']}"
              f"{' --data ' + args.data if args.data != 'digits' else ''}"
              f"{' --target ' + args.target if args.target else ''}); trials: {paths['trials']}")
    if args.save_model:
        model = tuner.get_best_models(1)[0]
        Path(args.save_model).parent.mkdir(parents=True, exist_ok=True)
        model.save(args.save_model)
        print(f"Saved the best model to {args.save_model}")
    if folder is not None:
        summary = {**commands.run_header("tune"),
                   "headline": f"Best trial {trial.trial_id}: {hypermodel.objective} "
                               f"{trial.score:.4f} of {len(tuner.oracle.trials)} trials.",
                   "recipe": recipe, "data": description,
                   "metrics": {"best trial": {hypermodel.objective: trial.score}},
                   "trials": _trial_rows(tuner),
                   "timings": {"search": round(time.perf_counter() - started, 3)},
                   "files": {k: str(v) for k, v in paths.items()}}
        html = write_report(folder, summary)["html"]
        print(f"Saved the report to {html}")
    return 0
