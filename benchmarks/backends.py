"""Epoch time per Keras backend: Keras's defaults vs the recipes' fast path, and monitoring cost.

One interleaved run (`benchmarks/_timing.py`). A Keras backend is fixed when
Keras is imported, and `keras_recipes.set_cpu_threads(1)` before TensorFlow runs
anything, so every variant lives in its own worker process (this script with
`--worker`), started with its own `KERAS_BACKEND`; the parent asks the workers
for one fit at a time, rotating the order from round to round (the protocol of
`benchmarks/fast_path.py --processes`).

Two workloads, same maths within a workload (same model, optimizer, loss,
metrics, batch size and data; only the speed settings differ):

* `mlp`: 784-300-100-10 ReLU MLP (He init), SGD(0.01), batch 32, `--samples`
  synthetic samples of MNIST shape (the issue's benchmark model);
* `digits`: `keras_recipes.default_dnn` on the digits data (He, ELU, BN, dropout,
  Adam), batch 32.

Variants (`--variants` picks some; each name says its backend):

* `tf keras defaults`: `model.compile(...)` with Keras's defaults, TensorFlow's
  default threads (the baseline of every ratio);
* `tf recipe fast`: `keras_recipes.set_cpu_threads(1)` + `compile_recipe` (fast=True);
* `jax keras defaults`: `model.compile(...)` with Keras's defaults on JAX;
* `jax recipe fast`: `compile_recipe` (fast=True) on JAX;
* `tf/jax recipe fast + monitors`: the fast path with
  `callbacks.GradientNormLogger()` + `callbacks.VanishingGradientDetector()`
  at every step (the monitoring overhead is its ratio to the fast path alone);
* exploration, not in the default set: `jax fast spe=128` (more steps per
  execution) and `jax fast 1 XLA thread` (XLA's CPU client on one thread,
  JAX's counterpart of `set_cpu_threads(1)`).

Each request is one `fit` of `--epochs` epochs (default 2: the first of a fit
can include tracing and the callbacks' set-up), timed on its last epoch.
Reported: median seconds per epoch, the ratio to `tf keras defaults`, the
median of the paired (same-round) speed-ups, and per backend the monitoring
overhead (median of paired `fast + monitors` / `fast`). A variant whose worker
cannot start (for example a callback that does not support a backend) is
reported as such and the others still run.

Example:

```bash
.venv/bin/python benchmarks/backends.py                            # the recorded run
.venv/bin/python benchmarks/backends.py --samples 256 --repeats 1  # does it work?
.venv/bin/python benchmarks/backends.py --workloads mlp \\
    --variants "jax recipe fast" "jax fast spe=128" "jax fast 1 XLA thread"
```
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys

PROTOCOL = "backends: "  # prefix of the workers' answers (other output on stdout is skipped)
ONE_XLA_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"

# name: (backend, worker arguments, extra environment)
VARIANTS: dict[str, tuple[str, list[str], dict[str, str]]] = {
    "tf keras defaults": ("tensorflow", [], {}),
    "tf recipe fast": ("tensorflow", ["--fast", "--threads", "1"], {}),
    "tf recipe fast + monitors": ("tensorflow", ["--fast", "--threads", "1", "--monitors"], {}),
    "jax keras defaults": ("jax", [], {}),
    "jax recipe fast": ("jax", ["--fast"], {}),
    "jax recipe fast + monitors": ("jax", ["--fast", "--monitors"], {}),
    "jax fast spe=128": ("jax", ["--fast", "--steps-per-execution", "128"], {}),
    "jax fast 1 XLA thread": ("jax", ["--fast"], {"XLA_FLAGS": ONE_XLA_THREAD}),
}
DEFAULT_VARIANTS = [name for name in VARIANTS if " recipe " in name or "defaults" in name]
BASELINE = "tf keras defaults"
WORKLOADS = ("mlp", "digits")


def worker(args: argparse.Namespace) -> None:
    """One variant in its own process: answer each `WORKLOAD` line with one fit's epoch time."""
    try:
        if args.threads is not None:
            from keras_recipes.threads import set_cpu_threads

            set_cpu_threads(args.threads)  # before TensorFlow runs anything
        import keras
        import numpy as np
        from _timing import EpochTimer

        from keras_recipes import callbacks
        from keras_recipes.data import load_digits
        from keras_recipes.models import build_dnn, default_dnn
        from keras_recipes.optimizers import compile_recipe

        rng = np.random.default_rng(0)
        np.random.seed(0)  # keras.utils.set_random_seed would import TensorFlow under JAX
        digits = load_digits()
        data = {"mlp": (rng.random((args.samples, 784), dtype="float32"),
                        rng.integers(0, 10, args.samples)),
                "digits": digits.train}

        def make(workload: str) -> keras.Model:
            if workload == "mlp":
                model = build_dnn((784,), 10, hidden=(300, 100), activation="relu")
                optimizer, name = keras.optimizers.SGD(learning_rate=0.01), "sgd"
                rate = 0.01
            else:
                model = default_dnn(digits.input_shape, digits.n_classes, compile=False)
                optimizer, name, rate = keras.optimizers.Adam(learning_rate=1e-3), "adam", 1e-3
            if args.fast:
                return compile_recipe(model, name, learning_rate=rate,
                                      steps_per_execution=args.steps_per_execution)
            model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                          metrics=["accuracy"])
            return model

        models = {workload: make(workload) for workload in args.workloads}

        def epoch_seconds(workload: str) -> float:
            timer = EpochTimer()
            extra = ([callbacks.GradientNormLogger(), callbacks.VanishingGradientDetector()]
                     if args.monitors else [])
            with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
                models[workload].fit(*data[workload], batch_size=32, epochs=args.epochs,
                                     verbose=0, callbacks=[timer, *extra])
            return timer.times[-1]

        for workload in args.workloads:
            epoch_seconds(workload)  # warm-up: tracing
        loaded = any(name.startswith("tensorflow") for name in sys.modules)
        print(f"{PROTOCOL}ready {keras.backend.backend()} tensorflow_imported={loaded}",
              flush=True)
    except Exception as error:  # noqa: BLE001 - reported to the parent, which goes on
        print(f"{PROTOCOL}error {type(error).__name__}: {str(error)[:300]}", flush=True)
        return
    for line in sys.stdin:
        print(f"{PROTOCOL}{epoch_seconds(line.strip())}", flush=True)


def _answer(process: subprocess.Popen, name: str) -> str:
    """The next protocol line of a worker, skipping other output."""
    for line in process.stdout:
        if line.startswith(PROTOCOL):
            return line[len(PROTOCOL):].strip()
    raise RuntimeError(f"worker {name!r} exited (status {process.wait()}); see its stderr above")


def run(args: argparse.Namespace) -> None:
    """Start one worker per variant, then interleave one-fit requests per workload."""
    os.environ["KERAS_BACKEND"] = "jax"  # the parent only times (lighter than TensorFlow)
    from _timing import interleaved, paired_ratio, report_ratios

    base = [sys.executable, os.path.abspath(__file__), "--worker", "--samples",
            str(args.samples), "--epochs", str(args.epochs), "--workloads", *args.workloads]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("TF_NUM_", "KERAS_BACKEND", "XLA_FLAGS"))}
    env.update(TF_CPP_MIN_LOG_LEVEL="2",
               PYTHONPATH=os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")])))
    workers = {}
    for name in args.variants:
        backend, extra, extra_env = VARIANTS[name]
        workers[name] = subprocess.Popen(
            base + extra, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env={**env, "KERAS_BACKEND": backend, **extra_env})
    try:
        ready = {}
        for name, process in workers.items():
            answer = _answer(process, name)
            print(f"{name:>28}: {answer}", flush=True)
            if answer.startswith("ready"):
                ready[name] = process

        def ask(process: subprocess.Popen, name: str, workload: str) -> float:
            process.stdin.write(f"{workload}\n")
            process.stdin.flush()
            return float(_answer(process, name))

        for workload in args.workloads:
            print(f"\n== {workload}: batch 32, one fit of {args.epochs} epochs per request, "
                  f"last epoch timed, {args.repeats} interleaved rounds")
            seconds = interleaved({name: (lambda p=process, n=name, w=workload: ask(p, n, w))
                                   for name, process in ready.items()}, args.repeats)
            if BASELINE in seconds:
                report_ratios(seconds, BASELINE)
                for name, values in seconds.items():
                    paired = paired_ratio(seconds[BASELINE], values)
                    print(f"{name:>28}: speed-up over {BASELINE} (median of paired ratios) "
                          f"{paired:.2f}x")
            for backend in ("tf", "jax"):
                fast, monitored = f"{backend} recipe fast", f"{backend} recipe fast + monitors"
                if fast in seconds and monitored in seconds:
                    overhead = paired_ratio(seconds[monitored], seconds[fast])
                    print(f"{backend:>4} monitoring overhead (logger + detector, every step): "
                          f"{overhead:.3f} (median of paired ratios)")
    finally:
        for process in workers.values():
            with contextlib.suppress(OSError):  # a dead worker: keep the real error
                process.stdin.close()
            process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--samples", type=int, default=8000, help="MLP samples (default 8000)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per fit; last one timed")
    parser.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=WORKLOADS)
    parser.add_argument("--variants", nargs="+", default=DEFAULT_VARIANTS,
                        choices=list(VARIANTS), metavar="VARIANT",
                        help=f"default: {DEFAULT_VARIANTS}; also {list(VARIANTS)}")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--fast", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--monitors", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--steps-per-execution", type=int, default=None,
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.epochs < 1 or args.repeats < 1 or args.samples < 32:
        parser.error("--epochs and --repeats must be >= 1 and --samples >= 32")
    (worker if args.worker else run)(args)


if __name__ == "__main__":
    main()
