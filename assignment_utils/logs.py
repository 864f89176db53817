"""Read Keras training logs into one schema, the *history frame*, and summarise runs.

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

Sources: text logs (:func:`parse_keras_log`), ``History`` objects and dicts
(:func:`history_to_frame`), ``CSVLogger`` files (:func:`read_csv_log`), or any of these
(:func:`as_history_frame`). Repeated epochs (a resumed run: the last one wins) and missing
epochs are reported with a :class:`LogWarning`.

Command line::

    python -m assignment_utils.logs run1.txt run2.csv [--plot runs.png]
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = [
    "LogParseError",
    "LogWarning",
    "RunSummary",
    "as_history_frame",
    "history_to_frame",
    "main",
    "parse_keras_log",
    "read_csv_log",
    "summarize_run",
    "summary_table",
]

LEADING_COLUMNS = ("epoch", "loss", "acc", "val_loss", "val_acc", "seconds")
# Accuracy names that become ``acc``/``val_acc``, in order of precedence.
ACCURACY_ALIASES = ("acc", "accuracy", "sparse_categorical_accuracy", "categorical_accuracy")


class LogParseError(ValueError):
    """The input holds no Keras training epochs, or its epochs or metrics are malformed."""


class LogWarning(UserWarning):
    """A log is usable but odd: an epoch repeats or epochs are missing."""


# --------------------------------------------------------------------------- text logs

_ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_HEADER_RE = re.compile(r"^\W*Epoch\s+(\d+)\s*/\s*(\d+)\b(.*)$")
_NUMBER = r"[-+]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[nN]a[nN]|[iI]nf(?:inity)?)"
_PAIR_RE = re.compile(r"(?:^|\s)-\s*([A-Za-z_]\w*)\s*:\s*(" + _NUMBER + r")(?![\w.:/])")
_STEPS_RE = re.compile(r"(\d+)/(\d+)")
_TIME_RE = re.compile(r"(?<![\w.:/])(\d+(?:\.\d+)?)([hms])(?![\w/])")
_TIME_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0}


@dataclass(frozen=True)
class _EpochLine:
    """One line that may end an epoch: its metrics and what kind of line it is."""

    metrics: dict[str, float]
    is_keras3_bar: bool  # drawn with Keras 3's "━" bar, so possibly redrawn later

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
    return _EpochLine(metrics, is_keras3_bar="━" in head)


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
    header is read as consecutive epochs from 1. ``source`` names the text in messages.

    >>> parse_keras_log("Epoch 1/2\\n390/390 [===] - 17s 43ms/step - loss: 1.8 - acc: 0.3")
       epoch  loss  acc  seconds
    0      1   1.8  0.3     17.0
    """
    if not isinstance(text, str):
        raise TypeError(f"expected the log as text (str), got {type(text).__name__}")
    where = f" in {source}" if source else ""
    headers: list[int] = []
    blocks: list[tuple[int | None, list[_EpochLine]]] = [(None, [])]
    for raw in _ANSI_RE.sub("", text).replace("\b", "").splitlines():
        line = raw.strip()
        header = _HEADER_RE.match(line)
        if header:
            headers.append(int(header.group(1)))
            blocks.append((headers[-1], []))
            line = header.group(3)
        epoch_line = _epoch_line(line)
        if epoch_line is not None:
            blocks[-1][1].append(epoch_line)
    if not any(lines for _, lines in blocks):
        raise LogParseError(
            f"no training epoch found{where}: expected Keras fit output such as "
            "'Epoch 1/50' followed by '390/390 [===] - 17s 43ms/step - loss: 1.83 - "
            "acc: 0.31 - val_loss: 1.39 - val_acc: 0.49' (Keras 2) or "
            "'390/390 ━━━━━━━━━━━━━━━━━━━━ 9s 22ms/step - accuracy: 0.41 - loss: 1.62' "
            "(Keras 3)"
        )
    if headers:
        first = max(headers[0] - 1, 1)
        picked = [
            (first if epoch is None else epoch, _pick(lines)) for epoch, lines in blocks if lines
        ]
    else:
        picked = list(enumerate(_headerless_epochs(blocks[0][1]), start=1))
    return _build_frame(
        [epoch for epoch, _ in picked], [line.metrics for _, line in picked], source
    )


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
            LogWarning,
            stacklevel=3,
        )
    names = _canonical_names(name for epoch in ordered for name in by_epoch[epoch])
    frame = pd.DataFrame(
        [{names[k]: v for k, v in by_epoch[epoch].items()} for epoch in ordered],
        dtype="float64",
    )
    frame.insert(0, "epoch", pd.Series(ordered, dtype="int64"))
    return frame[_column_order(frame.columns)].reset_index(drop=True)


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


def history_to_frame(history: Any) -> pd.DataFrame:
    """History frame from a Keras ``History`` object or a dict of per-epoch lists.

    ``History.epoch`` is 0-based and becomes 1-based; a dict's rows are epochs 1, 2, ...
    unless it has an ``epoch`` list, which is taken as already 1-based.

    >>> history_to_frame({"loss": [1.2, 0.9], "accuracy": [0.5, 0.6]})
       epoch  loss  acc
    0      1   1.2  0.5
    1      2   0.9  0.6
    """
    if isinstance(history, Mapping):
        metrics = dict(history)
        epochs = metrics.pop("epoch", None)
        return _columns_to_frame(metrics, epochs, "history dict")
    if isinstance(getattr(history, "history", None), Mapping) and hasattr(history, "epoch"):
        epochs = [e + 1 for e in history.epoch]
        return _columns_to_frame(history.history, epochs, "History object")
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


def read_csv_log(path: str | os.PathLike[str]) -> pd.DataFrame:
    """History frame from a Keras ``CSVLogger`` file (its 0-based ``epoch`` becomes 1-based).

    >>> read_csv_log("training.csv")  # doctest: +SKIP
       epoch  loss  acc  val_loss  val_acc  learning_rate
    0      1  2.29  0.09     2.29     0.14          0.001
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CSV log not found: {path}")
    try:
        table = pd.read_csv(path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
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


def _frame_to_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Validate and normalise a DataFrame (``epoch`` column or index, else rows are 1, 2, ...)."""
    frame = frame.reset_index() if frame.index.name == "epoch" else frame
    if frame.empty:
        raise LogParseError("the DataFrame holds no epochs")
    metrics = {str(name): list(frame[name]) for name in frame.columns if name != "epoch"}
    epochs = list(frame["epoch"]) if "epoch" in frame.columns else None
    return _columns_to_frame(metrics, epochs, "DataFrame")


def _read_text(path: Path) -> str:
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as fh:
        return fh.read()


def as_history_frame(obj: Any) -> pd.DataFrame:
    """History frame from a DataFrame, ``History``, dict, file path or log text.

    Paths ending in ``.csv`` are read as ``CSVLogger`` files, other paths as text logs.
    A ``str`` is log text when it spans several lines or contains ``loss:``, else a path.

    >>> frame = as_history_frame("Epoch 1/1\\n10/10 - 1s - 5ms/step - loss: 0.5 - val_loss: 0.7")
    >>> frame.columns.tolist()
    ['epoch', 'loss', 'val_loss', 'seconds']
    """
    if isinstance(obj, pd.DataFrame):
        return _frame_to_frame(obj)
    if isinstance(obj, Mapping) or isinstance(getattr(obj, "history", None), Mapping):
        return history_to_frame(obj)
    if isinstance(obj, str) and ("\n" in obj or "\r" in obj or "loss:" in obj):
        return parse_keras_log(obj)
    if isinstance(obj, (str, os.PathLike)):
        path = Path(obj)
        if path.suffix.lower() == ".csv":
            return read_csv_log(path)
        if not path.is_file():
            raise FileNotFoundError(f"log file not found: {path}")
        return parse_keras_log(_read_text(path), source=str(path))
    raise TypeError(
        "expected a DataFrame, a keras History, a dict of lists, a path or log text, "
        f"got {type(obj).__name__}"
    )


# --------------------------------------------------------------------------- summaries


@dataclass(frozen=True)
class RunSummary:
    """Best and final validation accuracy of one run (fractions; epochs 1-based)."""

    epochs: int
    best_val_acc: float
    best_epoch: int
    final_val_acc: float
    final_epoch: int


def summarize_run(frame: pd.DataFrame) -> RunSummary:
    """Summarise a history frame; ties for the best accuracy go to the earliest epoch.

    ``epochs`` counts the epochs present; ``final_*`` is the last epoch's row.

    >>> summarize_run(history_to_frame({"loss": [1, 1, 1], "val_acc": [0.5, 0.7, 0.7]}))
    RunSummary(epochs=3, best_val_acc=0.7, best_epoch=2, final_val_acc=0.7, final_epoch=3)
    """
    if "val_acc" not in frame.columns:
        raise ValueError(
            f"no validation accuracy to summarise (columns: {list(frame.columns)}); "
            "train with validation data and an accuracy metric"
        )
    frame = frame.sort_values("epoch", kind="stable")
    val = frame["val_acc"]
    if val.isna().all():
        raise ValueError("every val_acc value is NaN; nothing to summarise")
    best = val.max()
    return RunSummary(
        epochs=len(frame),
        best_val_acc=float(best),
        best_epoch=int(frame.loc[val == best, "epoch"].iloc[0]),
        final_val_acc=float(val.iloc[-1]),
        final_epoch=int(frame["epoch"].iloc[-1]),
    )


def summary_table(runs: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per run (index ``run``), columns as in :class:`RunSummary`.

    >>> table = summary_table({"a": history_to_frame({"loss": [1, 1], "val_acc": [0.6, 0.5]})})
    >>> table.to_dict("index")
    {'a': {'epochs': 2, 'best_val_acc': 0.6, 'best_epoch': 1, 'final_val_acc': 0.5, 'final_epoch': 2}}
    """
    summaries = {name: summarize_run(frame) for name, frame in runs.items()}
    return pd.DataFrame(
        [vars(s) for s in summaries.values()],
        index=pd.Index(list(summaries), name="run"),
        columns=list(RunSummary.__dataclass_fields__),
    )


# --------------------------------------------------------------------------- command line


def _format_table(table: pd.DataFrame) -> str:
    """Fixed-width text table of :func:`summary_table` rows, accuracies in percent."""
    width = max(len("run"), *(len(str(run)) for run in table.index))
    lines = [f"{'run':<{width}}  epochs  best val_acc  best epoch  last val_acc  last epoch"]
    for row in table.itertuples():
        lines.append(
            f"{row.Index:<{width}}  {row.epochs:>6}  {row.best_val_acc:>12.2%}  {row.best_epoch:>10}"
            f"  {row.final_val_acc:>12.2%}  {row.final_epoch:>10}"
        )
    return "\n".join(lines)


def _about(log: str, kind: str, message: object) -> str:
    """``kind: message``, naming the log unless the message already does."""
    text = str(message)
    return f"{kind}: {text}" if log in text else f"{kind}: {log}: {text}"


def main(argv: list[str] | None = None) -> int:
    """Command line: print each log's best and last validation accuracy; 0 ok, 2 on errors.

    >>> main(["base_log.txt", "reference_log.txt", "--plot", "runs.png"])  # doctest: +SKIP
    run                epochs  best val_acc  best epoch  last val_acc  last epoch
    base_log.txt           50        82.87%          47        82.02%          50
    reference_log.txt      50        83.60%          43        82.63%          50
    plot saved to runs.png
    0
    """
    parser = argparse.ArgumentParser(
        prog="parse-keras-log",
        description="Summarise Keras training logs (text output or CSVLogger .csv files): "
        "best validation accuracy with its epoch, and the last epoch's.",
    )
    parser.add_argument(
        "logs", nargs="+", metavar="LOG", help="a Keras text log or CSVLogger .csv file"
    )
    parser.add_argument("--plot", metavar="PNG", help="also save a comparison plot of the runs")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage, 0 on --help
        return int(exc.code or 0)

    runs: dict[str, pd.DataFrame] = {}
    errors: list[str] = []
    for log in args.logs:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                frame = as_history_frame(Path(log))
                summarize_run(frame)
            except (OSError, ValueError) as exc:
                errors.append(_about(log, "error", exc))
                continue
        for warning in caught:
            print(_about(log, "warning", warning.message), file=sys.stderr)
        runs[log] = frame
    if errors:
        print("\n".join(errors), file=sys.stderr)
        return 2

    print(_format_table(summary_table(runs)))
    if args.plot:
        try:
            from assignment_utils.plots import plot_runs

            figure = plot_runs(runs)
            figure.savefig(args.plot)
        except (ImportError, OSError, ValueError) as exc:
            print(f"error: cannot write plot {args.plot}: {exc}", file=sys.stderr)
            return 2
        print(f"plot saved to {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
