"""Reported runs: train ``separable_net`` for several seeds and write one results row per run.

With ``holdout=N`` the model trains on the training set minus a class-balanced split of ``N``
images and is scored on that split, never on the test set: use it to choose an architecture or a
recipe. Without it, the model trains on all 50,000 images and is scored on the test set: use it
only for the final, reported runs.

Command line (one process per seed can share a GPU)::

    python -m assignment_utils.experiments --data cifar10.npz --seeds 0 1 2 --out results/runs.csv
    python -m assignment_utils.experiments --data cifar10.npz --holdout 5000 --widths 64 96 128 \\
        --set steps_per_execution=16 --set label_smoothing=0.2 --out results/selection_w64.csv

With ``--candidate NAME`` the rows are selection rows (``NAME`` first, the number of trainings
that shared the card last), as in ``results/selection.csv``; ``--append`` adds them to ``--out``::

    python -m assignment_utils.experiments --data cifar10.npz --holdout 5000 --seeds 0 \\
        --set batch_size=250 --candidate "batch 250" --append --out results/selection.csv
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import inspect
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import keras
import pandas as pd

from assignment_utils.augment import check_geometry
from assignment_utils.checks import check_path, is_integer
from assignment_utils.data import (Cifar10, add_data_arguments, check_count, load_cifar10,
                                   train_val_split)
from assignment_utils.evaluation import evaluate
from assignment_utils.models import DTYPE_POLICIES, SEPARABLE_IMPLEMENTATIONS, separable_net
from assignment_utils.rules import EPOCHS_REQUIRED, IMAGE_SHAPE
from assignment_utils.run_record import RUN_COLUMNS, run_row, write_summary
from assignment_utils.training import TrainConfig, train

# The command line's model options default to separable_net's own defaults: one home for them,
# so the extra seeds of a campaign train the notebook's model even after those defaults change.
MODEL_DEFAULTS = {name: parameter.default
                  for name, parameter in inspect.signature(separable_net).parameters.items()}
# The columns of run_seeds' rows, and of selection_rows'.
COLUMNS = [*RUN_COLUMNS, "validation", "model", "config"]
SELECTION_COLUMNS = ["candidate", *COLUMNS, "trainings_sharing_the_card"]


def seed_configs(config: TrainConfig, seeds: Sequence[int]) -> list[TrainConfig]:
    """``config`` with each of ``seeds`` (every one checked as ``TrainConfig`` checks a seed, and
    none twice: one seed is one run)."""
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence):
        raise ValueError(f"seeds must be a list of integers, e.g. [0, 1, 2], got {seeds!r}")
    if not seeds:
        raise ValueError("seeds is empty: give at least one seed")
    configs = [dataclasses.replace(config, seed=seed) for seed in seeds]
    chosen = [c.seed for c in configs]
    repeated = sorted({seed for seed in chosen if chosen.count(seed) > 1})
    if repeated:
        raise ValueError(f"seeds lists {repeated} more than once: each seed is one run, give it "
                         "once")
    return configs


def run_seeds(data: Cifar10, seeds: Sequence[int], config: TrainConfig,
              output_root: str | os.PathLike, holdout: int | None = None,
              model_kwargs: dict[str, Any] | None = None) -> pd.DataFrame:
    """Train one ``separable_net(**model_kwargs)`` per seed; a row per run (``COLUMNS``:
    ``RUN_COLUMNS`` plus ``validation``, "test" or "holdout-N", and the model and config as
    text). The seeds, ``output_root`` and ``holdout`` are checked before the first training."""
    configs = seed_configs(config, seeds)
    check_path("output_root", output_root)
    if holdout is None:
        train_data, validation, split = (data.x_train, data.y_train), (data.x_test, data.y_test), "test"
    else:
        check_count("holdout", holdout)
        try:
            train_data, validation = train_val_split(data.x_train, data.y_train, holdout, seed=0)
        except ValueError as error:
            raise ValueError(f"holdout={holdout} does not fit the training data: {error}") from None
        split = f"holdout-{holdout}"
    rows = []
    for run_config in configs:
        seed = run_config.seed
        keras.utils.set_random_seed(seed)
        model = separable_net(**(model_kwargs or {}))
        output_dir = Path(output_root) / f"{split}-seed{seed}"
        history = train(model, train_data, validation, run_config, output_dir)
        summary = write_summary(
            output_dir / "summary.json", history, model.count_params(), seed=seed,
            tta_val_acc=evaluate(model, *validation).flip_accuracy, validation=split,
            model=repr(model_kwargs or {}), config=repr(run_config))
        rows.append({**run_row(summary), "validation": split, "model": summary["model"],
                     "config": summary["config"]})
    return pd.DataFrame(rows, columns=COLUMNS)


def _check_selection(candidate: str | None, sharing: int) -> None:
    """A candidate name that is not blank (None: no candidate) and at least one training on the
    card."""
    if candidate is not None and (not isinstance(candidate, str) or not candidate.strip()):
        raise ValueError(f"candidate (--candidate NAME) must be a name, got {candidate!r}")
    if not is_integer(sharing) or sharing < 1:
        raise ValueError(f"sharing={sharing!r} (--trainings-sharing-the-card): at least the "
                         "training itself uses the card, give an integer >= 1")


def selection_rows(table: pd.DataFrame, candidate: str, sharing: int) -> pd.DataFrame:
    """``table`` of held-out runs as rows of a selection table (``SELECTION_COLUMNS``): the
    ``candidate`` name first, the number of trainings ``sharing`` the card (or CPU) last."""
    if not (table.validation.astype(str).str.startswith("holdout-")).all():
        raise ValueError("a selection row must be scored on held-out training images, not the "
                         "test set: train it with holdout=N")
    _check_selection(candidate, sharing)
    rows = table.assign(trainings_sharing_the_card=int(sharing))
    rows.insert(0, "candidate", candidate)
    return rows


def check_table_target(path: str | os.PathLike, columns: Sequence[str], append: bool) -> None:
    """Refuse a CSV ``path`` that ``write_table`` could not write rows of ``columns`` to: a
    folder, a path under a file, or, with ``append``, a file there whose header is not
    ``columns`` (empty and unreadable files included)."""
    check_path("path (--out)", path)
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"--out {path} is a folder: give a CSV file")
    parent = next((folder for folder in path.parents if folder.exists()), None)
    if parent is not None and not parent.is_dir():
        raise ValueError(f"--out {path}: {parent} is a file, not a folder")
    if not (append and path.exists()):
        return
    try:
        with path.open(newline="") as f:
            found = next(csv.reader(f), None)
    except (UnicodeDecodeError, csv.Error, OSError) as error:
        raise ValueError(f"cannot append to {path}: it is not a CSV table ({error}); write to "
                         "another file instead (--out)") from None
    if found is None:
        raise ValueError(f"cannot append to {path}: it is empty, with no header; remove it or "
                         "write to another file instead (--out)")
    if found != list(columns):
        raise ValueError(f"cannot append to {path}: its columns {found} differ from the new "
                         f"rows' {list(columns)}; write to another file instead (--out)")


def write_table(table: pd.DataFrame, path: str | os.PathLike, append: bool = False) -> None:
    """Write ``table`` to the CSV ``path``; with ``append``, add its rows to the table already
    there, which must have the same columns in the same order (``check_table_target``)."""
    check_table_target(path, list(table.columns), append)
    path = Path(path)
    if append and path.exists():
        table.to_csv(path, mode="a", header=False, index=False)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False)


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """``["learning_rate=0.4", "augment=false"]`` -> ``{"learning_rate": 0.4, "augment": False}``
    for the fields of :class:`TrainConfig` (values are read as JSON, else kept as text).

    >>> parse_overrides(["batch_size=256", "optimizer=adam"])
    {'batch_size': 256, 'optimizer': 'adam'}
    """
    fields = set(TrainConfig.__dataclass_fields__)
    overrides = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or name not in fields:
            raise ValueError(f"bad override {item!r}: expected FIELD=VALUE with FIELD one of "
                             f"{sorted(fields)}")
        try:
            overrides[name] = json.loads(value)
        except json.JSONDecodeError:
            overrides[name] = value
    return overrides


def _one_or_per_stage(values: int | list[int]) -> int | tuple[int, ...]:
    """A command-line list of one number as that number (for every stage), else a tuple."""
    if isinstance(values, int):
        return values
    return values[0] if len(values) == 1 else tuple(values)


class _ArgumentParser(argparse.ArgumentParser):
    """Raises ``ValueError`` for a bad command line instead of exiting, so that a caller can check
    one ahead of time; :func:`main` turns it back into argparse's usage message and exit code 2."""

    def error(self, message: str) -> NoReturn:
        raise ValueError(message)


def _parser() -> _ArgumentParser:
    parser = _ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_arguments(parser)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--holdout", type=int, default=None,
                        help="score on N held-out training images instead of the test set")
    parser.add_argument("--epochs", type=int, default=EPOCHS_REQUIRED)
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a TrainConfig field, e.g. --set learning_rate=0.4 "
                             "--set steps_per_execution=16 (repeatable)")
    parser.add_argument("--widths", type=int, nargs="+", default=MODEL_DEFAULTS["widths"])
    parser.add_argument("--stem-width", type=int, default=MODEL_DEFAULTS["stem_width"])
    parser.add_argument("--kernel-size", type=int, default=MODEL_DEFAULTS["kernel_size"])
    parser.add_argument("--dropout", type=float, nargs="+", default=MODEL_DEFAULTS["dropout"],
                        help="dropout after each stage's residual blocks, one rate per stage")
    parser.add_argument("--bn-momentum", type=float, default=MODEL_DEFAULTS["bn_momentum"])
    parser.add_argument("--blocks", type=int, nargs="+", default=MODEL_DEFAULTS["blocks"],
                        help="residual blocks in every stage (one number) or per stage, e.g. 2 1 1")
    parser.add_argument("--dtype-policy", choices=DTYPE_POLICIES,
                        default=MODEL_DEFAULTS["dtype_policy"],
                        help="float32, or bfloat16 activations (everywhere or outside the "
                             "separable convolutions)")
    parser.add_argument("--separable-impl", choices=tuple(SEPARABLE_IMPLEMENTATIONS),
                        default=MODEL_DEFAULTS["separable_impl"],
                        help="Keras's SeparableConv2D, or the same function as shifted products "
                             "and a matrix product (ShiftedSeparableConv2D)")
    parser.add_argument("--output-root", default="runs/experiments")
    parser.add_argument("--out", default="results/runs.csv")
    parser.add_argument("--append", action="store_true",
                        help="add the rows to --out instead of replacing it (same columns)")
    parser.add_argument("--candidate", metavar="NAME",
                        help="write selection rows named NAME (needs --holdout)")
    parser.add_argument("--trainings-sharing-the-card", type=int, default=1, metavar="N",
                        help="with --candidate: how many trainings ran at once on the card")
    return parser


def parse_command_line(argv: Sequence[str]) -> tuple[argparse.Namespace, TrainConfig, dict[str, Any]]:
    """The arguments of this module's command line, its ``TrainConfig`` and the keyword arguments
    of its ``separable_net``: everything checked that can be without data or a model (the
    counts, seeds, candidate, overrides, augmentation against the 32-px image and the ``--out``
    table). A bad argument, override or combination raises ``ValueError`` naming it.

    >>> args, config, model_kwargs = parse_command_line(["--set", "weight_decay=4e-3", "--blocks", "3"])
    >>> config.weight_decay, model_kwargs["blocks"]
    (0.004, 3)
    """
    args = _parser().parse_args(list(argv))
    for option, count in (("--holdout", args.holdout), ("--subset", args.subset)):
        if count is not None:
            check_count(option, count)
    if args.candidate is not None and args.holdout is None:
        raise ValueError("--candidate NAME scores a candidate on held-out training images, never "
                         "on the test set: give --holdout N too")
    _check_selection(args.candidate, args.trainings_sharing_the_card)
    config = TrainConfig(**{"epochs": args.epochs, **parse_overrides(args.set)})
    seed_configs(config, args.seeds)
    if config.augment:  # separable_net's input is the CIFAR-10 image
        check_geometry(config.max_shift, config.cutout, IMAGE_SHAPE)
    check_table_target(args.out, COLUMNS if args.candidate is None else SELECTION_COLUMNS,
                       args.append)
    model_kwargs = {"widths": tuple(args.widths), "stem_width": args.stem_width,
                    "kernel_size": args.kernel_size, "dropout": tuple(args.dropout),
                    "bn_momentum": args.bn_momentum, "blocks": _one_or_per_stage(args.blocks),
                    "dtype_policy": args.dtype_policy, "separable_impl": args.separable_impl}
    return args, config, model_kwargs


def main(argv: list[str] | None = None) -> int:
    try:
        args, config, model_kwargs = parse_command_line(sys.argv[1:] if argv is None else argv)
    except ValueError as error:
        argparse.ArgumentParser.error(_parser(), str(error))  # usage, the message, exit code 2
    data = load_cifar10(args.data, subset=args.subset)
    table = run_seeds(data, args.seeds, config, args.output_root, args.holdout, model_kwargs)
    if args.candidate is not None:
        table = selection_rows(table, args.candidate, args.trainings_sharing_the_card)
    write_table(table, args.out, append=args.append)
    print(table[RUN_COLUMNS + ["validation"]].to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
