"""Recipe files (keras_recipes.cli.recipe_spec): defaults, checks, JSON/TOML, tuner translation."""

from __future__ import annotations

import json

import keras
import pytest

from keras_recipes.cli.recipe_spec import (
    RECIPE_DEFAULTS,
    RecipeError,
    build_model,
    complete_recipe,
    load_recipe,
    recipe_from_hyperparameters,
    save_recipe,
)


def test_no_architecture_key_is_the_default_dnn_and_any_key_is_a_plain_net():
    default = complete_recipe({"epochs": 3})
    assert default == {**RECIPE_DEFAULTS, "epochs": 3}
    assert default["batch_norm"] == "after" and default["dropout"] == 0.2
    assert default["hidden"] == [300, 100] and default["optimizer"] == "adam"
    plain = complete_recipe({"activation": "logistic"})
    assert plain["activation"] == "logistic" and plain["batch_norm"] is None  # build_dnn reads it
    assert plain["dropout"] == 0.0


@pytest.mark.parametrize(("mapping", "key"), [
    ({"hiden": [8]}, "hiden"),
    ({"epochs": True}, "epochs"),
    ({"batch_size": 0}, "batch_size"),
    ({"seed": 1.5}, "seed"),
    ({"schedule_steps": 10}, "schedule_steps"),
])
def test_the_recipes_own_rules_name_the_key(mapping, key):
    with pytest.raises(RecipeError) as error:
        complete_recipe(mapping)
    assert error.value.key == key and key in str(error.value)


@pytest.mark.parametrize(("mapping", "keys"), [
    ({"hidden": []}, {"hidden"}),
    ({"hidden": [8, 0]}, {"hidden"}),
    ({"dropout": 1.5}, {"dropout"}),
    ({"activation": "sigmoidal"}, {"activation"}),
    ({"learning_rate": 0}, {"learning_rate"}),
    ({"optimizer": "lbfgs"}, {"optimizer"}),
    ({"batch_norm": "middle"}, {"batch_norm"}),
    ({"global_clipnorm": 1, "clipnorm": 1}, {"global_clipnorm", "clipnorm"}),
    ({"momentum": 0.9}, {"momentum"}),  # Adam takes beta_1
    ({"decay": 1e-3, "schedule": "cosine"}, {"decay", "schedule"}),
    ({"schedule": "cosine", "schedule_steps": 0}, {"schedule_steps"}),
], ids=lambda v: "-".join(sorted(v)) if isinstance(v, set) else None)
def test_a_factorys_refusal_names_the_recipe_keys(mapping, keys):
    """The factories own their arguments' rules; the recipe only says which key they are."""
    recipe = complete_recipe(mapping)  # the recipe layer does not re-check them
    with pytest.raises(RecipeError) as error:
        build_model(recipe, (5,), 3, "multiclass", steps_per_epoch=4)
    assert keys <= set(error.value.keys), (error.value.keys, str(error.value))


def test_json_and_toml_files_round_trip(tmp_path):
    recipe = complete_recipe({"hidden": [32, 16], "activation": "selu", "dropout": 0.1,
                              "optimizer": "nesterov", "momentum": 0.95, "schedule": "cosine"})
    for name in ("r.json", "r.toml"):
        save_recipe(recipe, tmp_path / name)
        assert complete_recipe(load_recipe(tmp_path / name)) == recipe
    (tmp_path / "hand.toml").write_text('hidden = [8, 8]\nactivation = "tanh"\nepochs = 2\n')
    assert load_recipe(tmp_path / "hand.toml") == {"hidden": [8, 8], "activation": "tanh",
                                                  "epochs": 2}
    assert json.loads((tmp_path / "r.json").read_text())["batch_norm"] is None


def test_build_model_follows_the_recipe():
    recipe = complete_recipe({"hidden": [8, 8], "activation": "selu", "dropout": 0.1,
                              "optimizer": "sgd", "learning_rate": 0.1, "schedule": "cosine",
                              "epochs": 4, "clipnorm": 2.0})
    model = build_model(recipe, (5,), 3, "multiclass", steps_per_epoch=10)
    kinds = {type(layer).__name__ for layer in model.layers}
    assert "AlphaDropout" in kinds and "BatchNormalization" not in kinds
    schedule = model.optimizer.get_config()["learning_rate"]
    assert schedule["class_name"] == "CosineDecay" and schedule["config"]["decay_steps"] == 40
    assert model.optimizer.clipnorm == 2.0
    # the fast path; Keras's torch trainer runs one step per execution
    assert model.steps_per_execution == (1 if keras.backend.backend() == "torch" else 32)
    decayed = build_model(complete_recipe({"decay": 1e-2}), (5,), 1, "binary", steps_per_epoch=1,
                          fast=False)
    assert decayed.optimizer.get_config()["learning_rate"]["class_name"] == "PowerSchedule"
    assert decayed.steps_per_execution == 1 and decayed.output_shape == (None, 1)


def test_tuner_values_become_a_recipe():
    values = {"n_hidden": 3, "units": 64, "activation": "selu", "batch_norm": "after",
              "dropout": 0.25, "optimizer": "nadam", "learning_rate": 0.003,
              "clipping": "clipvalue", "clip_threshold": 0.5, "batch_size": 16,
              "tuner/epochs": 4}
    recipe = recipe_from_hyperparameters(values, seed=1)
    assert recipe["hidden"] == [64, 64, 64] and recipe["batch_norm"] is None  # SELU: no BN
    assert recipe["clipvalue"] == 0.5 and recipe["batch_size"] == 16 and recipe["seed"] == 1
    assert "epochs" not in recipe  # train --epochs decides, not the search's per-trial budget
    values = {k: v for k, v in values.items() if k != "units"}
    per_layer = recipe_from_hyperparameters({**values, "activation": "relu", "n_hidden": 2,
                                             "units_1": 40, "units_2": 20, "units_3": 10,
                                             "clipping": "none"})
    assert per_layer["hidden"] == [40, 20] and per_layer["batch_norm"] == "after"
