"""`keras-recipes compare`: several recipe files, N seeds each, the spread and a verdict per pair.

Each RECIPE is a recipe file (`recipe_spec.load_recipe`, the same files
`train --recipe` reads and `tune` writes) or `default` (lecture 001's default
DNN). Every recipe trains once per seed on the same splits of `--data`
(`recipes.compare`); the report folder gets summary.json (the comparison's
table, verdicts, curves and runs) and report.html (the table, the verdicts and
the learning curves with their bands).

Example:

```bash
keras-recipes compare default deep.json sick.json --seeds 5 --reach 0.97
```
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from . import commands


def add_parser(subcommands: Any) -> None:
    """Add the `compare` sub-command to the `keras-recipes` parser.

    Example:

    ```python
    add_parser(parser.add_subparsers(dest="command"))
    ```

    Args:
        subcommands: what `ArgumentParser.add_subparsers` returned.
    """
    from .main import (
        FAST_PATH_HELP,
        THREADS_HELP,
        _add_data,
        _add_outputs,
        _positive_int,
        _threads,
    )

    parser = subcommands.add_parser(
        "compare", help="train several recipes with several seeds each on the same splits and "
        "say which is better, or that the spread does not tell")
    parser.add_argument("recipes", nargs="+", metavar="RECIPE",
                        help="two or more recipe files (.json or .toml, as `train --recipe` "
                             "reads), or `default` for the lectures' default DNN")
    _add_data(parser)
    parser.add_argument("--seeds", type=_positive_int, default=5,
                        help="seeds per recipe (0, 1, ...), at least 2; they replace the "
                             "recipes' `seed` (default: 5)")
    parser.add_argument("--epochs", type=_positive_int, default=None,
                        help="epochs of every recipe, over their `epochs` (default: each "
                             "recipe's own)")
    parser.add_argument("--metric", default=None,
                        help="the test metric the verdicts judge (default: accuracy for "
                             "classes, loss for regression)")
    parser.add_argument("--reach", type=float, default=None, metavar="VALUE",
                        help="report the first epoch at which --reach-metric reaches VALUE "
                             "(default: none)")
    parser.add_argument("--reach-metric", default=None, metavar="LOG",
                        help="the per-epoch log --reach applies to (default: val_<metric>)")
    parser.add_argument("--confidence", type=float, default=0.95,
                        help="coverage of the Welch t intervals, in (0, 1) (default: 0.95)")
    parser.add_argument("--monitor", action=argparse.BooleanOptionalAction, default=True,
                        help="count VanishingGradientDetector findings per recipe "
                             "(default: on)")
    parser.add_argument("--fast", action=argparse.BooleanOptionalAction, default=True,
                        help=FAST_PATH_HELP)
    parser.add_argument("--cpu-threads", type=_threads, default="auto",
                        metavar="auto|keep|N", help=THREADS_HELP)
    _add_outputs(parser, "compare_<data>", seed=False)
    parser.add_argument("--quiet", action="store_true",
                        help="no line per run (default: off)")
    parser.set_defaults(run=("compare_run", "run_compare"))


def _recipes(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Name -> complete recipe, from the RECIPE arguments (names from the file stems)."""
    from .recipe_spec import RecipeError, complete_recipe, load_recipe

    if len(args.recipes) < 2:
        raise commands.UsageError("RECIPE", " ".join(args.recipes),
                                  "compare needs at least two recipes")
    found: dict[str, dict[str, Any]] = {}
    for source in args.recipes:
        with commands.user_input("RECIPE", source):
            keys = {} if source == "default" else load_recipe(source)
        try:
            recipe = complete_recipe(keys)
        except RecipeError as error:
            raise commands.UsageError("RECIPE", source, f"recipe key {error.key}: {error}"
                                      if error.key else str(error)) from None
        if args.epochs is not None:
            recipe["epochs"] = args.epochs
        name, n = ("default_dnn" if source == "default" else Path(source).stem), 2
        while name in found:
            name, n = f"{name.rsplit('#', 1)[0]}#{n}", n + 1
        found[name] = recipe
    return found


def _recipe_for_compare(name: str, recipe: dict[str, Any], data: Any, fast: bool) -> Any:
    from ..compare import Recipe
    from .recipe_spec import build_model

    steps = math.ceil(len(data.train[0]) / recipe["batch_size"])

    def build(splits: Any) -> Any:
        with commands.user_input("RECIPE", name):  # a combination the factories refuse
            return build_model(recipe, splits.input_shape, splits.n_outputs, splits.task,
                               steps_per_epoch=steps, fast=fast)

    shown = ", ".join(f"{k}={v}" for k, v in recipe.items() if v is not None and k != "seed")
    return Recipe(build, epochs=recipe["epochs"], batch_size=recipe["batch_size"],
                  description=shown)


def _cell(spread: dict[str, Any]) -> str:
    return f"{spread['mean']:.4f} +- {spread['sd']:.4f} ({spread['min']:.4f} - {spread['max']:.4f})"


def run_compare(args: argparse.Namespace) -> int:
    """Run `keras-recipes compare`; returns the exit status.

    Example:

    ```python
    run_compare(parser.parse_args(["compare", "default", "deep.json", "--seeds", "3"]))
    ```

    Args:
        args: the parsed `compare` arguments.
    """
    from .report import write_report
    from .startup import import_keras
    from .training_run import choose_threads, count_weights

    recipes = _recipes(args)
    if args.seeds < 2:
        raise commands.UsageError("--seeds", args.seeds, "must be at least 2 (a spread needs "
                                  "two runs per recipe)")
    if not 0 < args.confidence < 1:
        raise commands.UsageError("--confidence", args.confidence, "must be in (0, 1)")
    report = commands.report_folder(args, f"compare_{commands.data_name(args.data)}")
    data, description = commands.load_data(args)
    keras = import_keras()
    from ..compare import compare

    threads = choose_threads(args.cpu_threads, max(count_weights(
        data.input_shape, r["hidden"], data.n_outputs) for r in recipes.values()),
        min(r["batch_size"] for r in recipes.values()))

    print(commands.describe_data(description))
    contenders = {name: _recipe_for_compare(name, recipe, data, args.fast)
                  for name, recipe in recipes.items()}
    for name, recipe in contenders.items():
        print(f"Recipe {name}: {recipe.description}")
    print(f"{args.seeds} seeds per recipe (they replace the recipes' `seed`); CPU threads "
          f"{threads}.")
    try:
        result = compare(contenders, data, seeds=args.seeds, epochs=args.epochs or 30,
                         metric=args.metric, target=args.reach, target_metric=args.reach_metric,
                         confidence=args.confidence, monitor=args.monitor,
                         verbose=0 if args.quiet else 1)
    except ValueError as error:  # --metric that no recipe logs
        raise commands.UsageError("--metric", args.metric, str(error)) from None
    print(result)
    if report is not None:
        summary = result.summary()
        verdicts = "; ".join(v["verdict"] for v in summary["verdicts"])
        figures = {}
        try:
            import matplotlib

            matplotlib.use("Agg")
            from ..plots import plot_comparison

            figures["learning curves"] = plot_comparison(
                summary, keys=("loss", args.reach_metric or f"val_{summary['metric']}")
            )[0].figure
        except ValueError as error:  # --reach-metric that is not a logged curve
            raise commands.UsageError("--reach-metric", args.reach_metric, str(error)) from None
        page = {
            **commands.run_header("compare"), **summary,
            "verdict": {"headline": f"Verdicts (test {summary['metric']}, judged on the test "
                                    f"split over {args.seeds} seeds): {verdicts}."},
            "recipe": {name: recipe.description for name, recipe in contenders.items()},
            "data": description,
            "metrics": {name: {k: _cell(v) for k, v in row["test"].items()}
                        for name, row in summary["table"].items()},
            "timings": {f"{name}, median per epoch": row["epoch_s"]["median"]
                        for name, row in summary["table"].items()},
            "speed": {"compile_recipe_fast": bool(args.fast), "cpu_threads": threads,
                      "backend": keras.backend.backend()},
        }
        paths = write_report(report, page, figures)
        print(f"Saved the report to {paths['html']} (summary.json beside it)")
    return 0
