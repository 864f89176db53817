"""Resumable training from a config: optimizer, schedule, regularisation, augmentation, logs.

``train`` writes, into ``output_dir``: ``config.json`` (the run's config), ``log.csv`` (Keras's
``CSVLogger``, one row per epoch), ``checkpoint/`` (weights, optimizer state and epoch, replaced
atomically at the end of an epoch, at most once every ``seconds_between_checkpoints``, and after
the last) and, at the end, ``model.keras``. Calling ``train`` again with the same
``output_dir`` and config resumes from the last checkpoint (a Colab disconnect, a killed process)
and finishes with exactly ``config.epochs`` epochs and a log without duplicates; a finished run is
not trained again.

>>> config = TrainConfig(epochs=50, batch_size=250)          # doctest: +SKIP
>>> history = train(model, (x, y), (x_test, y_test), config, "runs/seed0")  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import math
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

import keras
import numpy as np
import pandas as pd

from assignment_utils.augment import MAX_SEED, CifarAugment
from assignment_utils.checks import check_integer, check_path, check_real, is_integer
from assignment_utils.data import check_labels
from assignment_utils.logs import read_csv_log
from assignment_utils.models import CIFAR10_MEAN, check_images, with_separable_impl
from assignment_utils.rules import EPOCHS_REQUIRED

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("cosine", "constant")
# The cosine schedule's warm-up starts at this fraction of the peak rate and its decay ends at
# FINAL_LR_FRACTION of it.
WARMUP_START_FRACTION = 0.1
FINAL_LR_FRACTION = 0.001
# Fields that change how a run executes, not its result: a run may resume with other values.
EXECUTION_FIELDS = ("steps_per_execution", "jit_compile", "verbose")
# train()'s default: a killed run loses at most 10 s of training (and the epoch in progress), and
# a save (0.093 s on an H200, as long on a 2-core CPU: host time) costs under 1 % of the time
# between saves. Epochs of 10 s or more (TensorFlow on a 2-core CPU: 103-195 s) are all saved.
SECONDS_BETWEEN_CHECKPOINTS = 10.0


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run, then how it executes (``EXECUTION_FIELDS``).
    Invalid values raise ``ValueError`` at creation.

    ``learning_rate`` is the peak rate: ``schedule="cosine"`` warms up linearly from a tenth of it
    over the first ``warmup_fraction`` of the steps, then decays along a cosine to a thousandth of
    it at the last step; ``"constant"`` keeps it fixed. ``weight_decay`` is decoupled (Keras
    optimizers' ``weight_decay``) and skips BatchNorm and bias variables. ``augment`` turns on
    ``CifarAugment`` (flip, ``max_shift``, ``cutout`` on half of the images).
    """

    epochs: int = EPOCHS_REQUIRED  # the assignment's 50 epochs
    # Chosen on held-out images (results/selection.csv: 90.00 % at 250 against 87.96 % at 500);
    # divides 50,000, 45,000 and 10,000: no ragged last batch to compile.
    batch_size: int = 250
    optimizer: Literal["sgd", "adam", "adamw"] = "sgd"
    learning_rate: float = 0.2   # peak rate of the schedule
    schedule: Literal["cosine", "constant"] = "cosine"
    warmup_fraction: float = 0.2  # share of all steps spent warming up
    momentum: float = 0.9        # Nesterov momentum for SGD
    # With two blocks at 32 px, chosen on held-out images among 5e-4 to 8e-3 (results/selection.csv:
    # 91.96 % and 91.66 % for two training seeds, against 91.20 % at 2e-3; results/README.md).
    weight_decay: float = 8e-3
    label_smoothing: float = 0.1
    augment: bool = True
    max_shift: int = 4           # random shifts of up to 4 px, like padding 4 and cropping
    cutout: int = 8              # side of the cut-out square, on half of the images
    # The training's randomness (augmentation, dropout, shuffling): train() seeds Keras with it
    # first, so it depends on the seed alone, not on what ran before. The initial weights come
    # from the seed in force when the model is built: seed once before building it.
    seed: int = 0
    # How the run executes (a run resumes with other values of these):
    steps_per_execution: int | None = None  # None: a whole epoch per call where the backend can
    # XLA: "auto" lets Keras decide (on with JAX and on GPUs; off for TensorFlow on a CPU, where
    # XLA made an epoch of separable_net 13x slower on a 2-core machine); False to measure it.
    jit_compile: bool | Literal["auto"] = "auto"
    verbose: Literal[0, 1, 2] = 2

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            self._integer(name, minimum=1)
        if self.steps_per_execution is not None:
            self._integer("steps_per_execution", minimum=1)
        for name in ("max_shift", "cutout"):
            self._integer(name, minimum=0)
        self._integer("seed", minimum=0, maximum=MAX_SEED)
        self._real("learning_rate", "in (0, 10)", lambda v: 0 < v < 10)
        for name in ("warmup_fraction", "momentum", "label_smoothing"):
            self._real(name, "in [0, 1)", lambda v: 0 <= v < 1)
        self._real("weight_decay", ">= 0", lambda v: v >= 0)
        # Decoupled weight decay multiplies the weights by 1 - learning_rate * weight_decay at
        # every step (at the peak rate): at 1 or more it zeroes them or flips their sign.
        if self.learning_rate * self.weight_decay >= 1:
            raise ValueError(
                f"weight_decay * learning_rate must be < 1 (each step multiplies the weights by "
                f"1 - weight_decay * learning_rate), got weight_decay={self.weight_decay!r} and "
                f"learning_rate={self.learning_rate!r}: use weight_decay < "
                f"{1 / self.learning_rate:g}")
        for name, options in (("optimizer", OPTIMIZERS), ("schedule", SCHEDULES)):
            value = getattr(self, name)
            if not isinstance(value, str) or value not in options:
                raise ValueError(f"{name} must be one of {options}, got {value!r}")
            object.__setattr__(self, name, str(value))
        for name in ("augment", "jit_compile"):
            value = getattr(self, name)
            if name == "jit_compile" and isinstance(value, str) and value == "auto":
                object.__setattr__(self, name, "auto")
                continue
            if not isinstance(value, (bool, np.bool_)):
                allowed = "True, False or 'auto'" if name == "jit_compile" else "True or False"
                raise ValueError(f"{name} must be {allowed}, got {value!r}")
            object.__setattr__(self, name, bool(value))
        if not is_integer(self.verbose) or self.verbose not in (0, 1, 2):
            raise ValueError(f"verbose must be 0, 1 or 2, got {self.verbose!r}")
        object.__setattr__(self, "verbose", int(self.verbose))

    def _integer(self, name: str, minimum: int, maximum: int | None = None) -> None:
        """An int (NumPy ints too, not bools) in ``minimum..maximum``, stored as a Python int."""
        object.__setattr__(self, name, check_integer(name, getattr(self, name), minimum, maximum))

    def _real(self, name: str, allowed: str, ok: Callable[[float], bool]) -> None:
        """A finite real number (NumPy floats too, not bools) that ``ok`` accepts, stored as a
        Python float."""
        object.__setattr__(self, name, check_real(name, getattr(self, name), allowed, ok))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def identity(self) -> dict:
        """The fields that decide the result (all but ``EXECUTION_FIELDS``)."""
        return {k: v for k, v in self.to_dict().items() if k not in EXECUTION_FIELDS}


def make_optimizer(config: TrainConfig, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """The optimizer with its learning-rate schedule, as ``config`` describes."""
    learning_rate: float | keras.optimizers.schedules.LearningRateSchedule = config.learning_rate
    if config.schedule == "cosine":
        total = config.epochs * steps_per_epoch
        warmup = int(round(config.warmup_fraction * total))
        learning_rate = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=config.learning_rate * (WARMUP_START_FRACTION if warmup else 1),
            decay_steps=max(total - warmup, 1), alpha=FINAL_LR_FRACTION,
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


def learning_rate_reader(optimizer: keras.optimizers.Optimizer) -> Callable[[], float]:
    """A function returning ``optimizer``'s current learning rate as a float.

    On JAX a schedule is read through one ``jax.jit``: evaluated eagerly, Keras's schedules
    (``CosineDecay``'s ``ops.cond``) trace and compile anew at every call: about 50 ms of every
    epoch's wall time on a CPU (after its logged ``seconds`` are taken). Compiled as one
    program, as in the training step, XLA fuses the cosine's arithmetic: the rate can differ
    from the eager one by a few float32 rounding steps of the peak rate (at most 2 in 750 reads
    of 150 generated schedules).
    """
    schedule = optimizer._learning_rate  # Keras keeps a schedule here; .learning_rate evaluates it
    if (keras.backend.backend() == "jax"
            and isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule)):
        import jax  # only on JAX, where it is installed
        compiled = jax.jit(schedule)
        return lambda: float(compiled(optimizer.iterations.value))
    return lambda: float(keras.ops.convert_to_numpy(optimizer.learning_rate))


class EpochStats(keras.callbacks.Callback):
    """Adds ``seconds`` (wall time of the epoch, validation included) and ``learning_rate`` (the
    rate after the epoch's last step, by :func:`learning_rate_reader`) to each epoch's logs."""

    def on_train_begin(self, logs=None):
        self._learning_rate = learning_rate_reader(self.model.optimizer)

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["seconds"] = time.perf_counter() - self._start
            logs["learning_rate"] = self._learning_rate()


def _check_model(model) -> None:
    """A built ``keras.Model`` with one image input ``(N, H, W, C)`` and class probabilities
    ``(N, classes)`` out."""
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}")
    if not model.built:
        raise ValueError(f"model {model.name!r} is not built: start it with keras.Input(shape)")
    shapes = model.input_shape, model.output_shape
    if not all(isinstance(shape, tuple) and all(d is None or is_integer(d) for d in shape)
               for shape in shapes) or len(shapes[0]) != 4 or len(shapes[1]) != 2:
        raise ValueError(f"model must take one batch of images (N, H, W, C) and give class "
                         f"probabilities (N, classes); got input {shapes[0]}, output {shapes[1]}")


def _check_arrays(name: str, data, input_shape: tuple, num_classes: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """``data`` as images that fit ``input_shape`` (the model's, batch first) and one-hot labels."""
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise ValueError(f"{name} must be a pair (images, labels), got {type(data).__name__}")
    x, y = check_images(name, data[0]), check_labels(name, data[1], num_classes)
    wanted = tuple(input_shape[1:])
    if any(size is not None and size != got for size, got in zip(wanted, x.shape[1:])):
        raise ValueError(f"{name}: images of shape {x.shape[1:]} do not fit the model, which "
                         f"takes {wanted} (height, width, channels)")
    if len(x) != len(y):
        raise ValueError(f"{name}: {len(x)} images but {len(y)} labels")
    return x, keras.utils.to_categorical(y, num_classes).astype("float32")


def _check_callbacks(callbacks) -> list[keras.callbacks.Callback]:
    if callbacks is None:
        return []
    if not isinstance(callbacks, (list, tuple)) or not all(
            isinstance(c, keras.callbacks.Callback) for c in callbacks):
        raise TypeError(f"callbacks must be a list of keras.callbacks.Callback instances (or "
                        f"None), got {callbacks!r}")
    return list(callbacks)


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves weights and optimizer state at the end of an epoch so a killed run can resume.

    An epoch is saved when ``seconds_between_checkpoints`` or more have passed since the last save
    (or since training began), and the last epoch of the run always is, an early stop included:
    a killed run loses at most those seconds of training and the epoch in progress. 0 saves every
    epoch. A save writes ``epoch_NNN.weights.h5`` and then atomically replaces ``checkpoint.json``
    (``{"epoch": N, "weights": "epoch_NNN.weights.h5"}``): a process killed at any moment leaves
    the last complete checkpoint intact. Older weight files are removed.
    """

    def __init__(self, directory: Path, seconds_between_checkpoints: float = 0.0):
        super().__init__()
        self.directory = Path(directory)
        self.seconds_between_checkpoints = check_real(
            "seconds_between_checkpoints", seconds_between_checkpoints, ">= 0 (math.inf: only the "
            "run's last epoch)", lambda v: v >= 0, finite=False)

    def on_train_begin(self, logs=None):
        self._saved_at = time.monotonic()
        self._unsaved_epoch = None  # the last finished epoch, while it is not saved

    def on_epoch_end(self, epoch, logs=None):
        self._unsaved_epoch = epoch
        # The last epoch is saved here, not left to on_train_end: fit calls the optimizer's
        # finalize_variable_values (with use_ema, the average into the weights) before that.
        last = epoch + 1 >= self.params.get("epochs", math.inf)
        if last or time.monotonic() - self._saved_at >= self.seconds_between_checkpoints:
            self._save(epoch)

    def on_train_end(self, logs=None):
        # A run stopped early (EarlyStopping, TerminateOnNaN) ends on an epoch not yet saved.
        if self._unsaved_epoch is not None:
            self._save(self._unsaved_epoch)

    def _save(self, epoch: int) -> None:
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
        self._saved_at, self._unsaved_epoch = time.monotonic(), None


def _checkpoint_pointer(directory: Path) -> tuple[int, Path] | None:
    """``(epochs, weights file)`` of the last complete checkpoint in ``directory``; None when there
    is none; a damaged ``checkpoint.json`` is an error naming it."""
    pointer = directory / "checkpoint.json"
    if not pointer.exists():
        return None
    try:
        state = json.loads(pointer.read_text())
        return int(state["epoch"]), directory / state["weights"]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{pointer} is damaged ({error!r}); delete {directory.parent} to train "
                         "afresh") from None


def restore_checkpoint(model: keras.Model, directory: str | os.PathLike) -> int:
    """Load the last complete ``EpochCheckpoint`` of ``directory`` into the compiled ``model``
    (weights and optimizer state) and return its epoch count; 0 when there is none."""
    found = _checkpoint_pointer(Path(directory))
    if found is None:
        return 0
    epoch, weights = found
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    try:
        model.load_weights(weights)
    except Exception as error:  # h5py and Keras raise many types for a bad file
        raise ValueError(f"{weights} could not be loaded ({error}); delete "
                         f"{Path(directory).parent} to train afresh") from None
    return epoch


def _truncate_csv_log(path: Path, epochs_done: int) -> None:
    """Keep the complete rows of the epochs the checkpoint holds (CSVLogger counts from 0), so the
    epochs logged but not checkpointed before a kill are trained and logged once more, not twice;
    a log that lacks some of them is an error, never a shorter history."""
    rows = []
    if path.exists():
        with path.open(newline="") as f:
            rows = list(csv.reader(f))
    header, body = rows[:1], rows[1:]
    kept = [row for row in body
            if len(row) == len(header[0]) and row[0].isdigit() and int(row[0]) < epochs_done]
    if len(kept) != epochs_done:
        raise ValueError(f"{path} holds {len(kept)} complete epochs but the checkpoint holds "
                         f"{epochs_done}: the log was damaged or removed; delete {path.parent} to "
                         "train afresh")
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(header + kept)


def _steps_per_execution(config: TrainConfig, steps_per_epoch: int) -> int:
    """``config.steps_per_execution``, or a whole epoch per call when it is None. Keras's PyTorch
    backend runs one step per call: use 1 there (with a warning if more was asked for)."""
    if keras.backend.backend() == "torch":
        if config.steps_per_execution is None:
            return 1
        warnings.warn(f"steps_per_execution={config.steps_per_execution} is not supported by "
                      "Keras's PyTorch backend; training with steps_per_execution=1",
                      RuntimeWarning, stacklevel=3)
        return 1
    return config.steps_per_execution or steps_per_epoch


def build_trainer(model: keras.Model, config: TrainConfig, steps_per_epoch: int) -> keras.Model:
    """The model :func:`train` fits, compiled: ``CifarAugment`` in front where ``config.augment``,
    the optimizer and schedule of :func:`make_optimizer`, label-smoothed cross-entropy, accuracy,
    ``config.jit_compile`` and the steps per execution. Seeds Keras with ``config.seed`` first
    (``step_profile`` profiles this model's step)."""
    keras.utils.set_random_seed(config.seed)
    trainer = model
    if config.augment:
        trainer = keras.Sequential(
            [keras.Input(model.input_shape[1:]),
             CifarAugment(max_shift=config.max_shift, cutout=config.cutout, fill=CIFAR10_MEAN,
                          seed=config.seed),
             model], name=f"{model.name}_with_augmentation")
    trainer.compile(
        optimizer=make_optimizer(config, steps_per_epoch),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
        metrics=["accuracy"], jit_compile=config.jit_compile,
        steps_per_execution=_steps_per_execution(config, steps_per_epoch))
    return trainer


def fingerprint(array: np.ndarray) -> str:
    """A short hash of an array's shape, dtype and bytes (about 0.4 s for all of CIFAR-10)."""
    array = np.ascontiguousarray(array)
    digest = hashlib.sha256(f"{array.shape}|{array.dtype}|".encode())
    digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()[:16]


def run_identity(model: keras.Model, config: TrainConfig, train_data: tuple, validation_data: tuple
                 ) -> dict:
    """What decides a run's result: the recipe, the model (architecture and parameter count) and
    the data (fingerprints of the arrays). A run resumes only when all of it matches."""
    architecture = json.dumps(model.get_config(), sort_keys=True, default=str)
    return {
        "config": config.identity(),
        "model": {"name": model.name, "params": int(model.count_params()),
                  "architecture": hashlib.sha256(architecture.encode()).hexdigest()[:16]},
        "data": {"train_images": fingerprint(train_data[0]), "train_labels": fingerprint(train_data[1]),
                 "validation_images": fingerprint(validation_data[0]),
                 "validation_labels": fingerprint(validation_data[1])},
    }


def _differences(saved: dict, wanted: dict, prefix: str = "") -> list[str]:
    keys = sorted(saved.keys() | wanted.keys())
    found = []
    for key in keys:
        a, b = saved.get(key), wanted.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            found += _differences(a, b, f"{prefix}{key}.")
        elif a != b:
            found.append(f"{prefix}{key}: {a!r} there, {b!r} now")
    return found


def _check_identity(output_dir: Path, identity: dict) -> None:
    """Write ``run.json`` for a new run; refuse to resume a run whose identity differs."""
    path = output_dir / "run.json"
    if not path.exists():
        if (output_dir / "checkpoint").exists() or (output_dir / "log.csv").exists():
            raise ValueError(f"{output_dir} holds a training run without its run.json: choose "
                             "another output_dir or delete that folder to start afresh")
        path.write_text(json.dumps(identity, indent=2))
        return
    try:
        saved = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is damaged ({error}); delete {output_dir} to start afresh") from None
    differences = _differences(saved, identity)
    if differences:
        raise ValueError(
            f"{output_dir} holds another run, so it cannot be resumed with this model, data and "
            f"config ({'; '.join(differences)}). Choose another output_dir, or delete that folder "
            "to start afresh")


def train(
    model: keras.Model,
    train_data: tuple[np.ndarray, np.ndarray],
    validation_data: tuple[np.ndarray, np.ndarray],
    config: TrainConfig,
    output_dir: str | os.PathLike,
    callbacks: list[keras.callbacks.Callback] | None = None,
    seconds_between_checkpoints: float = SECONDS_BETWEEN_CHECKPOINTS,
) -> pd.DataFrame:
    """Train ``model`` in place and return its whole history (all epochs, resumed ones included)
    in the log parser's schema (``epoch``, ``loss``, ``acc``, ``val_loss``, ``val_acc``,
    ``seconds``, ``learning_rate``...).

    Images are raw pixels (uint8, or floats in 0..255: the model standardizes them itself) of
    the model's input size; labels are integer class indices, ``(N,)`` or ``(N, 1)``.
    ``callbacks`` are added to the run's own (timing, CSV log, checkpoint). The checkpoint is
    saved at the end of an epoch once ``seconds_between_checkpoints`` have passed since the last
    one, and after the last epoch (:class:`EpochCheckpoint`; 0 saves every epoch). A run already
    in ``output_dir`` resumes from its last checkpoint if :func:`run_identity` matches, and is
    refused otherwise.
    Bad arguments raise ``ValueError``/``TypeError`` before anything is written or trained; a
    ``batch_size`` larger than the training set warns (every epoch is then one batch of all the
    images).
    """
    _check_model(model)
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    num_classes = model.output_shape[-1]
    x_train, y_train = _check_arrays("train_data", train_data, model.input_shape, num_classes)
    x_val, y_val = _check_arrays("validation_data", validation_data, model.input_shape,
                                 num_classes)
    if isinstance(output_dir, (str, os.PathLike)) and not os.fspath(output_dir).strip():
        raise ValueError("output_dir is empty: give a folder for the run's log and checkpoints")
    check_path("output_dir", output_dir)
    output_dir = Path(output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise ValueError(f"output_dir {output_dir} is a file, not a folder: give a folder for "
                         "the run's log and checkpoints")
    callbacks = _check_callbacks(callbacks)
    checkpoint = EpochCheckpoint(output_dir / "checkpoint", seconds_between_checkpoints)
    if config.batch_size > len(x_train):
        warnings.warn(f"batch_size={config.batch_size} is larger than the {len(x_train)} "
                      f"training images: every epoch is one batch of {len(x_train)}",
                      RuntimeWarning, stacklevel=2)

    # model.keras holds Keras's own SeparableConv2D (same weights), so it loads without this
    # package; converted now, so that a model that cannot be is refused before any file is
    # written, and before build_trainer seeds the run (cloning draws initial weights).
    saved = with_separable_impl(model, "keras")
    # Checks max_shift and cutout against the images, before any file is written.
    trainer = build_trainer(model, config, math.ceil(len(x_train) / config.batch_size))
    output_dir.mkdir(parents=True, exist_ok=True)
    _check_identity(output_dir, run_identity(model, config, (x_train, train_data[1]),
                                             (x_val, validation_data[1])))
    checkpoint_dir, log_path = checkpoint.directory, output_dir / "log.csv"
    epochs_done = restore_checkpoint(trainer, checkpoint_dir)
    _truncate_csv_log(log_path, epochs_done)
    if epochs_done:
        if epochs_done >= config.epochs:
            print(f"already complete: {epochs_done} epochs in {output_dir}")
        else:
            print(f"resuming at epoch {epochs_done + 1} of {config.epochs} from {checkpoint_dir}")
    trainer.fit(
        x_train, y_train, validation_data=(x_val, y_val), epochs=config.epochs,
        batch_size=config.batch_size, verbose=config.verbose, initial_epoch=epochs_done,
        callbacks=[EpochStats(),
                   keras.callbacks.CSVLogger(str(log_path), append=True),
                   checkpoint,
                   *callbacks])
    if saved is not model:
        saved.set_weights(model.get_weights())
    saved.save(output_dir / "model.keras")
    history = read_csv_log(log_path)
    checkpointed, _ = _checkpoint_pointer(checkpoint_dir)
    if len(history) != checkpointed:
        raise ValueError(f"{log_path} holds {len(history)} epochs but the checkpoint {checkpointed}: "
                         f"the log was damaged; delete {output_dir} to train afresh")
    return history
