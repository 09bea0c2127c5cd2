"""Lecture 001's transfer-learning experiment on digits, and greedy layer-wise pretraining.

Part 1 (Hands-On ML's model A / model B, on the offline digits): model A learns
the 8 digits other than 5 and 6; task B is "5 or 6?" with only `--n-train-b`
labelled images (batch 4: 5 steps per epoch). B from scratch is compared with B reusing A
(`reuse_pretrained` + `fine_tune`: head alone for 4 epochs on frozen layers,
then everything for 16 epochs at a tenth of the rate), same architecture and
same number of epochs, over 5 seeds (the seed picks B's training images and
the initial weights). Published anchors for the same experiment on
Fashion-MNIST: 97.05% -> 99.40% (HOML 2nd ed. notebook), 91.85% -> 93.85%
(3rd ed.).

Part 2: an encoder pretrained greedily, layer by layer, on every training
image without labels, then a 10-class classifier trained on `--labels-per-class`
labels per class, compared with the same classifier from random
initialization.

Run:

```bash
.venv/bin/python benchmarks/transfer.py
```
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_recipes.data import load_digits, split_for_transfer  # noqa: E402
from keras_recipes.models import build_dnn  # noqa: E402
from keras_recipes.optimizers import compile_recipe  # noqa: E402
from keras_recipes.pretraining import greedy_layerwise_pretraining  # noqa: E402
from keras_recipes.transfer import fine_tune, reuse_pretrained  # noqa: E402

HIDDEN = (100, 50, 50)
HEAD_EPOCHS, EPOCHS = 4, 16


def _accuracy(model: keras.Model, pair: tuple[np.ndarray, np.ndarray]) -> float:
    return float(model.evaluate(*pair, verbose=0)[1])


def _summary(name: str, values: list[float]) -> str:
    v = 100 * np.asarray(values)
    return (f"  {name:<34} {v.mean():6.2f}% +- {v.std(ddof=1):4.2f} "
            f"(min {v.min():.2f}, max {v.max():.2f})")


def transfer_part(n_train_b: int, seeds: list[int], batch_size: int) -> None:
    data = load_digits()
    keras.utils.set_random_seed(42)
    split_a = split_for_transfer(data, n_train_b=n_train_b).a
    model_a = compile_recipe(build_dnn(split_a.input_shape, 8, hidden=HIDDEN))
    model_a.fit(*split_a.train, epochs=20, batch_size=32, verbose=0)
    print(f"model A (8 classes, {len(split_a.train[0])} images): test accuracy "
          f"{100 * _accuracy(model_a, split_a.test):.2f}%")
    scratch, reused = [], []
    for seed in seeds:
        b = split_for_transfer(data, n_train_b=n_train_b, seed=seed).b
        keras.utils.set_random_seed(seed)
        model = compile_recipe(build_dnn(b.input_shape, 1, hidden=HIDDEN, task="binary"))
        model.fit(*b.train, epochs=HEAD_EPOCHS + EPOCHS, batch_size=batch_size, verbose=0)
        scratch.append(_accuracy(model, b.test))
        keras.utils.set_random_seed(seed)
        model_b = reuse_pretrained(model_a, head="binary")
        fine_tune(model_b, b.train, head_epochs=HEAD_EPOCHS, epochs=EPOCHS,
                  batch_size=batch_size)
        reused.append(_accuracy(model_b, b.test))
    print(f"task B (5 vs 6), {n_train_b} training images, test set of "
          f"{len(b.test[0])}, {len(seeds)} seeds:")
    print(_summary("B from scratch", scratch))
    print(_summary("B on A (frozen, then fine-tuned)", reused))
    error = (1 - np.mean(scratch), 1 - np.mean(reused))
    print(f"  test error {100 * error[0]:.2f}% -> {100 * error[1]:.2f}% "
          f"(HOML 2nd ed. on Fashion-MNIST: 2.95% -> 0.60%)")


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
    args = parser.parse_args()
    seeds = list(range(args.seeds))
    start = time.perf_counter()
    print(f"keras {keras.__version__}, hidden {HIDDEN}, ELU, Adam 1e-3; B: {HEAD_EPOCHS} + "
          f"{EPOCHS} epochs")
    transfer_part(args.n_train_b, seeds, args.batch_size)
    pretraining_part(args.labels_per_class, seeds, args.batch_size)
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
