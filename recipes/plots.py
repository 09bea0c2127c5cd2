"""Every matplotlib figure of the recipes, one section per topic.

Functions take the objects the package produces (callbacks, histories),
draw on a given `ax` (or a new figure) and return the matplotlib Axes, so
notebooks can compose and tests can inspect them. matplotlib is imported
lazily: `import recipes` stays light.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["plot_gradient_norms", "plot_activation_stats"]

MAX_LEGEND_LAYERS = 6
"""Past this many layers, gradient norms are coloured by depth with a colour bar, not a legend."""


def _axes(ax: Any = None, figsize: tuple[float, float] = (7, 4)) -> Any:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize)
    return ax


# ---------------------------------------------------------------------------
# Gradients and activations (callbacks.GradientNormLogger, callbacks.ActivationStats)
# ---------------------------------------------------------------------------


def plot_gradient_norms(
    logger_or_history: Any,
    *,
    kernels_only: bool = True,
    include_global: bool = True,
    prefix: str = "grad_norm",
    ax: Any = None,
    title: str | None = None,
) -> Any:
    """Plot gradient norms per layer over training steps, on a log y axis.

    Example:

    ```python
    logger = GradientNormLogger()
    model.fit(x, y, epochs=3, callbacks=[logger])
    ax = plot_gradient_norms(logger, title="sigmoid + Glorot")
    ```

    Up to `MAX_LEGEND_LAYERS` layers get a legend; deeper nets are
    coloured by depth (viridis, first layer dark) with a colour bar, so
    that neighbouring layers look alike and distant ones differ.

    Args:
        logger_or_history: a `GradientNormLogger` (per-step `.history`), its
            `.history` dict, or a Keras `History` / `history.history` dict
            (per-epoch values; x axis = epoch).
        kernels_only: plot only variables named `.../kernel` (plus global).
        include_global: also plot the global norm (dashed black).
        prefix: the log-key prefix used by the logger.
        ax: matplotlib Axes to draw on (new figure if None).
        title: the Axes title.

    Returns:
        The matplotlib Axes.
    """
    records = getattr(logger_or_history, "history", logger_or_history)
    if not isinstance(records, Mapping):
        raise TypeError(
            "`logger_or_history` must be a GradientNormLogger, a History or a dict; "
            f"received {type(logger_or_history).__name__}."
        )
    keys = [k for k in records if k.startswith(prefix + "/")]
    if not keys:
        raise ValueError(f"No '{prefix}/...' keys to plot; found {sorted(records)}.")
    steps = records.get("step")
    xlabel = "step" if steps is not None else "epoch"
    ax = _axes(ax)
    global_key = f"{prefix}/global"
    layer_keys = [k for k in keys if k != global_key
                  and (not kernels_only or k.endswith("/kernel"))]
    by_depth = len(layer_keys) > MAX_LEGEND_LAYERS
    if by_depth:
        import matplotlib as mpl

        colours = mpl.colormaps["viridis"].resampled(len(layer_keys))
    for depth, key in enumerate(layer_keys):
        values = records[key]
        x = steps if steps is not None else range(len(values))
        ax.plot(x, values, label=key[len(prefix) + 1:], linewidth=1.2,
                **({"color": colours(depth)} if by_depth else {}))
    if include_global and global_key in records:
        values = records[global_key]
        x = steps if steps is not None else range(len(values))
        ax.plot(x, values, "k--", label="global", linewidth=1.5)
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("gradient L2 norm")
    if title:
        ax.set_title(title)
    if by_depth:
        import matplotlib as mpl

        bar = ax.figure.colorbar(mpl.cm.ScalarMappable(
            norm=mpl.colors.Normalize(1, len(layer_keys)), cmap=colours), ax=ax)
        bar.set_label(f"layer depth (1 = {layer_keys[0][len(prefix) + 1:]})")
        bar.locator = _whole_numbers()
        bar.update_ticks()
        if include_global and global_key in records:
            ax.legend(handles=ax.lines[-1:], fontsize="x-small")
    else:
        ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax


def plot_activation_stats(
    stats: Any,
    *,
    stat: str = "std",
    epoch: int = -1,
    layers: Sequence[str] | None = None,
    ax: Any = None,
    title: str | None = None,
) -> Any:
    """Plot one activation statistic per layer (bars) at a recorded epoch.

    Example:

    ```python
    stats = ActivationStats(x_valid[:256])
    model.fit(x, y, epochs=3, callbacks=[stats])
    plot_activation_stats(stats, stat="saturated")
    ```

    Args:
        stats: an `ActivationStats` callback, or its `.history`
            (`{layer: {stat: [values per record]}}`).
        stat: `"mean"`, `"std"`, `"saturated"` or `"dead"` (layers without
            that statistic are skipped).
        epoch: index into the records (-1: the last one; 0: before training).
        layers: layer names to show (default: all that have `stat`).
        ax: matplotlib Axes to draw on (new figure if None).
        title: the Axes title (default: the statistic).

    Returns:
        The matplotlib Axes.
    """
    history = getattr(stats, "history", stats)
    if not isinstance(history, Mapping):
        raise TypeError(
            f"`stats` must be an ActivationStats or its .history; received {type(stats).__name__}."
        )
    accepted = ("mean", "std", "saturated", "dead")
    if stat not in accepted:
        raise ValueError(f"`stat` must be one of {accepted}; received {stat!r}.")
    names = [n for n in (layers or history) if stat in history.get(n, {})]
    if not names:
        raise ValueError(f"No layer has the statistic {stat!r}; layers: {sorted(history)}.")
    values = [history[n][stat][epoch] for n in names]
    ax = _axes(ax)
    bars = ax.bar(range(len(names)), values, color="tab:blue")
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=45, ha="right", fontsize="small")
    ax.set_ylabel(stat)
    if stat in ("saturated", "dead"):  # fractions: labelled, on an axis that shows small ones
        ax.bar_label(bars, labels=[f"{v:.1%}" for v in values], fontsize="x-small")
        ax.set_ylim(0, min(1.0, max(0.05, 1.3 * max(values))))
        ax.yaxis.set_major_formatter("{x:.0%}")
    ax.set_title(title or f"activation {stat} per layer")
    return ax


# ---------------------------------------------------------------------------
# Learning-rate schedules and the learning-rate finder (issue 4:
# callbacks.PowerScheduling / OneCycleScheduler / MomentumScheduling / LRFinder)
# ---------------------------------------------------------------------------

__all__ += ["plot_lr_finder", "plot_learning_rate"]

_MOMENTUM_KEYS = ("momentum", "beta_1")


def plot_lr_finder(
    result: Any,
    *,
    show_raw: bool = True,
    mark_suggestion: bool = True,
    ax: Any = None,
    title: str | None = None,
) -> Any:
    """Plot an LR-finder sweep: loss against learning rate (log x), with the suggestion.

    The smoothed loss is the solid line, the per-batch losses are faint
    dots; the y axis is clipped a little above the starting loss so that
    the divergence at the end does not squash the interesting part (the
    legend, below the plot, says how many batch losses lie outside it). Vertical lines mark the
    suggested rate and the rate at the minimum; the legend says how one
    follows from the other.

    Example:

    ```python
    result = recipes.find_learning_rate(model, x, y)
    ax = plot_lr_finder(result)
    ```

    Args:
        result: an `LRFinderResult` (from `recipes.find_learning_rate`) or an
            `LRFinder` callback after `fit`.
        show_raw: also draw the loss of every batch.
        mark_suggestion: draw the suggested and minimum-loss rates.
        ax: matplotlib Axes to draw on (new figure if None).
        title: the Axes title.

    Returns:
        The matplotlib Axes.
    """
    import numpy as np

    result = getattr(result, "result", result)
    if result is None or not hasattr(result, "learning_rates"):
        raise TypeError(
            "`result` must be an LRFinderResult or an LRFinder that has run; received "
            f"{type(result).__name__}."
        )
    rates = np.asarray(result.learning_rates, dtype=float)
    losses = np.asarray(result.losses, dtype=float)
    smoothed = np.asarray(result.smoothed_losses, dtype=float)
    ax = _axes(ax)
    if show_raw:
        ax.plot(rates, losses, ".", color="tab:gray", alpha=0.4, markersize=3, label="batch loss")
    ax.plot(rates, smoothed, color="tab:blue", label="smoothed loss")
    finite = smoothed[np.isfinite(smoothed)]
    note = None
    if finite.size:
        low, high = float(finite.min()), float(finite[0])
        bottom, top = low - 0.05 * (high - low + 1e-12), high + 0.5 * (high - low + 1e-12)
        ax.set_ylim(bottom, top)
        outside = int(np.sum(~((losses >= bottom) & (losses <= top)))) if show_raw else 0
        if outside:
            note = (f"{outside} batch losses lie outside the axis, which spans the smoothed "
                    "loss (the divergence at high rates would squash it)")
    if mark_suggestion:
        why = (" = minimum / 10: a safe distance below where the loss bottoms out"
               if result.method == "min_loss" else " (steepest descent)")
        ax.axvline(result.suggested_learning_rate, color="tab:green", linestyle="--",
                   label=f"suggested {result.suggested_learning_rate:.2g}{why}")
        ax.axvline(result.min_loss_learning_rate, color="tab:red", linestyle=":",
                   label=f"minimum of the smoothed loss {result.min_loss_learning_rate:.2g}")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss")
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(0.0, -0.15), title=note,
              title_fontsize="x-small")
    ax.set_title(title or "learning-rate finder")
    return ax


def plot_learning_rate(
    history_or_logs: Any,
    *,
    key: str = "learning_rate",
    show_momentum: bool = True,
    log_scale: bool = False,
    ax: Any = None,
    title: str | None = None,
) -> Any:
    """Plot the learning rate (and the momentum, if logged) over epochs or steps.

    Example:

    ```python
    history = model.fit(x, y, epochs=20, callbacks=[PowerScheduling(s=1_000)])
    plot_learning_rate(history)
    schedule = recipes.PowerSchedule(0.01, s=1_000)
    plot_learning_rate([float(schedule(t)) for t in range(5_000)], log_scale=True)
    ```

    Args:
        history_or_logs: a Keras `History` or its `.history` dict (x axis:
            epoch), a list of per-batch logs dicts (x axis: step), or a
            sequence of rates (x axis: step).
        key: the log key of the rate.
        show_momentum: also plot `momentum` or `beta_1` on a second y axis
            when they were logged.
        log_scale: logarithmic y axis for the rate.
        ax: matplotlib Axes to draw on (new figure if None).
        title: the Axes title.

    Returns:
        The matplotlib Axes (of the rate).
    """
    data = getattr(history_or_logs, "history", history_or_logs)
    series: dict[str, list[float]]
    if isinstance(data, Mapping):
        series, xlabel = {k: list(v) for k, v in data.items()}, "epoch"
    elif isinstance(data, Sequence) and data and isinstance(data[0], Mapping):
        keys = {k for logs in data for k in logs}
        series = {k: [logs.get(k, float("nan")) for logs in data] for k in keys}
        xlabel = "step"
    elif isinstance(data, Sequence) and not isinstance(data, str):
        series, xlabel = {key: [float(v) for v in data]}, "step"
    else:
        raise TypeError(
            "`history_or_logs` must be a History, a dict of lists, a list of logs dicts or a "
            f"sequence of rates; received {type(history_or_logs).__name__}."
        )
    if key not in series:
        raise ValueError(
            f"No {key!r} in the logs (keys: {sorted(series)}). Log it with a scheduling "
            "callback (PowerScheduling, OneCycleScheduler) or "
            "keras.callbacks.LearningRateScheduler."
        )
    ax = _axes(ax)
    rates = series[key]
    xs = range(1, len(rates) + 1) if xlabel == "epoch" else range(len(rates))
    ax.plot(list(xs), rates, color="tab:blue", label=key)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(key)
    if log_scale:
        ax.set_yscale("log")
    if show_momentum:
        for name in _MOMENTUM_KEYS:
            if name in series:
                twin = ax.twinx()
                twin.plot(list(xs), series[name], color="tab:orange", linestyle="--", label=name)
                twin.set_ylabel(name)
                ax.momentum_axes = twin
                break
    ax.set_title(title or key.replace("_", " "))
    return ax


# ---------------------------------------------------------------------------
# Learning curves (lecture 002: convergence per epoch; checklist 4 of lecture 000)
# ---------------------------------------------------------------------------

__all__ += ["plot_learning_curves"]


def plot_learning_curves(
    history: Any, metrics: Sequence[str] | None = None, *, axes: Any = None
) -> Any:
    """Plot each metric per epoch, training and validation side by side.

    Lecture 002 plots convergence per epoch; checklist 4 of lecture 000 asks
    to watch the loss on a validation set. A validation curve that turns up
    while the training curve keeps falling is overfitting.

    Example:

    ```python
    history = model.fit(x, y, validation_data=(x_valid, y_valid), epochs=20)
    plot_learning_curves(history)                  # loss and every metric
    plot_learning_curves(history, ["loss"])
    ```

    Args:
        history: a `keras.callbacks.History` or its `.history` dict.
        metrics: the metric names to plot (without `val_`); default: every
            metric that has values, loss first.
        axes: a sequence of matplotlib Axes, one per metric (default: a new
            figure with one row).

    Returns:
        The list of Axes.
    """
    logs: Mapping[str, Sequence[float]] = getattr(history, "history", history)
    if not isinstance(logs, Mapping) or not logs:
        raise ValueError(
            "`history` must be a keras History or a non-empty dict of per-epoch values; "
            f"received {history!r}."
        )
    available = [k for k in logs if not k.startswith("val_") and "/" not in k]
    if metrics is None:
        metrics = sorted(available, key=lambda k: (k != "loss", k))
    unknown = [m for m in metrics if m not in logs]
    if unknown or not metrics:
        raise ValueError(
            f"`metrics` must name logged values among {available}; received {metrics!r}."
        )
    if axes is None:
        import matplotlib.pyplot as plt

        _, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.5), squeeze=False)
        axes = axes[0]
    for ax, metric in zip(axes, metrics):
        epochs = range(1, len(logs[metric]) + 1)
        ax.plot(epochs, logs[metric], marker="o", markersize=3, label="training")
        if f"val_{metric}" in logs:
            ax.plot(epochs, logs[f"val_{metric}"], marker="o", markersize=3, label="validation")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(_whole_numbers(list(epochs)))
        ax.set_ylabel(metric)
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    return list(axes)


def _whole_numbers(values: Sequence[int] | None = None) -> Any:
    """A tick locator at whole numbers: each of `values` when they are few, else spaced out."""
    from matplotlib.ticker import FixedLocator, MaxNLocator

    if values is not None and len(values) <= 12:
        return FixedLocator(sorted(set(values)))
    return MaxNLocator(integer=True)


# ---------------------------------------------------------------------------
# Measured lecture tables (branch notebooks: benchmarks/activation_ranking.py,
# benchmarks/optimizer_comparison.py; lecture 001's activation ranking and table 11-2)
# ---------------------------------------------------------------------------

__all__ += ["plot_seed_spread", "plot_mean_curves"]


def plot_seed_spread(
    results: Mapping[str, Sequence[float]],
    *,
    ylabel: str = "validation accuracy",
    ax: Any = None,
    title: str | None = None,
) -> Any:
    """Plot one bar per entry (mean over seeds) with its spread and every seed as a dot.

    Example:

    ```python
    plot_seed_spread({"selu": [0.93, 0.95], "elu": [0.96, 0.97]},
                     title="activation ranking, 5 seeds")
    ```

    Args:
        results: name -> one value per seed (at least one), in the order to draw.
        ylabel: the y-axis label.
        ax: matplotlib Axes to draw on (new figure if None).
        title: the Axes title.

    Returns:
        The matplotlib Axes.
    """
    import numpy as np

    if not isinstance(results, Mapping) or not results or any(
        len(v) == 0 for v in results.values()
    ):
        raise ValueError(
            "`results` must be a non-empty mapping of name -> values per seed; "
            f"received {results!r}."
        )
    ax = _axes(ax)
    names = list(results)
    for i, name in enumerate(names):
        values = np.asarray(results[name], dtype=float)
        spread = values.std(ddof=1) if len(values) > 1 else 0.0
        ax.bar(i, values.mean(), yerr=spread, capsize=4, alpha=0.6)
        ax.plot(np.full(len(values), i), values, "k.", markersize=4)
    ax.set_xticks(range(len(names)), names)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    return ax


def plot_mean_curves(
    curves: Mapping[str, Sequence[Sequence[float]]],
    *,
    ylabel: str = "training loss",
    log: bool = True,
    ax: Any = None,
    title: str | None = None,
) -> Any:
    """Plot per-epoch curves averaged over seeds (line) with their min-max band.

    Example:

    ```python
    plot_mean_curves({"sgd": [[2.3, 1.1, 0.7], [2.3, 1.2, 0.8]],
                      "adam": [[2.0, 0.4, 0.2], [2.1, 0.5, 0.2]]})
    ```

    Args:
        curves: name -> one curve per seed (equal lengths), values per epoch.
        ylabel: the y-axis label.
        log: log-scale y axis.
        ax: matplotlib Axes to draw on (new figure if None).
        title: the Axes title.

    Returns:
        The matplotlib Axes.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    if not isinstance(curves, Mapping) or not curves:
        raise ValueError(f"`curves` must be a non-empty mapping; received {curves!r}.")
    ax = _axes(ax)
    colours = plt.cm.tab20(np.linspace(0, 1, 20))
    for i, (name, runs) in enumerate(curves.items()):
        lengths = {len(run) for run in runs} if isinstance(runs, Sequence) else set()
        if len(lengths) != 1 or 0 in lengths:
            raise ValueError(
                f"`curves[{name!r}]` must be a list of equal-length curves; received {runs!r}."
            )
        values = np.asarray(runs, dtype=float)
        epochs = np.arange(1, values.shape[1] + 1)
        colour = colours[(2 * i) % 20 if i < 10 else (2 * i + 1) % 20]
        ax.plot(epochs, values.mean(axis=0), color=colour, label=name)
        ax.fill_between(epochs, values.min(axis=0), values.max(axis=0), color=colour, alpha=0.15)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", ncol=2)
    return ax


# ---------------------------------------------------------------------------
# Results on the test split and of a search (the command line's reports)
# ---------------------------------------------------------------------------

__all__ += ["plot_confusion_matrix", "plot_trial_scores"]


def plot_confusion_matrix(
    matrix: Any, class_names: Sequence[str], *, ax: Any = None, title: str | None = None
) -> Any:
    """Plot a confusion matrix: counts per true class (rows) and predicted class (columns).

    Example:

    ```python
    plot_confusion_matrix([[50, 2], [4, 44]], ["cat", "dog"])
    ```

    Args:
        matrix: square counts, row = true class, column = predicted class.
        class_names: one name per class.
        ax: matplotlib Axes to draw on (new figure if None).
        title: the Axes title.

    Returns:
        The matplotlib Axes.
    """
    import numpy as np

    counts = np.asarray(matrix)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or len(class_names) != len(counts):
        raise ValueError(f"`matrix` must be square with one row per class name; received shape "
                         f"{counts.shape} for {len(class_names)} names.")
    side = min(10.0, 2.5 + 0.45 * len(counts))
    ax = _axes(ax, figsize=(side + 1, side))
    image = ax.imshow(counts, cmap="Blues")
    ax.figure.colorbar(image, ax=ax, label="test samples")
    ticks = range(len(counts))
    ax.set_xticks(ticks, list(class_names), rotation=45, ha="right", fontsize="small")
    ax.set_yticks(ticks, list(class_names), fontsize="small")
    if len(counts) <= 20:
        for (row, column), value in np.ndenumerate(counts):
            ax.text(column, row, str(value), ha="center", va="center", fontsize="x-small",
                    color="white" if value > counts.max() / 2 else "black")
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title or "confusion matrix (test split)")
    return ax


def plot_trial_scores(
    trials: Sequence[Mapping[str, Any]], objective: str, *, ax: Any = None,
    title: str | None = None
) -> Any:
    """Plot the objective of every search trial, the best one marked.

    Example:

    ```python
    plot_trial_scores([{"trial": 1, "score": 0.91}, {"trial": 2, "score": 0.95}],
                      "val_accuracy")
    ```

    Args:
        trials: one mapping per trial with `trial` (its number) and `score`
            (`None` for a trial that did not complete).
        objective: the objective's name; `val_loss` and other losses are
            minimized, the rest maximized.
        ax: matplotlib Axes to draw on (new figure if None).
        title: the Axes title.

    Returns:
        The matplotlib Axes.
    """
    done = [(int(t["trial"]), float(t["score"])) for t in trials if t.get("score") is not None]
    if not done:
        raise ValueError(f"`trials` holds no completed trial with a score; received {trials!r}.")
    ax = _axes(ax)
    numbers, scores = zip(*done)
    ax.plot(numbers, scores, "o", color="tab:blue", label="trial")
    best = (min if "loss" in objective else max)(done, key=lambda pair: pair[1])
    ax.plot(*best, "*", color="tab:red", markersize=14, label=f"best: trial {best[0]}")
    ax.xaxis.set_major_locator(_whole_numbers(list(numbers)))
    ax.set_xlabel("trial (as keras-tuner numbers it)")
    ax.set_ylabel(objective)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    ax.set_title(title or f"{objective} per trial")
    return ax


def plot_comparison(
    comparison: Any,
    *,
    keys: Sequence[str] | None = None,
    title: str | None = None,
) -> Any:
    """Overlay the learning curves of a comparison: mean over seeds, min-max band, one panel a key.

    Example:

    ```python
    result = recipes.compare({"sick": sick, "deep_dnn": deep}, data, seeds=5)
    axes = plot_comparison(result, keys=("loss", "val_accuracy"))
    ```

    Args:
        comparison: what `recipes.compare` returned, or its summary
            (`Comparison.summary()`, or a summary.json read back).
        keys: the logged curves to draw, one panel each (default: `"loss"`
            and the validation curve of the judged metric).
        title: the figure's title.

    Returns:
        The list of matplotlib Axes, one per key.
    """
    import matplotlib.pyplot as plt

    summary = comparison.summary() if hasattr(comparison, "summary") else comparison
    if not isinstance(summary, Mapping) or "curves" not in summary:
        raise TypeError("`comparison` must be what recipes.compare returned or its summary "
                        f"(with 'curves'); received {type(comparison).__name__}.")
    curves = summary["curves"]
    keys = list(keys or ("loss", f"val_{summary['metric']}"))
    for key in keys:
        missing = [name for name, logged in curves.items() if key not in logged]
        if missing:
            raise ValueError(f"`keys` holds {key!r}, which recipes {missing} did not log; "
                             f"accepted: {sorted(set.intersection(*map(set, curves.values())))}.")
    figure, axes = plt.subplots(1, len(keys), figsize=(6.5 * len(keys), 4.2), squeeze=False)
    for ax, key in zip(axes[0], keys):
        runs = {name: [[float(v) for v in run] for run in logged[key]]
                for name, logged in curves.items()}
        plot_mean_curves(runs, ylabel=key, log="loss" in key, ax=ax,
                         title=f"{key}: mean over {len(summary['seeds'])} seeds, min-max band")
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return list(axes[0])
