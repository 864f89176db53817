#!/usr/bin/env python3
"""Write the README's results tables from ``results/runs.csv``, ``results/benchmark.csv`` and
``results/selection.csv``.

The tables sit between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->`` markers (``runs-table``,
``benchmark-table``, ``selection-table``); ``tests/test_readme.py`` checks that the README holds exactly what this script makes of
the committed files, so no number in them is typed by hand.

    python scripts/results_tables.py          # rewrite the README's tables
"""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def _pct(value: float) -> str:
    return "–" if pd.isna(value) else f"{100 * value:.2f} %"


def _seconds(value: float) -> str:
    return "–" if pd.isna(value) else f"{value:.1f}"


def _markdown(header: list[str], numeric: list[bool], rows: list[list[object]]) -> list[str]:
    """Markdown table lines: ``header``, right-aligned where ``numeric``, then ``rows``."""
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---:" if right else "---" for right in numeric) + "|"]
    return lines + ["| " + " | ".join(map(str, row)) + " |" for row in rows]


def runs_table(runs: pd.DataFrame) -> str:
    """One row per run and a mean row; accuracies are test-set accuracies at epoch 50."""
    lines = _markdown(
        ["run", "seed", "epochs", "parameters", "epoch-50 test accuracy", "best epoch's",
         "flip-averaged (TTA)", "training s", "compile s", "card, backend",
         "trainings sharing the card"],
        [False] + [True] * 8 + [False, True],
        [[row.source, row.seed, row.epochs, f"{row.params:,}", _pct(row.final_val_acc),
          _pct(row.best_val_acc), _pct(row.tta_val_acc), _seconds(row.train_seconds),
          _seconds(row.compile_seconds), f"{row.device}, {row.backend}",
          row.trainings_sharing_the_card] for row in runs.itertuples(index=False)])
    if len(runs) > 1:
        std = runs.final_val_acc.std()
        lines.append(
            f"| **mean of {len(runs)}** | | | | **{_pct(runs.final_val_acc.mean())}** "
            f"(± {100 * std:.2f}) | {_pct(runs.best_val_acc.mean())} | {_pct(runs.tta_val_acc.mean())} "
            f"| {_seconds(runs.train_seconds.mean())} | | | |")
    return "\n".join(lines)


def benchmark_table(bench: pd.DataFrame) -> str:
    """One row per benchmark run, with the speed-up of the pipeline over naive ``fit``."""
    naive = {row.model: row.seconds_per_epoch for row in bench.itertuples() if row.pipeline == "naive"}
    rows = []
    for row in bench.itertuples(index=False):
        base, per_epoch = naive.get(row.model, math.nan), row.seconds_per_epoch
        rows.append([row.pipeline, row.model, row.epochs,
                     "–" if pd.isna(per_epoch) else f"{per_epoch:.2f}",
                     "–" if pd.isna(base) or pd.isna(per_epoch) else f"{base / per_epoch:.1f}",
                     "–" if pd.isna(per_epoch) else f"{50 * per_epoch:.0f}",
                     _seconds(row.compile_seconds), f"{row.device}, {row.backend}",
                     "" if pd.isna(row.note) else row.note])
    return "\n".join(_markdown(
        ["pipeline", "model", "epochs timed", "s per 50,000-image epoch", "× naive fit",
         "50 epochs (s)", "compile s", "card, backend", "note"],
        [False, False] + [True] * 5 + [False, False], rows))


def selection_table(selection: pd.DataFrame) -> str:
    """One row per candidate, in the order tried, scored on the held-out images."""
    return "\n".join(_markdown(
        ["candidate", "parameters", "epoch-50 held-out accuracy", "best epoch's",
         "flip-averaged (TTA)", "training s", "card, backend", "trainings sharing the card"],
        [False] + [True] * 5 + [False, True],
        [[row.candidate, f"{row.params:,}", _pct(row.final_val_acc), _pct(row.best_val_acc),
          _pct(row.tta_val_acc), _seconds(row.train_seconds), f"{row.device}, {row.backend}",
          row.trainings_sharing_the_card] for row in selection.itertuples(index=False)]))


def render(readme: str, runs: pd.DataFrame, bench: pd.DataFrame, selection: pd.DataFrame) -> str:
    """``readme`` with the marked tables replaced."""
    for name, table in (("runs-table", runs_table(runs)), ("benchmark-table", benchmark_table(bench)),
                        ("selection-table", selection_table(selection))):
        pattern = re.compile(rf"(<!-- {name}:start -->\n).*?(\n<!-- {name}:end -->)", re.S)
        if not pattern.search(readme):
            raise ValueError(f"README.md has no <!-- {name}:start --> ... <!-- {name}:end --> block")
        readme = pattern.sub(lambda m: m.group(1) + table + m.group(2), readme)
    return readme


def main() -> int:
    readme = ROOT / "README.md"
    runs = pd.read_csv(ROOT / "results" / "runs.csv")
    bench = pd.read_csv(ROOT / "results" / "benchmark.csv")
    selection = pd.read_csv(ROOT / "results" / "selection.csv")
    readme.write_text(render(readme.read_text(), runs, bench, selection))
    return 0


if __name__ == "__main__":
    sys.exit(main())
