"""Lecture 001's table 11-2 (optimizers) and lecture 000's momentum grid, through `recipes.compare`.

Part 1, equal effort: every optimizer of the table (SGD, momentum, Nesterov,
AdaGrad, RMSProp, Adam, Nadam, AdaMax; `recipes.make_optimizer` with the
lectures' other defaults) gets the same learning-rate grid (lecture 001's
"..., 0.001, 0.003, 0.01, 0.03, 0.1, ..."): `recipes.compare` trains every rate
once with its tuning seed (not one of the judged seeds) and keeps the rate with
the lowest validation loss; the judged runs (`--seeds` seeds) then train at that
rate and are judged on the test split, which chose nothing. Reported per
optimizer: the chosen rate; convergence speed as the first epoch whose
training loss is below `--target` (median over the seeds, and how many seeds
reach it); quality as the test accuracy and loss (mean, sd, min-max) with a
Welch-interval verdict per pair.

Part 2, lecture 000's momentum grid: SGD with momentum 0 (reference), 0.5,
0.9, 0.95, 0.99 at one learning rate (`--momentum-rate`, not tuned: the grid is
the lecture's question), the same seeds and epochs. At a fixed rate a higher
momentum also means a larger effective step eta / (1 - m).

Network and data: digits, `build_dnn` 64-32 hidden (ELU, He), batch 32. This is
an accuracy/loss comparison, not a timing.

Run (the numbers in BENCHMARKS.md come from this command):

```bash
KERAS_BACKEND=jax .venv/bin/python benchmarks/optimizer_comparison.py --seeds 5 --epochs 15 \
    --rates 0.001 0.01 0.1 --output benchmarks/results
```
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _comparisons import save_comparison  # noqa: E402

from keras_recipes import (  # noqa: E402
    Recipe,
    build_dnn,
    compare,
    compile_recipe,
    load_digits,
    make_optimizer,
)

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "nadam", "adamax")
RATES = (0.001, 0.003, 0.01, 0.03, 0.1)
MOMENTA = (0.0, 0.5, 0.9, 0.95, 0.99)
HIDDEN = (64, 32)


def optimizer_recipe(name: str, *, rates: tuple[float, ...] | None = None,
                     learning_rate: float | None = None, **options) -> Recipe:
    """`build_dnn` 64-32 with optimizer `name`; its rate tuned over `rates`, or fixed."""

    def build(data, learning_rate=learning_rate):
        model = build_dnn(data.input_shape, data.n_classes, hidden=HIDDEN)
        return compile_recipe(model, make_optimizer(name, learning_rate=learning_rate,
                                                    **options))

    shown = "".join(f", {k} {v}" for k, v in options.items())
    rate = (f"rate tuned over {list(rates)}" if rates else
            f"rate {learning_rate if learning_rate else 'the lecture default'}")
    return Recipe(build, tune={"learning_rate": list(rates)} if rates else None,
                  description=f"build_dnn {HIDDEN} ELU/He, {name}{shown}, {rate}, batch 32")


def row(label: str, s: dict) -> str:
    """A Markdown row of benchmarks/results/optimizer_comparison.json (the raw per-optimizer
    numbers notebook 04 reads): speed and final training, validation loss and accuracy."""
    reached = s["epoch_below_target"] if s["epoch_below_target"] is not None else "never"
    return (f"| {label} | {reached} | {s['loss_at_quarter']:.3f} | {s['final_loss']:.4f} | "
            f"{s['val_loss']:.3f} +- {s['val_loss_sd']:.3f} | "
            f"{s['val_accuracy']:.3f} +- {s['val_accuracy_sd']:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--target", type=float, default=0.1,
                        help="training loss that counts as converged (convergence speed)")
    parser.add_argument("--momentum-rate", type=float, default=0.01)
    parser.add_argument("--optimizers", nargs="*", default=list(OPTIMIZERS))
    parser.add_argument("--rates", nargs="*", type=float, default=list(RATES))
    parser.add_argument("--skip-momentum-grid", action="store_true")
    parser.add_argument("--output", type=Path,
                        help="folder that gets optimizer_comparison/ and momentum_grid/ "
                             "(summary.json, curves.png) (default: print only)")
    args = parser.parse_args()
    data = load_digits()
    print(f"digits, build_dnn {HIDDEN} ELU/He, batch 32, {args.epochs} epochs, {args.seeds} "
          f"seeds; rate grid {args.rates} tuned on the validation split", flush=True)
    result = compare({name: optimizer_recipe(name, rates=tuple(args.rates))
                      for name in args.optimizers}, data, seeds=args.seeds, epochs=args.epochs,
                     target=args.target, target_metric="loss")
    for name, tuning in result.tuning.items():
        print(f"  {name}: rate {tuning['chosen']['learning_rate']:g} (validation losses "
              f"{[round(t['val_loss'], 3) for t in tuning['tried']]})")
    print(result)
    if args.output:
        save_comparison(result, args.output / "optimizer_comparison",
                        title=f"table 11-2 on digits, tuned rates, {args.seeds} seeds")
    if not args.skip_momentum_grid:
        print(f"\nSGD at {args.momentum_rate}, lecture 000's momentum grid:", flush=True)
        grid = compare({f"momentum {m:g}": optimizer_recipe("sgd", momentum=m,
                                                             learning_rate=args.momentum_rate)
                        for m in MOMENTA}, data, seeds=args.seeds, epochs=args.epochs,
                       target=args.target, target_metric="loss")
        print(grid)
        if args.output:
            save_comparison(grid, args.output / "momentum_grid",
                            title=f"SGD at {args.momentum_rate} with momentum m, {args.seeds} "
                                  "seeds")


if __name__ == "__main__":
    main()
