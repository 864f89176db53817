"""Figures for the assignment: compare runs, train-vs-validation curves, receptive-field growth.

Every function returns a :class:`matplotlib.figure.Figure` and, given ``path``, also saves
it, as a PNG or in the format the path's suffix names (``.svg``, ``.pdf``: matplotlib's). Figures are made with pyplot and closed at once: nothing piles up in pyplot's
state, the code runs headless (pyplot falls back to Agg without a display), and in Jupyter
the returned figure is displayed exactly once when it is the cell's last expression.

>>> from assignment_utils.baselines import load_baseline
>>> fig = plot_runs({"base": load_baseline("base"), "reference": load_baseline("reference")})
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from assignment_utils.logs import as_history_frame
from assignment_utils.rules import BASE_ACCURACY
from assignment_utils.summaries import summarize_run

__all__ = ["plot_runs", "plot_validation_accuracy", "plot_train_vs_val", "plot_learning_rate",
           "plot_receptive_field"]

PathLike = str | os.PathLike[str]


def plot_runs(
    runs: Mapping[str, Any],
    target: float | None = BASE_ACCURACY,
    target_label: str = "base best",
    path: PathLike | None = None,
    zoom: float | None = 0.15,
    loss_note: str | None = None,
) -> Figure:
    """Validation accuracy (left) and validation loss (right) of several runs by epoch.

    ``runs`` maps a run's name to anything :func:`~assignment_utils.logs.as_history_frame`
    accepts (history frame, Keras ``History``, dict of lists, CSVLogger path, log text).
    Each accuracy curve gets a star at its best epoch ("best 83.6% @ 43") and a dot at its
    last epoch ("epoch 50: 82.6%"); ``target`` draws a dashed line labelled
    ``f"{target_label} {target:.1%}"`` (``None``: no line). ``zoom`` shows accuracy from that
    far below the target (or below the lowest final accuracy, if lower) up to the best with room
    for the labels, where the target is decided; ``None`` shows the whole curves.
    ``loss_note`` is written under the loss panel's title, e.g. to say that runs trained with
    label smoothing have a higher loss by construction, so losses compare only like for like.

    >>> fig = plot_runs({"mine": {"val_acc": [0.5, 0.9], "val_loss": [1.2, 0.4]}}, target=0.8)
    """
    if not runs:
        raise ValueError("runs is empty: pass at least one {name: history} entry")
    if target is not None and not 0 < target < 1:
        raise ValueError(f"target must be a fraction in (0, 1) or None, got {target!r}")
    frames = {name: _history(name, run, ("val_acc", "val_loss")) for name, run in runs.items()}

    fig, (acc_ax, loss_ax) = _subplots(2, None)
    for row, (name, frame) in enumerate(frames.items()):
        (curve,) = acc_ax.plot(frame["epoch"], frame["val_acc"], label=name)
        loss_ax.plot(frame["epoch"], frame["val_loss"], label=name, color=curve.get_color())
        _mark_best_and_last(acc_ax, name, frame, curve.get_color(), row)
    if zoom is not None:
        summaries = [summarize_run(frame) for frame in frames.values()]
        low = min(s.final_val_acc for s in summaries) - 0.03
        if target is not None:
            low = min(low, target - zoom)
        high = max(s.best_val_acc for s in summaries)
        acc_ax.set_ylim(max(low - 0.1 * len(frames) * (high - low), 0.0), min(high + 0.02, 1.0))
    if target is not None:
        acc_ax.axhline(target, color="0.4", linestyle="--", linewidth=1,
                       label=f"{target_label} {target:.1%}", gid="target")

    _style(acc_ax, "Validation accuracy", "validation accuracy", percent=True, legend="upper left")
    _style(loss_ax, "Validation loss" + (f"\n{loss_note}" if loss_note else ""), "validation loss")
    return finish_figure(fig, path)


def plot_learning_rate(run: Any, path: PathLike | None = None) -> Figure:
    """The learning rate at the end of each epoch (the ``learning_rate`` column that
    :func:`~assignment_utils.training.train` logs), on a log scale.

    >>> fig = plot_learning_rate({"loss": [1.0, 0.5], "learning_rate": [0.2, 0.01]})
    """
    frame = _history("run", run, ("learning_rate",))
    fig, (ax,) = _subplots(1, None, width=6.0)
    ax.plot(frame["epoch"], frame["learning_rate"], marker=".", label="learning rate")
    ax.set_yscale("log")
    _style(ax, "Learning rate by epoch", "learning rate (end of epoch)")
    return finish_figure(fig, path)


def plot_validation_accuracy(
    runs: Mapping[str, Any],
    baselines: Mapping[str, Any] | None = None,
    target: float | None = BASE_ACCURACY,
    target_label: str = "base best",
    path: PathLike | None = None,
) -> Figure:
    """Validation accuracy by epoch of many runs (thin lines) against baselines (thick, dashed).

    Made for a class of submissions, where :func:`plot_runs` would be crowded: no per-run
    annotations, one legend entry per run beside the axes. ``runs`` and ``baselines`` map
    names to anything :func:`~assignment_utils.logs.as_history_frame` accepts; ``target``
    draws the dashed line as in :func:`plot_runs`.

    >>> from assignment_utils.baselines import load_baseline
    >>> fig = plot_validation_accuracy({"alice": {"val_acc": [0.6, 0.85]}},
    ...                                {"base": load_baseline("base")})
    """
    if not runs:
        raise ValueError("runs is empty: pass at least one {name: history} entry")
    baselines = baselines or {}
    frames = {name: _history(name, run, ("val_acc",)) for name, run in runs.items()}
    references = {name: _history(name, run, ("val_acc",)) for name, run in baselines.items()}

    fig, (ax,) = _subplots(1, None, width=9.0)
    for name, frame in references.items():
        ax.plot(frame["epoch"], frame["val_acc"], linestyle="--", linewidth=2.5, alpha=0.6,
                label=name, gid=f"baseline:{name}")
    for name, frame in frames.items():
        ax.plot(frame["epoch"], frame["val_acc"], linewidth=1, label=name, gid=f"run:{name}",
                marker="." if len(frame) < 10 else None)
    if target is not None:
        ax.axhline(target, color="0.4", linestyle=":", linewidth=1,
                   label=f"{target_label} {target:.1%}", gid="target")
    _style(ax, "Validation accuracy", "validation accuracy", percent=True)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    return finish_figure(fig, path)


def plot_train_vs_val(run: Any, title: str | None = None, path: PathLike | None = None) -> Figure:
    """Training vs validation accuracy (left) and loss (right) of one run.

    The band between the accuracy curves is the generalisation gap; its value at the last
    epoch is in the legend ("gap at epoch 50: 5.3 pts"). A growing gap means overfitting.

    >>> fig = plot_train_vs_val({"acc": [0.5, 0.95], "val_acc": [0.5, 0.8],
    ...                          "loss": [1.4, 0.2], "val_loss": [1.4, 0.7]}, title="mine")
    """
    frame = _history(title or "run", run, ("acc", "val_acc", "loss", "val_loss"))
    epoch = frame["epoch"]

    fig, (acc_ax, loss_ax) = _subplots(2, title)
    acc_ax.plot(epoch, frame["acc"], label="training")
    acc_ax.plot(epoch, frame["val_acc"], label="validation")
    last = frame.iloc[-1]
    acc_ax.fill_between(epoch, frame["acc"], frame["val_acc"], alpha=0.15, color="0.5",
                        label=f"gap at epoch {int(last['epoch'])}: "
                              f"{100 * (last['acc'] - last['val_acc']):.1f} pts")
    loss_ax.plot(epoch, frame["loss"], label="training")
    loss_ax.plot(epoch, frame["val_loss"], label="validation")

    _style(acc_ax, "Accuracy", "accuracy", percent=True)
    _style(loss_ax, "Loss", "loss")
    return finish_figure(fig, path)


def plot_receptive_field(
    table: pd.DataFrame, image_size: int | None = None, path: PathLike | None = None
) -> Figure:
    """Receptive field and output size (both in pixels) of every layer, in order.

    ``table`` is :func:`~assignment_utils.receptive_field.receptive_field_table`'s frame.
    Non-square values are plotted as their larger side; rows without a spatial output
    (after ``Flatten``/global pooling) leave a gap. ``image_size`` draws a dotted line
    "image 32 px"; ``None`` takes it from the table's ``InputLayer`` row, if any.

    >>> from assignment_utils.receptive_field import receptive_field_table
    >>> fig = plot_receptive_field(receptive_field_table(model), image_size=32)  # doctest: +SKIP
    """
    missing = {"layer", "output_shape", "receptive_field"} - set(table.columns)
    if missing:
        raise ValueError(f"table lacks column(s) {sorted(missing)}; "
                         "pass the frame returned by receptive_field_table(model)")
    if table.empty:
        raise ValueError("table has no rows")
    spatial = [_spatial(shape) for shape in table["output_shape"]]
    fields = [int(max(value)) if size is not None else None
              for value, size in zip(table["receptive_field"], spatial)]
    if image_size is None and "type" in table.columns:
        inputs = [size for kind, size in zip(table["type"], spatial) if kind == "InputLayer"]
        image_size = inputs[0] if inputs else None

    fig, (ax,) = _subplots(1, "Receptive field by layer", width=max(6.0, 0.35 * len(table)))
    x = range(len(table))
    ax.plot(x, _nan(fields), marker="o", label="receptive field")
    ax.plot(x, _nan(spatial), marker="s", linestyle="--", label="output size")
    if image_size is not None:
        ax.axhline(image_size, color="0.4", linestyle=":", linewidth=1,
                   label=f"image {image_size} px", gid="image")
    known = [(i, value) for i, value in enumerate(fields) if value is not None]
    if known:
        i, value = known[-1]
        ax.annotate(f"{value} px", (i, value), textcoords="offset points", xytext=(0, 6),
                    ha="center", gid="final_receptive_field")
    ax.margins(y=0.12)  # room for the final label
    ax.set_xticks(list(x), [str(name) for name in table["layer"]], rotation=90)
    ax.set_xlabel("layer")
    ax.set_ylabel("pixels")
    ax.grid(True, alpha=0.3)
    ax.legend()
    return finish_figure(fig, path)


def _history(name: str, run: Any, columns: Iterable[str]) -> pd.DataFrame:
    """``as_history_frame(run)``; errors name the run (unreadable, or lacking ``columns``)."""
    try:
        frame = as_history_frame(run)
    except (TypeError, ValueError) as error:
        raise type(error)(f"run {name!r}: {error}") from error
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"run {name!r} has no {', '.join(missing)} column(s); "
                         f"it has {', '.join(map(str, frame.columns))}")
    return frame


def _mark_best_and_last(ax: Axes, name: str, frame: pd.DataFrame, color: str, row: int) -> None:
    """Star + "best 83.6% @ 43" at the best epoch, dot + "epoch 50: 82.6%" at the last.

    The labels are stacked in the lower right corner of the axes, the ``row``-th run's above
    the ones before it, each with a thin line to its point: they never sit on a curve or
    leave the axes however close the runs are.
    """
    summary = summarize_run(frame)
    for kind, epoch, value, text, marker, height in (
        ("best", summary.best_epoch, summary.best_val_acc,
         f"best {summary.best_val_acc:.1%} @ {summary.best_epoch}", "*", 0.085 + 0.1 * row),
        ("last", summary.final_epoch, summary.final_val_acc,
         f"epoch {summary.final_epoch}: {summary.final_val_acc:.1%}", "o", 0.04 + 0.1 * row),
    ):
        ax.plot([epoch], [value], marker=marker, markersize=10 if marker == "*" else 6,
                linestyle="none", color=color, label=f"_{kind}", gid=f"{name}:{kind}")
        ax.annotate(text, (epoch, value), xytext=(0.98, height), textcoords="axes fraction",
                    ha="right", va="center", fontsize=8, color=color, gid=f"{name}:{kind}",
                    arrowprops={"arrowstyle": "-", "color": color, "linewidth": 0.5, "alpha": 0.5})


def _subplots(ncols: int, title: str | None, width: float | None = None) -> tuple[Figure, Any]:
    fig, axes = plt.subplots(1, ncols, figsize=(width or 6.0 * ncols, 4.5),
                             squeeze=False, layout="constrained")
    plt.close(fig)  # keep pyplot's state empty; the caller owns the figure
    if title:
        fig.suptitle(title)
    return fig, axes[0]


def _style(ax: Axes, title: str, ylabel: str, percent: bool = False, legend: str = "best") -> None:
    ax.set_title(title)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if percent:
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1))
    ax.grid(True, alpha=0.3)
    ax.legend(loc=legend)


def finish_figure(fig: Figure, path: PathLike | None) -> Figure:
    """``fig``, saved at ``path`` first when one is given (every figure function ends here): in
    the format its suffix names, PNG without one; a suffix matplotlib cannot write is its
    ValueError, which lists the formats it can."""
    if path is not None:
        fig.savefig(path, format=None if Path(path).suffix else "png", dpi=120)
    return fig


def _spatial(shape: Any) -> int | None:
    """Larger spatial side of an ``(H, W, C)`` output shape; ``None`` for ``(C,)``."""
    return int(max(shape[:-1])) if len(shape) >= 3 else None


def _nan(values: list[int | None]) -> list[float]:
    return [math.nan if value is None else float(value) for value in values]
