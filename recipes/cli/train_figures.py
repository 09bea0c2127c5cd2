"""The figures of a `train` report, drawn with `keras_recipes.plots`.

Learning curves, the learning rate over the optimizer's steps, gradient
norms per layer (coloured by depth on deep nets), activation statistics
(the saturated / dead fractions only when some layer has more than
`NOTABLE_FRACTION` of them) and, for classification, the confusion matrix.
"""

from __future__ import annotations

from typing import Any

NOTABLE_FRACTION = 0.01
"""Saturated or dead fractions below this in every layer get a sentence, not a figure."""


def training_figures(history: Any, model: Any, data: Any, monitors: list, steps: int
                     ) -> dict[str, Any]:
    """Title -> matplotlib figure for a finished training run.

    Example:

    ```python
    figures = training_figures(history, model, data, monitors, steps=370)
    ```

    Args:
        history: what `fit` returned.
        model: the trained model (its optimizer's schedule gives the rates).
        data: the `Splits`.
        monitors: the callbacks of `fit` (gradient logger, activation statistics).
        steps: optimizer steps run.
    """
    import matplotlib

    matplotlib.use("Agg")
    from .. import plots
    from .train_results import confusion_matrix, learning_rates

    compiled = [k for k in history.history if not k.startswith("val_") and "/" not in k
                and k != "learning_rate"]
    figures = {"learning curves": plots.plot_learning_curves(history, compiled)[0].figure}
    rates = learning_rates(model.optimizer, steps)
    constant = f" (constant {rates[0]:g})" if min(rates) == max(rates) else ""
    figures["learning rate"] = plots.plot_learning_rate(
        rates, log_scale=max(rates) > 10 * min(rates) > 0,
        title=f"learning rate per optimizer step{constant}").figure
    logger = next((m for m in monitors if hasattr(m, "per_layer")), None)
    if logger is not None and logger.history.get("step"):
        figures["gradient norms per layer"] = plots.plot_gradient_norms(
            logger, title="gradient norms per layer (kernels), per step").figure
    stats = next((m for m in monitors if type(m).__name__ == "ActivationStats"), None)
    if stats is not None and stats.history:
        figures["activation statistics"] = plots.plot_activation_stats(
            stats, title="activation std per layer after training").figure
        for stat, what in (("saturated", "saturated sigmoid/tanh outputs"),
                           ("dead", "dead ReLU units")):
            values = [v[stat][-1] for v in stats.history.values() if stat in v]
            if values and max(values) > NOTABLE_FRACTION:
                figures[f"activation {stat}"] = plots.plot_activation_stats(
                    stats, stat=stat, title=f"fraction of {what} per layer after training"
                ).figure
    if data.task in ("binary", "multiclass"):
        figures["confusion matrix"] = plots.plot_confusion_matrix(
            confusion_matrix(model, data), data.class_names).figure
    return figures
