"""Tests for assignment_utils.data, run on the real 300-image sample shipped with the package."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assignment_utils import data as cifar
from assignment_utils.data import (
    CLASS_NAMES,
    SAMPLE_PATH,
    DataFormatError,
    DataNotFoundError,
    load_cifar10,
    train_val_split,
)

FULL_NPZ = os.environ.get("CIFAR10_FULL_NPZ")


@pytest.fixture(scope="module")
def sample() -> cifar.Cifar10:
    return load_cifar10(SAMPLE_PATH)


def write_batches_dir(root: Path, data: cifar.Cifar10) -> Path:
    """Write ``data`` as a ``cifar-10-batches-py`` directory in the official pickle format."""
    directory = root / "cifar-10-batches-py"
    directory.mkdir()
    splits = np.array_split(np.arange(len(data.y_train)), 5)
    batches = {
        f"data_batch_{i}": (data.x_train[idx], data.y_train[idx])
        for i, idx in enumerate(splits, 1)
    }
    batches["test_batch"] = (data.x_test, data.y_test)
    for name, (x, y) in batches.items():
        rows = x.transpose(0, 3, 1, 2).reshape(len(x), 3072)
        batch = {b"batch_label": name.encode(), b"labels": [int(v) for v in y], b"data": rows}
        with open(directory / name, "wb") as f:
            pickle.dump(batch, f, protocol=4)
    return directory


def save_npz(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


def test_class_names() -> None:
    assert CLASS_NAMES[0] == "airplane" and CLASS_NAMES[9] == "truck" and len(CLASS_NAMES) == 10


def test_sample_shapes_dtypes_and_balance(sample: cifar.Cifar10) -> None:
    assert sample.x_train.shape == (200, 32, 32, 3) and sample.x_test.shape == (100, 32, 32, 3)
    for x in (sample.x_train, sample.x_test):
        assert x.dtype == np.uint8
    for y, per_class in ((sample.y_train, 20), (sample.y_test, 10)):
        assert y.dtype == np.uint8 and y.ndim == 1
        assert np.bincount(y, minlength=10).tolist() == [per_class] * 10
    assert SAMPLE_PATH.stat().st_size < 1_000_000


def test_sample_records_official_indices() -> None:
    with np.load(SAMPLE_PATH) as npz:
        assert npz["train_indices"].shape == (200,) and npz["test_indices"].shape == (100,)
        for split in ("train", "test"):
            assert np.all(np.diff(npz[f"{split}_indices"]) > 0)


@pytest.mark.skipif(
    not (FULL_NPZ and Path(FULL_NPZ).is_file()),
    reason="full CIFAR-10 not found: set CIFAR10_FULL_NPZ to an .npz of it (e.g. saved with "
    "np.savez from keras.datasets.cifar10.load_data())",
)
def test_sample_equals_official_arrays_at_recorded_indices() -> None:
    with np.load(SAMPLE_PATH) as npz, np.load(FULL_NPZ) as full:
        for split in ("train", "test"):
            idx = npz[f"{split}_indices"]
            np.testing.assert_array_equal(npz[f"x_{split}"], full[f"x_{split}"][idx])
            np.testing.assert_array_equal(npz[f"y_{split}"], full[f"y_{split}"].reshape(-1)[idx])


@pytest.mark.parametrize("use_parent", [False, True])
def test_batches_dir_matches_npz(tmp_path: Path, sample: cifar.Cifar10, use_parent: bool) -> None:
    directory = write_batches_dir(tmp_path, sample)
    loaded = load_cifar10(tmp_path if use_parent else directory)
    for got, want in zip(loaded, sample):
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


def test_npz_accepts_keras_style_labels(tmp_path: Path, sample: cifar.Cifar10) -> None:
    path = save_npz(
        tmp_path / "c.npz",
        x_train=sample.x_train,
        y_train=sample.y_train.reshape(-1, 1).astype(np.int64),
        x_test=sample.x_test,
        y_test=sample.y_test.reshape(-1, 1),
    )
    loaded = load_cifar10(path)
    assert loaded.y_train.shape == (200,) and loaded.y_train.dtype == np.uint8
    np.testing.assert_array_equal(loaded.y_train, sample.y_train)


def test_env_var_is_used(
    tmp_path: Path, sample: cifar.Cifar10, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_batches_dir(tmp_path, sample)
    monkeypatch.setenv("CIFAR10_PATH", str(tmp_path))
    np.testing.assert_array_equal(load_cifar10().x_test, sample.x_test)


def test_env_var_pointing_nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "nowhere"
    monkeypatch.setenv("CIFAR10_PATH", str(missing))
    with pytest.raises(DataNotFoundError, match="CIFAR10_PATH") as info:
        load_cifar10()
    assert str(missing) in str(info.value)


def test_missing_path_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-cifar.npz"
    with pytest.raises(FileNotFoundError) as info:
        load_cifar10(missing)
    assert isinstance(info.value, DataNotFoundError)
    assert str(missing) in str(info.value) and cifar.DOWNLOAD_URL in str(info.value)


def test_incomplete_batches_dir(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="data_batch_1"):
        load_cifar10(tmp_path)


def test_archive_must_be_extracted(tmp_path: Path) -> None:
    archive = tmp_path / "cifar-10-python.tar.gz"
    archive.write_bytes(b"not really")
    with pytest.raises(ValueError, match="Extract it first"):
        load_cifar10(archive)


def test_offline_download_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    keras = pytest.importorskip("keras")
    monkeypatch.delenv("CIFAR10_PATH", raising=False)

    def offline() -> None:  # What keras.utils.get_file raises without a network.
        raise Exception(
            f"URL fetch failure on {cifar.DOWNLOAD_URL}: None -- "
            "[Errno -3] Temporary failure in name resolution"
        )

    monkeypatch.setattr(keras.datasets.cifar10, "load_data", offline)
    with pytest.raises(DataNotFoundError) as info:
        load_cifar10()
    message = str(info.value)
    for hint in (cifar.DOWNLOAD_URL, "tar -xzf", "path=", "CIFAR10_PATH", "URL fetch failure"):
        assert hint in message
    assert isinstance(info.value.__cause__, Exception)


@pytest.mark.parametrize("channels_first", [False, True])
def test_keras_source_is_flattened_and_validated(
    monkeypatch: pytest.MonkeyPatch, sample: cifar.Cifar10, channels_first: bool
) -> None:
    keras = pytest.importorskip("keras")
    monkeypatch.delenv("CIFAR10_PATH", raising=False)
    order = (0, 3, 1, 2) if channels_first else (0, 1, 2, 3)
    keras_style = (
        (sample.x_train.transpose(order), sample.y_train.reshape(-1, 1)),
        (sample.x_test.transpose(order), sample.y_test.reshape(-1, 1)),
    )
    monkeypatch.setattr(keras.datasets.cifar10, "load_data", lambda: keras_style)
    loaded = load_cifar10()
    assert loaded.y_train.shape == (200,)
    np.testing.assert_array_equal(loaded.x_train, sample.x_train)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"x_train": np.zeros((200, 32, 32), np.uint8)}, r"x_train: expected raw uint8 images"),
        ({"x_test": np.zeros((100, 32, 32, 3), np.float32)}, r"x_test: .*float32"),
        ({"y_train": np.full(200, 10, np.uint8)}, r"y_train: labels must be in 0\.\.9"),
        ({"y_test": -np.ones(100, np.int64)}, r"y_test: labels must be in 0\.\.9"),
        ({"y_train": np.zeros((200, 10), np.float32)}, r"y_train: expected integer class labels"),
        ({"y_test": np.zeros(99, np.uint8)}, r"x_test has 100 images but y_test has 99"),
    ],
)
def test_bad_arrays(tmp_path: Path, sample: cifar.Cifar10, change: dict, match: str) -> None:
    path = save_npz(tmp_path / "bad.npz", **{**sample._asdict(), **change})
    with pytest.raises(ValueError, match=match):
        load_cifar10(path)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (
            {"x_train": np.zeros((0, 32, 32, 3), np.uint8), "y_train": np.zeros(0, np.uint8)},
            r"bad\.npz': x_train holds no images",
        ),
        (
            {"x_test": np.zeros((0, 32, 32, 3), np.uint8), "y_test": np.zeros(0, np.uint8)},
            r"bad\.npz': x_test holds no images",
        ),
    ],
)
def test_empty_split_is_an_error(
    tmp_path: Path, sample: cifar.Cifar10, change: dict, match: str
) -> None:
    """An .npz with x_train of shape (0, 32, 32, 3) used to load as an empty data set."""
    path = save_npz(tmp_path / "bad.npz", **{**sample._asdict(), **change})
    with pytest.raises(DataFormatError, match=match):
        load_cifar10(path)


def test_training_labels_must_cover_every_class(tmp_path: Path, sample: cifar.Cifar10) -> None:
    """An .npz whose y_train has no 8s and no 9s used to load (and subset=None hid it)."""
    keep = sample.y_train < 8
    path = save_npz(
        tmp_path / "bad.npz", **{**sample._asdict(), "x_train": sample.x_train[keep],
                                 "y_train": sample.y_train[keep]}
    )
    with pytest.raises(
        DataFormatError, match=r"bad\.npz': y_train has no image of class 8 \(ship\), 9 \(truck\)"
    ):
        load_cifar10(path)


def make_random_bytes(path: Path) -> None:
    path.write_bytes(np.random.default_rng(0).bytes(4096))


def make_truncated(path: Path) -> None:
    path.write_bytes(SAMPLE_PATH.read_bytes()[:100_000])


def make_npy(path: Path) -> None:
    with open(path, "wb") as f:
        np.save(f, np.zeros((2, 32, 32, 3), np.uint8))


@pytest.mark.parametrize(
    "make",
    [
        make_random_bytes,  # was NumPy's "If you trust the file ... allow_pickle=" advice
        make_truncated,  # was zipfile.BadZipFile: File is not a zip file
        make_npy,  # was TypeError: 'numpy.ndarray' object does not support the context manager
    ],
)
def test_unreadable_npz_names_the_file_and_the_fix(tmp_path: Path, make) -> None:
    path = tmp_path / "cifar10.npz"
    make(path)
    with pytest.raises(DataFormatError) as info:
        load_cifar10(path)
    message = str(info.value)
    assert str(path) in message and "is not a readable .npz archive" in message
    for fix in ("np.savez", cifar.DOWNLOAD_URL, "SAMPLE_PATH"):
        assert fix in message
    assert isinstance(info.value, ValueError)


def test_missing_keys(tmp_path: Path, sample: cifar.Cifar10) -> None:
    path = save_npz(tmp_path / "bad.npz", x_train=sample.x_train, y_train=sample.y_train)
    with pytest.raises(ValueError, match=r"lacks the array\(s\) \['x_test', 'y_test'\]"):
        load_cifar10(path)


def test_bad_batch_file(tmp_path: Path, sample: cifar.Cifar10) -> None:
    directory = write_batches_dir(tmp_path, sample)
    with open(directory / "data_batch_3", "wb") as f:
        pickle.dump({b"data": np.zeros((4, 3072), np.uint8)}, f)
    with pytest.raises(ValueError, match=r"data_batch_3.*b'labels'"):
        load_cifar10(directory)


def test_tampered_batch_is_refused(tmp_path: Path, sample: cifar.Cifar10) -> None:
    directory = write_batches_dir(tmp_path, sample)
    with open(directory / "test_batch", "wb") as f:
        pickle.dump({b"data": sample.x_test, b"labels": [], b"hook": os.system}, f)
    with pytest.raises(ValueError, match=r"test_batch.*not a CIFAR-10 python batch.*system"):
        load_cifar10(directory)


def test_subset_is_balanced_and_reproducible() -> None:
    a = load_cifar10(SAMPLE_PATH, subset=50, test_subset=20, seed=3)
    b = load_cifar10(SAMPLE_PATH, subset=50, test_subset=20, seed=3)
    c = load_cifar10(SAMPLE_PATH, subset=50, test_subset=20, seed=4)
    assert a.x_train.shape == (50, 32, 32, 3) and a.x_test.shape == (20, 32, 32, 3)
    assert np.bincount(a.y_train, minlength=10).tolist() == [5] * 10
    assert np.bincount(a.y_test, minlength=10).tolist() == [2] * 10
    for got, again in zip(a, b):
        np.testing.assert_array_equal(got, again)
    assert not np.array_equal(a.x_train, c.x_train)


def test_subset_keeps_official_order(sample: cifar.Cifar10) -> None:
    sub = load_cifar10(SAMPLE_PATH, subset=30, seed=1)
    positions = [
        int(np.flatnonzero((sample.x_train == img).all(axis=(1, 2, 3)))[0]) for img in sub.x_train
    ]
    assert positions == sorted(positions)
    full = load_cifar10(SAMPLE_PATH, subset=200, test_subset=100)
    for got, want in zip(full, sample):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"subset": 0}, "subset must be a positive multiple of 10"),
        ({"subset": -10}, "subset must be a positive multiple of 10"),
        ({"subset": 5}, "subset must be a positive multiple of 10"),
        ({"subset": 55}, "Try 50"),
        ({"subset": 10.0}, "subset must be an int"),
        ({"subset": True}, "subset must be an int"),
        ({"subset": "100"}, "subset must be an int"),
        ({"subset": 210}, r"subset=210 needs 21 images per class.*use at most 200"),
        ({"test_subset": 110}, r"test_subset=110 .*use at most 100"),
        ({"test_subset": 7}, "test_subset must be a positive multiple of 10"),
        ({"seed": -1}, "seed must be a non-negative int"),
        ({"seed": 1.5}, "seed must be a non-negative int"),
        ({"seed": False}, "seed must be a non-negative int"),
        ({"subset": 2.5}, r"subset must be an int \(a multiple of 10\); got 2\.5"),
        ({"seed": np.float64(1.0)}, "seed must be a non-negative int"),
    ],
)
def test_argument_validation(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        load_cifar10(SAMPLE_PATH, **kwargs)


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        (123, "123 of type int"),  # was pathlib's TypeError, which does not name the argument
        (b"cifar10.npz", "b'cifar10.npz' of type bytes"),
        (["cifar10.npz"], "['cifar10.npz'] of type list"),
        ("", "''"),  # was read as the current directory
    ],
)
def test_path_argument_is_checked(path: object, shown: str) -> None:
    with pytest.raises(ValueError) as info:
        load_cifar10(path)  # type: ignore[arg-type]
    message = str(info.value)
    assert message.startswith("path must be a non-empty str or os.PathLike, or None")
    assert shown in message


def test_numpy_integer_seed_is_accepted() -> None:
    a = load_cifar10(SAMPLE_PATH, subset=20, seed=np.uint8(3))
    np.testing.assert_array_equal(a.y_train, load_cifar10(SAMPLE_PATH, subset=20, seed=3).y_train)


def test_numpy_integer_subset_is_accepted() -> None:
    assert len(load_cifar10(SAMPLE_PATH, subset=np.int64(20)).y_train) == 20


def test_train_val_split_balanced_disjoint_complete(sample: cifar.Cifar10) -> None:
    ids = np.arange(len(sample.y_train))  # Stand-in "images" so membership is easy to check.
    (id_tr, y_tr), (id_val, y_val) = train_val_split(ids, sample.y_train, val_size=50, seed=2)
    assert len(id_val) == 50 and len(id_tr) == 150
    assert np.bincount(y_val, minlength=10).tolist() == [5] * 10
    assert np.bincount(y_tr, minlength=10).tolist() == [15] * 10
    assert not set(id_tr) & set(id_val)
    assert sorted(np.concatenate([id_tr, id_val])) == ids.tolist()
    np.testing.assert_array_equal(y_tr, sample.y_train[id_tr])
    np.testing.assert_array_equal(y_val, sample.y_train[id_val])
    assert list(id_tr) == sorted(id_tr) and list(id_val) == sorted(id_val)


def test_train_val_split_reproducible_and_images(sample: cifar.Cifar10) -> None:
    (x_a, _), (xv_a, yv_a) = train_val_split(sample.x_train, sample.y_train, val_size=20, seed=7)
    (_, _), (xv_b, _) = train_val_split(sample.x_train, sample.y_train, val_size=20, seed=7)
    (_, _), (xv_c, _) = train_val_split(sample.x_train, sample.y_train, val_size=20, seed=8)
    assert x_a.shape == (180, 32, 32, 3) and xv_a.shape == (20, 32, 32, 3)
    np.testing.assert_array_equal(xv_a, xv_b)
    assert not np.array_equal(xv_a, xv_c)
    (_, y_tr), (_, y_val) = train_val_split(sample.x_train, sample.y_train.reshape(-1, 1), 20)
    assert y_tr.shape == (180, 1) and y_val.shape == (20, 1)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"val_size": 0}, "val_size must be a positive multiple of 10"),
        ({"val_size": 15}, "val_size must be a positive multiple of 10"),
        ({"val_size": 50.0}, "val_size must be an int"),
        ({"val_size": 200}, "leave at least one training image per class.*use at most 190"),
        ({"seed": -3}, "seed must be a non-negative int"),
    ],
)
def test_train_val_split_validation(sample: cifar.Cifar10, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        train_val_split(sample.x_train, sample.y_train, **kwargs)


def test_train_val_split_rejects_mismatch_and_one_hot(sample: cifar.Cifar10) -> None:
    with pytest.raises(ValueError, match="same number of examples"):
        train_val_split(sample.x_train[:-1], sample.y_train, val_size=10)
    one_hot = np.eye(10, dtype=np.float32)[sample.y_train]
    with pytest.raises(ValueError, match="before one-hot encoding"):
        train_val_split(sample.x_train, one_hot, val_size=10)


def test_module_does_not_import_keras() -> None:
    code = "import sys, assignment_utils.data; print('keras' in sys.modules)"
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True
    )
    assert out.stdout.strip() == "False"
