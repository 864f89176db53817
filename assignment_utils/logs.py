"""Read Keras training logs into one schema, the *history frame*.

A history frame is a :class:`pandas.DataFrame` with one row per epoch, sorted by epoch:

- ``epoch``: int, 1-based (as Keras prints ``Epoch 1/50``);
- ``loss``, ``acc``, ``val_loss``, ``val_acc``: floats, accuracies as fractions, each only
  when the source has it (a run without validation has no ``val_*`` columns);
- ``seconds``: float, the epoch's wall time, only when the source prints it (text logs);
- then every other metric (``learning_rate``, ``lr``, ``top5``, ...), sorted by name with
  ``val_x`` right after ``x``.

Keras 3 ``accuracy``, Keras 2 ``acc``, ``sparse_categorical_accuracy`` and
``categorical_accuracy`` (and their ``val_`` versions) all become ``acc``/``val_acc``; when
a source has several of them the first in that order wins and the others keep their names.
An accuracy column (``acc``, ``val_acc`` or any ``*_acc``/``*accuracy`` metric) whose finite
values all lie in (1, 100] holds percentages: it is divided by 100, with a :class:`LogWarning`;
one with values above 1 that are not all in (1, 100] is a :class:`LogParseError`.

Sources: text logs, including Jupyter notebooks (:func:`parse_keras_log`,
:func:`parse_keras_runs`), ``History`` objects and dicts (:func:`history_to_frame`), ``History``
saved as JSON (:func:`read_history_json`), ``CSVLogger`` files (:func:`read_csv_log`), or any of
these (:func:`as_history_frame`). Files are decoded as UTF-8, or as UTF-16 when they start with
its byte-order mark (a UTF-8 one is skipped). Repeated epochs (a resumed run: the last one
wins) and a text holding several runs (the last is returned) are reported with a
:class:`LogWarning`; missing epochs, and a text log's epochs whose line is cut short (dropped),
with a :class:`MissingEpochWarning` (a :class:`CutEpochWarning` for a cut one), see
:func:`parse_keras_log`.

Summaries of a run (best and last validation accuracy) are in :mod:`assignment_utils.summaries`,
the command line is :mod:`assignment_utils.log_cli`.
"""

from __future__ import annotations

import codecs
import io
import json
import math
import os
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd

__all__ = [
    "CutEpochWarning",
    "LogParseError",
    "LogWarning",
    "MissingEpochWarning",
    "as_history_frame",
    "history_to_frame",
    "parse_keras_log",
    "parse_keras_runs",
    "read_csv_log",
    "read_history_json",
]

LEADING_COLUMNS = ("epoch", "loss", "acc", "val_loss", "val_acc", "seconds")
# Accuracy names that become ``acc``/``val_acc``, in order of precedence.
ACCURACY_ALIASES = ("acc", "accuracy", "sparse_categorical_accuracy", "categorical_accuracy")
# Columns that hold accuracies (after removing ``val_``), so fractions or percentages.
_ACCURACY_COLUMN_RE = re.compile(r"(?:^|_)acc(?:uracy)?$")


class LogParseError(ValueError):
    """The input holds no Keras training epochs, or its epochs or metrics are malformed."""


class LogWarning(UserWarning):
    """A log is usable but odd: an epoch repeats or is missing, an epoch's line is cut short,
    a text holds several runs, or accuracies are in percent."""


class MissingEpochWarning(LogWarning):
    """Epochs are missing from a log: absent, or dropped because their metrics line is cut
    short (:class:`CutEpochWarning`)."""


class CutEpochWarning(MissingEpochWarning):
    """An epoch's metrics line is cut short (a value cut in its digits, a partial metric), so
    the epoch is dropped; ``epoch`` is its number."""

    def __init__(self, message: str, epoch: int) -> None:
        super().__init__(message)
        self.epoch = epoch


# --------------------------------------------------------------------------- text logs

_ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_HEADER_RE = re.compile(r"^\W*Epoch\s+(\d+)\s*/\s*(\d+)\b(.*)$")
_NUMBER = r"[-+]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[nN]a[nN]|[iI]nf(?:inity)?)"
_PAIR_RE = re.compile(r"(?:^|\s)-\s*([A-Za-z_]\w*)\s*:\s*(" + _NUMBER + r")(?![\w.:/])")
_STEPS_RE = re.compile(r"(\d+)/(\d+)")
_TIME_RE = re.compile(r"(?<![\w.:/])(\d+(?:\.\d+)?)([hms])(?![\w/])")
_TIME_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0}
# What a line cut inside a metric ends with: " -", " - val_ac", " - val_acc:", " - loss: na".
_PARTIAL_PAIR_RE = re.compile(r"\s*-(?:\s*[A-Za-z_]\w*(?:\s*:\s*\S*)?)?\s*")


@dataclass(frozen=True)
class _EpochLine:
    """One line that may end an epoch: its metrics, what kind of line it is, and its text."""

    metrics: dict[str, float]
    is_keras3_bar: bool  # drawn with Keras 3's "━" bar, so possibly redrawn later
    text: str  # without ANSI codes, to judge a last line that the text ends in

    @property
    def has_validation(self) -> bool:
        return any(name.startswith("val_") for name in self.metrics)


def _epoch_line(line: str) -> _EpochLine | None:
    """Return the epoch-end line's metrics, or None for any other line (incl. per-step ones)."""
    pairs = [(m.group(1), m.group(2), m.start()) for m in _PAIR_RE.finditer(line)]
    metrics = {name: float(value) for name, value, _ in pairs if name != "ETA"}
    if "loss" not in metrics:
        return None
    head = line[: pairs[0][2]]
    has_validation = any(name.startswith("val_") for name in metrics)
    steps = _STEPS_RE.search(head)
    unfinished = (
        "ETA" in head
        or "/Unknown" in head
        or (steps is not None and int(steps.group(1)) < int(steps.group(2)))
    )
    if unfinished and not has_validation:
        return None
    times = _TIME_RE.findall(head)
    if times:
        metrics["seconds"] = sum(float(value) * _TIME_UNITS[unit] for value, unit in times)
    return _EpochLine(metrics, is_keras3_bar="━" in head, text=line)


def _pick(lines: list[_EpochLine]) -> _EpochLine:
    """The epoch-end line of one epoch's block: the last with validation metrics, else the last.

    Preferring validation lines skips Keras 3's provisional ``N/N`` line (drawn before the
    callbacks run) and ``model.evaluate`` output printed after the last epoch.
    """
    with_validation = [line for line in lines if line.has_validation]
    return (with_validation or lines)[-1]


def parse_keras_log(text: str, *, source: str | None = None) -> pd.DataFrame:
    """Parse Keras ``fit`` output (Keras 1/2/3, ``verbose=1`` or ``2``) into a history frame.

    Everything that is not an ``Epoch k/N`` header or an epoch-end metrics line is ignored:
    per-step progress lines, ANSI colours, ``\\r``/``\\b`` redraws, callback messages and
    any markdown around the log. The epoch-end lines before the first header belong to
    the epoch before it (a log pasted without its ``Epoch 1/N`` line); a text without any
    header is read as consecutive epochs from 1. A Jupyter notebook's JSON (an ``.ipynb``
    file's text, nbformat 4 or 3) is read as the text its cells printed: stream output as
    written (a line may span outputs) and ``text/plain`` results. ``source`` names the text in
    messages.

    A text can hold several runs (see :func:`parse_keras_runs`); this returns the last one,
    with a :class:`LogWarning` that says how many there are, never a merge of them.

    An epoch whose line is cut short is dropped with a :class:`CutEpochWarning`; it never
    becomes a value. Cut short means the line ends in a partial metric (``- val_ac``,
    ``- val_acc:``) or in a number cut in its digits (``0.`` or ``1.0000e-0``, or fewer
    decimals than the line's other values, as Keras prints them all alike), whether the text
    ends there or a newline follows; the line the text ends in (no newline after it) is also
    cut short when it lacks a metric that the previous epoch has. A complete last line never
    loses its epoch if a newline ends it.

    >>> parse_keras_log("Epoch 1/2\\n390/390 [===] - 17s 43ms/step - loss: 1.8 - acc: 0.3")
       epoch  loss  acc  seconds
    0      1   1.8  0.3     17.0
    """
    runs = _parse_runs(text, source)
    if len(runs) > 1:
        sizes = [str(len(set(epochs))) for epochs, _ in runs]
        seen: set[int] = set()
        repeated: set[int] = set()
        for epochs, _ in runs:
            repeated |= seen & set(epochs)
            seen |= set(epochs)
        verb = "appears" if len(repeated) == 1 else "appear"
        overlap = f", so {_epochs(repeated)} {verb} more than once" if repeated else ""
        warnings.warn(
            f"{source or 'the text'} holds {len(runs)} runs of {', '.join(sizes[:-1])} and "
            f"{sizes[-1]} epochs (the epoch counter restarts at 1{overlap}); keeping the last "
            "run. parse_keras_runs() returns every run.",
            LogWarning,
            stacklevel=2,
        )
    epochs, rows = runs[-1]
    return _build_frame(epochs, rows, _run_name(source, len(runs), len(runs)))


def parse_keras_runs(text: str, *, source: str | None = None) -> list[pd.DataFrame]:
    """Every run in a Keras text log, in order, as history frames (see :func:`parse_keras_log`).

    A header ``Epoch 1/N`` after an epoch has ended starts a new run (``fit`` called again,
    or several logs pasted together). Any other header that goes back (``Epoch 4/50`` after
    ``Epoch 5/50``) continues the run: a run resumed with ``initial_epoch``, where a repeated
    epoch's last occurrence wins. A text without headers is one run.

    >>> runs = parse_keras_runs("Epoch 1/1\\n9/9 - loss: 2.0\\nEpoch 1/1\\n9/9 - loss: 1.5\\n")
    >>> [run["loss"].tolist() for run in runs]
    [[2.0], [1.5]]
    """
    runs = _parse_runs(text, source)
    return [
        _build_frame(epochs, rows, _run_name(source, number, len(runs)))
        for number, (epochs, rows) in enumerate(runs, start=1)
    ]


def _run_name(source: str | None, number: int, count: int) -> str | None:
    """How messages name run ``number`` of ``count`` in ``source``."""
    return source if count == 1 else f"{source or 'the text'}, run {number} of {count}"


def _parse_runs(text: str, source: str | None) -> list[tuple[list[int], list[dict[str, float]]]]:
    """Epoch numbers and metrics of each run in a text log, as documented in the two callers."""
    if not isinstance(text, str):
        raise TypeError(f"expected the log as text (str), got {type(text).__name__}")
    where = f" in {source}" if source else ""
    printed = _notebook_output(text)
    clean = _ANSI_RE.sub("", text if printed is None else printed).replace("\b", "")
    lines = clean.splitlines()
    unterminated = not clean.endswith(("\n", "\r"))
    runs: list[list[tuple[int | None, list[_EpochLine]]]] = [[(None, [])]]
    last_line: _EpochLine | None = None  # the epoch-end line the text ends in, if any
    for index, raw in enumerate(lines):
        line = raw.strip()
        header = _HEADER_RE.match(line)
        if header:
            epoch = int(header.group(1))
            if epoch == 1 and any(ended for _, ended in runs[-1]):
                runs.append([])
            runs[-1].append((epoch, []))
            line = header.group(3)
        epoch_line = _epoch_line(line)
        if epoch_line is not None:
            runs[-1][-1][1].append(epoch_line)
            if unterminated and index == len(lines) - 1:
                last_line = epoch_line
    picked = [_picked_epochs(blocks) for blocks in runs if any(ended for _, ended in blocks)]
    if not picked:
        raise LogParseError(
            f"no training epoch found{where}: expected Keras fit output such as "
            "'Epoch 1/50' followed by '390/390 [===] - 17s 43ms/step - loss: 1.83 - "
            "acc: 0.31 - val_loss: 1.39 - val_acc: 0.49' (Keras 2) or "
            "'390/390 ━━━━━━━━━━━━━━━━━━━━ 9s 22ms/step - accuracy: 0.41 - loss: 1.62' "
            "(Keras 3)"
        )
    complete = [_complete_epochs(run, last_line, where) for run in picked]
    if not any(complete):
        epochs = [epoch for run in picked for epoch, _ in run]
        which = f"its only epoch, {epochs[0]}, is" if len(epochs) == 1 else "all its epochs are"
        raise LogParseError(f"no complete training epoch found{where}: {which} cut short")
    return [([e for e, _ in run], [line.metrics for _, line in run]) for run in complete if run]


def _complete_epochs(
    run: list[tuple[int, _EpochLine]], last_line: _EpochLine | None, where: str
) -> list[tuple[int, _EpochLine]]:
    """A run's epochs without those whose line is cut short, each dropped with a warning."""
    kept: list[tuple[int, _EpochLine]] = []
    for index, (epoch, line) in enumerate(run):
        if line is last_line:
            reason = _cut_short(line, run[index - 1] if index else None)
            message = (f"the text ends inside its metrics line and {reason}; dropped it (if the "
                       "line is complete, end the text with a newline)")
        else:
            reason = _cut_value(line)
            message = f"its metrics line is cut short: {reason}; dropped it"
        if reason is None:
            kept.append((epoch, line))
        else:
            warnings.warn(CutEpochWarning(f"epoch {epoch}{where} is incomplete: {message}", epoch),
                          stacklevel=4)
    return kept


def _picked_epochs(
    blocks: list[tuple[int | None, list[_EpochLine]]],
) -> list[tuple[int, _EpochLine]]:
    """One run's epochs: (number, epoch-end line) per epoch, from its header blocks."""
    headers = [epoch for epoch, _ in blocks if epoch is not None]
    if not headers:
        return list(enumerate(_headerless_epochs(blocks[0][1]), start=1))
    first = max(headers[0] - 1, 1)
    return [(first if epoch is None else epoch, _pick(lines)) for epoch, lines in blocks if lines]


def _cut_short(line: _EpochLine, previous: tuple[int, _EpochLine] | None) -> str | None:
    """Why the epoch-end line that a text ends in looks cut short, or None if it looks whole."""
    reason = _cut_value(line)
    if reason is None and previous is not None:
        epoch, before = previous
        lacking = [n for n in before.metrics if n not in line.metrics and n != "seconds"]
        if lacking:
            return f"it lacks {', '.join(lacking)} (which epoch {epoch} has)"
    return reason


def _cut_value(line: _EpochLine) -> str | None:
    """Why an epoch-end line looks cut inside its last metric, or None: a partial metric after
    its last value, or a last value cut in its digits."""
    pairs = list(_PAIR_RE.finditer(line.text))
    tail = line.text[pairs[-1].end() :]
    if tail.strip() and _PARTIAL_PAIR_RE.fullmatch(tail):
        return f"it ends in a partial metric {tail.strip()!r}"
    value = pairs[-1].group(2)
    decimals = [d for d in (_decimals(p.group(2)) for p in pairs[:-1]) if d is not None]
    last = _decimals(value)
    if (
        value.endswith(".")
        or re.search(r"[eE][-+]?\d$", value)  # Python prints at least two exponent digits
        or (decimals and last is not None and last < min(decimals))
    ):
        return f"its last value {value} looks cut short"
    return None


def _decimals(number: str) -> int | None:
    """Digits after the decimal point of a printed number (0 for ``2``); None for nan/inf."""
    if number.lstrip("+-")[:1] in "nNiI":
        return None
    return len(re.split("[eE]", number)[0].partition(".")[2])


def _notebook_output(text: str) -> str | None:
    """What a Jupyter notebook's cells printed, cell after cell; None for other text.

    Stream output (``stdout``/``stderr``) counts as written, so a line may span outputs, and
    the ``text/plain`` of results and displays on lines of their own; cell sources (markdown
    included) and error tracebacks do not. Cells are under ``cells`` (nbformat 4) or under
    ``worksheets`` (nbformat 3).
    """
    if not text.lstrip().startswith("{"):
        return None
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(document, dict):
        return None
    sheets = document.get("worksheets")
    if isinstance(sheets, list):  # nbformat 3
        cells = [c for s in sheets if isinstance(s, dict) and isinstance(s.get("cells"), list)
                 for c in s["cells"]]
    elif isinstance(document.get("cells"), list):
        cells = document["cells"]
    else:
        return None
    printed = []
    for cell in cells:
        outputs = cell.get("outputs") if isinstance(cell, dict) else None
        shown = ""
        for output in outputs if isinstance(outputs, list) else []:
            if isinstance(output, dict):
                data = output.get("data")
                plain = data.get("text/plain") if isinstance(data, dict) else None
                if output.get("output_type") == "stream":
                    shown += _joined(output.get("text"))
                elif output.get("text", plain) is not None:
                    shown += f"\n{_joined(output.get('text', plain))}\n"
        if shown:
            printed.append(shown)
    return "\n".join(printed)


def _joined(text: Any) -> str:
    """A notebook's multi-line string: a str or a list of str; anything else is empty."""
    if isinstance(text, str):
        return text
    return "".join(part for part in text if isinstance(part, str)) if isinstance(text, list) else ""


def _headerless_epochs(lines: list[_EpochLine]) -> list[_EpochLine]:
    """Epoch-end lines of a log without ``Epoch k/N`` headers, one per epoch.

    With validation metrics, only the lines carrying them end epochs. Without, a Keras 3
    bar line is dropped when the next line repeats its metrics (the final redraw).
    """
    if any(line.has_validation for line in lines):
        return [line for line in lines if line.has_validation]
    epochs: list[_EpochLine] = []
    for line in lines:
        previous = epochs[-1] if epochs else None
        if (
            previous is not None
            and previous.is_keras3_bar
            and all(
                line.metrics.get(k) == v for k, v in previous.metrics.items() if k != "seconds"
            )
        ):
            epochs[-1] = line
        else:
            epochs.append(line)
    return epochs


# --------------------------------------------------------------------------- frame building


def _epochs(numbers: Iterable[int]) -> str:
    """Name epochs compactly: ``epoch 4``, ``epochs 1-3, 7, 9-10``."""
    numbers = sorted(set(numbers))
    parts: list[str] = []
    for previous, n in zip([None, *numbers], numbers):
        if previous is not None and n == previous + 1:
            parts[-1] = f"{parts[-1].split('-')[0]}-{n}"
        else:
            parts.append(str(n))
    return ("epoch " if len(numbers) == 1 else "epochs ") + ", ".join(parts)


def _canonical_names(names: Iterable[str]) -> dict[str, str]:
    """Map source metric names to schema names (accuracy aliases become acc / val_acc)."""
    names = list(dict.fromkeys(names))
    mapping = {name: name for name in names}
    for prefix in ("", "val_"):
        present = [prefix + alias for alias in ACCURACY_ALIASES if prefix + alias in mapping]
        if present:  # the others keep their own names
            mapping[present[0]] = prefix + "acc"
    return mapping


def _column_order(columns: Iterable[str]) -> list[str]:
    columns = set(columns)
    leading = [c for c in LEADING_COLUMNS if c in columns]
    others = sorted(
        columns - set(leading), key=lambda c: (c.removeprefix("val_"), c.startswith("val_"))
    )
    return leading + others


def _build_frame(
    epochs: Sequence[int], rows: Sequence[Mapping[str, float]], source: str | None
) -> pd.DataFrame:
    """Assemble a history frame; warn about repeated (last wins) and missing epochs."""
    where = f" in {source}" if source else ""
    by_epoch: dict[int, Mapping[str, float]] = {}
    repeated: set[int] = set()
    for epoch, row in zip(epochs, rows):
        if epoch in by_epoch:
            repeated.add(epoch)
        by_epoch[epoch] = row
    if repeated:
        verb = "appears" if len(repeated) == 1 else "appear"
        warnings.warn(
            f"{_epochs(repeated)} {verb} more than once{where} (a resumed run, or several "
            "logs in one text?); keeping the last occurrence",
            LogWarning,
            stacklevel=3,
        )
    ordered = sorted(by_epoch)
    missing = set(range(1, ordered[-1] + 1)) - set(ordered)
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        warnings.warn(
            f"{_epochs(missing)} {verb} missing{where} (found {_epochs(ordered)})",
            MissingEpochWarning,
            stacklevel=3,
        )
    names = _canonical_names(name for epoch in ordered for name in by_epoch[epoch])
    frame = pd.DataFrame(
        [{names[k]: v for k, v in by_epoch[epoch].items()} for epoch in ordered],
        dtype="float64",
    )
    frame.insert(0, "epoch", pd.Series(ordered, dtype="int64"))
    return _as_fractions(frame[_column_order(frame.columns)].reset_index(drop=True), source)


def _as_fractions(frame: pd.DataFrame, source: str | None) -> pd.DataFrame:
    """Divide accuracy columns in percent (finite values all in (1, 100]) by 100, warning once."""
    where = f" in {source}" if source else ""
    percent = []
    for name in frame.columns:
        if not _ACCURACY_COLUMN_RE.search(name.removeprefix("val_")):
            continue
        values = frame[name][frame[name].abs() < math.inf]
        if (values <= 1).all():
            continue
        if not values.between(1, 100, inclusive="right").all():
            raise LogParseError(
                f"{source or 'the log'}: column {name!r} has values above 1 but not all in "
                f"(1, 100] (from {values.min():g} to {values.max():g}): accuracies must be "
                "fractions in [0, 1] or all percentages in (1, 100]"
            )
        percent.append(name)
    if percent:
        warnings.warn(
            f"{', '.join(percent)}{where} look like percentages (every value in (1, 100]); "
            "divided by 100 to make fractions",
            LogWarning,
            stacklevel=4,
        )
        frame[percent] = frame[percent] / 100
    return frame


def _numeric(values: Iterable[Any], name: str, source: str) -> list[float]:
    try:
        return [float(v) for v in values]
    except (TypeError, ValueError) as exc:
        raise LogParseError(f"{source}: column {name!r} is not numeric ({exc})") from None


def _epoch_numbers(values: Iterable[Any], source: str) -> list[int]:
    epochs = _numeric(values, "epoch", source)
    if not all(math.isfinite(e) and e == int(e) and e >= 1 for e in epochs):
        raise LogParseError(f"{source}: epochs must be whole numbers >= 1 (1-based), got {epochs}")
    return [int(e) for e in epochs]


# --------------------------------------------------------------------------- other sources


def history_to_frame(history: Any, *, source: str | None = None) -> pd.DataFrame:
    """History frame from a Keras ``History`` object or a dict of per-epoch lists.

    ``History.epoch`` is 0-based and becomes 1-based; a dict's rows are epochs 1, 2, ...
    unless it has an ``epoch`` list, which is taken as already 1-based. ``source`` names the
    history in messages.

    >>> history_to_frame({"loss": [1.2, 0.9], "accuracy": [0.5, 0.6]})
       epoch  loss  acc
    0      1   1.2  0.5
    1      2   0.9  0.6
    """
    if isinstance(history, Mapping):
        metrics = dict(history)
        epochs = metrics.pop("epoch", None)
        return _columns_to_frame(metrics, epochs, source or "history dict")
    if isinstance(getattr(history, "history", None), Mapping) and hasattr(history, "epoch"):
        source = source or "History object"
        epochs = [e + 1 for e in _numeric(history.epoch, "epoch", source)]
        return _columns_to_frame(history.history, epochs, source)
    raise TypeError(
        f"expected a keras History (with .history and .epoch) or a dict of lists, "
        f"got {type(history).__name__}"
    )


def _columns_to_frame(
    metrics: Mapping[str, Sequence[Any]], epochs: Sequence[Any] | None, source: str
) -> pd.DataFrame:
    """History frame from per-epoch metric lists and optional 1-based epoch numbers."""
    epochs = None if epochs is None else _epoch_numbers(epochs, source)
    columns = {name: _numeric(values, name, source) for name, values in metrics.items()}
    lengths = {name: len(values) for name, values in columns.items()}
    n = len(epochs) if epochs is not None else max(lengths.values(), default=0)
    if n == 0:
        raise LogParseError(f"{source} holds no epochs")
    if any(length != n for length in lengths.values()):
        raise LogParseError(f"{source}: metric lists differ in length ({lengths}, {n} epochs)")
    rows = [{name: values[i] for name, values in columns.items()} for i in range(n)]
    return _build_frame(list(range(1, n + 1)) if epochs is None else epochs, rows, source)


def _file_text(path: str | os.PathLike[str], what: str) -> tuple[Path, str]:
    """``(path, its decoded text)``; a missing file is a ``FileNotFoundError`` naming ``what``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    return path, _read_text(path)


def read_csv_log(path: str | os.PathLike[str]) -> pd.DataFrame:
    """History frame from a Keras ``CSVLogger`` file (its 0-based ``epoch`` becomes 1-based).

    >>> read_csv_log("training.csv")  # doctest: +SKIP
       epoch  loss  acc  val_loss  val_acc  learning_rate
    0      1  2.29  0.09     2.29     0.14          0.001
    """
    path, text = _file_text(path, "CSV log")
    try:
        table = pd.read_csv(io.StringIO(text))
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as exc:
        raise LogParseError(f"{path} is not a readable CSVLogger file: {exc}") from None
    if "epoch" not in table.columns:
        raise LogParseError(
            f"{path} is not a CSVLogger file: expected an 'epoch' column, "
            f"found {list(table.columns)}"
        )
    if table.empty:
        raise LogParseError(f"{path} holds no epochs (header only)")
    epochs = [e + 1 for e in _numeric(table.pop("epoch"), "epoch", str(path))]
    return _columns_to_frame({name: list(table[name]) for name in table.columns}, epochs, str(path))


def read_history_json(path: str | os.PathLike[str]) -> pd.DataFrame:
    """History frame from a Keras ``History`` saved as JSON, in either of two layouts.

    ``json.dump(history.history, f)``: per-epoch lists, epochs 1, 2, ... (an ``epoch`` list
    is taken as 1-based, as in :func:`history_to_frame`);
    ``json.dump({"epoch": history.epoch, "history": history.history}, f)``: 0-based epochs.

    >>> read_history_json("history.json").head(1)  # doctest: +SKIP
       epoch      loss      acc  val_loss   val_acc  learning_rate
    0      1  2.299153  0.09375   2.28806  0.140625          0.001
    """
    path, text = _file_text(path, "History JSON")
    try:
        saved = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LogParseError(
            f"{path} is not valid JSON ({exc}); expected a History saved with "
            "json.dump(history.history, f)"
        ) from None
    if not isinstance(saved, dict):
        raise LogParseError(
            f'{path}: expected a JSON object of per-epoch lists such as {{"loss": [...], '
            f'"val_accuracy": [...]}}, got a JSON {type(saved).__name__}'
        )
    if isinstance(saved.get("history"), dict) and "epoch" in saved:
        saved = SimpleNamespace(history=saved["history"], epoch=saved["epoch"])
    return history_to_frame(saved, source=str(path))


def _frame_to_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Validate and normalise a DataFrame (``epoch`` column or index, else rows are 1, 2, ...)."""
    frame = frame.reset_index() if frame.index.name == "epoch" else frame
    if frame.empty:
        raise LogParseError("the DataFrame holds no epochs")
    metrics = {str(name): list(frame[name]) for name in frame.columns if name != "epoch"}
    epochs = list(frame["epoch"]) if "epoch" in frame.columns else None
    return _columns_to_frame(metrics, epochs, "DataFrame")


def _read_text(path: Path) -> str:
    """A file's text: UTF-16 after its byte-order mark, else UTF-8 (a BOM skipped); ``\\r`` kept."""
    data = path.read_bytes()
    utf16 = data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    return data.decode("utf-16" if utf16 else "utf-8-sig", errors="replace")


def as_history_frame(obj: Any) -> pd.DataFrame:
    """History frame from a DataFrame, ``History``, dict, file path or log text.

    An ``os.PathLike`` is a file path, and so is a ``str`` naming an existing file; any other
    ``str`` is log text (a one-line ``str`` holding no epoch is reported as a missing file).
    Files are read by suffix: ``.csv`` with :func:`read_csv_log`, ``.json`` with
    :func:`read_history_json`, any other (``.txt``, ``.log``, ``.md``, ``.ipynb``) with
    :func:`parse_keras_log`.

    >>> frame = as_history_frame("Epoch 1/1\\n10/10 - 1s - 5ms/step - loss: 0.5 - val_loss: 0.7")
    >>> frame.columns.tolist()
    ['epoch', 'loss', 'val_loss', 'seconds']
    """
    if isinstance(obj, pd.DataFrame):
        return _frame_to_frame(obj)
    if isinstance(obj, Mapping) or isinstance(getattr(obj, "history", None), Mapping):
        return history_to_frame(obj)
    if isinstance(obj, str) and not os.path.isfile(obj):
        try:
            return parse_keras_log(obj)
        except LogParseError:
            if "\n" in obj or "\r" in obj:
                raise
            raise FileNotFoundError(
                f"log file not found: {obj} (a str is read as a file if one exists there, else "
                "as log text, and this one holds no Keras epoch either)"
            ) from None
    if isinstance(obj, (str, os.PathLike)):
        path = Path(obj)
        if path.suffix.lower() == ".csv":
            return read_csv_log(path)
        if path.suffix.lower() == ".json":
            return read_history_json(path)
        if not path.is_file():
            raise FileNotFoundError(f"log file not found: {path}")
        return parse_keras_log(_read_text(path), source=str(path))
    raise TypeError(
        "expected a DataFrame, a keras History, a dict of lists, a path or log text, "
        f"got {type(obj).__name__}"
    )
