"""Where the gradient tap's per-step cost goes on JAX: the compiled train step alone.

`monitor_overhead.py` times whole epochs (step, callbacks, epoch end); on a
loaded machine its wall-clock ratios move by +-10 %. This script times only
the jitted train step that `fit` runs (`model.train_function`, state donated
as in `fit`), in a tight loop, with CPU time (`time.process_time`, all
threads), interleaved rounds and the median of the paired ratios. Variants:

* plain: no tap;
* tap, no arithmetic: the tap installed (ring buffer write, `grad_norm/global`
  in the logs, the extra state) with every squared norm replaced by 0, so
  the gradients are not read: the cost of the plumbing;
* tap: the tap as `GradientNormLogger` + `VanishingGradientDetector` install
  it: the difference to the previous line is the norm arithmetic (one more
  pass over every gradient, which XLA on CPU does not fuse into the update).

The TensorFlow counterparts are `norm_cost.py` and `step_tail.py`.

Example:

```bash
KERAS_BACKEND=jax PYTHONPATH=$PWD .venv/bin/python benchmarks/jax_step_cost.py --repeats 15
KERAS_BACKEND=jax PYTHONPATH=$PWD .venv/bin/python benchmarks/jax_step_cost.py --batch-size 128
KERAS_BACKEND=jax PYTHONPATH=$PWD .venv/bin/python benchmarks/jax_step_cost.py --every 10
```
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import interleaved, paired_ratio  # noqa: E402
from monitor_overhead import build  # noqa: E402  (the same MLP; it imports TensorFlow too)

from keras_recipes.callbacks._tap import norms as _tap_norms  # noqa: E402
from keras_recipes.callbacks._tap import tap as _gradient_tap


class _Client:
    """Stands for a callback holding the tap."""


def _no_arithmetic(index, n, grads, variables):
    """`norms.squared_norms` without reading the gradients (a row of zeros)."""
    return keras.ops.zeros((n,), "float32")


def _prepare(tapped: bool, arithmetic: bool, x: np.ndarray, y: np.ndarray,
             every: int = 1) -> list:
    model = build(0)
    model.fit(x, y, epochs=1, verbose=0)  # builds the optimizer
    if tapped:
        original = _tap_norms.squared_norms
        if not arithmetic:
            _tap_norms.squared_norms = _no_arithmetic
        try:  # the options GradientNormLogger() + VanishingGradientDetector() ask for
            _gradient_tap.acquire(model, _Client(), every=every, logs=True, per_layer=True,
                                  steps_per_epoch=250)
            model.make_train_function(force=True)
            # trace now, while the patch is in place
            state = model._get_jax_state(trainable_variables=True,
                                         non_trainable_variables=True,
                                         optimizer_variables=True, metrics_variables=True)
            data = (keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(y), None)
            _, state = model.train_function(state, iter([data]))
        finally:
            _tap_norms.squared_norms = original
    else:
        model.make_train_function(force=True)
        state = model._get_jax_state(trainable_variables=True, non_trainable_variables=True,
                                     optimizer_variables=True, metrics_variables=True)
    return [model, state]


def main() -> None:
    import jax

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--steps", type=int, default=200, help="steps per timed block")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--every", type=int, default=1,
                        help="the tap's `every` (norms computed on every EVERY-th step)")
    args = parser.parse_args()
    if args.every < 1:
        parser.error(f"--every must be an integer >= 1; received {args.every}.")
    if keras.backend.backend() != "jax":
        raise SystemExit("Run with KERAS_BACKEND=jax.")
    rng = np.random.default_rng(0)
    x = rng.random((args.batch_size, 784), dtype=np.float32)
    y = rng.integers(0, 10, args.batch_size)
    data = (jax.numpy.asarray(x), jax.numpy.asarray(y), None)
    variants = {"plain": (False, True), "tap, no arithmetic": (True, False),
                "tap": (True, True)}
    prepared = {name: _prepare(tapped, arithmetic, x, y, args.every)
                for name, (tapped, arithmetic) in variants.items()}

    def block(name: str) -> float:
        """CPU seconds per step over `args.steps` steps of one variant."""
        model, state = prepared[name]
        start = time.process_time()
        for _ in range(args.steps):
            _, state = model.train_function(state, iter([data]))
        jax.block_until_ready(state)
        prepared[name][1] = state
        return (time.process_time() - start) / args.steps

    seconds = interleaved({name: (lambda n=name: block(n)) for name in variants}, args.repeats)
    print(f"784-300-100-10 MLP, batch {args.batch_size}, every {args.every}, compiled train "
          f"step, CPU time, median of {args.repeats} rounds of {args.steps} steps")
    for name, values in seconds.items():
        paired = paired_ratio(values, seconds["plain"])
        print(f"{name:>20}: {statistics.median(values) * 1e3:7.4f} ms/step   "
              f"median of paired ratios {paired:.3f}")


if __name__ == "__main__":
    main()
