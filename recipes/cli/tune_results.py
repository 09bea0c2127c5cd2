"""What `keras-recipes tune` does after the search: the best recipe, the trials, the report.

Imported once Keras has started (`tune_run.run_tune`).
"""

from __future__ import annotations

import argparse
import csv
import json
import warnings
from pathlib import Path
from typing import Any

from . import commands
from .tune_run import CURVES_FILE, search_space, trial_number, trial_rows
from .verdict import baseline, baseline_comparison, make_verdict, verdict_lines


def _write_trials(rows: list[dict[str, Any]], path: Path) -> Path:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def _best_model(tuner: Any, description: dict) -> Any:
    from .fitting import in_original_units

    with warnings.catch_warnings():  # only the weights are wanted, not the optimizer's state
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        model = tuner.get_best_models(1)[0]
    if description.get("target_mean") is None:
        return model
    return in_original_units(model, description["target_mean"], description["target_std"])


def report_search(args: argparse.Namespace, tuner: Any, hypermodel: Any, trial: Any, data: Any,
                  description: dict, folder: Path | None, *, seconds: float) -> int:
    """Print the best trial, write the best recipe, the trials and the report; return 0.

    Example:

    ```python
    return report_search(args, tuner, hypermodel, best_trial, data, description, folder,
                         seconds=42.0)
    ```

    Args:
        args: the parsed `tune` arguments.
        tuner: the keras-tuner tuner after `search`.
        hypermodel: its `DNNHyperModel`.
        trial: the best trial.
        data: the `Splits`.
        description: the data's description (`commands.load_data`).
        folder: the report folder, or `None`.
        seconds: how long the search took.
    """
    from .fitting import evaluate_splits
    from .recipe_spec import recipe_from_hyperparameters, save_recipe

    objective, number = hypermodel.objective, trial_number(trial.trial_id)
    rows = trial_rows(tuner)
    completed = sum(row["status"] == "COMPLETED" for row in rows)
    print(f"Best trial {number} of {completed} completed ({len(rows)} run): {objective} = "
          f"{trial.score:.4f}")
    values = trial.hyperparameters.values
    width = max(len(name) for name in values)
    print("Best configuration:")
    for name, value in values.items():
        print(f"  {name:<{width}}  {f'{value:.4g}' if isinstance(value, float) else value}")
    model = _best_model(tuner, description)
    targets = None if description.get("target_mean") is None else (
        description["target_mean"], description["target_std"])
    test = evaluate_splits(model, data, targets=targets)["test"]
    comparison = baseline_comparison(test, baseline(data, description))
    verdict = make_verdict(f"best of {len(rows)} trials on {description['source']}: trial "
                           f"{number}, {objective} {trial.score:.4g}", comparison, [], [])
    print("\n".join(verdict_lines(verdict)))
    recipe = recipe_from_hyperparameters(values, seed=args.seed)
    paths: dict[str, Any] = {}
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        paths["recipe"] = save_recipe(recipe, folder / "best_recipe.json")
        paths["trials"] = _write_trials(rows, folder / "trials.csv")
        data_flags = (f"{' --data ' + args.data if args.data != 'digits' else ''}"
                      f"{' --target ' + args.target if args.target else ''}")
        print(f"Best recipe: {paths['recipe']} (keras-recipes train --recipe {paths['recipe']}"
              f"{data_flags} [--epochs N]; the search's {args.epochs} epochs per trial are not "
              f"part of it); trials: {paths['trials']}")
    if args.save_model:
        Path(args.save_model).parent.mkdir(parents=True, exist_ok=True)
        model.save(args.save_model)
        paths["model"] = args.save_model
        print(f"Saved the best model to {args.save_model}")
    if folder is None:
        return 0
    from .report import write_report

    summary = {**commands.run_header("tune"), "verdict": verdict,
               "best_trial": {"trial": number, objective: trial.score, "test": test},
               "recipe": recipe, "search_space": search_space(tuner),
               "search": {"tuner": args.tuner, "trials_asked": args.trials,
                          "epochs_per_trial": args.epochs, "resumed": bool(args.resume),
                          "directory": str(tuner.project_dir)},
               "trials": rows, "data": description,
               "timings": {"search": round(seconds, 3)},
               "files": {k: str(v) for k, v in paths.items()}}
    html = write_report(folder, summary, _figures(tuner, trial, rows, objective))["html"]
    print(f"Saved the report to {html}")
    return 0


def _figures(tuner: Any, trial: Any, rows: list[dict[str, Any]], objective: str
             ) -> dict[str, Any]:
    import matplotlib

    matplotlib.use("Agg")
    from .. import plots

    figures = {}
    if any(row["score"] is not None for row in rows):
        figures["score per trial"] = plots.plot_trial_scores(rows, objective).figure
    curves = Path(tuner.get_trial_dir(trial.trial_id)) / CURVES_FILE
    if curves.exists():
        history = json.loads(curves.read_text(encoding="utf-8"))
        metrics = [k for k in history if not k.startswith("val_") and "/" not in k
                   and k != "learning_rate"]
        figures["best trial's learning curves"] = plots.plot_learning_curves(
            history, metrics)[0].figure
    return figures
