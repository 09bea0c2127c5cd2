"""Processes started by `tests/test_distributed.py` (not collected by pytest).

Usage:

```bash
python tests/_distributed_workers.py mirrored            # prints one JSON line
KERASTUNER_TUNER_ID=chief KERASTUNER_ORACLE_IP=127.0.0.1 KERASTUNER_ORACLE_PORT=8000 \
    python tests/_distributed_workers.py tune DIRECTORY   # chief or worker, by the env vars
```
"""

from __future__ import annotations

import contextlib
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

N_TRIALS = 4


def report(**values: object) -> None:
    print("RESULT " + json.dumps(values), flush=True)


def mirrored(epochs: int = 8) -> None:
    """Train default_dnn on one device and on two logical CPUs under MirroredStrategy."""
    import tensorflow as tf  # tf.distribute has no Keras API

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
    )
    import keras
    import keras_tuner

    from keras_recipes.data import load_digits
    from keras_recipes.models import default_dnn
    from keras_recipes.optimizers import compile_recipe
    from keras_recipes.tuning import DNNHyperModel

    data = load_digits()
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])

    def train(scope: object, **compile_args: object) -> float:
        keras.utils.set_random_seed(0)
        with scope:
            model = compile_recipe(default_dnn(data.input_shape, 10, compile=False), "adam",
                                   **compile_args)
        model.fit(*data.train, epochs=epochs, batch_size=32, verbose=0)
        return model.evaluate(*data.test, verbose=0, return_dict=True)["accuracy"]

    accuracies = {
        "single": train(contextlib.nullcontext()),
        "mirrored": train(strategy.scope()),
    }
    try:  # default_dnn compiles with compile_recipe's defaults (fast=True)
        keras.utils.set_random_seed(0)
        with strategy.scope():
            model = default_dnn(data.input_shape, 10)
        model.fit(*data.train, epochs=1, batch_size=32, verbose=0)
        accuracies["mirrored_default_error"] = None
    except Exception as error:  # noqa: BLE001 - reported to the test
        accuracies["mirrored_default_error"] = f"{type(error).__name__}: {str(error)[-300:]}"
    # keras-tuner builds and fits every trial inside the strategy's scope.
    hypermodel = DNNHyperModel(data.input_shape, 10, n_hidden=1, units=32, activations="elu",
                               optimizers="adam", batch_sizes=32)
    tuner = keras_tuner.RandomSearch(hypermodel, objective=hypermodel.objective, max_trials=1,
                                     distribution_strategy=strategy, overwrite=True,
                                     directory=sys.argv[2] if len(sys.argv) > 2 else "tuning")
    tuner.search(*data.train, validation_data=data.valid, epochs=1, verbose=0)
    trial = tuner.oracle.get_best_trials(1)[0]
    report(replicas=int(strategy.num_replicas_in_sync), tuner_status=trial.status,
           tuner_score=trial.score, **accuracies)


def tune(directory: str) -> None:
    """Chief (KERASTUNER_TUNER_ID=chief) or worker of a distributed RandomSearch."""
    import keras_tuner
    from keras_tuner.src.distribute import oracle_chief

    from keras_recipes.data import load_digits
    from keras_recipes.tuning import DNNHyperModel

    tuner_id = os.environ["KERASTUNER_TUNER_ID"]
    if tuner_id == "chief":
        # Test-only shortcut: once a worker is told to stop, the chief polls its other
        # workers every 20 s; poll every 0.5 s instead so the test does not idle.
        class _FastTime:
            sleep = staticmethod(lambda seconds: __import__("time").sleep(min(seconds, 0.5)))

        oracle_chief.time = _FastTime

    class RecordingSearch(keras_tuner.RandomSearch):
        def on_trial_begin(self, trial: object) -> None:
            report(tuner_id=tuner_id, ran=trial.trial_id, pid=os.getpid())
            super().on_trial_begin(trial)

    data = load_digits()
    hypermodel = DNNHyperModel(data.input_shape, 10, n_hidden=(1, 2), units=(16, 64),
                               activations=("elu", "selu"), optimizers=("adam", "nadam"),
                               learning_rate=(1e-3, 1e-2), batch_sizes=(32, 64))
    tuner = RecordingSearch(hypermodel, objective=hypermodel.objective, max_trials=N_TRIALS,
                            seed=5, directory=directory, project_name="distributed")
    x, y = data.train[0][:400], data.train[1][:400]
    tuner.search(x, y, validation_data=data.valid, epochs=1, verbose=0)
    if tuner_id == "chief":
        best = tuner.oracle.get_best_trials(1)[0]
        report(
            tuner_id=tuner_id,
            trials={t.trial_id: t.status for t in tuner.oracle.trials.values()},
            best_trial=best.trial_id, best_score=best.score, best=best.hyperparameters.values,
        )
    else:
        report(tuner_id=tuner_id, done=True)


if __name__ == "__main__":
    if sys.argv[1] == "mirrored":
        mirrored()
    elif sys.argv[1] == "tune":
        tune(sys.argv[2])
    else:
        raise SystemExit(f"unknown mode {sys.argv[1]!r}; use 'mirrored' or 'tune DIRECTORY'")
