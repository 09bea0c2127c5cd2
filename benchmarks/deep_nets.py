"""Deep nets on every seed: 20 and 50 hidden layers of 100 on digits, through `recipes.compare`.

Four recipes, each `--depth` hidden layers of 100 units, 40 epochs, batch 32,
judged on the test split over 5 seeds (`recipes.compare`; the seed fixes the
initial weights and the batch order, the splits are `load_digits()`'s):

- `sick_net`: the lectures' sick net, sigmoid + Glorot + plain SGD (0.01);
- `keras_defaults`: what `keras.layers.Dense(100, activation="relu")` and
  `optimizer="adam"` give: ReLU, Glorot uniform, Adam 1e-3, no schedule;
- `default_dnn`: lecture 001's default DNN (He, ELU, BatchNorm after the
  activation, dropout 0.2, Adam 1e-3, no schedule), `recipes.default_dnn`;
- `deep_dnn`: `recipes.deep_dnn` (He + ELU, BatchNorm before the activation,
  standardized inputs, Adam with global clipping 1.0 and a warm-up + cosine
  schedule peaking at 1e-3, no dropout).

`--diagnose` trains each recipe once (seed 1000, not a judged seed) with
`GradientNormLogger` and `ActivationStats` and prints what training does:
the activation std in the first, middle and last hidden layers, the gradient
norm of the first hidden layer's kernel over the last one's, and the training
set's accuracy in inference mode (what the net learned) next to the training
loss (what the dropout / BatchNorm noise of training mode lets it show).

Run (the figures in BENCHMARKS.md, "Deep nets on every seed", come from these):

```bash
KERAS_BACKEND=jax .venv/bin/python benchmarks/deep_nets.py --depth 20 \
    --output benchmarks/results/deep_nets_20
KERAS_BACKEND=jax .venv/bin/python benchmarks/deep_nets.py --depth 50 \
    --output benchmarks/results/deep_nets_50
KERAS_BACKEND=jax .venv/bin/python benchmarks/deep_nets.py --depth 50 --diagnose
```
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from _comparisons import save_comparison  # noqa: E402

from keras_recipes import (  # noqa: E402
    Recipe,
    build_dnn,
    compare,
    compile_recipe,
    deep_dnn,
    default_dnn,
    load_digits,
)

WIDTH, EPOCHS, BATCH = 100, 40, 32


def recipes_at(depth: int, epochs: int = EPOCHS) -> dict[str, Recipe]:
    """The four contenders at `depth` hidden layers of `WIDTH`."""
    hidden = (WIDTH,) * depth

    def sick_net(data):
        model = build_dnn(data.input_shape, data.n_classes, hidden=hidden, activation="sigmoid")
        return compile_recipe(model, "sgd")

    def keras_defaults(data):
        model = build_dnn(data.input_shape, data.n_classes, hidden=hidden, activation="relu",
                          initializer="glorot_uniform", calibrate_output=False)
        return compile_recipe(model, keras.optimizers.Adam())

    def default(data):
        return default_dnn(data.input_shape, data.n_classes, hidden=hidden)

    def deep(data):
        steps = epochs * math.ceil(len(data.train[0]) / BATCH)
        return deep_dnn(data.input_shape, data.n_classes, depth=depth, normalize=data.train[0],
                        total_steps=steps)

    shape = f"{depth} x {WIDTH}"
    return {
        "sick_net": Recipe(sick_net, description=f"{shape} sigmoid, Glorot, SGD 0.01"),
        "keras_defaults": Recipe(keras_defaults, description=f"{shape} ReLU, Glorot uniform, "
                                 "Adam 1e-3"),
        "default_dnn": Recipe(default, description=f"{shape} lecture 001's default DNN: He, "
                              "ELU, BN after, dropout 0.2, Adam 1e-3"),
        "deep_dnn": Recipe(deep, description=f"{shape} recipes.deep_dnn: He, ELU, BN before, "
                           "standardized inputs, Adam + global_clipnorm 1 + warm-up/cosine "
                           "peak 1e-3"),
    }


def diagnose(depth: int, epochs: int, seed: int = 1000) -> dict[str, dict]:
    """One run of each recipe with the package's monitors; what training does, per recipe."""
    from keras_recipes.callbacks import ActivationStats, GradientNormLogger

    data = load_digits()
    found = {}
    for name, recipe in recipes_at(depth, epochs).items():
        keras.utils.set_random_seed(seed)
        model = recipe.build(data)
        logger, stats = GradientNormLogger(), ActivationStats(data.valid[0][:256])
        history = model.fit(*data.train, validation_data=data.valid, epochs=epochs,
                            batch_size=BATCH, verbose=0, callbacks=[logger, stats]).history
        kernels = [k for k in logger.history if k.endswith("/kernel") and "hidden_" in k]
        first, last = kernels[0], kernels[-1]
        ratio = np.asarray(logger.history[first]) / np.asarray(logger.history[last])
        layers = [n for n in stats.history if n.startswith("hidden_") and n.endswith(
            ("_elu", "_dense", "_sigmoid", "_relu"))]
        std = [stats.history[n]["std"][-1] for n in layers]
        predicted = model.predict(data.train[0], verbose=0).argmax(axis=1)
        found[name] = {
            "activation_std_first_middle_last": [std[0], std[len(std) // 2], std[-1]],
            "grad_norm_first_over_last_hidden_kernel": {"first_step": float(ratio[0]),
                                                        "last_step": float(ratio[-1])},
            "train_accuracy_inference_mode": float(np.mean(predicted == data.train[1])),
            "train_loss_last_epoch": history["loss"][-1],
            "val_accuracy_last_epoch": history["val_accuracy"][-1],
        }
        print(f"{name}: {json.dumps(found[name])}", flush=True)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--depth", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--recipes", nargs="*", default=None,
                        help="a subset of sick_net keras_defaults default_dnn deep_dnn")
    parser.add_argument("--diagnose", action="store_true",
                        help="one monitored run per recipe instead of the comparison")
    parser.add_argument("--output", type=Path, help="folder for summary.json and curves.png")
    args = parser.parse_args()
    print(f"digits, {args.depth} x {WIDTH} hidden, {args.epochs} epochs, batch {BATCH}",
          flush=True)
    if args.diagnose:
        found = diagnose(args.depth, args.epochs)
        if args.output:
            args.output.mkdir(parents=True, exist_ok=True)
            (args.output / "diagnosis.json").write_text(json.dumps(found, indent=1) + "\n")
        return
    contenders = recipes_at(args.depth, args.epochs)
    if args.recipes:
        contenders = {name: contenders[name] for name in args.recipes}
    result = compare(contenders, load_digits(), seeds=args.seeds, epochs=args.epochs,
                     target=0.97)
    print(result)
    for name in contenders:
        accuracy = result.table[name]["test"]["accuracy"]["values"]
        print(f"{name}: test accuracy >= 0.97 on {sum(a >= 0.97 for a in accuracy)} of "
              f"{len(accuracy)} seeds")
    if args.output:
        save_comparison(result, args.output,
                        title=f"digits, {args.depth} hidden layers of {WIDTH}, "
                              f"{args.seeds} seeds")


if __name__ == "__main__":
    main()
