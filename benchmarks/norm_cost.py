"""What the gradient tap's in-graph work costs per step, in isolation.

Times, inside one compiled loop (no Python per call), for the gradient shapes
of the 784-300-100-10 MLP of `monitor_overhead.py`:

* `l2 only`: one `l2_loss` per variable and their sum, the least any
  per-variable gradient norm can cost (one pass over every gradient element);
* `tap's recording`: what `callbacks/_tap/capture.py` and `norms.py` do per
  step (the float32 halves of the squared norms doubled once into squared
  norms, a ring-buffer write of them and of the step number, and the global
  norm for the logs taken from that row);
* `float64 row`: the earlier form (a float64 row `[step, squared norms]`
  built per step and written to the latest-row variable and the ring).

Example:

```bash
.venv/bin/python benchmarks/norm_cost.py
```
"""

from __future__ import annotations

import time

import tensorflow as tf  # measures raw graph ops, below Keras

SHAPES = [(784, 300), (300,), (300, 100), (100,), (100, 10), (10,)]
CAPACITY = 256


def main(calls: int = 2000, repeats: int = 5) -> None:
    gradients = [tf.random.normal(shape) for shape in SHAPES]
    step = tf.Variable(0, dtype=tf.int64)
    latest64 = tf.Variable(tf.zeros([len(SHAPES) + 1], tf.float64))
    rows64 = tf.Variable(tf.zeros([CAPACITY, len(SHAPES) + 1], tf.float64))
    rows32 = tf.Variable(tf.zeros([CAPACITY, len(SHAPES)], tf.float32))
    steps = tf.Variable(tf.zeros([CAPACITY], tf.int64))

    def l2_only(grads):
        return tf.add_n([tf.nn.l2_loss(g) for g in grads])

    def float64_row(grads):
        parts = tf.stack([tf.nn.l2_loss(g) for g in grads])
        row = tf.concat([tf.reshape(tf.cast(step, tf.float64), [1]),
                         tf.cast(parts, tf.float64) * 2.0], 0)
        latest64.assign(row)
        tf.raw_ops.ResourceScatterUpdate(resource=rows64.handle, indices=step % CAPACITY,
                                         updates=row)
        return tf.cast(tf.sqrt(tf.reduce_sum(latest64[1:])), tf.float32)

    def tap_recording(grads):
        squared = tf.stack([tf.nn.l2_loss(g) for g in grads]) * 2.0
        slot = step % CAPACITY
        tf.raw_ops.ResourceScatterUpdate(resource=rows32.handle, indices=slot, updates=squared)
        tf.raw_ops.ResourceScatterUpdate(resource=steps.handle, indices=slot, updates=step)
        return tf.sqrt(tf.reduce_sum(squared))

    print(f"{calls} calls per timing, median of {repeats}, gradient shapes {SHAPES}")
    for name, body in (("l2 only", l2_only), ("tap's recording", tap_recording),
                       ("float64 row", float64_row)):
        @tf.function
        def loop(n, body=body):
            total = tf.constant(0.0)
            for _ in tf.range(n):
                total += body(gradients)
            return total

        loop(tf.constant(10))
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            loop(tf.constant(calls))
            times.append((time.perf_counter() - start) / calls)
        print(f"{name:>16}: {sorted(times)[repeats // 2] * 1e6:6.1f} us per step")


if __name__ == "__main__":
    main()
