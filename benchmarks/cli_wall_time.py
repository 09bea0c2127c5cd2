"""Wall time of the `keras-recipes` command as a user meets it, process start to exit.

Two parts:

- answers: `--help`, `--version` and an argument error (no Keras is imported;
  the best of `--answers` runs each);
- `train` (the default DNN on digits unless `--train-args` say otherwise) on
  TensorFlow and on JAX, interleaved, `--rounds` consecutive runs each, every
  run in a fresh folder. JAX's persistent compilation cache starts empty (a
  fresh `XDG_CACHE_HOME`), so round 1 is a first run and the later rounds are
  what a user's next runs cost.

Example:

```bash
.venv/bin/python benchmarks/cli_wall_time.py --rounds 2
.venv/bin/python benchmarks/cli_wall_time.py --rounds 2 --answers 1 --train-args="--epochs 1"
```
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCRIPT = Path(sys.executable).parent / "keras-recipes"
ANSWERS = {"--help": ["--help"], "--version": ["--version"],
           "argument error": ["train", "--epochs", "0"]}


def _run(argv: list[str], folder: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run([str(SCRIPT), *argv], cwd=folder, env=env, capture_output=True,
                          text=True)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 2):
        raise RuntimeError(f"keras-recipes {' '.join(argv)} failed:\n{done.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2, help="consecutive train runs per backend")
    parser.add_argument("--answers", type=int, default=5, help="runs of each answer (best kept)")
    parser.add_argument("--train-args", default="", help="extra arguments of train")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    with tempfile.TemporaryDirectory() as root:
        env["XDG_CACHE_HOME"] = str(Path(root) / "cache")
        print("| answer | best of runs (s) |\n| --- | --- |")
        for name, argv in ANSWERS.items():
            best = min(_run(argv, root, env) for _ in range(args.answers))
            print(f"| `keras-recipes {' '.join(argv)}` ({name}) | {best:.2f} |", flush=True)
        train = ["train", "--quiet", *shlex.split(args.train_args)]
        seconds: dict[str, list[float]] = {"tensorflow": [], "jax": []}
        for round_index in range(args.rounds):
            order = list(seconds) if round_index % 2 == 0 else list(seconds)[::-1]
            for backend in order:
                folder = tempfile.mkdtemp(dir=root)
                seconds[backend].append(_run(train, folder, {**env, "KERAS_BACKEND": backend}))
            print(f"round {round_index + 1}: " + ", ".join(
                f"{b} {s[-1]:.1f} s" for b, s in seconds.items()), flush=True)
    print(f"\n| run of `keras-recipes {' '.join(train)}` | TensorFlow (s) | JAX (s) | JAX / TF |")
    print("| --- | --- | --- | --- |")
    for index, (tf, jax) in enumerate(zip(seconds["tensorflow"], seconds["jax"]), start=1):
        what = "1 (JAX cache empty)" if index == 1 else f"{index} (JAX cache warm)"
        print(f"| {what} | {tf:.1f} | {jax:.1f} | {jax / tf:.2f} |")


if __name__ == "__main__":
    main()
