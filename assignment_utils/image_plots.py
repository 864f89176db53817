"""Figures of images and predictions: examples per class, confusion matrix, misclassified images,
and receptive fields drawn over the input: effective (gradient) fields and theoretical boxes.

Like :mod:`assignment_utils.plots`, every function returns a closed pyplot ``Figure`` (shown once
in Jupyter, headless elsewhere) and saves it when given ``path`` (PNG, or the suffix's format).

>>> from assignment_utils.data import SAMPLE_PATH, load_cifar10
>>> data = load_cifar10(SAMPLE_PATH)
>>> fig = plot_examples(data.x_train, data.y_train, per_class=3)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from assignment_utils.plots import PathLike, finish_figure
from assignment_utils.rules import CLASS_NAMES

__all__ = ["plot_examples", "plot_confusion_matrix", "plot_misclassified",
           "plot_effective_receptive_fields", "plot_receptive_field_on_image"]


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
    return finish_figure(fig, path)


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
    return finish_figure(fig, path)


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
    return finish_figure(fig, path)


# --------------------------------------------------------------------------- receptive fields

Box = tuple[float, float, float, float]  # top, left, bottom, right; pixel centres at integers
_LEGEND = "theoretical field: dashed, solid where it covers the image; grey: zero padding"


def _pairs(row: pd.Series, *columns: str) -> list[np.ndarray]:
    """``(h, w)`` float arrays of a receptive-field table row's pair columns."""
    return [np.asarray(row[c], dtype=float) for c in columns]


def _field_box(row: pd.Series, unit: tuple[int, int]) -> Box:
    """Edges of the field of output unit ``(i, j)`` of a ``receptive_field_table`` row."""
    field, jump, start = _pairs(row, "receptive_field", "jump", "start")
    centre = start + np.asarray(unit) * jump
    (top, left), (bottom, right) = centre - field / 2, centre + field / 2
    return float(top), float(left), float(bottom), float(right)


def _show_with_field(ax: Axes, picture: np.ndarray, box: Box, name: str, **imshow: Any) -> None:
    """``picture`` with the field ``box`` on top: dashed in full (gid ``name:field``), solid
    where it covers the picture (``name:inside``). The axes span both; what lies outside the
    picture is the zero padding the convolutions see, shown grey."""
    h, w = picture.shape[:2]
    top, left, bottom, right = box
    inside = (max(top, -0.5), max(left, -0.5), min(bottom, h - 0.5), min(right, w - 0.5))
    ax.set_facecolor("0.8")
    ax.imshow(picture, **imshow)
    for (t, l, b, r), style, gid in ((box, dict(linestyle="--", linewidth=1), "field"),
                                     (inside, dict(linewidth=2), "inside")):
        ax.add_patch(Rectangle((l, t), r - l, b - t, fill=False, edgecolor="tab:cyan",
                               gid=f"{name}:{gid}", **style))
    ax.set_xlim(min(left, -0.5) - 0.5, max(right, w - 0.5) + 0.5)
    ax.set_ylim(max(bottom, h - 0.5) + 0.5, min(top, -0.5) - 0.5)  # rows grow downwards
    ax.set_xticks([])
    ax.set_yticks([])


def _mass_by_square(erf: np.ndarray, centre: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Sides of the squares centred on ``centre`` that add pixels, and the fraction of the
    map's total inside each (a pixel is inside when its centre is)."""
    rows, cols = np.indices(erf.shape)
    side = 2 * np.maximum(np.abs(rows - centre[0]), np.abs(cols - centre[1])) + 1
    sides = np.unique(side)
    return sides, np.array([erf[side <= s].sum() for s in sides]) / erf.sum()


def _table_rows(table: pd.DataFrame, layer_names: Sequence[str]) -> pd.DataFrame:
    if not layer_names:
        raise ValueError("layer_names is empty: name at least one layer of the table")
    rows = table.set_index("layer")
    missing = [name for name in layer_names if name not in rows.index]
    if missing:
        raise ValueError(f"no layer {', '.join(map(repr, missing))} in the table; its layers: "
                         f"{', '.join(rows.index)}")
    return rows.loc[list(layer_names)]


def plot_effective_receptive_fields(model: Any, layer_names: Sequence[str],
                                    images: np.ndarray | None = None, title: str | None = None,
                                    path: PathLike | None = None) -> Figure:
    """Effective receptive field of each layer (e.g. one per stage) against its theoretical one.

    Top: :func:`~assignment_utils.effective_field.effective_receptive_field` of each layer's
    centre unit (``images`` as there), with that unit's theoretical field from
    :func:`~assignment_utils.receptive_field.receptive_field_table` as a square (gid
    ``"<layer>:field"``; the grey border is padding). Bottom: the fraction of the gradient
    mass inside centred squares of growing side, one curve per layer (gid ``"<layer>:mass"``),
    a dotted line at each theoretical field; the gradient outside the field is zero, so each
    curve reaches 1 by its line. ``title`` (e.g. "trained model") heads the figure.

    >>> layers = ["sepconv2", "sepconv4", "sepconv5"]
    >>> fig = plot_effective_receptive_fields(model, layers, title="trained")  # doctest: +SKIP
    """
    from assignment_utils.effective_field import centre_unit, effective_receptive_field
    from assignment_utils.receptive_field import receptive_field_table

    rows = _table_rows(receptive_field_table(model), layer_names)
    fig = plt.figure(figsize=(max(2.8 * len(rows), 6.0), 6.5), layout="constrained")
    plt.close(fig)
    grid = fig.add_gridspec(2, len(rows), height_ratios=(1.2, 1))
    mass_ax = fig.add_subplot(grid[1, :])
    for column, (name, row) in enumerate(rows.iterrows()):
        erf = effective_receptive_field(model, name, images)
        top, left, bottom, right = _field_box(row, centre_unit(row["output_shape"]))
        ax = fig.add_subplot(grid[0, column])
        _show_with_field(ax, erf, (top, left, bottom, right), name, cmap="magma", vmin=0, vmax=1)
        sides, mass = _mass_by_square(erf, ((top + bottom) / 2, (left + right) / 2))
        (curve,) = mass_ax.plot(sides, mass, marker=".", label=name, gid=f"{name}:mass")
        field = max(bottom - top, right - left)
        mass_ax.axvline(field, color=curve.get_color(), linestyle=":", gid=f"{name}:theory")
        ax.set_title(f"{name}: field {field:g} px\nhalf the gradient within "
                     f"{sides[np.argmax(mass >= 0.5)]:g} px", fontsize=8)
    mass_ax.set_xlabel("side of a square centred on the unit's field (px); dotted: theoretical field")
    mass_ax.set_ylabel("fraction of gradient mass inside")
    mass_ax.grid(True, alpha=0.3)
    mass_ax.legend()
    fig.suptitle(f"{title}\n{_LEGEND}" if title else _LEGEND, fontsize=10 if title else 8)
    return finish_figure(fig, path)


def plot_receptive_field_on_image(table: pd.DataFrame, image: np.ndarray, layer_names: Sequence[str],
                                  pixel: tuple[float, float] | None = None,
                                  path: PathLike | None = None) -> Figure:
    """The theoretical field of one output unit of each layer, as a box on ``image``.

    ``table`` is :func:`~assignment_utils.receptive_field.receptive_field_table`'s frame of the
    model taking ``image`` (``(H, W, 3)``, uint8 or floats in [0, 1]). In each layer the unit
    is the one whose field centre is nearest ``pixel`` = ``(row, column)`` (default: the
    image centre; ``(0, 0)`` picks the corner units, whose fields hang over the padding).
    One panel per layer: the field dashed (gid ``"<layer>:field"``), its part on the image
    solid (``"<layer>:inside"``), the zero padding around the image grey.

    >>> table = receptive_field_table(model)  # doctest: +SKIP
    >>> fig = plot_receptive_field_on_image(table, image, ["sepconv3", "sepconv7"])  # doctest: +SKIP
    """
    rows = _table_rows(table, layer_names)
    size = tuple(table["output_shape"].iloc[0][:2])
    if np.shape(image)[:2] != size or np.ndim(image) != 3:
        raise ValueError(f"image must be (H, W, C) with (H, W) = {size} as in the table's input "
                         f"row, got shape {np.shape(image)}")
    pixel = np.asarray(pixel if pixel is not None else [(n - 1) / 2 for n in size], dtype=float)
    fig, axes = plt.subplots(1, len(rows), figsize=(2.8 * len(rows), 3.2), squeeze=False,
                             layout="constrained")
    plt.close(fig)
    for ax, (name, row) in zip(axes[0], rows.iterrows()):
        field, jump, start = _pairs(row, "receptive_field", "jump", "start")
        shape = row["output_shape"]
        last = np.asarray(shape[:2] if len(shape) == 3 else (1, 1)) - 1  # global pooling: 1 unit
        unit = tuple(int(u) for u in np.clip(np.floor((pixel - start) / jump + 0.5), 0, last))
        _show_with_field(ax, np.asarray(image), _field_box(row, unit), name)
        ax.set_title(f"{name}: unit {unit}\nfield {field.max():g} px", fontsize=8)
    fig.suptitle(_LEGEND, fontsize=8)
    return finish_figure(fig, path)
