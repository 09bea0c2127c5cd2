"""A model saved with the gradient callbacks attached loads cleanly without them.

The tap's state (on JAX: two optimizer variables) must never reach a `.keras`
file: saved mid-fit by `ModelCheckpoint` or after the fit, the model loads in
a fresh Python process that never imported the callbacks, with no warning,
the same predictions and the optimizer state restored. Runs on the backend in
use (the suite runs on TensorFlow and on JAX).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np

from keras_recipes.callbacks.gradients import GradientNormLogger, VanishingGradientDetector

ROOT = Path(__file__).resolve().parent.parent

LOAD = textwrap.dedent("""
    import sys, warnings, numpy as np, keras
    path = sys.argv[1]
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        mid = keras.saving.load_model(path + "/mid.keras")
        end = keras.saving.load_model(path + "/end.keras")
    assert not any(m.split(".")[0] in ("keras_recipes", "callbacks") for m in sys.modules)
    x = np.load(path + "/x.npy")
    np.testing.assert_allclose(end.predict(x, verbose=0), np.load(path + "/pred.npy"),
                               rtol=1e-6)
    opt = np.concatenate([np.ravel(keras.ops.convert_to_numpy(v))
                          for v in end.optimizer.variables])
    np.testing.assert_allclose(opt, np.load(path + "/opt.npy"), rtol=1e-6)
    assert len(mid.optimizer.variables) == len(end.optimizer.variables)
    print("LOADED", len(end.optimizer.variables))
""")


def test_saved_with_the_callbacks_attached_loads_without_them(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8)).astype("float32")
    y = rng.integers(0, 3, 64)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(5, activation="tanh"),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    checkpoint = keras.callbacks.ModelCheckpoint(str(tmp_path / "mid.keras"), save_freq=2)
    model.fit(x, y, batch_size=16, epochs=2, verbose=0,
              callbacks=[GradientNormLogger(), VanishingGradientDetector(), checkpoint])
    model.save(tmp_path / "end.keras")
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "pred.npy", model.predict(x, verbose=0))
    np.save(tmp_path / "opt.npy", np.concatenate(
        [np.ravel(keras.ops.convert_to_numpy(v)) for v in model.optimizer.variables]))
    env = dict(os.environ, KERAS_BACKEND=keras.backend.backend(), TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("PYTHONPATH", None)  # the fresh process cannot import the callbacks
    done = subprocess.run([sys.executable, "-c", LOAD, str(tmp_path)], capture_output=True,
                          text=True, cwd=tmp_path, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "LOADED" in done.stdout
