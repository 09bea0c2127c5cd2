"""Does `VanishingGradientDetector` agree with how each corpus model really trains?

For every family of the client-model corpus (`tests/corpus.py`): build it on
`--samples` digits, fit `--epochs` epochs with `VanishingGradientDetector()`
(default settings) and print one Markdown row: what the detector measured
(the range of r(lowest)/r(highest hidden layer), r = ||g|| / ||w||, and the
largest global norm over the checked steps), its verdict (findings with their
step), and how the model trained (loss and accuracy, or MAE, after the last
epoch; chance is 0.10 for the 10 digit classes, 0.5 for a binary label). Not a
timing: it can run on a loaded machine.

Example:

```bash
.venv/bin/python benchmarks/detector_corpus.py --samples 1024 --epochs 3
.venv/bin/python benchmarks/detector_corpus.py --families convnet,sigmoid_10 --samples 256
```
"""

from __future__ import annotations

import argparse
import math
import sys
import warnings
from pathlib import Path

import keras

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import corpus  # noqa: E402  (the client-model corpus shared with the tests)

from keras_recipes.callbacks.gradients import GradientWarning, VanishingGradientDetector  # noqa: E402


def _number(value: float) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.3g}"


def row(name: str, samples: int, epochs: int, seed: int) -> str:
    case = corpus.build(name, seed=seed, n=samples)
    detector = VanishingGradientDetector()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GradientWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        history = case.model.fit(case.x, case.y, batch_size=case.batch_size, epochs=epochs,
                                 callbacks=[detector], verbose=0).history
    summary = detector.summary
    measured = (f"ratio {_number(summary.get('ratio_min'))} .. "
                f"{_number(summary.get('ratio_max'))}; max norm "
                f"{_number(summary.get('global_norm_max'))}")
    verdict = ", ".join(f"{e['kind']} at step {e['step']}" for e in detector.events) or "none"
    loss_key = "loss" if "loss" in history else "g_loss"
    trained = f"{loss_key} {_number(history[loss_key][-1])}"
    if case.metric in history and case.metric != loss_key:
        trained += f", {case.metric} {_number(history[case.metric][-1])}"
    health = "healthy" if name in corpus.HEALTHY else f"unhealthy ({corpus.EXPECTED[name]})"
    return f"| {name} | {health} | {measured} | {verdict} | {trained} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1024)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--families", default=",".join(corpus.HEALTHY + corpus.UNHEALTHY),
                        help="comma-separated corpus families")
    args = parser.parse_args()
    print(f"Keras {keras.__version__}, backend {keras.backend.backend()}, {args.samples} "
          f"samples, {args.epochs} epochs, seed {args.seed}\n")
    print("| family | kind | detector measured (r lowest / r highest; global norm) | "
          "verdict | after training |")
    print("| --- | --- | --- | --- | --- |")
    for name in args.families.split(","):
        print(row(name, args.samples, args.epochs, args.seed), flush=True)


if __name__ == "__main__":
    main()
