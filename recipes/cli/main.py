"""The `keras-recipes` command: train, lr-find, tune, checklist.

This module only parses the command line and dispatches: `train` runs in
`recipes.cli.training_run`, the others in `recipes.cli.inspection_runs`. Every user
error (a missing or unreadable file, a model that is not a Keras model or not
compiled, a bad or inverted range, an unknown data set or recipe key) exits
with status 2 and one line on stderr naming the flag and the value. Nothing in
the package imports this module.

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
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

FAST_PATH_HELP = (
    "compile_recipe(fast=True): 32 steps per execution, the same maths, 1.45-1.6x faster on "
    "the lectures' nets in BENCHMARKS.md; --no-fast runs one step per call (per-step "
    "callbacks) (default: fast)"
)
THREADS_HELP = (
    "TensorFlow CPU intra-op threads: 'auto' calls recipes.set_cpu_threads(1) for nets of at "
    "most 1M weights and batches of at most 64 (BENCHMARKS.md: 1.97x with the fast path on "
    "784-300-100-10; wide nets are slower with it), only on TensorFlow and only before it "
    "starts; 'keep' leaves it; a number sets it (default: auto)"
)


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument on one line (no usage block) and exits 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())}\n")


def _number(kind: type, lowest: float, what: str) -> Any:
    """An argparse type: `kind(text)`, finite and >= `lowest`, else an error saying `what`."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not lowest <= value < float("inf"):
            raise argparse.ArgumentTypeError(f"must be {what}; received {text!r}")
        return value

    parse.__name__ = what  # argparse names the type in some messages
    return parse


_positive_int = _number(int, 1, "a positive integer")
_non_negative_int = _number(int, 0, "an integer >= 0")
_positive_float = _number(float, float.fromhex("0x1p-1074"), "a positive number")


def _threads(text: str) -> str:
    if text in ("auto", "keep"):
        return text
    return str(_non_negative_int(text))


def _add_data(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", default="digits", metavar="DATA",
                        help="digits (offline), fashion-mnist (downloaded once), PATH.csv (with "
                             "--target) or PATH.npz (arrays x, y; optional x_test, y_test); "
                             "inputs are standardized with the training split (default: digits)")
    parser.add_argument("--target", default=None, metavar="COLUMN",
                        help="the CSV column to predict (default: none; required for a CSV)")
    parser.add_argument("--task", default="auto", choices=("auto", "classes", "regression"),
                        help="CSV/NPZ targets: auto reads text or at most 20 integer values as "
                             "classes, other numbers as regression (default: auto)")


def _add_report(parser: argparse.ArgumentParser, name: str, *, seed: bool = True) -> None:
    parser.add_argument("--report", default=None, metavar="DIR",
                        help="folder for summary.json and report.html ('' for none) "
                             f"(default: reports/{name})")
    if seed:
        parser.add_argument("--seed", type=_non_negative_int, default=42,
                            help="random seed (default: 42)")


def _add_recipe_flags(train: argparse.ArgumentParser) -> None:
    from ..defaults import ACTIVATION_ALIASES, ACTIVATION_INITIALIZERS
    from .recipe_spec import (
        BATCH_NORM,
        OPTIMIZER_DEFAULTS,
        PLAIN_DEFAULTS,
        RECIPE_KEYS,
        SCHEDULES,
    )

    group = train.add_argument_group(
        "recipe", "each key of a recipe file; a flag overrides --recipe. Without any "
        "architecture key (--hidden ... --l2) the net is lecture 001's default DNN; with one, the "
        "unset keys are build_dnn's plain defaults: --batch-norm none, --dropout 0")
    kinds: dict[str, dict[str, Any]] = {
        "hidden": {"type": int, "nargs": "+", "metavar": "UNITS"},
        "activation": {"choices": sorted([*ACTIVATION_INITIALIZERS, *ACTIVATION_ALIASES])},
        "batch_norm": {"choices": BATCH_NORM},
        "optimizer": {"choices": sorted(OPTIMIZER_DEFAULTS)},
        "schedule": {"choices": ("none", *SCHEDULES)},
        "initializer": {"metavar": "NAME"},
    }
    for key, (default, _, text) in RECIPE_KEYS.items():
        integer = isinstance(default, int) or key == "schedule_steps"
        options = kinds.get(key, {"type": int if integer else float, "metavar": key.upper()})
        shown = "none" if default is None else (" ".join(map(str, default))
                                               if isinstance(default, list) else default)
        if key in ("batch_norm", "dropout"):
            plain = PLAIN_DEFAULTS[key]
            shown = f"{shown} without architecture flags, else {'none' if plain is None else plain}"
        group.add_argument("--" + key.replace("_", "-"), dest=f"recipe_{key}", default=None,
                           help=f"{text} (default: from --recipe, else {shown})", **options)


def _build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = _Parser(prog="keras-recipes", description="Train deep networks the way the "
                     "lectures teach (keras-training-recipes).")
    parser.add_argument("--version", action="version",
                        version=f"keras-recipes {__version__}",
                        help="print the version and exit (default: off)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                     parser_class=_Parser)

    train = commands.add_parser("train", help="train a recipe (default: the lectures' default "
                                "DNN) and write the model and a report")
    train.add_argument("--recipe", default=None, metavar="FILE",
                       help="a recipe file (.json or .toml); the recipe flags below override "
                            "it (default: none, the default DNN)")
    _add_data(train)
    _add_recipe_flags(train)
    train.add_argument("--name", default=None,
                       help="name of the run (default: the recipe file's name, else default_dnn "
                            "or custom_dnn)")
    train.add_argument("--output", default=None, metavar="PATH",
                       help="where to save the trained model (default: models/<name>.keras)")
    _add_report(train, "<name>", seed=False)  # the seed is a recipe key
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
    train.set_defaults(handler="train")

    lr_find = commands.add_parser("lr-find", help="exponential learning-rate sweep on the "
                                  "default DNN; suggests a rate and plots the sweep")
    _add_data(lr_find)
    lr_find.add_argument("--batch-size", type=_positive_int, default=32,
                         help="batch size of the sweep (default: 32)")
    lr_find.add_argument("--min-rate", type=_positive_float, default=1e-6,
                         help="first learning rate of the sweep, > 0 (default: 1e-06)")
    lr_find.add_argument("--max-rate", type=_positive_float, default=10.0,
                         help="last learning rate, above --min-rate (default: 10.0)")
    lr_find.add_argument("--plot", default=None, metavar="PNG",
                         help="also save the loss-vs-rate plot to this PNG (default: none; the "
                              "report embeds it)")
    _add_report(lr_find, "lr_find")
    lr_find.add_argument("--quiet", action="store_true",
                         help="no progress bar (default: off)")
    lr_find.set_defaults(handler="lr_find")

    checklist = commands.add_parser("checklist", help="run lecture 000's training checklists "
                                    "on a model before training")
    _add_data(checklist)
    checklist.add_argument("--model", default=None, metavar="PATH",
                           help="a compiled model saved as .keras (default: the default DNN)")
    checklist.add_argument("--strict", action="store_true",
                           help="exit with status 1 when an item fails (default: off)")
    _add_report(checklist, "checklist")
    checklist.set_defaults(handler="checklist")

    from .inspection_runs import TUNERS

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
    tune.add_argument("--overwrite", action="store_true",
                      help="start afresh instead of resuming a search in the same folder "
                           "(default: off)")
    _add_report(tune, "tune_<data>")
    tune.add_argument("--save-model", default=None, metavar="PATH",
                      help="save the best trial's model there (.keras) (default: none)")
    tune.add_argument("--quiet", action="store_true",
                      help="no per-trial progress output (default: off)")
    tune.set_defaults(handler="tune")

    from .compare_run import add_parser as add_compare

    add_compare(commands)
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
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help, --version, or a bad argument (status 2)
        return int(done.code or 0)
    from .commands import UsageError

    try:
        if args.handler == "train":
            from .training_run import run_train

            return run_train(args)
        if args.handler == "compare":
            from .compare_run import run_compare

            return run_compare(args)
        from . import inspection_runs

        return {"lr_find": inspection_runs.run_lr_find, "checklist": inspection_runs.run_checklist,
                "tune": inspection_runs.run_tune}[args.handler](args)
    except UsageError as error:
        print(f"keras-recipes {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
