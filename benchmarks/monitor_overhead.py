"""Epoch time of plain `fit` vs `fit` with the gradient callbacks vs the naive approach.

`--model mlp` (default): 784-300-100-10 MLP (ReLU), batch 32, synthetic data of
MNIST shape, SGD. `--model convnet` (or another family of the client-model
corpus, `tests/corpus.py`: convnet_bn, lstm, transformer, multi_io, custom_step,
regression, mixed_precision): that family's model and digits data, the samples
repeated up to `--samples`; no naive variant (its second tape is written for the MLP's loss).
Three variants, interleaved (`benchmarks/_timing.py`); each fit runs `--epochs` epochs and
is timed on its fastest epoch after the first (the first includes tracing);
median over `--repeats` rounds, plus the median of the paired (same round)
ratios:

* plain: `model.fit` with no callbacks;
* ours: `GradientNormLogger()` + `VanishingGradientDetector()`, every step;
* naive: a callback that recomputes the gradients of the batch with its own
  `tf.GradientTape` after every batch (an extra forward and backward pass).

Example:

```bash
.venv/bin/python benchmarks/monitor_overhead.py --repeats 7 --samples 8000
.venv/bin/python benchmarks/monitor_overhead.py --threads 1  # set_cpu_threads(1) first
.venv/bin/python benchmarks/monitor_overhead.py --steps-per-execution 32 --no-naive
.venv/bin/python benchmarks/monitor_overhead.py --model convnet --repeats 7 --samples 8000
```
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf  # the naive baseline needs its own GradientTape

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import EpochTimer, interleaved, paired_ratio, report_ratios  # noqa: E402

from keras_recipes.callbacks import GradientNormLogger, VanishingGradientDetector  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import corpus  # noqa: E402  (the client-model corpus shared with the tests)

FAMILIES = ("mlp", *(name for name in corpus.HEALTHY if name not in ("mlp", "gan")))


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


def build(seed: int, steps_per_execution: int = 1) -> keras.Model:
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((784,)),
        keras.layers.Dense(300, activation="relu", kernel_initializer="he_normal"),
        keras.layers.Dense(100, activation="relu", kernel_initializer="he_normal"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(keras.optimizers.SGD(0.01), "sparse_categorical_crossentropy",
                  steps_per_execution=steps_per_execution)
    return model


def corpus_variant(name: str, samples: int) -> tuple:
    """(x, y, build) for corpus family `name`, its data repeated up to `samples`."""
    case = corpus.build(name, seed=0, n=2000)
    repeat = -(-samples // len(keras.tree.flatten(case.x)[0]))

    def tile(data):
        if isinstance(data, dict):
            return {key: tile(value) for key, value in data.items()}
        return np.concatenate([data] * repeat)[:samples]

    def build_case(seed: int, steps_per_execution: int = 1) -> keras.Model:
        model = corpus.build(name, seed=seed, n=8).model
        model.steps_per_execution = steps_per_execution
        return model

    return tile(case.x), tile(case.y), build_case


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mlp", choices=FAMILIES,
                        help="mlp (784-300-100-10) or a family of the client-model corpus")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--samples", type=int, default=8000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=3,
                        help="epochs per fit; the fastest epoch after the first is timed")
    parser.add_argument("--verbose", type=int, default=0, help="fit's verbose (0 or 1)")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive variant")
    parser.add_argument("--steps-per-execution", type=int, default=1,
                        help="compile every variant with it (32: compile_recipe's fast path)")
    parser.add_argument("--threads", type=int, default=None,
                        help="call keras_recipes.set_cpu_threads(THREADS) first "
                             "(all variants alike)")
    parser.add_argument("--split", action="store_true",
                        help="instead: plain, logger every 1000 steps, detector (no step-log key), "
                             "logger, logger+detector")
    args = parser.parse_args()
    if args.threads is not None:
        from keras_recipes.threads import set_cpu_threads

        print("threads:", set_cpu_threads(args.threads))

    rng = np.random.default_rng(0)
    x = rng.random((args.samples, 784), dtype=np.float32)
    y = rng.integers(0, 10, args.samples)
    builder = build
    if args.model != "mlp":
        x, y, builder = corpus_variant(args.model, args.samples)
        args.no_naive = True
    callbacks = {
        "plain": lambda: [],
        "ours": lambda: [GradientNormLogger(), VanishingGradientDetector()],
        "naive": lambda: [NaiveGradientNorms(x, y, args.batch_size)],
    }
    if args.no_naive:
        del callbacks["naive"]
    if args.split:  # where the cost is: the norms computed every step, or the rest?
        callbacks = {
            "plain": lambda: [],
            "logger every=1000": lambda: [GradientNormLogger(every=1000)],
            "detector": lambda: [VanishingGradientDetector()],
            "logger": lambda: [GradientNormLogger()],
            "ours": lambda: [GradientNormLogger(), VanishingGradientDetector()],
        }
    seeds = iter(range(10**6))

    def variant(name: str):
        def run() -> float:
            model = builder(next(seeds), args.steps_per_execution)
            timer = EpochTimer()
            model.fit(x, y, batch_size=args.batch_size, epochs=max(2, args.epochs),
                      shuffle=False, verbose=args.verbose, callbacks=[*callbacks[name](), timer])
            # the first epoch includes tracing; the fastest later one is the least
            # disturbed by other processes (the same rule for every variant)
            return min(timer.times[1:])
        return run

    seconds = interleaved({name: variant(name) for name in callbacks}, args.repeats)
    steps = -(-args.samples // args.batch_size)
    title = "784-300-100-10 MLP" if args.model == "mlp" else f"corpus {args.model}"
    print(f"\n{title}, batch {args.batch_size}, steps_per_execution "
          f"{args.steps_per_execution}, {steps} steps/epoch, verbose "
          f"{args.verbose}, median of {args.repeats} (fastest of epochs 2-{max(2, args.epochs)})")
    report_ratios(seconds, "plain")
    for name in callbacks:
        paired = paired_ratio(seconds[name], seconds["plain"])
        print(f"{name:>28}: median of paired ratios {paired:.3f}")


if __name__ == "__main__":
    main()
