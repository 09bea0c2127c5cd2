"""DNNHyperModel: the lecture's search space, its rules, and every keras-tuner algorithm."""

from __future__ import annotations

import copy
import importlib
import math
import pickle

import keras
import keras_tuner
import pytest

from keras_recipes.defaults import initializer_for
from keras_recipes.tuning import DNNHyperModel

# A narrow space so that the smoke tests take a few seconds per tuner.
SMALL = {"n_hidden": (1, 2), "units": (16, 64), "activations": ("elu", "selu"),
         "optimizers": ("adam", "nadam"), "learning_rate": (1e-3, 1e-2), "batch_sizes": (32, 64)}


def tuner_for(kind, hypermodel, directory, max_trials, seed=7):
    common = {"objective": hypermodel.objective, "directory": str(directory),
              "project_name": kind, "overwrite": True, "seed": seed}
    if kind == "hyperband":
        tuner = keras_tuner.Hyperband(hypermodel, max_epochs=2, factor=2, **common)
        tuner.oracle.max_trials = max_trials
        return tuner
    tuner_class = {"random": keras_tuner.RandomSearch, "grid": keras_tuner.GridSearch,
                   "bayesian": keras_tuner.BayesianOptimization}[kind]
    return tuner_class(hypermodel, max_trials=max_trials, **common)


def completed(tuner):
    trials = tuner.oracle.trials.values()
    assert trials, "no trial ran"
    bad = {t.trial_id: (t.status, t.message) for t in trials if t.status != "COMPLETED"}
    assert not bad, f"trials that did not complete: {bad}"
    return list(trials)


def hidden_dense(model):
    return [layer for layer in model.layers
            if isinstance(layer, keras.layers.Dense) and layer.name.startswith("hidden_")]


def check_rules(model, values):
    """The lecture's rules for one sampled configuration."""
    activation = values["activation"]
    dense = hidden_dense(model)
    assert len(dense) == values["n_hidden"]
    expected = type(keras.initializers.get(initializer_for(activation)))
    for layer in dense:
        assert type(layer.kernel_initializer) is expected, (layer.name, values)
    kinds = [type(layer) for layer in model.layers]
    has_bn = keras.layers.BatchNormalization in kinds
    if activation == "selu":
        assert not has_bn, values
        assert keras.layers.Dropout not in kinds, values
        assert (keras.layers.AlphaDropout in kinds) == (values["dropout"] > 0), values
        assert all(layer.get_config()["activation"] == "selu" for layer in dense)
    else:
        assert has_bn == (values["batch_norm"] != "none"), values
        assert keras.layers.AlphaDropout not in kinds
        if values["batch_norm"] == "before":
            assert not any(layer.use_bias for layer in dense)
    optimizer = model.optimizer
    assert math.isclose(float(optimizer.learning_rate), values["learning_rate"], rel_tol=1e-5)
    for kind in ("clipnorm", "clipvalue", "global_clipnorm"):
        expected_clip = values.get("clip_threshold") if values["clipping"] == kind else None
        assert getattr(optimizer, kind) == expected_clip, (kind, values)


def test_first_configuration_is_the_lecture_default_dnn():
    hypermodel = DNNHyperModel((64,), 10)
    hp = keras_tuner.HyperParameters()
    hypermodel.declare_hyperparameters(hp)
    model = hypermodel.build(hp)
    assert {k: hp.values[k] for k in ("n_hidden", "units", "activation", "batch_norm",
                                      "optimizer", "learning_rate", "batch_size", "clipping")} \
        == {"n_hidden": 2, "units": 100, "activation": "elu", "batch_norm": "after",
            "optimizer": "adam", "learning_rate": 1e-3, "batch_size": 32, "clipping": "none"}
    assert hp.values["dropout"] == pytest.approx(0.2)
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    check_rules(model, hp.values)


@pytest.mark.backend_neutral(reason="60 search-space draws, built, not trained")
@pytest.mark.parametrize("per_layer_units", [False, True])
def test_every_sampled_configuration_obeys_the_lecture_rules(tmp_path, per_layer_units):
    hypermodel = DNNHyperModel((64,), 10, per_layer_units=per_layer_units,
                               activations=("selu", "elu", "relu", "tanh", "sigmoid", "prelu"),
                               clipping=("none", "clipnorm", "clipvalue", "global_clipnorm"),
                               clip_threshold=(0.5, 5.0), n_hidden=(1, 3), units=(8, 32))
    tuner = keras_tuner.RandomSearch(hypermodel, objective="val_accuracy", max_trials=1,
                                     directory=str(tmp_path), overwrite=True, seed=3)
    seen = set()
    for draw in range(60):
        values = tuner.oracle.populate_space(str(draw))["values"]
        hp = tuner.oracle.get_space()
        hp.values = values
        if draw % 10 == 0:
            keras.backend.clear_session()
        model = hypermodel.build(hp)
        check_rules(model, values)
        if per_layer_units:
            widths = [layer.units for layer in hidden_dense(model)]
            assert widths == [values[f"units_{i + 1}"] for i in range(values["n_hidden"])]
        seen.add((values["activation"], values.get("batch_norm"), values["clipping"]))
    activations = {a for a, _, _ in seen}
    assert "selu" in activations and len(activations) >= 4
    assert {b for _, b, _ in seen} >= {None, "none", "before", "after"}


def test_fixed_and_narrowed_spaces():
    hypermodel = DNNHyperModel((64,), 10, n_hidden=3, units=[64, 128], activations="selu",
                               optimizers="nadam", learning_rate=[0.001, 0.003, 0.01, 0.03],
                               dropout=0.1, clipping="none", batch_sizes=32)
    hp = keras_tuner.HyperParameters()
    hypermodel.declare_hyperparameters(hp)
    hypermodel.build(hp)
    kinds = {p.name: type(p).__name__ for p in hp.space}
    assert kinds == {"batch_size": "Fixed", "n_hidden": "Fixed", "units": "Choice",
                     "activation": "Fixed", "dropout": "Fixed", "optimizer": "Fixed",
                     "learning_rate": "Choice", "clipping": "Fixed"}
    assert "batch_norm" not in kinds  # SELU only: no BN to search
    by_name = {p.name: p for p in hp.space}
    assert list(by_name["learning_rate"].values) == [0.001, 0.003, 0.01, 0.03]
    assert list(by_name["units"].values) == [64, 128]
    ranged = DNNHyperModel((64,), 10, learning_rate=(1e-3, 1e-2), units=(32, 64))
    hp = keras_tuner.HyperParameters()
    ranged.build(hp)
    by_name = {p.name: p for p in hp.space}
    assert (by_name["learning_rate"].sampling, by_name["units"].sampling) == ("log", "log")
    assert (by_name["learning_rate"].min_value, by_name["learning_rate"].max_value) == (1e-3, 1e-2)


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"n_outputs": 0}, "n_outputs"),
        ({"n_hidden": (3, 1)}, "n_hidden"),
        ({"n_hidden": (2, 2)}, "n_hidden"),
        ({"units": []}, "units"),
        ({"learning_rate": (1e-1, 1e-4)}, "learning_rate"),
        ({"learning_rate": (0.0, 1e-1)}, "learning_rate"),
        ({"learning_rate": (1e-4, 1e-3, 1e-2)}, "learning_rate"),
        ({"dropout": (0.0, 1.5)}, "dropout"),
        ({"activations": ()}, "activations"),
        ({"activations": ("elu", "swishy")}, "activations"),
        ({"optimizers": ("adam", "adamx")}, "optimizers"),
        ({"optimizers": []}, "optimizers"),
        ({"batch_norm": ("sometimes",)}, "batch_norm"),
        ({"clipping": ("clipnorm", "clip")}, "clipping"),
        ({"batch_sizes": (32, 0)}, "batch_sizes"),
        ({"task": "ranking"}, "task"),
    ],
)
def test_bad_input_names_the_argument(kwargs, argument):
    arguments = {"input_shape": (64,), "n_outputs": 10, **kwargs}
    with pytest.raises(ValueError, match=f"`{argument}`"):
        DNNHyperModel(**arguments)


def test_deepcopy_pickle_and_config_round_trip():
    hypermodel = DNNHyperModel((64,), 10, activations=("elu", "selu"), n_hidden=(1, 3))
    for clone in (copy.deepcopy(hypermodel), pickle.loads(pickle.dumps(hypermodel)),
                  DNNHyperModel.from_config(hypermodel.get_config())):
        assert clone.space == hypermodel.space
        hp = keras_tuner.HyperParameters()
        assert isinstance(clone.build(hp), keras.Model)
    assert hypermodel.objective == "val_accuracy"
    assert DNNHyperModel(8, 1, task="regression").objective == "val_loss"


def test_fit_searches_the_batch_size_and_refuses_a_fixed_one(digits):
    hypermodel = DNNHyperModel(digits.input_shape, 10, batch_sizes=(16, 32), **{
        k: v for k, v in SMALL.items() if k != "batch_sizes"})
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    x, y = digits.train[0][:64], digits.train[1][:64]
    history = hypermodel.fit(hp, model, x, y, epochs=1, verbose=0)
    assert hp.values["batch_size"] == 32 and len(history.history["loss"]) == 1
    with pytest.raises(ValueError, match="batch_sizes"):
        hypermodel.fit(hp, model, x, y, batch_size=8, epochs=1, verbose=0)


@pytest.mark.parametrize("kind", ["random", "hyperband", "bayesian", "grid"])
def test_runs_under_every_tuner(kind, tmp_path, digits):
    hypermodel = DNNHyperModel(digits.input_shape, digits.n_classes, **SMALL)
    tuner = tuner_for(kind, hypermodel, tmp_path, max_trials=2)
    fit_args = {} if kind == "hyperband" else {"epochs": 1}
    tuner.search(*digits.train, validation_data=digits.valid, verbose=0, **fit_args)
    trials = completed(tuner)
    assert len(trials) == 2
    best = tuner.get_best_hyperparameters(1)[0]
    assert best.values["activation"] in ("elu", "selu")
    assert 0.0 <= tuner.oracle.get_best_trials(1)[0].score <= 1.0


@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")
def test_random_search_reaches_90_percent_on_digits(tmp_path, digits):
    hypermodel = DNNHyperModel(digits.input_shape, digits.n_classes)
    tuner = keras_tuner.RandomSearch(hypermodel, objective=hypermodel.objective, max_trials=5,
                                     directory=str(tmp_path), overwrite=True, seed=42)
    tuner.search(*digits.train, validation_data=digits.valid, epochs=5, verbose=0)
    assert len(completed(tuner)) == 5
    assert tuner.oracle.get_best_trials(1)[0].score >= 0.90
    best_model = tuner.get_best_models(1)[0]
    accuracy = best_model.evaluate(*digits.valid, verbose=0, return_dict=True)["accuracy"]
    assert accuracy >= 0.90


def _package_callbacks():
    """The package's callbacks; a missing module fails loudly (it is part of the API)."""
    made = []
    for module, name, kwargs in (
        ("keras_recipes.callbacks.gradients", "GradientNormLogger", {}),
        ("keras_recipes.callbacks.gradients", "VanishingGradientDetector", {"action": "warn"}),
        ("keras_recipes.callbacks.scheduling", "PowerScheduling", {"s": 100.0}),
    ):
        made.append(getattr(importlib.import_module(module), name)(**kwargs))
    return made


def test_package_callbacks_work_inside_search(tmp_path, digits):
    callbacks = _package_callbacks()
    hypermodel = DNNHyperModel(digits.input_shape, digits.n_classes, fast=False, **SMALL)
    tuner = keras_tuner.RandomSearch(hypermodel, objective=hypermodel.objective, max_trials=2,
                                     directory=str(tmp_path), overwrite=True, seed=1)
    x, y = digits.train[0][:256], digits.train[1][:256]
    tuner.search(x, y, validation_data=digits.valid, epochs=2, verbose=0, callbacks=callbacks)
    for trial in completed(tuner):
        assert trial.metrics.exists("grad_norm/global"), sorted(trial.metrics.metrics)
        assert trial.metrics.exists("learning_rate")
        rate = trial.metrics.get_last_value("learning_rate")
        eta0 = trial.hyperparameters.values["learning_rate"]
        steps = 2 * math.ceil(256 / trial.hyperparameters.values["batch_size"])
        assert rate == pytest.approx(eta0 / (1 + (steps - 1) / 100.0), rel=1e-4)
