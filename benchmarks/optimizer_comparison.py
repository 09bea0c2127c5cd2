"""Lecture 001's table 11-2 (optimizer comparison) and lecture 000's momentum grid, measured.

Part 1, equal effort: every optimizer of the table (SGD, momentum, Nesterov,
AdaGrad, RMSProp, Adam, Nadam, AdaMax; `recipes.make_optimizer` with the
lectures' other defaults) gets the same learning-rate grid (lecture 001's
"..., 0.001, 0.003, 0.01, 0.03, 0.1, ..."), each rate trained `--tune-epochs`
epochs with seed 0; the rate with the lowest validation loss is then trained
`--epochs` epochs for `--seeds` seeds. Reported per optimizer: the chosen rate;
convergence speed as the first epoch whose mean training loss is below
`--target` (and the training loss after 1/4 of the epochs); convergence quality as
the final validation loss and accuracy (mean +- sd over seeds). `--figure` draws
the mean training-loss curves with their min-max band over seeds.

Part 2, lecture 000's momentum grid: SGD with momentum 0.5, 0.9, 0.95, 0.99 (and
0 for reference) at one learning rate (`--momentum-rate`), the same seeds and
epochs. At a fixed rate a higher momentum also means a larger effective step
eta / (1 - m); the table shows both.

Network and data: digits, `build_dnn` 64-32 hidden (ELU, He), batch 32. This is
an accuracy/loss table, not a timing.

Run (the numbers in BENCHMARKS.md come from this command):

```bash
.venv/bin/python benchmarks/optimizer_comparison.py --seeds 3 --epochs 30 --tune-epochs 8 \
    --figure benchmarks/optimizer_comparison.png
```
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_recipes.data import load_digits  # noqa: E402
from keras_recipes.models import build_dnn  # noqa: E402
from keras_recipes.optimizers import compile_recipe, make_optimizer  # noqa: E402

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "nadam", "adamax")
RATES = (0.001, 0.003, 0.01, 0.03, 0.1)
MOMENTA = (0.0, 0.5, 0.9, 0.95, 0.99)
HIDDEN = (64, 32)


def train(name: str, rate: float, seed: int, epochs: int, data, **kwargs) -> dict[str, list[float]]:
    """One run; returns the Keras history (per-epoch loss, val_loss, val_accuracy)."""
    keras.utils.set_random_seed(seed)
    model = build_dnn(data.input_shape, data.n_classes, hidden=HIDDEN)
    compile_recipe(model, make_optimizer(name, learning_rate=rate, **kwargs))
    history = model.fit(*data.train, validation_data=data.valid, epochs=epochs, batch_size=32,
                        verbose=0).history
    loss = np.asarray(history["loss"], dtype=float)
    history["loss"] = np.where(np.isfinite(loss), loss, 1e3).tolist()   # diverged: cap for plots
    return history


def tune(name: str, data, epochs: int, rates: tuple[float, ...]) -> tuple[float, dict]:
    """Equal effort: the same rate grid for every optimizer; pick the lowest validation loss."""
    scores = {}
    for rate in rates:
        val_loss = train(name, rate, 0, epochs, data)["val_loss"][-1]
        scores[rate] = float(val_loss) if np.isfinite(val_loss) else float("inf")
    return min(scores, key=scores.get), scores


def sd(values: np.ndarray) -> float:
    return float(values.std(ddof=1)) if len(values) > 1 else 0.0


def summarize(runs: list[dict[str, list[float]]], target: float) -> dict[str, float]:
    loss = np.asarray([r["loss"] for r in runs])
    mean = loss.mean(axis=0)
    below = np.flatnonzero(mean < target)
    acc = np.asarray([r["val_accuracy"][-1] for r in runs])
    val_loss = np.asarray([r["val_loss"][-1] for r in runs])
    return {"epoch_below_target": int(below[0]) + 1 if len(below) else None,
            "loss_at_quarter": float(mean[max(len(mean) // 4, 1) - 1]),
            "final_loss": float(mean[-1]),
            "val_loss": float(val_loss.mean()), "val_loss_sd": sd(val_loss),
            "val_accuracy": float(acc.mean()), "val_accuracy_sd": sd(acc)}


def row(label: str, s: dict[str, float]) -> str:
    reached = s["epoch_below_target"] if s["epoch_below_target"] is not None else "never"
    return (f"| {label} | {reached} | {s['loss_at_quarter']:.3f} | {s['final_loss']:.4f} | "
            f"{s['val_loss']:.3f} +- {s['val_loss_sd']:.3f} | "
            f"{s['val_accuracy']:.3f} +- {s['val_accuracy_sd']:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--tune-epochs", type=int, default=8)
    parser.add_argument("--target", type=float, default=0.1,
                        help="training loss that counts as converged (convergence speed)")
    parser.add_argument("--momentum-rate", type=float, default=0.01)
    parser.add_argument("--optimizers", nargs="*", default=list(OPTIMIZERS))
    parser.add_argument("--rates", nargs="*", type=float, default=list(RATES))
    parser.add_argument("--skip-momentum-grid", action="store_true")
    parser.add_argument("--figure", type=Path, help="write the loss curves here (PNG)")
    parser.add_argument("--json", type=Path, help="write the raw results here")
    args = parser.parse_args()
    data = load_digits()
    header = ("| {} | first epoch with mean training loss < {} | training loss at epoch {} | "
              "final training loss | final val loss | final val accuracy |\n"
              "| --- | --- | --- | --- | --- | --- |")
    quarter = max(args.epochs // 4, 1)
    print(f"digits, build_dnn {HIDDEN} ELU/He, batch 32; rate grid {args.rates} x "
          f"{args.tune_epochs} "
          f"epochs (seed 0); then {args.epochs} epochs x {args.seeds} seeds")
    curves, raw = {}, {"optimizers": {}, "momentum": {}}
    rows = []
    for name in args.optimizers:
        rate, scores = tune(name, data, args.tune_epochs, tuple(args.rates))
        runs = [train(name, rate, seed, args.epochs, data) for seed in range(args.seeds)]
        summary = summarize(runs, args.target)
        curves[f"{name} ({rate:g})"] = [r["loss"] for r in runs]
        raw["optimizers"][name] = {"rate": rate, "tuning_val_loss": scores, **summary}
        rows.append(row(f"{name} @ {rate:g}", summary))
        print(f"  {name}: rate {rate:g} (tuning val losses "
              f"{ {k: round(v, 3) for k, v in scores.items()} })", flush=True)
    print(header.format("optimizer @ tuned rate", args.target, quarter))
    print("\n".join(rows))
    if not args.skip_momentum_grid:
        rows = []
        for momentum in MOMENTA:
            runs = [train("sgd", args.momentum_rate, seed, args.epochs, data, momentum=momentum)
                    for seed in range(args.seeds)]
            summary = summarize(runs, args.target)
            raw["momentum"][str(momentum)] = summary
            effective = args.momentum_rate / (1 - momentum)
            rows.append(row(f"momentum {momentum} (effective rate {effective:.3g})", summary))
        print(f"\nSGD at {args.momentum_rate}, lecture 000's momentum grid:")
        print(header.format("momentum", args.target, quarter))
        print("\n".join(rows))
    if args.json:
        args.json.write_text(json.dumps(raw, indent=1))
    if args.figure:
        import matplotlib

        matplotlib.use("Agg")
        from keras_recipes.plots import plot_mean_curves

        ax = plot_mean_curves(curves, title=f"table 11-2 on digits: training loss, tuned rates, "
                                            f"{args.seeds} seeds")
        ax.figure.set_size_inches(8, 4.5)
        ax.figure.tight_layout()
        ax.figure.savefig(args.figure, dpi=90)


if __name__ == "__main__":
    main()
