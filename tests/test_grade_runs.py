"""Which run assignment_utils.grade grades, and the facts of the model that run trained.

The executed notebooks in tests/data/notebooks/ (``make_run_notebooks.py`` there writes them)
are small students' notebooks: the course's base network and a separable model, trained in
the orders the issue describes; every expected value below is read from the notebook's own
output (quoted in each test). The hand-written notebooks after them cover the code the tracer
reads (functional models, helpers, ``.add`` across cells, training helpers) and the epochs'
arithmetic, with a property test over random notebooks.
"""

from __future__ import annotations

import importlib.util
import json
import re
import tempfile
from pathlib import Path

import nbformat
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from profiles import examples
from nbformat.v4 import new_code_cell, new_notebook, new_output

from assignment_utils.baselines import BASE_NETWORK_LAYERS, BASE_NETWORK_PARAMS
from assignment_utils.grade import COLUMNS, grade_notebook, main

NOTEBOOKS = Path(__file__).parent / "data" / "notebooks"
SEPARABLE_TYPES = "Activation, BatchNormalization, Dropout, GlobalAveragePooling2D, " \
                  "MaxPooling2D, SeparableConv2D"


def generator():
    """tests/data/notebooks/make_run_notebooks.py as a module."""
    spec = importlib.util.spec_from_file_location("make_run_notebooks",
                                                  NOTEBOOKS / "make_run_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def stdout(name: str, cell: int) -> str:
    """A fixture cell's stdout as written (cell: its index in the notebook, markdown included)."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    return "".join(o.text for o in nb.cells[cell].outputs
                   if o.output_type == "stream" and o.name == "stdout")


def problems(row: dict) -> list[str]:
    return row["problems"].split(" | ")


# --------------------------------------------------------------------------- the base network


def test_the_base_network_constants_describe_the_course_template():
    """The generator's BASE cell is the course's template; Keras counts its parameters."""
    import keras
    from keras import layers

    namespace = {"keras": keras, "layers": layers}
    exec(generator().BASE.replace("model.summary()", ""), namespace)
    model = namespace["model"]
    assert model.count_params() == BASE_NETWORK_PARAMS == 1_172_410
    assert {type(layer).__name__ for layer in model.layers} == BASE_NETWORK_LAYERS


# --------------------------------------------------------------------------- executed notebooks
# Cells are numbered as the grader numbers them: 1-based, the title's markdown cell is 1.


def test_base_trained_then_the_students_model_interrupted():
    """Cell 5 trains the base network 2 epochs (val_accuracy 0.1100, 0.1800); cell 7 the
    student's model (325 parameters), stopped by a KeyboardInterrupt in epoch 2 of 3: only
    epoch 1 has a result line ('val_accuracy: 0.1400'). The base's finished run was graded."""
    name = "base_then_interrupted.ipynb"
    log = stdout(name, 6)
    assert "Epoch 2/3" in log and "val_accuracy: 0.1400" in log and log.count("val_accuracy") == 1
    row = grade_notebook(NOTEBOOKS / name)
    assert (row["epochs"], row["best_val_acc"], row["best_epoch"], row["final_val_acc"]) == (
        1, 0.14, 1, 0.14)
    assert (row["params"], row["layer_types"], row["separable_only"]) == (
        325, SEPARABLE_TYPES, True)
    assert problems(row)[:2] == [
        "2 training runs in the outputs: graded run 2 (cell 7), the last of the student's own "
        "model; the other 1 not graded (1 of the base network)",
        "interrupted in epoch 2 of 3 (the cell raised KeyboardInterrupt): graded its 1 "
        "completed epoch"]


def test_base_trained_then_saved_while_the_students_model_trains():
    """Saved while cell 7 ran epoch 2 of 3: its output ends in epoch 2's progress bar
    ('1/10 ━━━…'), it has no execution count, cell 8 no output."""
    name = "base_then_saved_while_running.ipynb"
    nb = json.loads((NOTEBOOKS / name).read_text())
    assert nb["cells"][6]["execution_count"] is None and nb["cells"][7]["outputs"] == []
    log = stdout(name, 6)
    assert "━" in log.split("Epoch 2/3")[-1] and "val_accuracy: 0.1400" in log
    row = grade_notebook(NOTEBOOKS / name)
    assert (row["epochs"], row["best_val_acc"], row["final_val_acc"], row["params"]) == (
        1, 0.14, 0.14, 325)
    assert row["separable_only"] is True
    assert ("interrupted in epoch 2 of 3 (the output ends there): graded its 1 completed epoch"
            in problems(row))


def test_the_students_model_first_and_the_base_network_below():
    """Cell 5 trains the student's model 2 epochs (val_accuracy 0.1200, 0.1200), cells 6-7
    the base network after it (0.0700, 0.1500)."""
    row = grade_notebook(NOTEBOOKS / "own_then_base.ipynb")
    assert (row["epochs"], row["best_val_acc"], row["best_epoch"], row["final_val_acc"]) == (
        2, 0.12, 1, 0.12)
    assert (row["params"], row["separable_only"]) == (325, True)
    assert problems(row)[0] == ("2 training runs in the outputs: graded run 1 (cell 5), the last "
                                "of the student's own model; the other 1 not graded (1 of the "
                                "base network)")


def test_only_the_base_network_trained():
    """Cell 5 trains the base network 2 epochs (val_accuracy 0.1100, 0.1800)."""
    row = grade_notebook(NOTEBOOKS / "base_only.ipynb")
    assert (row["epochs"], row["best_val_acc"], row["best_epoch"], row["final_val_acc"]) == (
        2, 0.18, 2, 0.18)
    assert (row["params"], row["separable_only"]) == (1_172_410, False)
    assert row["layer_types"] == "Activation, Conv2D, Dense, Dropout, Flatten, MaxPooling2D"
    assert problems(row)[0] == ("the notebook holds no run of the student's own model, only of "
                                "the course's base network: graded its last run, run 1 (cell 5)")
    assert "1,172,410 parameters, the limit is fewer than 100,000" in problems(row)


def test_two_model_definitions_the_second_trained():
    """Cell 4 defines `wide` (Conv2D, Dense: 314 parameters), cell 5 `small` (separable, 325);
    cell 6 prints wide's summary again, cell 7 trains small 3 epochs (val_accuracy
    0.0000e+00, 0.0800, 0.0800). Wide's 314 and its Conv2D and Dense were taken."""
    row = grade_notebook(NOTEBOOKS / "two_models_second_trained.ipynb")
    assert (row["epochs"], row["best_val_acc"], row["best_epoch"], row["final_val_acc"]) == (
        3, 0.08, 2, 0.08)
    assert (row["params"], row["layer_types"], row["separable_only"]) == (
        325, SEPARABLE_TYPES, True)
    assert row["problems"] == "trained 3 epochs, the assignment asks for 50"


def test_a_result_line_removed_from_the_middle():
    """Epoch 2's line removed: epochs 1 and 3 read 0.1200 and 0.2800. The run counted 2 epochs."""
    log = stdout("result_line_removed.ipynb", 4)
    assert "Epoch 2/3\nEpoch 3/3" in log
    row = grade_notebook(NOTEBOOKS / "result_line_removed.ipynb")
    assert (row["epochs"], row["best_val_acc"], row["best_epoch"], row["final_val_acc"]) == (
        3, 0.28, 3, 0.28)
    assert problems(row)[0] == ("no complete result line for epoch 2 (cut short or missing): "
                                "counted as completed (a later epoch started), adds no accuracy")


def test_a_value_cut_before_a_newline():
    """Epoch 3's line ends 'val_accuracy: 0.' and the timing line follows; epochs 1 and 2 read
    0.1200 and 0.1200. The cut value was read as 0.0, the final accuracy."""
    log = stdout("value_cut.ipynb", 4)
    assert re.search(r"val_accuracy: 0\.\nModel took", log)
    row = grade_notebook(NOTEBOOKS / "value_cut.ipynb")
    assert (row["epochs"], row["best_val_acc"], row["best_epoch"], row["final_val_acc"]) == (
        2, 0.12, 1, 0.12)
    assert problems(row)[0] == ("interrupted in epoch 3 of 3 (its result line is cut short): "
                                "graded its 2 completed epochs")


def test_cells_that_ran_in_another_order():
    """Cells 6-7 (model_b, 469 parameters) ran first (execution counts 3-4), then cells 4-5
    (model_a, 325; counts 5-6): model_a's run, val_accuracy 0.1600, 0.1900, is the last."""
    row = grade_notebook(NOTEBOOKS / "ran_out_of_order.ipynb")
    assert (row["epochs"], row["best_val_acc"], row["final_val_acc"], row["params"]) == (
        2, 0.19, 0.19, 325)
    assert problems(row)[:2] == [
        "the execution counts show that cells ran in another order than they stand: read in "
        "the order they ran (cells 6, 7, 4, 5)",
        "2 training runs in the outputs: graded run 2 (cell 5), the last of the student's own "
        "model; the other 1 not graded"]


def test_cli_table_of_the_run_notebooks(capsys):
    """The README's table: `python -m assignment_utils.grade tests/data/notebooks`."""
    assert main([str(NOTEBOOKS / name) for name in sorted(generator().NOTEBOOKS)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["notebook", "epochs", "best", "val_acc", "best",
                                           "epoch", "final", "val_acc", "params", "separable",
                                           "only", "beats", "82.8%"]
    assert len(out.split("\n\n")[0].splitlines()) == 1 + len(generator().NOTEBOOKS)


@pytest.mark.slow
def test_generator_executes_a_notebook_end_to_end(tmp_path):
    """make_run_notebooks.py runs base_then_interrupted again (TensorFlow, CPU) and the grader
    reads the same structure; accuracies may differ from the committed file by machine."""
    nb = generator().build("base_then_interrupted.ipynb")
    committed = nbformat.read(NOTEBOOKS / "base_then_interrupted.ipynb", as_version=4)
    assert [c.source for c in nb.cells] == [c.source for c in committed.cells]
    nbformat.write(nb, tmp_path / "fresh.ipynb")
    row = grade_notebook(tmp_path / "fresh.ipynb")
    assert (row["epochs"], row["params"], row["separable_only"]) == (1, 325, True)
    assert "interrupted in epoch 2 of 3 (the cell raised KeyboardInterrupt)" in row["problems"]


# --------------------------------------------------------------------------- hand-written


def notebook(tmp_path: Path, *cells, name: str = "nb.ipynb") -> Path:
    """Code cells from (source, stdout) pairs, or (source, stdout, execution count)."""
    made = []
    for source, text, *count in cells:
        cell = new_code_cell(source, outputs=[new_output("stream", name="stdout", text=text)]
                             if text else [])
        cell.execution_count = count[0] if count else None
        made.append(cell)
    path = tmp_path / name
    nbformat.write(new_notebook(cells=made), path)
    return path


def log(epochs: int, total: int, val: list[float], first: int = 1) -> str:
    return "".join(f"Epoch {e}/{total}\n390/390 [===] - 9s - loss: 0.5000 - acc: 0.8000 - "
                   f"val_loss: 0.6000 - val_acc: {v:.4f}\n"
                   for e, v in zip(range(first, first + epochs), val))


def summary(params: int, *types: str) -> str:
    rows = "".join(f"layer_{i} ({t})    (None, 8)    1\n" for i, t in enumerate(types))
    return f"Layer (type)    Output Shape    Param #\n{rows}Total params: {params:,}\n"


BASE_CODE = """\
model = Sequential()
model.add(Convolution2D(48, 3, 3, border_mode='same', input_shape=(32, 32, 3)))
model.add(Activation('relu'))
model.add(MaxPooling2D(pool_size=(2, 2)))
model.add(Dropout(0.25))
model.add(Flatten())
model.add(Dense(num_classes, activation='softmax'))"""
BASE_SUMMARY = summary(1_172_410, "Conv2D", "Activation", "MaxPooling2D", "Dropout", "Flatten",
                       "Dense")


def test_a_functional_model_and_only_its_layers(tmp_path):
    path = notebook(
        tmp_path, (BASE_CODE, ""), ("model.summary()", BASE_SUMMARY),
        ("model_info = model.fit_generator(datagen.flow(x, y), nb_epoch=2)", log(2, 2, [.5, .6])),
        ("inputs = Input(shape=(32, 32, 3))\nx = SeparableConv2D(16, 3)(inputs)\n"
         "x = GlobalAveragePooling2D()(x)\nnet = Model(inputs=inputs, outputs=x)\nnet.summary()",
         summary(500, "InputLayer", "SeparableConv2D", "GlobalAveragePooling2D")),
        ("datagen.fit(x)\nhistory = net.fit(x, y, epochs=2)", log(2, 2, [.7, .8])))
    row = grade_notebook(path)
    assert (row["final_val_acc"], row["params"], row["separable_only"]) == (0.8, 500, True)
    assert row["layer_types"] == "GlobalAveragePooling2D, InputLayer, SeparableConv2D"
    assert "1 of the base network" in row["problems"]


def test_a_model_built_by_notebook_functions_and_add_calls_in_later_cells(tmp_path):
    """Layers come from the builder, the helper it calls and a later cell's .add(...), not
    from a function nothing calls."""
    path = notebook(
        tmp_path,
        ("def block(model, width):\n    model.add(SeparableConv2D(width, 3))\n"
         "    model.add(BatchNormalization())\n\n"
         "def build():\n    model = Sequential()\n    block(model, 16)\n    return model\n\n"
         "def unused():\n    return Dense(10)", ""),
        ("model = build()", ""),
        ("model.add(GlobalAveragePooling2D())\nmodel.compile('adam')", ""),
        ("model.fit(x, y, epochs=1)", log(1, 1, [.5])))
    row = grade_notebook(path)
    assert row["layer_types"] == "BatchNormalization, GlobalAveragePooling2D, SeparableConv2D"
    assert row["separable_only"] is True


def test_a_model_handed_to_a_training_helper(tmp_path):
    """`history = train(model, ...)`: no fit in the cell, the one model it names is traced."""
    path = notebook(
        tmp_path, (BASE_CODE.replace("model", "base"), ""),
        ("model = separable_net()\nmodel.summary()", summary(91_509, "SeparableConv2D")),
        ("history = train(model, data, config)", log(2, 2, [.5, .6])))
    row = grade_notebook(path)
    assert (row["params"], row["separable_only"]) == (91_509, True)
    assert "trace" not in row["problems"]


def test_an_untraceable_run_takes_the_last_model_built_before_it(tmp_path):
    path = notebook(
        tmp_path, ("a = Sequential()\na.add(SeparableConv2D(8, 3))\na.summary()", summary(99)),
        ("b = Sequential()\nb.add(Dense(8))\nb.summary()", summary(88)),
        ("for m in (a, b):\n    m.fit(x, y, epochs=1)", log(1, 1, [.5])))
    row = grade_notebook(path)
    assert (row["params"], row["layer_types"]) == (88, "Dense")
    assert ("could not trace the model that run 1 trained (`m` is not built before it): took "
            "the last model built before it, `b` (cell 2)" in row["problems"])


def test_summaries_belong_to_the_models_their_cells_summarise(tmp_path):
    """One cell prints two summaries (small's then wide's); a rebuilt `model = make()` keeps
    the summary of the identical build before it."""
    path = notebook(
        tmp_path,
        ("def make():\n    return Sequential([SeparableConv2D(8, 3)])\n"
         "small = make()\nwide = Sequential([Dense(8)])\nsmall.summary()\nwide.summary()",
         summary(77, "SeparableConv2D") + summary(55, "Dense")),
        ("small = make()\nsmall.fit(x, y, epochs=1)", log(1, 1, [.5])))
    row = grade_notebook(path)
    assert (row["params"], row["separable_only"]) == (77, True)


def test_epochs_completed_when_a_later_epoch_started(tmp_path):
    """Epoch 3's header and line are both missing; epoch 2 has a header only."""
    text = log(1, 4, [.5]) + "Epoch 2/4\n" + log(1, 4, [.7], first=4)
    row = grade_notebook(notebook(tmp_path, ("model.fit(x, y, epochs=4)", text)))
    assert (row["epochs"], row["best_epoch"], row["final_val_acc"]) == (4, 4, 0.7)
    assert ("no complete result line for epochs 2-3 (cut short or missing): counted as completed "
            "(a later epoch started), adds no accuracy") in row["problems"]


def test_a_log_cut_at_its_top_is_its_own_run(tmp_path):
    """Colab kept only the end of model_new's output (its epoch 11 line, then 'Epoch 12/12'):
    not a continuation of the base network's finished run."""
    path = notebook(
        tmp_path, (BASE_CODE, ""), ("model.summary()", BASE_SUMMARY),
        ("model.fit(x, y, epochs=12)", log(12, 12, [.1] * 12)),
        ("model_new = Sequential()\nmodel_new.add(SeparableConv2D(8, 3))\nmodel_new.summary()",
         summary(700, "SeparableConv2D")),
        ("model_new.fit(x, y, epochs=12)", log(2, 12, [.6, .65], first=11).split("\n", 1)[1]))
    row = grade_notebook(path)
    assert (row["epochs"], row["best_val_acc"], row["params"]) == (12, 0.65, 700)
    assert "no complete result line for epochs 1-10" in row["problems"]


def test_a_resumed_run_of_the_same_model_continues(tmp_path):
    path = notebook(tmp_path, ("model = Sequential()\nmodel.add(SeparableConv2D(8, 3))", ""),
                    ("model.fit(x, y, epochs=4)", log(2, 4, [.5, .6])),
                    ("model.fit(x, y, epochs=4, initial_epoch=2)", log(2, 4, [.7, .8], first=3)))
    row = grade_notebook(path)
    assert (row["epochs"], row["best_val_acc"]) == (4, 0.8)
    assert "training runs" not in row["problems"]


def test_the_base_network_without_a_summary_is_known_by_its_layers(tmp_path):
    path = notebook(tmp_path, (BASE_CODE, ""), ("model.fit(x, y, epochs=1)", log(1, 1, [.5])),
                    ("model1 = Sequential()\nmodel1.add(SeparableConv2D(8, 3))", ""),
                    ("model1.fit(x, y, epochs=2)", log(1, 2, [.3])))
    row = grade_notebook(path)
    assert (row["final_val_acc"], row["layer_types"]) == (0.3, "SeparableConv2D")
    assert "(1 of the base network)" in row["problems"]


def test_execution_count_zero_and_missing_keep_the_cell_order(tmp_path):
    """Exported notebooks often show 0 (or nothing) for every count: cell order stands."""
    path = notebook(tmp_path, ("model = Sequential()\nmodel.add(SeparableConv2D(8, 3))", "", 0),
                    ("model.fit(x, y, epochs=1)", log(1, 1, [.5]), 0),
                    ("model.fit(x, y, epochs=1)", log(1, 1, [.6])))
    row = grade_notebook(path)
    assert row["final_val_acc"] == 0.6 and "order" not in row["problems"]


@settings(max_examples=examples(60))
@given(runs=st.lists(st.tuples(st.booleans(), st.integers(1, 4), st.integers(0, 4)),
                     min_size=1, max_size=5))
def test_property_the_last_run_of_the_students_own_model_is_graded(runs):
    """Random notebooks of base-network and student runs (N planned epochs, k shown, the k-th
    possibly without its result line): the last student run is graded, with its completed
    epochs; without one, the last base run."""
    cells, expected = [], None
    for index, (base, total, shown) in enumerate(runs):
        name = f"m{index}"
        shown = min(shown, total)
        code = (BASE_CODE.replace("model", name) if base
                else f"{name} = Sequential()\n{name}.add(SeparableConv2D(8, 3))")
        cells.append((code + f"\n{name}.summary()",
                      BASE_SUMMARY if base else summary(1000 + index, "SeparableConv2D")))
        val = [round(0.1 + 0.01 * index + 0.001 * e, 4) for e in range(shown)]
        text = log(shown, total, val) + ("" if shown == total else f"Epoch {shown + 1}/{total}\n")
        cells.append((f"{name}.fit(x, y, epochs={total})", text))
        if not base or expected is None or expected[0]:
            expected = (base, index, shown, val)
    with tempfile.TemporaryDirectory() as folder:
        row = grade_notebook(notebook(Path(folder), *cells))
    base, index, shown, val = expected
    assert row["params"] == (BASE_NETWORK_PARAMS if base else 1000 + index)
    assert row["epochs"] == (shown if val else None)
    assert row["final_val_acc"] == (val[-1] if val else None)
    assert list(row) == COLUMNS
