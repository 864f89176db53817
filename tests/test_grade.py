"""Tests for assignment_utils.grade on rendered notebooks.

Fixtures in tests/data/notebooks/: ``keras3_*``, ``two_trainings``, ``no_summary`` and
``truncated`` were executed by nbclient (regenerate with ``make_notebooks.py`` there); their
last cell prints Keras's own ``history.history``, the ground truth here. ``nbformat3_keras2``
and ``colab_keras3`` are hand-made around the reference log and a real Keras 3 capture. Which
run and which model are graded, on notebooks that also train the base network, is tested in
test_grade_runs.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from assignment_utils.grade import COLUMNS, _Cell, _layer_types, _read_cells, find_notebooks, \
    grade, grade_notebook, main
from assignment_utils.logs import parse_keras_log
from assignment_utils.summaries import summarize_run

NOTEBOOKS = Path(__file__).parent / "data" / "notebooks"
LOGS = Path(__file__).parent / "data" / "logs"
REPO = Path(__file__).resolve().parents[1]


def keras_history(name: str) -> dict:
    """The ``history.history`` a fixture printed in its last cell (read with nbformat)."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    return json.loads(nb.cells[-1].outputs[0]["text"])


def fit_notebook(tmp_path: Path, *logs: str, name: str = "nb.ipynb") -> Path:
    """A notebook with one code cell per log text, each printed as one stdout stream."""
    nb = new_notebook(cells=[new_code_cell("model.fit(...)", outputs=[
        new_output("stream", name="stdout", text=log)]) for log in logs])
    path = tmp_path / name
    nbformat.write(nb, path)
    return path


def keras2_log(epochs: int, total: int, val: list[float], first: int = 1) -> str:
    return "".join(f"Epoch {e}/{total}\n390/390 [===] - 9s - loss: 0.5 - acc: 0.8 - val_loss: 0.6 "
                   f"- val_acc: {v}\n" for e, v in zip(range(first, first + epochs), val))


# --------------------------------------------------------------------------- executed fixtures


@pytest.mark.parametrize("name, params", [
    ("keras3_verbose1.ipynb", 325), ("keras3_verbose2.ipynb", 314), ("two_trainings.ipynb", 469),
])
def test_executed_notebooks_match_keras_history(name, params):
    row = grade_notebook(NOTEBOOKS / name)
    val = keras_history(name)["val_accuracy"]
    assert list(row) == COLUMNS and row["notebook"] == str(NOTEBOOKS / name)
    assert row["epochs"] == len(val) == 3
    assert row["best_val_acc"] == pytest.approx(max(val), abs=5e-5)  # the log rounds to 4 digits
    assert row["best_epoch"] == val.index(max(val)) + 1
    assert row["final_val_acc"] == pytest.approx(val[-1], abs=5e-5)
    assert row["params"] == params and row["beats_base"] is False
    assert "trained 3 epochs, the assignment asks for 50" in row["problems"]


def test_verbose1_layer_types_and_clean_problems():
    row = grade_notebook(NOTEBOOKS / "keras3_verbose1.ipynb")
    assert row["layer_types"] == ("Activation, BatchNormalization, Dropout, GlobalAveragePooling2D, "
                                  "MaxPooling2D, SeparableConv2D")
    assert row["separable_only"] is True
    assert row["problems"] == "trained 3 epochs, the assignment asks for 50"


def test_conv2d_and_dense_are_not_separable_only():
    row = grade_notebook(NOTEBOOKS / "keras3_verbose2.ipynb")
    assert row["layer_types"] == "Conv2D, Dense, GlobalAveragePooling2D"
    assert row["separable_only"] is False


def test_two_trainings_grades_the_last_and_says_so():
    row = grade_notebook(NOTEBOOKS / "two_trainings.ipynb")
    assert row["problems"].split(" | ") == [
        "2 training runs in the outputs: graded run 2 (cell 6), the last of the student's own "
        "model; the other 1 not graded", "trained 3 epochs, the assignment asks for 50"]
    assert row["params"] == 469  # the second model's summary (469), not the first one's (325)


def test_notebook_without_summary_has_no_params():
    row = grade_notebook(NOTEBOOKS / "no_summary.ipynb")
    assert row["params"] is None
    assert "no 'Total params' line (printed model.summary()) in the outputs" in row["problems"]
    assert row["final_val_acc"] == pytest.approx(keras_history("no_summary.ipynb")["val_accuracy"][-1],
                                                 abs=5e-5)


def test_output_cut_mid_epoch_drops_the_unfinished_epoch():
    """truncated.ipynb was interrupted while epoch 3 validated: its output ends with epoch 3's
    provisional '10/10 ... loss: 2.2087' line, without validation metrics."""
    cell = nbformat.read(NOTEBOOKS / "truncated.ipynb", as_version=4).cells[-1]
    raw = "".join(output.get("text", "") for output in cell.outputs)
    assert raw.rstrip().endswith("loss: 2.2087") and "Epoch 3/3" in raw
    row = grade_notebook(NOTEBOOKS / "truncated.ipynb")
    assert (row["epochs"], row["best_epoch"]) == (2, 1)
    assert row["final_val_acc"] == pytest.approx(0.12)
    assert ("interrupted in epoch 3 of 3 (the cell raised KeyboardInterrupt): graded its 2 "
            "completed epochs") in row["problems"]


# --------------------------------------------------------------------------- hand-made fixtures


def test_nbformat3_keras2_reference_submission():
    row = grade_notebook(NOTEBOOKS / "nbformat3_keras2.ipynb")
    assert row == {
        "notebook": str(NOTEBOOKS / "nbformat3_keras2.ipynb"), "epochs": 50, "best_val_acc": 0.836,
        "best_epoch": 43, "final_val_acc": 0.8263, "params": 94_911,
        "layer_types": ("Activation, BatchNormalization, Dropout, GlobalAveragePooling2D, "
                        "MaxPooling2D, SeparableConv2D"),  # 'Dense(10)' is only in a comment
        "separable_only": True, "beats_base": True, "problems": ""}


def test_colab_notebook_split_streams_html_summary_and_early_stopping():
    """The real Keras 3 capture (\\r, \\b, ANSI, callback messages, EarlyStopping at epoch 6 of 8)
    cut into 1,500-character stdout outputs reads as the capture file itself does."""
    row = grade_notebook(NOTEBOOKS / "colab_keras3.ipynb")
    expected = summarize_run(parse_keras_log((LOGS / "keras3_verbose1.txt").read_bytes().decode()))
    assert (row["epochs"], row["best_val_acc"], row["best_epoch"], row["final_val_acc"]) == (
        expected.epochs, expected.best_val_acc, expected.best_epoch, expected.final_val_acc)
    assert row["epochs"] == 6
    assert row["params"] == 85_653  # its 'Total params' output has text/html only
    assert "ReLU" in row["layer_types"] and "SeparableConv2D" in row["layer_types"]  # L.X(
    assert row["problems"] == "trained 6 epochs, the assignment asks for 50"  # finished early


def test_nbformat3_cells_are_read():
    cells = _read_cells(NOTEBOOKS / "nbformat3_keras2.ipynb")
    assert [c.number for c in cells] == [2, 3]
    assert cells[0].source.startswith("from keras.models import Sequential")
    assert "<keras.callbacks.History at" in cells[1].text  # the pyout output


# --------------------------------------------------------------------------- runs and rules


def test_a_later_interrupted_run_is_graded_over_an_earlier_finished_one(tmp_path):
    """The last finished run was graded, so a student's interrupted run lost to an earlier one."""
    path = fit_notebook(tmp_path, keras2_log(2, 2, [0.5, 0.6]), keras2_log(1, 2, [0.9]))
    row = grade_notebook(path)
    assert (row["epochs"], row["final_val_acc"]) == (1, 0.9)
    assert ("2 training runs in the outputs: graded run 2 (cell 2), the last of the student's "
            "own model; the other 1 not graded") in row["problems"]
    assert ("interrupted after epoch 1 of 2 (the output ends there): graded its 1 completed "
            "epoch") in row["problems"]


def test_without_a_finished_run_the_last_is_graded(tmp_path):
    path = fit_notebook(tmp_path, keras2_log(3, 5, [0.5, 0.6, 0.7]), keras2_log(2, 5, [0.8, 0.85]))
    row = grade_notebook(path)
    assert (row["epochs"], row["best_val_acc"]) == (2, 0.85)
    assert "graded run 2 (cell 2), the last of the student's own model" in row["problems"]
    assert "interrupted after epoch 2 of 5 (the output ends there)" in row["problems"]


def test_resumed_run_across_cells_is_one_run(tmp_path):
    path = fit_notebook(tmp_path, keras2_log(2, 4, [0.5, 0.6]), keras2_log(2, 4, [0.7, 0.8], first=3))
    row = grade_notebook(path)
    assert (row["epochs"], row["final_val_acc"]) == (4, 0.8)
    assert "training runs" not in row["problems"] and "stops" not in row["problems"]


def test_log_split_mid_line_across_outputs(tmp_path):
    log = keras2_log(2, 2, [0.5, 0.83])
    nb = new_notebook(cells=[new_code_cell("fit", outputs=[
        new_output("stream", name="stdout", text=log[:70]),
        new_output("stream", name="stderr", text="WARNING: noise on stderr\n"),
        new_output("stream", name="stdout", text=log[70:])])])
    nbformat.write(nb, tmp_path / "split.ipynb")
    row = grade_notebook(tmp_path / "split.ipynb")
    assert (row["epochs"], row["best_val_acc"], row["beats_base"]) == (2, 0.83, True)


@pytest.mark.parametrize("best, beats", [(0.828, False), (0.8287, True), (0.82, False)])
def test_beats_base_is_strict(tmp_path, best, beats):
    row = grade_notebook(fit_notebook(tmp_path, keras2_log(2, 2, [0.5, best])))
    assert row["beats_base"] is beats


def test_rules_and_missing_parts_are_problems(tmp_path):
    log = keras2_log(1, 1, [0.5]) + "Total params: 120,330\n"
    row = grade_notebook(fit_notebook(tmp_path, log))
    assert row["params"] == 120_330 and row["layer_types"] is None and row["separable_only"] is None
    assert row["problems"].split(" | ") == [
        "trained 1 epoch, the assignment asks for 50",
        "120,330 parameters, the limit is fewer than 100,000",
        "no Keras layer calls (e.g. layers.SeparableConv2D(...)) in the code and no layer types "
        "in a printed model.summary()"]
    empty = grade_notebook(fit_notebook(tmp_path, "hello\n", name="empty.ipynb"))
    assert empty["epochs"] is None and empty["best_val_acc"] is None
    assert empty["problems"].startswith("no training log (Keras 'Epoch 1/N' output) in the cell outputs")


def test_run_without_validation(tmp_path):
    log = "Epoch 1/1\n390/390 [===] - 9s - loss: 0.5 - acc: 0.8\n"
    row = grade_notebook(fit_notebook(tmp_path, log))
    assert row["epochs"] is None and row["best_val_acc"] is None
    assert "no finished epoch with validation accuracy" in row["problems"]


def test_layer_types_from_code():
    source = """\
import tensorflow as tf
from tensorflow.keras import layers as kl
from keras.layers import *
model = Sequential()                               # not a layer
model.add(Convolution2D(32, 3, 3))                 # Keras 1 name of Conv2D
x = tf.keras.layers.SeparableConv2D(8, 3)(x)
x = keras.layers.DepthwiseConv2D(3)(x)
x = kl.MyCustomBlock(8)(x)                        # any class from the layers module
x = BatchNormalization()(x)
opt = Adam(1e-3)                                   # not a layer
# x = Dense(10)(x)  commented out
print("Dense(10) would not be allowed")
"""
    assert _layer_types(_Cell(1, source, "", None).code, ["kl"]) == {
        "BatchNormalization", "Conv2D", "DepthwiseConv2D", "MyCustomBlock", "SeparableConv2D"}


def summary_notebook(tmp_path: Path, model, name: str = "summary.ipynb") -> Path:
    """A notebook whose code builds no layer itself (a helper does) and prints Keras's own
    ``model.summary()``; Keras cuts long type names in its narrow columns."""
    printed = []
    model.summary(print_fn=lambda text, line_break=True: printed.append(text))
    nb = new_notebook(cells=[new_code_cell("model = build()\nmodel.summary()", outputs=[
        new_output("stream", name="stdout", text="\n".join(printed) + "\n")])])
    path = tmp_path / name
    nbformat.write(nb, path)
    return path


def test_layer_types_from_a_printed_summary(tmp_path):
    """A notebook that builds its model in a helper once had no layer types at all."""
    from assignment_utils.models import separable_net

    model = separable_net(widths=(8, 16), stem_width=8, dropout=(0.0, 0.1), blocks=1)
    row = grade_notebook(summary_notebook(tmp_path, model))
    assert "(BatchNormalizatio…" in (tmp_path / "summary.ipynb").read_text()  # cut by Keras
    assert row["layer_types"] == ("Activation, Add, BatchNormalization, Dropout, Flatten, "
                                  "GlobalAveragePooling2D, InputLayer, MaxPooling2D, "
                                  "Normalization, ReLU, SeparableConv2D")
    assert row["separable_only"] is True and row["params"] == model.count_params()
    assert "summary" not in row["problems"]


def test_a_nested_model_or_a_cut_type_leaves_separable_only_unknown(tmp_path):
    import keras

    inner = keras.Sequential([keras.layers.SeparableConv2D(4, 3)], name="inner")
    nested = keras.Sequential([keras.Input((8, 8, 3)), inner, keras.layers.Flatten()])
    row = grade_notebook(summary_notebook(tmp_path, nested))
    assert row["separable_only"] is None and "Sequential" not in row["layer_types"]
    assert "lists a nested model (Sequential) without its layers" in row["problems"]

    table = "Layer (type)  Output Shape  Param #\n{}\nTotal params: 10\n"
    cut = grade_notebook(fit_notebook(tmp_path, table.format("c (Conv…  (None, 4)  10"),
                                      name="cut.ipynb"))
    assert cut["separable_only"] is None and "cuts layer types short (Conv…)" in cut["problems"]
    dense = grade_notebook(fit_notebook(
        tmp_path, table.format("c (Conv…  (None, 4)  10\nd (Dense)  (None, 2)  10\n"
                               "p (MaxPool…  (None, 2)  0"), name="dense.ipynb"))
    assert dense["separable_only"] is False and dense["layer_types"] == "Dense, MaxPooling2D"


def test_cli_table_with_nothing_but_missing_values(capsys):
    """One notebook without a summary left only missing parameter counts, and the table
    crashed on them."""
    assert main([str(NOTEBOOKS / "no_summary.ipynb")]) == 0
    out = capsys.readouterr().out
    assert "no_summary.ipynb" in out and "–" in out


# --------------------------------------------------------------------------- files and CLI


@pytest.mark.parametrize("content, problem", [
    ("{not json", "cannot read the notebook: Expecting property name"),
    ("[1, 2]", "cannot read the notebook: not a Jupyter notebook (the JSON is not an object)"),
    ('{"metadata": {}}', "not a Jupyter notebook (no 'cells', nor 'worksheets' of nbformat 3)"),
    (b"\xff\xfe\x00binary", "cannot read the notebook: "),
])
def test_broken_files_are_rows_with_a_problem(tmp_path, content, problem):
    path = tmp_path / "broken.ipynb"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    row = grade_notebook(path)
    assert problem in row["problems"]
    assert all(row[c] is None for c in COLUMNS if c not in ("notebook", "problems"))
    assert grade_notebook(tmp_path / "missing.ipynb")["problems"].startswith("cannot read")


def test_grade_table_dtypes_keep_missing_values():
    table = grade([NOTEBOOKS / "no_summary.ipynb", NOTEBOOKS / "nbformat3_keras2.ipynb"])
    assert table.columns.tolist() == COLUMNS
    assert str(table["params"].dtype) == "Int64" and table["params"].isna().tolist() == [True, False]
    assert str(table["beats_base"].dtype) == "boolean"


@pytest.fixture
def class_folder(tmp_path):
    folder = tmp_path / "submissions"
    for name in ("keras3_verbose1", "keras3_verbose2", "nbformat3_keras2", "truncated"):
        (folder / name).mkdir(parents=True)
        shutil.copy(NOTEBOOKS / f"{name}.ipynb", folder / name / "work.ipynb")
    (folder / "broken.ipynb").write_text('{"cells": [')
    (folder / "notes.txt").write_text("not a notebook")
    (folder / ".ipynb_checkpoints").mkdir()
    shutil.copy(NOTEBOOKS / "keras3_verbose1.ipynb",
                folder / ".ipynb_checkpoints" / "work-checkpoint.ipynb")
    return folder


def test_find_notebooks_skips_checkpoints(class_folder):
    found = [p.relative_to(class_folder).as_posix() for p in find_notebooks([class_folder])]
    assert found == ["broken.ipynb", "keras3_verbose1/work.ipynb", "keras3_verbose2/work.ipynb",
                     "nbformat3_keras2/work.ipynb", "truncated/work.ipynb"]
    with pytest.raises(FileNotFoundError, match="no such notebook or folder"):
        find_notebooks([class_folder / "nope"])


def test_cli_on_a_folder_with_a_broken_file(class_folder, tmp_path, capsys):
    csv, png = tmp_path / "grades.csv", tmp_path / "curves.png"
    assert main([str(class_folder), "--csv", str(csv), "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    table_lines = out.split("\n\n")[0].splitlines()
    order = [line.split()[0].removeprefix(str(class_folder) + "/") for line in table_lines[1:]]
    # sorted by final accuracy: 82.63%, 47.00%, 28.00%, 12.00%, unknown last
    assert order == ["nbformat3_keras2/work.ipynb", "keras3_verbose2/work.ipynb",
                     "keras3_verbose1/work.ipynb", "truncated/work.ipynb", "broken.ipynb"]
    assert table_lines[0].split()[:4] == ["notebook", "epochs", "best", "val_acc"]
    assert "82.63%" in table_lines[1] and "94,911" in table_lines[1]
    assert f"- {class_folder / 'broken.ipynb'}: cannot read the notebook" in out
    saved = pd.read_csv(csv)
    assert saved.columns.tolist() == COLUMNS and len(saved) == 5
    assert png.stat().st_size > 10_000 and f"plot saved to {png}" in out


def test_cli_errors(tmp_path, capsys):
    assert main([str(tmp_path / "nope")]) == 2
    assert "no such notebook or folder" in capsys.readouterr().err
    assert main([str(tmp_path)]) == 2
    assert "no .ipynb files in" in capsys.readouterr().err
    assert main([]) == 2


def test_module_runs_as_a_script():
    result = subprocess.run([sys.executable, "-m", "assignment_utils.grade",
                             str(NOTEBOOKS / "nbformat3_keras2.ipynb")],
                            capture_output=True, text=True, cwd=REPO, check=True)
    assert "nbformat3_keras2.ipynb" in result.stdout and "83.60%" in result.stdout
    assert "keras" not in result.stderr.lower()
