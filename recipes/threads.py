"""CPU thread settings for small models: the process-wide half of the fast path.

TensorFlow splits every operation over all the machine's cores by default
(its intra-op thread pool). For the small dense networks of the lectures
(hundreds of thousands of weights, batches of 32) each operation is too small
to gain from the split, and the hand-offs between threads cost more than the
work: on the 2-core machine of BENCHMARKS.md a 784-300-100-10 MLP (batch 32)
trains 1.2x faster with one intra-op thread, and with
`compile_recipe(fast=True)` on top 1.97x faster than with Keras's and
TensorFlow's defaults (`compile_recipe(fast=True)` alone: 1.45-1.5x in the
same runs). Large layers go the other way (784-1000-1000-1000-10, batch 256:
`compile_recipe(fast=True)` 1.13x, with one thread 0.92x), so this is a
choice to make per process, not a default.

The operations are the same; the trained weights agree to float32 rounding,
not always bit for bit. With oneDNN (TensorFlow's default on x86 CPUs with
AVX512-VNNI, AVX512-BF16 or AMX) one and two threads gave bit-identical
weights on the benchmark model; with TensorFlow's Eigen kernels (other CPUs,
or `TF_ENABLE_ONEDNN_OPTS=0`) the sums inside an operation are split by the
thread count, so the float32 additions happen in another order: after 40
steps 74.6% of the 784x300 kernel differed, by at most 6.3e-8
(`tests/test_threads.py` asserts agreement within 1e-5 on that path).
TensorFlow fixes its thread pools when it runs its first operation, so the
call must come before any model is built (in a notebook: the first cell after
the imports).

The thread pools are TensorFlow's: on another Keras backend (JAX, PyTorch)
`set_cpu_threads` raises a `RuntimeError` that names the backend (XLA and
PyTorch size their own pools; on JAX the fast path needs no such call).
"""

from __future__ import annotations

from typing import Any

from . import _backend
from .callbacks._validation import check_non_negative


def _thread_count(name: str, value: Any) -> int | None:
    """None (leave TensorFlow's setting) or an integer >= 0 (0: TensorFlow's default)."""
    return None if value is None else int(check_non_negative(name, value, integer=True))


def set_cpu_threads(intra_op: int | None = 1, inter_op: int | None = None) -> dict[str, int]:
    """Set TensorFlow's CPU thread pools for this process (before any model exists).

    `intra_op=1` runs each operation on one thread (the fast setting for
    small models, see the module docstring and `benchmarks/fast_path.py
    --processes`); `inter_op` is how many operations run side by side.
    Calling it again with the values already in force is allowed. The
    environment variables `TF_NUM_INTRAOP_THREADS` / `TF_NUM_INTEROP_THREADS`,
    when set, take effect over the values reported here as 0 (default).

    Example:

    ```python
    import keras_recipes as kr
    kr.set_cpu_threads(1)                 # first, before building anything
    model = kr.compile_recipe(kr.build_dnn((784,), 10, hidden=(300, 100)))
    ```

    Args:
        intra_op: threads one operation may use (`0`: TensorFlow's default,
            one per core; `None`: leave as is).
        inter_op: operations run in parallel (`0`: TensorFlow's default;
            `None`: leave as is).

    Returns:
        The settings now in force, `{"intra_op": ..., "inter_op": ...}`.

    Raises:
        RuntimeError: TensorFlow has already run an operation in this process
            and the requested values differ from those in force, or the Keras
            backend is not TensorFlow.
    """
    requested = {"intra_op": _thread_count("intra_op", intra_op),
                 "inter_op": _thread_count("inter_op", inter_op)}
    _backend.require_backend(
        "set_cpu_threads (TensorFlow's CPU thread pools)", ("tensorflow",),
        "Leave it out there (that backend's fast path needs no thread setting) or set "
        "KERAS_BACKEND=tensorflow.")
    import tensorflow as tf  # the thread pools are TensorFlow's, not Keras's

    threading = tf.config.threading
    setters = {"intra_op": threading.set_intra_op_parallelism_threads,
               "inter_op": threading.set_inter_op_parallelism_threads}
    current = {"intra_op": threading.get_intra_op_parallelism_threads(),
               "inter_op": threading.get_inter_op_parallelism_threads()}
    for name, value in requested.items():
        if value is None or value == current[name]:
            continue
        try:
            setters[name](value)
        except RuntimeError as error:
            raise RuntimeError(
                f"set_cpu_threads({name}={value}) came too late: TensorFlow fixes its thread "
                "pools when it runs its first operation, and this process has already run "
                "one (a model, a variable or a tensor was created); the only value accepted "
                f"now is the one in force, {name}={current[name]} (0: TensorFlow's default). "
                "Call it first, right after the imports (in a notebook: restart the kernel)."
            ) from error
    return {"intra_op": threading.get_intra_op_parallelism_threads(),
            "inter_op": threading.get_inter_op_parallelism_threads()}
