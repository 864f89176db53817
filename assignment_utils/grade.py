"""Grade rendered notebooks of the assignment from what they show: one row per notebook.

The assignment: a Keras network for CIFAR-10 with depthwise separable convolutions only,
fewer than 100,000 parameters, trained 50 epochs, beating the base's best validation
accuracy of 82.8 %. Command line::

    python -m assignment_utils.grade submissions/ other.ipynb [--csv grades.csv] [--plot curves.png]

Columns of :func:`grade` (a value that cannot be read is ``None``/NaN and ``problems`` says
why; nothing is guessed):

- ``notebook``: the path as given.
- ``epochs``, ``best_val_acc``, ``best_epoch``, ``final_val_acc``: the graded training run
  (:class:`~assignment_utils.summaries.RunSummary`; accuracies as fractions).
- ``params``: ``Total params`` of a printed ``model.summary()`` (Keras 2 or 3, ANSI or
  HTML): the last one printed before the graded run starts, else the first after it.
- ``layer_types``: Keras layer classes called in the code cells and listed in printed
  ``model.summary()`` tables, sorted, comma-separated. In code: ``layers.X(`` (any module
  path ending in ``layers``, or an alias imported as ``layers as L``) and a bare or dotted
  ``X(`` for a known layer name; comments and strings are skipped. In a summary: the
  ``(Type)`` after each layer's name, between ``Layer (type)`` and ``Total params``; a type
  the summary cut short (``(BatchNormalizatio…``) is the one known layer it starts, else a
  problem. Keras 1/2 aliases become the class name (``Convolution2D`` -> ``Conv2D``). Every
  cell counts, so an earlier experiment's layers count too (check such rows by hand).
- ``separable_only``: layer types were found and none is a plain or transposed convolution
  or a dense layer (:data:`~assignment_utils.rubric.FORBIDDEN_LAYERS`: ``Conv1D``,
  ``Conv2D``, ``Conv3D``, their ``Transpose`` versions, ``SeparableConv1D``,
  ``DepthwiseConv1D``, ``Dense``, ``EinsumDense``); unknown (empty) where a summary lists a
  nested model, whose layers it hides, or cuts a type short beyond recognition, unless a
  forbidden layer was seen anyway.
- ``beats_base``: ``best_val_acc > BASE_ACCURACY`` (0.828), strictly, at full precision.
- ``problems``: ``" | "``-separated; empty when there is nothing to check by hand. Besides
  what could not be read it names several training runs, an unfinished run, parser
  warnings, and broken rules (epochs other than 50, 100,000 parameters or more).

How outputs are read. A notebook is read as JSON: nbformat 4 (Jupyter, Colab, VS Code) and
nbformat 3 (cells under ``worksheets``, ``input``, ``pyout`` outputs). The text of a code
cell is its ``stdout`` stream outputs (joined as written, so a line may span outputs) and
the plain text of its results and displays (``text/plain``, else ``text/html`` with its tags
removed); ``stderr``, errors and images are left out. Training runs are cut from the text of
all cells, in cell order, at every ``Epoch 1/N`` header and parsed with
:func:`~assignment_utils.logs.parse_keras_log` (``\\r``, ``\\b`` and ANSI codes are handled
there). A run is finished when its last epoch is ``N`` (or ``EarlyStopping`` says it
stopped there) with validation metrics. The graded
run is the last finished one; when none finished, the last run with its finished epochs (an
epoch without validation metrics, cut mid-line, is dropped).
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

from assignment_utils.logs import _ANSI_RE, _HEADER_RE, LogParseError, parse_keras_log
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
_EARLY_STOP_RE = re.compile(r"\bEpoch\s+\d+\s*:\s*early stopping")  # Keras 2 and 3


# --------------------------------------------------------------------------- reading


@dataclass(eq=False)  # compared by identity
class _Cell:
    """A code cell: its 1-based position among all cells, source, output text, error name."""

    number: int
    source: str
    text: str
    error: str | None


def _joined(value: Any) -> str:
    """Notebook text fields are a string or a list of strings."""
    return "".join(value) if isinstance(value, list) else str(value or "")


def _output_text(output: dict) -> str:
    kind = output.get("output_type")
    if kind == "stream":
        stdout = output.get("name", output.get("stream")) == "stdout"  # nbformat 4, 3
        return _joined(output.get("text")) if stdout else ""
    if kind not in ("execute_result", "display_data", "pyout"):
        return ""
    data = output.get("data", output)  # nbformat 3 keeps the MIME keys on the output itself
    for key in ("text/plain", "text"):
        if key in data:
            return "\n" + _joined(data[key]) + "\n"
    for key in ("text/html", "html"):
        if key in data:
            return "\n" + html.unescape(_TAG_RE.sub("", _joined(data[key]))) + "\n"
    return ""


def _read_cells(path: Path) -> list[_Cell]:
    """The code cells of a notebook file; ValueError when it is not a Jupyter notebook."""
    with open(path, encoding="utf-8") as fh:
        nb = json.load(fh)
    if not isinstance(nb, dict):
        raise ValueError("not a Jupyter notebook (the JSON is not an object)")
    if isinstance(nb.get("worksheets"), list):  # nbformat 3
        cells = [c for sheet in nb["worksheets"] if isinstance(sheet, dict)
                 for c in sheet.get("cells") or []]
    elif isinstance(nb.get("cells"), list):
        cells = nb["cells"]
    else:
        raise ValueError("not a Jupyter notebook (no 'cells', nor 'worksheets' of nbformat 3)")
    code = []
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        outputs = [o for o in cell.get("outputs") or [] if isinstance(o, dict)]
        errors = [o.get("ename", "an error") for o in outputs
                  if o.get("output_type") in ("error", "pyerr")]
        code.append(_Cell(number, _joined(cell.get("source", cell.get("input"))),
                          "".join(_output_text(o) for o in outputs), errors[-1] if errors else None))
    return code


# --------------------------------------------------------------------------- training runs


@dataclass
class _Run:
    """Output lines from one ``Epoch 1/N`` header up to the next, and where they came from."""

    start: int  # index of its first line among all output lines
    cells: list[_Cell] = field(default_factory=list)  # the cells printing its epoch headers
    lines: list[str] = field(default_factory=list)
    total: int = 0  # N of the last header
    last_header: int = 0  # k of the last header
    stopped_early: bool = False  # EarlyStopping ended it: finished before epoch N


@dataclass
class _Graded:
    """A parsed run: its history frame (finished epochs only) and whether it finished."""

    run: _Run
    frame: pd.DataFrame | None
    finished: bool
    notes: list[str]


def _lines(cells: Sequence[_Cell]) -> list[tuple[_Cell, str]]:
    return [(cell, line.strip()) for cell in cells
            for line in _ANSI_RE.sub("", cell.text).replace("\b", "").splitlines()]


def _split_runs(lines: Sequence[tuple[_Cell, str]]) -> list[_Run]:
    runs: list[_Run] = []
    for index, (cell, line) in enumerate(lines):
        header = _HEADER_RE.match(line)
        if header and (int(header.group(1)) == 1 or not runs):
            runs.append(_Run(index))
        if not runs:
            continue
        run = runs[-1]
        if header:
            run.last_header, run.total = int(header.group(1)), int(header.group(2))
            if cell not in run.cells:
                run.cells.append(cell)
        run.stopped_early |= bool(_EARLY_STOP_RE.search(line))
        run.lines.append(line)
    return runs


def _parse_run(run: _Run, source: str) -> _Graded:
    """Parse a run; drop a last epoch cut before its validation metrics."""
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            frame = parse_keras_log("\n".join(run.lines), source=source)
        except LogParseError:
            frame = None
    notes += [str(w.message) for w in caught]
    if frame is not None and "val_acc" in frame.columns and frame["val_acc"].notna().any():
        while pd.isna(frame["val_acc"].iloc[-1]):
            frame = frame.iloc[:-1]
    last = int(frame["epoch"].iloc[-1]) if frame is not None and len(frame) else 0
    finished = (frame is not None and run.last_header <= last
                and (last == run.total or run.stopped_early))
    return _Graded(run, frame if frame is not None and len(frame) else None, finished, notes)


def _cell_names(cells: Sequence[_Cell]) -> str:
    numbers = [str(c.number) for c in cells]
    return ("cell " if len(numbers) == 1 else "cells ") + ", ".join(numbers)


def _pick_run(runs: Sequence[_Run], source: str) -> tuple[_Graded | None, list[str]]:
    """The graded run (last finished, else last) and the problems found choosing it."""
    if not runs:
        return None, ["no training log (Keras 'Epoch 1/N' output) in the cell outputs"]
    parsed = [_parse_run(run, source) for run in runs]
    finished = [p for p in parsed if p.finished]
    graded = finished[-1] if finished else parsed[-1]
    problems = list(graded.notes)
    if len(runs) > 1:
        which = "the last that finished" if finished else "none finished"
        problems.append(f"{len(runs)} training runs in the outputs: graded run "
                        f"{parsed.index(graded) + 1} ({_cell_names(graded.run.cells)}), {which}")
    if not graded.finished:
        run, kept = graded.run, 0 if graded.frame is None else len(graded.frame)
        stopped = run.cells[-1].error
        problems.append(f"the graded run stops in epoch {max(run.last_header, kept)} of {run.total}"
                        f" ({f'the cell raised {stopped}' if stopped else 'interrupted or output cut'})"
                        f", graded its {kept} finished epoch{'' if kept == 1 else 's'}")
    return graded, problems


# --------------------------------------------------------------------------- model facts


def _params(lines: Sequence[tuple[_Cell, str]], graded: _Graded | None) -> tuple[int | None, list[str]]:
    found = [(i, int(m.group(1).replace(",", ""))) for i, (_, line) in enumerate(lines)
             for m in [_TOTAL_PARAMS_RE.search(line)] if m]
    if not found:
        return None, ["no 'Total params' line (printed model.summary()) in the outputs"]
    start = graded.run.start if graded is not None else len(lines)
    before = [count for i, count in found if i < start]
    params = before[-1] if before else found[0][1]
    counts = sorted({count for _, count in found})
    if len(counts) > 1:
        where = "the last printed before" if before else "the first printed after"
        return params, [f"model summaries show {', '.join(f'{c:,}' for c in counts)} parameters: "
                        f"took {params:,}, {where} the graded run"]
    return params, []


def _layer_types(cells: Iterable[_Cell]) -> list[str]:
    code = _NOT_CODE_RE.sub(" ", "\n".join(cell.source for cell in cells))
    prefixes = {"layers", *_LAYERS_ALIAS_RE.findall(code)}
    found = set()
    for path, name in _CALL_RE.findall(code):
        module = path.rstrip(".").rsplit(".", 1)[-1]
        if name in _KNOWN_LAYERS or module in prefixes:
            found.add(_ALIASES.get(name, name))
    return sorted(found)


def _summary_layer_types(lines: Sequence[tuple[_Cell, str]]) -> tuple[list[str], list[str]]:
    """Layer classes listed in printed ``model.summary()`` tables, and problems with them."""
    found, cut, inside = set(), set(), False
    for _, line in lines:
        if "Layer (type)" in line:
            inside = True
        elif _TOTAL_PARAMS_RE.search(line):
            inside = False
        elif inside:
            for name, end in _SUMMARY_TYPE_RE.findall(line):
                if end == ")":
                    found.add(_ALIASES.get(name, name))
                    continue
                matches = {_ALIASES.get(layer, layer) for layer in _KNOWN_LAYERS
                           if layer.startswith(name)}  # MaxPool... is MaxPooling2D either way
                if len(matches) == 1:
                    found |= matches
                else:
                    cut.add(name)
    problems = []
    if nested := sorted(found & _NESTED_MODELS):
        problems.append(f"a printed summary lists a nested model ({', '.join(nested)}) without "
                        "its layers: check its layer types by hand")
    if cut:
        problems.append(f"a printed summary cuts layer types short ({', '.join(sorted(cut))}…): "
                        "check them by hand")
    return sorted(found - _NESTED_MODELS), problems


# --------------------------------------------------------------------------- grading


def _empty_row(path: str) -> dict[str, Any]:
    return {column: None for column in COLUMNS} | {"notebook": path}


def _grade(path: str | os.PathLike[str]) -> tuple[dict[str, Any], pd.DataFrame | None]:
    """The notebook's row and the graded run's history frame (None without one)."""
    row = _empty_row(str(path))
    try:
        cells = _read_cells(Path(path))
    except (OSError, ValueError) as exc:  # JSON and Unicode errors are ValueErrors
        row["problems"] = f"cannot read the notebook: {exc}"
        return row, None
    lines = _lines(cells)
    graded, problems = _pick_run(_split_runs(lines), str(path))
    frame = graded.frame if graded is not None else None
    if frame is not None and "val_acc" in frame.columns:
        summary = summarize_run(frame)
        row.update(epochs=summary.epochs, best_val_acc=summary.best_val_acc,
                   best_epoch=summary.best_epoch, final_val_acc=summary.final_val_acc,
                   beats_base=summary.best_val_acc > BASE_ACCURACY)
        if summary.epochs != EPOCHS_REQUIRED:
            problems.append(f"trained {summary.epochs} epochs, the assignment asks for "
                            f"{EPOCHS_REQUIRED}")
    elif graded is not None:
        problems.append("the graded run has no finished epoch with validation accuracy "
                        "(val_accuracy / val_acc)")
        frame = None
    params, notes = _params(lines, graded)
    problems += notes
    if params is not None:
        row["params"] = params
        if params >= MAX_PARAMS:
            problems.append(f"{params:,} parameters, the limit is fewer than {MAX_PARAMS:,}")
    listed, unseen = _summary_layer_types(lines)
    problems += unseen
    types = sorted(set(_layer_types(cells)) | set(listed))
    if types:
        row["layer_types"] = ", ".join(types)
        forbidden = bool(set(types) & set(FORBIDDEN_LAYERS))
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
    from assignment_utils.baselines import load_baseline
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
                             "reference logs as a PNG")
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
