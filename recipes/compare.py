"""Compare training recipes the honest way: the same splits, several seeds, the spread, a verdict.

`compare({"A": a, "B": b}, data, seeds=5)` trains every recipe once per seed on
the same training split (the seed fixes the initial weights, the dropout masks
and the batch order; the splits never change), evaluates every run on the test
split and states, for every pair, a Welch t interval of the difference of the
two means of the judged metric: "B better than A by x +- y" when the interval
excludes 0, "no difference beyond the spread" when it holds 0. A recipe's
hyper-parameters to tune (`Recipe(tune=...)`) are chosen on the validation
split with a seed that no judged run uses, so the split that judges chose
nothing. Importing this module imports neither Keras nor NumPy (`import
keras_recipes` binds `compare` to the function at once); `compare` does.
"""

from __future__ import annotations

import itertools
import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .callbacks._validation import check_fraction, check_positive

if TYPE_CHECKING:
    import keras

    from .comparison import Comparison
    from .data import Splits

__all__ = ["Comparison", "Recipe", "compare"]


@dataclass(frozen=True)
class Recipe:
    """One contender of `compare`: a builder of a compiled model, and how to fit it.

    Example:

    ```python
    def sick(data):
        model = build_dnn(data.input_shape, data.n_classes, hidden=(100,) * 20,
                          activation="sigmoid")
        return compile_recipe(model, "sgd")
    contenders = {"sick": Recipe(sick, epochs=10), "deep_dnn": Recipe(
        lambda data: deep_dnn(data.input_shape, data.n_classes), epochs=10)}
    ```

    Args:
        build: `build(data, **hyperparameters)` returns a new compiled
            `keras.Model` for the `Splits` `data` on every call.
        epochs: epochs of every run; `None` takes `compare`'s `epochs`.
        batch_size: batch size of `fit`.
        callbacks: a function returning fresh callbacks for one run (for
            example `lambda: [OneCycleScheduler(0.01)]`), or `None`.
        tune: hyper-parameter name -> the values to try; every combination
            is passed to `build` as keywords, trained once with
            `compare`'s `tuning_seed` and scored on the validation split.
        description: one line that says what the recipe is, for the report.
    """

    build: Callable[..., keras.Model]
    epochs: int | None = None
    batch_size: int = 32
    callbacks: Callable[[], Sequence[keras.callbacks.Callback]] | None = None
    tune: Mapping[str, Sequence[Any]] | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if not callable(self.build):
            raise TypeError(f"`build` must be a callable returning a compiled keras.Model; "
                            f"received {self.build!r}.")
        if self.epochs is not None:
            check_positive("epochs", self.epochs, integer=True)
        check_positive("batch_size", self.batch_size, integer=True)
        if self.callbacks is not None and not callable(self.callbacks):
            raise TypeError("`callbacks` must be a function returning fresh callbacks (e.g. "
                            f"`lambda: [OneCycleScheduler(0.01)]`); received {self.callbacks!r}.")
        for name, values in (self.tune or {}).items():
            if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
                raise ValueError(f"`tune[{name!r}]` must be a non-empty list of values to try; "
                                 f"received {values!r}.")

    def grid(self) -> list[dict[str, Any]]:
        """Every combination of the `tune` values (one empty one without `tune`)."""
        names = list(self.tune or {})
        return [dict(zip(names, values))
                for values in itertools.product(*(self.tune[n] for n in names))]


def _epoch_timer() -> Any:
    """A callback that records the wall time of every epoch in `.seconds`."""
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.seconds: list[float] = []

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            self.seconds.append(time.perf_counter() - self.started)

    return EpochTimer()


def _fit(recipe: Recipe, data: Splits, seed: int, epochs: int, hyper: dict[str, Any],
         monitor: bool) -> dict[str, Any]:
    """One run: build with `seed`, fit on the training split, evaluate on the test split."""
    import keras

    from .callbacks import VanishingGradientDetector
    from .callbacks.gradient_detector import GradientWarning

    keras.utils.set_random_seed(seed)
    model = recipe.build(data, **hyper)
    if not isinstance(model, keras.Model) or not getattr(model, "compiled", False):
        what = "an uncompiled model" if isinstance(model, keras.Model) else type(model).__name__
        raise TypeError(f"a recipe's `build` must return a compiled keras.Model; it returned "
                        f"{what} (compile it, e.g. with recipes.compile_recipe).")
    timer = _epoch_timer()
    callbacks = [*(recipe.callbacks() if recipe.callbacks else []), timer]
    detector = VanishingGradientDetector(action="warn") if monitor else None
    if detector is not None:
        callbacks.append(detector)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GradientWarning)  # counted into the summary instead
        history = model.fit(*data.train, validation_data=data.valid, epochs=epochs,
                            batch_size=recipe.batch_size, verbose=0, callbacks=callbacks)
    test = model.evaluate(*data.test, batch_size=max(256, recipe.batch_size), verbose=0,
                          return_dict=True)
    curves = {k: [float(v) for v in values] for k, values in history.history.items()
              if "/" not in k}
    return {"seed": int(seed), "hyperparameters": hyper,
            "test": {k: float(v) for k, v in test.items()}, "curves": curves,
            "epoch_s": timer.seconds,
            "findings": sorted({e["kind"] for e in detector.events}) if detector else None}


def _check_arguments(recipes: Any, data: Any, seeds: Any, tuning_seed: int) -> tuple[dict, list]:
    import numpy as np

    from .data import Splits

    if not isinstance(recipes, Mapping) or len(recipes) < 2:
        raise ValueError("`recipes` must map at least two names to recipes (a `Recipe` or a "
                         f"function data -> compiled model); received {recipes!r}.")
    contenders = {}
    for name, recipe in recipes.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"recipe names must be non-empty strings; received {name!r}.")
        contenders[name] = recipe if isinstance(recipe, Recipe) else Recipe(recipe)
    if not isinstance(data, Splits):
        raise TypeError("`data` must be a recipes.data.Splits (train, valid, test), e.g. "
                        f"recipes.load_digits(); received {type(data).__name__}.")
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        check_positive("seeds", seeds, integer=True)
        seeds = list(range(int(seeds)))
    valid = isinstance(seeds, Sequence) and len(set(seeds)) == len(seeds) >= 2
    if not valid or not all(isinstance(s, (int, np.integer)) and s >= 0 for s in seeds):
        raise ValueError("`seeds` must be a count >= 2 or a list of at least 2 different "
                         f"seeds >= 0 (a spread needs two runs); received {seeds!r}.")
    if tuning_seed in seeds:
        raise ValueError(f"`tuning_seed` {tuning_seed} is one of the judged `seeds` {list(seeds)}; "
                         "tune with a seed no judged run uses.")
    return contenders, [int(s) for s in seeds]


def compare(
    recipes: Mapping[str, Recipe | Callable[..., keras.Model]],
    data: Splits,
    *,
    seeds: int | Sequence[int] = 5,
    epochs: int = 20,
    metric: str | None = None,
    target: float | None = None,
    target_metric: str | None = None,
    confidence: float = 0.95,
    tune_on: str = "val_loss",
    tuning_seed: int = 1000,
    monitor: bool = True,
    verbose: int = 1,
) -> Comparison:
    """Train every recipe with several seeds on the same splits; state a verdict per pair.

    Per recipe: mean, standard deviation and min-max over the seeds of every
    test metric, the epoch each run reaches `target`, the time per epoch, the
    learning curves and (with `monitor`) the runs in which
    `VanishingGradientDetector` found a gradient problem. Per pair: a Welch t
    interval of the difference of the mean test `metric`, and the verdict
    that follows from it (`Comparison.verdicts`). A recipe with `tune`
    values is tuned first: every combination trains once with
    `tuning_seed` and the best by `tune_on` on the validation split is kept;
    the judged runs use `seeds` and the test split only.

    Example:

    ```python
    data = recipes.load_digits()
    result = recipes.compare({"sick": sick, "deep_dnn": deep}, data, seeds=5, epochs=40,
                             target=0.97)
    print(result)                       # the table and the verdicts
    result.save("reports/deep_nets")    # summary.json
    ```

    Args:
        recipes: name -> `Recipe` (or a function `data -> compiled model`,
            taken as `Recipe(function)`); at least two.
        data: the `Splits`; every run uses the same three splits.
        seeds: how many seeds (0, 1, ...) or the list of seeds; at least 2.
        epochs: epochs of a recipe that sets none.
        metric: the test metric the verdicts judge (default: `"accuracy"`
            when the models report it, else `"loss"`).
        target: the value of `target_metric` that counts as reached (epochs
            to target), or `None` for none.
        target_metric: the per-epoch log `target` applies to (default:
            `"val_" + metric`).
        confidence: coverage of the intervals, in (0, 1).
        tune_on: the validation log that chooses tuned hyper-parameters
            (its last epoch; lower is better for losses, else higher).
        tuning_seed: the seed of the tuning runs (not one of `seeds`).
        monitor: add a `VanishingGradientDetector(action="warn")` to every
            run and count its findings.
        verbose: 1 prints one line per run, 0 nothing.
    """
    import numpy as np

    from .comparison import Comparison, lower_is_better

    contenders, seeds = _check_arguments(recipes, data, seeds, tuning_seed)
    check_positive("epochs", epochs, integer=True)
    check_fraction("confidence", confidence)
    if not tune_on.startswith("val_"):
        raise ValueError(f"`tune_on` must be a validation log (`val_...`), so that the test "
                         f"split chooses nothing; received {tune_on!r}.")
    total = sum(len(r.grid()) if r.tune else 0 for r in contenders.values())
    total += len(seeds) * len(contenders)
    done, runs, tuning = 0, {}, {}
    for name, recipe in contenders.items():
        recipe_epochs = recipe.epochs or epochs
        chosen: dict[str, Any] = {}
        if recipe.tune:
            scores = []
            for hyper in recipe.grid():
                run = _fit(recipe, data, tuning_seed, recipe_epochs, hyper, monitor=False)
                value = run["curves"].get(tune_on, [math.nan])[-1]
                scores.append({"hyperparameters": hyper, tune_on: value})
                done += 1
                if verbose:
                    print(f"[{done}/{total}] {name} tuning {hyper}: {tune_on} {value:.4f}",
                          flush=True)
            sign = 1 if lower_is_better(tune_on) else -1
            best = min(scores, key=lambda s: sign * s[tune_on] if np.isfinite(s[tune_on])
                       else math.inf)
            chosen = best["hyperparameters"]
            tuning[name] = {"split": "validation", "seed": tuning_seed, "score": tune_on,
                            "epochs": recipe_epochs, "tried": scores, "chosen": chosen}
        runs[name] = []
        for seed in seeds:
            started = time.perf_counter()
            run = _fit(recipe, data, seed, recipe_epochs, chosen, monitor)
            runs[name].append(run)
            done += 1
            if verbose:
                shown = ", ".join(f"{k} {v:.4f}" for k, v in run["test"].items())
                print(f"[{done}/{total}] {name} seed {seed}: test {shown} "
                      f"({recipe_epochs} epochs, {time.perf_counter() - started:.1f} s)",
                      flush=True)
    return Comparison(
        recipes={name: {"description": r.description, "epochs": r.epochs or epochs,
                        "batch_size": r.batch_size} for name, r in contenders.items()},
        runs=runs, seeds=seeds, metric=metric, target=target, target_metric=target_metric,
        confidence=confidence, tuning=tuning,
        data={"n_train": len(data.train[0]), "n_valid": len(data.valid[0]),
              "n_test": len(data.test[0]), "task": data.task})


