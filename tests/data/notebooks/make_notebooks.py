"""Regenerate the executed notebook fixtures in this folder (run from the repo root).

    PATH=.venv/bin:$PATH .venv/bin/python tests/data/notebooks/make_notebooks.py

Each notebook is built with nbformat and executed by nbclient on the ``python3`` kernel
(the first ``python`` on ``PATH``, so put the virtual environment's ``bin`` first), then
written as executed, this machine's paths replaced by ``<path>``. The trainings are tiny (a
separable net on 200 random 32x32 images whose class shifts the colour, so validation accuracy
moves; 3 epochs, seconds).
A last cell prints Keras's own ``history.history`` as JSON: the ground truth for the tests.
``nbformat3_keras2.ipynb`` and ``colab_keras3.ipynb`` are hand-made and not written here.
"""

import os
import re
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

SETUP = """\
import json
import time
import numpy as np
import keras
from keras import layers

keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
y = rng.integers(0, 10, 300)
colours = rng.normal(size=(10, 1, 1, 3)).astype("float32")
x = (rng.normal(size=(300, 32, 32, 3)) + colours[y]).astype("float32")
x_train, y_train, x_val, y_val = x[:200], y[:200], x[200:], y[200:]"""

SEPARABLE = """\
def build(width):
    model = keras.Sequential([
        keras.Input((32, 32, 3)),
        layers.SeparableConv2D(width, 3, padding="same", use_bias=False),
        layers.BatchNormalization(),
        layers.Activation("relu"),
        layers.MaxPooling2D(2),
        layers.Dropout(0.1),
        layers.SeparableConv2D(10, 1),
        layers.GlobalAveragePooling2D(),
        layers.Activation("softmax"),
    ])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model

model = build(16)"""

CONV_DENSE = """\
model = keras.Sequential([
    keras.Input((32, 32, 3)),
    keras.layers.Conv2D(8, 3, activation="relu"),  # a plain convolution: not allowed
    keras.layers.GlobalAveragePooling2D(),
    keras.layers.Dense(10, activation="softmax"),
])
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
model.summary()"""


def fit(epochs: int, verbose: int, extra: str = "") -> str:
    return (f"history = model.fit(x_train, y_train, batch_size=20, epochs={epochs}, "
            f"validation_data=(x_val, y_val), verbose={verbose}{extra})")


# Raises KeyboardInterrupt (as a user stopping the cell would) while epoch 3 validates: the
# output ends with epoch 3's provisional "10/10" line, cut before its validation metrics.
INTERRUPT = """\
class StopDuringValidation(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        time.sleep(0.06)  # slow enough for the progress bar to redraw

    def on_test_batch_end(self, batch, logs=None):
        if self.epoch == 2 and batch == 2:
            raise KeyboardInterrupt"""

HISTORY = "print(json.dumps(history.history))"

NOTEBOOKS = {
    "keras3_verbose1.ipynb": [SETUP, SEPARABLE + "\nmodel.summary()", fit(3, 1), HISTORY],
    "keras3_verbose2.ipynb": [SETUP, CONV_DENSE, fit(3, 2), HISTORY],
    "two_trainings.ipynb": [SETUP, SEPARABLE + "\nmodel.summary()", fit(2, 1),
                            "model = build(24)\nmodel.summary()", fit(3, 1), HISTORY],
    "no_summary.ipynb": [SETUP, SEPARABLE, fit(3, 2), HISTORY],
    "truncated.ipynb": [SETUP, SEPARABLE + "\nmodel.summary()", INTERRUPT,
                        fit(3, 1, ", callbacks=[StopDuringValidation()]")],
}


def scrubbed(nb: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """``nb`` with this machine's paths (the checkout, the Python prefix, home, temp) replaced by
    ``<path>``; an error when one is left (also used by ``make_run_notebooks.py``)."""
    text = nbformat.writes(nb)
    roots = {str(HERE.parents[2]), sys.prefix, sys.base_prefix, os.path.expanduser("~"),
             tempfile.gettempdir(), os.path.realpath(tempfile.gettempdir())}
    for root in sorted(roots, key=len, reverse=True):
        text = text.replace(root, "<path>")
    if re.search(r"/(work|tmp|root|home)/", text):
        raise RuntimeError(f"{name} still holds a machine path after scrubbing")
    return nbformat.reads(text, as_version=4)


def main() -> None:
    os.environ.update(KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
    for name, sources in NOTEBOOKS.items():
        nb = new_notebook(cells=[new_markdown_cell(f"# Fixture `{name}`")]
                          + [new_code_cell(source) for source in sources])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                     "language": "python"}
        NotebookClient(nb, kernel_name="python3", timeout=300, allow_errors=True,
                       resources={"metadata": {"path": str(HERE)}}).execute()
        nbformat.write(scrubbed(nb, name), HERE / name)
        print("wrote", name)


if __name__ == "__main__":
    main()
