"""Plot helpers in keras_recipes.plots: gradient norms, activations, results of a run or search."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from keras_recipes.plots import plot_activation_stats, plot_gradient_norms  # noqa: E402


def test_plot_gradient_norms_from_logger_history_and_keras_history():
    records = {"step": [0, 1, 2], "grad_norm/global": [1.0, 2.0, 3.0],
               "grad_norm/d1/kernel": [1e-6, 1e-5, 1e-4], "grad_norm/d1/bias": [1, 1, 1],
               "grad_norm/d2/kernel": [0.5, 0.4, 0.3]}

    class Logger:
        history = records

    ax = plot_gradient_norms(Logger(), title="t")
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["d1/kernel", "d2/kernel", "global"]
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "step" and ax.get_title() == "t"
    epochs = {k: v for k, v in records.items() if k != "step"}
    ax = plot_gradient_norms(epochs, kernels_only=False, include_global=False)
    assert len(ax.get_lines()) == 3 and ax.get_xlabel() == "epoch"
    with pytest.raises(ValueError, match="grad_norm"):
        plot_gradient_norms({"loss": [1.0]})
    plt.close("all")


def test_plot_activation_stats_bars():
    history = {"h1": {"mean": [0.1, 0.2], "std": [1.0, 0.9], "dead": [0.0, 0.5]},
               "h2": {"mean": [0.3, 0.3], "std": [0.5, 0.4], "saturated": [0.9, 0.95]}}
    ax = plot_activation_stats(history, stat="dead")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["h1"]
    assert ax.patches[0].get_height() == 0.5
    ax = plot_activation_stats(history, stat="std", epoch=0)
    assert [p.get_height() for p in ax.patches] == [1.0, 0.5]
    with pytest.raises(ValueError, match="stat"):
        plot_activation_stats(history, stat="median")
    plt.close("all")


def test_plot_learning_curves_training_and_validation():
    from keras_recipes.plots import plot_learning_curves

    logs = {"loss": [2.3, 1.0, 0.5], "accuracy": [0.1, 0.6, 0.9],
            "val_loss": [2.2, 1.2, 0.9], "val_accuracy": [0.2, 0.5, 0.8],
            "grad_norm/global": [1.0, 0.5, 0.2]}
    axes = plot_learning_curves(logs)
    assert [ax.get_title() for ax in axes] == ["loss", "accuracy"]
    lines = axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["training", "validation"]
    assert list(lines[1].get_ydata()) == [2.2, 1.2, 0.9]
    with pytest.raises(ValueError, match="metrics"):
        plot_learning_curves(logs, ["f1"])
    with pytest.raises(ValueError, match="history"):
        plot_learning_curves({})


# --- measured lecture tables (branch notebooks): plot_seed_spread, plot_mean_curves ---


def test_plot_seed_spread_and_mean_curves():
    from keras_recipes.plots import plot_mean_curves, plot_seed_spread

    ax = plot_seed_spread({"selu": [0.9, 0.92, 0.94], "elu": [0.95]}, title="t")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["selu", "elu"]
    assert [round(p.get_height(), 3) for p in ax.patches] == [0.92, 0.95]
    assert ax.get_title() == "t"
    ax = plot_mean_curves({"sgd": [[2.0, 1.0], [2.2, 1.2]], "adam": [[1.0, 0.1], [1.0, 0.1]]})
    assert [line.get_label() for line in ax.get_lines()] == ["sgd", "adam"]
    assert list(ax.get_lines()[0].get_ydata()) == pytest.approx([2.1, 1.1])
    assert ax.get_yscale() == "log"
    with pytest.raises(ValueError, match="results"):
        plot_seed_spread({})
    with pytest.raises(ValueError, match="curves"):
        plot_mean_curves({"sgd": [[1.0, 2.0], [1.0]]})
    plt.close("all")


def test_deep_nets_colour_gradient_norms_by_depth_with_a_colour_bar():
    depth = 22
    records = {"step": [0, 1], "grad_norm/global": [1.0, 1.0],
               **{f"grad_norm/hidden_{i}/kernel": [10.0 ** -i, 10.0 ** -i]
                  for i in range(1, depth + 1)}}
    ax = plot_gradient_norms(records)
    colours = [tuple(line.get_color()) for line in ax.get_lines()[:depth]]
    assert len(set(colours)) == depth  # no colour repeats (hidden_1 and hidden_11 differ)
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["global"]  # the colour bar names depth
    assert any("layer depth" in a.get_ylabel() for a in ax.figure.axes if a is not ax)
    shallow = plot_gradient_norms({k: v for k, v in list(records.items())[:5]})
    assert len(shallow.get_legend().get_texts()) == 4  # 3 layers + global: a legend
    plt.close("all")


def test_confusion_matrix_and_trial_scores():
    from keras_recipes.plots import plot_confusion_matrix, plot_trial_scores

    ax = plot_confusion_matrix([[5, 1], [2, 7]], ["cat", "dog"])
    assert [t.get_text() for t in ax.texts] == ["5", "1", "2", "7"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["cat", "dog"]
    with pytest.raises(ValueError, match="square"):
        plot_confusion_matrix([[1, 2]], ["a"])
    ax = plot_trial_scores([{"trial": 1, "score": 0.5}, {"trial": 2, "score": None},
                            {"trial": 3, "score": 0.7}], "val_accuracy")
    assert ax.get_legend().get_texts()[1].get_text() == "best: trial 3"
    assert list(ax.get_xticks()) == [1, 3]  # whole trial numbers, even for few trials
    best = plot_trial_scores([{"trial": 1, "score": 0.5}, {"trial": 2, "score": 0.2}],
                             "val_loss")
    assert best.get_legend().get_texts()[1].get_text() == "best: trial 2"  # a loss: lowest
    plt.close("all")


def test_small_fractions_are_labelled_on_an_axis_that_shows_them():
    history = {"h1": {"saturated": [0.002]}, "h2": {"saturated": [0.01]}}
    ax = plot_activation_stats(history, stat="saturated")
    assert ax.get_ylim()[1] == pytest.approx(0.05)
    assert [t.get_text() for t in ax.texts] == ["0.2%", "1.0%"]
    plt.close("all")
