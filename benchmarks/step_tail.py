"""What the gradient tap's graph ops add to one train step called on its own.

`monitor_overhead.py` times whole epochs of `fit`; `norm_cost.py` times the
tap's ops in a compiled loop, where consecutive steps overlap. This script sits
between: a compiled SGD train step of the 784-300-100-10 MLP (batch 32) called
from Python once per step, as `fit` does with `steps_per_execution=1`, so the
step waits for every op it contains. Variants, in rotating order, 200 calls per
timing, median over `--rounds`:

* `plain`, `plain again`: the step alone, twice (the machine's noise);
* `small gradients`: `l2_loss` of every gradient but the 784x300 kernel's,
  stacked and written to a ring buffer with the step number;
* `all gradients`: the same for every gradient (what the tap does);
* `all + log value`: and the global norm returned as a log value (what
  `GradientNormLogger` adds).

Example:

```bash
.venv/bin/python benchmarks/step_tail.py --rounds 40
.venv/bin/python benchmarks/step_tail.py --rounds 40 --threads 1
```
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf  # a hand-written compiled step, below fit
from _timing import interleaved, paired_ratio

CAPACITY = 256
VARIANTS = ("plain", "plain again", "small gradients", "all gradients", "all + log value")


def make_step(variant: str, x: tf.Tensor, y: tf.Tensor) -> Callable[[], dict]:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((784,)),
        keras.layers.Dense(300, activation="relu"),
        keras.layers.Dense(100, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    optimizer = keras.optimizers.SGD(0.01)
    optimizer.build(model.trainable_variables)
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    n = len(model.trainable_variables)
    ring = tf.Variable(tf.zeros([CAPACITY, n]))
    steps = tf.Variable(tf.zeros([CAPACITY], tf.int64))

    @tf.function
    def step() -> dict:
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)
        logs = {"loss": loss}
        if variant.startswith("plain"):
            return logs
        iterations = tf.convert_to_tensor(optimizer.iterations)
        slot = iterations % CAPACITY
        skip_largest = variant == "small gradients"
        halves = tf.stack([tf.zeros([]) if skip_largest and index == 0 else tf.nn.l2_loss(g)
                           for index, g in enumerate(grads)])
        tf.raw_ops.ResourceScatterUpdate(resource=ring.handle, indices=slot, updates=halves)
        tf.raw_ops.ResourceScatterUpdate(resource=steps.handle, indices=slot, updates=iterations)
        if variant == "all + log value":
            logs["grad_norm/global"] = tf.sqrt(tf.reduce_sum(2.0 * halves))
        return logs

    step()
    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--calls", type=int, default=200, help="calls per timing")
    parser.add_argument("--threads", type=int, default=None,
                        help="call keras_recipes.set_cpu_threads(THREADS) first")
    args = parser.parse_args()
    if args.threads is not None:
        from keras_recipes.threads import set_cpu_threads

        print("threads:", set_cpu_threads(args.threads))
    rng = np.random.default_rng(0)
    x = tf.constant(rng.random((32, 784), dtype=np.float32))
    y = tf.constant(rng.integers(0, 10, 32))
    steps = {name: make_step(name, x, y) for name in VARIANTS}

    def block(name: str) -> float:
        """Seconds per call over `args.calls` calls of one variant."""
        start = time.perf_counter()
        for _ in range(args.calls):
            logs = steps[name]()
        float(logs["loss"])  # wait for the last call
        return (time.perf_counter() - start) / args.calls

    seconds = interleaved({name: (lambda n=name: block(n)) for name in VARIANTS}, args.rounds)
    print(f"one compiled SGD step per call, 784-300-100-10, batch 32, median of {args.rounds}")
    for name, values in seconds.items():
        paired = paired_ratio(values, seconds["plain"])
        print(f"{name:>16}: {statistics.median(values) * 1e6:7.1f} us per step   "
              f"paired ratio to plain {paired:.3f}")


if __name__ == "__main__":
    main()
