"""What `keras-recipes train` does after `fit`: evaluate, judge, save, print and report.

Imported once Keras has started (`training_run.run_train`). The test metrics
are in the targets' original units (a regression model is saved with its
output mapped back, `fitting.in_original_units`); the verdict compares them
with the trivial baseline and lists the findings and the failing checklist
items; the report gets the same verdict first, then the figures.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np

from . import commands
from .fitting import evaluate_splits, in_original_units
from .verdict import baseline, baseline_comparison, make_verdict, verdict_lines

OPTIMIZER_KEYS = ("learning_rate", "momentum", "nesterov", "rho", "beta_1", "beta_2", "epsilon",
                  "amsgrad", "weight_decay", "clipnorm", "clipvalue", "global_clipnorm")
"""The optimizer settings a report records (from `Optimizer.get_config()`)."""


def optimizer_settings(optimizer: keras.optimizers.Optimizer) -> dict[str, Any]:
    """The optimizer's class and resolved hyper-parameters (defaults filled in), for the report.

    A schedule is shown as its class and arguments.

    Example:

    ```python
    optimizer_settings(model.optimizer)  # {"class": "Adam", "learning_rate": 0.001, ...}
    ```

    Args:
        optimizer: a built Keras optimizer.
    """
    config = optimizer.get_config()
    found: dict[str, Any] = {"class": type(optimizer).__name__}
    for key in OPTIMIZER_KEYS:
        value = config.get(key)
        if isinstance(value, dict) and "class_name" in value:
            arguments = ", ".join(f"{k}={v}" for k, v in value["config"].items()
                                  if v is not None and k != "name")
            value = f"{value['class_name']}({arguments})"
        if value is not None:
            found[key] = value
    return found


def learning_rates(optimizer: keras.optimizers.Optimizer, steps: int) -> list[float]:
    """The learning rate at each of the first `steps` optimizer steps.

    Example:

    ```python
    learning_rates(model.optimizer, 1000)[0]  # 0.001
    ```

    Args:
        optimizer: a Keras optimizer (constant rate or `LearningRateSchedule`).
        steps: how many steps ran.
    """
    rate = optimizer.get_config()["learning_rate"]
    if isinstance(rate, dict):
        schedule = keras.optimizers.schedules.deserialize(rate)
        values = keras.ops.convert_to_numpy(schedule(keras.ops.arange(max(steps, 1))))
        return [float(v) for v in np.broadcast_to(values, (max(steps, 1),))]
    return [float(rate)] * max(steps, 1)


def confusion_matrix(model: keras.Model, data: Any) -> np.ndarray:
    """Test-split counts: row = true class, column = predicted class.

    Example:

    ```python
    confusion_matrix(model, data)[3, 5]  # threes taken for fives
    ```

    Args:
        model: a trained classifier (softmax or one sigmoid unit).
        data: the `Splits`.
    """
    x, y = data.test
    scores = model.predict(x, batch_size=min(len(x), 4096), verbose=0)
    if data.task == "binary":
        predicted, n = (scores.reshape(-1) > 0.5).astype(int), 2
    else:
        predicted, n = scores.argmax(axis=-1), scores.shape[-1]
    matrix = np.zeros((n, n), dtype=int)
    np.add.at(matrix, (y.astype(int).reshape(-1), predicted), 1)
    return matrix


def summarize_training(args: argparse.Namespace, *, name: str, recipe: dict, data: Any,
                       description: dict, model: keras.Model, model_file: Path,
                       report: Path | None, history: Any, monitors: list, checklist: list,
                       gradient_note: str | None, speed: dict, timings: dict,
                       started: float) -> int:
    """Evaluate, judge, save, print and report a finished `train` run; return 0.

    Example:

    ```python
    return summarize_training(args, name=name, recipe=recipe, ...)
    ```

    Args:
        args: the parsed `train` arguments.
        name: the run's name.
        recipe: the complete recipe.
        data: the `Splits` it trained on.
        description: the data's description (`commands.load_data`).
        model: the trained model.
        model_file: where to save it.
        report: the report folder, or `None`.
        history: what `fit` returned.
        monitors: the callbacks of `fit`.
        checklist: the checklist items (dictionaries).
        gradient_note: why gradient norms are missing, or `None`.
        speed: the fast-path settings in force.
        timings: seconds per phase so far.
        started: `time.perf_counter()` at the start of the run.
    """
    before = time.perf_counter()
    trained, targets = model, None
    if description.get("target_mean") is not None:
        targets = (description["target_mean"], description["target_std"])
        model = in_original_units(trained, *targets)
    metrics = evaluate_splits(model, data, targets=targets)
    timings["evaluate"] = time.perf_counter() - before
    detector = next((m for m in monitors if hasattr(m, "events")), None)
    findings = [{**event, "epoch": event["epoch"] + 1} for event in
                (detector.events if detector is not None else [])]
    base = baseline(data, description)
    comparison = baseline_comparison(metrics["test"], base)
    epochs_run = len(history.history["loss"])
    verdict = make_verdict(f"{name} on {description['source']} ({epochs_run} epoch(s))",
                           comparison, findings, checklist)
    if gradient_note:
        print(gradient_note)
    test = ", ".join(f"{k} {v:.4g}" for k, v in metrics["test"].items())
    print(f"Trained {epochs_run} epoch(s) in {timings['fit']:.1f} s. Test: {test}")
    print("\n".join(verdict_lines(verdict)))
    model_file.parent.mkdir(parents=True, exist_ok=True)
    model.save(model_file)
    print(f"Saved the model to {model_file}"
          f"{' (it predicts in the original target units)' if targets else ''}")
    if report is None:
        return 0
    from .report import write_report
    from .train_figures import training_figures

    steps = int(keras.ops.convert_to_numpy(trained.optimizer.iterations))
    summary = {
        **commands.run_header("train"), "name": name, "verdict": verdict,
        "baseline": {**base, "model": metrics["test"].get(base["metric"])},
        "metrics": metrics, "recipe": recipe, "optimizer": optimizer_settings(trained.optimizer),
        "data": description, "epochs_run": epochs_run, "optimizer_steps": steps,
        "initial_loss": next((item for item in checklist if item["name"].startswith("1.")),
                             None),
        "checklist": checklist,
        "checklist_scope": "the items that need no training; `keras-recipes checklist` also "
                           "overfits a tiny subset (4b) and checks the gradients",
        "findings": findings, "gradient_norms_note": gradient_note, "speed": speed,
        "files": {"model": str(model_file), "history": str(report / "history.csv"),
                  "tensorboard": args.tensorboard},
    }
    figures = training_figures(history, trained, data, monitors, steps)
    timings["total"] = time.perf_counter() - started
    summary["timings"] = {k: round(v, 3) for k, v in timings.items()}
    paths = write_report(report, summary, figures)
    print(f"Saved the report to {paths['html']} (summary.json, history.csv beside it)")
    return 0
