"""The assignment's rules as numbers: one home for every figure the other modules check against.

Plain Python only (no Keras, no package imports), so any module can read it without a cycle.
"""

from __future__ import annotations

__all__ = ["BASE_ACCURACY", "BASE_FINAL_ACCURACY", "EPOCHS_REQUIRED", "MAX_PARAMS", "NUM_CLASSES",
           "IMAGE_SHAPE", "CLASS_NAMES"]

# The base model's best validation accuracy (82.8 %, epoch 47 of its log), which a run must beat.
BASE_ACCURACY = 0.828
# The base model's validation accuracy at its last epoch, 50 (82.02 %).
BASE_FINAL_ACCURACY = 0.8202
# Epochs a graded run must train for.
EPOCHS_REQUIRED = 50
# A model must have fewer than this many parameters (trainable and non-trainable).
MAX_PARAMS = 100_000
# CIFAR-10's classes.
NUM_CLASSES = 10
# One CIFAR-10 image: height, width, RGB channels.
IMAGE_SHAPE = (32, 32, 3)
# CIFAR-10's class names, in label order (label 0 is "airplane").
CLASS_NAMES: tuple[str, ...] = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
