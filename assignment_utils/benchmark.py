"""Side-by-side training speed: a naive ``model.fit`` against this package's training pipeline.

``naive`` is what a student writes first: Adam, batch 128, float32 numpy arrays, one step per
call. ``pipeline`` is :func:`assignment_utils.training.train` with the given ``TrainConfig``
(batch 512, jittable augmentation, ``steps_per_execution``). Both run the same model builder on
the same data in one process, so their times compare.

Command line (writes ``results/benchmark.csv`` and prints the table)::

    python -m assignment_utils.benchmark --data cifar10.npz --epochs 5 --steps-per-execution 16
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import keras
import pandas as pd

from assignment_utils.data import Cifar10, load_cifar10
from assignment_utils.logs import history_to_frame, summarize_run
from assignment_utils.models import reference_model, separable_net
from assignment_utils.run_record import environment_record, epoch_timing
from assignment_utils.training import EpochStats, TrainConfig, standardize, train

MODELS: dict[str, Callable[[], keras.Model]] = {
    "separable_net": separable_net, "reference_model": reference_model}
PIPELINES = ("naive", "pipeline")
COLUMNS = ["pipeline", "model", "epochs", "seconds_per_epoch", "train_seconds",
           "compile_seconds", "val_acc", "device", "backend"]


def naive_fit(model: keras.Model, data: Cifar10, epochs: int, batch_size: int = 128) -> pd.DataFrame:
    """Train with a plain ``compile``/``fit`` on float32 numpy arrays; the history frame with
    per-epoch ``seconds``."""
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(standardize(data.x_train), data.y_train, batch_size=batch_size,
                        epochs=epochs, validation_data=(standardize(data.x_test), data.y_test),
                        callbacks=[EpochStats()], verbose=2)
    return history_to_frame(history)


def run_benchmark(data: Cifar10, epochs: int, config: TrainConfig,
                  models: Sequence[str] = tuple(MODELS), pipelines: Sequence[str] = PIPELINES,
                  seed: int = 0) -> pd.DataFrame:
    """Train every model with every pipeline for ``epochs`` epochs; one row each (``COLUMNS``)."""
    unknown = [m for m in models if m not in MODELS] + [p for p in pipelines if p not in PIPELINES]
    if unknown:
        raise ValueError(f"unknown models/pipelines {unknown}; choose from {list(MODELS)} and "
                         f"{list(PIPELINES)}")
    config = TrainConfig(**{**config.to_dict(), "epochs": epochs})
    environment = environment_record()
    rows = []
    for model_name in models:
        for pipeline in pipelines:
            keras.utils.set_random_seed(seed)
            model = MODELS[model_name]()
            if pipeline == "naive":
                history = naive_fit(model, data, epochs)
            else:
                with tempfile.TemporaryDirectory() as output_dir:
                    history = train(model, (data.x_train, data.y_train),
                                    (data.x_test, data.y_test), config, output_dir)
            timing = epoch_timing(history)
            rows.append({"pipeline": pipeline, "model": model_name, "epochs": epochs,
                         "seconds_per_epoch": timing["seconds_per_epoch"],
                         "train_seconds": timing["train_seconds"],
                         "compile_seconds": timing["compile_seconds"],
                         "val_acc": summarize_run(history).final_val_acc,
                         "device": environment["device"], "backend": environment["backend"]})
    return pd.DataFrame(rows, columns=COLUMNS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=None, help="CIFAR-10 .npz or folder (default: Keras)")
    parser.add_argument("--subset", type=int, default=None, help="class-balanced training subset")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--steps-per-execution", type=int, default=16)
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--pipelines", nargs="+", default=list(PIPELINES))
    parser.add_argument("--out", default="results/benchmark.csv")
    args = parser.parse_args(argv)
    data = load_cifar10(args.data, subset=args.subset)
    config = TrainConfig(batch_size=args.batch_size, steps_per_execution=args.steps_per_execution,
                         warmup_epochs=min(2, args.epochs))
    table = run_benchmark(data, args.epochs, config, args.models, args.pipelines)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False)
    environment = environment_record()
    print(f"{environment['date']}  device: {environment['device']}  backend: "
          f"{environment['backend']}  versions: {environment['versions']}")
    print(f"{len(data.x_train):,} training images, {args.epochs} epochs, config {config}")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
