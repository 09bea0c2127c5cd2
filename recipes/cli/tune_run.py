"""`keras-recipes tune`: a keras-tuner search of the lectures' DNN space, its best recipe, a report.

Each run is a new search (keras-tuner's `overwrite=True`) unless `--resume`
continues the one in the same folder. Trials are numbered as keras-tuner
prints them ("Trial 1 Complete"), from 1. The best recipe
(`best_recipe.json`) holds the best trial's hyper-parameters and the seed,
not the search's per-trial epochs: `train --recipe best_recipe.json` trains
for `--epochs N` (default: the recipe default, 30, with early stopping). The
report holds the trials table, the score per trial, the search space, the
best trial's learning curves and its test metric against the baseline.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from . import commands

TUNERS = ("random", "hyperband", "bayesian", "grid")
CURVES_FILE = "curves.json"
"""Each trial's per-epoch logs, kept in its trial folder (so `--resume` still has them)."""


def trial_number(trial_id: str) -> int | str:
    """The number keras-tuner prints for a trial ("Trial 3 Complete"): its index + 1.

    Example:

    ```python
    trial_number("02")  # 3
    ```

    Args:
        trial_id: keras-tuner's `trial.trial_id` (the zero-padded index).
    """
    return int(trial_id) + 1 if str(trial_id).isdigit() else trial_id


def _keeping_curves(tuner_class: type) -> type:
    """`tuner_class` that also writes each trial's learning curves into its trial folder."""

    class KeepsCurves(tuner_class):
        def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> Any:
            results = super().run_trial(trial, *args, **kwargs)
            found = results if isinstance(results, list) else [results]
            history = next((r for r in found if hasattr(r, "history")), None)
            if history is not None:
                curves = {k: [float(v) for v in values] for k, values in history.history.items()}
                path = Path(self.get_trial_dir(trial.trial_id)) / CURVES_FILE
                path.write_text(json.dumps(curves), encoding="utf-8")
            return results

    KeepsCurves.__name__ = tuner_class.__name__
    return KeepsCurves


def make_tuner(args: argparse.Namespace, hypermodel: Any, project_name: str) -> Any:
    """The keras-tuner tuner of `--tuner`, a new search unless `--resume`.

    Example:

    ```python
    tuner = make_tuner(args, DNNHyperModel((64,), 10), "digits_random")
    ```

    Args:
        args: the parsed `tune` arguments.
        hypermodel: the `DNNHyperModel`.
        project_name: the trials' sub-folder of `--directory`.
    """
    import keras_tuner

    common = {"objective": hypermodel.objective, "seed": args.seed, "directory": args.directory,
              "project_name": project_name, "overwrite": not args.resume}
    if args.tuner == "hyperband":
        tuner = _keeping_curves(keras_tuner.Hyperband)(hypermodel, max_epochs=args.epochs,
                                                       factor=3, **common)
        tuner.oracle.max_trials = args.trials  # Hyperband sizes brackets from max_epochs
        return tuner
    tuner_class = {"random": keras_tuner.RandomSearch, "grid": keras_tuner.GridSearch,
                   "bayesian": keras_tuner.BayesianOptimization}[args.tuner]
    return _keeping_curves(tuner_class)(hypermodel, max_trials=args.trials, **common)


def trial_rows(tuner: Any) -> list[dict[str, Any]]:
    """One row per trial: number, status, score and its hyper-parameter values.

    Example:

    ```python
    trial_rows(tuner)[0]  # {"trial": 1, "status": "COMPLETED", "score": 0.93, ...}
    ```

    Args:
        tuner: a keras-tuner tuner after `search`.
    """
    rows = [{"trial": trial_number(trial.trial_id), "status": str(trial.status),
             "score": trial.score, **trial.hyperparameters.values}
            for trial in tuner.oracle.trials.values()]
    return sorted(rows, key=lambda r: (isinstance(r["trial"], str), r["trial"]))


def search_space(tuner: Any) -> dict[str, str]:
    """Hyper-parameter name -> what was searched (range, sampling or choices), in words.

    Example:

    ```python
    search_space(tuner)["learning_rate"]  # "0.0001 to 0.1 (log sampling)"
    ```

    Args:
        tuner: a keras-tuner tuner.
    """
    space = {}
    for hp in tuner.oracle.get_space().space:
        config = hp.get_config()
        if "values" in config:
            text = "one of " + ", ".join(map(str, config["values"]))
        elif "min_value" in config:
            text = f"{config['min_value']:g} to {config['max_value']:g}"
            if config.get("sampling") not in (None, "linear"):
                text += f" ({config['sampling']} sampling)"
            elif config.get("step"):
                text += f" (step {config['step']:g})"
        else:
            text = f"fixed: {config.get('value')}"
        space[config["name"]] = text
    return space


def run_tune(args: argparse.Namespace) -> int:
    """Run `keras-recipes tune`; writes the best recipe, the trial table and a report.

    Example:

    ```python
    run_tune(parser.parse_args(["tune", "--trials", "2", "--epochs", "2"]))
    ```

    Args:
        args: the parsed `tune` arguments.
    """
    stem = commands.data_name(args.data)
    folder, data, description, _ = commands.prepare_run(
        args, f"tune_{stem}", {"--save-model": args.save_model})
    from ..tuning import DNNHyperModel

    hypermodel = DNNHyperModel(data.input_shape, data.n_outputs, task=data.task)
    tuner = make_tuner(args, hypermodel, args.project_name or f"{stem}_{args.tuner}")
    print(commands.describe_data(description))
    print(f"{'Resuming the search' if args.resume else 'A new search'} of {args.trials} trials of "
          f"the lectures' DNN space with {args.tuner} ({args.epochs} epochs per trial; trials in "
          f"{tuner.project_dir}).")
    search_args: dict[str, Any] = {"validation_data": data.valid,
                                   "verbose": 0 if args.quiet else 1}
    if args.tuner != "hyperband":
        search_args["epochs"] = args.epochs
    started = time.perf_counter()
    try:
        tuner.search(*data.train, **search_args)
    except RuntimeError as error:  # keras-tuner: too many consecutive failed trials
        last = [line for line in str(error).splitlines() if line.strip()]
        print(f"keras-recipes tune: the search stopped: {last[0]} The last trial's error: "
              f"{last[-1] if len(last) > 1 else 'not given'}", file=sys.stderr)
        return 1
    # keras-tuner pads get_best_trials with trials that did not complete
    best = [t for t in tuner.oracle.get_best_trials(1) if str(t.status) == "COMPLETED"]
    if not best:
        failed = [t for t in tuner.oracle.trials.values() if t.message]
        last = failed[-1].message.strip().splitlines()[-1] if failed else "not given"
        print(f"keras-recipes tune: no trial completed; the last trial's error: {last}",
              file=sys.stderr)
        return 1
    from .tune_results import report_search

    return report_search(args, tuner, hypermodel, best[0], data, description, folder,
                         seconds=time.perf_counter() - started)
