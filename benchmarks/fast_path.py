"""Epoch time of Keras's default compile vs `compile_recipe(fast=True)`, same maths.

Both variants train the same model (same seed, same initial weights) with Adam,
sparse categorical cross-entropy and accuracy on the same data with the same
batch size; the only difference is what `fast=True` turns on
(`steps_per_execution=recipes.optimizers.FAST_STEPS_PER_EXECUTION`).
`tests/test_optimizers.py::test_fast_path_changes_no_maths` checks that the
weights come out identical. Variants interleaved, each timed on a one-epoch
`fit` after a warm-up epoch, median of `--repeats`.

`--processes` adds the process-wide half of the fast path,
`keras_recipes.set_cpu_threads(1)`, which can only be chosen before TensorFlow runs
anything: each variant then lives in its own worker process (this script with
`--worker`), and the parent asks them for one epoch at a time, in rotating
order, so the variants are still interleaved in one run. Four workers: Keras's
defaults (compile and threads), Keras's compile after `set_cpu_threads(1)`,
`compile_recipe(fast=True)` with TensorFlow's default threads, and
`compile_recipe(fast=True)` after `set_cpu_threads(1)` (the whole fast path).
`tests/test_threads.py` checks that the thread setting leaves the weights
bit-identical.

Example:

```bash
.venv/bin/python benchmarks/fast_path.py               # fit's default verbose (progress bar)
.venv/bin/python benchmarks/fast_path.py --verbose 0
.venv/bin/python benchmarks/fast_path.py --processes   # with the thread setting
.venv/bin/python benchmarks/fast_path.py --processes --hidden 1000 1000 1000 --batch-size 256
```
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys

import keras
import numpy as np
from _timing import EpochTimer, interleaved, paired_ratio, report_ratios

from keras_recipes.data import load_digits
from keras_recipes.models import build_dnn
from keras_recipes.optimizers import FAST_STEPS_PER_EXECUTION, compile_recipe


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


WORKERS = {
    "keras defaults": [],
    "keras compile, 1 thread": ["--threads", "1"],
    "compile_recipe(fast=True)": ["--fast"],
    "set_cpu_threads(1) + fast": ["--fast", "--threads", "1"],
}


PROTOCOL = "fast_path: "  # prefix of the worker's answers (anything else on stdout is skipped)


def _answer(process: subprocess.Popen, name: str) -> str:
    """The next protocol line of a worker, skipping other output."""
    for line in process.stdout:
        if line.startswith(PROTOCOL):
            return line[len(PROTOCOL):].strip()
    raise RuntimeError(f"worker {name!r} exited (status {process.wait()}); see its stderr above")


def worker(args: argparse.Namespace) -> None:
    """One variant in its own process: answer each line on stdin with one epoch's seconds."""
    if args.threads is not None:
        from keras_recipes.threads import set_cpu_threads

        set_cpu_threads(args.threads)  # before TensorFlow runs anything
    rng = np.random.default_rng(0)
    x, y = rng.random((6000, 784), dtype="float32"), rng.integers(0, 10, 6000)
    model = make_model(x.shape[1:], tuple(args.hidden), args.fast, args.steps_per_execution)
    epoch_seconds(model, x, y, args.batch_size, args.verbose)  # warm-up: tracing
    print(f"{PROTOCOL}ready", flush=True)
    for _ in sys.stdin:
        print(f"{PROTOCOL}{epoch_seconds(model, x, y, args.batch_size, args.verbose)}", flush=True)


def run_processes(args: argparse.Namespace) -> None:
    """Interleave one-epoch requests to one worker process per variant."""
    base = [sys.executable, os.path.abspath(__file__), "--worker", "--verbose", args.verbose,
            "--batch-size", str(args.batch_size), "--hidden", *map(str, args.hidden)]
    if args.steps_per_execution:
        base += ["--steps-per-execution", str(args.steps_per_execution)]
    # the workers start from TensorFlow's defaults, whatever this shell sets
    env = {key: value for key, value in os.environ.items() if not key.startswith("TF_NUM_")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    workers = {name: subprocess.Popen(base + extra, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      text=True, env=env)
               for name, extra in WORKERS.items()}
    try:
        for name, process in workers.items():
            if _answer(process, name) != "ready":
                raise RuntimeError(f"worker {name!r} failed to start")

        def ask(process: subprocess.Popen, name: str) -> float:
            process.stdin.write("epoch\n")
            process.stdin.flush()
            return float(_answer(process, name))

        layers = "-".join(map(str, [784, *args.hidden, 10]))
        print(f"MNIST-shaped synthetic, {layers}, 6000 samples, batch {args.batch_size}, "
              f"fit verbose={args.verbose!r}; one process per variant")
        seconds = interleaved({name: (lambda p=process, n=name: ask(p, n))
                               for name, process in workers.items()}, args.repeats)
    finally:
        for process in workers.values():
            with contextlib.suppress(OSError):  # a dead worker: keep the real error
                process.stdin.close()
            process.wait()
    report_ratios(seconds, "keras defaults")
    for name, values in seconds.items():
        paired = paired_ratio(seconds["keras defaults"], values)
        print(f"{name:>28}: speed-up over keras defaults (median of paired ratios) {paired:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--verbose", default="auto", choices=["auto", "0", "1", "2"],
                        help="fit's verbose for both variants (Keras's default: auto)")
    parser.add_argument("--steps-per-execution", type=int, default=None,
                        help=f"override the fast path's value ({FAST_STEPS_PER_EXECUTION})")
    parser.add_argument("--processes", action="store_true",
                        help="one worker process per variant, with set_cpu_threads(1)")
    parser.add_argument("--hidden", type=int, nargs="+", default=[300, 100],
                        help="hidden layer sizes with --processes (default: 300 100)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--fast", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.processes:
        run_processes(args)
        return
    verbose = args.verbose if args.verbose == "auto" else int(args.verbose)
    if args.worker:
        args.verbose = verbose
        worker(args)
        return
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
