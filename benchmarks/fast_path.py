"""Epoch time of Keras's default compile vs `compile_recipe(fast=True)`, same maths.

Both variants train the same model (same seed, same initial weights) with Adam,
sparse categorical cross-entropy and accuracy on the same data with the same
batch size; the only difference is what `fast=True` turns on
(`steps_per_execution=recipes.optimizers.FAST_STEPS_PER_EXECUTION`).
`tests/test_optimizers.py::test_fast_path_changes_no_maths` checks that the
weights come out identical. Variants interleaved, each timed on a one-epoch
`fit` after a warm-up epoch, median of `--repeats`.

Example:

```bash
.venv/bin/python benchmarks/fast_path.py               # fit's default verbose (progress bar)
.venv/bin/python benchmarks/fast_path.py --verbose 0
```
"""

from __future__ import annotations

import argparse
import contextlib
import os

import keras
import numpy as np
from _timing import EpochTimer, interleaved, report_ratios

from recipes.data import load_digits
from recipes.models import build_dnn
from recipes.optimizers import FAST_STEPS_PER_EXECUTION, compile_recipe


def make_model(input_shape: tuple[int, ...], hidden: tuple[int, ...], fast: bool,
               steps: int | None) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = build_dnn(input_shape, 10, hidden=hidden, activation="elu")
    if fast:
        return compile_recipe(model, "adam", fast=True, steps_per_execution=steps)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def epoch_seconds(model: keras.Model, x: np.ndarray, y: np.ndarray, batch_size: int,
                  verbose: int | str) -> float:
    timer = EpochTimer()
    # The progress bar (fit's default verbose="auto") writes to a null stream, alike for both.
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
        model.fit(x, y, batch_size=batch_size, epochs=1, verbose=verbose, callbacks=[timer])
    return timer.times[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--verbose", default="auto", choices=["auto", "0", "1", "2"],
                        help="fit's verbose for both variants (Keras's default: auto)")
    parser.add_argument("--steps-per-execution", type=int, default=None,
                        help=f"override the fast path's value ({FAST_STEPS_PER_EXECUTION})")
    args = parser.parse_args()
    verbose = args.verbose if args.verbose == "auto" else int(args.verbose)
    digits = load_digits()
    rng = np.random.default_rng(0)
    workloads = {
        "MNIST-shaped synthetic, 784-300-100-10": (
            rng.random((6000, 784), dtype="float32"), rng.integers(0, 10, 6000), (300, 100)),
        "digits, 64-300-100-10": (digits.train[0], digits.train[1], (300, 100)),
    }
    steps = args.steps_per_execution or FAST_STEPS_PER_EXECUTION
    print(f"keras {keras.__version__}, batch {args.batch_size}, fit verbose={verbose!r}, "
          f"fast = steps_per_execution {steps}")
    for title, (x, y, hidden) in workloads.items():
        models = {name: make_model(x.shape[1:], hidden, name.startswith("compile_recipe"),
                                   args.steps_per_execution)
                  for name in ("keras default compile", "compile_recipe(fast=True)")}
        for model in models.values():
            epoch_seconds(model, x, y, args.batch_size, verbose)  # warm-up: tracing
        print(f"\n== {title}: {len(x)} samples")
        seconds = interleaved(
            {name: (lambda m=model, x=x, y=y: epoch_seconds(m, x, y, args.batch_size, verbose))
             for name, model in models.items()},
            args.repeats,
        )
        report_ratios(seconds, "keras default compile")


if __name__ == "__main__":
    main()
