"""recipes.set_cpu_threads: the process-wide half of the fast path (recipes/threads.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_recipes.threads import set_cpu_threads

ROOT = Path(__file__).resolve().parent.parent

TRAIN = textwrap.dedent("""
    import sys
    import numpy as np
    import keras_recipes as recipes
    print(recipes.set_cpu_threads(int(sys.argv[2])))
    import keras
    rng = np.random.default_rng(0)
    x, y = rng.random((640, 784), dtype="float32"), rng.integers(0, 10, 640)
    keras.utils.set_random_seed(0)
    model = recipes.compile_recipe(recipes.build_dnn((784,), 10, hidden=(300, 100)))
    model.fit(x, y, batch_size=32, epochs=2, verbose=0)
    np.savez(sys.argv[1], *model.get_weights())
""")


def _train(tmp_path: Path, threads: str, **env: str) -> list[np.ndarray]:
    out = tmp_path / f"weights_{threads}.npz"
    result = subprocess.run([sys.executable, "-c", TRAIN, str(out), threads], cwd=ROOT,
                            capture_output=True, text=True, timeout=300,
                            env={**_env(), **env})
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"'intra_op': {threads}" in result.stdout
    with np.load(out) as saved:
        return [saved[key] for key in saved.files]


def _env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("TF_NUM_")}
    return {**env, "TF_CPP_MIN_LOG_LEVEL": "2"}


THREAD_TOLERANCE = 1e-5
"""Largest accepted |difference| of the weights trained with 1 and with 2 intra-op threads.

Why not bit for bit: TensorFlow's Eigen kernels (used when oneDNN is off:
`TF_ENABLE_ONEDNN_OPTS=0`, or TensorFlow's default on x86 CPUs without
AVX512-VNNI / AVX512-BF16 / AMX) split the sums inside an operation by the
thread count, so 1 and 2 threads add the same float32 numbers in another
order. Measured on this model after 40 steps (BENCHMARKS.md): 74.6% of the
784x300 kernel differs, by at most 6.3e-8; with oneDNN the weights were
bit-identical. 1e-5 leaves 150x margin and still catches different maths
(a changed update moves weights by ~1e-3 per step here).
"""


@pytest.mark.tensorflow_only
def test_one_intra_op_thread_trains_the_same_weights_to_float32_rounding(tmp_path):
    # two processes (the setting is fixed when TensorFlow starts); Eigen's kernels, the
    # path on which the thread count changes the order of float32 additions, on any machine
    two = _train(tmp_path, "2", TF_ENABLE_ONEDNN_OPTS="0")
    single = _train(tmp_path, "1", TF_ENABLE_ONEDNN_OPTS="0")
    assert len(two) == len(single) == 6
    for a, b in zip(two, single, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=THREAD_TOLERANCE)


@pytest.mark.tensorflow_only
def test_too_late_names_the_call_and_the_remedy():
    import tensorflow as tf

    tf.constant(1.0)  # this process has run TensorFlow operations
    current = tf.config.threading.get_intra_op_parallelism_threads()
    # asking for what is in force is fine
    assert set_cpu_threads(current)["intra_op"] == current
    with pytest.raises(RuntimeError, match=rf"came too late.*accepted now is the one in force, "
                                           rf"intra_op={current} .*first"):
        set_cpu_threads(current + 1)
    assert set_cpu_threads(np.int64(current))["intra_op"] == current  # NumPy integers too


@pytest.mark.parametrize("argument,value,error", [
    ("intra_op", -1, ValueError), ("intra_op", 1.5, TypeError), ("intra_op", True, TypeError),
    ("inter_op", "2", TypeError)])
def test_bad_thread_counts_name_the_argument(argument, value, error):
    with pytest.raises(error, match=rf"`{argument}` must be .*received {value!r}"):
        set_cpu_threads(**{"intra_op": None, argument: value})


@pytest.mark.skipif(keras.backend.backend() == "tensorflow", reason="the other backends' error")
def test_other_backends_get_one_error_naming_the_backend():
    backend = keras.backend.backend()
    with pytest.raises(RuntimeError, match=rf"^set_cpu_threads .* supports the 'tensorflow' "
                                           rf"backend only; the Keras backend is '{backend}'"):
        set_cpu_threads(1)
