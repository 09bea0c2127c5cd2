"""The `keras-recipes` command: train, lr-find, tune, checklist.

Each sub-command is one function `_cmd_<name>(args)` plus its arguments in
`_build_parser`; nothing in the package imports this module.

Example:

```bash
keras-recipes train --epochs 20 --output digits.keras
keras-recipes train --data fashion-mnist   # needs the network once
```
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DATA_SETS = ("digits", "fashion-mnist")


def _load(name: str) -> Any:
    from recipes.data import load_digits, load_fashion_mnist

    return load_digits() if name == "digits" else load_fashion_mnist()


def _cmd_train(args: argparse.Namespace) -> int:
    import keras

    from callbacks import GradientNormLogger, InitialLossCheck, VanishingGradientDetector
    from recipes.models import default_dnn

    keras.utils.set_random_seed(args.seed)
    data = _load(args.data)
    print(
        f"Training the lectures' default DNN (He init, ELU, BatchNorm, dropout, Adam) on "
        f"{args.data}: {len(data.train[0])} training / {len(data.valid[0])} validation / "
        f"{len(data.test[0])} test samples, {data.n_classes} classes."
    )
    model = default_dnn(data.input_shape, data.n_classes, learning_rate=args.learning_rate)
    initial_loss = InitialLossCheck(*data.train)
    logger = GradientNormLogger()
    detector = VanishingGradientDetector(action="warn")
    monitors = [initial_loss, logger, detector,
                keras.callbacks.EarlyStopping(patience=10, restore_best_weights=True)]
    report = Path(args.report) if args.report else None
    if report is not None:
        report.mkdir(parents=True, exist_ok=True)
        monitors.append(keras.callbacks.CSVLogger(str(report / "history.csv")))
    history = model.fit(
        *data.train,
        validation_data=data.valid,
        epochs=args.epochs,
        batch_size=args.batch_size,
        verbose=2 if args.quiet else 1,
        callbacks=monitors,
    )
    print(
        f"Checklist 1, initial loss: {initial_loss.measured:.4f} (expected "
        f"{initial_loss.expected:.4f} = ln({data.n_classes}) for balanced classes)"
    )
    findings = [event["message"] for event in detector.events]
    print("Gradients: " + ("\n  ".join(findings) if findings else
                           "no vanishing, exploding or non-finite gradients found."))
    results = model.evaluate(*data.test, verbose=0, return_dict=True)
    print(
        f"Trained {len(history.history['loss'])} epochs; best val_accuracy "
        f"{max(history.history['val_accuracy']):.4f}"
    )
    print(f"Test accuracy: {results['accuracy']:.4f}  test loss: {results['loss']:.4f}")
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    model.save(output)
    print(f"Saved the model to {output}")
    if report is not None:
        _save_report(report, history, logger)
    return 0


def _save_report(report: Path, history: Any, logger: Any) -> None:
    """Learning curves and gradient norms as PNG files next to history.csv."""
    import matplotlib

    matplotlib.use("Agg")
    from recipes.plots import plot_gradient_norms, plot_learning_curves

    figure = plot_learning_curves(history, ["loss", "accuracy"])[0].figure
    figure.savefig(report / "learning_curves.png", dpi=110, bbox_inches="tight")
    ax = plot_gradient_norms(logger, title="gradient norms per layer (kernels)")
    ax.figure.savefig(report / "gradient_norms.png", dpi=110, bbox_inches="tight")
    print(f"Saved the report to {report}/ (history.csv, learning_curves.png, gradient_norms.png)")


TUNERS = ("random", "hyperband", "bayesian", "grid")


def _cmd_tune(args: argparse.Namespace) -> int:
    import keras
    import keras_tuner

    from recipes.tuning import DNNHyperModel

    keras.utils.set_random_seed(args.seed)
    data = _load(args.data)
    hypermodel = DNNHyperModel(data.input_shape, data.n_classes)
    common = {"objective": hypermodel.objective, "seed": args.seed, "directory": args.directory,
              "project_name": args.project_name or f"{args.data}_{args.tuner}",
              "overwrite": args.overwrite}
    if args.tuner == "hyperband":
        tuner = keras_tuner.Hyperband(hypermodel, max_epochs=args.epochs, factor=3, **common)
        # Hyperband sizes its brackets from max_epochs; --trials caps the trials it starts.
        tuner.oracle.max_trials = args.trials
    else:
        tuner_class = {"random": keras_tuner.RandomSearch, "grid": keras_tuner.GridSearch,
                       "bayesian": keras_tuner.BayesianOptimization}[args.tuner]
        tuner = tuner_class(hypermodel, max_trials=args.trials, **common)
    print(
        f"Searching {args.trials} trials of the lectures' DNN space with {args.tuner} on "
        f"{args.data} ({args.epochs} epochs per trial; results in {tuner.project_dir})."
    )
    search_args = {"validation_data": data.valid, "verbose": 0 if args.quiet else 1}
    if args.tuner != "hyperband":
        search_args["epochs"] = args.epochs
    tuner.search(*data.train, **search_args)
    best_trial = tuner.oracle.get_best_trials(1)
    if not best_trial:
        print("No trial completed; see the messages above.", file=sys.stderr)
        return 1
    trial = best_trial[0]
    print(f"Best trial {trial.trial_id}: {hypermodel.objective} = {trial.score:.4f}")
    print("Best configuration:")
    values = trial.hyperparameters.values
    width = max(len(name) for name in values)
    for name, value in values.items():
        shown = f"{value:.4g}" if isinstance(value, float) else value
        print(f"  {name:<{width}}  {shown}")
    return 0


def _cmd_lr_find(args: argparse.Namespace) -> int:
    import keras

    from recipes.lr_finder import find_learning_rate
    from recipes.models import default_dnn

    keras.utils.set_random_seed(args.seed)
    data = _load(args.data)
    model = default_dnn(data.input_shape, data.n_classes)
    print(f"Sweeping the learning rate of the default DNN (Adam) on {args.data}, "
          f"{args.min_rate:g} to {args.max_rate:g}, batch {args.batch_size}.")
    result = find_learning_rate(
        model, *data.train, batch_size=args.batch_size,
        min_learning_rate=args.min_rate, max_learning_rate=args.max_rate,
    )
    print(f"Lowest smoothed loss at learning rate {result.min_loss_learning_rate:.3g}"
          f"{' (stopped early: the loss diverged)' if result.stopped_early else ''}.")
    print(f"Suggested learning rate: {result.suggested_learning_rate:.3g}")
    if args.plot:
        from recipes.plots import plot_lr_finder

        plot_lr_finder(result).figure.savefig(args.plot, dpi=120, bbox_inches="tight")
        print(f"Saved the plot to {args.plot}")
    return 0


def _cmd_checklist(args: argparse.Namespace) -> int:
    import keras

    from recipes.checks import run_checklist
    from recipes.models import default_dnn

    keras.utils.set_random_seed(args.seed)
    data = _load(args.data)
    if args.model:
        model = keras.models.load_model(args.model)
        print(f"Checking the saved model {args.model} on {args.data}.")
    else:
        model = default_dnn(data.input_shape, data.n_classes)
        print(f"Checking the lectures' default DNN on {args.data} (use --model for your own).")
    report = run_checklist(model, data.train, data.valid, test=data.test)
    print(report)
    return 1 if args.strict and not report.passed else 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer; received {text!r}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number; received {text!r}")
    return value


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="keras-recipes",
        description="Train deep networks the way the lectures teach (keras-training-recipes).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser(
        "train", help="train the lectures' default DNN and report its test accuracy"
    )
    train.add_argument("--data", choices=DATA_SETS, default="digits",
                       help="data set (digits is offline; default: digits)")
    train.add_argument("--epochs", type=_positive_int, default=30)
    train.add_argument("--batch-size", type=_positive_int, default=32,
                       help="lecture 001: prefer batches of up to 32 (default: 32)")
    train.add_argument("--learning-rate", type=_positive_float, default=1e-3)
    train.add_argument("--seed", type=int, default=42)
    train.add_argument("--output", default="models/default_dnn.keras",
                       help="where to save the trained model (.keras)")
    train.add_argument("--report", default="reports/default_dnn",
                       help="folder for history.csv and the plots ('' for none)")
    train.add_argument("--quiet", action="store_true",
                       help="one line per epoch instead of Keras's progress bar")
    train.set_defaults(handler=_cmd_train)

    lr_find = commands.add_parser(
        "lr-find", help="exponential learning-rate sweep on the default DNN; suggests a rate"
    )
    lr_find.add_argument("--data", choices=DATA_SETS, default="digits")
    lr_find.add_argument("--batch-size", type=_positive_int, default=32)
    lr_find.add_argument("--min-rate", type=_positive_float, default=1e-6)
    lr_find.add_argument("--max-rate", type=_positive_float, default=10.0)
    lr_find.add_argument("--seed", type=int, default=42)
    lr_find.add_argument("--plot", help="save the loss-vs-rate plot to this PNG file")
    lr_find.set_defaults(handler=_cmd_lr_find)

    checklist = commands.add_parser(
        "checklist", help="run lecture 000's training checklists on a model before training"
    )
    checklist.add_argument("--data", choices=DATA_SETS, default="digits")
    checklist.add_argument("--model", help="a saved .keras model (default: the default DNN)")
    checklist.add_argument("--seed", type=int, default=42)
    checklist.add_argument("--strict", action="store_true",
                           help="exit with status 1 when an item fails")
    checklist.set_defaults(handler=_cmd_checklist)

    tune = commands.add_parser(
        "tune", help="search the lectures' DNN hyper-parameters with keras-tuner (DNNHyperModel)"
    )
    tune.add_argument("--data", choices=DATA_SETS, default="digits",
                      help="data set (digits is offline; default: digits)")
    tune.add_argument("--tuner", choices=TUNERS, default="random",
                      help="keras-tuner algorithm (default: random)")
    tune.add_argument("--trials", type=_positive_int, default=10,
                      help="number of configurations to try (default: 10)")
    tune.add_argument("--epochs", type=_positive_int, default=10,
                      help="epochs per trial (hyperband: the most epochs of a trial)")
    tune.add_argument("--directory", default="tuning",
                      help="where keras-tuner keeps its trials (default: tuning)")
    tune.add_argument("--project-name", default=None,
                      help="sub-folder of --directory (default: <data>_<tuner>)")
    tune.add_argument("--overwrite", action="store_true",
                      help="start afresh instead of resuming a search in the same folder")
    tune.add_argument("--seed", type=int, default=42)
    tune.add_argument("--quiet", action="store_true", help="no per-trial progress output")
    tune.set_defaults(handler=_cmd_tune)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `keras-recipes` command line.

    Example:

    ```bash
    keras-recipes train --epochs 10
    ```

    Args:
        argv: arguments without the program name (default: `sys.argv[1:]`).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = _build_parser().parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
