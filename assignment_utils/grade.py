"""Grade rendered notebooks of the assignment from what they show: one row per notebook.

The assignment: a Keras network for CIFAR-10 with depthwise separable convolutions only,
fewer than 100,000 parameters, trained 50 epochs, beating the base's best validation
accuracy of 82.8 %. Command line::

    python -m assignment_utils.grade submissions/ other.ipynb [--csv grades.csv] [--plot curves.png]

Columns of :func:`grade` (a value that cannot be read is ``None``/NaN and ``problems`` says
why; nothing is guessed):

- ``notebook``: the path as given.
- ``epochs``: the graded run's completed epochs. An epoch is completed when its result line
  (the epoch's metrics, with validation) is there or a later epoch of the run started
  (``Epoch k/N`` means epochs 1 to k-1 ran, shown or not).
- ``best_val_acc``, ``best_epoch``, ``final_val_acc``: from the graded run's result lines
  (:class:`~assignment_utils.summaries.RunSummary`; accuracies as fractions). A completed
  epoch without a result line adds no accuracy, and ``problems`` lists it.
- ``params``: ``Total params`` of the printed ``model.summary()`` (Keras 2 or 3, ANSI or
  HTML) of the model the graded run trained: the last one printed for it before the run,
  else the first after.
- ``layer_types``: that model's Keras layer classes, sorted, comma-separated: the layers its
  code calls and those its printed summary lists. In code: ``layers.X(`` (any module path
  ending in ``layers``, or an alias imported as ``layers as L``) and a bare or dotted ``X(``
  for a known layer name; comments and strings are skipped. In a summary: the ``(Type)``
  after each layer's name, between ``Layer (type)`` and ``Total params``; a type the summary
  cut short (``(BatchNormalizatio…``) is the one known layer it starts, else a problem.
  Keras 1/2 aliases become the class name (``Convolution2D`` -> ``Conv2D``). Layers of other
  models in the notebook do not count.
- ``separable_only``: layer types were found and none is a plain or transposed convolution
  or a dense layer (:data:`~assignment_utils.rubric.FORBIDDEN_LAYERS`: ``Conv1D``,
  ``Conv2D``, ``Conv3D``, their ``Transpose`` versions, ``SeparableConv1D``,
  ``DepthwiseConv1D``, ``Dense``, ``EinsumDense``); unknown (empty) where the summary lists a
  nested model, whose layers it hides, or cuts a type short beyond recognition, unless a
  forbidden layer was seen anyway.
- ``beats_base``: ``best_val_acc > BASE_ACCURACY`` (0.828), strictly, at full precision.
- ``problems``: ``" | "``-separated; empty when there is nothing to check by hand. Besides
  what could not be read it names the runs not graded, an interrupted run, epochs without a
  result line, a model that could not be traced, cells that ran out of order, parser
  warnings, and broken rules (epochs other than 50, 100,000 parameters or more).

Which run is graded: the student's own. Training runs are cut from the cells' outputs in the
order the cells ran: their order in the notebook, unless their execution counts show another
order among the cells that build models or print training logs (then the counts' order, and
``problems`` says so). A run starts at every ``Epoch 1/N`` header; a later cell's ``Epoch
k/N`` continues the run (resumed with ``initial_epoch``) unless the run had reached its last
epoch and ``k`` goes back, or the cell trains a model of another name: then a run starts
with that cell's output (a log whose first epochs were cut off). The graded run is the last
one whose model is not the course's base network, finished or not; the others are counted in
``problems``. The base network is the model of the assignment's base log: a run trains it
when its model's printed summary shows
:data:`~assignment_utils.baselines.BASE_NETWORK_PARAMS` (1,172,410) parameters, or, without
a summary for it, when its layer types are exactly
:data:`~assignment_utils.baselines.BASE_NETWORK_LAYERS` (``Conv2D`` and ``Dense`` with
``Activation``, ``Dropout``, ``Flatten``, ``MaxPooling2D``). When every run trains the base
network, the last is graded and ``problems`` says that the notebook holds no run of the
student's own model. A run is finished when its last epoch is ``N`` (or ``EarlyStopping``
says it stopped there) with its result line; an unfinished one is graded with its completed
epochs and flagged ("interrupted in epoch 38 of 50").

Which model a run trained: the object whose ``fit``/``fit_generator`` the run's cell calls
(else the one model that cell names, as in ``history = train(model, ...)``), traced back to
the last statement before the run that assigned that name from a call: ``model =
Sequential()``, ``= Model(...)``, ``= build(16)``. The model's code is that statement's: the
body of the notebook function or class it calls, else its cell's top-level code up to the
next such statement, without other models' ``.add(...)`` calls; plus its own ``.add(...)``
calls up to the run and the bodies of the notebook functions all these call. A printed
summary belongs to the model its cell calls ``.summary()`` on (the k-th table to the k-th
call), else to the model built last. Where the trace fails, the last model built before the
run is taken and ``problems`` says so; where the notebook builds no model at all, the layer
types come from all code run before the run and the parameters from the last summary
printed before it (else the first after).

How outputs are read. A notebook is read as JSON: nbformat 4 (Jupyter, Colab, VS Code) and
nbformat 3 (cells under ``worksheets``, ``input``, ``prompt_number``, ``pyout`` outputs). The
text of a code cell is its ``stdout`` stream outputs (joined as written, so a line may span
outputs) and the plain text of its results and displays (``text/plain``, else ``text/html``
with its tags removed); ``stderr``, errors and images are left out. Each run is parsed with
:func:`~assignment_utils.logs.parse_keras_log` (``\\r``, ``\\b`` and ANSI codes are handled
there): a result line cut short, as by a number cut in its digits (``val_accuracy: 0.``), is
not a result line.
"""

from __future__ import annotations

import argparse
import html
import json
import math
import os
import re
import sys
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from assignment_utils.baselines import BASE_NETWORK_LAYERS, BASE_NETWORK_PARAMS, load_baseline
from assignment_utils.logs import (_ANSI_RE, _HEADER_RE, CutEpochWarning, LogParseError,
                                   MissingEpochWarning, _epochs, parse_keras_log)
from assignment_utils.rf_keras import _ELEMENTWISE_MERGES, _PRESERVING
from assignment_utils.rubric import ALLOWED_CONVOLUTIONS, DROPOUT_LAYERS, FORBIDDEN_LAYERS
from assignment_utils.rules import BASE_ACCURACY, EPOCHS_REQUIRED, MAX_PARAMS
from assignment_utils.summaries import summarize_run

__all__ = ["COLUMNS", "grade_notebook", "grade", "find_notebooks", "main"]

COLUMNS = ["notebook", "epochs", "best_val_acc", "best_epoch", "final_val_acc", "params",
           "layer_types", "separable_only", "beats_base", "problems"]

# Old names of Keras layers (Keras 1/2, still aliases in Keras 3) -> class name.
_ALIASES = {
    "Convolution1D": "Conv1D", "Convolution2D": "Conv2D", "Convolution3D": "Conv3D",
    "AtrousConvolution2D": "Conv2D", "Deconvolution2D": "Conv2DTranspose",
    "Convolution2DTranspose": "Conv2DTranspose", "SeparableConvolution2D": "SeparableConv2D",
    "MaxPool2D": "MaxPooling2D", "AvgPool2D": "AveragePooling2D",
    "GlobalMaxPool2D": "GlobalMaxPooling2D", "GlobalAvgPool2D": "GlobalAveragePooling2D",
}
# Layer names recognised without a ``layers.`` prefix (``from keras.layers import *``).
_KNOWN_LAYERS = frozenset(
    (*ALLOWED_CONVOLUTIONS, *FORBIDDEN_LAYERS, *DROPOUT_LAYERS, *_PRESERVING,
     *_ELEMENTWISE_MERGES, *_ALIASES, "InputLayer", "MaxPooling2D", "AveragePooling2D",
     "GlobalAveragePooling2D", "GlobalMaxPooling2D", "Flatten", "Reshape", "Concatenate",
     "ZeroPadding2D", "Cropping2D", "UpSampling2D", "Lambda")
)
_CALL_RE = re.compile(r"(?<![\w.])((?:[A-Za-z_]\w*\.)*)([A-Z]\w*)\s*\(")
_LAYERS_ALIAS_RE = re.compile(r"\blayers\s+as\s+([A-Za-z_]\w*)")
_TOTAL_PARAMS_RE = re.compile(r"Total params:\s*(\d[\d,]*)")
# In a summary table: '(Type)' after a layer's name, or '(Typ…' where the column cut it.
_SUMMARY_TYPE_RE = re.compile(r"\(([A-Z][A-Za-z0-9_]*)(\)|…|\.\.\.)")
_NESTED_MODELS = frozenset({"Functional", "Sequential", "Model"})
_TAG_RE = re.compile(r"<[^>]*>")
# String literals and comments, in one pass (a '#' inside a string, a quote inside a comment).
_NOT_CODE_RE = re.compile(r"""("{3}|'{3})(?s:\\.|(?!\1).)*?\1|(["'])(?:\\.|(?!\2)[^\n])*\2|#[^\n]*""")
_NOT_NEWLINE_RE = re.compile(r"[^\n]")
_EARLY_STOP_RE = re.compile(r"\bEpoch\s+\d+\s*:\s*early stopping")  # Keras 2 and 3
# In code whose strings and comments are blanked:
_TOP_DEF_RE = re.compile(r"^(?:async[ \t]+)?(?:def|class)[ \t]+([A-Za-z_]\w*)", re.M)
_ASSIGN_CALL_RE = re.compile(r"^[ \t]*([A-Za-z_]\w*)[ \t]*=[ \t]*((?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*)"
                             r"[ \t]*\(", re.M)
_MODEL_USE_RE = re.compile(
    r"(?<![\w.])([A-Za-z_]\w*)\s*\.\s*(?:fit|fit_generator|summary|compile|count_params)\s*\(")
# Objects that ``fit`` but are not models: data generators (``datagen.flow(...)``), scalers.
_DATA_USE_RE = re.compile(r"(?<![\w.])([A-Za-z_]\w*)\s*\.\s*(?:flow|flow_from_directory|"
                          r"flow_from_dataframe|transform|fit_transform|standardize)\s*\(")
_FIT_RE = re.compile(r"(?<![\w.])([A-Za-z_]\w*)\s*\.\s*(?:fit|fit_generator)\s*\(")
_SUMMARY_CALL_RE = re.compile(r"(?<![\w.])([A-Za-z_]\w*)\s*\.\s*summary\s*\(")
_ADD_RE = re.compile(r"(?<![\w.])([A-Za-z_]\w*)\s*\.\s*add\s*\(")
_NAME_CALL_RE = re.compile(r"(?<![\w.])([A-Za-z_]\w*)\s*\(")


# --------------------------------------------------------------------------- reading


@dataclass(eq=False)  # compared by identity
class _Cell:
    """A code cell: its 1-based position among all cells, source, output text, error name,
    execution count (None when the file shows none), and its place in the order cells ran."""

    number: int
    source: str
    text: str
    error: str | None
    count: int | None = None
    rank: int = 0
    code: str = field(init=False)  # the source with strings and comments blanked, same offsets
    defs: list[tuple[str, int, int]] = field(init=False)  # top-level def/class: name, span

    def __post_init__(self) -> None:
        self.code = _NOT_CODE_RE.sub(lambda m: _NOT_NEWLINE_RE.sub(" ", m.group()), self.source)
        self.defs = [(m.group(1), m.start(), _block_end(self.code, m.start()))
                     for m in _TOP_DEF_RE.finditer(self.code)]

    def top_level(self, offset: int) -> bool:
        """Whether ``offset`` lies outside the cell's top-level ``def``/``class`` bodies."""
        return not any(start <= offset < end for _, start, end in self.defs)

    def top_code(self, start: int = 0, end: int | None = None) -> str:
        """``code[start:end]`` with the ``def``/``class`` bodies in it blanked."""
        text = list(self.code[start:end])
        for _, low, high in self.defs:
            for i in range(max(low, start), min(high, len(self.code) if end is None else end)):
                if text[i - start] != "\n":
                    text[i - start] = " "
        return "".join(text)


def _joined(value: Any) -> str:
    """Notebook text fields are a string or a list of strings; anything else is empty."""
    if isinstance(value, list):
        return "".join(part for part in value if isinstance(part, str))
    return value if isinstance(value, str) else ""


def _output_text(output: dict) -> str:
    kind = output.get("output_type")
    if kind == "stream":
        stdout = output.get("name", output.get("stream")) == "stdout"  # nbformat 4, 3
        return _joined(output.get("text")) if stdout else ""
    if kind not in ("execute_result", "display_data", "pyout"):
        return ""
    data = output.get("data", output)  # nbformat 3 keeps the MIME keys on the output itself
    if not isinstance(data, dict):
        return ""
    for key in ("text/plain", "text"):
        if key in data:
            return "\n" + _joined(data[key]) + "\n"
    for key in ("text/html", "html"):
        if key in data:
            return "\n" + html.unescape(_TAG_RE.sub("", _joined(data[key]))) + "\n"
    return ""


def _count(cell: dict) -> int | None:
    """A cell's execution count (nbformat 4) or prompt number (3); None when absent or 0."""
    count = cell.get("execution_count", cell.get("prompt_number"))
    return count if isinstance(count, int) and not isinstance(count, bool) and count > 0 else None


def _read_cells(path: Path) -> list[_Cell]:
    """The code cells of a notebook file, in notebook order; ValueError when it is not a
    Jupyter notebook."""
    with open(path, encoding="utf-8") as fh:
        nb = json.load(fh)
    if not isinstance(nb, dict):
        raise ValueError("not a Jupyter notebook (the JSON is not an object)")
    if isinstance(nb.get("worksheets"), list):  # nbformat 3
        cells = [c for sheet in nb["worksheets"] if isinstance(sheet, dict)
                 and isinstance(sheet.get("cells"), list) for c in sheet["cells"]]
    elif isinstance(nb.get("cells"), list):
        cells = nb["cells"]
    else:
        raise ValueError("not a Jupyter notebook (no 'cells', nor 'worksheets' of nbformat 3)")
    code = []
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        outputs = cell.get("outputs")
        outputs = [o for o in outputs if isinstance(o, dict)] if isinstance(outputs, list) else []
        errors = [o.get("ename", "an error") for o in outputs
                  if o.get("output_type") in ("error", "pyerr")]
        code.append(_Cell(number, _joined(cell.get("source", cell.get("input"))),
                          "".join(_output_text(o) for o in outputs),
                          errors[-1] if errors else None, _count(cell)))
    return code


def _run_order(cells: Sequence[_Cell]) -> list[_Cell]:
    """The cells in the order they ran, each given its ``rank``: by execution count, a cell
    without one staying right after the cell above it (stable, so equal counts keep their
    notebook order)."""
    keys, last = [], 0
    for cell in cells:
        last = cell.count if cell.count is not None else last
        keys.append(last)
    order = [cell for _, cell in sorted(zip(keys, cells), key=lambda pair: pair[0])]
    for rank, cell in enumerate(order):
        cell.rank = rank
    return order


# --------------------------------------------------------------------------- code


def _block_end(code: str, start: int) -> int:
    """End of the block whose header line starts at column 0 at ``start``: the next line at
    column 0 holding code outside the header's brackets, else the end of the code."""
    depth, position = 0, start
    for line in code[start:].splitlines(keepends=True):
        if position > start and depth <= 0 and line.strip() and not line[0].isspace():
            return position
        depth += sum(map(line.count, "([{")) - sum(map(line.count, ")]}"))
        position += len(line)
    return len(code)


def _call_end(code: str, opening: int) -> int:
    """The offset after the bracket closing the one at ``opening`` (else the end of code)."""
    depth = 0
    for index in range(opening, len(code)):
        depth += (code[index] in "([{") - (code[index] in ")]}")
        if depth == 0:
            return index + 1
    return len(code)


def _layer_types(code: str, prefixes: Iterable[str]) -> set[str]:
    """Layer classes called in blanked code; ``prefixes`` are the names of the layers module."""
    prefixes = {"layers", *prefixes}
    found = set()
    for path, name in _CALL_RE.findall(code):
        module = path.rstrip(".").rsplit(".", 1)[-1]
        if name in _KNOWN_LAYERS or module in prefixes:
            found.add(_ALIASES.get(name, name))
    return found


@dataclass(eq=False)
class _Build:
    """``name = callee(...)`` in a cell's top-level code: a model built (or loaded)."""

    name: str
    callee: str  # the called name's last part
    cell: _Cell
    start: int  # offsets of the statement in the cell's code
    end: int

    @property
    def position(self) -> tuple[int, int]:
        return self.cell.rank, self.start


@dataclass
class _Code:
    """The notebook's code in the order it ran: model builds, functions, model calls."""

    cells: list[_Cell]
    builds: list[_Build]
    models: set[str]  # names used as models: fit, summary, compile... (not data generators)
    prefixes: set[str]  # aliases of the layers module (``layers as L``)

    @classmethod
    def read(cls, cells: list[_Cell]) -> _Code:
        everything = "\n".join(cell.code for cell in cells)
        models = set(_MODEL_USE_RE.findall(everything)) - set(_DATA_USE_RE.findall(everything))
        builds = [_Build(m.group(1), m.group(2).rsplit(".", 1)[-1], cell, m.start(),
                         _call_end(cell.code, m.end() - 1))
                  for cell in cells for m in _ASSIGN_CALL_RE.finditer(cell.code)
                  if m.group(1) in models and cell.top_level(m.start())]
        return cls(cells, builds, models, set(_LAYERS_ALIAS_RE.findall(everything)))

    def last_build(self, before: tuple[int, int], name: str | None = None) -> _Build | None:
        """The last build (of ``name``, or of any model) at a position before ``before``."""
        found = [b for b in self.builds if b.position < before and name in (None, b.name)]
        return found[-1] if found else None

    def function(self, name: str, before: tuple[int, int]) -> tuple[_Cell, int, int] | None:
        """The last top-level ``def``/``class`` of ``name`` before a position: cell and span."""
        found = [(cell, start, end) for cell in self.cells for def_name, start, end in cell.defs
                 if def_name == name and (cell.rank, start) < before]
        return found[-1] if found else None

    def model_types(self, build: _Build, until: tuple[int, int]) -> set[str]:
        """Layer classes of the model ``build`` made, as used up to the position ``until``."""
        pieces = []
        function = self.function(build.callee, build.position)
        if function is not None:
            cell, start, end = function
            pieces.append(cell.code[start:end])
        else:
            in_cell = [b for b in self.builds if b.cell is build.cell]
            index = in_cell.index(build)
            low = in_cell[index - 1].end if index else 0
            high = in_cell[index + 1].start if index + 1 < len(in_cell) else None
            text = build.cell.top_code(low, high)
            for match in reversed(list(_ADD_RE.finditer(text))):  # other models' .add(...)
                if match.group(1) != build.name:
                    end = _call_end(text, match.end() - 1)
                    blank = _NOT_NEWLINE_RE.sub(" ", text[match.start():end])
                    text = text[:match.start()] + blank + text[end:]
            pieces.append(text)
        rebuilt = [b.position for b in self.builds
                   if b.name == build.name and build.position < b.position]
        stop = min([until, *rebuilt])
        for cell in self.cells:
            for match in _ADD_RE.finditer(cell.code):
                if (match.group(1) == build.name and cell.top_level(match.start())
                        and build.position < (cell.rank, match.start()) < stop):
                    pieces.append(cell.code[match.start():_call_end(cell.code, match.end() - 1)])
        seen: set[tuple[int, int]] = set()
        index = 0
        while index < len(pieces):  # the notebook's functions that these pieces call
            for name in _NAME_CALL_RE.findall(pieces[index]):
                function = self.function(name, stop)
                if function is not None and (function[0].rank, function[1]) not in seen:
                    seen.add((function[0].rank, function[1]))
                    pieces.append(function[0].code[function[1]:function[2]])
            index += 1
        return _layer_types("\n".join(pieces), self.prefixes)

    def same_model(self, one: _Build, other: _Build) -> bool:
        """Whether two builds make the same model: one statement, word for word, calling the
        same notebook function (``model = build_model()`` run again)."""
        function = self.function(one.callee, one.position)
        statement = [re.sub(r"\s", "", b.cell.code[b.start:b.end]) for b in (one, other)]
        return (one.name == other.name and statement[0] == statement[1] and function is not None
                and function == self.function(other.callee, other.position))

    def trained(self, cell: _Cell, index: int, count: int) -> tuple[str | None, int, str | None]:
        """The model name that the ``index``-th of the ``count`` runs starting in ``cell``
        trained, the offset where the cell uses it, and why it cannot be told (else None)."""
        fits = [(m.group(1), m.start()) for m in _FIT_RE.finditer(cell.code)
                if cell.top_level(m.start()) and m.group(1) in self.models]
        names = sorted({name for name, _ in fits})
        if len(fits) == count or len(names) == 1:
            return (*fits[min(index, len(fits) - 1)], None)
        if fits:
            return None, len(cell.code), f"its cell calls fit on {', '.join(names)}"
        built = {b.name for b in self.builds if b.position < (cell.rank, len(cell.code))}
        top = cell.top_code()
        named = [(m.group(1), m.start()) for m in re.finditer(r"(?<![\w.])([A-Za-z_]\w*)\b", top)
                 if m.group(1) in built and not re.match(r"\s*=(?!=)", top[m.end():])]
        names = sorted({name for name, _ in named})
        if len(names) == 1:
            return (*named[0], None)
        reason = (f"its cell calls no fit and names several models ({', '.join(names)})" if names
                  else "its cell calls no fit or fit_generator of a model built before it")
        return None, len(cell.code), reason


# --------------------------------------------------------------------------- outputs


@dataclass
class _Run:
    """Output lines from one ``Epoch 1/N`` header up to the next, and where they came from."""

    start: int  # index of its first line among all output lines
    cells: list[_Cell] = field(default_factory=list)  # the cells printing its epoch headers
    lines: list[str] = field(default_factory=list)
    headers: list[int] = field(default_factory=list)  # k of each 'Epoch k/N', in order
    total: int = 0  # N of the last header
    stopped_early: bool = False  # EarlyStopping ended it: finished before epoch N


@dataclass
class _Table:
    """A printed ``model.summary()``: where, its ``Total params`` and the types it lists."""

    cell: _Cell
    line: int  # index of its 'Total params' line among all output lines
    params: int
    types: set[str]
    cut: set[str]  # types cut short beyond recognition
    build: _Build | None = None  # the model it summarises


def _lines(cells: Sequence[_Cell]) -> list[tuple[_Cell, str]]:
    return [(cell, line.strip()) for cell in cells
            for line in _ANSI_RE.sub("", cell.text).replace("\b", "").splitlines()]


def _split_runs(lines: Sequence[tuple[_Cell, str]], code: _Code) -> list[_Run]:
    """Runs start at the first header and at every ``Epoch 1/N``. A later cell's ``Epoch k/N``
    continues the run (resumed with ``initial_epoch``) unless it cannot: the run reached its
    last epoch and ``k`` goes back, or the cell trains a model of another name than the run's
    first cell. Then a run starts with that cell's output (whose first epochs, cut off, are
    not shown)."""
    starts: list[int] = []
    cells: list[_Cell] = []  # the cells printing the current run's headers
    top = total = 0  # the current run's highest epoch and its N
    for index, (cell, line) in enumerate(lines):
        header = _HEADER_RE.match(line)
        if not header:
            continue
        epoch = int(header.group(1))
        if not starts or epoch == 1:
            starts.append(index)
            cells, top = [], 0
        elif cell not in cells:
            names = {code.trained(c, 0, 1)[0] for c in (cell, cells[0])}
            if (top == total and epoch <= top) or (len(names) == 2 and None not in names):
                starts.append(min(i for i in range(starts[-1], index) if lines[i][0] is cell))
                cells, top = [], 0
        if cell not in cells:
            cells.append(cell)
        top, total = max(top, epoch), int(header.group(2))
    runs = []
    for start, end in zip(starts, [*starts[1:], len(lines)]):
        run = _Run(start)
        for cell, line in lines[start:end]:
            if header := _HEADER_RE.match(line):
                run.headers.append(int(header.group(1)))
                run.total = int(header.group(2))
                if cell not in run.cells:
                    run.cells.append(cell)
            run.stopped_early |= bool(_EARLY_STOP_RE.search(line))
            run.lines.append(line)
        runs.append(run)
    return runs


def _tables(lines: Sequence[tuple[_Cell, str]], code: _Code) -> list[_Table]:
    """The printed summaries, each given the build it summarises."""
    tables, types, inside, previous = [], set(), False, None
    for index, (cell, line) in enumerate(lines):
        if cell is not previous:
            inside, previous = False, cell
        if "Layer (type)" in line:
            inside, types = True, set()
        elif match := _TOTAL_PARAMS_RE.search(line):
            found = types if inside else set()
            tables.append(_Table(cell, index, int(match.group(1).replace(",", "")),
                                 {t for t in found if not t.endswith("…")},
                                 {t[:-1] for t in found if t.endswith("…")}))
            inside = False
        elif inside:
            for name, end in _SUMMARY_TYPE_RE.findall(line):
                matches = {_ALIASES.get(layer, layer) for layer in _KNOWN_LAYERS
                           if layer.startswith(name)}  # MaxPool... is MaxPooling2D either way
                if end == ")":
                    types.add(_ALIASES.get(name, name))
                elif len(matches) == 1:
                    types |= matches
                else:
                    types.add(name + "…")
    for cell in {id(t.cell): t.cell for t in tables}.values():
        own = [t for t in tables if t.cell is cell]
        calls = [(m.group(1), m.start()) for m in _SUMMARY_CALL_RE.finditer(cell.code)
                 if cell.top_level(m.start())]
        for k, table in enumerate(own):
            if calls:
                name, offset = calls[min(k, len(calls) - 1)]
                table.build = code.last_build((cell.rank, offset), name)
            else:
                table.build = code.last_build((cell.rank, len(cell.code) + 1))
    return tables


# --------------------------------------------------------------------------- runs


@dataclass
class _Parsed:
    """A parsed run: its result lines as a history frame (trailing epochs without validation
    dropped; None without any), its completed epochs and parser notes."""

    run: _Run
    frame: pd.DataFrame | None
    completed: int
    unread: list[int]  # completed epochs without a result line
    cut: set[int]  # epochs whose result line is cut short
    finished: bool
    notes: list[str]  # parser warnings other than missing epochs (this module lists those)


def _parse_run(run: _Run, source: str) -> _Parsed:
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            frame = parse_keras_log("\n".join(run.lines), source=source)
        except LogParseError:
            frame = None
    notes += [str(w.message) for w in caught if not issubclass(w.category, MissingEpochWarning)]
    cut = {w.message.epoch for w in caught if isinstance(w.message, CutEpochWarning)}
    if frame is not None and "val_acc" in frame.columns and frame["val_acc"].notna().any():
        while pd.isna(frame["val_acc"].iloc[-1]):
            frame = frame.iloc[:-1]
    if frame is not None and not len(frame):
        frame = None
    read = set() if frame is None else set(frame["epoch"])
    top = max(run.headers)
    completed = read | set(range(1, top))  # 'Epoch k/N' means epochs 1..k-1 ran
    finished = top in read and (top == run.total or run.stopped_early)
    return _Parsed(run, frame, len(completed), sorted(completed - read), cut, finished, notes)


def _cell_names(cells: Sequence[_Cell]) -> str:
    numbers = [str(c.number) for c in cells]
    return ("cell " if len(numbers) == 1 else "cells ") + ", ".join(numbers)


# --------------------------------------------------------------------------- models


@dataclass
class _Model:
    """What a run trained, as far as the notebook shows it, and problems reading it."""

    build: _Build | None
    params: int | None
    types: set[str]
    table: _Table | None
    problems: list[str]

    @property
    def is_base(self) -> bool:
        """Whether it is the course's base network (see the module docstring)."""
        if self.params is not None:
            return self.params == BASE_NETWORK_PARAMS
        return self.types == BASE_NETWORK_LAYERS


def _pick_table(tables: Sequence[_Table], start: int) -> tuple[_Table | None, bool]:
    """The last table printed before output line ``start``, else the first after; and
    whether it came before."""
    before = [t for t in tables if t.line < start]
    return (before[-1], True) if before else (tables[0] if tables else None, False)


def _model(code: _Code, tables: Sequence[_Table], cell: _Cell, offset: int, start: int,
           name: str | None = None, reason: str | None = None,
           run: int | None = None) -> _Model:
    """The model used at ``offset`` in ``cell`` (output line ``start`` on): the build of
    ``name`` before it, else (saying why: ``reason``, for ``run`` number) the last model built
    before it; its printed summary, parameters and layer types."""
    position, problems = (cell.rank, offset), []
    where = "the graded run" if run is not None else "the notebook's end"
    build = code.last_build(position, name) if name else None
    if build is None:
        build = code.last_build(position)
        if build is not None and run is not None:
            why = f"`{name}` is not built before it" if name else reason
            problems.append(f"could not trace the model that run {run} trained ({why}): took "
                            f"the last model built before it, `{build.name}` "
                            f"({_cell_names([build.cell])})")
    if build is None:  # the code shows no model built: all code, the last summary
        table, before = _pick_table(tables, start)
        types = set().union(*(_layer_types(c.code, code.prefixes) for c in code.cells
                              if c.rank <= cell.rank))
        if types:
            problems.append(f"no cell builds a model (`model = ...(...)`) before {where}: "
                            "layer types from all code run before it")
        counts = sorted({t.params for t in tables})
        if table is not None and len(counts) > 1:
            which = "the last printed before" if before else "the first printed after"
            problems.append(f"model summaries show {', '.join(f'{c:,}' for c in counts)} "
                            f"parameters: took {table.params:,}, {which} {where}")
    else:
        table, _ = _pick_table([t for t in tables if t.build is not None and (
            t.build is build or code.same_model(t.build, build))], start)
        types = code.model_types(build, position)
        if table is None and tables:
            problems.append(f"no printed model.summary() of the model of {where} "
                            f"(`{build.name}`, {_cell_names([build.cell])}): parameters unknown")
    if not tables:
        problems.append("no 'Total params' line (printed model.summary()) in the outputs")
    if table is not None:
        types |= table.types
        if nested := sorted(table.types & _NESTED_MODELS):
            problems.append(f"its printed summary lists a nested model ({', '.join(nested)}) "
                            "without its layers: check its layer types by hand")
        if table.cut:
            problems.append(f"its printed summary cuts layer types short "
                            f"({', '.join(sorted(table.cut))}…): check them by hand")
    return _Model(build, None if table is None else table.params, types - _NESTED_MODELS,
                  table, problems)


def _out_of_order(cells: Sequence[_Cell], order: Sequence[_Cell], runs: Sequence[_Run],
                  code: _Code) -> list[str]:
    """A problem when the cells that build models or print runs ran in another order."""
    relevant = {id(c) for run in runs for c in run.cells} | {id(b.cell) for b in code.builds}
    as_placed = [c for c in cells if id(c) in relevant]
    as_ran = [c for c in order if id(c) in relevant]
    if as_placed == as_ran:
        return []
    return [f"the execution counts show that cells ran in another order than they stand: read "
            f"in the order they ran ({_cell_names(as_ran)})"]


# --------------------------------------------------------------------------- grading


def _empty_row(path: str) -> dict[str, Any]:
    return {column: None for column in COLUMNS} | {"notebook": path}


def _pick_run(runs: Sequence[_Run], code: _Code, tables: Sequence[_Table],
              source: str) -> tuple[_Parsed, _Model, list[str]]:
    """The graded run (the student's last, else the last), its model and the problems."""
    starts = [run.cells[0] for run in runs]
    models = []
    for number, run in enumerate(runs, start=1):
        first = run.cells[0]
        name, offset, reason = code.trained(first, starts[:number - 1].count(first),
                                            starts.count(first))
        models.append(_model(code, tables, first, offset, run.start, name, reason, number))
    own = [i for i, model in enumerate(models) if not model.is_base]
    index = own[-1] if own else len(runs) - 1
    graded, model = _parse_run(runs[index], source), models[index]
    problems = list(graded.notes)
    where = f"run {index + 1} ({_cell_names(graded.run.cells)})"
    if not own:
        problems.append(f"the notebook holds no run of the student's own model, only of the "
                        f"course's base network: graded its last run, {where}")
    if len(runs) > 1:
        base = len(runs) - len(own) if own else 0  # base network runs among the others
        last = "the last of the student's own model" if own else "the last"
        of_base = f" ({base} of the base network)" if base else ""
        problems.append(f"{len(runs)} training runs in the outputs: graded {where}, {last}; "
                        f"the other {len(runs) - 1} not graded{of_base}")
    if not graded.finished:
        run, stopped = graded.run, graded.run.cells[-1].error
        top = max(run.headers)
        state = "after" if graded.frame is not None and top in set(graded.frame["epoch"]) else "in"
        if stopped:
            why = f"the cell raised {stopped}"
        else:
            why = "its result line is cut short" if top in graded.cut else "the output ends there"
        problems.append(f"interrupted {state} epoch {top} of {run.total} ({why}): graded its "
                        f"{graded.completed} completed epoch{'' if graded.completed == 1 else 's'}")
    if graded.unread:
        problems.append(f"no complete result line for {_epochs(graded.unread)} (cut short or "
                        "missing): counted as completed (a later epoch started), adds no accuracy")
    return graded, model, problems + model.problems


def _grade(path: str | os.PathLike[str]) -> tuple[dict[str, Any], pd.DataFrame | None]:
    """The notebook's row and the graded run's history frame (None without one)."""
    row = _empty_row(str(path))
    try:
        cells = _read_cells(Path(path))
    except (OSError, ValueError) as exc:  # JSON and Unicode errors are ValueErrors
        row["problems"] = f"cannot read the notebook: {exc}"
        return row, None
    order = _run_order(cells)
    code = _Code.read(order)
    lines = _lines(order)
    runs = _split_runs(lines, code)
    tables = _tables(lines, code)
    if runs:
        graded, model, problems = _pick_run(runs, code, tables, str(path))
        frame = graded.frame
    else:  # no run to grade: the notebook's last model
        last = order[-1] if order else _Cell(0, "", "", None)
        model = _model(code, tables, last, len(last.code) + 1, len(lines))
        graded, frame = None, None
        problems = ["no training log (Keras 'Epoch 1/N' output) in the cell outputs",
                    *model.problems]
    problems = _out_of_order(cells, order, runs, code) + problems
    if graded is not None and frame is not None and "val_acc" in frame.columns:
        summary = summarize_run(frame)
        row.update(epochs=graded.completed, best_val_acc=summary.best_val_acc,
                   best_epoch=summary.best_epoch, final_val_acc=summary.final_val_acc,
                   beats_base=summary.best_val_acc > BASE_ACCURACY)
        if graded.completed != EPOCHS_REQUIRED:
            plural = "" if graded.completed == 1 else "s"
            problems.append(f"trained {graded.completed} epoch{plural}, the assignment asks for "
                            f"{EPOCHS_REQUIRED}")
    elif graded is not None:
        problems.append("the graded run has no finished epoch with validation accuracy "
                        "(val_accuracy / val_acc)")
        frame = None
    if model.params is not None:
        row["params"] = model.params
        if model.params >= MAX_PARAMS:
            problems.append(f"{model.params:,} parameters, the limit is fewer than {MAX_PARAMS:,}")
    if model.types:
        row["layer_types"] = ", ".join(sorted(model.types))
        forbidden = bool(model.types & set(FORBIDDEN_LAYERS))
        unseen = model.table is not None and bool(model.table.cut
                                                  or model.table.types & _NESTED_MODELS)
        row["separable_only"] = False if forbidden else None if unseen else True
    else:
        problems.append("no Keras layer calls (e.g. layers.SeparableConv2D(...)) in the code "
                        "and no layer types in a printed model.summary()")
    row["problems"] = " | ".join(problems)
    return row, frame


def grade_notebook(path: str | os.PathLike[str]) -> dict[str, Any]:
    """One notebook's row (keys :data:`COLUMNS`); an unreadable file gives a row saying why.

    >>> grade_notebook("submissions/alice.ipynb")["best_val_acc"]  # doctest: +SKIP
    0.8412
    """
    return _grade(path)[0]


def _table(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    table = pd.DataFrame(list(rows), columns=COLUMNS)
    return table.astype({"epochs": "Int64", "best_epoch": "Int64", "params": "Int64",
                         "best_val_acc": "float64", "final_val_acc": "float64",
                         "separable_only": "boolean", "beats_base": "boolean"})


def grade(paths: Iterable[str | os.PathLike[str]]) -> pd.DataFrame:
    """One row per notebook (columns :data:`COLUMNS`), in the order given.

    Integer columns are pandas ``Int64`` and the flags ``boolean``, so missing values stay
    ``<NA>`` instead of turning the column into floats.

    >>> grade(find_notebooks(["submissions/"]))  # doctest: +SKIP
    """
    return _table(grade_notebook(path) for path in paths)


def find_notebooks(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Files as given, and the ``*.ipynb`` under each folder (recursively, sorted), skipping
    ``.ipynb_checkpoints``; FileNotFoundError names a path that does not exist."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found += sorted(p for p in path.rglob("*.ipynb")
                            if ".ipynb_checkpoints" not in p.relative_to(path).parts)
        elif path.exists():
            found.append(path)
        else:
            raise FileNotFoundError(f"no such notebook or folder: {path}")
    return found


# --------------------------------------------------------------------------- command line


def _percent(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.2%}"


def _format_table(table: pd.DataFrame) -> str:
    """The grading table sorted by final accuracy (best first, unknown last), then problems."""
    table = table.sort_values("final_val_acc", ascending=False, na_position="last", kind="stable")
    flag = {True: "yes", False: "no"}
    shown = pd.DataFrame({
        "notebook": table["notebook"],
        "epochs": table["epochs"].map(str, na_action="ignore"),
        "best val_acc": table["best_val_acc"].map(_percent),
        "best epoch": table["best_epoch"].map(str, na_action="ignore"),
        "final val_acc": table["final_val_acc"].map(_percent),
        "params": table["params"].map("{:,}".format, na_action="ignore"),
        "separable only": table["separable_only"].map(flag, na_action="ignore"),
        f"beats {BASE_ACCURACY:.1%}": table["beats_base"].map(flag, na_action="ignore"),
    }).astype(object).fillna("–")  # object first: an all-missing Int64 column refuses "–"
    problems = [f"- {row.notebook}: {row.problems}" for row in table.itertuples() if row.problems]
    width = max(len("notebook"), *map(len, shown["notebook"]))  # left-aligned, header too
    shown["notebook"] = shown["notebook"].str.ljust(width)
    text = shown.rename(columns={"notebook": "notebook".ljust(width)}).to_string(index=False)
    return "\n".join([text, *(["", "problems:", *problems] if problems else [])])


def _plot(runs: dict[str, pd.DataFrame], path: str) -> None:
    from assignment_utils.plots import plot_validation_accuracy

    baselines = {"base": load_baseline("base"), "reference": load_baseline("reference")}
    plot_validation_accuracy(runs, baselines, path=path)


def main(argv: list[str] | None = None) -> int:
    """Command line: print the grading table, optionally write CSV and plot; 0 ok, 2 on errors.

    >>> main(["submissions/", "--csv", "grades.csv", "--plot", "curves.png"])  # doctest: +SKIP
    """
    parser = argparse.ArgumentParser(
        prog="python -m assignment_utils.grade",
        description="Grade rendered notebooks of the CIFAR-10 separable-convolution assignment "
                    "from their outputs: epochs, best and final validation accuracy, parameters, "
                    "layer types, and what to check by hand.")
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="a notebook (.ipynb) or a folder searched recursively")
    parser.add_argument("--csv", metavar="FILE", help="write the full table as CSV")
    parser.add_argument("--plot", metavar="FILE",
                        help="save every notebook's validation accuracy against the base and "
                             "reference logs (PNG; .svg or .pdf by the suffix)")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage, 0 on --help
        return int(exc.code or 0)
    try:
        notebooks = find_notebooks(args.paths)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not notebooks:
        print(f"error: no .ipynb files in {', '.join(args.paths)}", file=sys.stderr)
        return 2

    graded = [_grade(path) for path in notebooks]
    table = _table(row for row, _ in graded)
    print(_format_table(table))
    try:
        if args.csv:
            table.to_csv(args.csv, index=False)
            print(f"table saved to {args.csv}")
        if args.plot:
            runs = {row["notebook"]: frame for row, frame in graded if frame is not None}
            _plot(runs, args.plot)
            print(f"plot saved to {args.plot}")
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
