"""The `keras-recipes` command: train, lr-find, checklist, tune, compare.

This module only parses the command line and dispatches: `train` runs in
`training_run`, `lr-find` and `checklist` in `inspection_runs`, `tune` in
`tune_run`, `compare` in `compare_run`. Each sub-command has one function that adds its parser
(`SUB_COMMANDS`), so a new one is a function and a line. Every user error (a
missing or unreadable file, a model that is not a Keras model or not
compiled, a bad range, an unknown data set or recipe key, an output that
would replace a previous run's) exits with status 2 and one line on stderr
naming the flag and the value. Parsing imports no Keras: `--help`,
`--version` and the errors the parser and the files show answer before
TensorFlow or JAX loads. Nothing in the package imports this module.

Example:

```bash
keras-recipes train --epochs 20
keras-recipes train --hidden 100 100 100 --activation selu --optimizer nadam
keras-recipes train --recipe best_recipe.json --data my.csv --target label
keras-recipes tune --trials 10 --epochs 5       # writes reports/tune_digits/best_recipe.json
```
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from ..callbacks._validation import number_problem

FAST_PATH_HELP = (
    "compile_recipe(fast=True): 32 steps per execution, the same maths, 1.45-1.6x faster on "
    "the lectures' nets in BENCHMARKS.md; --no-fast runs one step per call (per-step "
    "callbacks) (default: fast)"
)
THREADS_HELP = (
    "TensorFlow CPU intra-op threads: 'auto' calls keras_recipes.set_cpu_threads(1) for nets of at "
    "most 1M weights and batches of at most 64 (BENCHMARKS.md: 1.97x with the fast path on "
    "784-300-100-10; wide nets are slower with it), only on TensorFlow and only before it "
    "starts; 'keep' leaves it; a number sets it (default: auto)"
)



class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument on one line (no usage block) and exits 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())}\n")


def _number(kind: type, what: str, **bounds: Any) -> Callable[[str], Any]:
    """An argparse type: `kind(text)` that `number_problem` accepts within `bounds`."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what}; received {text!r}") from None
        problem = number_problem(value, integer=kind is int, **bounds)
        if problem is not None:
            raise argparse.ArgumentTypeError(f"{problem[1]}; received {text!r}")
        return value

    parse.__name__ = what  # argparse names the type in some messages
    return parse


_positive_int = _number(int, "a positive integer", minimum=1)
_non_negative_int = _number(int, "an integer >= 0", minimum=0)


def _threads(text: str) -> str:
    if text in ("auto", "keep"):
        return text
    return str(_non_negative_int(text))


def _add_data(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", default="digits", metavar="DATA",
                        help="digits (offline), fashion-mnist (downloaded once), PATH.csv (with "
                             "--target) or PATH.npz (arrays x, y; optional x_test, y_test); "
                             "inputs (and regression targets) are standardized with the "
                             "training split (default: digits)")
    parser.add_argument("--target", default=None, metavar="COLUMN",
                        help="the CSV column to predict (default: none; required for a CSV)")
    parser.add_argument("--task", default="auto", choices=("auto", "classes", "regression"),
                        help="CSV/NPZ targets: auto reads text or at most 20 integer values as "
                             "classes, other numbers as regression (default: auto)")


def _add_outputs(parser: argparse.ArgumentParser, name: str, *, seed: bool = True) -> None:
    parser.add_argument("--report", default=None, metavar="DIR",
                        help="folder for summary.json and report.html ('' for none) (default: "
                             f"reports/{name}, with _2, _3, ... when a run already wrote there)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a previous run's outputs of the same name (default: off, "
                             "such a run exits with status 2)")
    if seed:
        parser.add_argument("--seed", type=_non_negative_int, default=42,
                            help="random seed (default: 42)")


def _add_recipe_flags(train: argparse.ArgumentParser) -> None:
    from ..defaults import (
        ACTIVATION_ALIASES,
        ACTIVATION_INITIALIZERS,
        BATCH_NORM_PLACES,
        OPTIMIZER_DEFAULTS,
    )
    from .recipe_spec import PLAIN_DEFAULTS, RECIPE_KEYS, RECIPE_SCHEDULES

    group = train.add_argument_group(
        "recipe", "each key of a recipe file; a flag overrides --recipe. Without any "
        "architecture key (--hidden ... --l2) the net is lecture 001's default DNN; with one, the "
        "unset keys are build_dnn's plain defaults: --batch-norm none, --dropout 0. The "
        "factories (build_dnn, make_optimizer, make_schedule) check the values")
    kinds: dict[str, dict[str, Any]] = {
        "hidden": {"type": int, "nargs": "+", "metavar": "UNITS"},
        "activation": {"choices": sorted([*ACTIVATION_INITIALIZERS, *ACTIVATION_ALIASES])},
        "batch_norm": {"choices": ["none" if p is None else p for p in BATCH_NORM_PLACES]},
        "optimizer": {"choices": sorted(OPTIMIZER_DEFAULTS)},
        "schedule": {"choices": ("none", *RECIPE_SCHEDULES)},
        "initializer": {"metavar": "NAME"},
    }
    for key, (default, text) in RECIPE_KEYS.items():
        integer = isinstance(default, int) or key == "schedule_steps"
        options = kinds.get(key, {"type": int if integer else float, "metavar": key.upper()})
        shown = "none" if default is None else (" ".join(map(str, default))
                                               if isinstance(default, list) else default)
        if key in ("batch_norm", "dropout"):
            plain = PLAIN_DEFAULTS[key]
            shown = f"{shown} without architecture flags, else {'none' if plain is None else plain}"
        group.add_argument("--" + key.replace("_", "-"), dest=f"recipe_{key}", default=None,
                           help=f"{text} (default: from --recipe, else {shown})", **options)


def add_train(commands: Any) -> None:
    """The `train` sub-command's parser."""
    train = commands.add_parser("train", help="train a recipe (default: the lectures' default "
                                "DNN) and write the model and a report")
    train.add_argument("--recipe", default=None, metavar="FILE",
                       help="a recipe file (.json or .toml); the recipe flags below override "
                            "it (default: none, the default DNN)")
    _add_data(train)
    _add_recipe_flags(train)
    train.add_argument("--name", default=None,
                       help="name of the run (default: <recipe>_<data>: the recipe file's stem, "
                            "else default_dnn or custom_dnn, and the data's name)")
    train.add_argument("--output", default=None, metavar="PATH",
                       help="where to save the trained model (default: models/<name>.keras)")
    _add_outputs(train, "<name>", seed=False)  # the seed is a recipe key
    train.add_argument("--tensorboard", default=None, metavar="DIR",
                       help="also write TensorBoard logs there (default: none)")
    train.add_argument("--patience", type=_non_negative_int, default=10,
                       help="early stopping on val_loss, best weights restored; 0 for none "
                            "(default: 10)")
    train.add_argument("--fast", action=argparse.BooleanOptionalAction, default=True,
                       help=FAST_PATH_HELP)
    train.add_argument("--cpu-threads", type=_threads, default="auto", metavar="auto|keep|N",
                       help=THREADS_HELP)
    train.add_argument("--quiet", action="store_true",
                       help="one line per epoch instead of the progress bar (default: off)")
    train.set_defaults(run=("training_run", "run_train"))


def add_lr_find(commands: Any) -> None:
    """The `lr-find` sub-command's parser."""
    lr_find = commands.add_parser("lr-find", help="exponential learning-rate sweep on the "
                                  "default DNN; suggests a rate and plots the sweep")
    _add_data(lr_find)
    lr_find.add_argument("--batch-size", type=_positive_int, default=32,
                         help="batch size of the sweep (default: 32)")
    lr_find.add_argument("--min-rate", type=float, default=1e-6,
                         help="first learning rate of the sweep, > 0 (default: 1e-06)")
    lr_find.add_argument("--max-rate", type=float, default=10.0,
                         help="last learning rate, above --min-rate (default: 10.0)")
    lr_find.add_argument("--plot", default=None, metavar="PNG",
                         help="also save the loss-vs-rate plot to this PNG (default: none; the "
                              "report embeds it)")
    _add_outputs(lr_find, "lr_find_<data>")
    lr_find.add_argument("--quiet", action="store_true",
                         help="no progress bar (default: off)")
    lr_find.set_defaults(run=("inspection_runs", "run_lr_find"))


def add_checklist(commands: Any) -> None:
    """The `checklist` sub-command's parser."""
    checklist = commands.add_parser("checklist", help="run lecture 000's training checklists "
                                    "on a model before training")
    _add_data(checklist)
    checklist.add_argument("--model", default=None, metavar="PATH",
                           help="a compiled model saved as .keras (default: the default DNN)")
    checklist.add_argument("--strict", action="store_true",
                           help="exit with status 1 when an item fails (default: off)")
    _add_outputs(checklist, "checklist_<data>")
    checklist.set_defaults(run=("inspection_runs", "run_checklist"))


def add_tune(commands: Any) -> None:
    """The `tune` sub-command's parser."""
    from .tune_run import TUNERS

    tune = commands.add_parser("tune", help="search the lectures' DNN hyper-parameters with "
                               "keras-tuner (DNNHyperModel); writes the best recipe")
    _add_data(tune)
    tune.add_argument("--tuner", choices=TUNERS, default="random",
                      help="keras-tuner algorithm (default: random)")
    tune.add_argument("--trials", type=_positive_int, default=10,
                      help="number of configurations to try (default: 10)")
    tune.add_argument("--epochs", type=_positive_int, default=10,
                      help="epochs per trial; hyperband: the most epochs of a trial (default: 10)")
    tune.add_argument("--directory", default="tuning",
                      help="where keras-tuner keeps its trials (default: tuning)")
    tune.add_argument("--project-name", default=None,
                      help="sub-folder of --directory (default: <data>_<tuner>)")
    tune.add_argument("--resume", action="store_true",
                      help="continue the search in the same folder instead of starting a new "
                           "one there (default: off, a new search)")
    _add_outputs(tune, "tune_<data>")
    tune.add_argument("--save-model", default=None, metavar="PATH",
                      help="save the best trial's model there (.keras) (default: none)")
    tune.add_argument("--quiet", action="store_true",
                      help="no per-trial progress output (default: off)")
    tune.set_defaults(run=("tune_run", "run_tune"))


def add_compare(commands: Any) -> None:
    """The `compare` sub-command's parser (`compare_run`)."""
    from .compare_run import add_parser

    add_parser(commands)


SUB_COMMANDS: list[Callable[[Any], None]] = [add_train, add_lr_find, add_checklist, add_tune,
                                             add_compare]
"""One function per sub-command: it adds the parser and sets `run=(module, function)`."""


def _build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = _Parser(prog="keras-recipes", description="Train deep networks the way the "
                     "lectures teach (keras-training-recipes).")
    parser.add_argument("--version", action="version",
                        version=f"keras-recipes {__version__}",
                        help="print the version and exit (default: off)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                     parser_class=_Parser)
    for add in SUB_COMMANDS:
        add(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `keras-recipes` command line; return the exit status.

    0: done; 1: `checklist --strict` found a failing item (or `tune` had no
    completed trial); 2: a user error, printed on one line on stderr.

    Example:

    ```bash
    keras-recipes train --epochs 10
    ```

    Args:
        argv: arguments without the program name (default: `sys.argv[1:]`).
    """
    import importlib

    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help, --version, or a bad argument (status 2)
        return int(done.code or 0)
    from .commands import UsageError

    module, function = args.run
    try:
        return getattr(importlib.import_module(f".{module}", __package__), function)(args)
    except UsageError as error:
        print(f"keras-recipes {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
