#!/usr/bin/env python3
"""Write the generated tables of ``README.md`` and ``results/README.md``.

Each table sits between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->`` markers (``TABLES`` says
which file holds which):

- ``README.md``: ``result-table``, the headline: the epoch-50 test accuracy of every run of
  ``results/runs.csv`` and their mean, the parameters and layer types of ``separable_net()``
  (which must have the runs' parameter count), the epochs, card, backend and training seconds,
  the speed alone on the card from ``results/benchmark.csv`` and the commit that
  ``results/gpu_campaign/environment.json`` records;
- ``results/README.md``: ``runs-table``, ``benchmark-table`` and ``selection-table`` (one row per
  row of ``results/runs.csv``, ``benchmark.csv``, ``selection.csv``) and ``reference-rf-table``
  (``receptive_field_table(reference_model())``).

``tests/test_readme.py`` checks that both files hold exactly what this script makes of the
committed files and code, so no number in these tables is typed by hand.

    python scripts/results_tables.py          # rewrite the tables of both files
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout's package, installed or not

TABLES = {
    "README.md": ("result-table",),
    "results/README.md": ("runs-table", "benchmark-table", "selection-table", "reference-rf-table"),
}
REFERENCE_RF_COLUMNS = ["layer", "type", "kernel", "stride", "padding", "output_shape", "params",
                        "jump", "receptive_field", "start"]
ABSENT_BY_RULE = ("Conv2D", "Dense")  # named in the result table when the model has none


def _pct(value: float) -> str:
    return "–" if pd.isna(value) else f"{100 * value:.2f} %"


def _seconds(value: float, digits: int = 1) -> str:
    return "–" if pd.isna(value) else f"{value:.{digits}f}"


def _markdown(header: list[str], numeric: list[bool], rows: list[list[object]]) -> list[str]:
    """Markdown table lines: ``header``, right-aligned where ``numeric``, then ``rows``."""
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---:" if right else "---" for right in numeric) + "|"]
    return lines + ["| " + " | ".join(map(str, row)) + " |" for row in rows]


def _distinct(values: Any) -> str:
    """The distinct values, in order of first appearance, joined by ' / '."""
    return " / ".join(str(value) for value in dict.fromkeys(values))


def layer_types(model: Any) -> str:
    """``"13 SeparableConv2D, 12 BatchNormalization, ..."``: the model's layer classes by count
    (the input layer left out), then ``"no Conv2D, no Dense"`` for those it does not have."""
    counts = Counter(type(layer).__name__ for layer in model.layers
                     if type(layer).__name__ != "InputLayer")
    listed = ", ".join(f"{count} {name}" for name, count in counts.most_common())
    absent = [f"no {name}" for name in ABSENT_BY_RULE if name not in counts]
    return "; ".join([listed, ", ".join(absent)] if absent else [listed])


def result_table(runs: pd.DataFrame, bench: pd.DataFrame, environment: dict[str, Any],
                 model: Any) -> str:
    """The README's headline: the runs' epoch-50 test accuracies and mean, ``model``'s parameters
    and layer types, epochs, card and backend, training seconds, the commit of the run.

    Raises ``ValueError`` when ``model`` is not the model of the runs (another parameter count).
    """
    params = model.count_params()
    if set(runs.params) != {params}:
        recorded = _distinct(f"{n:,}" for n in runs.params)
        raise ValueError(f"results/runs.csv holds runs of {recorded} parameters but "
                         f"separable_net() has {params:,}: the table would describe another "
                         "model. Record runs of the current model (scripts/gpu_campaign.py) first.")
    seeds = ", ".join(f"{_pct(row.final_val_acc)} (seed {row.seed}"
                      f"{', the notebook' if row.source == 'notebook' else ''})"
                      for row in runs.itertuples(index=False))
    accuracy = (f"**{_pct(runs.final_val_acc.mean())}**, the mean of {len(runs)} seeds "
                f"(± {100 * runs.final_val_acc.std():.2f}): {seeds}" if len(runs) > 1 else seeds)
    training = (f"{', '.join(_seconds(s) for s in runs.train_seconds)} with "
                f"{_distinct(runs.trainings_sharing_the_card)} trainings sharing the card (plus "
                f"{', '.join(_seconds(s) for s in runs.compile_seconds)} of compilation)")
    alone = bench[(bench.pipeline == "pipeline") & (bench.model == "separable_net")]
    if len(alone) == 1 and not pd.isna(alone.seconds_per_epoch.iloc[0]):
        training += (f"; {50 * alone.seconds_per_epoch.iloc[0]:.0f} for 50 epochs alone on the "
                     "card (`results/benchmark.csv`)")
    rows = [
        ["epoch-50 test accuracy", accuracy],
        ["parameters", f"{params:,}"],
        ["layer types", layer_types(model)],
        ["epochs", _distinct(runs.epochs)],
        ["card, backend", _distinct(f"{row.device}, Keras {row.keras_version} on {row.backend}"
                                    for row in runs.itertuples(index=False))],
        ["training s", training],
        ["code", f"commit `{environment['commit']}`"],
    ]
    return "\n".join(_markdown(["", "the committed model"], [False, False], rows))


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
    from assignment_utils.benchmark import NAIVE_BASELINE

    naive = {row.model: row.seconds_per_epoch for row in bench.itertuples() if row.pipeline == "naive"}
    rows = []
    for row in bench.itertuples(index=False):
        base = naive.get(NAIVE_BASELINE.get(row.model, row.model), math.nan)
        per_epoch = row.seconds_per_epoch
        # Benchmarks before 2026-12-07 did not time an epoch's whole cycle: "–" there.
        cycle = getattr(row, "cycle_seconds_per_epoch", math.nan)
        rows.append([row.pipeline, row.model, row.epochs, _seconds(per_epoch, digits=2),
                     _seconds(cycle, digits=2),
                     "–" if pd.isna(base) or pd.isna(per_epoch) else f"{base / per_epoch:.1f}",
                     _seconds(50 * per_epoch, digits=0),
                     _seconds(row.compile_seconds), f"{row.device}, {row.backend}",
                     "" if pd.isna(row.note) else row.note])
    return "\n".join(_markdown(
        ["pipeline", "model", "epochs timed", "s per 50,000-image epoch",
         "s per epoch, end to end", "× naive fit", "50 epochs (s)", "compile s",
         "card, backend", "note"],
        [False, False] + [True] * 6 + [False, False], rows))


def selection_table(selection: pd.DataFrame) -> str:
    """One row per candidate, in the order tried, scored on the held-out images."""
    return "\n".join(_markdown(
        ["candidate", "parameters", "epoch-50 held-out accuracy", "best epoch's",
         "flip-averaged (TTA)", "training s", "card, backend", "trainings sharing the card"],
        [False] + [True] * 5 + [False, True],
        [[row.candidate, f"{row.params:,}", _pct(row.final_val_acc), _pct(row.best_val_acc),
          _pct(row.tta_val_acc), _seconds(row.train_seconds), f"{row.device}, {row.backend}",
          row.trainings_sharing_the_card] for row in selection.itertuples(index=False)]))


def reference_rf_table() -> str:
    """Output size and receptive field of every layer of the reference submission's model."""
    from assignment_utils.models import reference_model
    from assignment_utils.receptive_field import receptive_field_table, to_markdown

    return to_markdown(receptive_field_table(reference_model())[REFERENCE_RF_COLUMNS])


def read_results(results: Path) -> dict[str, Any]:
    """The committed results: ``runs``, ``bench``, ``selection`` frames and the ``environment``."""
    return {"runs": pd.read_csv(results / "runs.csv"),
            "bench": pd.read_csv(results / "benchmark.csv"),
            "selection": pd.read_csv(results / "selection.csv"),
            "environment": json.loads((results / "gpu_campaign" / "environment.json").read_text())}


def all_tables(results: dict[str, Any]) -> dict[str, str]:
    """Every generated table by marker name, made from :func:`read_results`' ``results``."""
    from assignment_utils.models import separable_net

    return {
        "result-table": result_table(results["runs"], results["bench"], results["environment"],
                                     separable_net()),
        "runs-table": runs_table(results["runs"]),
        "benchmark-table": benchmark_table(results["bench"]),
        "selection-table": selection_table(results["selection"]),
        "reference-rf-table": reference_rf_table(),
    }


def render(text: str, tables: dict[str, str], names: tuple[str, ...],
           file: str = "README.md") -> str:
    """``text`` with the tables ``names`` replaced between their markers; a missing block is a
    ``ValueError`` naming ``file``."""
    for name in names:
        pattern = re.compile(rf"(<!-- {name}:start -->\n).*?(<!-- {name}:end -->)", re.S)
        if not pattern.search(text):
            raise ValueError(f"{file} has no <!-- {name}:start --> ... <!-- {name}:end --> block")
        text = pattern.sub(lambda m: m.group(1) + tables[name] + "\n" + m.group(2), text)
    return text


def rendered(root: Path = ROOT, results: dict[str, Any] | None = None) -> dict[Path, str]:
    """Each file of ``TABLES`` under ``root`` as it should read: ``{path: text}``. ``results``
    defaults to :func:`read_results` of ``root / "results"``."""
    tables = all_tables(read_results(root / "results") if results is None else results)
    return {root / file: render((root / file).read_text(encoding="utf-8"), tables, names, file)
            for file, names in TABLES.items()}


def main() -> int:
    for path, text in rendered().items():
        if path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"rewrote the tables of {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
