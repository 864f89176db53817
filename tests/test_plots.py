"""Tests for assignment_utils.plots: inspect the artists of the returned figures."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from assignment_utils.plots import (
    plot_receptive_field,
    plot_runs,
    plot_train_vs_val,
    plot_validation_accuracy,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def history(val_acc, val_loss=None, acc=None, loss=None) -> pd.DataFrame:
    """A history frame with epochs 1..N; unspecified columns get simple fillers."""
    val_acc = np.asarray(val_acc, dtype=float)
    n = len(val_acc)
    return pd.DataFrame({
        "epoch": np.arange(1, n + 1),
        "loss": np.linspace(2.0, 0.5, n) if loss is None else loss,
        "acc": np.minimum(val_acc + 0.05, 1.0) if acc is None else acc,
        "val_loss": np.linspace(2.1, 0.7, n) if val_loss is None else val_loss,
        "val_acc": val_acc,
    })


def fifty_epochs(best_epoch: int, best: float, last: float) -> pd.DataFrame:
    """50 epochs rising to 0.8, with ``best`` at ``best_epoch`` and ``last`` at epoch 50."""
    val_acc = np.linspace(0.4, 0.8, 50)
    val_acc[best_epoch - 1] = best
    val_acc[-1] = last
    return history(val_acc)


def by_gid(ax, gid: str):
    """The Line2D and the annotation text carrying ``gid`` on ``ax``."""
    (line,) = [line for line in ax.get_lines() if line.get_gid() == gid]
    (text,) = [text for text in ax.texts if text.get_gid() == gid]
    return line, text


def legend_texts(ax) -> list[str]:
    return [text.get_text() for text in ax.get_legend().get_texts()]


@pytest.fixture
def runs() -> dict[str, pd.DataFrame]:
    return {"mine": fifty_epochs(43, 0.836, 0.826), "base": fifty_epochs(45, 0.8287, 0.8202)}


def test_plot_runs_draws_one_curve_per_run_and_the_target(runs):
    fig = plot_runs(runs)
    assert isinstance(fig, Figure)
    acc_ax, loss_ax = fig.axes

    curves = [line for line in acc_ax.get_lines() if not line.get_label().startswith("_")]
    assert [line.get_label() for line in curves] == ["mine", "base", "base best 82.8%"]
    for line, frame in zip(curves, runs.values()):
        np.testing.assert_array_equal(line.get_xdata(), frame["epoch"])
        np.testing.assert_array_equal(line.get_ydata(), frame["val_acc"])
    target = curves[-1]
    assert target.get_gid() == "target"
    assert list(target.get_ydata()) == [0.828, 0.828]
    # 2 runs x (curve, best, last) + the target line
    assert len(acc_ax.get_lines()) == 7
    assert legend_texts(acc_ax) == ["mine", "base", "base best 82.8%"]

    assert len(loss_ax.get_lines()) == 2
    for line, (name, frame) in zip(loss_ax.get_lines(), runs.items()):
        assert line.get_label() == name
        np.testing.assert_array_equal(line.get_ydata(), frame["val_loss"])
    assert legend_texts(loss_ax) == ["mine", "base"]

    assert (acc_ax.get_title(), acc_ax.get_xlabel(), acc_ax.get_ylabel()) == (
        "Validation accuracy", "epoch", "validation accuracy")
    assert (loss_ax.get_title(), loss_ax.get_xlabel(), loss_ax.get_ylabel()) == (
        "Validation loss", "epoch", "validation loss")
    assert isinstance(acc_ax.yaxis.get_major_formatter(), PercentFormatter)
    assert acc_ax.yaxis.get_major_formatter().xmax == 1  # values are fractions


def test_plot_runs_marks_best_and_last_epoch_of_each_run(runs):
    acc_ax = plot_runs(runs).axes[0]
    for name, best_epoch, best, last, best_text, last_text in (
        ("mine", 43, 0.836, 0.826, "best 83.6% @ 43", "epoch 50: 82.6%"),
        ("base", 45, 0.8287, 0.8202, "best 82.9% @ 45", "epoch 50: 82.0%"),
    ):
        curve = next(line for line in acc_ax.get_lines() if line.get_label() == name)
        for gid, epoch, value, text in ((f"{name}:best", best_epoch, best, best_text),
                                        (f"{name}:last", 50, last, last_text)):
            marker, annotation = by_gid(acc_ax, gid)
            assert list(marker.get_xdata()) == [epoch]
            assert list(marker.get_ydata()) == [value]
            assert marker.get_linestyle() == "None"
            assert marker.get_color() == curve.get_color()
            assert annotation.get_text() == text
            assert annotation.xy == (epoch, value)
    assert len(acc_ax.texts) == 4


def test_plot_runs_of_the_seed_baselines():
    from assignment_utils.baselines import load_baseline

    acc_ax = plot_runs({name: load_baseline(name) for name in ("base", "reference")}).axes[0]
    assert [text.get_text() for text in acc_ax.texts] == [
        "best 82.9% @ 47", "epoch 50: 82.0%", "best 83.6% @ 43", "epoch 50: 82.6%"]


def test_plot_runs_accepts_dicts_custom_target_and_no_target():
    run = {"val_acc": [0.5, 0.7, 0.6], "val_loss": [1.0, 0.8, 0.9]}
    acc_ax = plot_runs({"dict run": run}, target=0.65, target_label="goal").axes[0]
    assert legend_texts(acc_ax) == ["dict run", "goal 65.0%"]
    marker, annotation = by_gid(acc_ax, "dict run:best")
    assert (list(marker.get_xdata()), annotation.get_text()) == ([2], "best 70.0% @ 2")

    acc_ax = plot_runs({"dict run": run}, target=None).axes[0]
    assert [line.get_gid() for line in acc_ax.get_lines()] == [
        None, "dict run:best", "dict run:last"]


def test_figures_do_not_stay_open_in_pyplot(runs):
    before = plt.get_fignums()
    plot_runs(runs)
    plot_train_vs_val(runs["mine"])
    assert plt.get_fignums() == before


@pytest.mark.parametrize("plot", [
    lambda path: plot_runs({"a": history([0.5, 0.6])}, path=path),
    lambda path: plot_train_vs_val(history([0.5, 0.6]), path=path),
    lambda path: plot_receptive_field(pd.DataFrame({
        "layer": ["c"], "output_shape": [(30, 30, 8)], "receptive_field": [(3, 3)]}), path=path),
], ids=["runs", "train_vs_val", "receptive_field"])
def test_path_writes_a_png(tmp_path, plot):
    path = tmp_path / "figure.png"
    assert isinstance(plot(path), Figure)
    assert path.read_bytes()[:8] == PNG_MAGIC


@pytest.mark.parametrize(("name", "start"), [("figure", PNG_MAGIC), ("figure.svg", b"<?xml"),
                                             ("figure.pdf", b"%PDF")])
def test_the_suffix_names_the_format_png_without_one(tmp_path, name, start):
    plot_runs({"a": history([0.5, 0.6])}, path=tmp_path / name)
    assert (tmp_path / name).read_bytes().startswith(start)  # at that path, nothing appended
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_a_suffix_matplotlib_cannot_write_is_refused_naming_the_formats(tmp_path):
    # grade --plot wrote PNG bytes to curves.xyz before (found by a property test)
    with pytest.raises(ValueError, match=r"Format 'xyz' is not supported.*png"):
        plot_runs({"a": history([0.5, 0.6])}, path=tmp_path / "curves.xyz")
    assert not (tmp_path / "curves.xyz").exists()


def test_plot_runs_rejects_empty_mapping_and_bad_target():
    with pytest.raises(ValueError, match="runs is empty"):
        plot_runs({})
    with pytest.raises(ValueError, match="target"):
        plot_runs({"a": history([0.5])}, target=82.8)


def test_plot_runs_names_the_run_without_val_acc():
    no_val = history([0.5, 0.6]).drop(columns=["val_acc"])
    with pytest.raises(ValueError, match=r"run 'broken' has no val_acc"):
        plot_runs({"fine": history([0.5, 0.6]), "broken": no_val})


def test_plot_runs_names_the_run_it_cannot_read():
    with pytest.raises(TypeError, match=r"^run 'odd': expected a DataFrame"):
        plot_runs({"odd": 42})


def test_plot_validation_accuracy_many_runs_against_baselines(runs):
    class_runs = {f"student{i}.ipynb": history([0.3 + 0.1 * i, 0.5 + 0.1 * i]) for i in range(3)}
    fig = plot_validation_accuracy(class_runs, {"base": runs["base"]})
    (ax,) = fig.axes
    lines = {line.get_gid(): line for line in ax.get_lines()}
    assert list(lines) == ["baseline:base", "run:student0.ipynb", "run:student1.ipynb",
                           "run:student2.ipynb", "target"]
    np.testing.assert_array_equal(lines["run:student2.ipynb"].get_ydata(), [0.5, 0.7])
    assert lines["baseline:base"].get_linestyle() == "--" and len(lines["baseline:base"].get_xdata()) == 50
    assert list(lines["target"].get_ydata()) == [0.828, 0.828]
    assert legend_texts(ax)[-1] == "base best 82.8%" and not ax.texts  # no per-run annotations
    with pytest.raises(ValueError, match="runs is empty"):
        plot_validation_accuracy({})
    with pytest.raises(ValueError, match="run 'x' has no val_acc"):
        plot_validation_accuracy({"x": {"loss": [1.0, 0.5]}})


def test_plot_train_vs_val_shows_both_curves_and_the_gap():
    frame = history([0.5, 0.6, 0.7], acc=[0.55, 0.75, 0.8], loss=[1.5, 0.9, 0.6],
                    val_loss=[1.6, 1.1, 1.0])
    fig = plot_train_vs_val(frame, title="mine")
    acc_ax, loss_ax = fig.axes
    assert fig.get_suptitle() == "mine"
    for ax, train, val in ((acc_ax, "acc", "val_acc"), (loss_ax, "loss", "val_loss")):
        assert [line.get_label() for line in ax.get_lines()] == ["training", "validation"]
        np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(), frame[train])
        np.testing.assert_array_equal(ax.get_lines()[1].get_ydata(), frame[val])
        np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), [1, 2, 3])
        assert ax.get_xlabel() == "epoch"
    assert legend_texts(acc_ax) == ["training", "validation", "gap at epoch 3: 10.0 pts"]
    assert legend_texts(loss_ax) == ["training", "validation"]
    assert (acc_ax.get_ylabel(), loss_ax.get_ylabel()) == ("accuracy", "loss")
    assert isinstance(acc_ax.yaxis.get_major_formatter(), PercentFormatter)
    assert len(acc_ax.collections) == 1  # the shaded gap


def test_plot_train_vs_val_requires_training_metrics():
    with pytest.raises(ValueError, match=r"run 'mine' has no acc"):
        plot_train_vs_val(history([0.5]).drop(columns=["acc"]), title="mine")


@pytest.fixture
def table() -> pd.DataFrame:
    """A receptive-field table with an input row, a non-square layer and non-spatial rows."""
    return pd.DataFrame({
        "layer": ["input", "sep1", "sep2", "pool", "gap", "logits"],
        "type": ["InputLayer", "SeparableConv2D", "SeparableConv2D", "MaxPooling2D",
                 "GlobalAveragePooling2D", "SeparableConv2D"],
        "output_shape": [(32, 32, 3), (30, 30, 16), (28, 26, 16), (14, 13, 16), (16,), (10,)],
        "receptive_field": [(1, 1), (3, 3), (5, 7), (6, 8), (32, 32), (32, 32)],
    })


def test_plot_receptive_field_plots_largest_sides_and_gaps(table):
    fig = plot_receptive_field(table)
    (ax,) = fig.axes
    field, size, image = ax.get_lines()
    assert field.get_label() == "receptive field"
    np.testing.assert_array_equal(field.get_ydata(), [1, 3, 7, 8, math.nan, math.nan])
    assert size.get_label() == "output size"
    np.testing.assert_array_equal(size.get_ydata(), [32, 30, 28, 14, math.nan, math.nan])
    np.testing.assert_array_equal(field.get_xdata(), range(6))
    assert [label.get_text() for label in ax.get_xticklabels()] == list(table["layer"])
    assert all(label.get_rotation() == 90 for label in ax.get_xticklabels())
    assert (image.get_gid(), list(image.get_ydata())) == ("image", [32, 32])
    assert legend_texts(ax) == ["receptive field", "output size", "image 32 px"]
    assert [(text.get_text(), text.xy) for text in ax.texts] == [("8 px", (3, 8))]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("layer", "pixels")


def test_plot_receptive_field_image_size_argument_and_no_input_row(table):
    ax = plot_receptive_field(table, image_size=64).axes[0]
    assert legend_texts(ax)[-1] == "image 64 px"
    ax = plot_receptive_field(table.iloc[1:]).axes[0]
    assert [line.get_gid() for line in ax.get_lines()] == [None, None]


def test_plot_receptive_field_rejects_other_frames():
    with pytest.raises(ValueError, match="receptive_field_table"):
        plot_receptive_field(history([0.5]))
    with pytest.raises(ValueError, match="no rows"):
        plot_receptive_field(pd.DataFrame(columns=["layer", "output_shape", "receptive_field"]))


def test_plot_receptive_field_of_a_real_table():
    keras = pytest.importorskip("keras")
    from assignment_utils.receptive_field import receptive_field_table

    model = keras.Sequential([
        keras.Input((32, 32, 3)),
        keras.layers.SeparableConv2D(4, 3),
        keras.layers.SeparableConv2D(4, 3, strides=2),
        keras.layers.GlobalAveragePooling2D(),
    ])
    table = receptive_field_table(model)
    ax = plot_receptive_field(table, image_size=32).axes[0]
    field = ax.get_lines()[0]
    assert len(field.get_ydata()) == len(table)
    assert max(y for y in field.get_ydata() if not math.isnan(y)) == 5
