"""Summaries of training runs: best and last validation accuracy, one run or a table of runs.

Input is a history frame (see :mod:`assignment_utils.logs`, which makes one from any log); only
its ``epoch`` and ``val_acc`` columns are read. Only pandas is imported here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

__all__ = ["RunSummary", "summarize_run", "summary_table"]


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

    >>> summarize_run(pd.DataFrame({"epoch": [1, 2, 3], "val_acc": [0.5, 0.7, 0.7]}))
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

    >>> table = summary_table({"a": pd.DataFrame({"epoch": [1, 2], "val_acc": [0.6, 0.5]})})
    >>> table.to_dict("index")
    {'a': {'epochs': 2, 'best_val_acc': 0.6, 'best_epoch': 1, 'final_val_acc': 0.5, 'final_epoch': 2}}
    """
    summaries = {name: summarize_run(frame) for name, frame in runs.items()}
    return pd.DataFrame(
        [vars(s) for s in summaries.values()],
        index=pd.Index(list(summaries), name="run"),
        columns=list(RunSummary.__dataclass_fields__),
    )
