"""What every key of a report's summary means, in one sentence each (`KEY_HELP`).

The report ends with the entries of the keys it shows; a test checks that
every key a run writes into summary.json has one.
"""

from __future__ import annotations

from .recipe_spec import RECIPE_KEYS

_RUN = {
    "title": "the command that made the report",
    "command": "the keras-recipes sub-command",
    "backend": "the Keras backend that ran it (KERAS_BACKEND)",
    "versions": "versions of this package, Keras, the backend and Python",
    "name": "the run's name: the model file and the report folder are named after it",
    "model": "the saved model file, or the model the checklist examined",
    "verdict": "the run in one block: the headline, then every problem with its remedies",
    "headline": "what ran on what, the test metric against the baseline, and how many "
                "checklist items pass",
    "problems": "each finding and each failing checklist item, with its remedies (a remedy "
                "shared by several is listed with the first)",
    "beats_baseline": "whether the test metric is better than the trivial baseline's",
    "baseline": "what a model that ignores its inputs scores on the test split",
    "metric": "the metric compared with the baseline: accuracy (classes) or mae (regression)",
    "value": "the baseline's score on the test split",
    "what": "the baseline's prediction: the training split's majority class or mean target",
    "higher_is_better": "whether a larger value of the metric is better",
    "metrics": "loss and compiled metrics on each split after training (best weights of "
               "early stopping); regression in the targets' original units",
    "train": "the training split (fitted on)",
    "validation": "the validation split (early stopping, checklist 4, tuning objective)",
    "test": "the test split, held out until the end",
    "loss": "the compiled loss (cross-entropy for classes, mean squared error for regression)",
    "accuracy": "fraction of samples whose predicted class is the true one",
    "mae": "mean absolute error, in the targets' units",
    "epochs_run": "epochs trained (early stopping may end a run before the recipe's epochs)",
    "optimizer_steps": "optimizer updates made (epochs x batches per epoch)",
    "initial_loss": "checklist 1: the loss at the initial weights and its accepted band (the "
                    "same row as in the checklist)",
    "checklist": "lecture 000's training checklists (and lecture 001's normalized inputs), "
                 "checked before training",
    "checklist_scope": "which checklist items this command runs",
    "passed": "whether the item passes",
    "measured": "what the item measured",
    "expected": "what the item accepts",
    "advice": "the lectures' remedy when the item fails",
    "findings": "what the VanishingGradientDetector found while training (epochs counted as "
                "the progress bar counts them)",
    "kind": "the kind of finding: vanishing, exploding or non-finite gradients",
    "step": "the optimizer step of the finding",
    "epoch": "the epoch of the finding, from 1",
    "message": "the finding in words",
    "remedies": "what the lectures prescribe for it",
    "global_norm": "L2 norm of all gradients at that step",
    "relative": "per layer: gradient norm over weight norm (comparable across layer types)",
    "lower": "the layer nearest the input that the ratio compares",
    "lower_relative": "its gradient-to-weight norm ratio",
    "upper": "the layer nearest the output that the ratio compares",
    "upper_relative": "its gradient-to-weight norm ratio",
    "ratio": "lower_relative / upper_relative: far below 1 means vanishing, far above exploding",
    "non_finite_layers": "layers whose gradients were NaN or infinite",
    "non_finite_variables": "variables whose gradients were NaN or infinite",
    "gradient_norms_note": "why gradient norms are missing on this backend",
    "speed": "the fast-path settings in force",
    "compile_recipe_fast": "compile_recipe(fast=True): several steps per execution",
    "steps_per_execution": "training steps run per call of the compiled train function",
    "cpu_threads": "TensorFlow's intra-op threads (--cpu-threads)",
    "timings": "wall-clock seconds per phase",
    "data_and_build": "reading the data, starting Keras and building the model",
    "fit": "training (model.fit)",
    "evaluate": "evaluating the three splits",
    "total": "the whole run, report included",
    "sweep": "the learning-rate sweep",
    "search": "the search's settings, or (under timings) its seconds",
    "files": "the files the run wrote",
    "history": "history.csv: one row per epoch (numbered from 1) of every logged value",
    "tensorboard": "the TensorBoard log folder (--tensorboard), if any",
    "recipe": "the recipe's keys; null takes the default (the resolved values are under "
              "optimizer)",
    "trials": "one row per trial of the search (trials.csv holds the same)",
}

_DATA = {
    "data": "the data set, the task inferred and the split sizes",
    "source": "the --data value",
    "target": "the CSV column predicted (--target)",
    "task": "multiclass, binary (one sigmoid unit) or regression, inferred from the targets",
    "classes": "class names as the data writes them",
    "n_outputs": "units of the output layer",
    "input_shape": "shape of one sample",
    "n_train": "training samples",
    "n_valid": "validation samples",
    "n_test": "test samples",
    "constant_features": "features with zero spread in the training split (only centred)",
    "target_mean": "the training split's mean of each regression target (null: not scaled)",
    "target_std": "its standard deviation; training ran on (y - mean) / std",
    "load_seconds": "seconds to read and split the data",
}

_OPTIMIZER = {
    "optimizer": "the optimizer as built, with the defaults make_optimizer filled in (or, "
                 "under recipe, its name)",
    "class": "the Keras optimizer class",
    "nesterov": "Nesterov momentum",
    "rho": "RMSprop's decay of the squared-gradient average",
    "beta_1": "Adam-family decay of the gradient average (momentum)",
    "beta_2": "Adam-family decay of the squared-gradient average",
    "epsilon": "the constant added to the denominator for stability",
    "amsgrad": "the AMSGrad variant of Adam",
    "weight_decay": "decoupled weight decay",
}

_SEARCH = {
    "lr_finder": "the exponential learning-rate sweep (callbacks.LRFinder)",
    "min_rate": "the sweep's first learning rate",
    "max_rate": "the sweep's last learning rate",
    "steps": "batches swept",
    "suggested_learning_rate": "the rate to train with: a tenth of min_loss_learning_rate "
                               "(method min_loss), a safe distance below the bottom",
    "min_loss_learning_rate": "the rate at the minimum of the smoothed loss",
    "steepest_learning_rate": "the rate where the smoothed loss falls fastest",
    "method": "how the suggestion was chosen",
    "stopped_early": "the sweep stopped when the loss diverged",
    "best_trial": "the search's best trial: its number, objective and test metrics",
    "trial": "the trial's number as keras-tuner prints it (from 1)",
    "status": "COMPLETED, FAILED or INVALID (keras-tuner)",
    "score": "the trial's objective",
    "val_accuracy": "validation accuracy (the objective for classes)",
    "val_loss": "validation loss (the objective for regression)",
    "search_space": "what the search tried for each hyper-parameter",
    "tuner": "the keras-tuner algorithm",
    "trials_asked": "--trials",
    "epochs_per_trial": "--epochs: epochs of each trial (not part of the best recipe)",
    "resumed": "whether --resume continued an earlier search",
    "directory": "where keras-tuner keeps the trials",
    "n_hidden": "number of hidden layers",
    "units": "neurons per hidden layer",
    "clipping": "the gradient-clipping argument tried",
    "clip_threshold": "its threshold",
}

KEY_HELP: dict[str, str] = {
    **_RUN, **_DATA, **_OPTIMIZER, **_SEARCH,
    **{key: text for key, (_, text) in RECIPE_KEYS.items() if key not in _OPTIMIZER},
}
"""Summary key -> what it means."""


def explain(key: str) -> str | None:
    """What a summary key means, including the numbered and keras-tuner keys; `None` if unknown.

    Example:

    ```python
    explain("units_2")  # "neurons of hidden layer 2"
    ```

    Args:
        key: a key of a summary (at any depth).
    """
    if key in KEY_HELP:
        return KEY_HELP[key]
    if key.startswith("units_") and key[6:].isdigit():
        return f"neurons of hidden layer {key[6:]}"
    if key.startswith("tuner/"):
        return f"keras-tuner's own bookkeeping ({key[6:]}: Hyperband's bracket, round, epochs)"
    return None
