"""Property tests for every input check: ``TrainConfig`` and ``train``, ``CifarAugment``, the
experiments and benchmark command lines, data loading and its files, the rubric's arguments, the
receptive-field command line and the model builders.

Hypothesis generates wrong types (str, float for int, bool for int, None, lists), out-of-range
numbers, NaN and infinity, NumPy numbers, values that make no sense for the image or the data
(shifts and cut-outs as large as the image, subsets and held-out sets larger than the data, batches
larger than the data) and empty or wrong-format files. Whether an input is valid is decided here,
by hand, from the documented rules (the ``*_problems`` functions, which never call the code under
test). The property, for every entry point: a valid input is accepted unchanged and gives the right
result; an invalid one raises ``ValueError``/``TypeError`` (exit code 2 on a command line) that is
raised inside ``assignment_utils``, not deep in a library, names the setting, and comes before
anything trains (the training, ``model.fit``, the data loading of a command line or the first
layer of a model is replaced by a sentinel that fails the test if it is reached).
"""

from __future__ import annotations

import contextlib
import fractions
import io
import json
import math
import os
import pickle
import re
import sys
import tempfile
import warnings
import zipfile
from functools import cache
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from profiles import examples

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import assignment_utils  # noqa: E402
from assignment_utils import benchmark, data, experiments, models, receptive_field  # noqa: E402
from assignment_utils.data import SAMPLE_PATH, load_cifar10, train_val_split  # noqa: E402

keras = pytest.importorskip("keras")

from assignment_utils.augment import CifarAugment  # noqa: E402
from assignment_utils.rubric import check_assignment  # noqa: E402
from assignment_utils.training import OPTIMIZERS, SCHEDULES, TrainConfig, train  # noqa: E402

PACKAGE = Path(assignment_utils.__file__).resolve().parent
SIDE = 32                  # CIFAR-10's image side, read from the assignment, not from the code
MAX_SEED = 2**31 - 1       # the largest seed every Keras backend takes (PyTorch: int32)


# --------------------------------------------------------------------------- shared helpers


class Reached(Exception):
    """Raised by a sentinel that stands in for training, data loading or model building."""


def sentinel(*args, **kwargs):
    raise Reached


def assert_ours(error: BaseException, names, kinds=(ValueError, TypeError)) -> None:
    """``error`` is one of ``kinds``, raised by ``assignment_utils`` itself (its innermost frame is
    in the package, not in a library), and its message names one of ``names``."""
    assert isinstance(error, kinds), f"{type(error).__name__}: {error}"
    frame = error.__traceback__
    while frame.tb_next is not None:
        frame = frame.tb_next
    where = Path(frame.tb_frame.f_code.co_filename).resolve()
    assert where.is_relative_to(PACKAGE), f"raised in {where}: {type(error).__name__}: {error}"
    names = [names] if isinstance(names, str) else list(names)
    assert any(name in str(error) for name in names), f"{error!r} names none of {names}"


def is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_real(value) -> bool:
    return (isinstance(value, (int, float, np.integer, np.floating, fractions.Fraction))
            and not isinstance(value, (bool, np.bool_)))


def is_finite_real(value) -> bool:
    """A real number that a float holds finitely (10**400 does not: float() overflows)."""
    if isinstance(value, (int, np.integer, fractions.Fraction)) and is_real(value):
        return abs(value) <= sys.float_info.max
    return is_real(value) and math.isfinite(value)


def int_in(value, low, high=math.inf) -> bool:
    return is_int(value) and low <= value <= high


# Wrong types and odd values, for any setting.
JUNK = st.one_of(
    st.none(), st.text(max_size=4), st.booleans(), st.sampled_from([np.True_, np.False_]),
    st.lists(st.integers(0, 4), max_size=2), st.tuples(st.integers(0, 4)),
    st.complex_numbers(max_magnitude=10), st.binary(max_size=3), st.just({}),
    st.sampled_from(["8", "0.1", "nan", "auto", "sgd"]))
FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.floats(-2, 12),
    st.sampled_from([0.0, 1.0, 2.0, 4.0, 10.0, -0.0, float("nan"), float("inf"), -float("inf")]),
    st.floats(-2, 12, width=32).map(np.float32), st.floats(-2, 12).map(np.float64),
    st.fractions(-2, 12, max_denominator=10))
INTEGERS = st.one_of(
    st.integers(-3, 300), st.integers(-(2**70), 2**70),
    st.sampled_from([2**31 - 1, 2**31, 2**32, 2**63, 10**400, -(10**400)]),  # 10**400: no float
    st.integers(0, 100).map(np.int64), st.integers(-100, 100).map(np.int32),
    st.integers(0, 255).map(np.uint8), st.integers(0, 300).map(float))
ANYTHING = st.one_of(JUNK, FLOATS, INTEGERS)


def run_cli(main, argv):
    """``main(argv)``'s exit code (SystemExit's or the return) and its stderr."""
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as exit_:
            code = exit_.code
    return code, stderr.getvalue()


def cli_error(stderr: str) -> str:
    """The message of argparse's ``error:`` line, without the usage above it (which names every
    option)."""
    return stderr.rsplit("error: ", 1)[-1]


@cache
def sample() -> data.Cifar10:
    return load_cifar10(SAMPLE_PATH)


@cache
def tiny_model() -> keras.Model:
    keras.utils.set_random_seed(0)
    return models.separable_net(widths=(8, 16), stem_width=8, dropout=(0.0, 0.1), blocks=1)


# --------------------------------------------------------------------------- TrainConfig

INT_FIELDS = {"epochs": (1, math.inf), "batch_size": (1, math.inf), "max_shift": (0, math.inf),
              "cutout": (0, math.inf), "seed": (0, MAX_SEED), "steps_per_execution": (1, math.inf)}
REAL_FIELDS = {"learning_rate": lambda v: 0 < v < 10, "warmup_fraction": lambda v: 0 <= v < 1,
               "momentum": lambda v: 0 <= v < 1, "label_smoothing": lambda v: 0 <= v < 1,
               "weight_decay": lambda v: v >= 0}
CHOICES = {"optimizer": OPTIMIZERS, "schedule": SCHEDULES}


def config_problems(fields: dict) -> set[str]:
    """The fields of ``TrainConfig(**fields)`` that break its documented rules."""
    bad = set()
    for name, value in fields.items():
        if name in INT_FIELDS:
            ok = (value is None and name == "steps_per_execution") or int_in(value, *INT_FIELDS[name])
        elif name in REAL_FIELDS:
            ok = is_finite_real(value) and REAL_FIELDS[name](value)
        elif name in CHOICES:
            ok = isinstance(value, str) and value in CHOICES[name]
        elif name == "augment":
            ok = isinstance(value, (bool, np.bool_))
        elif name == "jit_compile":
            ok = isinstance(value, (bool, np.bool_)) or (isinstance(value, str) and value == "auto")
        else:
            assert name == "verbose"
            ok = int_in(value, 0, 2)
        if not ok:
            bad.add(name)
    # Decoupled weight decay multiplies the weights by 1 - learning_rate * weight_decay each step
    # (at the peak rate): at 1 or more it zeroes or flips them.
    rate, decay = fields.get("learning_rate", 0.2), fields.get("weight_decay", 8e-3)
    if not {"learning_rate", "weight_decay"} & bad and float(rate) * float(decay) >= 1:
        bad |= {"learning_rate", "weight_decay"} & set(fields) or {"weight_decay"}
    return bad


def canonical(name, value):
    """What ``TrainConfig`` stores for a valid value: the same value as a plain Python type."""
    if name in INT_FIELDS or name == "verbose":
        return value if value is None else int(value)
    if name in REAL_FIELDS:
        return float(value)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    return str(value)


FIELD_VALUES = {
    **{name: st.one_of(ANYTHING, st.integers(-2, 40)) for name in INT_FIELDS},
    **{name: st.one_of(ANYTHING, st.floats(-0.5, 1.5)) for name in REAL_FIELDS},
    "weight_decay": st.one_of(ANYTHING, st.floats(0, 60)),
    "optimizer": st.one_of(JUNK, st.sampled_from([*OPTIMIZERS, "SGD", "rmsprop", ""]),
                           st.sampled_from(OPTIMIZERS).map(np.str_)),
    "schedule": st.one_of(JUNK, st.sampled_from([*SCHEDULES, "step", " cosine"])),
    "augment": st.one_of(ANYTHING, st.sampled_from([True, False, np.True_])),
    "jit_compile": st.one_of(ANYTHING, st.sampled_from([True, False, "auto", "AUTO", np.False_])),
    "verbose": st.one_of(ANYTHING, st.integers(-1, 3), st.integers(0, 2).map(np.int64)),
}


@st.composite
def config_fields(draw):
    names = draw(st.lists(st.sampled_from(sorted(FIELD_VALUES)), min_size=1, max_size=3,
                          unique=True))
    return {name: draw(FIELD_VALUES[name]) for name in names}


@given(config_fields())
@example({"verbose": 1.0})               # was accepted and stored as 1.0
@example({"verbose": np.True_})          # was accepted: a bool for an int
@example({"verbose": 1 + 0j})            # was accepted: 1+0j == 1
@example({"optimizer": np.str_("adam")})  # was stored as np.str_('adam') (and printed so)
@example({"optimizer": ["sgd"]})
@example({"seed": 2**32})                # was accepted, then numpy's error inside train()
@example({"seed": 2**31})                # PyTorch's seed generator takes int32 only
@example({"weight_decay": 100.0})        # was accepted: every step would flip the weights' sign
@example({"learning_rate": 9.0, "weight_decay": 0.2})
@example({"weight_decay": 10**400})      # OverflowError from float(): no float holds it
def test_train_config_accepts_exactly_the_documented_values(fields):
    bad = config_problems(fields)
    if bad:
        with pytest.raises((ValueError, TypeError)) as info:
            TrainConfig(**fields)
        assert_ours(info.value, bad)
        assert "must" in str(info.value)  # says what would be valid
        return
    config = TrainConfig(**fields)
    for name, value in fields.items():
        stored, expected = getattr(config, name), canonical(name, value)
        assert stored == expected and type(stored) is type(expected), (name, value, stored)
    json.dumps(config.to_dict())


def test_train_config_repr_is_the_notebooks():
    """The notebook prints its config: this text is its committed output."""
    assert repr(TrainConfig(epochs=50, batch_size=250, seed=0)) == (
        "TrainConfig(epochs=50, batch_size=250, optimizer='sgd', learning_rate=0.2, "
        "schedule='cosine', warmup_fraction=0.2, momentum=0.9, weight_decay=0.008, "
        "label_smoothing=0.1, augment=True, max_shift=4, cutout=8, seed=0, "
        "steps_per_execution=None, jit_compile='auto', verbose=2)")


# --------------------------------------------------------------------------- train()

LABELS = ("ok", "column", "floats", "nan", "strings", "bools", "too_big", "negative", "one_hot",
          "short", "ragged")
IMAGES = ("uint8", "float", "scaled", "nan", "negative", "3d", "ragged", "none", "text", "empty",
          "bools", "small")
OUTPUT_DIRS = ("fresh", "nested", "", "  ", None, 5, b"run", "file")
CALLBACKS = ("none", "empty", "list", "tuple", "single", "junk", "class")


def train_inputs(case: dict, root: Path):
    """The arguments of ``train`` for ``case``: the real sample, changed where ``case`` says."""
    x, y = sample().x_train, sample().y_train
    labels = {"ok": y, "column": y.reshape(-1, 1), "floats": y + 0.5, "nan": np.full(len(y), np.nan),
              "strings": y.astype(str), "bools": y % 2 == 0, "too_big": y + 10,
              "negative": y.astype(int) - 1, "one_hot": np.eye(10)[y], "short": y[:-1],
              "ragged": [[1], [1, 2]] * 100}[case["labels"]]
    images = {"uint8": x, "float": x.astype("float32"), "scaled": x / 255.0,
              "nan": np.where(x > 250, np.nan, x.astype("float32")), "negative": x - 128.0,
              "3d": x[..., 0], "ragged": [[[1]], [[1, 2]]], "none": None, "text": "images",
              "empty": x[:0], "bools": x > 128, "small": x[:, :16, :16]}[case["images"]]
    validation = (sample().x_test[:, :case["val_side"], :case["val_side"]], sample().y_test)
    file = root / "a_file"
    file.write_text("not a folder")
    output_dir = {"fresh": root / "run", "nested": root / "a" / "b", "file": file}.get(
        case["output_dir"], case["output_dir"])
    callbacks = {"none": None, "empty": [], "list": [keras.callbacks.TerminateOnNaN()],
                 "tuple": (keras.callbacks.TerminateOnNaN(),),
                 "single": keras.callbacks.TerminateOnNaN(), "junk": [5],
                 "class": [keras.callbacks.TerminateOnNaN]}[case["callbacks"]]
    return (images, labels), validation, output_dir, callbacks


def train_problems(case: dict) -> set[str]:
    """The settings of ``case`` that ``train`` must refuse before it trains."""
    bad = set()
    if case["labels"] not in ("ok", "column") or case["images"] not in ("uint8", "float"):
        bad.add("train_data")
    if case["val_side"] != SIDE:
        bad.add("validation_data")
    if case["output_dir"] not in ("fresh", "nested"):
        bad.add("output_dir")
    if case["callbacks"] not in ("none", "empty", "list", "tuple"):
        bad.add("callbacks")
    if case["augment"]:  # a shift or cut-out as large as the image can leave nothing of it
        bad |= {name for name in ("max_shift", "cutout") if case[name] >= SIDE}
    return bad


def _one_change(name, values):
    return st.fixed_dictionaries({name: values})


@st.composite
def train_cases(draw):
    """Mostly the valid baseline with one or two settings changed."""
    case = {"labels": "ok", "images": "uint8", "val_side": SIDE, "output_dir": "fresh",
            "callbacks": "none", "augment": True, "max_shift": 4, "cutout": 8, "batch_size": 50}
    changes = {"labels": st.sampled_from(LABELS), "images": st.sampled_from(IMAGES),
               "val_side": st.sampled_from([SIDE, 16, 31]),
               "output_dir": st.sampled_from(OUTPUT_DIRS), "callbacks": st.sampled_from(CALLBACKS),
               "augment": st.booleans(), "max_shift": st.integers(0, 40),
               "cutout": st.integers(0, 40), "batch_size": st.integers(1, 400)}
    for name in draw(st.lists(st.sampled_from(sorted(changes)), max_size=2, unique=True)):
        case[name] = draw(changes[name])
    return case


@pytest.fixture(scope="module")
def no_fit():
    """``keras.Model.fit`` replaced by the sentinel: reaching it means training would start."""
    with mock.patch.object(keras.Model, "fit", sentinel):
        yield


# Costly: every valid case compiles the model with its augmentation (about 0.1 s).
@settings(max_examples=examples(60))
@given(train_cases())
@example({"labels": "floats", "images": "uint8", "val_side": 32, "output_dir": "fresh",
          "callbacks": "none", "augment": True, "max_shift": 4, "cutout": 8, "batch_size": 50})
@example({"labels": "ok", "images": "uint8", "val_side": 32, "output_dir": "fresh",
          "callbacks": "none", "augment": True, "max_shift": 40, "cutout": 8, "batch_size": 50})
@example({"labels": "ok", "images": "uint8", "val_side": 32, "output_dir": "fresh",
          "callbacks": "none", "augment": True, "max_shift": 4, "cutout": 32, "batch_size": 50})
@example({"labels": "ok", "images": "small", "val_side": 32, "output_dir": "fresh",
          "callbacks": "none", "augment": True, "max_shift": 4, "cutout": 8, "batch_size": 50})
@example({"labels": "ok", "images": "uint8", "val_side": 16, "output_dir": "fresh",
          "callbacks": "none", "augment": True, "max_shift": 4, "cutout": 8, "batch_size": 50})
@example({"labels": "ok", "images": "uint8", "val_side": 32, "output_dir": None,
          "callbacks": "none", "augment": True, "max_shift": 4, "cutout": 8, "batch_size": 50})
@example({"labels": "ok", "images": "uint8", "val_side": 32, "output_dir": "fresh",
          "callbacks": "single", "augment": True, "max_shift": 4, "cutout": 8, "batch_size": 50})
@example({"labels": "ok", "images": "uint8", "val_side": 32, "output_dir": "fresh",
          "callbacks": "junk", "augment": True, "max_shift": 4, "cutout": 8, "batch_size": 50})
@example({"labels": "ok", "images": "uint8", "val_side": 32, "output_dir": "fresh",
          "callbacks": "none", "augment": True, "max_shift": 4, "cutout": 8, "batch_size": 400})
def test_train_refuses_bad_inputs_before_training(no_fit, case):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        train_data, validation, output_dir, callbacks = train_inputs(case, root)
        config = TrainConfig(epochs=1, batch_size=case["batch_size"], augment=case["augment"],
                             max_shift=case["max_shift"], cutout=case["cutout"], verbose=0)
        bad = train_problems(case)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with pytest.raises((Reached, ValueError, TypeError)) as info:
                train(tiny_model(), train_data, validation, config, output_dir, callbacks)
        if bad:
            assert_ours(info.value, bad)
            # Refused before anything was written: a corrected call can use the same folder.
            assert not (root / "run").exists() and not (root / "a").exists()
            return
        assert info.type is Reached, f"{info.type.__name__}: {info.value}"
        # A batch larger than the data is one batch of all the images: said, not silent.
        bigger = [w for w in caught if "batch_size" in str(w.message)]
        assert len(bigger) == (case["batch_size"] > len(sample().x_train))


# --------------------------------------------------------------------------- CifarAugment

FILLS = st.one_of(
    st.none(), JUNK, FLOATS,
    st.lists(st.floats(0, 255), min_size=1, max_size=4).map(tuple),
    st.lists(st.one_of(FLOATS, JUNK), min_size=1, max_size=4))
FLOAT32_MAX = float(np.finfo(np.float32).max)


def augment_problems(args: dict) -> set[str]:
    """The arguments of ``CifarAugment(**args)`` that break its rules (image aside)."""
    bad = set()
    if not isinstance(args["flip"], (bool, np.bool_)):
        bad.add("flip")
    bad |= {name for name in ("max_shift", "cutout") if not int_in(args[name], 0)}
    fill = args["fill"]
    if fill is not None and not (isinstance(fill, (tuple, list)) and fill and all(
            is_finite_real(v) and abs(v) <= FLOAT32_MAX for v in fill)):
        bad.add("fill")
    if args["seed"] is not None and not int_in(args["seed"], 0, MAX_SEED):
        bad.add("seed")
    return bad


def augment_image_problems(args: dict, shape) -> set[str]:
    """The arguments that do not fit images of ``shape`` (H, W, C)."""
    height, width, channels = shape
    bad = {name for name in ("max_shift", "cutout") if args[name] >= min(height, width)}
    if args["fill"] is not None and len(args["fill"]) != channels:
        bad.add("fill")
    return bad


# Costly: a valid case runs the layer on a small batch (eager ops).
@settings(max_examples=examples(150))
@given(args=st.fixed_dictionaries({
    "flip": st.one_of(st.booleans(), JUNK), "max_shift": st.one_of(st.integers(0, 40), ANYTHING),
    "cutout": st.one_of(st.integers(0, 40), ANYTHING), "fill": FILLS,
    "seed": st.one_of(st.none(), st.integers(0, 100), INTEGERS, JUNK)}),
    shape=st.tuples(st.integers(1, 40), st.integers(1, 40), st.integers(1, 4)))
@example(args={"flip": "no", "max_shift": 4, "cutout": 0, "fill": None, "seed": 1},
         shape=(32, 32, 3))  # was read as flip=True
@example(args={"flip": True, "max_shift": 2.7, "cutout": 0, "fill": None, "seed": 1},
         shape=(32, 32, 3))  # was cut to a shift of 2
@example(args={"flip": True, "max_shift": True, "cutout": 0, "fill": None, "seed": 1},
         shape=(32, 32, 3))  # was a shift of 1
@example(args={"flip": True, "max_shift": float("nan"), "cutout": 0, "fill": None, "seed": 1},
         shape=(32, 32, 3))  # was Python's "cannot convert float NaN to integer"
@example(args={"flip": True, "max_shift": "4", "cutout": 0, "fill": None, "seed": 1},
         shape=(32, 32, 3))  # was Python's "'<' not supported between 'str' and 'int'"
@example(args={"flip": True, "max_shift": 0, "cutout": 0, "fill": "abc", "seed": 1},
         shape=(32, 32, 3))  # was "could not convert string to float: 'a'"
@example(args={"flip": True, "max_shift": 0, "cutout": 0, "fill": (float("nan"), 0, 0),
               "seed": 1}, shape=(32, 32, 3))  # was accepted: NaN pixels in every image
@example(args={"flip": True, "max_shift": 0, "cutout": 0, "fill": (1.0, 2.0), "seed": 1},
         shape=(32, 32, 3))  # was TensorFlow's "Incompatible shapes" inside call()
@example(args={"flip": True, "max_shift": 40, "cutout": 0, "fill": None, "seed": 1},
         shape=(32, 32, 3))  # was accepted: shifts the whole image out
@example(args={"flip": True, "max_shift": 0, "cutout": 100, "fill": None, "seed": 1},
         shape=(32, 32, 3))  # was accepted: erases whole images
@example(args={"flip": True, "max_shift": 0, "cutout": 0, "fill": None, "seed": -1},
         shape=(32, 32, 3))  # JAX's seed generator refuses it, at the first step
@example(args={"flip": True, "max_shift": 0, "cutout": 0, "fill": None, "seed": 2**31},
         shape=(32, 32, 3))  # PyTorch's refuses it
def test_cifar_augment_accepts_exactly_what_fits_the_images(args, shape):
    bad = augment_problems(args)
    if bad:
        with pytest.raises((ValueError, TypeError)) as info:
            CifarAugment(**args)
        assert_ours(info.value, bad)
        return
    layer = CifarAugment(**args)
    assert (layer.flip, layer.max_shift, layer.cutout, layer.seed) == (
        bool(args["flip"]), args["max_shift"], args["cutout"], args["seed"])
    assert type(layer.max_shift) is int and type(layer.cutout) is int
    if args["fill"] is not None:
        assert layer.fill == tuple(float(v) for v in args["fill"])
    bad = augment_image_problems(args, shape)
    if bad:
        with pytest.raises((ValueError, TypeError)) as info:
            keras.Sequential([keras.Input(shape), layer])
        assert_ours(info.value, bad)
        return
    images = np.full((2, *shape), 7, "uint8")
    out = keras.ops.convert_to_numpy(layer(images, training=True))
    assert out.shape == images.shape and out.dtype == np.float32
    # Every pixel is the image's own (7 everywhere here) or the fill (shifted-in or cut out).
    fill = np.zeros(shape[-1]) if args["fill"] is None else np.array(layer.fill)
    close = max(1e-3, 1e-6 * float(np.abs(fill).max()))
    kept = np.all(np.abs(out - 7) <= close, axis=-1)
    filled = np.all(np.abs(out - fill) <= close * 10, axis=-1)
    assert (kept | filled).all()


# --------------------------------------------------------------------------- experiments CLI

FIELDS = sorted(TrainConfig.__dataclass_fields__)
SET_VALUES = st.one_of(
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "true", "false", "null", '"sgd"',
                     "sgd", "adam", "[1]", "{}", "", "0", "1", "2", "-1", "0.5", "1.0", "250",
                     "31", "32", "40", "2147483647", "2147483648", '"auto"', "auto"]),
    st.integers(-5, 300).map(str), st.floats(-1, 12).map(repr))
COLUMNS = [*experiments.RUN_COLUMNS, "validation", "model", "config"]
SELECTION_COLUMNS = ["candidate", *COLUMNS, "trainings_sharing_the_card"]


def _override(text):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


@st.composite
def experiments_argv(draw):
    """``(argv, problems, expected)``: an experiments command line, the options it gets wrong
    (as they are named in messages) and the values a valid one must give."""
    argv, bad, expected = [], set(), {}
    seeds = draw(st.none() | st.lists(st.integers(-2, 2**31 + 1) | st.integers(0, 3),
                                      min_size=1, max_size=3))
    if seeds is not None:
        argv += ["--seeds", *map(str, seeds)]
        expected["seeds"] = seeds
        if not all(0 <= s <= MAX_SEED for s in seeds) or len(set(seeds)) < len(seeds):
            bad.add("seed")
    for option in ("--holdout", "--subset"):
        value = draw(st.none() | st.integers(-20, 300) | st.sampled_from([10, 50, 5000]))
        if value is not None:
            argv += [option, str(value)]
            expected[option] = value
            if value < 10 or value % 10:
                bad.add(option)
    epochs = draw(st.none() | st.integers(-2, 60))
    fields = {}
    if epochs is not None:
        argv += ["--epochs", str(epochs)]
        fields["epochs"] = epochs
    for name, text in draw(st.lists(st.tuples(st.sampled_from([*FIELDS, "lr", "seeds"]),
                                              SET_VALUES), max_size=3)):
        argv += ["--set", f"{name}={text}"]
        if name not in FIELDS:
            bad.add("bad override")
        else:
            fields[name] = _override(text)
    if "bad override" not in bad:
        problems = config_problems(fields)
        config = {"augment": True, "max_shift": 4, "cutout": 8, **fields}
        if not problems and config["augment"]:  # the model's input is a 32-px image
            problems = {name for name in ("max_shift", "cutout") if config[name] >= SIDE}
        bad |= problems
    expected["config"] = fields
    candidate = draw(st.none() | st.sampled_from(["x", "batch 250", "", "   ", "a,b"]))
    if candidate is not None:
        argv += ["--candidate", candidate]
        if "--holdout" not in expected:
            bad.add("--holdout")
        if not candidate.strip():
            bad.add("--candidate")
    sharing = draw(st.none() | st.integers(-2, 4))
    if sharing is not None:
        argv += ["--trainings-sharing-the-card", str(sharing)]
        if sharing < 1:
            bad.add("--trainings-sharing-the-card")
    out = draw(st.sampled_from(["fresh", "folder", "empty", "garbage", "runs", "selection"]))
    append = draw(st.booleans())
    argv += ["--out", out] + (["--append"] if append else [])
    if out == "folder":
        bad.add("--out")
    elif append and out != "fresh":
        columns = SELECTION_COLUMNS if candidate is not None else COLUMNS
        if out in ("empty", "garbage") or columns != {"runs": COLUMNS,
                                                      "selection": SELECTION_COLUMNS}[out]:
            bad.add("--out")
    return argv, bad, expected


def _out_files(root: Path, argv: list[str]) -> list[str]:
    """``argv`` with ``--out KIND`` made a real path of that kind under ``root``."""
    index = argv.index("--out") + 1
    kind = argv[index]
    path = root / f"{kind}.csv"
    if kind == "folder":
        path.mkdir()
    elif kind == "empty":
        path.write_text("")
    elif kind == "garbage":
        path.write_bytes(b"\x00\xff\x00 not a table \xfe")
    elif kind == "runs":
        path.write_text(",".join(COLUMNS) + "\n")
    elif kind == "selection":
        path.write_text(",".join(SELECTION_COLUMNS) + "\n")
    return [*argv[:index], str(path), *argv[index + 1:]]


@given(experiments_argv())
@example((["--seeds", "-1", "--out", "fresh"], {"seed"}, {}))      # was trained then refused
@example((["--seeds", "0", "0", "--out", "fresh"], {"seed"}, {}))  # two rows of one run
@example((["--holdout", "7", "--out", "fresh"], {"--holdout"}, {}))  # was refused after loading
@example((["--subset", "0", "--out", "fresh"], {"--subset"}, {}))
@example((["--holdout", "50", "--candidate", "x", "--trainings-sharing-the-card", "0",
           "--out", "fresh"], {"--trainings-sharing-the-card"}, {}))  # was refused after training
@example((["--holdout", "50", "--candidate", " ", "--out", "fresh"], {"--candidate"}, {}))
@example((["--set", "max_shift=40", "--out", "fresh"], {"max_shift"}, {}))
@example((["--out", "folder"], {"--out"}, {}))                      # was refused after training
@example((["--out", "empty", "--append"], {"--out"}, {}))           # was pandas' EmptyDataError
@example((["--out", "selection", "--append"], {"--out"}, {}))       # was refused after training
def test_experiments_command_line_is_checked_before_any_data_or_training(case):
    argv, bad, expected = case
    with tempfile.TemporaryDirectory() as folder:
        argv = _out_files(Path(folder), argv)
        with mock.patch.object(experiments, "load_cifar10", sentinel), \
                mock.patch.object(experiments, "run_seeds", sentinel):
            if bad:
                with pytest.raises(ValueError) as info:
                    experiments.parse_command_line(argv)
                assert_ours(info.value, bad)
                code, stderr = run_cli(experiments.main, argv)
                assert code == 2 and any(name in cli_error(stderr) for name in bad), stderr
                return
            args, config, _ = experiments.parse_command_line(argv)
            with pytest.raises(Reached):  # main goes on to load the data
                experiments.main(argv)
    assert args.seeds == expected.get("seeds", [0, 1, 2])
    assert (args.holdout, args.subset) == (expected.get("--holdout"), expected.get("--subset"))
    for name, value in expected["config"].items():
        assert getattr(config, name) == canonical(name, value)


@settings(max_examples=examples(100))
@given(seeds=st.one_of(st.lists(st.one_of(st.integers(0, 5), INTEGERS, JUNK), max_size=3),
                       JUNK, st.text(max_size=3)),
       holdout=st.one_of(st.none(), st.integers(-10, 300), st.sampled_from([10, 190, 200]),
                         INTEGERS, JUNK))
@example(seeds=[0, 1.5], holdout=None)   # 0 trained, then 1.5 was cut to seed 1
@example(seeds=[0, "a"], holdout=None)   # 0 trained, then int('a') failed
@example(seeds=[3, 3], holdout=None)     # the same run twice, two rows
@example(seeds="012", holdout=None)      # three seeds '0', '1', '2'
@example(seeds=[0], holdout=200)         # all 200 sample images held out: no training data
def test_run_seeds_checks_every_seed_and_the_holdout_before_the_first_training(seeds, holdout):
    ok_seeds = (isinstance(seeds, (list, tuple)) and len(seeds) > 0
                and all(int_in(s, 0, MAX_SEED) for s in seeds)
                and len({int(s) for s in seeds}) == len(seeds))
    per_class = 20  # the sample holds 20 training images of each class
    ok_holdout = holdout is None or (int_in(holdout, 10) and holdout % 10 == 0
                                     and holdout // 10 <= per_class - 1)
    with mock.patch.object(experiments, "separable_net", sentinel), \
            mock.patch.object(experiments, "train", sentinel), tempfile.TemporaryDirectory() as out:
        with pytest.raises((Reached, ValueError, TypeError)) as info:
            experiments.run_seeds(sample(), seeds, TrainConfig(epochs=1), out, holdout)
        if ok_seeds and ok_holdout:
            assert info.type is Reached, f"{info.type.__name__}: {info.value}"
        else:
            assert_ours(info.value, (["seed"] if not ok_seeds else []) + ["holdout"] * (not ok_holdout))
        assert not os.listdir(out)


# --------------------------------------------------------------------------- benchmark CLI

RUN_ITEMS = st.sampled_from(["pipeline:separable_net", "naive:reference_model",
                             "pipeline_no_xla:separable_net", "pipeline", "naive:", ":",
                             "fast:separable_net", "pipeline:resnet50",
                             "pipeline:separable_net:x", ""])


def run_item_is_valid(item: str) -> bool:
    pipeline, sep, model = item.partition(":")
    return bool(sep) and pipeline in benchmark.PIPELINES and model in benchmark.MODELS


@given(epochs=st.none() | st.integers(-2, 5),
       budget=st.none() | st.sampled_from(["nan", "inf", "-inf", "-1", "0", "0.5", "100", "1e400",
                                           "-0"]),
       runs=st.none() | st.lists(RUN_ITEMS, min_size=1, max_size=3),
       subset=st.none() | st.integers(-10, 300), out=st.sampled_from(["fresh", "folder"]))
@example(epochs=0, budget=None, runs=["naive:separable_net"], subset=None, out="fresh")
@example(epochs=None, budget="nan", runs=None, subset=None, out="fresh")  # ran nothing, silently
@example(epochs=None, budget="-1", runs=None, subset=None, out="fresh")
@example(epochs=None, budget=None, runs=["pipeline"], subset=None, out="fresh")  # was IndexError
@example(epochs=None, budget=None, runs=None, subset=5, out="fresh")
@example(epochs=None, budget=None, runs=None, subset=None, out="folder")  # failed after a run
def test_benchmark_command_line_is_checked_before_the_data_is_loaded(epochs, budget, runs, subset,
                                                                      out):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "benchmark.csv"
        if out == "folder":
            path.mkdir()
        argv = ["--out", str(path)]
        bad = {"--out"} if out == "folder" else set()
        if epochs is not None:
            argv += ["--epochs", str(epochs)]
            bad |= {"--epochs"} if epochs < 1 else set()
        if budget is not None:
            argv += [f"--budget={budget}"]
            bad |= {"--budget"} if not float(budget) >= 0 else set()
        if runs is not None:
            argv += ["--runs", *runs]
            bad |= {"--runs"} if not all(map(run_item_is_valid, runs)) else set()
        if subset is not None:
            argv += ["--subset", str(subset)]
            bad |= {"--subset"} if subset < 10 or subset % 10 else set()
        with mock.patch.object(benchmark, "load_cifar10", sentinel):
            if bad:
                code, stderr = run_cli(benchmark.main, argv)
                assert code == 2 and any(name in cli_error(stderr) for name in bad), stderr
            else:
                with pytest.raises(Reached):
                    run_cli(benchmark.main, argv)


@settings(max_examples=examples(100))
@given(epochs=st.one_of(st.integers(-1, 4), ANYTHING), budget=st.one_of(st.sampled_from(
    [0, 0.0, 10, math.inf]), ANYTHING),
       runs=st.lists(st.one_of(st.tuples(st.sampled_from([*benchmark.PIPELINES, "fast"]),
                                         st.sampled_from([*benchmark.MODELS, "resnet"])),
                               st.tuples(st.text(max_size=2)), JUNK), min_size=1, max_size=2),
       seed=st.one_of(st.integers(0, 3), INTEGERS, JUNK))
@example(epochs=-1, budget=0, runs=[("naive", "separable_net")], seed=0)  # rows, silently
@example(epochs=1, budget=float("nan"), runs=[("naive", "separable_net")], seed=0)
@example(epochs=1, budget=10, runs=[("naive",)], seed=0)        # was IndexError
@example(epochs=1, budget=10, runs=[("naive", "separable_net")], seed=-1)  # numpy's seed error
def test_run_benchmark_checks_its_arguments_before_the_first_run(epochs, budget, runs, seed):
    ok = (int_in(epochs, 1) and is_real(budget) and budget >= 0 and int_in(seed, 0, MAX_SEED)
          and all(isinstance(r, tuple) and len(r) == 2 and r[0] in benchmark.PIPELINES
                  and r[1] in benchmark.MODELS for r in runs))
    environment = {"device": "CPU", "backend": "tensorflow"}
    with mock.patch.object(benchmark, "benchmark_run", sentinel):
        with pytest.raises((Reached, ValueError, TypeError)) as info:
            table = benchmark.run_benchmark(sample(), epochs, TrainConfig(), runs, budget,
                                            seed=seed, environment=environment)
            raise Reached(table)
    if not ok:
        assert_ours(info.value, ["epochs", "budget", "runs", "seed"])
    elif info.value.args:  # no time for any run (a zero budget): rows that say so
        assert info.value.args[0].note.str.startswith("not run").all()
    else:
        assert budget > 0


# --------------------------------------------------------------------------- data loading

@settings(max_examples=examples(150))
@given(path=st.one_of(st.just(str(SAMPLE_PATH)), st.just(SAMPLE_PATH),
                     JUNK.filter(lambda v: v is not None), INTEGERS),  # None: $CIFAR10_PATH
       subset=st.one_of(st.none(), st.integers(-10, 220), INTEGERS, FLOATS, JUNK),
       test_subset=st.one_of(st.none(), st.integers(-10, 120), INTEGERS, JUNK),
       seed=st.one_of(st.integers(0, 5), INTEGERS, FLOATS, JUNK))
# A subset larger than the sample, with a path that does not exist: the path is the error, since
# such a subset fits the real CIFAR-10 (the oracle said 'subset'; found by the thorough profile).
@example(path="0", subset=230, test_subset=None, seed=0)
def test_load_cifar10_arguments(path, subset, test_subset, seed):
    def count_problem(value):  # refused before any data is read
        return value is not None and not (int_in(value, 10) and value % 10 == 0)

    bad = set()
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        bad.add("path")
    if count_problem(subset):
        bad.add("subset")
    if count_problem(test_subset):
        bad.add("test_subset")
    if not int_in(seed, 0):
        bad.add("seed")
    if bad:
        with pytest.raises(ValueError) as info:
            load_cifar10(path, subset=subset, test_subset=test_subset, seed=seed)
        assert_ours(info.value, bad)
        return
    if isinstance(path, str) and path != str(SAMPLE_PATH):
        # a str that is not the sample: a path that does not exist (or this folder)
        with pytest.raises((FileNotFoundError, ValueError)) as info:
            load_cifar10(path, subset=subset, test_subset=test_subset, seed=seed)
        assert_ours(info.value, ["CIFAR-10", path], kinds=(FileNotFoundError, ValueError))
        return
    too_many = [name for name, count, limit in (("subset", subset, 200), ("test_subset", test_subset, 100))
                if count is not None and count > limit]  # more than the sample's 200 / 100 images
    if too_many:
        with pytest.raises(ValueError) as info:
            load_cifar10(path, subset=subset, test_subset=test_subset, seed=seed)
        assert_ours(info.value, too_many[0])
        return
    loaded = load_cifar10(path, subset=subset, test_subset=test_subset, seed=seed)
    full = sample()
    for x, y, count, x_all, y_all in ((loaded.x_train, loaded.y_train, subset, full.x_train,
                                       full.y_train),
                                      (loaded.x_test, loaded.y_test, test_subset, full.x_test,
                                       full.y_test)):
        assert len(x) == len(y) == (count or len(x_all))
        assert np.bincount(y, minlength=10).tolist() == [len(y) // 10] * 10
        # Every image is one of the originals, with its own label, in the original order.
        where = {image.tobytes(): i for i, image in enumerate(x_all)}
        positions = [where[image.tobytes()] for image in x]
        assert positions == sorted(positions) and (y_all[positions] == y).all()


@settings(max_examples=examples(150))
@given(labels=st.lists(st.integers(0, 9), max_size=60),
       change=st.sampled_from(["none", "column", "floats", "too_big", "one_hot", "short"]),
       val_size=st.one_of(st.integers(-10, 70), INTEGERS, FLOATS, JUNK),
       seed=st.one_of(st.integers(0, 5), INTEGERS, JUNK))
def test_train_val_split(labels, change, val_size, seed):
    y = np.array(labels, dtype=np.int64)
    x = np.arange(len(y)) * 10  # stand-in images whose value says where they came from
    y = {"none": y, "column": y.reshape(-1, 1), "floats": y.astype(float), "too_big": y + 10,
         "one_hot": np.eye(10)[y], "short": y[:-1]}[change]
    counts = np.bincount(np.array(labels, dtype=int), minlength=10)
    bad = set()
    if not (int_in(val_size, 10) and val_size % 10 == 0):
        bad.add("val_size")
    elif val_size // 10 > counts.min() - 1:  # every class keeps one training example
        bad.add("val_size")
    if not int_in(seed, 0):
        bad.add("seed")
    if change in ("floats", "one_hot") or (change == "too_big" and len(labels)):
        bad.add("y")
    if change == "short":
        bad.add("x and y")
    if bad:
        with pytest.raises(ValueError) as info:
            train_val_split(x, y, val_size=val_size, seed=seed)
        assert_ours(info.value, [{"y": "y:"}.get(name, name) for name in bad])
        return
    (x_train, y_train), (x_val, y_val) = train_val_split(x, y, val_size=val_size, seed=seed)
    assert len(x_val) == val_size and len(x_train) == len(labels) - val_size
    assert np.bincount(y_val.reshape(-1), minlength=10).tolist() == [val_size // 10] * 10
    assert sorted([*x_train, *x_val]) == list(x) and list(x_val) == sorted(x_val)
    assert (np.asarray(labels)[x_train // 10] == y_train.reshape(-1)).all()


ARRAYS = {"x": st.sampled_from(["ok", "float32", "int64", "bool", "3d", "channels_first", "empty",
                                "object"]),
          "y": st.sampled_from(["ok", "column", "float", "bool", "2d", "too_big", "negative",
                                "short", "empty", "text"])}


def _images(kind, n):
    shape = {"3d": (n, 32, 32), "channels_first": (n, 3, 32, 32)}.get(kind, (n, 32, 32, 3))
    if kind == "empty":
        shape = (0, 32, 32, 3)
    dtype = {"float32": np.float32, "int64": np.int64, "bool": bool}.get(kind, np.uint8)
    if kind == "object":
        return np.array([None] * n, dtype=object)
    return np.zeros(shape, dtype)


def _labels(kind, n):
    y = np.arange(n) % 10
    return {"ok": y.astype(np.uint8), "column": y.reshape(-1, 1), "float": y.astype(np.float32),
            "bool": y % 2 == 0, "2d": np.stack([y, y], axis=1), "too_big": y + 10,
            "negative": y - 1, "short": y[:-1], "empty": y[:0], "text": y.astype(str)}[kind]


@settings(max_examples=examples(150))
@given(kinds=st.fixed_dictionaries({f"{a}_{split}": ARRAYS[a] for a in "xy"
                                    for split in ("train", "test")}),
       missing=st.lists(st.sampled_from(data.ARRAY_KEYS), max_size=2, unique=True),
       n_train=st.integers(1, 25), n_test=st.integers(1, 5))
@example(kinds={"x_train": "ok", "y_train": "ok", "x_test": "ok", "y_test": "ok"}, missing=[],
         n_train=9, n_test=1)  # one class missing from the training set
@example(kinds={"x_train": "ok", "y_train": "ok", "x_test": "object", "y_test": "ok"}, missing=[],
         n_train=10, n_test=1)  # the message did not say which array could not be read
def test_npz_files_load_exactly_or_are_refused_naming_the_array(kinds, missing, n_train, n_test):
    arrays = {}
    for split, n in (("train", n_train), ("test", n_test)):
        x_kind, y_kind = kinds[f"x_{split}"], kinds[f"y_{split}"]
        n_y = 0 if x_kind == "empty" and y_kind == "ok" else n
        arrays[f"x_{split}"], arrays[f"y_{split}"] = _images(x_kind, n), _labels(y_kind, n_y)
    for key in missing:
        del arrays[key]
    bad = set(missing)
    for split in ("train", "test"):
        x_kind, y_kind = kinds[f"x_{split}"], kinds[f"y_{split}"]
        if f"x_{split}" in arrays and x_kind not in ("ok", "empty"):
            bad.add(f"x_{split}")
        if f"y_{split}" in arrays and y_kind not in ("ok", "column", "empty", "short"):
            bad.add(f"y_{split}")
        if y_kind == "short" or (y_kind == "empty") != (x_kind == "empty"):
            bad |= {f"x_{split}", f"y_{split}"}  # "x_train has 5 images but y_train has 4 labels"
        if x_kind == "empty":
            bad.add(f"x_{split}")
    if kinds["y_train"] in ("ok", "column") and kinds["x_train"] != "empty" and n_train < 10:
        bad.add("y_train")  # a training set without every class
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "c.npz"
        np.savez(path, **arrays)
        if bad:
            with pytest.raises(data.DataFormatError) as info:
                load_cifar10(path)
            assert_ours(info.value, str(path))
            # Named as the problem ("x_train: ...", "its array x_train"), not only in the advice
            # that follows some messages ("the keys x_train, ...", "np.savez(path, x_train=...").
            problem = str(info.value).replace(data.HOW_TO_GET_A_COPY, "")
            assert any(re.search(rf"{key}(?!=)", problem) for key in bad), (problem, bad)
            return
        loaded = load_cifar10(path)
    for key in data.ARRAY_KEYS:
        expected = arrays[key].reshape(-1) if key.startswith("y") else arrays[key]
        assert (getattr(loaded, key) == expected).all() and getattr(loaded, key).dtype == np.uint8


def _zip_bytes(members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, payload in members:
            archive.writestr(name, payload)
    return buffer.getvalue()


GARBAGE = st.one_of(
    st.binary(max_size=300), st.just(b""),
    st.lists(st.tuples(st.sampled_from(["x_train.npy", "y_train.npy", "x_test.npy", "y_test.npy",
                                        "other"]), st.binary(max_size=200)),
             max_size=4, unique_by=lambda member: member[0]).map(_zip_bytes),
    st.binary(max_size=200).map(lambda b: b"\x93NUMPY\x01\x00" + b),
    st.builds(lambda cut: SAMPLE_PATH.read_bytes()[:cut], st.integers(0, 200_000)))


@settings(max_examples=examples(150))
@given(payload=GARBAGE)
@example(payload=b"")
def test_a_damaged_npz_is_refused_naming_the_file(payload):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cifar10.npz"
        path.write_bytes(payload)
        with pytest.raises(data.DataFormatError) as info:
            load_cifar10(path)
    assert_ours(info.value, str(path))


PICKLED = st.one_of(
    st.recursive(st.one_of(st.none(), st.integers(-3, 300), st.floats(), st.binary(max_size=4),
                           st.text(max_size=3)),
                 lambda children: st.lists(children, max_size=3)
                 | st.dictionaries(st.sampled_from([b"data", b"labels", "data"]), children,
                                   max_size=3), max_leaves=6).map(pickle.dumps),
    st.fixed_dictionaries({b"data": st.sampled_from([np.zeros((2, 3072), np.uint8),
                                                     np.zeros((2, 3071), np.uint8),
                                                     np.zeros((2, 3072), np.float32),
                                                     [[1, 2], [3]], "data", None]),
                           b"labels": st.sampled_from([[0, 1], [0], [0, 11], [-1, 2], "ab", None,
                                                       [[0], [1, 2]], [0.5, 1.0]])}).map(pickle.dumps),
    st.binary(max_size=200), st.binary(max_size=100).map(lambda b: b"\x80\x04" + b))


def _write_batches(directory: Path) -> None:
    """A valid ``cifar-10-batches-py`` folder with 10 images a batch, every class in each."""
    directory.mkdir()
    for name in (*data.TRAIN_BATCHES, data.TEST_BATCH):
        batch = {b"data": np.zeros((10, 3072), np.uint8), b"labels": list(range(10))}
        (directory / name).write_bytes(pickle.dumps(batch))


@settings(max_examples=examples(150))
@given(name=st.sampled_from([*data.TRAIN_BATCHES, data.TEST_BATCH]),
       payload=st.one_of(PICKLED, st.none()))
@example(name="data_batch_2", payload=b"\x80\x04K\x05.")  # an int: was "'int' object is not iterable"
def test_a_damaged_batch_file_is_refused_naming_it(name, payload):
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder) / data.BATCHES_DIRNAME
        _write_batches(directory)
        if payload is None:
            (directory / name).unlink()
        else:
            (directory / name).write_bytes(payload)
        try:
            loaded = load_cifar10(directory)
        except (data.DataFormatError, data.DataNotFoundError) as error:
            assert_ours(error, name, kinds=(data.DataFormatError, data.DataNotFoundError))
            return
    # Loaded: then the damaged file was a valid batch after all (10 images of every class, or the
    # generated two images); every image is there, in order.
    assert payload is not None and len(loaded.x_train) + len(loaded.x_test) >= 50


# --------------------------------------------------------------------------- rubric

@cache
def rubric_model() -> keras.Model:
    layers = keras.layers
    return keras.Sequential([keras.Input((32, 32, 3)),
                             layers.SeparableConv2D(8, 3, name="sep"),
                             layers.BatchNormalization(name="bn"), layers.Dropout(0.1, name="drop"),
                             layers.GlobalAveragePooling2D(name="gap")], name="net")


ASSUME = st.one_of(st.lists(st.sampled_from(["Dropout", "MyLayer", "gap"]), max_size=2),
                   st.lists(st.sampled_from(["Dropout", "x"]), max_size=2).map(tuple),
                   st.just(()), st.text(max_size=6), st.lists(st.one_of(JUNK, INTEGERS), min_size=1,
                                                              max_size=2), INTEGERS, st.none())


# Costly: a valid call computes the model's receptive-field table.
@settings(max_examples=examples(100))
@given(epochs_required=st.one_of(st.integers(0, 60), ANYTHING),
       base_accuracy=st.one_of(st.floats(-0.5, 1.5), ANYTHING),
       max_params=st.one_of(st.integers(-1, 10**6), ANYTHING), assume_preserving=ASSUME)
@example(epochs_required=50, base_accuracy="0.8", max_params=100, assume_preserving=())
@example(epochs_required=50, base_accuracy=0.8, max_params=float("nan"), assume_preserving=())
@example(epochs_required=50, base_accuracy=0.8, max_params=True, assume_preserving=())
@example(epochs_required=50, base_accuracy=0.8, max_params=1.5, assume_preserving=())
@example(epochs_required=50, base_accuracy=0.8, max_params=100, assume_preserving="Dropout")
@example(epochs_required=50, base_accuracy=0.8, max_params=100, assume_preserving=[5])
def test_check_assignment_arguments(epochs_required, base_accuracy, max_params, assume_preserving):
    bad = set()
    if not int_in(epochs_required, 1):
        bad.add("epochs_required")
    if not (is_finite_real(base_accuracy) and 0 < base_accuracy < 1):
        bad.add("base_accuracy")
    if not int_in(max_params, 1):
        bad.add("max_params")
    if not (isinstance(assume_preserving, (list, tuple, dict))  # any iterable of names but a str
            and all(isinstance(name, str) for name in assume_preserving)):
        bad.add("assume_preserving")
    kwargs = dict(epochs_required=epochs_required, base_accuracy=base_accuracy,
                  max_params=max_params, assume_preserving=assume_preserving)
    if bad:
        with pytest.raises((ValueError, TypeError)) as info:
            check_assignment(rubric_model(), **kwargs)
        assert_ours(info.value, bad)
        return
    table = check_assignment(rubric_model(), **kwargs).set_index("requirement")
    params = rubric_model().count_params()
    assert table.loc[f"Fewer than {max_params:,} parameters", "passed"] == (params < max_params)
    assert table.loc[f"{epochs_required} epochs", "passed"] is None


# --------------------------------------------------------------------------- receptive-field CLI

@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("rf") / "net.keras"
    rubric_model().save(path)
    return path


MODEL_FILES = st.sampled_from(["missing", "folder", "empty", "text", "random", "zip", "bad_config",
                               "unknown_class", "model"])


def _model_file(kind: str, suffix: str, root: Path, saved: Path, noise: bytes) -> Path:
    path = root / f"model{suffix}"
    if kind == "folder":
        path.mkdir()
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("model = separable_net()\n")
    elif kind == "random":
        path.write_bytes(noise)
    elif kind == "zip":
        path.write_bytes(_zip_bytes([("weights.h5", noise)]))
    elif kind == "bad_config":
        path.write_bytes(_zip_bytes([("config.json", noise), ("metadata.json", b"{}")]))
    elif kind == "unknown_class":
        config = b'{"class_name": "NoSuchModel", "config": {}}'
        path.write_bytes(_zip_bytes([("config.json", config),
                                     ("metadata.json", b'{"keras_version": "3.15.1"}')]))
    elif kind == "model":
        path.write_bytes(saved.read_bytes())
    return path


# Costly: Keras tries to load each file.
@settings(max_examples=examples(100))
@given(kind=MODEL_FILES, suffix=st.sampled_from([".keras", ".h5", ".txt", ""]),
       csv=st.sampled_from(["none", "fresh", "", "folder", "no_parent"]),
       noise=st.binary(max_size=64))
@example(kind="zip", suffix=".keras", csv="none", noise=b"")        # was KeyError 'config.json'
@example(kind="model", suffix=".keras", csv="", noise=b"")          # --csv '' was ignored
@example(kind="empty", suffix=".keras", csv="none", noise=b"")      # was "File not found"
def test_receptive_field_cli_refuses_bad_files_with_exit_2(saved_model, kind, suffix, csv, noise):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        path = _model_file(kind, suffix, root, saved_model, noise)
        argv = [str(path)]
        table = {"fresh": root / "t.csv", "folder": root, "no_parent": root / "no" / "t.csv"}
        if csv != "none":
            argv += ["--csv", str(table.get(csv, ""))]
        try:
            code, stderr = run_cli(receptive_field.main, argv)
        except Exception as error:  # noqa: BLE001 (the property: nothing escapes)
            pytest.fail(f"{type(error).__name__} escaped: {error}")
        loads = kind == "model" and suffix == ".keras"
        if loads and csv in ("none", "fresh"):
            assert code == 0, stderr
            assert csv == "none" or table["fresh"].read_text().startswith("layer,")
            return
        assert code == 2, stderr
        names = ["--csv"] if loads else [str(path), "MODEL"] + ["--csv"] * (csv == "")
        assert any(name in cli_error(stderr) for name in names), stderr


# --------------------------------------------------------------------------- model builders

SEQUENCES = st.one_of(st.lists(st.integers(-1, 40), max_size=5).map(tuple),
                      st.lists(st.one_of(st.integers(1, 40), ANYTHING), min_size=1, max_size=4),
                      st.lists(st.integers(1, 40), min_size=1, max_size=4).map(np.array),
                      ANYTHING)
RATES = st.one_of(st.lists(st.floats(-0.2, 1.2), max_size=5).map(tuple),
                  st.lists(st.one_of(st.floats(0, 0.9), FLOATS, JUNK), min_size=1, max_size=4),
                  ANYTHING)
SHAPES = st.one_of(st.tuples(st.integers(1, 70), st.integers(1, 70), st.sampled_from([3, 3, 1])),
                   st.lists(st.one_of(st.integers(-1, 70), ANYTHING), min_size=2, max_size=4),
                   ANYTHING)


def _sequence(value) -> bool:
    return (isinstance(value, (list, tuple)) or (isinstance(value, np.ndarray) and value.ndim == 1))


def separable_net_problems(kw: dict) -> set[str]:
    bad = set()
    widths = kw["widths"]
    stages = None
    if _sequence(widths) and len(widths) and all(int_in(w, 1) for w in widths):
        stages = len(widths)
    else:
        bad.add("widths")
    if not int_in(kw["stem_width"], 1):
        bad.add("stem_width")
    shape = kw["input_shape"]
    side = None
    if (_sequence(shape) and len(shape) == 3 and all(int_in(v, 1) for v in shape)
            and shape[2] == 3):
        side = min(shape[0], shape[1])
    else:
        bad.add("input_shape")
    if not (int_in(kw["kernel_size"], 1) and kw["kernel_size"] % 2
            and (side is None or kw["kernel_size"] <= side)):
        bad.add("kernel_size")
    rates = kw["dropout"]
    if not (_sequence(rates) and all(is_finite_real(r) and 0 <= r < 1 for r in rates)
            and (stages is None or len(rates) == stages)):
        bad.add("dropout")
    if not (is_finite_real(kw["bn_momentum"]) and 0 <= kw["bn_momentum"] < 1):
        bad.add("bn_momentum")
    blocks = kw["blocks"]
    counts = [blocks] if is_int(blocks) else list(blocks) if _sequence(blocks) else [None]
    if not (all(int_in(c, 0) for c in counts) and (is_int(blocks) or stages is None
                                                   or len(counts) == stages)):
        bad.add("blocks")
    if not int_in(kw["num_classes"], 2):
        bad.add("num_classes")
    if not (isinstance(kw["name"], str) and kw["name"] and "/" not in kw["name"]):
        bad.add("name")
    if stages is not None and side is not None and side // 2**stages < 1:
        bad |= {"widths", "input_shape"}  # every stage halves the map
    return bad


@given(st.fixed_dictionaries({
    "widths": st.one_of(st.just((8, 16)), SEQUENCES),
    "stem_width": st.one_of(st.integers(-1, 40), ANYTHING),
    "kernel_size": st.one_of(st.sampled_from([1, 3, 5, 33, 4]), ANYTHING),
    "dropout": st.one_of(st.just((0.0, 0.1)), RATES), "bn_momentum": st.one_of(FLOATS, JUNK),
    "blocks": st.one_of(st.integers(-1, 3), SEQUENCES),
    "num_classes": st.one_of(st.integers(-1, 12), ANYTHING),
    "input_shape": st.one_of(st.just((32, 32, 3)), SHAPES),
    "name": st.one_of(st.sampled_from(["net", "", "a/b"]), JUNK)}))
@example({"widths": (8.0, 16), "stem_width": 8, "kernel_size": 3, "dropout": (0.0, 0.1),
          "bn_momentum": 0.9, "blocks": 1, "num_classes": 10, "input_shape": (32, 32, 3),
          "name": "net"})  # was Keras's "Cannot convert '(1, 1, 8, 8.0)' to a shape"
@example({"widths": (True, 16), "stem_width": 8, "kernel_size": 3, "dropout": (0.0, 0.1),
          "bn_momentum": 0.9, "blocks": 1, "num_classes": 10, "input_shape": (32, 32, 3),
          "name": "net"})  # was a stage of width 1
@example({"widths": np.array([8, 16]), "stem_width": 8, "kernel_size": 3, "dropout": (0.0, 0.1),
          "bn_momentum": 0.9, "blocks": 1, "num_classes": 10, "input_shape": (32, 32, 3),
          "name": "net"})  # was numpy's "truth value of an array is ambiguous"
@example({"widths": (8, 16), "stem_width": 8, "kernel_size": 3, "dropout": (0.0, 0.1),
          "bn_momentum": 0.9, "blocks": 1, "num_classes": 1, "input_shape": (32, 32, 3),
          "name": "net"})  # was a one-class softmax, always 1
@example({"widths": (8, 16), "stem_width": 8, "kernel_size": 33, "dropout": (0.0, 0.1),
          "bn_momentum": 0.9, "blocks": 1, "num_classes": 10, "input_shape": (32, 32, 3),
          "name": "net"})  # a kernel larger than the image
@example({"widths": (8, 16), "stem_width": 8, "kernel_size": 3, "dropout": (False, 0.1),
          "bn_momentum": 0.9, "blocks": 1, "num_classes": 10, "input_shape": (32, 32, 3),
          "name": "net"})
@example({"widths": (8, 16), "stem_width": 8, "kernel_size": 3, "dropout": (0.0, 0.1),
          "bn_momentum": 0.9, "blocks": 1, "num_classes": 10, "input_shape": (32, 32, 1),
          "name": "net"})  # was TensorFlow's BroadcastTo error in the standardization
@example({"widths": (8, 16), "stem_width": 8, "kernel_size": 3, "dropout": (0.0, 0.1),
          "bn_momentum": 0.9, "blocks": 1, "num_classes": 10, "input_shape": (32, 2, 3),
          "name": "net"})  # was Keras's MaxPooling2D "output size would be zero"
@example({"widths": (8, 16), "stem_width": 8, "kernel_size": 3, "dropout": (0.0, 0.1),
          "bn_momentum": 0.9, "blocks": 1, "num_classes": 10, "input_shape": (32, 32, 3),
          "name": ""})
def test_separable_net_checks_every_argument_before_building(kwargs):
    bad = separable_net_problems(kwargs)
    with mock.patch.object(keras, "Input", sentinel):
        with pytest.raises((Reached, ValueError, TypeError)) as info:
            models.separable_net(**kwargs)
    if bad:
        assert_ours(info.value, bad)
    else:
        assert info.type is Reached, f"{info.type.__name__}: {info.value}"


@given(st.one_of(st.just((32, 32, 3)), SHAPES))
@example((16, 16, 3))   # was Keras's "Computed output size would be zero or negative"
@example((32, 32, 1))   # was TensorFlow's BroadcastTo error
def test_reference_model_input_shape(shape):
    ok = (_sequence(shape) and len(shape) == 3 and all(int_in(v, 1) for v in shape)
          and shape[2] == 3 and min(shape[0], shape[1]) >= 32)  # 3 poolings, then a 4x4 'valid'
    with mock.patch.object(keras, "Input", sentinel):
        with pytest.raises((Reached, ValueError, TypeError)) as info:
            models.reference_model(shape)
    if ok:
        assert info.type is Reached, f"{info.type.__name__}: {info.value}"
    else:
        assert_ours(info.value, "input_shape")


# Costly: builds real models (about 0.5 s each).
@settings(max_examples=examples(6))
@given(widths=st.lists(st.integers(1, 8), min_size=1, max_size=3),
       as_numpy=st.booleans(), num_classes=st.integers(2, 12), side=st.sampled_from([8, 16, 32]))
def test_separable_net_builds_what_it_is_given(widths, as_numpy, num_classes, side):
    number = np.int64 if as_numpy else int
    model = models.separable_net(
        widths=[number(w) for w in widths], stem_width=number(4), kernel_size=number(3),
        dropout=[np.float32(0.1)] * len(widths), blocks=number(1), num_classes=number(num_classes),
        input_shape=(number(side), number(side), number(3)))
    assert model.output_shape == (None, num_classes)
    projections = [layer.filters for layer in model.layers if layer.name.endswith("proj_sepconv")]
    assert projections == widths
    pools = [layer for layer in model.layers if isinstance(layer, keras.layers.MaxPooling2D)]
    assert len(pools) == len(widths) and pools[-1].output.shape[1] == side // 2 ** len(widths)
