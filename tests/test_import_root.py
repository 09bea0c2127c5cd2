"""The import root `keras_recipes` cannot be shadowed; the old names are aliases (issue 24).

A Keras project folder often holds its own `callbacks.py` or `recipes.py`, and
the current folder comes first on `sys.path` (python, Jupyter, pytest). The
package imports itself only through `keras_recipes` (relative imports), so such
files cannot break it; `import recipes` / `import callbacks` keep working for
existing code where nothing shadows them, as the very same module objects.
Models and configs saved under the old names (`tests/data/saved_before_rename/`,
made at the last commit before the change) still load.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np

import keras_recipes as kr
from keras_recipes import callbacks as kc

ROOT = Path(__file__).resolve().parent.parent
SAVED = ROOT / "tests" / "data" / "saved_before_rename"
SCRIPT = Path(sys.executable).parent / "keras-recipes"


def _run(args: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", KERAS_BACKEND=keras.backend.backend())
    env.pop("PYTHONPATH", None)
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


USER_FOLDER_SCRIPT = textwrap.dedent("""
    import sys
    assert sys.path[0] in ("", sys.argv[1]), sys.path[:2]   # the user's folder comes first
    import numpy as np
    import keras_recipes as kr
    from keras_recipes.callbacks import GradientNormLogger, VanishingGradientDetector
    import callbacks, recipes
    assert callbacks.MY_CALLBACK == 1 and recipes.MINE == 2  # the user's own modules
    x = np.random.default_rng(0).normal(size=(64, 5)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    model = kr.default_dnn((5,), 2, hidden=(8, 8))
    logger = GradientNormLogger()
    history = model.fit(x, y, epochs=2, batch_size=16, verbose=0,
                        callbacks=[logger, VanishingGradientDetector()])
    assert "grad_norm/global" in history.history, sorted(history.history)
    print("FITTED", len(logger.history["step"]))
""")


def test_a_users_own_callbacks_and_recipes_modules_do_not_break_the_package(tmp_path):
    (tmp_path / "callbacks.py").write_text("MY_CALLBACK = 1\n")
    (tmp_path / "recipes.py").write_text("MINE = 2\n")
    fitted = _run([sys.executable, "-c", USER_FOLDER_SCRIPT, str(tmp_path)], tmp_path)
    assert fitted.returncode == 0, fitted.stderr[-3000:]
    assert "FITTED" in fitted.stdout
    trained = _run([str(SCRIPT), "train", "--epochs", "1", "--hidden", "16"], tmp_path)
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert (tmp_path / "reports").is_dir() and any((tmp_path / "models").iterdir())


OLD_NAMES_SCRIPT = textwrap.dedent("""
    import sys
    import recipes, callbacks
    import recipes.models
    from recipes.schedules import PowerSchedule
    from callbacks.gradients import GradientNormLogger
    import keras_recipes, keras_recipes.callbacks.gradients
    assert recipes is keras_recipes and callbacks is keras_recipes.callbacks
    assert recipes.models is keras_recipes.models
    assert PowerSchedule is keras_recipes.PowerSchedule
    assert GradientNormLogger is keras_recipes.callbacks.gradients.GradientNormLogger
    for name, module in list(sys.modules.items()):
        head, _, rest = name.partition(".")
        if head in ("recipes", "callbacks") and rest:
            new = {"recipes": "keras_recipes", "callbacks": "keras_recipes.callbacks"}[head]
            assert module is sys.modules[f"{new}.{rest}"], name   # never a second copy
    print("ALIASES", recipes.__name__, callbacks.__name__)
""")


def test_the_old_names_are_aliases_where_nothing_shadows_them(tmp_path):
    done = _run([sys.executable, "-c", OLD_NAMES_SCRIPT], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "ALIASES keras_recipes keras_recipes.callbacks" in done.stdout


def test_the_old_names_from_the_repository_root_are_the_same_aliases():
    """From the root the source folders `recipes/`, `callbacks/` shadow the alias modules."""
    done = _run([sys.executable, "-c", OLD_NAMES_SCRIPT], ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "ALIASES keras_recipes keras_recipes.callbacks" in done.stdout


def test_a_model_saved_under_the_old_names_loads():
    model = keras.saving.load_model(SAVED / "model.keras")
    schedule = keras.saving.deserialize_keras_object(model.optimizer.get_config()["learning_rate"])
    assert isinstance(schedule, kr.PowerSchedule)
    assert int(model.optimizer.iterations) == 8  # the saved optimizer state, restored
    x = np.load(SAVED / "x.npy")
    np.testing.assert_allclose(model.predict(x, verbose=0), np.load(SAVED / "predictions.npy"),
                               rtol=1e-5, atol=1e-6)


def _modules_dropped(config):
    """The config without its (old or new) module paths, nested configs included."""
    if isinstance(config, dict):
        return {k: _modules_dropped(v) for k, v in config.items() if k != "module"}
    if isinstance(config, list):
        return [_modules_dropped(v) for v in config]
    return config


def test_callbacks_curves_and_schedules_serialized_under_the_old_names_load():
    configs = json.loads((SAVED / "objects.json").read_text())
    assert {c["module"].split(".")[0] for c in configs} == {"callbacks", "recipes"}
    expected = [kc.GradientNormLogger, kc.VanishingGradientDetector, kc.PowerScheduling,
                kc.OneCycleScheduler, kc.MomentumScheduling, kc.ParamScheduler, kc.LRFinder,
                kr.PowerSchedule]  # (naming them imports their modules, which registers them)
    loaded = [keras.saving.deserialize_keras_object(c) for c in configs]
    assert [type(o) for o in loaded] == expected
    for config, obj in zip(configs, loaded):
        again = keras.saving.serialize_keras_object(obj)
        assert _modules_dropped(again) == _modules_dropped(config), config["class_name"]
        assert again["registered_name"] == config["registered_name"]
        assert again["module"].startswith("keras_recipes")
