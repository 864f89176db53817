"""A record of the run: versions, Keras backend, device, and the machine-readable summary JSON.

>>> record = environment_record()                          # doctest: +SKIP
>>> record["backend"], record["device"]                     # doctest: +SKIP
('jax', 'NVIDIA H100 80GB HBM3')
>>> read_summary("runs/notebook/summary.json")["final_val_acc"]  # doctest: +SKIP
0.914500057697296
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import reprlib
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from assignment_utils.summaries import summarize_run

_PACKAGES = ("keras", "numpy", "pandas", "matplotlib", "tensorflow", "tensorflow-cpu", "jax",
             "jaxlib", "torch", "assignment-utils")


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def accelerator() -> str:
    """The accelerator Keras's backend computes on, e.g. 'NVIDIA H100 80GB HBM3', or 'CPU'."""
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        gpus = [d for d in jax.devices() if d.platform != "cpu"]
        return gpus[0].device_kind if gpus else "CPU"
    if backend == "torch":
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU"
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            return tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU")
    return "CPU"


def source_commit() -> str | None:
    """The git commit of the code that runs: ``$ASSIGNMENT_UTILS_COMMIT`` if set (for a copy of
    the checkout without its ``.git``, e.g. on a GPU machine), else ``git rev-parse HEAD`` of the
    checkout holding this package (with "+changes" when files differ from it), else None."""
    if os.environ.get("ASSIGNMENT_UTILS_COMMIT"):
        return os.environ["ASSIGNMENT_UTILS_COMMIT"]
    checkout = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=checkout, capture_output=True,
                              text=True, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=checkout, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    return head.stdout.strip() + ("+changes" if dirty.strip() else "")


def environment_record() -> dict[str, Any]:
    """Python, platform, Keras backend, device, the installed versions that matter and the
    source commit."""
    import keras

    versions = {p: v for p in _PACKAGES if (v := _version(p))}
    return {
        "commit": source_commit(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "backend": keras.backend.backend(),
        "device": accelerator(),
        "cpu_count": os.cpu_count(),
        "versions": versions,
    }


def epoch_timing(history: pd.DataFrame) -> dict[str, float | None]:
    """Timing of a run from its per-epoch ``seconds``: the steady ``seconds_per_epoch`` (median of
    epochs 2..N), ``compile_seconds`` (first epoch minus that, at least 0: XLA compiles during the
    first epoch; None with one epoch), ``total_seconds`` and ``train_seconds`` (total minus compile).

    >>> epoch_timing(pd.DataFrame({"seconds": [10.0, 2.0, 2.2]}))["compile_seconds"]
    7.9
    """
    if "seconds" not in history or history["seconds"].isna().all():
        raise ValueError("history has no 'seconds' column: train with assignment_utils.training")
    seconds = history["seconds"].astype(float)
    total = float(seconds.sum())
    if len(seconds) < 2:
        return {"seconds_per_epoch": total, "compile_seconds": None, "total_seconds": total,
                "train_seconds": total}
    per_epoch = float(seconds.iloc[1:].median())
    compile_seconds = max(round(float(seconds.iloc[0]) - per_epoch, 6), 0.0)
    return {"seconds_per_epoch": per_epoch, "compile_seconds": compile_seconds,
            "total_seconds": total, "train_seconds": total - compile_seconds}


RUN_COLUMNS = ["seed", "epochs", "params", "final_val_acc", "best_val_acc", "tta_val_acc",
               "train_seconds", "compile_seconds", "device", "backend", "keras_version"]


def run_row(summary: dict[str, Any]) -> dict[str, Any]:
    """One row of ``results/runs.csv`` (``RUN_COLUMNS``) from a run's :func:`write_summary`."""
    missing = [c for c in RUN_COLUMNS if c != "keras_version" and c not in summary]
    if missing:
        raise ValueError(f"the run summary lacks {missing}: write it with write_summary(..., "
                         "seed=..., tta_val_acc=...)")
    return {**{c: summary.get(c) for c in RUN_COLUMNS},
            "keras_version": summary["versions"].get("keras")}


def record_table(record: dict[str, Any]) -> pd.DataFrame:
    """A run summary as a two-column table for people: accuracies in percent, seconds rounded,
    versions on one line.

    >>> record_table({"final_val_acc": 0.8063, "train_seconds": 12.345})["value"].tolist()
    ['80.63 %', '12.3']
    """
    def shown(key: str, value: Any) -> str:
        if key.endswith("_acc") and isinstance(value, float):
            return f"{100 * value:.2f} %"
        if isinstance(value, float):
            return f"{value:.1f}"
        if isinstance(value, dict):
            return ", ".join(f"{k} {v}" for k, v in value.items())
        return str(value)

    return pd.DataFrame({"value": [shown(k, v) for k, v in record.items()]},
                        index=pd.Index(list(record), name="field"))


def write_summary(path: str | os.PathLike, history: pd.DataFrame, params: int,
                  **extra: Any) -> dict[str, Any]:
    """Write the run's summary JSON (epochs, parameters, epoch-final and best validation accuracy,
    timing from :func:`epoch_timing`, environment) to ``path`` and return it. ``extra`` adds
    fields.
    """
    run = summarize_run(history)
    summary = {
        "epochs": run.epochs,
        "params": int(params),
        "final_val_acc": run.final_val_acc,
        "best_val_acc": run.best_val_acc,
        "best_epoch": run.best_epoch,
        **epoch_timing(history),
        **extra,
        **environment_record(),
    }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(summary, indent=2, default=float))
    return summary


def read_summary(path: str | os.PathLike) -> dict[str, Any]:
    """A run's summary JSON, as :func:`write_summary` wrote it, checked for what a reader relies
    on. Its accuracies are fractions: ``final_val_acc`` and ``best_val_acc`` the last and the best
    epoch's validation accuracy, ``tta_val_acc`` the last model's flip-averaged one (added by the
    notebook and ``experiments``); the notebook validates on the test set, ``experiments`` names
    its split in ``validation`` ("test" or "holdout-N").

    Checked: a JSON object whose ``epochs`` and ``params`` are positive integers,
    ``final_val_acc`` a fraction in [0, 1] (so are ``best_val_acc`` and ``tta_val_acc`` where
    present), ``best_epoch`` (where present) in 1..epochs, and ``validation``, ``commit``,
    ``backend`` and ``device`` (where present) strings.

    Raises:
        OSError: the file cannot be read (``FileNotFoundError`` when there is none).
        ValueError: it is not such a summary; the message names the file and the field.
    """
    path = Path(path)
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path} is not a run summary (JSON text): {error}; write it with "
                         "assignment_utils.run_record.write_summary") from None
    if not isinstance(summary, dict):
        raise ValueError(f"{path} holds a JSON {type(summary).__name__}, not the object of a "
                         "run summary; write it with assignment_utils.run_record.write_summary")
    problems = [problem for field, check in _SUMMARY_FIELDS.items()
                if (problem := _field_problem(summary, field, check))]
    epochs, best = summary.get("epochs"), summary.get("best_epoch")
    if not problems and best is not None and best > epochs:
        problems.append(f"best_epoch {best} is after the last epoch ({epochs})")
    if problems:
        raise ValueError(f"{path} is not a valid run summary: {'; '.join(problems)}")
    return summary


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _is_fraction(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and 0 <= value <= 1)


# field: (required, test, what it must be)
_SUMMARY_FIELDS = {
    "epochs": (True, _is_count, "a positive integer"),
    "params": (True, _is_count, "a positive integer"),
    "final_val_acc": (True, _is_fraction, "a fraction in [0, 1]"),
    "best_val_acc": (False, _is_fraction, "a fraction in [0, 1]"),
    "tta_val_acc": (False, _is_fraction, "a fraction in [0, 1]"),
    "best_epoch": (False, _is_count, "a positive integer"),
    **{field: (False, lambda value: isinstance(value, str), "a string")
       for field in ("validation", "commit", "backend", "device")},
}


def _field_problem(summary: dict[str, Any], field: str, check: tuple) -> str | None:
    required, test, meaning = check
    if field not in summary or (summary[field] is None and not required):
        return f"no {field!r}" if required else None
    if not test(summary[field]):
        return f"{field!r} is {reprlib.repr(summary[field])}, not {meaning}"
    return None
