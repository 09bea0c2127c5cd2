"""Lecture 001's transfer-learning experiment on digits, and greedy layer-wise pretraining.

Part 1 (Hands-On ML's model A / model B, on the offline digits): model A learns
the 8 digits other than 5 and 6; task B is "5 or 6?" with only `--n-train-b`
labelled images (batch 4: 5 steps per epoch). B from scratch is compared with B reusing A
(`reuse_pretrained` + `fine_tune`: head alone for 4 epochs on frozen layers,
then everything for 16 epochs at a tenth of the rate), same architecture and
same number of epochs, through `recipes.compare` over 5 seeds: B's 20 training
images are the same for every run (split seed 42), the seed fixes the initial
weights of B's new layers and the batch order, and the verdict is a Welch
interval of the difference of the test accuracies. Published anchors for the same experiment on
Fashion-MNIST: 97.05% -> 99.40% (HOML 2nd ed. notebook), 91.85% -> 93.85%
(3rd ed.).

Part 2: an encoder pretrained greedily, layer by layer, on every training
image without labels, then a 10-class classifier trained on `--labels-per-class`
labels per class, compared with the same classifier from random
initialization.

Run (BENCHMARKS.md; the comparison's files in benchmarks/results/transfer/):

```bash
KERAS_BACKEND=jax .venv/bin/python benchmarks/transfer.py --output benchmarks/results/transfer
```
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from _comparisons import save_comparison  # noqa: E402

from keras_recipes import Recipe, compare  # noqa: E402
from keras_recipes.data import load_digits, split_for_transfer  # noqa: E402
from keras_recipes.freezing import unfreeze  # noqa: E402
from keras_recipes.models import build_dnn  # noqa: E402
from keras_recipes.optimizers import compile_recipe  # noqa: E402
from keras_recipes.pretraining import greedy_layerwise_pretraining  # noqa: E402
from keras_recipes.transfer import (  # noqa: E402
    FINE_TUNE_RATE_FACTOR,
    fine_tune,
    reuse_pretrained,
)

HIDDEN = (100, 50, 50)
HEAD_EPOCHS, EPOCHS = 4, 16


def _accuracy(model: keras.Model, pair: tuple[np.ndarray, np.ndarray]) -> float:
    return float(model.evaluate(*pair, verbose=0)[1])


def _summary(name: str, values: list[float]) -> str:
    v = 100 * np.asarray(values)
    return (f"  {name:<34} {v.mean():6.2f}% +- {v.std(ddof=1):4.2f} "
            f"(min {v.min():.2f}, max {v.max():.2f})")


def transfer_part(n_train_b: int, seeds: list[int], batch_size: int,
                  output: Path | None) -> None:
    """B from scratch vs B on A, through `recipes.compare` (the same B split for both)."""
    data = load_digits()
    keras.utils.set_random_seed(42)
    split = split_for_transfer(data, n_train_b=n_train_b)
    model_a = compile_recipe(build_dnn(split.a.input_shape, 8, hidden=HIDDEN))
    model_a.fit(*split.a.train, epochs=20, batch_size=32, verbose=0)
    print(f"model A (8 classes, {len(split.a.train[0])} images): test accuracy "
          f"{100 * _accuracy(model_a, split.a.test):.2f}%")

    def scratch(b):
        return compile_recipe(build_dnn(b.input_shape, 1, hidden=HIDDEN, task="binary"))

    def reused(b):
        # phase 1 (the new head alone on A's frozen layers) runs here; compare fits phase 2
        model_b = reuse_pretrained(model_a, head="binary")
        fine_tune(model_b, b.train, head_epochs=HEAD_EPOCHS, epochs=0, batch_size=batch_size)
        rate = float(keras.ops.convert_to_numpy(model_b.optimizer.learning_rate))
        return unfreeze(model_b, learning_rate=rate * FINE_TUNE_RATE_FACTOR)

    b = split.b
    print(f"task B (5 vs 6), {n_train_b} training images (fixed), test set of "
          f"{len(b.test[0])}, {len(seeds)} seeds (initial weights, batch order):", flush=True)
    result = compare({
        "B from scratch": Recipe(scratch, epochs=HEAD_EPOCHS + EPOCHS, batch_size=batch_size,
                                 description=f"build_dnn {HIDDEN} ELU/He, Adam 1e-3, "
                                             f"{HEAD_EPOCHS + EPOCHS} epochs"),
        "B on A": Recipe(reused, epochs=EPOCHS, batch_size=batch_size,
                         description=f"reuse_pretrained(model A) + fine_tune: {HEAD_EPOCHS} "
                                     f"epochs head only, then {EPOCHS} epochs everything at "
                                     "a tenth of the rate"),
    }, b, seeds=seeds, epochs=EPOCHS, verbose=1)
    print(result)
    if output:
        save_comparison(result, output, title=f"task B (5 vs 6), {n_train_b} training images",
                        keys=("val_loss", "val_accuracy"))


def pretraining_part(labels_per_class: int, seeds: list[int], batch_size: int) -> None:
    data = load_digits()
    x_train, y_train = data.train
    start = time.perf_counter()
    encoder = greedy_layerwise_pretraining(x_train, hidden=HIDDEN, epochs=20, seed=0)
    losses = ", ".join(f"{s[0]:.4f} -> {s[-1]:.4f}" for s in encoder.pretraining_losses)
    print(f"\ngreedy pretraining on {len(x_train)} unlabeled images, hidden {HIDDEN}, "
          f"{time.perf_counter() - start:.0f} s; reconstruction MSE per stage: {losses}")
    random_init, pretrained = [], []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        chosen = np.concatenate([
            rng.choice(np.flatnonzero(y_train == c), labels_per_class, replace=False)
            for c in range(10)
        ])
        few = (x_train[chosen], y_train[chosen])
        keras.utils.set_random_seed(seed)
        model = compile_recipe(build_dnn(data.input_shape, 10, hidden=HIDDEN))
        model.fit(*few, epochs=HEAD_EPOCHS + EPOCHS, batch_size=batch_size, verbose=0)
        random_init.append(_accuracy(model, data.test))
        keras.utils.set_random_seed(seed)
        model = reuse_pretrained(encoder, drop=0, head="multiclass:10")
        fine_tune(model, few, head_epochs=HEAD_EPOCHS, epochs=EPOCHS, batch_size=batch_size)
        pretrained.append(_accuracy(model, data.test))
    print(f"10 digits, {labels_per_class} labels per class, test set of {len(data.test[0])}, "
          f"{len(seeds)} seeds:")
    print(_summary("random initialization", random_init))
    print(_summary("greedy-pretrained encoder", pretrained))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train-b", type=int, default=20)
    parser.add_argument("--labels-per-class", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=4,
                        help="batch size of the few-label fits (model A uses 32)")
    parser.add_argument("--output", type=Path, default=None,
                        help="folder for the transfer comparison's summary.json and curves.png")
    parser.add_argument("--skip-pretraining", action="store_true")
    args = parser.parse_args()
    seeds = list(range(args.seeds))
    start = time.perf_counter()
    print(f"keras {keras.__version__}, hidden {HIDDEN}, ELU, Adam 1e-3; B: {HEAD_EPOCHS} + "
          f"{EPOCHS} epochs")
    transfer_part(args.n_train_b, seeds, args.batch_size, args.output)
    if not args.skip_pretraining:
        pretraining_part(args.labels_per_class, seeds, args.batch_size)
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
