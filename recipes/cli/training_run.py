"""`keras-recipes train`: one recipe on one data set, monitored, saved and reported.

The network comes from `recipes.cli.recipe_spec.build_model` (`build_dnn` +
`compile_recipe`); the package's callbacks watch it (`InitialLossCheck`,
`GradientNormLogger`, `VanishingGradientDetector`, `ActivationStats`) beside
Keras's `EarlyStopping`, `CSVLogger` and `TensorBoard`; the report folder gets
history.csv, summary.json and report.html.
"""

from __future__ import annotations

import argparse
import math
import time
import warnings
from pathlib import Path
from typing import Any

import keras

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


def choose_threads(setting: str, weights: int, batch_size: int) -> str:
    """Apply `--cpu-threads` (auto, keep or a number) and say what is in force.

    `auto` calls `recipes.set_cpu_threads(1)` on TensorFlow for small nets
    (at most `SMALL_NET_WEIGHTS` weights and batches of at most
    `SMALL_NET_BATCH`), where BENCHMARKS.md measured it faster; it changes
    nothing on other backends, for larger nets, or once TensorFlow has started.

    Example:

    ```python
    choose_threads("auto", 266610, 32)  # "1 intra-op thread (small net on TensorFlow)"
    ```

    Args:
        setting: `"auto"`, `"keep"` or a thread count (`"0"`: TensorFlow's default).
        weights: weights of the net about to be built.
        batch_size: its batch size.
    """
    backend = keras.backend.backend()
    if setting == "keep":
        return "left as is (--cpu-threads keep)"
    if backend != "tensorflow":
        return f"left as is (the {backend} backend; the setting is TensorFlow's)"
    if setting == "auto" and (weights > SMALL_NET_WEIGHTS or batch_size > SMALL_NET_BATCH):
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


def gradient_monitors(model: keras.Model) -> tuple[list, str | None]:
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


def _name(args: argparse.Namespace, flags: dict) -> str:
    if args.name:
        return args.name
    if args.recipe:
        return Path(args.recipe).stem
    changed = set(flags) - {"epochs", "batch_size", "seed"}
    return "custom_dnn" if changed else "default_dnn"


def _figures(history: Any, metrics: list[str], logger: Any, stats: Any) -> dict[str, Any]:
    import matplotlib

    matplotlib.use("Agg")
    from ..plots import plot_activation_stats, plot_gradient_norms, plot_learning_curves

    figures = {"learning curves": plot_learning_curves(history, metrics)[0].figure}
    if logger is not None and logger.history.get("step"):
        figures["gradient norms per layer"] = plot_gradient_norms(
            logger, title="gradient norms per layer (kernels), per step").figure
    if stats is not None and stats.history:
        figures["activation statistics"] = plot_activation_stats(
            stats, title="activation std per layer after training").figure
        for stat, what in (("saturated", "saturated sigmoid/tanh outputs"),
                           ("dead", "dead ReLU units")):
            if any(stat in values for values in stats.history.values()):
                figures[f"activation {stat}"] = plot_activation_stats(
                    stats, stat=stat, title=f"fraction of {what} per layer after training").figure
    return figures


def run_train(args: argparse.Namespace) -> int:
    """Run `keras-recipes train`; returns the exit status.

    Example:

    ```python
    run_train(parser.parse_args(["train", "--epochs", "3"]))
    ```

    Args:
        args: the parsed `train` arguments.
    """
    from ..callbacks import ActivationStats, InitialLossCheck
    from ..callbacks.checks import InitialLossWarning
    from ..callbacks.gradients import GradientWarning
    from ..checks import run_checklist
    from .recipe_spec import build_model
    from .report import write_report

    started = time.perf_counter()
    recipe, flags = commands.resolve_recipe(args)
    data, description = commands.load_data(args)
    name = _name(args, flags)
    report = commands.report_folder(args, name)
    output = Path(args.output or f"models/{name}.keras")
    threads = choose_threads(args.cpu_threads, count_weights(
        data.input_shape, recipe["hidden"], data.n_outputs), recipe["batch_size"])
    keras.utils.set_random_seed(recipe["seed"])
    steps = math.ceil(len(data.train[0]) / recipe["batch_size"])
    # a combination the factories refuse (their message names the argument)
    with commands.user_input(*(("--recipe", args.recipe) if args.recipe else
                               ("recipe flags", " ".join(map(commands.flag_name, flags))))):
        model = build_model(recipe, data.input_shape, data.n_outputs, data.task,
                            steps_per_epoch=steps, fast=args.fast)
    print(commands.describe_data(description))
    shown = ", ".join(f"{k}={v}" for k, v in recipe.items() if v is not None)
    print(f"Recipe{' ' + args.recipe if args.recipe else ''}: {shown}")
    fast_path = {"compile_recipe_fast": bool(args.fast),
                 "steps_per_execution": int(model.steps_per_execution), "cpu_threads": threads}
    print(f"Speed: steps_per_execution={fast_path['steps_per_execution']}, CPU threads {threads}.")
    initial_loss = InitialLossCheck(data.train[0][:512], data.train[1][:512])
    gradients, gradient_note = gradient_monitors(model)
    stats = ActivationStats(data.valid[0][:256])
    monitors = [initial_loss, *gradients, stats]
    if args.patience:
        monitors.append(keras.callbacks.EarlyStopping(patience=args.patience,
                                                      restore_best_weights=True))
    if report is not None:
        report.mkdir(parents=True, exist_ok=True)
        monitors.append(keras.callbacks.CSVLogger(str(report / "history.csv")))
    if args.tensorboard:
        monitors.append(keras.callbacks.TensorBoard(args.tensorboard))
    monitors.append(commands.CleanProgressBar())
    built = time.perf_counter()
    try:
        checklist = commands.checklist_items(run_checklist(
            model, data.train, data.valid, test=data.test, callbacks=monitors, overfit=False,
            gradients=False))
    except (ValueError, TypeError) as error:
        checklist = [{"name": "checklist", "passed": False, "measured": f"could not run: {error}",
                      "expected": "the checklist to run", "advice": ""}]
    checked = time.perf_counter()
    with warnings.catch_warnings():
        # the findings are printed and reported below, once, with their remedies
        warnings.simplefilter("ignore", GradientWarning)
        warnings.simplefilter("ignore", InitialLossWarning)
        history = model.fit(*data.train, validation_data=data.valid, epochs=recipe["epochs"],
                            batch_size=recipe["batch_size"], verbose=2 if args.quiet else 1,
                            callbacks=monitors)
    fitted = time.perf_counter()
    metrics = commands.evaluate_splits(model, data, max(256, recipe["batch_size"]))
    evaluated = time.perf_counter()
    logger = next((m for m in gradients if hasattr(m, "per_layer")), None)
    detector = next((m for m in gradients if hasattr(m, "events")), None)
    findings = [] if detector is None else [
        {k: v for k, v in event.items()} for event in detector.events]
    print(f"Checklist 1, initial loss: {initial_loss.message or 'not run'}")
    if gradient_note:
        print(gradient_note)
    print("Gradients: " + ("\n  ".join(f["message"] for f in findings) if findings else
                           "no vanishing, exploding or non-finite gradients found."
                           if detector is not None else "not monitored."))
    epochs_run = len(history.history["loss"])
    test = ", ".join(f"{k} {v:.4f}" for k, v in metrics["test"].items())
    print(f"Trained {epochs_run} epoch(s) in {fitted - checked:.1f} s. Test: {test}")
    output.parent.mkdir(parents=True, exist_ok=True)
    model.save(output)
    print(f"Saved the model to {output}")
    if report is not None:
        compiled = [k for k in history.history if not k.startswith("val_") and "/" not in k
                    and k != "learning_rate"]
        summary = {
            **commands.run_header("train"), "name": name,
            "headline": f"{name} on {description['source']}: test {test}.",
            "recipe": recipe, "data": description, "metrics": metrics,
            "epochs_run": epochs_run,
            "initial_loss": {"measured": initial_loss.measured, "expected": initial_loss.expected,
                             "label_entropy": initial_loss.label_entropy, "ok": initial_loss.ok,
                             "message": initial_loss.message},
            "checklist": checklist,
            "checklist_scope": "the items that need no training; `keras-recipes checklist` also "
                               "overfits a tiny subset (4b) and checks the gradients",
            "findings": findings,
            "gradient_norms_note": gradient_note, "fast_path": fast_path,
            "timings": {"data_and_build": round(built - started, 3),
                        "checklist": round(checked - built, 3),
                        "fit": round(fitted - checked, 3),
                        "evaluate": round(evaluated - fitted, 3)},
            "files": {"model": str(output), "history": str(report / "history.csv"),
                      "tensorboard": args.tensorboard},
        }
        figures = _figures(history, compiled, logger, stats)
        summary["timings"]["total"] = round(time.perf_counter() - started, 3)
        paths = write_report(report, summary, figures)
        print(f"Saved the report to {paths['html']} (summary.json, history.csv beside it)")
    return 0
