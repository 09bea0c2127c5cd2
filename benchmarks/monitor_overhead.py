"""Epoch time of plain `fit` vs `fit` with the gradient callbacks vs the naive approach.

784-300-100-10 MLP (ReLU), batch 32, synthetic data of MNIST shape, SGD.
Three variants, interleaved, each timed on its second epoch (the first one
includes tracing), median of `--repeats`:

* plain: `model.fit` with no callbacks;
* ours: `GradientNormLogger()` + `VanishingGradientDetector()`, every step;
* naive: a callback that recomputes the gradients of the batch with its own
  `tf.GradientTape` after every batch (an extra forward and backward pass).

Example:

```bash
.venv/bin/python benchmarks/monitor_overhead.py --repeats 5 --samples 8000
```
"""

from __future__ import annotations

import argparse
import statistics
import time

import keras
import numpy as np
import tensorflow as tf  # the naive baseline needs its own GradientTape

from callbacks import GradientNormLogger, VanishingGradientDetector


class EpochTimer(keras.callbacks.Callback):
    """Wall time of each epoch."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.times.append(time.perf_counter() - self._start)


class NaiveGradientNorms(keras.callbacks.Callback):
    """The naive approach: recompute each batch's gradients with a second tape."""

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int) -> None:
        super().__init__()
        self.x, self.y, self.batch_size = x, y, batch_size
        self.norms: list[float] = []

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        start = batch * self.batch_size
        x = self.x[start:start + self.batch_size]
        y = self.y[start:start + self.batch_size]
        with tf.GradientTape() as tape:
            loss = keras.ops.mean(
                keras.losses.sparse_categorical_crossentropy(y, self.model(x, training=True))
            )
        grads = tape.gradient(loss, self.model.trainable_variables)
        self.norms.append(float(tf.linalg.global_norm(grads)))


def build(seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((784,)),
        keras.layers.Dense(300, activation="relu", kernel_initializer="he_normal"),
        keras.layers.Dense(100, activation="relu", kernel_initializer="he_normal"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(keras.optimizers.SGD(0.01), "sparse_categorical_crossentropy")
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--samples", type=int, default=8000)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    x = rng.random((args.samples, 784), dtype=np.float32)
    y = rng.integers(0, 10, args.samples)
    variants = {
        "plain": lambda: [],
        "ours": lambda: [GradientNormLogger(), VanishingGradientDetector()],
        "naive": lambda: [NaiveGradientNorms(x, y, args.batch_size)],
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    for repeat in range(args.repeats):
        for name, callbacks in variants.items():  # interleaved
            model = build(repeat)
            timer = EpochTimer()
            model.fit(x, y, batch_size=args.batch_size, epochs=2, shuffle=False, verbose=0,
                      callbacks=[*callbacks(), timer])
            times[name].append(timer.times[1])
            print(f"repeat {repeat} {name:5s} epoch {timer.times[1]:.3f} s", flush=True)
    median = {name: statistics.median(values) for name, values in times.items()}
    steps = -(-args.samples // args.batch_size)
    print(f"\n784-300-100-10 MLP, batch {args.batch_size}, {steps} steps/epoch, "
          f"median of {args.repeats} (second epoch)")
    for name in variants:
        paired = statistics.median(a / b for a, b in zip(times[name], times["plain"], strict=False))
        print(f"{name:5s} {median[name]:.3f} s/epoch  ratio of medians "
              f"{median[name] / median['plain']:.3f}  median of paired ratios {paired:.3f}")


if __name__ == "__main__":
    main()
