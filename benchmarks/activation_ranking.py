"""Lecture 001's activation ranking, through `recipes.compare`: SELU > ELU > ... > logistic?

Each of the six activations trains the same deep, narrow network on the offline
digits data with its table-11-1 initializer (`recipes.initializer_for`: LeCun
for SELU, He for ELU / leaky ReLU / ReLU, Glorot for tanh / sigmoid), Adam at
the lecture's 0.001, batch 32, over several seeds (the seed fixes the initial
weights and the batch order; the splits are fixed). `recipes.compare` judges
the test accuracy: per activation the mean, sd and min-max over the seeds,
and per pair a Welch t interval of the difference with its verdict. The
ranking printed is by mean test accuracy; the verdicts say which places the
spread separates. Accuracy, not timing: the machine's load does not change it.
Nothing is tuned (every activation gets the lecture's rate).

Run (the numbers in BENCHMARKS.md come from these commands; JAX is the fast
backend for these small nets):

```bash
KERAS_BACKEND=jax .venv/bin/python benchmarks/activation_ranking.py --seeds 5 --epochs 10 \
    --output benchmarks/results/activation_ranking
KERAS_BACKEND=jax .venv/bin/python benchmarks/activation_ranking.py --seeds 5 --epochs 10 \
    --standardize --output benchmarks/results/activation_ranking_standardized
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

from keras_recipes import Recipe, build_dnn, compare, compile_recipe, load_digits  # noqa: E402
from keras_recipes.defaults import initializer_for  # noqa: E402

SLIDE_ORDER = ("selu", "elu", "leaky_relu", "relu", "tanh", "sigmoid")


def activation_recipe(activation: str, depth: int, width: int, standardize: bool) -> Recipe:
    """One activation with its table-11-1 initializer, Adam 1e-3."""

    def build(data):
        model = build_dnn(data.input_shape, data.n_classes, hidden=(width,) * depth,
                          activation=activation,
                          normalize=data.train[0] if standardize else None)
        return compile_recipe(model, "adam", learning_rate=1e-3)

    init = initializer_for(activation)
    return Recipe(build, description=f"{depth} x {width} {activation}, {init}, Adam 1e-3, batch 32")


def ranking(summary: dict) -> list[str]:
    """The activations by mean test accuracy, best first."""
    table = summary["table"]
    return sorted(table, key=lambda a: -table[a]["test"][summary["metric"]]["mean"])


def table(results: dict[str, dict[str, list[float]]]) -> str:
    """Markdown table of benchmarks/results/activation_ranking*.json (per activation, the final
    validation accuracy and loss of each seed), ranked by mean validation accuracy."""
    import numpy as np

    def sd(values: np.ndarray) -> float:
        return float(values.std(ddof=1)) if len(values) > 1 else 0.0

    rows = ["| rank | activation | initializer | val accuracy mean +- sd | min - max "
            "| val loss mean +- sd |", "| --- | --- | --- | --- | --- | --- |"]
    ranked = sorted(results, key=lambda a: -np.mean(results[a]["val_accuracy"]))
    for rank, name in enumerate(ranked, start=1):
        acc, loss = np.asarray(results[name]["val_accuracy"]), np.asarray(results[name]["val_loss"])
        rows.append(f"| {rank} | {name} | {initializer_for(name)} "
                    f"| {acc.mean():.3f} +- {sd(acc):.3f} "
                    f"| {acc.min():.3f} - {acc.max():.3f} | {loss.mean():.3f} +- {sd(loss):.3f} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--depth", type=int, default=10)
    parser.add_argument("--width", type=int, default=100)
    parser.add_argument("--standardize", action="store_true",
                        help="standardize the inputs (a Normalization layer adapted to x_train)")
    parser.add_argument("--activations", nargs="*", default=list(SLIDE_ORDER))
    parser.add_argument("--output", type=Path,
                        help="folder for summary.json and curves.png (default: print only)")
    args = parser.parse_args()
    inputs = "standardized" if args.standardize else "scaled to [0, 1]"
    print(f"digits, {args.depth} x {args.width} hidden, Adam 1e-3, batch 32, {args.epochs} "
          f"epochs, {args.seeds} seeds, inputs {inputs}", flush=True)
    result = compare({a: activation_recipe(a, args.depth, args.width, args.standardize)
                      for a in args.activations}, load_digits(), seeds=args.seeds,
                     epochs=args.epochs, target=0.9)
    print(result)
    print("slide:    " + " > ".join(SLIDE_ORDER))
    print("measured: " + " > ".join(ranking(result.summary())))
    if args.output:
        save_comparison(result, args.output,
                        title=f"activations, digits {args.depth} x {args.width}, inputs {inputs}")


if __name__ == "__main__":
    main()
