"""The report of one run: `summary.json` (machine-readable) and `report.html` (one page).

`write_report(directory, summary, figures)` writes both. The summary is a
plain dictionary (recipe, data description, final metrics, initial-loss check,
checklist results, detector findings, timings, package and Keras versions,
backend); the page renders it, with every figure embedded as a base64 PNG, so
the single file can be mailed or opened offline in any browser.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SECTIONS = (
    ("recipe", "Recipe"),
    ("data", "Data"),
    ("metrics", "Final metrics"),
    ("initial_loss", "Checklist 1: initial loss"),
    ("checklist", "Checklist"),
    ("findings", "Findings"),
    ("lr_finder", "Learning-rate sweep"),
    ("fast_path", "Speed settings"),
    ("timings", "Timings (seconds)"),
    ("versions", "Versions"),
)

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; color: #222; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; } td, th { padding: .2rem .6rem; border: 1px solid #ddd;
text-align: left; vertical-align: top; } .pass { color: #176317; } .fail { color: #a31515; }
img { max-width: 100%; } li { margin-bottom: .4rem; }
"""


def versions() -> dict[str, str]:
    """Versions of this package, Keras, its backend and Python.

    Example:

    ```python
    versions()["keras"]  # "3.15.1"
    ```
    """
    import keras

    from .. import __version__

    found = {"keras-training-recipes": __version__, "keras": keras.__version__,
             "backend": keras.backend.backend(), "python": platform.python_version()}
    module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}.get(found["backend"])
    if module is not None:
        found[module] = __import__(module).__version__
    return found


def figure_data_uri(figure: Any) -> str:
    """Encode a matplotlib figure as a `data:image/png;base64,...` URI.

    Example:

    ```python
    uri = figure_data_uri(plot_learning_curves(history)[0].figure)
    ```

    Args:
        figure: a matplotlib `Figure`.
    """
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _plain(value: Any) -> Any:
    """JSON-safe copy: NumPy scalars to Python, NaN/Inf to strings, tuples to lists."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return html.escape(", ".join(str(_plain(v)) for v in value))
    return html.escape("null" if value is None else str(value))


def _table(mapping: Mapping[str, Any]) -> str:
    rows = []
    for key, value in mapping.items():
        if isinstance(value, Mapping):
            value = ", ".join(f"{k} {_cell(v)}" for k, v in value.items())
            rows.append(f"<tr><th>{html.escape(str(key))}</th><td>{value}</td></tr>")
        else:
            rows.append(f"<tr><th>{html.escape(str(key))}</th><td>{_cell(value)}</td></tr>")
    return "<table>" + "".join(rows) + "</table>"


def _checklist(items: list[Mapping[str, Any]]) -> str:
    rows = ["<tr><th>item</th><th>result</th><th>measured</th><th>expected</th><th>advice</th>"
            "</tr>"]
    for item in items:
        passed = item.get("passed")
        label, css = ("PASS", "pass") if passed else ("FAIL", "fail")
        rows.append(f"<tr><td>{_cell(item.get('name'))}</td><td class='{css}'>{label}</td>"
                    f"<td>{_cell(item.get('measured'))}</td><td>{_cell(item.get('expected'))}</td>"
                    f"<td>{_cell(item.get('advice', ''))}</td></tr>")
    return "<table>" + "".join(rows) + "</table>"


def _findings(items: list[Mapping[str, Any]], note: str | None) -> str:
    parts = [f"<p>{html.escape(note)}</p>"] if note else []
    if not items:
        parts.append("<p class='pass'>No vanishing, exploding or non-finite gradients found.</p>")
        return "".join(parts)
    entries = []
    for item in items:
        remedies = "".join(f"<li>{html.escape(str(r))}</li>" for r in item.get("remedies", []))
        entries.append(f"<li class='fail'><strong>{html.escape(str(item.get('kind', '')))}"
                       f"</strong>: {html.escape(str(item.get('message', '')))}"
                       f"<br>Remedies:<ul>{remedies}</ul></li>")
    return "".join(parts) + "<ul>" + "".join(entries) + "</ul>"


def _section(key: str, value: Any, summary: Mapping[str, Any]) -> str:
    if key == "checklist":
        return _checklist(value)
    if key == "findings":
        return _findings(value, summary.get("gradient_norms_note"))
    if key == "metrics":
        return _table({split: values for split, values in value.items()})
    if isinstance(value, Mapping):
        return _table(value)
    return f"<p>{_cell(value)}</p>"


def render_html(summary: Mapping[str, Any], figures: Mapping[str, Any]) -> str:
    """Render a summary and its figures as one self-contained HTML page.

    Example:

    ```python
    page = render_html({"title": "run", "metrics": {"test": {"accuracy": 0.98}}}, {})
    ```

    Args:
        summary: the run's summary (see `write_report`).
        figures: title -> matplotlib figure, embedded as base64 PNG in order.
    """
    title = str(summary.get("title", "keras-recipes report"))
    body = [f"<h1>{html.escape(title)}</h1>"]
    if summary.get("headline"):
        body.append(f"<p>{html.escape(str(summary['headline']))}</p>")
    for key, heading in SECTIONS:
        if key == "findings" and "findings" not in summary:
            continue
        if key in summary and summary[key] is not None:
            body.append(f"<section id='{key}'><h2>{heading}</h2>"
                        f"{_section(key, summary[key], summary)}</section>")
        if key == "metrics" and figures:
            body.append("<section id='figures'><h2>Figures</h2>")
            for name, figure in figures.items():
                slug = html.escape(name.lower().replace(" ", "-"))
                body.append(f"<figure id='{slug}'><img alt='{html.escape(name)}' "
                            f"src='{figure_data_uri(figure)}'><figcaption>{html.escape(name)}"
                            "</figcaption></figure>")
            body.append("</section>")
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")


def write_report(directory: str | Path, summary: Mapping[str, Any],
                 figures: Mapping[str, Any] | None = None) -> dict[str, Path]:
    """Write `summary.json` and `report.html` into `directory`; return their paths.

    The figures are closed once embedded.

    Example:

    ```python
    paths = write_report("reports/run", {"title": "run", "recipe": recipe}, {
        "learning curves": plot_learning_curves(history)[0].figure})
    ```

    Args:
        directory: the report folder (created if needed).
        summary: keys among `SECTIONS` (plus `title`, `headline`, anything else
            JSON-serializable, which goes only into summary.json).
        figures: title -> matplotlib figure.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    figures = dict(figures or {})
    plain = _plain(dict(summary))
    paths = {"summary": directory / "summary.json", "html": directory / "report.html"}
    paths["summary"].write_text(json.dumps(plain, indent=2) + "\n", encoding="utf-8")
    paths["html"].write_text(render_html(plain, figures), encoding="utf-8")
    if figures:
        import matplotlib.pyplot as plt

        for figure in figures.values():
            plt.close(figure)
    return paths
