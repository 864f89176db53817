"""Build the small real CIFAR-10 sample shipped in ``assignment_utils/package_data``.

The sample holds the first ``TRAIN_PER_CLASS`` training images and the first ``TEST_PER_CLASS``
test images of every class, in the official CIFAR-10 order, so anyone with the full data set can
check it. It is for tests and smoke runs only, never for reporting accuracy.

Usage (numpy only)::

    python scripts/make_cifar10_sample.py [FULL.npz] [OUT.npz]

``FULL.npz`` (default ``/tmp/cifar10.npz``) must hold the full official arrays ``x_train``
(50000, 32, 32, 3) uint8, ``y_train`` (50000,), ``x_test`` (10000, 32, 32, 3) and ``y_test``
(10000,). ``OUT.npz`` defaults to ``assignment_utils/package_data/cifar10_sample.npz``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

TRAIN_PER_CLASS = 20
TEST_PER_CLASS = 10
NUM_CLASSES = 10
MAX_BYTES = 1_000_000
DEFAULT_SOURCE = Path("/tmp/cifar10.npz")
DEFAULT_OUT = Path(__file__).resolve().parent.parent.joinpath(
    "assignment_utils", "package_data", "cifar10_sample.npz"
)


def first_per_class(y: np.ndarray, per_class: int) -> np.ndarray:
    """Indices of the first ``per_class`` examples of each of the 10 classes, sorted ascending.

    Example: ``first_per_class(np.repeat(np.arange(10), 3), 2)`` -> ``[0, 1, 3, 4, 6, 7, ...]``.
    """
    labels = np.asarray(y).reshape(-1)
    chosen = [np.flatnonzero(labels == c)[:per_class] for c in range(NUM_CLASSES)]
    for c, idx in enumerate(chosen):
        if len(idx) < per_class:
            raise ValueError(f"class {c} has only {len(idx)} examples; {per_class} are needed")
    return np.sort(np.concatenate(chosen))


def main(argv: list[str]) -> int:
    source = Path(argv[1]) if len(argv) > 1 else DEFAULT_SOURCE
    out = Path(argv[2]) if len(argv) > 2 else DEFAULT_OUT
    if not source.is_file():
        print(
            f"error: {source} not found. Build it with `python3 "
            "/work/shared/data/cifar10/unpack.py /work/shared/data/cifar10 /tmp/cifar10.npz` or "
            "pass the path of an .npz holding the full official CIFAR-10 arrays.",
            file=sys.stderr,
        )
        return 1
    with np.load(source) as full:
        x_train, y_train = full["x_train"], full["y_train"].reshape(-1)
        x_test, y_test = full["x_test"], full["y_test"].reshape(-1)
    if x_train.shape != (50000, 32, 32, 3) or x_test.shape != (10000, 32, 32, 3):
        print(
            f"error: {source} is not the full CIFAR-10 (x_train {x_train.shape}, x_test "
            f"{x_test.shape}); the recorded indices would not refer to the official order.",
            file=sys.stderr,
        )
        return 1

    train_indices = first_per_class(y_train, TRAIN_PER_CLASS)
    test_indices = first_per_class(y_test, TEST_PER_CLASS)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        out,
        x_train=x_train[train_indices],
        y_train=y_train[train_indices].astype(np.uint8),
        x_test=x_test[test_indices],
        y_test=y_test[test_indices].astype(np.uint8),
        train_indices=train_indices.astype(np.int32),
        test_indices=test_indices.astype(np.int32),
    )
    size = out.stat().st_size
    print(f"wrote {out}: {len(train_indices)} train + {len(test_indices)} test images, {size} B")
    if size >= MAX_BYTES:
        print(f"error: {out} is {size} B, not under {MAX_BYTES}; lower the counts", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
