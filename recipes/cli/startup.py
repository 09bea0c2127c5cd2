"""Starting Keras for a run: without TensorFlow's start-up noise, and on JAX with a warm cache.

The command line imports Keras only once the arguments and files have been
checked (`import_keras`), so `--help`, `--version` and user errors answer
without it. On a real run:

- TensorFlow's C++ start-up messages (CUDA probing, CPU features, the
  `absl::InitializeLog` notice, `failed call to cuInit` on a machine without
  a GPU) stay off the console: `TF_CPP_MIN_LOG_LEVEL=3` is set before
  TensorFlow loads and the process's stderr is muted while it loads (on JAX
  too, where Keras imports TensorFlow when it is installed). A user who sets
  `TF_CPP_MIN_LOG_LEVEL` gets TensorFlow's own behaviour instead.
- On JAX, compiled programs go to JAX's persistent compilation cache in the
  user's cache folder (`JAX_CACHE_DIR`), so a second run of the same recipe
  skips XLA compilation; `JAX_COMPILATION_CACHE_DIR` set by the user wins.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

QUIET_LOG_LEVEL = "3"
"""TensorFlow's C++ log level on a run: errors only through Python exceptions."""


def jax_cache_dir() -> Path:
    """The folder of JAX's persistent compilation cache: `$XDG_CACHE_HOME/keras-recipes/jax`.

    Example:

    ```python
    jax_cache_dir()  # PosixPath('/home/me/.cache/keras-recipes/jax')
    ```
    """
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "keras-recipes" / "jax"


@contextlib.contextmanager
def _stderr_muted() -> Iterator[None]:
    """Send what C++ code writes to file descriptor 2 to /dev/null, then restore it."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def import_keras() -> Any:
    """Import Keras (and its backend) for a run, quietly; configure JAX's cache.

    Example:

    ```python
    keras = import_keras()
    ```
    """
    quiet = "tensorflow" not in sys.modules and "TF_CPP_MIN_LOG_LEVEL" not in os.environ
    if quiet:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = QUIET_LOG_LEVEL
    with _stderr_muted() if quiet else contextlib.nullcontext():
        import keras

        # Keras imports TensorFlow on every backend where it is installed (set_random_seed
        # seeds it, model.save checks its types): here, muted, not mid-run with its noise.
        if importlib.util.find_spec("tensorflow") is not None:
            import tensorflow  # noqa: F401
    if keras.backend.backend() == "jax":
        use_jax_cache()
    return keras


def use_jax_cache() -> None:
    """Keep every compiled JAX program in the persistent cache (JAX skips those under 1 s).

    Example:

    ```python
    use_jax_cache()  # a second identical run loads its programs instead of compiling them
    ```
    """
    import jax

    if not (os.environ.get("JAX_COMPILATION_CACHE_DIR") or jax.config.jax_compilation_cache_dir):
        jax.config.update("jax_compilation_cache_dir", str(jax_cache_dir()))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
