"""Side-by-side training speed: a naive ``model.fit`` against this package's training pipeline.

``naive`` is what a student writes first: Adam, batch 128, float32 numpy arrays, one step per
call. ``pipeline`` is :func:`assignment_utils.training.train` with the given ``TrainConfig``
(the notebook's path: uint8 arrays, jittable augmentation, a whole epoch per call).
``pipeline_no_xla`` is the same with ``jit_compile=False``; being far slower, it is measured on
``NO_XLA_IMAGES`` training images for at most ``NO_XLA_EPOCHS`` epochs and its times are
scaled to the whole training set (the ``note`` column says so). ``seconds_per_epoch`` is an
epoch's own time (its steps and its evaluation, as ``EpochStats`` logs it);
``cycle_seconds_per_epoch`` the time from one epoch's end to the next, so also what runs after
the epoch is timed (the pipeline's log, and its checkpoint in the epochs that save one): what a
user waits per epoch once the step is compiled. Both are medians over epochs 2..N, so a
checkpoint saved at most every 10 s (``train``'s default) drops out of the median once epochs
are shorter than that. The model
``separable_net_shifted`` is ``separable_net`` with ``ShiftedSeparableConv2D`` layers (the same
function and weights, computed by operations XLA can fuse); its naive baseline is
``separable_net``'s (``NAIVE_BASELINE``). Every run shares one process, so
their times compare. Rows are written as soon as they finish; a time budget stops the benchmark
at an epoch's end, and a run cut short says so in ``note`` instead of reporting a time it did
not measure.

Command line (writes ``results/benchmark.csv`` and prints the table)::

    python -m assignment_utils.benchmark --data cifar10.npz --epochs 3 --budget 150
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from assignment_utils.checks import check_real
from assignment_utils.data import Cifar10, add_data_arguments, check_count, load_cifar10
from assignment_utils.experiments import check_table_target
from assignment_utils.logs import history_to_frame
from assignment_utils.models import reference_model, separable_net
from assignment_utils.run_record import environment_record, epoch_timing
from assignment_utils.training import EpochStats, TrainConfig, train

MODELS: dict[str, Callable[[], keras.Model]] = {
    "separable_net": separable_net,
    "separable_net_shifted": partial(separable_net, separable_impl="shifted"),
    "reference_model": reference_model}
# The naive fit a model's pipeline is compared with, where it is not the model's own: the same
# network with Keras's layers, as a student would write it.
NAIVE_BASELINE = {"separable_net_shifted": "separable_net"}
PIPELINES = ("naive", "pipeline", "pipeline_no_xla")
# The runs measured, in order: ours both ways (first, so a short budget still gives the
# speed-up), then with shifted layers, the reference model both ways, and what XLA buys for ours.
DEFAULT_RUNS = (("pipeline", "separable_net"), ("naive", "separable_net"),
                ("pipeline", "separable_net_shifted"),
                ("pipeline", "reference_model"), ("naive", "reference_model"),
                ("pipeline_no_xla", "separable_net"))
NO_XLA_IMAGES = 2500   # without XLA an epoch of 50,000 images takes minutes on a GPU
NO_XLA_EPOCHS = 2      # eager execution compiles nothing: the second epoch is steady
COLUMNS = ["pipeline", "model", "epochs", "seconds_per_epoch", "cycle_seconds_per_epoch",
           "train_seconds", "compile_seconds", "val_acc", "device", "backend", "train_images",
           "note"]


class Deadline(keras.callbacks.Callback):
    """Stops ``fit`` at the first epoch end after ``deadline`` (``time.monotonic()``), so every
    logged epoch is whole."""

    def __init__(self, deadline: float):
        super().__init__()
        self.deadline = deadline

    def on_epoch_end(self, epoch, logs=None):
        if time.monotonic() > self.deadline:
            self.model.stop_training = True


class EpochEnds(keras.callbacks.Callback):
    """``times``: ``time.monotonic()`` at each epoch's end, after the callbacks listed before it."""

    def __init__(self):
        super().__init__()
        self.times: list[float] = []

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.monotonic())


def naive_fit(model: keras.Model, data: Cifar10, epochs: int, batch_size: int = 128,
              callbacks: Sequence[keras.callbacks.Callback] = ()) -> pd.DataFrame:
    """Train with a plain ``compile``/``fit`` on float32 numpy arrays; the history frame with
    per-epoch ``seconds``."""
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(data.x_train.astype("float32"), data.y_train, batch_size=batch_size,
                        epochs=epochs, validation_data=(data.x_test.astype("float32"), data.y_test),
                        callbacks=[EpochStats(), *callbacks], verbose=2)
    return history_to_frame(history)


def _subset(data: Cifar10, images: int) -> Cifar10:
    if images >= len(data.x_train):
        return data
    keep = np.random.default_rng(0).permutation(len(data.x_train))[:images]
    return data._replace(x_train=data.x_train[keep], y_train=data.y_train[keep])


def check_runs(runs: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """``runs`` as a list of ``(pipeline, model)`` pairs of known names, or ``ValueError``."""
    if isinstance(runs, (str, bytes)) or not isinstance(runs, Sequence) or not runs:
        raise ValueError(f"runs must be a non-empty list of (pipeline, model) pairs, got {runs!r}")
    unknown = [r for r in runs if not (isinstance(r, (tuple, list)) and len(r) == 2
                                       and r[0] in PIPELINES and r[1] in MODELS)]
    if unknown:
        raise ValueError(f"unknown (pipeline, model) runs {unknown}; choose from {list(PIPELINES)} "
                         f"and {list(MODELS)}, e.g. ('pipeline', 'separable_net')")
    return [tuple(r) for r in runs]


def parse_run(item: str) -> tuple[str, str]:
    """A command line's ``PIPELINE:MODEL`` as a checked pair."""
    pipeline, sep, model = item.partition(":")
    if not sep:
        raise ValueError(f"{item!r} is not PIPELINE:MODEL, e.g. pipeline:separable_net")
    return check_runs([(pipeline, model)])[0]


def _check_settings(epochs: int, config: TrainConfig, seed: int) -> None:
    """``epochs`` (an integer >= 1) and ``seed`` as ``TrainConfig`` checks them."""
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    dataclasses.replace(config, epochs=epochs, seed=seed)


def _check_budget(budget: float) -> float:
    return check_real("budget", budget, ">= 0 of seconds (inf: no limit)", lambda v: v >= 0,
                      finite=False)


def benchmark_run(pipeline: str, model_name: str, data: Cifar10, epochs: int,
                  config: TrainConfig, deadline: float, seed: int = 0) -> dict:
    """Train one model with one pipeline for up to ``epochs`` epochs, stopping at ``deadline``;
    one row of ``COLUMNS`` (times scaled to the whole training set where measured on less)."""
    if pipeline not in PIPELINES or model_name not in MODELS:
        raise ValueError(f"unknown pipeline or model {pipeline!r}, {model_name!r}; choose from "
                         f"{list(PIPELINES)} and {list(MODELS)}")
    _check_settings(epochs, config, seed)
    check_real("deadline", deadline, "(a time.monotonic() value)", lambda v: True, finite=False)
    measured, epochs = ((_subset(data, NO_XLA_IMAGES), min(epochs, NO_XLA_EPOCHS))
                        if pipeline == "pipeline_no_xla" else (data, epochs))
    keras.utils.set_random_seed(seed)
    model = MODELS[model_name]()
    stop, ends = Deadline(deadline), EpochEnds()
    if pipeline == "naive":
        history = naive_fit(model, measured, epochs, callbacks=[stop, ends])
    else:
        no_xla = {"jit_compile": False} if pipeline == "pipeline_no_xla" else {}
        run_config = dataclasses.replace(config, epochs=epochs, seed=seed, **no_xla)
        with tempfile.TemporaryDirectory() as output_dir:
            history = train(model, (measured.x_train, measured.y_train),
                            (measured.x_test, measured.y_test), run_config, output_dir,
                            callbacks=[stop, ends])
    scale = len(data.x_train) / len(measured.x_train)
    notes = []
    if scale != 1:
        notes.append(f"measured on {len(measured.x_train):,} images, times scaled x{scale:g}")
    if len(history) < epochs:
        notes.append(f"stopped by the time budget after {len(history)} of {epochs} epochs")
    row = {"pipeline": pipeline, "model": model_name, "epochs": len(history),
           "seconds_per_epoch": math.nan, "cycle_seconds_per_epoch": math.nan,
           "train_seconds": math.nan, "compile_seconds": math.nan,
           "val_acc": math.nan, "train_images": len(measured.x_train), "note": "; ".join(notes)}
    if len(history) >= 2:
        timing = epoch_timing(history)
        row.update(seconds_per_epoch=timing["seconds_per_epoch"] * scale,
                   cycle_seconds_per_epoch=float(np.median(np.diff(ends.times))) * scale,
                   train_seconds=timing["train_seconds"] * scale,
                   compile_seconds=timing["compile_seconds"])
    if len(history):
        row["val_acc"] = float(history["val_acc"].iloc[-1])
    return row


def run_benchmark(data: Cifar10, epochs: int, config: TrainConfig,
                  runs: Sequence[tuple[str, str]] = DEFAULT_RUNS, budget: float = math.inf,
                  out: str | Path | None = None, seed: int = 0,
                  environment: dict | None = None) -> pd.DataFrame:
    """Every ``(pipeline, model)`` run in order, within ``budget`` seconds in all; one row each
    (``COLUMNS``). Runs the budget leaves no time for are rows with the note "not run". With
    ``out``, the table is rewritten after every run. ``environment`` is the
    :func:`~assignment_utils.run_record.environment_record` to name the device by (made here
    when None). Every argument is checked before the first run."""
    runs = check_runs(runs)
    _check_settings(epochs, config, seed)
    budget = _check_budget(budget)
    if out is not None:
        check_table_target(out, COLUMNS, append=False)
    environment = environment or environment_record()
    deadline = time.monotonic() + budget
    rows = []
    for pipeline, model_name in runs:
        if time.monotonic() < deadline:
            row = benchmark_run(pipeline, model_name, data, epochs, config, deadline, seed)
        else:
            row = {"pipeline": pipeline, "model": model_name, "epochs": 0,
                   "note": "not run: the time budget was spent"}
        rows.append({**row, "device": environment["device"], "backend": environment["backend"]})
        table = pd.DataFrame(rows, columns=COLUMNS)
        if out is not None:
            Path(out).parent.mkdir(parents=True, exist_ok=True)
            table.to_csv(out, index=False)
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_arguments(parser)
    parser.add_argument("--epochs", type=int, default=3,
                        help="epochs per run; the first holds the compilation")
    parser.add_argument("--budget", type=float, default=math.inf,
                        help="seconds for the whole benchmark; it stops between epochs")
    parser.add_argument("--runs", nargs="+", default=[f"{p}:{m}" for p, m in DEFAULT_RUNS],
                        metavar="PIPELINE:MODEL")
    parser.add_argument("--out", default="results/benchmark.csv")
    args = parser.parse_args(argv)

    def checked(option: str, check: Callable, *values):
        try:
            return check(*values)
        except ValueError as error:
            parser.error(f"argument {option}: {error}")  # usage, the message, exit code 2

    runs = [checked("--runs", parse_run, item) for item in args.runs]
    checked("--epochs", _check_settings, args.epochs, TrainConfig(), 0)
    checked("--budget", _check_budget, args.budget)
    if args.subset is not None:
        checked("--subset", check_count, "subset", args.subset)
    checked("--out", check_table_target, args.out, COLUMNS, False)
    data = load_cifar10(args.data, subset=args.subset)
    environment = environment_record()
    print(f"{environment['date']}  device: {environment['device']}  backend: "
          f"{environment['backend']}  versions: {environment['versions']}", flush=True)
    table = run_benchmark(data, args.epochs, TrainConfig(), runs, args.budget, args.out,
                          environment=environment)
    print(f"{len(data.x_train):,} training images, up to {args.epochs} epochs per run")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
