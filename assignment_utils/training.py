"""Resumable training from a config: optimizer, schedule, regularisation, augmentation, logs.

``train`` writes, into ``output_dir``: ``config.json`` (the run's config), ``log.csv`` (Keras's
``CSVLogger``, one row per epoch), ``checkpoint/`` (weights, optimizer state and epoch, replaced
atomically after every epoch) and, at the end, ``model.keras``. Calling ``train`` again with the same
``output_dir`` and config resumes where the run stopped (a Colab disconnect, a killed process) and
finishes with exactly ``config.epochs`` epochs and a log without duplicates; a finished run is
not trained again.

>>> config = TrainConfig(epochs=50, batch_size=512)          # doctest: +SKIP
>>> history = train(model, (x, y), (x_test, y_test), config, "runs/seed0")  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import keras
import numpy as np
import pandas as pd

from assignment_utils.augment import CifarAugment
from assignment_utils.logs import read_csv_log

# Per-channel mean and standard deviation of the 50,000 CIFAR-10 training images, in 0-255 units.
CIFAR10_MEAN = np.array([125.307, 122.950, 113.865], dtype="float32")
CIFAR10_STD = np.array([62.993, 62.089, 66.705], dtype="float32")

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("cosine", "constant")


def standardize(images: np.ndarray) -> np.ndarray:
    """uint8 images (N, 32, 32, 3) -> float32, per-channel zero mean and unit variance.

    Float images are taken as already standardized and returned unchanged, so callers can pass
    either.
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must have shape (N, H, W, 3), got {images.shape}")
    if images.dtype != np.uint8:
        return images
    return (images.astype("float32") - CIFAR10_MEAN) / CIFAR10_STD


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run. Invalid values raise ``ValueError`` at creation.

    ``learning_rate`` is the peak rate: ``schedule="cosine"`` warms up linearly from 0 over
    ``warmup_epochs`` and then decays to 0 by the last step; ``"constant"`` keeps it fixed.
    ``weight_decay`` is decoupled (Keras optimizers' ``weight_decay``) and skips BatchNorm and
    bias variables. ``augment`` turns on ``CifarAugment`` (flip, ``max_shift``, ``cutout``).
    """

    epochs: int = 50
    batch_size: int = 512
    optimizer: Literal["sgd", "adam", "adamw"] = "sgd"
    learning_rate: float = 0.2
    schedule: Literal["cosine", "constant"] = "cosine"
    warmup_epochs: float = 2.0
    momentum: float = 0.9
    weight_decay: float = 5e-4
    label_smoothing: float = 0.1
    augment: bool = True
    max_shift: int = 4
    cutout: int = 8
    seed: int = 0
    steps_per_execution: int = 1
    verbose: Literal[0, 1, 2] = 2

    def __post_init__(self) -> None:
        def positive_int(name: str) -> None:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")

        for name in ("epochs", "batch_size", "steps_per_execution"):
            positive_int(name)
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if not (isinstance(self.learning_rate, (int, float)) and 0 < self.learning_rate < 10):
            raise ValueError(f"learning_rate must be a number in (0, 10), got {self.learning_rate!r}")
        if not 0 <= self.warmup_epochs <= self.epochs:
            raise ValueError(f"warmup_epochs must be in [0, epochs={self.epochs}], "
                             f"got {self.warmup_epochs!r}")
        for name, low, high in (("momentum", 0, 1), ("label_smoothing", 0, 1)):
            if not low <= getattr(self, name) < high:
                raise ValueError(f"{name} must be in [{low}, {high}), got {getattr(self, name)!r}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        if self.max_shift < 0 or self.cutout < 0:
            raise ValueError(f"max_shift and cutout must be >= 0, got {self.max_shift}, {self.cutout}")
        if self.verbose not in (0, 1, 2):
            raise ValueError(f"verbose must be 0, 1 or 2, got {self.verbose!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)):
            raise ValueError(f"seed must be an integer, got {self.seed!r}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def make_optimizer(config: TrainConfig, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """The optimizer with its learning-rate schedule, as ``config`` describes."""
    learning_rate: float | keras.optimizers.schedules.LearningRateSchedule = config.learning_rate
    if config.schedule == "cosine":
        total = config.epochs * steps_per_epoch
        warmup = int(round(config.warmup_epochs * steps_per_epoch))
        learning_rate = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=0.0 if warmup else config.learning_rate,
            decay_steps=max(total - warmup, 1), alpha=0.0,
            warmup_target=config.learning_rate if warmup else None, warmup_steps=warmup)
    decay = config.weight_decay or None
    if config.optimizer == "sgd":
        optimizer = keras.optimizers.SGD(learning_rate, momentum=config.momentum,
                                         nesterov=config.momentum > 0, weight_decay=decay)
    elif config.optimizer == "adam":
        optimizer = keras.optimizers.Adam(learning_rate, weight_decay=decay)
    else:
        optimizer = keras.optimizers.AdamW(learning_rate, weight_decay=config.weight_decay)
    optimizer.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])
    return optimizer


class EpochStats(keras.callbacks.Callback):
    """Adds ``seconds`` (wall time of the epoch, validation included) and ``learning_rate`` (the
    rate after the epoch's last step) to each epoch's logs."""

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["seconds"] = time.perf_counter() - self._start
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))


def _check_arrays(name: str, data, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise ValueError(f"{name} must be a pair (images, labels), got {type(data).__name__}")
    x, y = np.asarray(data[0]), np.asarray(data[1]).reshape(-1)
    if x.ndim != 4 or len(x) != len(y) or len(x) == 0:
        raise ValueError(f"{name}: expected images (N, H, W, C) and N labels, got {x.shape} and "
                         f"{y.shape}")
    if y.min() < 0 or y.max() >= num_classes:
        raise ValueError(f"{name}: labels must be in 0..{num_classes - 1}, got {y.min()}..{y.max()}")
    return standardize(x), keras.utils.to_categorical(y, num_classes).astype("float32")


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves weights and optimizer state after every epoch so a killed run can resume.

    Each epoch writes ``epoch_NNN.weights.h5`` and then atomically replaces ``checkpoint.json``
    (``{"epoch": N, "weights": "epoch_NNN.weights.h5"}``): a process killed at any moment leaves
    the last complete checkpoint intact. Older weight files are removed.
    """

    def __init__(self, directory: Path):
        super().__init__()
        self.directory = Path(directory)

    def on_epoch_end(self, epoch, logs=None):
        self.directory.mkdir(parents=True, exist_ok=True)
        weights = f"epoch_{epoch + 1:03d}.weights.h5"
        self.model.save_weights(self.directory / weights, overwrite=True)
        pointer = self.directory / "checkpoint.json"
        partial = pointer.with_suffix(".json.partial")
        partial.write_text(json.dumps({"epoch": epoch + 1, "weights": weights}))
        os.replace(partial, pointer)
        for old in self.directory.glob("epoch_*.weights.h5"):
            if old.name != weights:
                old.unlink()


def restore_checkpoint(model: keras.Model, directory: str | os.PathLike) -> int:
    """Load the last complete ``EpochCheckpoint`` of ``directory`` into the compiled ``model``
    (weights and optimizer state) and return its epoch count; 0 when there is none."""
    pointer = Path(directory) / "checkpoint.json"
    if not pointer.exists():
        return 0
    state = json.loads(pointer.read_text())
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    model.load_weights(Path(directory) / state["weights"])
    return int(state["epoch"])


def _truncate_csv_log(path: Path, epochs_done: int) -> None:
    """Keep the complete rows of the epochs the checkpoint holds (CSVLogger counts from 0)."""
    if not path.exists():
        return
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return
    kept = rows[:1] + [row for row in rows[1:]
                       if len(row) == len(rows[0]) and int(row[0]) < epochs_done]
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(kept)


def _steps_per_execution(config: TrainConfig) -> int:
    """Keras's PyTorch backend runs one step per call: say so and use 1 there."""
    if config.steps_per_execution > 1 and keras.backend.backend() == "torch":
        warnings.warn(f"steps_per_execution={config.steps_per_execution} is not supported by "
                      "Keras's PyTorch backend; training with steps_per_execution=1",
                      RuntimeWarning, stacklevel=3)
        return 1
    return config.steps_per_execution


def _check_config(output_dir: Path, config: TrainConfig) -> None:
    path = output_dir / "config.json"
    wanted = {k: v for k, v in config.to_dict().items() if k != "verbose"}
    if path.exists():
        saved = {k: v for k, v in json.loads(path.read_text()).items() if k != "verbose"}
        if saved != wanted:
            changed = sorted(k for k in wanted.keys() | saved.keys() if saved.get(k) != wanted.get(k))
            raise ValueError(
                f"{output_dir} holds a run with a different config (differs in {changed}); "
                "resume it with the same config or choose a new output_dir")
    else:
        path.write_text(json.dumps(config.to_dict(), indent=2))


def train(
    model: keras.Model,
    train_data: tuple[np.ndarray, np.ndarray],
    validation_data: tuple[np.ndarray, np.ndarray],
    config: TrainConfig,
    output_dir: str | os.PathLike,
    callbacks: list[keras.callbacks.Callback] | None = None,
) -> pd.DataFrame:
    """Train ``model`` in place and return its whole history (all epochs, resumed ones included)
    in the log parser's schema (``epoch``, ``loss``, ``acc``, ``val_loss``, ``val_acc``,
    ``seconds``, ``learning_rate``...).

    Images may be uint8 (standardized here) or already-standardized floats; labels are class
    indices. ``callbacks`` are added to the run's own (timing, CSV log, checkpoint).
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}")
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    num_classes = model.output_shape[-1]
    x_train, y_train = _check_arrays("train_data", train_data, num_classes)
    x_val, y_val = _check_arrays("validation_data", validation_data, num_classes)

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    _check_config(output_dir, config)
    checkpoint_dir, log_path = output_dir / "checkpoint", output_dir / "log.csv"

    keras.utils.set_random_seed(config.seed)
    trainer = model
    if config.augment:
        trainer = keras.Sequential(
            [keras.Input(model.input_shape[1:]),
             CifarAugment(max_shift=config.max_shift, cutout=config.cutout, seed=config.seed),
             model], name=f"{model.name}_with_augmentation")
    steps_per_epoch = math.ceil(len(x_train) / config.batch_size)
    trainer.compile(
        optimizer=make_optimizer(config, steps_per_epoch),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
        metrics=["accuracy"], steps_per_execution=_steps_per_execution(config))
    epochs_done = restore_checkpoint(trainer, checkpoint_dir)
    _truncate_csv_log(log_path, epochs_done)
    trainer.fit(
        x_train, y_train, validation_data=(x_val, y_val), epochs=config.epochs,
        batch_size=config.batch_size, verbose=config.verbose, initial_epoch=epochs_done,
        callbacks=[EpochStats(),
                   keras.callbacks.CSVLogger(str(log_path), append=True),
                   EpochCheckpoint(checkpoint_dir),
                   *(callbacks or [])])
    model.save(output_dir / "model.keras")
    return read_csv_log(log_path)
