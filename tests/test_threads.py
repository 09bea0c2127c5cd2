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

from recipes.threads import set_cpu_threads

ROOT = Path(__file__).resolve().parent.parent

TRAIN = textwrap.dedent("""
    import sys
    import numpy as np
    import recipes
    print(recipes.set_cpu_threads(int(sys.argv[2])))
    import keras
    rng = np.random.default_rng(0)
    x, y = rng.random((640, 784), dtype="float32"), rng.integers(0, 10, 640)
    keras.utils.set_random_seed(0)
    model = recipes.compile_recipe(recipes.build_dnn((784,), 10, hidden=(300, 100)))
    model.fit(x, y, batch_size=32, epochs=2, verbose=0)
    np.savez(sys.argv[1], *model.get_weights())
""")


def _train(tmp_path: Path, threads: str) -> list[np.ndarray]:
    out = tmp_path / f"weights_{threads}.npz"
    result = subprocess.run([sys.executable, "-c", TRAIN, str(out), threads], cwd=ROOT,
                            capture_output=True, text=True, timeout=300,
                            env=_env())
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"'intra_op': {threads}" in result.stdout
    with np.load(out) as saved:
        return [saved[key] for key in saved.files]


def _env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("TF_NUM_")}
    return {**env, "TF_CPP_MIN_LOG_LEVEL": "2"}


@pytest.mark.tensorflow_only
def test_one_intra_op_thread_trains_bit_identical_weights(tmp_path):
    # two processes (the setting is fixed when TensorFlow starts): same maths, same bits;
    # two threads explicitly, so that the thread counts differ on any machine
    two = _train(tmp_path, "2")
    single = _train(tmp_path, "1")
    assert len(two) == len(single) == 6
    for a, b in zip(two, single, strict=True):
        np.testing.assert_array_equal(a, b)


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
    with pytest.raises(RuntimeError, match=rf"TensorFlow backend only; the Keras backend is "
                                           rf"'{backend}'"):
        set_cpu_threads(1)
