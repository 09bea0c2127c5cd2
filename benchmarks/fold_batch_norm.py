"""Inference latency of a BN network before and after `fold_batch_norm`.

A 5-hidden-layer MLP (784 inputs, 100 units per layer, ELU, BN before or after
the activation, 10 softmax outputs) is timed at batch 1 and batch 256 in two
ways: `predict_on_batch` (Keras's compiled predict function) and a plain
`model(x, training=False)` call. The models are timed interleaved, each
repetition times `--calls` calls, the median over `--repeats` repetitions is
reported per call. A same-shaped network built without BN is the floor.

Run:

```bash
.venv/bin/python benchmarks/fold_batch_norm.py
```
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_recipes.folding import fold_batch_norm  # noqa: E402
from keras_recipes.models import build_dnn  # noqa: E402


def _trained_statistics(model: keras.Model, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.moving_mean.shape[0]
            layer.set_weights([rng.uniform(0.7, 1.3, n), rng.normal(0, 0.2, n),
                               rng.normal(0, 0.3, n), rng.uniform(0.5, 2.0, n)])


def _median_latency(models: dict[str, keras.Model], x: np.ndarray, how: str, calls: int,
                    repeats: int) -> dict[str, float]:
    def once(model: keras.Model) -> None:
        if how == "predict_on_batch":
            model.predict_on_batch(x)
        else:
            np.asarray(model(x, training=False))

    for model in models.values():  # warm-up: trace and build everything
        for _ in range(3):
            once(model)
    samples: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(repeats):
        for name, model in models.items():
            start = time.perf_counter()
            for _ in range(calls):
                once(model)
            samples[name].append((time.perf_counter() - start) / calls)
    return {name: float(np.median(values)) for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args()
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    print(f"keras {keras.__version__}, backend {keras.backend.backend()}, "
          f"{args.repeats} repeats x {args.calls} calls, median per call")
    for layout in ("before", "after"):
        model = build_dnn((784,), 10, hidden=(100,) * 5, batch_norm=layout, name=f"bn_{layout}")
        _trained_statistics(model, seed=1)
        folded = fold_batch_norm(model)
        no_bn = build_dnn((784,), 10, hidden=(100,) * 5, name="no_bn")
        models = {"original": model, "folded": folded, "no BN": no_bn}
        x_check = rng.normal(size=(256, 784)).astype("float32")
        error = np.max(np.abs(np.asarray(model(x_check, training=False))
                              - np.asarray(folded(x_check, training=False))))
        print(f"\nBN {layout} the activation: {len(model.layers)} -> {len(folded.layers)} "
              f"layers, folded {len(folded.fold_report.folded)}, "
              f"max |output difference| {error:.2e}")
        for how in ("predict_on_batch", "call"):
            for batch in (1, 256):
                x = rng.normal(size=(batch, 784)).astype("float32")
                t = _median_latency(models, x, how, args.calls, args.repeats)
                print(f"  {how:<17} batch {batch:>3}: original {t['original'] * 1e3:7.3f} ms, "
                      f"folded {t['folded'] * 1e3:7.3f} ms, no BN {t['no BN'] * 1e3:7.3f} ms; "
                      f"folded/original {t['folded'] / t['original']:.2f}")


if __name__ == "__main__":
    main()
