"""The verdict of a run: the test metric against a trivial baseline, findings, failing items.

Every run on labelled data states what a model that learned nothing scores
(the majority class of the training split, or its mean target) next to the
model's test metric; not beating it is a finding. The verdict block
(`make_verdict`) gathers that comparison, the gradient findings and the
failing checklist items, each with its remedies once; the console prints it
(`verdict_lines`) and the report puts it first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

BASELINE_REMEDIES = (
    "check that the inputs carry information about the target (a feature that leaks or a "
    "shuffled target column gives this too)",
    "train longer (--epochs) or find a working learning rate first (keras-recipes lr-find)",
    "start from the lectures' default DNN (no architecture flags) before changing it",
)


def baseline(data: Any, description: Mapping[str, Any]) -> dict[str, Any]:
    """What a model that ignores its inputs scores on the test split.

    Classification: always the training split's majority class (test
    accuracy). Regression: always the training split's mean target (test
    mean absolute error, in the targets' original units).

    Example:

    ```python
    baseline(data, description)  # {"metric": "accuracy", "value": 0.1, "what": ...}
    ```

    Args:
        data: the `Splits` the model trains on.
        description: what `commands.load_data` returned with it (class names,
            target mean and std).
    """
    y_train, y_test = data.train[1], data.test[1]
    if data.task == "regression":
        if description.get("target_mean") is not None:
            shape = y_train.shape[1:]
            mean = np.asarray(description["target_mean"], dtype="float64").reshape(shape)
            std = np.asarray(description["target_std"], dtype="float64").reshape(shape)
            y_train, y_test = y_train * std + mean, y_test * std + mean
        value = float(np.abs(y_test - y_train.mean(axis=0)).mean())
        return {"metric": "mae", "value": value, "what": "the training split's mean target",
                "higher_is_better": False}
    labels, counts = np.unique(y_train, return_counts=True)
    majority = labels[counts.argmax()]
    names = description.get("classes") or []
    shown = names[int(majority)] if int(majority) < len(names) else str(majority)
    return {"metric": "accuracy", "value": float(np.mean(y_test == majority)),
            "what": f"always class {shown} (the training split's majority)",
            "higher_is_better": True}


def baseline_comparison(test: Mapping[str, float], base: Mapping[str, Any]) -> dict[str, Any]:
    """Compare the model's test metric with the baseline; a finding when it does not beat it.

    Example:

    ```python
    baseline_comparison({"accuracy": 0.95}, {"metric": "accuracy", "value": 0.1, ...})
    ```

    Args:
        test: the model's test metrics.
        base: what `baseline` returned.
    """
    metric, value = base["metric"], test.get(base["metric"])
    if value is None:
        return {"text": f"no test {metric} to compare with the baseline", "beats": None,
                "finding": None}
    # Keras reports float32: the same fraction of samples must compare as a tie
    model, trivial = np.float32(value), np.float32(base["value"])
    beats = bool(model > trivial if base["higher_is_better"] else model < trivial)
    text = (f"test {metric} {value:.4g} vs {base['value']:.4g} for {base['what']}: "
            f"{'beats' if beats else 'does not beat'} the baseline")
    finding = None if beats else {
        "kind": "no better than the baseline",
        "message": f"The model's test {metric} ({value:.4g}) is no better than {base['what']} "
                   f"({base['value']:.4g}).",
        "remedies": list(BASELINE_REMEDIES)}
    return {"text": text, "beats": beats, "finding": finding}


def _without_remedies(message: str) -> str:
    """A detector message without its trailing "Remedies: ..." (listed separately)."""
    return message.split(" Remedies: ", 1)[0].rstrip()


def make_verdict(headline: str, comparison: Mapping[str, Any] | None,
                 findings: Sequence[Mapping[str, Any]],
                 checklist: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The verdict block: headline, findings, failing checklist items, remedies once each.

    Example:

    ```python
    verdict = make_verdict("default_dnn on digits", comparison, findings, checklist)
    ```

    Args:
        headline: what ran on what (the start of the headline).
        comparison: what `baseline_comparison` returned, or `None`.
        findings: gradient findings (`kind`, `message`, `remedies`).
        checklist: checklist items (`name`, `passed`, `measured`, `expected`, `advice`).
    """
    problems: list[dict[str, Any]] = []
    for finding in findings:
        problems.append({"kind": finding.get("kind", "finding"),
                         "message": _without_remedies(str(finding.get("message", ""))),
                         "remedies": list(finding.get("remedies", []))})
    for item in checklist:
        if not item.get("passed"):
            problems.append({"kind": f"checklist {item['name']}",
                             "message": f"measured {item['measured']}; expected "
                                        f"{item['expected']}.",
                             "remedies": [item["advice"]] if item.get("advice") else []})
    if comparison is not None and comparison["finding"] is not None:
        problems.append(dict(comparison["finding"]))  # after the findings that may explain it
    seen: set[str] = set()
    for problem in problems:  # a remedy shared by two problems is listed with the first
        problem["remedies"] = [r for r in problem["remedies"] if not (r in seen or seen.add(r))]
    text = headline + (f": {comparison['text']}" if comparison is not None else "")
    failing = sum(1 for item in checklist if not item.get("passed"))
    if checklist:
        text += f"; {len(checklist) - failing} of {len(checklist)} checklist items pass"
    return {"headline": text + ".", "problems": problems,
            "beats_baseline": None if comparison is None else comparison["beats"]}


def verdict_lines(verdict: Mapping[str, Any]) -> list[str]:
    """The verdict as console lines (the report renders the same block).

    Example:

    ```python
    print("\\n".join(verdict_lines(verdict)))
    ```

    Args:
        verdict: what `make_verdict` returned.
    """
    lines = [f"Verdict: {verdict['headline']}"]
    if not verdict["problems"]:
        lines.append("  No findings.")
    for problem in verdict["problems"]:
        lines.append(f"  - {problem['kind']}: {problem['message']}")
        lines += [f"      remedy: {remedy}" for remedy in problem["remedies"]]
    return lines
