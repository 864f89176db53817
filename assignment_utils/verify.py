"""Check a trained model's recorded test accuracy on any machine, without training.

::

    python -m assignment_utils.verify [MODEL] [--record PATH] [--data PATH]

``MODEL`` (default: the checkout's ``results/model.keras``, the graded render's model) is loaded on
the active Keras backend (``KERAS_BACKEND``: TensorFlow, JAX or PyTorch). Its record is
``<stem>.summary.json`` beside it (``results/model.summary.json``) unless ``--record`` names
another: the run's ``summary.json`` (:func:`~assignment_utils.run_record.write_summary`). Then:

1. the model must keep the assignment's model rules, every layer checked, nested ones included
   (:func:`~assignment_utils.rubric.check_assignment` without a history: depthwise separable
   convolutions only, BatchNormalization, fewer than 100,000 parameters, dropout, output size and
   receptive field of every layer), take 32x32x3 images, give 10 classes and have the record's
   parameter count; otherwise it is refused, the rule named;
2. the whole CIFAR-10 test set (``--data``, else ``$CIFAR10_PATH``, else Keras's download) is
   scored as the notebook does, with :func:`~assignment_utils.evaluation.evaluate`: single view
   and flip-averaged;
3. a table gives recorded, measured and difference for the parameter count and both accuracies,
   then the layer types, the backend and the seconds.

On JAX on a CPU, where XLA's depthwise convolution is slow (jax-ml/jax#23713), the model is
scored with its separable convolutions as
:class:`~assignment_utils.shifted_conv.ShiftedSeparableConv2D` (the same function from the same
weights, without convolutions; the rules are checked on the model as saved), and the report says
how many. On a CPU, PyTorch takes minutes where TensorFlow takes under a minute, for a reason
upstream (``SLOW_ON_CPU``); the command says so as it starts, and names TensorFlow.

Exit status: 0 when both recorded accuracies, ``final_val_acc`` (single view; the notebook
validates on the test set) and ``tta_val_acc`` (flip-averaged), are reproduced within
``TOLERANCE_POINTS`` percentage points; 1 when the model is refused or an accuracy is not
reproduced (the message names the rule or the figure); 2 when the model, the record, the data or
Keras is missing or unreadable (the message names the fix). ``best_val_acc`` is the best epoch's,
not necessarily this model's (the last epoch's), so it is not checked; when the best epoch is the
last it is ``final_val_acc``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assignment_utils.data import ENV_VAR
from assignment_utils.rules import IMAGE_SHAPE, NUM_CLASSES
from assignment_utils.run_record import read_summary

__all__ = ["TOLERANCE_POINTS", "CannotVerify", "Figure", "Refused", "Verification",
           "default_model", "format_report", "main", "record_path", "verify"]

TOLERANCE_POINTS = 0.1
# A recorded accuracy is a float32 from Keras (0.914500057... for 9,145 of 10,000): this much
# slack keeps such noise from failing a difference of exactly TOLERANCE_POINTS.
_FLOAT32_SLACK_POINTS = 1e-4
CHECKOUT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = Path("results") / "model.keras"  # relative to the checkout
RECORD_SUFFIX = ".summary.json"
# (figure, the record's field, the Evaluation's attribute)
FIGURES = (("single view", "final_val_acc", "accuracy"),
           ("flip-averaged", "tta_val_acc", "flip_accuracy"))
# Backends far slower than TensorFlow on a CPU for this model, for reasons outside this package:
# seconds the whole command took on the 10,000 test images on the project's 2-core CPU (Keras
# 3.15.1, the committed model, measured one after another on 2026-12-03), and why.
SLOW_ON_CPU = {
    "torch": (271, ("Keras's torch backend converts every convolution's input and output between "
                    "channels-last and channels-first: "
                    "https://github.com/keras-team/keras/issues/18457")),
}
TENSORFLOW_SECONDS = 50  # the same, on TensorFlow
# Why JAX on a CPU scores with ShiftedSeparableConv2D (module doc).
SLOW_XLA_CPU_CONVOLUTION = ("XLA's CPU depthwise (grouped) convolution is slow: "
                            "https://github.com/jax-ml/jax/issues/23713")


class CannotVerify(Exception):
    """The model, the record or the data is missing or unreadable (exit status 2)."""


class Refused(Exception):
    """The model breaks a rule of the assignment or is not the record's model (exit status 1)."""


@dataclass(frozen=True)
class Figure:
    """One recorded figure against the measured one (accuracies as fractions)."""

    name: str
    recorded: float
    measured: float

    @property
    def difference_points(self) -> float:
        """Measured minus recorded, in percentage points."""
        return 100 * (self.measured - self.recorded)

    def shown(self) -> str:
        """The difference as printed: "+0.01 points" (float32 noise in the record is no
        "-0.00")."""
        return f"{round(self.difference_points, 2) + 0.0:+.2f} points"

    @property
    def reproduced(self) -> bool:
        return abs(self.difference_points) <= TOLERANCE_POINTS + _FLOAT32_SLACK_POINTS


@dataclass(frozen=True)
class Verification:
    """What :func:`verify` found: the figures, what it ran on and how long each step took."""

    model: Path
    record: Path
    summary: dict[str, Any]
    params: int
    layer_types: Counter
    backend: str
    device: str
    images: int
    data: str
    figures: tuple[Figure, ...]
    seconds: dict[str, float]
    shifted_layers: int = 0  # separable convolutions scored as ShiftedSeparableConv2D

    @property
    def reproduced(self) -> bool:
        return all(figure.reproduced for figure in self.figures)


def default_model() -> Path:
    """The checkout's ``results/model.keras``; :class:`CannotVerify` when it is not there (the
    package installed without its checkout, or the file deleted)."""
    path = CHECKOUT / DEFAULT_MODEL
    if path.is_file():
        return path
    if (CHECKOUT / "pyproject.toml").is_file():
        raise CannotVerify(f"{_shown(path)} is missing from the checkout: restore it "
                           f"(git checkout -- {DEFAULT_MODEL.as_posix()}) or name a model: "
                           "python -m assignment_utils.verify MODEL.keras")
    raise CannotVerify(f"no MODEL given, and assignment_utils runs from {CHECKOUT}, not from a "
                       f"checkout, so there is no {DEFAULT_MODEL.as_posix()}: run the command in "
                       "a clone of the repository, or name a model: "
                       "python -m assignment_utils.verify path/to/model.keras")


def record_path(model: str | os.PathLike) -> Path:
    """A model's record: ``<stem>.summary.json`` beside ``<stem>.keras``."""
    model = Path(model)
    return model.with_name(model.stem + RECORD_SUFFIX)


def verify(model: str | os.PathLike, record: str | os.PathLike | None = None,
           data: str | os.PathLike | None = None,
           say: Callable[[str], None] = print) -> Verification:
    """Check ``model`` against its record (``record_path(model)`` unless ``record``) on the test
    set of ``data`` (as :func:`~assignment_utils.data.load_cifar10` reads it), printing progress
    with ``say``. Raises :class:`CannotVerify` or :class:`Refused` (see the module's doc)."""
    started = time.perf_counter()
    model, record = Path(model), Path(record) if record is not None else record_path(model)
    _check_model_file(model)
    summary = _read_record(record, model)
    keras = _import_keras()

    from assignment_utils.data import DataFormatError, DataNotFoundError, load_cifar10
    from assignment_utils.evaluation import evaluate
    from assignment_utils.run_record import accelerator

    backend, device = keras.backend.backend(), accelerator()
    say(f"verifying {_shown(model)} against {_shown(record)} "
        f"({_about_run(summary)}) on {backend} (Keras {keras.__version__}), {device}")
    _warn_if_slow(backend, device, say)
    loaded = _load(keras, model)
    seconds = {"loading the model": time.perf_counter() - started}
    params = _check_rules(loaded, model, summary, record)

    step = time.perf_counter()
    try:
        cifar = load_cifar10(data)
    except (DataNotFoundError, DataFormatError) as error:
        raise CannotVerify(f"no CIFAR-10 test set: {error} (or pass --data PATH)") from None
    seconds["the data"] = time.perf_counter() - step
    images = len(cifar.y_test)

    step = time.perf_counter()
    scored, shifted_layers = _scoring_model(loaded, backend, device, say)
    result = evaluate(scored, cifar.x_test, cifar.y_test)
    seconds["scoring"] = time.perf_counter() - step
    figures = tuple(Figure(name, summary[field], getattr(result, attribute))
                    for name, field, attribute in FIGURES if field in summary)
    seconds["total"] = time.perf_counter() - started
    return Verification(model=model, record=record, summary=summary, params=params,
                        layer_types=_layer_types(loaded), backend=backend, device=device,
                        images=images, data=_data_source(data), figures=figures,
                        seconds=seconds, shifted_layers=shifted_layers)


def format_report(verification: Verification) -> str:
    """The table of :func:`verify`'s result and the lines under it."""
    v = verification
    rows = [("", "recorded", "measured", "difference"),
            ("parameters", f"{v.summary['params']:,}", f"{v.params:,}",
             f"{v.params - v.summary['params']:,}")]
    rows += [(f"{figure.name} accuracy", f"{100 * figure.recorded:.2f} %",
              f"{100 * figure.measured:.2f} %", figure.shown())
             for figure in v.figures]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join([row[0].ljust(widths[0])] + [cell.rjust(width) for cell, width
                                                      in zip(row[1:], widths[1:])]).rstrip()
             for row in rows]
    steps = ", ".join(f"{name} {seconds:.1f}" for name, seconds in v.seconds.items()
                      if name != "total")
    lines += [
        "layer types: " + ", ".join(f"{kind} x{count}" for kind, count in
                                    v.layer_types.most_common()),
        f"backend: {v.backend} on {v.device}"
        + (f", {v.shifted_layers} separable convolutions scored as ShiftedSeparableConv2D"
           if v.shifted_layers else "") + f"; data: {v.images:,} test images, {v.data}",
        f"seconds: {v.seconds['total']:.1f} ({steps})",
    ]
    missing = [f"{name} ({field})" for name, field, _ in FIGURES if field not in v.summary]
    if missing:
        lines.append(f"not in the record, so not checked: {', '.join(missing)}")
    failed = [figure for figure in v.figures if not figure.reproduced]
    if failed:
        lines += [f"NOT REPRODUCED: {figure.name} accuracy: recorded {100 * figure.recorded:.2f} %"
                  f", measured {100 * figure.measured:.2f} % ({figure.shown()}, more than "
                  f"{TOLERANCE_POINTS:g})" for figure in failed]
    else:
        lines.append(f"reproduced: every recorded accuracy within {TOLERANCE_POINTS:g} points")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line (see the module's doc); returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m assignment_utils.verify",
        description="Re-score a trained model on the CIFAR-10 test set and check it against its "
                    "record, without training; also checks the assignment's model rules.")
    parser.add_argument("model", metavar="MODEL", nargs="?",
                        help=f"a .keras model (default: the checkout's {DEFAULT_MODEL.as_posix()})")
    parser.add_argument("--record", metavar="PATH",
                        help=f"the model's run summary (default: <stem>{RECORD_SUFFIX} beside it)")
    parser.add_argument("--data", metavar="PATH",
                        help=f"CIFAR-10 .npz or cifar-10-batches-py folder (default: ${ENV_VAR}, "
                             "else Keras's download)")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage, 0 on --help
        return int(exc.code or 0)
    try:
        result = verify(args.model or default_model(), args.record, args.data)
    except CannotVerify as error:
        parser.print_usage(sys.stderr)
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 2
    except Refused as error:
        print(f"REFUSED: {error}", file=sys.stderr)
        return 1
    print(format_report(result))
    return 0 if result.reproduced else 1


def _shown(path: Path) -> str:
    """``path`` relative to the working folder when it lies inside it (no machine paths in
    what is printed), else as it is."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _about_run(summary: dict[str, Any]) -> str:
    facts = [f"{summary['epochs']} epoch{'s' if summary['epochs'] != 1 else ''}"]
    facts += [f"{field} {summary[field]}" for field in ("seed", "commit") if field in summary]
    if summary.get("device"):
        facts.append(f"trained on {summary['device']}"
                     + (f" ({summary['backend']})" if summary.get("backend") else ""))
    return ", ".join(facts)


def _read_record(record: Path, model: Path) -> dict[str, Any]:
    if not record.is_file():
        raise CannotVerify(f"no record of {_shown(model)}: {_shown(record)} "
                           f"{'is a folder' if record.is_dir() else 'does not exist'}; pass the "
                           "run's summary.json with --record PATH (write_summary writes it)")
    try:
        summary = read_summary(record)
    except (OSError, ValueError) as error:
        raise CannotVerify(f"cannot read the record {_shown(record)}: {error}") from None
    if summary.get("validation", "test") != "test":
        raise CannotVerify(f"the record {_shown(record)} holds accuracies on "
                           f"{summary['validation']} (held-out training images), not on the test "
                           "set this command scores: pass the record of a run validated on the "
                           "test set")
    return summary


def _check_model_file(model: Path) -> None:
    if model.suffix != ".keras":
        raise CannotVerify(f"{_shown(model)} is not a .keras file: pass a model saved with "
                           "model.save('model.keras')")
    if not model.is_file():
        raise CannotVerify(f"no model at {_shown(model)}: "
                           f"{'it is a folder' if model.is_dir() else 'the file does not exist'}"
                           "; pass a .keras file saved with model.save('model.keras')")


def _import_keras() -> Any:
    """Keras on the active backend; :class:`CannotVerify` when it or the backend is missing."""
    try:
        import keras
    except ImportError as error:
        backend = os.environ.get("KERAS_BACKEND", "tensorflow")
        raise CannotVerify(f"cannot import Keras on the {backend} backend ({error}): install "
                           f"them, e.g. pip install 'keras>=3.5' {backend}, or use the "
                           "checkout's .venv (bash scripts/setup_env.sh)") from None
    return keras


def _load(keras: Any, model: Path) -> Any:
    import assignment_utils.augment  # noqa: F401  (registers CifarAugment for loading)

    try:
        loaded = keras.saving.load_model(model, compile=False)
    # A damaged archive fails anywhere inside Keras (zipfile, JSON, h5py, deserialization): each
    # of those errors is the same problem for the user.
    except Exception as error:  # noqa: BLE001
        raise CannotVerify(f"cannot load {_shown(model)} as a Keras model ({type(error).__name__}"
                           f": {str(error)[:300]}); it may be cut short or not a model: fetch "
                           "it again, or save the model again with model.save('model.keras')"
                           ) from None
    if not isinstance(loaded, keras.Model):
        raise CannotVerify(f"{_shown(model)} holds a {type(loaded).__name__}, not a Keras model")
    return loaded


def _check_rules(model: Any, path: Path, summary: dict[str, Any], record: Path) -> int:
    """The model's parameter count, once it keeps every model rule and is the record's."""
    from assignment_utils.rubric import check_assignment

    shapes = (tuple(model.input_shape)[1:], tuple(model.output_shape)[1:])
    if shapes != (IMAGE_SHAPE, (NUM_CLASSES,)):
        raise Refused(f"{_shown(path)} maps {shapes[0]} to {shapes[1]}, not 32x32x3 CIFAR-10 "
                      f"images to {NUM_CLASSES} class probabilities")
    rules = check_assignment(model)
    broken = rules[rules.passed == False]  # noqa: E712 (None is "not run": the history rules)
    if len(broken):
        raise Refused(f"{_shown(path)} breaks the assignment's rule"
                      f"{'s' if len(broken) > 1 else ''} " + "; ".join(
                          f"'{row.requirement}' ({row.evidence})" for row in broken.itertuples()))
    params = model.count_params()
    if params != summary["params"]:
        raise Refused(f"the record {_shown(record)} describes another model: it records "
                      f"{summary['params']:,} parameters, {_shown(path)} has {params:,}; pass "
                      "this model's own record with --record PATH")
    return params


def _layer_types(model: Any) -> Counter:
    from assignment_utils.receptive_field import receptive_field_table

    return Counter(kind for kind in receptive_field_table(model)["type"] if kind != "InputLayer")


def _data_source(data: str | os.PathLike | None) -> str:
    """Where :func:`~assignment_utils.data.load_cifar10` took the data from, without the
    folders (no machine paths in what is printed)."""
    if data is not None:
        return f"{Path(data).name} (--data)"
    if os.environ.get(ENV_VAR):
        return f"{Path(os.environ[ENV_VAR]).name} (${ENV_VAR})"
    return "Keras's download"


def _scoring_model(model: Any, backend: str, device: str, say: Callable[[str], None]
                   ) -> tuple[Any, int]:
    """The model to score and how many of its separable convolutions are
    ``ShiftedSeparableConv2D``: on JAX on a CPU, ``model`` with every top-level one that layer
    computes swapped in (the same weights); elsewhere ``model`` itself, and 0."""
    if backend != "jax" or device != "CPU":
        return model, 0
    from assignment_utils.models import with_separable_impl
    from assignment_utils.shifted_conv import ShiftedSeparableConv2D

    try:
        scored = with_separable_impl(model, "shifted")
    except ValueError as error:  # a subclassed model
        say(f"note: scoring with the model's own layers, slow on this CPU ({error})")
        return model, 0
    count = sum(isinstance(layer, ShiftedSeparableConv2D) for layer in scored.layers)
    if count:
        say(f"note: {SLOW_XLA_CPU_CONVOLUTION}; so {count} separable convolutions are scored as "
            "ShiftedSeparableConv2D, the same function from the same weights without "
            "convolutions")
    return scored, count


def _warn_if_slow(backend: str, device: str, say: Callable[[str], None]) -> None:
    """On a backend of ``SLOW_ON_CPU`` without an accelerator: the time to expect, why, and the
    faster backend."""
    if device != "CPU" or backend not in SLOW_ON_CPU:
        return
    seconds, reason = SLOW_ON_CPU[backend]
    say(f"note: {backend} is slow on a CPU for this model: on a 2-core CPU the check of the "
        f"10,000 test images took about {seconds / 60:.0f} minutes, against "
        f"{TENSORFLOW_SECONDS} s with TensorFlow. {reason}; nothing in "
        "this package can close that gap. For a quick check: "
        "KERAS_BACKEND=tensorflow python -m assignment_utils.verify")


if __name__ == "__main__":
    sys.exit(main())
