"""Lecture 001's activation ranking, measured: SELU > ELU > leaky ReLU > ReLU > tanh > logistic?

Each of the six activations trains the same deep, narrow network on the offline
digits data with its table-11-1 initializer (`recipes.initializer_for`: LeCun
for SELU, He for ELU / leaky ReLU / ReLU, Glorot for tanh / sigmoid), Adam at
the lecture's 0.001, batch 32, over several seeds (the seed fixes the initial
weights and the batch order; the data split is fixed). The table gives the mean
and the spread (sample standard deviation) over seeds of the final validation
accuracy and validation loss, ranked by mean accuracy; `--figure` draws one
bar per activation with every seed as a dot. This is an accuracy table, not a
timing: the machine's load does not change it.

Run (the numbers in BENCHMARKS.md come from this command):

```bash
.venv/bin/python benchmarks/activation_ranking.py --seeds 5 --epochs 10 \
    --figure benchmarks/activation_ranking.png
.venv/bin/python benchmarks/activation_ranking.py --seeds 5 --epochs 10 --standardize
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
from keras_recipes.defaults import initializer_for  # noqa: E402
from keras_recipes.models import build_dnn  # noqa: E402
from keras_recipes.optimizers import compile_recipe  # noqa: E402

SLIDE_ORDER = ("selu", "elu", "leaky_relu", "relu", "tanh", "sigmoid")


def run(
    seeds: int = 5,
    epochs: int = 10,
    depth: int = 10,
    width: int = 100,
    standardize: bool = False,
    activations: tuple[str, ...] = SLIDE_ORDER,
) -> dict[str, dict[str, list[float]]]:
    """Train every activation for every seed; return name -> {"val_accuracy": [...], ...}."""
    data = load_digits()
    x_train, y_train = data.train
    results: dict[str, dict[str, list[float]]] = {}
    for activation in activations:
        runs: dict[str, list[float]] = {"val_accuracy": [], "val_loss": [], "loss": []}
        for seed in range(seeds):
            keras.utils.set_random_seed(seed)
            model = build_dnn(data.input_shape, data.n_classes, hidden=(width,) * depth,
                              activation=activation,
                              normalize=x_train if standardize else None)
            compile_recipe(model, "adam", learning_rate=1e-3)
            history = model.fit(x_train, y_train, validation_data=data.valid, epochs=epochs,
                                batch_size=32, verbose=0).history
            for key in runs:
                runs[key].append(float(history[key][-1]))
        results[activation] = runs
        accuracy = np.asarray(runs["val_accuracy"])
        print(f"  {activation:<10} done: val accuracy {accuracy.mean():.3f}", flush=True)
    return results


def _sd(values: np.ndarray) -> float:
    return float(values.std(ddof=1)) if len(values) > 1 else 0.0


def table(results: dict[str, dict[str, list[float]]]) -> str:
    """Markdown table ranked by mean validation accuracy."""
    rows = ["| rank | activation | initializer | val accuracy mean +- sd | min - max "
            "| val loss mean +- sd |", "| --- | --- | --- | --- | --- | --- |"]
    ranked = sorted(results, key=lambda a: -np.mean(results[a]["val_accuracy"]))
    for rank, name in enumerate(ranked, start=1):
        acc, loss = np.asarray(results[name]["val_accuracy"]), np.asarray(results[name]["val_loss"])
        rows.append(f"| {rank} | {name} | {initializer_for(name)} "
                    f"| {acc.mean():.3f} +- {_sd(acc):.3f} "
                    f"| {acc.min():.3f} - {acc.max():.3f} | {loss.mean():.3f} +- {_sd(loss):.3f} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--depth", type=int, default=10)
    parser.add_argument("--width", type=int, default=100)
    parser.add_argument("--standardize", action="store_true",
                        help="standardize the inputs (a Normalization layer adapted to x_train)")
    parser.add_argument("--figure", type=Path, help="write the bar chart here (PNG)")
    parser.add_argument("--json", type=Path, help="write the raw results here")
    args = parser.parse_args()
    print(f"digits, {args.depth} x {args.width} hidden, Adam 1e-3, batch 32, {args.epochs} epochs, "
          f"{args.seeds} seeds, inputs "
          f"{'standardized' if args.standardize else 'scaled to [0, 1]'}")
    results = run(args.seeds, args.epochs, args.depth, args.width, args.standardize)
    print(table(results))
    print("slide: " + " > ".join(SLIDE_ORDER))
    ranked = sorted(results, key=lambda a: -np.mean(results[a]["val_accuracy"]))
    print("measured: " + " > ".join(ranked))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    if args.figure:
        import matplotlib

        matplotlib.use("Agg")
        from keras_recipes.plots import plot_seed_spread

        accuracy = {a: results[a]["val_accuracy"] for a in SLIDE_ORDER if a in results}
        ax = plot_seed_spread(accuracy,
                              title=f"digits, {args.depth}x{args.width}, {args.epochs} epochs, "
                                    f"{args.seeds} seeds (slide's order, left to right)")
        ax.figure.tight_layout()
        ax.figure.savefig(args.figure, dpi=90)


if __name__ == "__main__":
    main()
