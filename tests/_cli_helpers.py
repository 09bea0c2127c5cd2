"""Helpers of the CLI and report tests: a tiny CSV data set, the report page's parts."""

from __future__ import annotations

import csv
from html.parser import HTMLParser

import numpy as np


def write_csv(path, *, regression=False, n=120, seed=0):
    """Three numeric features and a `label` column (3 classes) or a `price` target."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    if regression:
        target, values = "price", x @ np.array([1.5, -2.0, 0.5]) + 0.1 * rng.normal(size=n)
    else:
        target, values = "label", np.argmax(x, axis=1)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["a", "b", "c", target])
        for row, value in zip(x, values):
            writer.writerow([*(f"{v:.5f}" for v in row), value])
    return str(path)


class _Page(HTMLParser):
    """Collects the embedded images (alt -> src) and the section ids (in order) of report.html."""

    def __init__(self):
        super().__init__()
        self.images, self.sections, self.order, self.text = {}, set(), [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images[attrs.get("alt")] = attrs.get("src", "")
        if tag == "section":
            self.sections.add(attrs.get("id"))
            self.order.append(attrs.get("id"))

    def handle_data(self, data):
        self.text.append(data)


def read_page(path):
    page = _Page()
    page.feed(path.read_text())
    return page
