"""`keras-recipes train`: one recipe on one data set, monitored, judged, saved and reported.

The recipe, the output names and the data are checked before Keras starts;
then the network comes from `recipe_spec.build_model` (`build_dnn` +
`compile_recipe`), the package's callbacks watch it (`GradientNormLogger`,
`VanishingGradientDetector`, `ActivationStats`) beside Keras's
`EarlyStopping`, `CSVLogger` and `TensorBoard`, and the report folder gets
history.csv, summary.json and report.html, led by the verdict (test metric
against the trivial baseline, findings, failing checklist items). Regression
targets are standardized for training; the saved model predicts, and the
metrics are reported, in the original units.
"""

from __future__ import annotations

import argparse
import math
import time
import warnings
from pathlib import Path
from typing import Any

from . import commands

SMALL_NET_WEIGHTS = 1_000_000
"""`--cpu-threads auto` uses one thread for nets up to this many weights ..."""
SMALL_NET_BATCH = 64
"""... trained with batches up to this size (BENCHMARKS.md: faster; wide nets are not)."""



def count_weights(input_shape: tuple[int, ...], hidden: list[int], n_outputs: int) -> int:
    """Weights and biases of the dense stack (BatchNorm and the like left out).

    Example:

    ```python
    count_weights((784,), [300, 100], 10)  # 266610
    ```

    Args:
        input_shape: shape of one sample.
        hidden: widths of the hidden layers.
        n_outputs: output units.
    """
    widths = [math.prod(input_shape), *hidden, n_outputs]
    return sum(a * b + b for a, b in zip(widths, widths[1:]))


def choose_threads(setting: str, weights: int | None, batch_size: int) -> str:
    """Apply `--cpu-threads` (auto, keep or a number) and say what is in force.

    `auto` calls `keras_recipes.set_cpu_threads(1)` on TensorFlow for small
    nets (at most `SMALL_NET_WEIGHTS` weights and batches of at most
    `SMALL_NET_BATCH`), where BENCHMARKS.md measured it faster; it changes
    nothing on other backends, for larger nets (or an unknown size), or once
    TensorFlow has started.

    Example:

    ```python
    choose_threads("auto", 266610, 32)  # "1 intra-op thread (small net on TensorFlow)"
    ```

    Args:
        setting: `"auto"`, `"keep"` or a thread count (`"0"`: TensorFlow's default).
        weights: weights of the net about to be built (`None`: unknown).
        batch_size: its batch size.
    """
    import keras

    backend = keras.backend.backend()
    if setting == "keep":
        return "left as is (--cpu-threads keep)"
    if backend != "tensorflow":
        return f"left as is (the {backend} backend; the setting is TensorFlow's)"
    if setting == "auto" and (weights is None or weights > SMALL_NET_WEIGHTS
                              or batch_size > SMALL_NET_BATCH):
        return (f"left as is ({weights} weights, batch {batch_size}: TensorFlow's default is "
                "faster for nets this size)")
    wanted = 1 if setting == "auto" else int(setting)
    from ..threads import set_cpu_threads

    try:
        in_force = set_cpu_threads(wanted)
    except RuntimeError:
        return "left as is (TensorFlow had already started in this process)"
    why = " (small net on TensorFlow)" if setting == "auto" else ""
    return f"{in_force['intra_op']} intra-op thread(s){why}"


def gradient_monitors(model: Any) -> tuple[list, str | None]:
    """`GradientNormLogger` and `VanishingGradientDetector`, or a note saying why not.

    The logger is tried once on the compiled model (its public
    `on_train_begin` / `on_train_end`), so a backend without the gradient
    hook is reported instead of failing inside `fit`.

    Example:

    ```python
    monitors, note = gradient_monitors(model)
    ```

    Args:
        model: the compiled model.
    """
    import keras

    from ..callbacks import GradientNormLogger, VanishingGradientDetector

    logger = GradientNormLogger()
    try:
        logger.set_model(model)
        logger.on_train_begin()
        logger.on_train_end()
    except (RuntimeError, TypeError, NotImplementedError, ValueError) as error:
        return [], (f"Gradient norms are unavailable on the {keras.backend.backend()} backend "
                    f"({' '.join(str(error).split())}); training and the report go on without "
                    "them.")
    return [GradientNormLogger(), VanishingGradientDetector(action="warn")], None


def default_name(args: argparse.Namespace, flags: dict) -> str:
    """The run's name from its recipe and data: `default_dnn_digits`, `my_recipe_wine`, ...

    Example:

    ```python
    default_name(args, {})  # "default_dnn_digits"
    ```

    Args:
        args: the parsed `train` arguments.
        flags: the recipe flags given.
    """
    if args.recipe:
        recipe = Path(args.recipe).stem
    else:
        recipe = "custom_dnn" if set(flags) - {"epochs", "batch_size", "seed"} else "default_dnn"
    return f"{recipe}_{commands.data_name(args.data)}"


def output_paths(args: argparse.Namespace, flags: dict) -> tuple[str, Path, Path | None]:
    """`(name, model file, report folder)`: never a previous run's unless `--overwrite`.

    A name made from the recipe and the data takes a numbered suffix
    (`default_dnn_digits_2`) when a run already wrote under it; a name, model
    file or report folder the user gave that holds a previous run's output
    is a `UsageError` without `--overwrite`.

    Example:

    ```python
    name, model_file, report = output_paths(args, flags)
    ```

    Args:
        args: the parsed `train` arguments.
        flags: the recipe flags given.
    """

    def defaults(name: str) -> list[Path]:
        paths = [] if args.output else [Path("models") / f"{name}.keras"]
        return paths + ([] if args.report is not None else [Path("reports") / name])

    if args.name or args.overwrite:
        name = args.name or default_name(args, flags)
    else:
        name = commands.free_name(default_name(args, flags), defaults)
    model_file = Path(args.output or Path("models") / f"{name}.keras")
    report = None if args.report == "" else Path(args.report or Path("reports") / name)
    for flag, path in (("--output", model_file), ("--report", report)):
        given = getattr(args, flag[2:])
        commands.refuse_taken(flag if given else "--name", path, args.overwrite,
                              None if given else name)
    return name, model_file, report


def run_train(args: argparse.Namespace) -> int:
    """Run `keras-recipes train`; returns the exit status.

    Example:

    ```python
    run_train(parser.parse_args(["train", "--epochs", "3"]))
    ```

    Args:
        args: the parsed `train` arguments.
    """
    started = time.perf_counter()
    recipe, flags = commands.resolve_recipe(args)
    name, model_file, report = output_paths(args, flags)
    data, description = commands.load_data(args)
    from .startup import import_keras

    keras = import_keras()
    from .train_results import summarize_training

    try:
        weights = count_weights(data.input_shape, list(recipe["hidden"]), data.n_outputs)
    except TypeError:  # not a list of widths: build_dnn says so below
        weights = None
    threads = choose_threads(args.cpu_threads, weights, recipe["batch_size"])
    keras.utils.set_random_seed(recipe["seed"])
    model = _build(args, recipe, flags, data)
    print(commands.describe_data(description))
    shown = ", ".join(f"{k}={v}" for k, v in recipe.items() if v is not None)
    print(f"Recipe{' ' + args.recipe if args.recipe else ''}: {shown}")
    speed = {"compile_recipe_fast": bool(args.fast),
             "steps_per_execution": int(model.steps_per_execution), "cpu_threads": threads}
    print(f"Speed: steps_per_execution={speed['steps_per_execution']}, CPU threads {threads}.")
    gradients, gradient_note = gradient_monitors(model)
    monitors = _monitors(args, data, report, gradients)
    built = time.perf_counter()
    checklist = _checklist(model, data, monitors)
    checked = time.perf_counter()
    from ..callbacks.gradients import GradientWarning
    from .fitting import EVALUATION_BATCH

    with warnings.catch_warnings():
        # the findings are printed and reported below, once, with their remedies
        warnings.simplefilter("ignore", GradientWarning)
        # the validation split in one batch: the same loss and metrics, and on JAX one
        # compiled test step instead of two (a full and a last, partial batch)
        history = model.fit(*data.train, validation_data=data.valid, epochs=recipe["epochs"],
                            batch_size=recipe["batch_size"], verbose=2 if args.quiet else 1,
                            validation_batch_size=min(len(data.valid[0]), EVALUATION_BATCH),
                            callbacks=monitors)
    fitted = time.perf_counter()
    timings = {"data_and_build": built - started, "checklist": checked - built,
               "fit": fitted - checked}
    return summarize_training(args, name=name, recipe=recipe, data=data,
                              description=description, model=model, model_file=model_file,
                              report=report, history=history, monitors=monitors,
                              checklist=checklist, gradient_note=gradient_note, speed=speed,
                              timings=timings, started=started)


def _build(args: argparse.Namespace, recipe: dict, flags: dict, data: Any) -> Any:
    from .recipe_spec import RecipeError, build_model

    steps = math.ceil(len(data.train[0]) / recipe["batch_size"])
    try:
        return build_model(recipe, data.input_shape, data.n_outputs, data.task,
                           steps_per_epoch=steps, fast=args.fast)
    except RecipeError as error:
        raise commands.recipe_usage_error(error, flags, args.recipe) from None


def _monitors(args: argparse.Namespace, data: Any, report: Path | None, gradients: list
              ) -> list:
    import keras

    from ..callbacks import ActivationStats
    from .fitting import CleanProgressBar, EpochCSVLogger

    monitors = [*gradients, ActivationStats(data.valid[0][:256])]
    if args.patience:
        monitors.append(keras.callbacks.EarlyStopping(patience=args.patience,
                                                      restore_best_weights=True))
    if report is not None:
        report.mkdir(parents=True, exist_ok=True)
        monitors.append(EpochCSVLogger(str(report / "history.csv")))
    if args.tensorboard:
        monitors.append(keras.callbacks.TensorBoard(args.tensorboard))
    monitors.append(CleanProgressBar())
    return monitors


def _checklist(model: Any, data: Any, monitors: list) -> list[dict[str, Any]]:
    from ..checks import run_checklist
    from .fitting import checklist_items

    try:
        return checklist_items(run_checklist(model, data.train, data.valid, test=data.test,
                                             callbacks=monitors, overfit=False,
                                             gradients=False))
    except (ValueError, TypeError) as error:
        return [{"name": "checklist", "passed": False, "measured": f"could not run: {error}",
                 "expected": "the checklist to run", "advice": ""}]
