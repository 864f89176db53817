"""Load CIFAR-10 from a local copy or Keras, draw class-balanced subsets and validation splits.

Only numpy is imported here; Keras is imported only when :func:`load_cifar10` has to download.

>>> from assignment_utils.data import SAMPLE_PATH, load_cifar10, train_val_split
>>> data = load_cifar10(SAMPLE_PATH)  # 200 train + 100 test real images shipped with the package
>>> (x_tr, y_tr), (x_val, y_val) = train_val_split(data.x_train, data.y_train, val_size=50)
>>> x_tr.shape, x_val.shape
((150, 32, 32, 3), (50, 32, 32, 3))
"""

from __future__ import annotations

import argparse
import os
import pickle
import zipfile
from importlib import resources
from pathlib import Path
from typing import NamedTuple

import numpy as np

# CLASS_NAMES lives in rules.py; imported here so `from assignment_utils.data import CLASS_NAMES` works.
from assignment_utils.checks import check_path, is_integer
from assignment_utils.rules import CLASS_NAMES, IMAGE_SHAPE, NUM_CLASSES

__all__ = [
    "CLASS_NAMES",
    "DOWNLOAD_URL",
    "ENV_VAR",
    "SAMPLE_PATH",
    "Cifar10",
    "DataFormatError",
    "DataNotFoundError",
    "check_count",
    "check_labels",
    "load_cifar10",
    "train_val_split",
]

DOWNLOAD_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
ENV_VAR = "CIFAR10_PATH"
BATCHES_DIRNAME = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
ARRAY_KEYS = ("x_train", "y_train", "x_test", "y_test")

SAMPLE_PATH: Path = Path(
    os.fspath(resources.files(__package__) / "package_data" / "cifar10_sample.npz")
)
"""Real CIFAR-10 sample for tests and smoke runs: 20 training and 10 test images per class."""

HOW_TO_GET_A_COPY = (
    f"To get a local copy: download {DOWNLOAD_URL} on a machine with internet, extract it "
    f"(tar -xzf cifar-10-python.tar.gz), then call load_cifar10(path='/path/to/{BATCHES_DIRNAME}') "
    f"or set the environment variable {ENV_VAR} to that directory (an .npz with the keys "
    f"{', '.join(ARRAY_KEYS)} works too). For a quick smoke run, load_cifar10(SAMPLE_PATH) loads "
    "the small real sample shipped with assignment_utils."
)


class DataNotFoundError(FileNotFoundError):
    """CIFAR-10 could not be found locally nor downloaded; the message says how to get a copy."""


class DataFormatError(ValueError):
    """A CIFAR-10 source exists but is not valid CIFAR-10; the message names it and the problem."""


class Cifar10(NamedTuple):
    """CIFAR-10 arrays: uint8 images ``(N, 32, 32, 3)`` and 1-D uint8 labels in ``0..9``."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def load_cifar10(
    path: str | os.PathLike[str] | None = None,
    subset: int | None = None,
    seed: int = 0,
    test_subset: int | None = None,
) -> Cifar10:
    """Load CIFAR-10, optionally as class-balanced subsets.

    ``path`` may be an ``.npz`` with ``x_train, y_train, x_test, y_test``, an extracted
    ``cifar-10-batches-py`` directory, or its parent directory. Without ``path``, the environment
    variable ``CIFAR10_PATH`` is used if set, else ``keras.datasets.cifar10.load_data()`` (which
    downloads once and caches under ``~/.keras/datasets``).

    ``subset`` / ``test_subset`` keep that many training / test images, the same number from every
    class (so a multiple of 10), drawn reproducibly from ``seed`` and kept in the original order.

    Whatever the source, both splits must hold at least one image, uint8 ``(N, 32, 32, 3)`` with
    labels in ``0..9``, and the training labels must include every class.

    >>> data = load_cifar10(SAMPLE_PATH, subset=100, test_subset=50, seed=1)
    >>> data.x_train.shape, data.y_train.dtype, len(data.y_test)
    ((100, 32, 32, 3), dtype('uint8'), 50)

    Raises:
        DataNotFoundError: the path does not exist, or no path was given and the download failed.
        DataFormatError: the source is not valid CIFAR-10: an unreadable or truncated file, missing
            keys, or arrays with the wrong shapes, dtypes, labels or classes (a ``ValueError``).
        ValueError: bad arguments (``path`` not a non-empty str or PathLike, ``subset`` not a
            positive int multiple of 10, ``seed`` not a non-negative int).
    """
    check_path("path", path, none_means=f"to use {ENV_VAR} or Keras")
    for name, count in (("subset", subset), ("test_subset", test_subset)):
        if count is not None:
            check_count(name, count)
    _check_seed(seed)

    if path is None and os.environ.get(ENV_VAR):
        data = _load_local(Path(os.environ[ENV_VAR]), origin=f"environment variable {ENV_VAR}")
    elif path is None:
        data = _load_keras()
    else:
        data = _load_local(Path(path), origin="path")

    if subset is not None:
        keep = _balanced_indices(data.y_train, subset, seed, "subset")
        data = data._replace(x_train=data.x_train[keep], y_train=data.y_train[keep])
    if test_subset is not None:
        keep = _balanced_indices(data.y_test, test_subset, seed, "test_subset")
        data = data._replace(x_test=data.x_test[keep], y_test=data.y_test[keep])
    return data


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """``--data`` and ``--subset``, the arguments of :func:`load_cifar10`, for a command line."""
    parser.add_argument("--data", default=None, help="CIFAR-10 .npz or cifar-10-batches-py folder "
                        f"(default: ${ENV_VAR}, else Keras's download)")
    parser.add_argument("--subset", type=int, default=None,
                        help="class-balanced training subset (a multiple of 10)")


def train_val_split(
    x: np.ndarray, y: np.ndarray, val_size: int = 5000, seed: int = 0
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Hold out a class-balanced validation set from the training data (never use the test set).

    ``val_size`` must be a multiple of 10 (the same count from every class) and leave at least one
    training example per class. Both parts keep the original order; ``seed`` makes it reproducible.
    ``y`` must hold integer class labels, ``(N,)`` or ``(N, 1)``: split before one-hot encoding.

    >>> data = load_cifar10(SAMPLE_PATH)
    >>> (x_tr, y_tr), (x_val, y_val) = train_val_split(data.x_train, data.y_train, val_size=100)
    >>> len(y_tr), len(y_val)
    (100, 100)
    """
    check_count("val_size", val_size)
    _check_seed(seed)
    x = np.asarray(x)
    labels = check_labels("y", y)
    if x.ndim == 0 or len(x) != len(labels):
        raise ValueError(
            f"x and y must have the same number of examples; got x of shape {x.shape} and "
            f"{len(labels)} labels in y."
        )
    val = _balanced_indices(labels, val_size, seed, "val_size", keep_one_out=True)
    is_val = np.zeros(len(labels), dtype=bool)
    is_val[val] = True
    y = np.asarray(y)
    return (x[~is_val], y[~is_val]), (x[is_val], y[is_val])


def check_count(name: str, value: int) -> None:
    """Reject anything but a positive multiple of 10 given as an integer."""
    if not is_integer(value):
        raise ValueError(
            f"{name} must be an int (a multiple of {NUM_CLASSES}); got {value!r} of type "
            f"{type(value).__name__}."
        )
    if value < NUM_CLASSES or value % NUM_CLASSES:
        raise ValueError(
            f"{name} must be a positive multiple of {NUM_CLASSES} so that every class gets the "
            f"same number of images; got {value}. "
            f"Try {max(NUM_CLASSES, value - value % NUM_CLASSES)}."
        )


def _check_seed(seed: int) -> None:
    if not is_integer(seed) or seed < 0:
        raise ValueError(f"seed must be a non-negative int; got {seed!r}.")


def _balanced_indices(
    labels: np.ndarray, total: int, seed: int, name: str, keep_one_out: bool = False
) -> np.ndarray:
    """Sorted indices of ``total // 10`` randomly chosen examples of every class.

    With ``keep_one_out``, at least one example of every class must remain unchosen.
    """
    per_class = total // NUM_CLASSES
    counts = np.bincount(labels, minlength=NUM_CLASSES)
    limit = int(counts.min()) - (1 if keep_one_out else 0)
    if per_class > limit:
        rule = "and to leave at least one training image per class " if keep_one_out else ""
        raise ValueError(
            f"{name}={total} needs {per_class} images per class {rule}but the smallest class has "
            f"{int(counts.min())} (per-class counts {counts.tolist()}); use at most "
            f"{max(limit, 0) * NUM_CLASSES}."
        )
    rng = np.random.default_rng(seed)
    chosen = [
        rng.choice(np.flatnonzero(labels == c), per_class, replace=False)
        for c in range(NUM_CLASSES)
    ]
    return np.sort(np.concatenate(chosen))


def _check_images(name: str, x: np.ndarray) -> np.ndarray:
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[1:] != IMAGE_SHAPE:
        raise ValueError(
            f"{name}: expected raw uint8 images of shape (N, 32, 32, 3) (values 0..255, channels "
            f"last); got a {x.dtype} array of shape {x.shape}."
        )
    return x


def check_labels(name: str, y: object, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """Integer class labels in ``0..num_classes - 1``, ``(N,)`` or Keras's ``(N, 1)``, as a 1-D
    array of their own dtype; anything else is a ``ValueError`` naming ``name``."""
    try:
        y = np.asarray(y)
    except ValueError as exc:  # ragged nested lists
        raise ValueError(f"{name}: expected integer class labels of shape (N,); got {exc}") from None
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.reshape(-1)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(
            f"{name}: expected integer class labels of shape (N,) or (N, 1); got a {y.dtype} "
            f"array of shape {y.shape} (load and split before one-hot encoding)."
        )
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(
            f"{name}: labels must be in 0..{num_classes - 1}; found values from {y.min()} to "
            f"{y.max()}."
        )
    return y


def _validated(
    source: str, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray
) -> Cifar10:
    """Checked CIFAR-10 arrays; any problem is a DataFormatError that names ``source``."""
    arrays = {}
    try:
        for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
            images = _check_images(f"x_{split}", np.asarray(x))
            labels = check_labels(f"y_{split}", y).astype(np.uint8)
            if len(images) != len(labels):
                raise ValueError(
                    f"x_{split} has {len(images)} images but y_{split} has {len(labels)} labels."
                )
            if not len(images):
                raise ValueError(f"x_{split} holds no images (shape {images.shape}).")
            arrays[f"x_{split}"], arrays[f"y_{split}"] = images, labels
        absent = sorted(set(range(NUM_CLASSES)) - set(np.unique(arrays["y_train"]).tolist()))
        if absent:
            raise ValueError(
                "y_train has no image of class "
                + ", ".join(f"{c} ({CLASS_NAMES[c]})" for c in absent)
                + f"; a CIFAR-10 training set must include all {NUM_CLASSES} classes."
            )
    except ValueError as exc:
        raise DataFormatError(f"{source}: {exc}") from None
    return Cifar10(**arrays)


def _load_local(path: Path, origin: str) -> Cifar10:
    if not path.exists():
        raise DataNotFoundError(
            f"CIFAR-10 not found: {str(path)!r} (from {origin}) does not exist. "
            f"{HOW_TO_GET_A_COPY}"
        )
    if path.is_dir():
        inner = path / BATCHES_DIRNAME
        return _load_batches_dir(inner if inner.is_dir() else path)
    if path.suffix == ".npz":
        return _load_npz(path)
    hint = ""
    if path.name.endswith((".tar.gz", ".tgz")):
        hint = f" Extract it first (tar -xzf) and pass the {BATCHES_DIRNAME} directory."
    raise DataFormatError(
        f"{str(path)!r} is neither an .npz file nor a {BATCHES_DIRNAME} directory.{hint}"
    )


def _load_npz(path: Path) -> Cifar10:
    """Read an ``.npz`` archive (``allow_pickle=False``); unreadable files name the fix."""
    key = None
    try:
        if not zipfile.is_zipfile(path):  # random bytes, a single .npy, or cut short
            raise zipfile.BadZipFile("no zip archive found")
        with np.load(path, allow_pickle=False) as npz:
            found, arrays = npz.files, {}
            for key in (k for k in ARRAY_KEYS if k in found):
                arrays[key] = npz[key]
    except Exception as exc:  # zipfile, zlib and NumPy's .npy reader raise many types
        where = f" (its array {key} cannot be read)" if key is not None else ""
        raise DataFormatError(
            f"{str(path)!r} is not a readable .npz archive{where} ({type(exc).__name__}: {exc}); it may "
            "be cut short by an interrupted download or copy, or not be an .npz at all. Rebuild "
            "it from a good copy with np.savez(path, x_train=..., y_train=..., x_test=..., "
            f"y_test=...), or load a good copy directly. {HOW_TO_GET_A_COPY}"
        ) from exc
    missing = [key for key in ARRAY_KEYS if key not in found]
    if missing:
        raise DataFormatError(
            f"{str(path)!r} lacks the array(s) {missing}; expected the keys "
            f"{list(ARRAY_KEYS)}, found {found}."
        )
    return _validated(repr(str(path)), *(arrays[key] for key in ARRAY_KEYS))


def _load_batches_dir(directory: Path) -> Cifar10:
    """Read the python-pickle batches of the official ``cifar-10-python.tar.gz``."""
    missing = [name for name in (*TRAIN_BATCHES, TEST_BATCH) if not (directory / name).is_file()]
    if missing:
        raise DataNotFoundError(
            f"{str(directory)!r} is not a {BATCHES_DIRNAME} directory: missing {missing}. "
            f"{HOW_TO_GET_A_COPY}"
        )
    train = [_read_batch(directory / name) for name in TRAIN_BATCHES]
    x_test, y_test = _read_batch(directory / TEST_BATCH)
    x_train = np.concatenate([x for x, _ in train])
    y_train = np.concatenate([y for _, y in train])
    return _validated(repr(str(directory)), x_train, y_train, x_test, y_test)


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickle plain containers and numpy arrays only, so a tampered batch cannot run code."""

    _ALLOWED = frozenset(
        {
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy.core.numeric", "_frombuffer"),
            ("numpy._core.numeric", "_frombuffer"),
        }
    )

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One batch: ``b"data"`` (N, 3072) uint8 rows of R, G, B planes, and ``b"labels"`` (N
    labels in 0..9); a file that is not one is a DataFormatError naming it."""
    with open(path, "rb") as f:
        try:
            batch = _NumpyOnlyUnpickler(f, encoding="bytes").load()
        except Exception as exc:  # damaged pickles raise many types, even MemoryError
            raise DataFormatError(
                f"{str(path)!r} is not a CIFAR-10 python batch file: {type(exc).__name__}: {exc}"
            ) from exc
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        found = sorted(map(repr, batch)) if isinstance(batch, dict) else type(batch).__name__
        raise DataFormatError(
            f"{str(path)!r}: expected a dict with the keys b'data' and b'labels'; found {found}."
        )
    try:
        data = np.asarray(batch[b"data"])
        labels = check_labels("b'labels'", batch[b"labels"])
    except ValueError as exc:
        raise DataFormatError(f"{str(path)!r}: {exc}") from None
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DataFormatError(
            f"{str(path)!r}: b'data' must be a uint8 array of shape (N, 3072); got a "
            f"{data.dtype} array of shape {data.shape}."
        )
    if len(labels) != len(data):
        raise DataFormatError(
            f"{str(path)!r}: {len(data)} images in b'data' but {len(labels)} b'labels'."
        )
    images = np.ascontiguousarray(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    return images, labels


def _load_keras() -> Cifar10:
    try:
        import keras

        (x_train, y_train), (x_test, y_test) = keras.datasets.cifar10.load_data()
    except Exception as exc:  # Offline, Keras raises a bare Exception("URL fetch failure ...").
        raise DataNotFoundError(
            f"CIFAR-10 could not be loaded with keras.datasets.cifar10.load_data() and {ENV_VAR} "
            f"is not set ({type(exc).__name__}: {exc}). {HOW_TO_GET_A_COPY}"
        ) from exc
    if x_train.shape[1:] == (3, 32, 32):  # Keras set to image_data_format="channels_first".
        x_train, x_test = x_train.transpose(0, 2, 3, 1), x_test.transpose(0, 2, 3, 1)
    return _validated("keras.datasets.cifar10.load_data()", x_train, y_train, x_test, y_test)
