"""Command line of the log parser: each log's best and last validation accuracy, optionally a plot.

::

    python -m assignment_utils.log_cli run1.txt run2.csv history.json run3.ipynb [--plot runs.png]

Installed as ``parse-keras-log``. Logs are read with :func:`~assignment_utils.logs.as_history_frame`
and summarised with :func:`~assignment_utils.summaries.summary_table`; the plot is
:func:`~assignment_utils.plots.plot_runs`.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import pandas as pd

from assignment_utils.logs import as_history_frame
from assignment_utils.summaries import summarize_run, summary_table

__all__ = ["main"]


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
        description="Summarise Keras training logs (text output, notebooks, CSVLogger .csv "
        "or History .json files): best validation accuracy with its epoch, and the last epoch's.",
    )
    parser.add_argument(
        "logs",
        nargs="+",
        metavar="LOG",
        help="a Keras text log (.txt, .log, .md or .ipynb), CSVLogger .csv or History .json file",
    )
    parser.add_argument("--plot", metavar="FILE", help="also save a comparison plot of the runs "
                        "(PNG; .svg or .pdf by the suffix)")
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

            plot_runs(runs, path=args.plot)
        except (ImportError, OSError, ValueError) as exc:
            print(f"error: cannot write plot {args.plot}: {exc}", file=sys.stderr)
            return 2
        print(f"plot saved to {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
