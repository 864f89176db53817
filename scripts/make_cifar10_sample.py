"""Build the small real CIFAR-10 sample shipped in ``assignment_utils/package_data``.

The sample holds the first ``TRAIN_PER_CLASS`` training images and the first ``TEST_PER_CLASS``
test images of every class, in the official CIFAR-10 order, so anyone with the full data set can
check it. It is for tests and smoke runs only, never for reporting accuracy.

Usage::

    python scripts/make_cifar10_sample.py [FULL] [--out OUT.npz]

``FULL`` is the full official data set, read by ``assignment_utils.data.load_cifar10``: an
``.npz`` holding ``x_train`` (50000, 32, 32, 3) uint8, ``y_train``, ``x_test`` (10000, 32, 32, 3)
and ``y_test``, or an extracted ``cifar-10-batches-py`` folder. Without ``FULL``, the environment
variable ``CIFAR10_FULL_NPZ`` names it, else ``CIFAR10_PATH``, else Keras downloads it
(``keras.datasets.cifar10.load_data()``, cached under ``~/.keras/datasets``); all keep the
official order. ``OUT.npz`` defaults to ``assignment_utils/package_data/cifar10_sample.npz``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout's package, installed or not

from assignment_utils.data import DataFormatError, DataNotFoundError, load_cifar10  # noqa: E402

TRAIN_PER_CLASS = 20
TEST_PER_CLASS = 10
NUM_CLASSES = 10
MAX_BYTES = 1_000_000
FULL_VARIABLE = "CIFAR10_FULL_NPZ"  # the full data set when FULL is not given
DEFAULT_OUT = ROOT / "assignment_utils" / "package_data" / "cifar10_sample.npz"


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
    parser = argparse.ArgumentParser(
        prog="python scripts/make_cifar10_sample.py",
        description="Write the 300-image CIFAR-10 sample from the full official data set.")
    parser.add_argument("full", nargs="?", metavar="FULL",
                        help="the full CIFAR-10: an .npz or a cifar-10-batches-py folder (default: "
                             "$CIFAR10_FULL_NPZ, else $CIFAR10_PATH, else Keras's download)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="OUT.npz",
                        help="where to write the sample (default: the package's copy)")
    args = parser.parse_args(argv[1:])
    source, out = args.full or os.environ.get(FULL_VARIABLE) or None, args.out
    try:
        # With no source, load_cifar10 reads $CIFAR10_PATH, else asks Keras to download it.
        x_train, y_train, x_test, y_test = load_cifar10(source)
    except (DataNotFoundError, DataFormatError) as exc:
        print(f"error: {exc} (This script takes the full data set as FULL or from "
              f"${FULL_VARIABLE}.)", file=sys.stderr)
        return 1
    if x_train.shape != (50000, 32, 32, 3) or x_test.shape != (10000, 32, 32, 3):
        print(
            f"error: {source or 'the data set'} is not the full CIFAR-10 (x_train {x_train.shape}, "
            f"x_test {x_test.shape}); the recorded indices would not refer to the official order.",
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
