"""Figures of images and predictions: examples per class, confusion matrix, misclassified images.

Like :mod:`assignment_utils.plots`, every function returns a closed pyplot ``Figure`` (shown once
in Jupyter, headless elsewhere) and saves a PNG when given ``path``.

>>> from assignment_utils.data import SAMPLE_PATH, load_cifar10
>>> data = load_cifar10(SAMPLE_PATH)
>>> fig = plot_examples(data.x_train, data.y_train, per_class=3)
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from assignment_utils.data import CLASS_NAMES
from assignment_utils.plots import PathLike, _finish

__all__ = ["plot_examples", "plot_confusion_matrix", "plot_misclassified"]


def _grid(rows: int, cols: int, cell: float = 1.3) -> tuple[Figure, np.ndarray]:
    fig, axes = plt.subplots(rows, cols, figsize=(cols * cell, rows * cell + 0.4),
                             squeeze=False, layout="constrained")
    plt.close(fig)
    for ax in axes.flat:
        ax.set_axis_off()
    return fig, axes


def plot_examples(images: np.ndarray, labels: np.ndarray, per_class: int = 5,
                  class_names: Sequence[str] = CLASS_NAMES, path: PathLike | None = None) -> Figure:
    """The first ``per_class`` images of every class, one row per class."""
    labels = np.asarray(labels).reshape(-1)
    if per_class < 1:
        raise ValueError(f"per_class must be >= 1, got {per_class}")
    fig, axes = _grid(len(class_names), per_class)
    for row, name in enumerate(class_names):
        index = np.flatnonzero(labels == row)[:per_class]
        if len(index) < per_class:
            raise ValueError(f"class {name!r} has {len(index)} images, fewer than per_class={per_class}")
        for col, i in enumerate(index):
            axes[row, col].imshow(images[i])
        axes[row, 0].text(-0.1, 0.5, name, transform=axes[row, 0].transAxes, ha="right",
                          va="center", fontsize=9)
    return _finish(fig, path)


def plot_confusion_matrix(confusion: pd.DataFrame, path: PathLike | None = None) -> Figure:
    """Row-normalised confusion matrix (true class rows, predicted columns) with the counts."""
    counts = confusion.to_numpy()
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(7.5, 6.5), layout="constrained")
    plt.close(fig)
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for (r, c), count in np.ndenumerate(counts):
        ax.text(c, r, str(count), ha="center", va="center", fontsize=7,
                color="white" if rates[r, c] > 0.5 else "black")
    ax.set_xticks(range(counts.shape[1]), confusion.columns, rotation=45, ha="right")
    ax.set_yticks(range(counts.shape[0]), confusion.index)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title("Confusion matrix (colour: fraction of the true class)")
    fig.colorbar(image, ax=ax, shrink=0.8)
    return _finish(fig, path)


def plot_misclassified(images: np.ndarray, labels: np.ndarray, probabilities: np.ndarray,
                       indices: Sequence[int], count: int = 24, columns: int = 8,
                       class_names: Sequence[str] = CLASS_NAMES,
                       path: PathLike | None = None) -> Figure:
    """The first ``count`` of ``indices`` (e.g. misclassified images, most confident first),
    each titled "true -> predicted (confidence)"."""
    shown = list(indices)[:count]
    if not shown:
        raise ValueError("no images to show: indices is empty")
    rows = -(-len(shown) // columns)
    fig, axes = _grid(rows, columns, cell=1.6)
    for ax, i in zip(axes.flat, shown):
        predicted = int(np.argmax(probabilities[i]))
        ax.imshow(images[i])
        ax.set_title(f"{class_names[int(labels[i])]}\n→ {class_names[predicted]} "
                     f"({probabilities[i][predicted]:.0%})", fontsize=7)
    return _finish(fig, path)
