"""Regenerate the executed notebooks that tests/test_grade_runs.py reads (run from the repo root).

    PATH=.venv/bin:$PATH .venv/bin/python tests/data/notebooks/make_run_notebooks.py [NAME ...]

Which run ``assignment_utils.grade`` grades, and with which model's facts: each notebook is a
student's notebook in small, built with nbformat and executed by nbclient on the ``python3``
kernel (TensorFlow on the CPU; the first ``python`` on ``PATH``), then written as executed.
Data: 200 training and 100 validation random 32x32 images whose class shifts the colour
(``SETUP`` of make_notebooks.py). The course's base network (``BASE``) is the real one,
1,172,410 parameters, trained on 100 images. What each notebook is, and the edits made after
executing, are in ``NOTEBOOKS``' comments; an edit is what a student's file can hold (a
result line removed, a value cut). ``base_then_saved_while_running`` is a snapshot taken
while its training cell still ran, as a notebook saved then: that cell's outputs so far, no
execution count for it, no outputs below it. Machine paths in tracebacks and warnings are
replaced by ``<path>``; ``main`` refuses to write a notebook that still holds one.
"""

from __future__ import annotations

import copy
import os
import re
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from make_notebooks import SETUP, scrubbed  # noqa: E402  (the sibling generator's data cell)

# The course's base network (its Keras 1 template in Keras 3 spelling): 1,172,410 parameters.
BASE = """\
model = keras.Sequential()
model.add(keras.Input((32, 32, 3)))
model.add(layers.Conv2D(48, 3, padding="same"))
model.add(layers.Activation("relu"))
model.add(layers.Conv2D(48, 3))
model.add(layers.Activation("relu"))
model.add(layers.MaxPooling2D(2))
model.add(layers.Dropout(0.25))
model.add(layers.Conv2D(96, 3, padding="same"))
model.add(layers.Activation("relu"))
model.add(layers.Conv2D(96, 3))
model.add(layers.Activation("relu"))
model.add(layers.MaxPooling2D(2))
model.add(layers.Dropout(0.25))
model.add(layers.Conv2D(192, 3, padding="same"))
model.add(layers.Activation("relu"))
model.add(layers.Conv2D(192, 3))
model.add(layers.Activation("relu"))
model.add(layers.MaxPooling2D(2))
model.add(layers.Dropout(0.25))
model.add(layers.Flatten())
model.add(layers.Dense(512))
model.add(layers.Activation("relu"))
model.add(layers.Dropout(0.5))
model.add(layers.Dense(256))
model.add(layers.Activation("relu"))
model.add(layers.Dropout(0.5))
model.add(layers.Dense(10, activation="softmax"))
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
model.summary()"""

BASE_FIT = """\
history = model.fit(x_train[:100], y_train[:100], batch_size=50, epochs=2,
                    validation_data=(x_val, y_val), verbose=2)"""


def separable(name: str, width: int) -> str:
    """A student's separable-only model assigned to ``name``, compiled, summary printed."""
    return f"""\
{name} = keras.Sequential([
    keras.Input((32, 32, 3)),
    layers.SeparableConv2D({width}, 3, padding="same", use_bias=False),
    layers.BatchNormalization(),
    layers.Activation("relu"),
    layers.MaxPooling2D(2),
    layers.Dropout(0.1),
    layers.SeparableConv2D(10, 1),
    layers.GlobalAveragePooling2D(),
    layers.Activation("softmax"),
])
{name}.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
{name}.summary()"""


# Conv2D and Dense: a first try that the student does not train.
WIDE = """\
wide = keras.Sequential([
    keras.Input((32, 32, 3)),
    layers.Conv2D(8, 3, activation="relu"),
    layers.GlobalAveragePooling2D(),
    layers.Dense(10, activation="softmax"),
])
wide.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
wide.summary()"""


def fit(name: str, epochs: int, verbose: int, extra: str = "") -> str:
    """The course's training cell: fit, then the time it took."""
    return f"""\
start = time.time()
history = {name}.fit(x_train, y_train, batch_size=20, epochs={epochs},
                     validation_data=(x_val, y_val), verbose={verbose}{extra})
print(f"Model took {{time.time() - start:.2f}} seconds to train")"""


# Slows the training steps so that the progress bar redraws; raises KeyboardInterrupt (as a
# user stopping the cell would) after the second step of ``stop_epoch`` (1-based).
SLOW = """\
class Slow(keras.callbacks.Callback):
    def __init__(self, stop_epoch=None):
        super().__init__()
        self.stop_epoch = stop_epoch

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        time.sleep(0.1)
        if self.epoch == self.stop_epoch and batch == 1:
            raise KeyboardInterrupt"""


def _stdout_edit(cell: dict, edit) -> None:
    """Apply ``edit`` to a cell's stdout text, kept as one stream output where the first was."""
    streams = [o for o in cell.outputs if o.output_type == "stream" and o.name == "stdout"]
    text = edit("".join(o.text for o in streams))
    first = cell.outputs.index(streams[0])
    others = [o for o in cell.outputs if o not in streams]
    cell.outputs = others[:first] + [nbformat.v4.new_output("stream", name="stdout", text=text)] \
        + others[first:]


def remove_result_line(epoch: int):
    """Delete epoch ``epoch``'s result line (the line after its ``Epoch k/N`` header)."""
    def edit(text: str) -> str:
        return re.sub(rf"(Epoch {epoch}/\d+\n)[^\n]*\n", r"\1", text, count=1)
    return edit


def cut_after_point(epoch: int, metric: str = "val_accuracy"):
    """Cut epoch ``epoch``'s result line just after ``metric: 0.``, keeping its newline."""
    def edit(text: str) -> str:
        return re.sub(rf"(Epoch {epoch}/\d+\n[^\n]*? - {metric}: \d\.)[^\n]*", r"\1", text,
                      count=1)
    return edit


SETUP_CELLS = [SETUP, SLOW]
NOTEBOOKS = {
    # The base network trained to its end, then the student's separable model interrupted
    # (KeyboardInterrupt) in epoch 2 of 3.
    "base_then_interrupted.ipynb": dict(cells=[
        *SETUP_CELLS, BASE, BASE_FIT, separable("model", 16),
        fit("model", 3, 1, ", callbacks=[Slow(stop_epoch=2)]")]),
    # The same, saved while the student's training cell was in epoch 2 of 3.
    "base_then_saved_while_running.ipynb": dict(cells=[
        *SETUP_CELLS, BASE, BASE_FIT, separable("model", 16),
        fit("model", 3, 1, ", callbacks=[Slow()]"), "print('done')"],
        snapshot=(6, "Epoch 2/3")),  # (the notebook's cell index, markdown cell 0 included)
    # The student's model trained first, the course's base network cells below it.
    "own_then_base.ipynb": dict(cells=[
        *SETUP_CELLS, separable("model", 16), fit("model", 2, 2), BASE, BASE_FIT]),
    # Only the base network trained.
    "base_only.ipynb": dict(cells=[*SETUP_CELLS, BASE, BASE_FIT]),
    # Two model definitions, the second trained; the first one's summary printed again last.
    "two_models_second_trained.ipynb": dict(cells=[
        *SETUP_CELLS, WIDE, separable("small", 16), "wide.summary()", fit("small", 3, 2)]),
    # Epoch 2's result line removed from the log.
    "result_line_removed.ipynb": dict(cells=[
        *SETUP_CELLS, separable("model", 16), fit("model", 3, 2)],
        edit=(4, remove_result_line(2))),
    # Epoch 3's result line cut after 'val_accuracy: 0.', before a newline (then the time).
    "value_cut.ipynb": dict(cells=[
        *SETUP_CELLS, separable("model", 16), fit("model", 3, 2)],
        edit=(4, cut_after_point(3))),
    # Two models of the student's; the second one's cells ran first (execution counts).
    "ran_out_of_order.ipynb": dict(cells=[
        *SETUP_CELLS, separable("model_a", 16), fit("model_a", 2, 2),
        separable("model_b", 24), fit("model_b", 2, 2)],
        order=[0, 1, 4, 5, 2, 3]),
}


class _Snapshot(NotebookClient):
    """Keeps a copy of the notebook as it stands when cell ``index``'s stdout first holds
    ``marker`` followed by a progress line: what a save during that cell would write."""

    def __init__(self, nb, index: int, marker: str, **kwargs):
        super().__init__(nb, **kwargs)
        self.index, self.marker, self.snapshot = index, marker, None

    def output(self, outs, msg, display_id, cell_index):
        out = super().output(outs, msg, display_id, cell_index)
        if self.snapshot is None and cell_index == self.index:
            text = "".join(o.get("text", "") for o in outs if o.get("name") == "stdout")
            if self.marker in text and "━" in text.split(self.marker)[-1]:
                self.snapshot = copy.deepcopy(self.nb)
                self.snapshot.cells[cell_index].execution_count = None
        return out


def build(name: str) -> nbformat.NotebookNode:
    """Execute notebook ``name`` of :data:`NOTEBOOKS` and return it as it is written."""
    spec = NOTEBOOKS[name]
    nb = new_notebook(cells=[new_markdown_cell(f"# Fixture `{name}`")]
                      + [new_code_cell(source) for source in spec["cells"]])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    options = dict(kernel_name="python3", timeout=600, allow_errors=True, record_timing=False,
                   resources={"metadata": {"path": str(HERE)}})
    if "snapshot" in spec:
        client = _Snapshot(nb, *spec["snapshot"], **options)
        client.execute()
        nb = client.snapshot
        for cell in nb.cells[spec["snapshot"][0] + 1:]:
            cell.outputs, cell.execution_count = [], None
    elif "order" in spec:  # code cells run in this order (their indices among the code cells)
        client = NotebookClient(nb, **options)
        with client.setup_kernel():
            for count, index in enumerate(spec["order"], start=1):
                client.execute_cell(nb.cells[index + 1], index + 1, execution_count=count)
    else:
        NotebookClient(nb, **options).execute()
    if "edit" in spec:
        index, edit = spec["edit"]
        _stdout_edit(nb.cells[index], edit)
    return scrubbed(nb, name)


def main(names: list[str]) -> None:
    os.environ.update(KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
    for name in names or NOTEBOOKS:
        nbformat.write(build(name), HERE / name)
        print("wrote", name)


if __name__ == "__main__":
    main(sys.argv[1:])
